/* s3cow: S3's XML responses through libexpat (see s3_xml.h).
 *
 * libexpat tokenises, checks well-formedness and decodes; the glue keeps
 * the path of open elements (as small ids, the first three levels only)
 * and hands each element to the document's handler on open and close:
 *
 *   <ListBucketResult>                      depth 1
 *     <IsTruncated>true</IsTruncated>       depth 2: text given on close
 *     <Contents>                            depth 2: a new entry on open
 *       <Key>disks/a/head</Key>             depth 3
 *
 * A handler asks for an element's text on open, with a bound; the text is
 * collected into one buffer, so a huge or hostile document costs at most
 * that bound besides the results and libexpat's own state (bounded by the
 * document's length).  The first failure stops the parser and says why.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "s3_xml.h"

/* The elements we look at; every other one is E_OTHER. */
enum elem {
  E_OTHER,
  E_ERROR,
  E_CODE,
  E_MESSAGE,
  E_REGION,
  E_LIST,
  E_IS_TRUNCATED,
  E_NEXT_TOKEN,
  E_CONTENTS,
  E_KEY,
  E_SIZE,
  E_LAST_MODIFIED,
  E_ETAG,
};

static const char *const elem_names[] = {
  [E_ERROR] = "Error",
  [E_CODE] = "Code",
  [E_MESSAGE] = "Message",
  [E_REGION] = "Region",
  [E_LIST] = "ListBucketResult",
  [E_IS_TRUNCATED] = "IsTruncated",
  [E_NEXT_TOKEN] = "NextContinuationToken",
  [E_CONTENTS] = "Contents",
  [E_KEY] = "Key",
  [E_SIZE] = "Size",
  [E_LAST_MODIFIED] = "LastModified",
  [E_ETAG] = "ETag",
};

#define ELEM_LEVELS 3 /* the deepest level a handler looks at */

struct glue;

/* A document's handlers.  open is called with the element on the path
 * (g->path[g->depth - 1]); it may set g->text_max to have the element's
 * text collected.  close gets that text.  Both return 0, or -1 after
 * glue_fail.
 */
struct doc {
  int (*open) (struct glue *g);
  int (*close) (struct glue *g, const char *text, size_t len);
  void *opaque;
};

struct glue {
  XML_Parser p;
  const struct doc *doc;
  int depth;
  const char *name;            /* of the element open() is called for */
  enum elem path[ELEM_LEVELS]; /* path[0] is the root */
  size_t text_max;             /* > 0: collecting the element's text */
  char *text;                  /* NUL-terminated once allocated */
  size_t len, cap;
  bool failed;
  int err;                  /* errno of the failure */
  char why[S3_XML_WHY_MAX]; /* the first failure */
};

static enum elem
elem_at (const struct glue *g, int depth)
{
  return depth >= 1 && depth <= ELEM_LEVELS ? g->path[depth - 1] : E_OTHER;
}

static void __attribute__ ((format (printf, 3, 4)))
glue_fail (struct glue *g, int err, const char *fmt, ...)
{
  va_list ap;

  if (g->failed)
    return;
  g->failed = true;
  g->err = err;
  va_start (ap, fmt);
  vsnprintf (g->why, sizeof g->why, fmt, ap);
  va_end (ap);
  XML_StopParser (g->p, XML_FALSE);
}

static enum elem
elem_of (const char *name)
{
  const char *colon = strrchr (name, ':');
  size_t i;

  if (colon)
    name = colon + 1;
  for (i = 1; i < sizeof elem_names / sizeof elem_names[0]; i++)
    if (name[0] == elem_names[i][0] && strcmp (name, elem_names[i]) == 0)
      return i;
  return E_OTHER;
}

static void
on_start (void *opaque, const XML_Char *name, const XML_Char **atts)
{
  struct glue *g = opaque;

  if (g->failed)
    return;
  if (g->text_max > 0) {
    glue_fail (g, EINVAL, "<%s> holds an element",
               elem_names[elem_at (g, g->depth)]);
    return;
  }
  if (g->depth >= S3_XML_DEPTH_MAX) {
    glue_fail (g, EINVAL, "elements nested deeper than %d", S3_XML_DEPTH_MAX);
    return;
  }
  g->depth++;
  g->name = strrchr (name, ':') ? strrchr (name, ':') + 1 : name;
  if (g->depth <= ELEM_LEVELS)
    g->path[g->depth - 1] = elem_of (name);
  g->len = 0;
  if (g->text)
    g->text[0] = '\0';
  (void)g->doc->open (g);
}

static void
on_end (void *opaque, const XML_Char *name)
{
  struct glue *g = opaque;

  if (g->failed)
    return;
  (void)g->doc->close (g, g->text ? g->text : "", g->len);
  g->text_max = 0;
  g->len = 0;
  g->depth--;
}

static void
on_text (void *opaque, const XML_Char *s, int n)
{
  struct glue *g = opaque;
  size_t need;

  if (g->failed || g->text_max == 0 || n <= 0)
    return;
  if ((size_t)n > g->text_max - g->len) {
    glue_fail (g, EINVAL, "<%s> longer than %zu bytes",
               elem_names[elem_at (g, g->depth)], g->text_max);
    return;
  }
  need = g->len + n + 1;
  if (need > g->cap) {
    size_t cap = g->cap ? g->cap : 256;
    char *t;

    while (cap < need)
      cap *= 2;
    t = realloc (g->text, cap);
    if (t == NULL) {
      glue_fail (g, ENOMEM, "out of memory");
      return;
    }
    g->text = t;
    g->cap = cap;
  }
  memcpy (g->text + g->len, s, n);
  g->len += n;
  g->text[g->len] = '\0';
}

static void
on_doctype (void *opaque, const XML_Char *name, const XML_Char *sysid,
            const XML_Char *pubid, int has_internal_subset)
{
  glue_fail (opaque, EINVAL, "a DOCTYPE (refused: S3 sends none)");
}

/* Parse the whole document with doc's handlers.  Returns 0, or -1 with
 * errno set and g->why saying why.
 */
static int
glue_parse (struct glue *g, const struct doc *doc, const char *xml, size_t len)
{
  enum XML_Status st;

  g->doc = doc;
  if (xml == NULL || len > S3_XML_DOC_MAX) {
    snprintf (g->why, sizeof g->why, "document of %zu bytes (at most %zu)",
              xml ? len : 0, S3_XML_DOC_MAX);
    errno = EINVAL;
    return -1;
  }
  g->p = XML_ParserCreate (NULL);
  if (g->p == NULL) {
    snprintf (g->why, sizeof g->why, "out of memory");
    errno = ENOMEM;
    return -1;
  }
  XML_SetUserData (g->p, g);
  XML_SetElementHandler (g->p, on_start, on_end);
  XML_SetCharacterDataHandler (g->p, on_text);
  XML_SetStartDoctypeDeclHandler (g->p, on_doctype);
  XML_SetParamEntityParsing (g->p, XML_PARAM_ENTITY_PARSING_NEVER);

  st = XML_Parse (g->p, xml, (int)len, XML_TRUE);
  if (st != XML_STATUS_OK && !g->failed) {
    enum XML_Error e = XML_GetErrorCode (g->p);

    g->failed = true;
    g->err = e == XML_ERROR_NO_MEMORY ? ENOMEM : EINVAL;
    snprintf (g->why, sizeof g->why, "%s at line %lu, column %lu",
              XML_ErrorString (e),
              (unsigned long)XML_GetCurrentLineNumber (g->p),
              (unsigned long)XML_GetCurrentColumnNumber (g->p) + 1);
  }
  XML_ParserFree (g->p);
  g->p = NULL;
  free (g->text);
  g->text = NULL;
  if (g->failed) {
    errno = g->err;
    return -1;
  }
  return 0;
}

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Copy text to dst (size n), truncated, NUL-terminated, printable ASCII
 * only (see struct s3_xml_error).
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
error_open (struct glue *g)
{
  if (g->depth == 1 && elem_at (g, 1) != E_ERROR) {
    glue_fail (g, EINVAL, "not an <Error> document");
    return -1;
  }
  if (g->depth == 2
      && (elem_at (g, 2) == E_CODE || elem_at (g, 2) == E_MESSAGE
          || elem_at (g, 2) == E_REGION))
    g->text_max = S3_XML_TEXT_MAX;
  return 0;
}

static int
error_close (struct glue *g, const char *text, size_t len)
{
  struct s3_xml_error *err = g->doc->opaque;

  if (g->depth == 2 && elem_at (g, 2) == E_CODE)
    copy_truncated (err->code, sizeof err->code, text, len);
  else if (g->depth == 2 && elem_at (g, 2) == E_MESSAGE)
    copy_truncated (err->message, sizeof err->message, text, len);
  else if (g->depth == 2 && elem_at (g, 2) == E_REGION)
    copy_truncated (err->region, sizeof err->region, text, len);
  return 0;
}

int
s3_xml_parse_error (const char *xml, size_t len, struct s3_xml_error *err)
{
  const struct doc doc = { error_open, error_close, err };
  struct glue g = { 0 };

  err->code[0] = err->message[0] = err->region[0] = '\0';
  if (glue_parse (&g, &doc, xml, len) == -1)
    return -1;
  if (err->code[0] == '\0') {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

/* s3_xml_text: the first element named find->name, at any depth. */
struct text_find {
  const char *name;
  int depth; /* > 0: collecting that element's text */
  char *text;
};

static int
text_open (struct glue *g)
{
  struct text_find *f = g->doc->opaque;

  if (f->text == NULL && f->depth == 0 && strcmp (g->name, f->name) == 0) {
    f->depth = g->depth;
    g->text_max = S3_XML_TEXT_MAX;
  }
  return 0;
}

static int
text_close (struct glue *g, const char *text, size_t len)
{
  struct text_find *f = g->doc->opaque;

  if (f->depth == 0 || g->depth != f->depth)
    return 0;
  f->depth = 0;
  f->text = strndup (text, len);
  if (f->text == NULL) {
    glue_fail (g, ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

int
s3_xml_text (const char *xml, size_t len, const char *name, char **text)
{
  struct text_find f = { .name = name };
  const struct doc doc = { text_open, text_close, &f };
  struct glue g = { 0 };

  *text = NULL;
  if (glue_parse (&g, &doc, xml, len) == -1) {
    free (f.text);
    return -1;
  }
  if (f.text == NULL)
    return 0;
  *text = f.text;
  return 1;
}

struct span {
  const char *p;
  size_t len;
};

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

static bool
span_is (struct span s, const char *lit)
{
  return s.len == strlen (lit) && memcmp (s.p, lit, s.len) == 0;
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
list_open (struct glue *g)
{
  struct list_state *st = g->doc->opaque;
  struct s3_xml_list *list = st->list;

  switch (g->depth) {
  case 1:
    if (elem_at (g, 1) != E_LIST) {
      glue_fail (g, EINVAL, "not a <ListBucketResult> document");
      return -1;
    }
    break;
  case 2:
    switch (elem_at (g, 2)) {
    case E_IS_TRUNCATED:
    case E_NEXT_TOKEN:
      g->text_max = S3_XML_TEXT_MAX;
      break;
    case E_CONTENTS:
      if (list->n == S3_XML_OBJECTS_MAX) {
        glue_fail (g, EINVAL, "more than %d entries", S3_XML_OBJECTS_MAX);
        return -1;
      }
      if (list->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        struct s3_xml_object *o;

        o = reallocarray (list->objects, cap, sizeof *o);
        if (o == NULL) {
          glue_fail (g, ENOMEM, "out of memory");
          return -1;
        }
        list->objects = o;
        st->cap = cap;
      }
      memset (&list->objects[list->n], 0, sizeof list->objects[0]);
      list->n++;
      st->has_size = st->has_mtime = false;
      break;
    default:
      break;
    }
    break;
  case 3:
    if (elem_at (g, 2) != E_CONTENTS)
      break;
    switch (elem_at (g, 3)) {
    case E_KEY:
      g->text_max = S3_XML_KEY_MAX;
      break;
    case E_SIZE:
    case E_LAST_MODIFIED:
    case E_ETAG:
      g->text_max = S3_XML_TEXT_MAX;
      break;
    default:
      break;
    }
    break;
  }
  return 0;
}

/* Set *field to a copy of s unless it is set already (a duplicate). */
static int
set_string (struct glue *g, char **field, const char *s, size_t len)
{
  if (*field) {
    glue_fail (g, EINVAL, "two <%s> in one place",
               elem_names[elem_at (g, g->depth)]);
    return -1;
  }
  *field = strndup (s, len);
  if (*field == NULL) {
    glue_fail (g, ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

static int
list_close (struct glue *g, const char *text, size_t len)
{
  struct list_state *st = g->doc->opaque;
  struct s3_xml_list *list = st->list;
  struct s3_xml_object *o = list->n ? &list->objects[list->n - 1] : NULL;
  struct span s = trimmed (text, len);
  enum elem e = elem_at (g, g->depth);

  if (g->depth == 2) {
    if (e == E_IS_TRUNCATED) {
      if (span_is (s, "true"))
        list->truncated = true;
      else if (span_is (s, "false"))
        list->truncated = false;
      else {
        glue_fail (g, EINVAL, "<IsTruncated> neither true nor false");
        return -1;
      }
    } else if (e == E_NEXT_TOKEN) {
      if (s.len > 0)
        return set_string (g, &list->next_token, s.p, s.len);
    } else if (e == E_CONTENTS) {
      if (o == NULL || o->key == NULL || !st->has_size || !st->has_mtime) {
        glue_fail (g, EINVAL, "entry %zu has no %s", list->n,
                   o == NULL || o->key == NULL ? "<Key>"
                   : !st->has_size             ? "<Size>"
                                               : "<LastModified>");
        return -1;
      }
      if (o->etag == NULL)
        return set_string (g, &o->etag, "", 0);
    }
    return 0;
  }

  /* An element under <Contents> always has its entry (o != NULL). */
  if (g->depth != 3 || elem_at (g, 2) != E_CONTENTS || o == NULL)
    return 0;
  switch (e) {
  case E_KEY:
    /* libexpat refuses NUL characters; an empty key is refused here. */
    if (len == 0 || memchr (text, '\0', len)) {
      glue_fail (g, EINVAL, "entry %zu has an empty <Key>", list->n);
      return -1;
    }
    return set_string (g, &o->key, text, len);
  case E_SIZE:
    if (parse_u64 (s, &o->size) == -1) {
      glue_fail (g, EINVAL, "entry %zu has a bad <Size>", list->n);
      return -1;
    }
    st->has_size = true;
    return 0;
  case E_LAST_MODIFIED: {
    char buf[64];

    if (s.len >= sizeof buf) {
      glue_fail (g, EINVAL, "entry %zu has a bad <LastModified>", list->n);
      return -1;
    }
    memcpy (buf, s.p, s.len);
    buf[s.len] = '\0';
    if (s3_xml_parse_time (buf, &o->mtime) == -1) {
      glue_fail (g, EINVAL, "entry %zu has a bad <LastModified>", list->n);
      return -1;
    }
    st->has_mtime = true;
    return 0;
  }
  case E_ETAG:
    if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"') {
      s.p++;
      s.len -= 2;
    }
    return set_string (g, &o->etag, s.p, s.len);
  default:
    return 0;
  }
}

/* Free what list holds and empty it; keep why. */
static void
list_clear (struct s3_xml_list *list)
{
  size_t i;

  for (i = 0; i < list->n; i++) {
    free (list->objects[i].key);
    free (list->objects[i].etag);
  }
  free (list->objects);
  free (list->next_token);
  list->objects = NULL;
  list->n = 0;
  list->truncated = false;
  list->next_token = NULL;
}

int
s3_xml_parse_list (const char *xml, size_t len, struct s3_xml_list *list)
{
  struct list_state st = { .list = list };
  const struct doc doc = { list_open, list_close, &st };
  struct glue g = { 0 };

  memset (list, 0, sizeof *list);
  if (glue_parse (&g, &doc, xml, len) == -1) {
    int e = errno;

    list_clear (list);
    memcpy (list->why, g.why, sizeof list->why);
    if (list->why[0] == '\0')
      snprintf (list->why, sizeof list->why, "%s", strerror (e));
    errno = e;
    return -1;
  }
  return 0;
}

void
s3_xml_list_free (struct s3_xml_list *list)
{
  list_clear (list);
  memset (list, 0, sizeof *list);
}
