/* s3cow: a minimal XML reader for S3 responses (see s3_xml.h).
 *
 * One walker tokenises the document and keeps the stack of open elements;
 * two small handlers (error body, listing) look at element paths:
 *
 *   <ListBucketResult>                      depth 1
 *     <IsTruncated>true</IsTruncated>       depth 2: text given on close
 *     <Contents>                            depth 2: a new entry on open
 *       <Key>disks/a/head</Key>             depth 3
 *
 * Every read of the input goes through the cursor's bounds: the walker
 * looks at w->p only while w->p < w->end.  Text is decoded into one
 * bounded buffer that is reset at each tag, so a huge or hostile document
 * costs at most XML_TEXT_MAX bytes of text besides the results.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3_xml.h"

#define XML_TEXT_MAX 65536 /* longest element text we accept */
#define XML_DEPTH_MAX 16   /* deepest nesting we accept */

struct span {
  const char *p;
  size_t len;
};

static bool
span_is (const struct span *s, const char *name)
{
  return strlen (name) == s->len && memcmp (s->p, name, s->len) == 0;
}

/* A bounded growing text buffer, always NUL-terminated once allocated. */
struct text {
  char *s;
  size_t len, cap;
};

static int
text_add (struct text *t, const char *s, size_t n)
{
  if (n > XML_TEXT_MAX || t->len + n > XML_TEXT_MAX) {
    errno = EINVAL;
    return -1;
  }
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 128;
    char *p;

    while (cap < t->len + n + 1)
      cap *= 2;
    p = realloc (t->s, cap);
    if (p == NULL)
      return -1;
    t->s = p;
    t->cap = cap;
  }
  memcpy (t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = '\0';
  return 0;
}

static int
text_add_utf8 (struct text *t, uint32_t c)
{
  char u[4];
  size_t n;

  if (c < 0x80) {
    u[0] = c;
    n = 1;
  } else if (c < 0x800) {
    u[0] = 0xc0 | (c >> 6);
    u[1] = 0x80 | (c & 0x3f);
    n = 2;
  } else if (c < 0x10000) {
    u[0] = 0xe0 | (c >> 12);
    u[1] = 0x80 | ((c >> 6) & 0x3f);
    u[2] = 0x80 | (c & 0x3f);
    n = 3;
  } else {
    u[0] = 0xf0 | (c >> 18);
    u[1] = 0x80 | ((c >> 12) & 0x3f);
    u[2] = 0x80 | ((c >> 6) & 0x3f);
    u[3] = 0x80 | (c & 0x3f);
    n = 4;
  }
  return text_add (t, u, n);
}

/* The value of the reference in [s, s + len) (between '&' and ';'), or
 * -1 when it is not one we know.
 */
static int64_t
reference_value (const char *s, size_t len)
{
  static const struct {
    const char *name;
    char c;
  } named[] = { { "amp", '&' },
                { "lt", '<' },
                { "gt", '>' },
                { "quot", '"' },
                { "apos", '\'' } };
  uint32_t v = 0;
  size_t i, start;
  bool hex;

  for (i = 0; i < sizeof named / sizeof named[0]; i++)
    if (strlen (named[i].name) == len && memcmp (s, named[i].name, len) == 0)
      return named[i].c;
  if (len < 2 || s[0] != '#')
    return -1;
  hex = s[1] == 'x';
  start = hex ? 2 : 1;
  if (start >= len)
    return -1;
  for (i = start; i < len; i++) {
    unsigned d;
    char c = s[i];

    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (hex && c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (hex && c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v * (hex ? 16 : 10) + d;
    if (v > 0x10ffff)
      return -1;
  }
  if (v == 0 || (v >= 0xd800 && v <= 0xdfff))
    return -1;
  return v;
}

/* Decode character data [s, s + len) and append it to t. */
static int
decode_append (struct text *t, const char *s, size_t len)
{
  const char *end = s + len;

  if (memchr (s, '\0', len)) {
    errno = EINVAL; /* XML has no NUL characters */
    return -1;
  }
  while (s < end) {
    const char *amp = memchr (s, '&', end - s);
    const char *lt
        = memchr (s, '<', amp ? (size_t)(amp - s) : (size_t)(end - s));
    const char *semi;
    int64_t v;

    if (lt) {
      errno = EINVAL;
      return -1;
    }
    if (amp == NULL)
      return text_add (t, s, end - s);
    if (text_add (t, s, amp - s) == -1)
      return -1;
    /* The longest reference we accept is "&#x10FFFF;" or "&#1114111;". */
    semi = memchr (amp + 1, ';', end - amp - 1 < 10 ? end - amp - 1 : 10);
    if (semi == NULL) {
      errno = EINVAL;
      return -1;
    }
    v = reference_value (amp + 1, semi - amp - 1);
    if (v < 0) {
      errno = EINVAL;
      return -1;
    }
    if (text_add_utf8 (t, v) == -1)
      return -1;
    s = semi + 1;
  }
  return 0;
}

int
s3_xml_decode (const char *s, size_t len, char **out, size_t *outlen)
{
  struct text t = { 0 };

  *out = NULL;
  if (decode_append (&t, s, len) == -1 || text_add (&t, "", 0) == -1) {
    free (t.s);
    return -1;
  }
  *out = t.s;
  if (outlen)
    *outlen = t.len;
  return 0;
}

/* Handlers see the path of open elements (local names, namespace prefix
 * dropped): path[0] is the root, path[depth - 1] the element itself.
 * Both return 0, or -1 with errno set to stop the walk.
 */
struct xml_handler {
  int (*open) (void *opaque, const struct span *path, int depth);
  int (*close) (void *opaque, const struct span *path, int depth,
                const char *text, size_t len);
  void *opaque;
};

struct walker {
  const char *p, *end;
  struct span path[XML_DEPTH_MAX];
  int depth;
  struct text text; /* decoded text since the last tag */
};

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Does the input at w->p start with lit? */
static bool
at (const struct walker *w, const char *lit)
{
  size_t n = strlen (lit);

  return (size_t)(w->end - w->p) >= n && memcmp (w->p, lit, n) == 0;
}

/* Move w->p past the next occurrence of lit; false if there is none. */
static bool
skip_past (struct walker *w, const char *lit)
{
  size_t n = strlen (lit);
  const char *q = memmem (w->p, w->end - w->p, lit, n);

  if (q == NULL)
    return false;
  w->p = q + n;
  return true;
}

static struct span
local_name (const char *p, size_t len)
{
  struct span s = { p, len };
  const char *colon = memrchr (p, ':', len);

  if (colon) {
    s.p = colon + 1;
    s.len = len - (colon + 1 - p);
  }
  return s;
}

static int
walker_open (struct walker *w, const struct xml_handler *h, struct span name)
{
  if (w->depth >= XML_DEPTH_MAX) {
    errno = EINVAL;
    return -1;
  }
  w->path[w->depth++] = name;
  w->text.len = 0;
  return h->open ? h->open (h->opaque, w->path, w->depth) : 0;
}

static int
walker_close (struct walker *w, const struct xml_handler *h, struct span name)
{
  const struct span *top;
  int r = 0;

  if (w->depth == 0) {
    errno = EINVAL;
    return -1;
  }
  top = &w->path[w->depth - 1];
  if (top->len != name.len || memcmp (top->p, name.p, name.len) != 0) {
    errno = EINVAL;
    return -1;
  }
  if (h->close)
    r = h->close (h->opaque, w->path, w->depth, w->text.s ? w->text.s : "",
                  w->text.len);
  w->depth--;
  w->text.len = 0;
  return r;
}

/* Read a start or end tag at w->p (which is at '<', not "<!" or "<?"). */
static int
walker_tag (struct walker *w, const struct xml_handler *h)
{
  bool end_tag = at (w, "</");
  const char *name;
  struct span local;
  char quote = 0, last = 0;

  w->p += end_tag ? 2 : 1;
  name = w->p;
  while (w->p < w->end && !is_space (*w->p) && *w->p != '/' && *w->p != '>'
         && *w->p != '<' && *w->p != '=')
    w->p++;
  if (w->p == name || w->p >= w->end) {
    errno = EINVAL;
    return -1;
  }
  local = local_name (name, w->p - name);
  if (local.len == 0) {
    errno = EINVAL;
    return -1;
  }

  /* Attributes (ignored) up to '>', minding quotes. */
  for (; w->p < w->end; w->p++) {
    char c = *w->p;

    if (quote) {
      if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '"' || c == '\'')
      quote = c;
    else if (c == '<') {
      errno = EINVAL;
      return -1;
    } else if (c == '>')
      break;
    if (!is_space (c))
      last = c;
  }
  if (w->p >= w->end) {
    errno = EINVAL;
    return -1;
  }
  w->p++; /* '>' */

  if (end_tag) {
    if (last != 0) { /* "</a b>" */
      errno = EINVAL;
      return -1;
    }
    return walker_close (w, h, local);
  }
  if (walker_open (w, h, local) == -1)
    return -1;
  if (last == '/')
    return walker_close (w, h, local);
  return 0;
}

/* Walk the whole document; 0 when the root element was closed. */
static int
xml_walk (const char *xml, size_t len, const struct xml_handler *h)
{
  struct walker w = { .p = xml };
  bool seen_root = false;
  int r = -1;

  if (xml == NULL) {
    errno = EINVAL;
    return -1;
  }
  w.end = xml + len;
  while (w.p < w.end) {
    if (*w.p != '<') {
      const char *lt = memchr (w.p, '<', w.end - w.p);
      const char *stop = lt ? lt : w.end;

      if (w.depth > 0 && decode_append (&w.text, w.p, stop - w.p) == -1)
        goto out;
      w.p = stop;
    } else if (at (&w, "<?")) {
      if (!skip_past (&w, "?>"))
        goto bad;
    } else if (at (&w, "<!--")) {
      if (!skip_past (&w, "-->"))
        goto bad;
    } else if (at (&w, "<![CDATA[")) {
      const char *start = w.p + 9;

      w.p = start;
      if (!skip_past (&w, "]]>"))
        goto bad;
      if (w.depth > 0 && text_add (&w.text, start, w.p - 3 - start) == -1)
        goto out;
    } else if (at (&w, "<!")) {
      /* DOCTYPE: skipped, never expanded; an internal subset is refused. */
      const char *gt = memchr (w.p, '>', w.end - w.p);
      const char *br = memchr (w.p, '[', w.end - w.p);

      if (gt == NULL || (br && br < gt) || seen_root)
        goto bad;
      w.p = gt + 1;
    } else {
      if (w.depth == 0 && seen_root)
        goto bad; /* a second root */
      if (walker_tag (&w, h) == -1)
        goto out;
      seen_root = true;
      if (w.depth == 0) {
        r = 0; /* the root is closed: what follows is ignored */
        goto out;
      }
    }
  }
bad:
  errno = EINVAL; /* EOF inside the document, or no document */
out:
  free (w.text.s);
  return r;
}

/* Copy text to dst (size n), truncated, NUL-terminated.  The error's code
 * and message go to logs and terminals, and came from the network: bytes
 * other than printable ASCII become '?' (blanks a space).
 */
static void
copy_truncated (char *dst, size_t n, const char *text, size_t len)
{
  size_t i;

  if (len >= n)
    len = n - 1;
  for (i = 0; i < len; i++) {
    unsigned char c = text[i];
    dst[i] = is_space (c) ? ' ' : c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  dst[len] = '\0';
}

static int
error_open (void *opaque, const struct span *path, int depth)
{
  if (depth == 1 && !span_is (&path[0], "Error")) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

static int
error_close (void *opaque, const struct span *path, int depth, const char *text,
             size_t len)
{
  struct s3_xml_error *err = opaque;

  if (depth == 2 && span_is (&path[1], "Code"))
    copy_truncated (err->code, sizeof err->code, text, len);
  else if (depth == 2 && span_is (&path[1], "Message"))
    copy_truncated (err->message, sizeof err->message, text, len);
  return 0;
}

int
s3_xml_parse_error (const char *xml, size_t len, struct s3_xml_error *err)
{
  const struct xml_handler h = { error_open, error_close, err };
  int r;

  err->code[0] = err->message[0] = '\0';
  r = xml_walk (xml, len, &h);
  if (r == 0 && err->code[0] == '\0') {
    errno = EINVAL;
    return -1;
  }
  return r;
}

/* [text, text + len) without leading and trailing blanks. */
static struct span
trimmed (const char *text, size_t len)
{
  struct span s = { text, len };

  while (s.len > 0 && is_space (s.p[0])) {
    s.p++;
    s.len--;
  }
  while (s.len > 0 && is_space (s.p[s.len - 1]))
    s.len--;
  return s;
}

static int
parse_u64 (struct span s, uint64_t *v)
{
  size_t i;

  *v = 0;
  if (s.len == 0)
    return -1;
  for (i = 0; i < s.len; i++) {
    unsigned d;

    if (s.p[i] < '0' || s.p[i] > '9')
      return -1;
    d = s.p[i] - '0';
    if (*v > (UINT64_MAX - d) / 10)
      return -1;
    *v = *v * 10 + d;
  }
  return 0;
}

/* n decimal digits at s into *v; false if they are not digits. */
static bool
digits (const char *s, int n, int *v)
{
  int i;

  *v = 0;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    *v = *v * 10 + (s[i] - '0');
  }
  return true;
}

int
s3_xml_parse_time (const char *s, time_t *t)
{
  struct tm tm = { 0 };
  int year, mon, day, hour, min, sec;
  size_t len = strlen (s);
  const char *p;
  time_t r;

  /* YYYY-MM-DDTHH:MM:SS = 19 characters, then [.fraction] Z */
  if (len < 20 || !digits (s, 4, &year) || s[4] != '-'
      || !digits (s + 5, 2, &mon) || s[7] != '-' || !digits (s + 8, 2, &day)
      || (s[10] != 'T' && s[10] != 't') || !digits (s + 11, 2, &hour)
      || s[13] != ':' || !digits (s + 14, 2, &min) || s[16] != ':'
      || !digits (s + 17, 2, &sec))
    goto bad;
  p = s + 19;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9')
      goto bad;
    while (*p >= '0' && *p <= '9')
      p++;
  }
  if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
    goto bad;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59
      || sec > 60)
    goto bad;
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  r = timegm (&tm);
  if (r == (time_t)-1)
    goto bad;
  *t = r;
  return 0;
bad:
  errno = EINVAL;
  return -1;
}

/* State of the listing handler. */
struct list_state {
  struct s3_xml_list *list;
  size_t cap;
  bool has_size, has_mtime; /* of the entry being read */
};

static int
list_open (void *opaque, const struct span *path, int depth)
{
  struct list_state *st = opaque;
  struct s3_xml_list *list = st->list;

  if (depth == 1 && !span_is (&path[0], "ListBucketResult")) {
    errno = EINVAL;
    return -1;
  }
  if (depth == 2 && span_is (&path[1], "Contents")) {
    if (list->n == st->cap) {
      size_t cap = st->cap ? st->cap * 2 : 64;
      struct s3_xml_object *o;

      o = reallocarray (list->objects, cap, sizeof *o);
      if (o == NULL)
        return -1;
      list->objects = o;
      st->cap = cap;
    }
    memset (&list->objects[list->n], 0, sizeof list->objects[0]);
    list->n++;
    st->has_size = st->has_mtime = false;
  }
  return 0;
}

/* Set *field to a copy of s unless it is set already (a duplicate). */
static int
set_string (char **field, const char *s, size_t len)
{
  if (*field) {
    errno = EINVAL;
    return -1;
  }
  *field = strndup (s, len);
  return *field ? 0 : -1;
}

static int
list_close (void *opaque, const struct span *path, int depth, const char *text,
            size_t len)
{
  struct list_state *st = opaque;
  struct s3_xml_list *list = st->list;
  struct s3_xml_object *o = list->n ? &list->objects[list->n - 1] : NULL;
  struct span s = trimmed (text, len);

  if (depth == 2) {
    if (span_is (&path[1], "IsTruncated")) {
      if (s.len == 4 && memcmp (s.p, "true", 4) == 0)
        list->truncated = true;
      else if (s.len == 5 && memcmp (s.p, "false", 5) == 0)
        list->truncated = false;
      else
        goto bad;
    } else if (span_is (&path[1], "NextContinuationToken")) {
      if (s.len > 0 && set_string (&list->next_token, s.p, s.len) == -1)
        return -1;
    } else if (span_is (&path[1], "Contents")) {
      if (o->key == NULL || !st->has_size || !st->has_mtime)
        goto bad;
      if (o->etag == NULL && (o->etag = strdup ("")) == NULL)
        return -1;
    }
    return 0;
  }

  if (depth != 3 || !span_is (&path[1], "Contents"))
    return 0;
  if (span_is (&path[2], "Key")) {
    if (len == 0 || memchr (text, '\0', len))
      goto bad;
    return set_string (&o->key, text, len);
  }
  if (span_is (&path[2], "Size")) {
    if (parse_u64 (s, &o->size) == -1)
      goto bad;
    st->has_size = true;
  } else if (span_is (&path[2], "LastModified")) {
    char buf[64];

    if (s.len >= sizeof buf)
      goto bad;
    memcpy (buf, s.p, s.len);
    buf[s.len] = '\0';
    if (s3_xml_parse_time (buf, &o->mtime) == -1)
      return -1;
    st->has_mtime = true;
  } else if (span_is (&path[2], "ETag")) {
    if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"') {
      s.p++;
      s.len -= 2;
    }
    return set_string (&o->etag, s.p, s.len);
  }
  return 0;
bad:
  errno = EINVAL;
  return -1;
}

int
s3_xml_parse_list (const char *xml, size_t len, struct s3_xml_list *list)
{
  struct list_state st = { .list = list };
  const struct xml_handler h = { list_open, list_close, &st };

  memset (list, 0, sizeof *list);
  if (xml_walk (xml, len, &h) == -1) {
    int e = errno;

    s3_xml_list_free (list);
    errno = e;
    return -1;
  }
  return 0;
}

void
s3_xml_list_free (struct s3_xml_list *list)
{
  size_t i;

  for (i = 0; i < list->n; i++) {
    free (list->objects[i].key);
    free (list->objects[i].etag);
  }
  free (list->objects);
  free (list->next_token);
  memset (list, 0, sizeof *list);
}
