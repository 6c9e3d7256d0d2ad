/* s3cow: AWS Signature Version 4 (see sigv4.h for the steps).
 *
 * Pure functions: no globals, no I/O, no clock.  Strings are built with a
 * small append-only buffer (struct sbuf) that remembers an allocation
 * failure, so that the build steps need no error check each and the result
 * is checked once at the end.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cleanup.h"
#include "hash.h"
#include "sigv4.h"

static const char hexdigits_lower[] = "0123456789abcdef";
static const char hexdigits_upper[] = "0123456789ABCDEF";

/* A growing string.  failed is set on the first allocation failure; after
 * that appends do nothing and sbuf_finish returns NULL.
 */
struct sbuf {
  char *s;
  size_t len, cap;
  bool failed;
};

static void
sbuf_add (struct sbuf *b, const char *s, size_t n)
{
  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    while (cap < b->len + n + 1)
      cap *= 2;
    p = realloc (b->s, cap);
    if (p == NULL) {
      b->failed = true;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy (b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void
sbuf_str (struct sbuf *b, const char *s)
{
  sbuf_add (b, s, strlen (s));
}

static void
sbuf_char (struct sbuf *b, char c)
{
  sbuf_add (b, &c, 1);
}

/* The string (owned by the caller now), or NULL with errno ENOMEM. */
static char *
sbuf_finish (struct sbuf *b)
{
  if (b->failed) {
    free (b->s);
    errno = ENOMEM;
    return NULL;
  }
  if (b->s == NULL)
    return strdup ("");
  return b->s;
}

static bool
is_unreserved (unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
         || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
         || c == '~';
}

static void
sbuf_uri_encode (struct sbuf *b, const char *s, bool keep_slash)
{
  for (; *s; s++) {
    unsigned char c = *s;

    if (is_unreserved (c) || (keep_slash && c == '/'))
      sbuf_char (b, c);
    else {
      char esc[3] = { '%', hexdigits_upper[c >> 4], hexdigits_upper[c & 15] };
      sbuf_add (b, esc, 3);
    }
  }
}

static void
hex_encode (const unsigned char *in, size_t n, char *out)
{
  size_t i;

  for (i = 0; i < n; i++) {
    out[2 * i] = hexdigits_lower[in[i] >> 4];
    out[2 * i + 1] = hexdigits_lower[in[i] & 15];
  }
  out[2 * n] = '\0';
}

int
sigv4_sha256_hex (const void *data, size_t len, char out[65])
{
  unsigned char md[HASH_SHA256_LEN];

  hash_sha256 (data, len, md);
  hex_encode (md, HASH_SHA256_LEN, out);
  return 0;
}

int
sigv4_format_date (time_t t, char out[17])
{
  struct tm tm;

  if (gmtime_r (&t, &tm) == NULL || tm.tm_year + 1900 < 0
      || tm.tm_year + 1900 > 9999) {
    errno = EINVAL;
    return -1;
  }
  if (strftime (out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

char *
sigv4_uri_encode (const char *s, bool keep_slash)
{
  struct sbuf b = { 0 };

  sbuf_uri_encode (&b, s, keep_slash);
  return sbuf_finish (&b);
}

/* An encoded query parameter, for sorting. */
struct enc_param {
  char *name, *value;
};

static int
compare_enc_param (const void *a, const void *b)
{
  const struct enc_param *pa = a, *pb = b;
  int r = strcmp (pa->name, pb->name);

  return r ? r : strcmp (pa->value, pb->value);
}

char *
sigv4_canonical_query (const struct sigv4_param *params, size_t n)
{
  CLEANUP_FREE struct enc_param *enc = NULL;
  struct sbuf b = { 0 };
  size_t i, done = 0;

  if (n == 0)
    return strdup ("");
  enc = calloc (n, sizeof *enc);
  if (enc == NULL)
    return NULL;
  for (i = 0; i < n; i++, done++) {
    enc[i].name = sigv4_uri_encode (params[i].name, false);
    enc[i].value
        = sigv4_uri_encode (params[i].value ? params[i].value : "", false);
    if (enc[i].name == NULL || enc[i].value == NULL) {
      done++;
      b.failed = true;
      break;
    }
  }
  if (!b.failed) {
    qsort (enc, n, sizeof *enc, compare_enc_param);
    for (i = 0; i < n; i++) {
      if (i > 0)
        sbuf_char (&b, '&');
      sbuf_str (&b, enc[i].name);
      sbuf_char (&b, '=');
      sbuf_str (&b, enc[i].value);
    }
  }
  for (i = 0; i < done; i++) {
    free (enc[i].name);
    free (enc[i].value);
  }
  return sbuf_finish (&b);
}

/* A header prepared for signing: lowercase name, value as given. */
struct canon_header {
  char *name;
  const char *value;
  size_t index; /* position in the request, to keep sort stable */
};

static int
compare_canon_header (const void *a, const void *b)
{
  const struct canon_header *ha = a, *hb = b;
  int r = strcmp (ha->name, hb->name);

  if (r)
    return r;
  return ha->index < hb->index ? -1 : ha->index > hb->index;
}

/* RFC 7230 token characters (header names). */
static bool
is_tchar (unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
         || (c >= '0' && c <= '9') || strchr ("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
valid_header (const struct sigv4_header *h)
{
  const char *p;

  if (h->name == NULL || h->name[0] == '\0' || h->value == NULL)
    return false;
  for (p = h->name; *p; p++)
    if (!is_tchar (*p))
      return false;
  return strpbrk (h->value, "\r\n") == NULL;
}

/* Value trimmed, inner runs of blanks collapsed to one space. */
static void
sbuf_header_value (struct sbuf *b, const char *v)
{
  bool space = false;

  while (*v == ' ' || *v == '\t')
    v++;
  for (; *v; v++) {
    if (*v == ' ' || *v == '\t')
      space = true;
    else {
      if (space)
        sbuf_char (b, ' ');
      space = false;
      sbuf_char (b, *v);
    }
  }
}

/* The canonical URI: each segment of path encoded, slashes kept. */
static void
sbuf_canonical_uri (struct sbuf *b, const char *path)
{
  sbuf_uri_encode (b, path, true);
}

char *
sigv4_canonical_request (const struct sigv4_request *req, char **signed_headers)
{
  CLEANUP_FREE struct canon_header *hs = NULL;
  CLEANUP_FREE char *query = NULL;
  struct sbuf b = { 0 }, sh = { 0 };
  size_t i, j;
  char *ret;

  if (signed_headers)
    *signed_headers = NULL;
  if (req->method == NULL || req->method[0] == '\0' || req->path == NULL
      || req->path[0] != '/' || req->payload_sha256 == NULL
      || (req->n_params > 0 && req->params == NULL)
      || (req->n_headers > 0 && req->headers == NULL)) {
    errno = EINVAL;
    return NULL;
  }
  for (i = 0; i < req->n_params; i++)
    if (req->params[i].name == NULL) {
      errno = EINVAL;
      return NULL;
    }
  for (i = 0; i < req->n_headers; i++)
    if (!valid_header (&req->headers[i])) {
      errno = EINVAL;
      return NULL;
    }

  query = sigv4_canonical_query (req->params, req->n_params);
  if (query == NULL)
    return NULL;

  if (req->n_headers > 0) {
    hs = calloc (req->n_headers, sizeof *hs);
    if (hs == NULL)
      return NULL;
  }
  for (i = 0; i < req->n_headers; i++) {
    hs[i].name = strdup (req->headers[i].name);
    if (hs[i].name == NULL) {
      b.failed = true;
      break;
    }
    for (j = 0; hs[i].name[j]; j++)
      if (hs[i].name[j] >= 'A' && hs[i].name[j] <= 'Z')
        hs[i].name[j] += 'a' - 'A';
    hs[i].value = req->headers[i].value;
    hs[i].index = i;
  }
  if (!b.failed && req->n_headers > 0)
    qsort (hs, req->n_headers, sizeof *hs, compare_canon_header);

  /* 1. Method, URI, query. */
  sbuf_str (&b, req->method);
  sbuf_char (&b, '\n');
  sbuf_canonical_uri (&b, req->path);
  sbuf_char (&b, '\n');
  sbuf_str (&b, query);
  sbuf_char (&b, '\n');

  /* 2. Headers "name:value\n" in order, one line per name (repeated names
   * have their values joined with ','), and the list of names.
   */
  for (i = 0; !b.failed && i < req->n_headers; i++) {
    bool repeat = i > 0 && strcmp (hs[i].name, hs[i - 1].name) == 0;

    if (repeat)
      sbuf_char (&b, ',');
    else {
      if (i > 0) {
        sbuf_char (&b, '\n');
        sbuf_char (&sh, ';');
      }
      sbuf_str (&b, hs[i].name);
      sbuf_char (&b, ':');
      sbuf_str (&sh, hs[i].name);
    }
    sbuf_header_value (&b, hs[i].value);
  }
  if (req->n_headers > 0)
    sbuf_char (&b, '\n');
  sbuf_char (&b, '\n');

  /* 3. Signed header names, payload hash. */
  sbuf_str (&b, sh.s ? sh.s : "");
  sbuf_char (&b, '\n');
  sbuf_str (&b, req->payload_sha256);

  for (i = 0; hs && i < req->n_headers; i++)
    free (hs[i].name);

  if (sh.failed)
    b.failed = true;
  ret = sbuf_finish (&b);
  if (ret == NULL || signed_headers == NULL) {
    free (sh.s);
    return ret;
  }
  *signed_headers = sbuf_finish (&sh);
  if (*signed_headers == NULL) {
    free (ret);
    return NULL;
  }
  return ret;
}

static bool
valid_amz_date (const char *d)
{
  size_t i;

  if (d == NULL || strlen (d) != 16 || d[8] != 'T' || d[15] != 'Z')
    return false;
  for (i = 0; i < 15; i++)
    if (i != 8 && (d[i] < '0' || d[i] > '9'))
      return false;
  return true;
}

static bool
valid_scope_part (const char *s)
{
  return s != NULL && s[0] != '\0' && strchr (s, '/') == NULL
         && strpbrk (s, "\r\n ,") == NULL;
}

static bool
valid_signer (const struct sigv4_signer *signer)
{
  return valid_amz_date (signer->amz_date) && valid_scope_part (signer->region)
         && valid_scope_part (signer->service)
         && valid_scope_part (signer->access_key) && signer->secret_key != NULL;
}

/* "20130524/us-east-1/s3/aws4_request" */
static void
sbuf_scope (struct sbuf *b, const struct sigv4_signer *signer)
{
  sbuf_add (b, signer->amz_date, 8);
  sbuf_char (b, '/');
  sbuf_str (b, signer->region);
  sbuf_char (b, '/');
  sbuf_str (b, signer->service);
  sbuf_str (b, "/aws4_request");
}

char *
sigv4_string_to_sign (const struct sigv4_signer *signer,
                      const char *canonical_request)
{
  struct sbuf b = { 0 };
  char hash[65];

  if (!valid_amz_date (signer->amz_date) || signer->region == NULL
      || signer->service == NULL) {
    errno = EINVAL;
    return NULL;
  }
  if (sigv4_sha256_hex (canonical_request, strlen (canonical_request), hash)
      == -1)
    return NULL;
  sbuf_str (&b, "AWS4-HMAC-SHA256\n");
  sbuf_str (&b, signer->amz_date);
  sbuf_char (&b, '\n');
  sbuf_scope (&b, signer);
  sbuf_char (&b, '\n');
  sbuf_str (&b, hash);
  return sbuf_finish (&b);
}

/* out = HMAC-SHA256 (key, msg).  Returns 0 or -1 (errno EIO). */
static int
hmac_sha256 (const void *key, size_t keylen, const void *msg, size_t msglen,
             unsigned char out[32])
{
  unsigned int outlen = 0;

  if (HMAC (EVP_sha256 (), key, (int)keylen, msg, msglen, out, &outlen) == NULL
      || outlen != 32) {
    errno = EIO;
    return -1;
  }
  return 0;
}

int
sigv4_signing_key (const char *secret_key, const char *day, const char *region,
                   const char *service, unsigned char key[32])
{
  size_t slen = strlen (secret_key);
  unsigned char k[32];
  char *seed;
  int r;

  /* "AWS4" + secret: a secret too, wiped after use. */
  seed = malloc (slen + 5);
  if (seed == NULL)
    return -1;
  memcpy (seed, "AWS4", 4);
  memcpy (seed + 4, secret_key, slen + 1);

  r = hmac_sha256 (seed, slen + 4, day, strlen (day), k);
  OPENSSL_cleanse (seed, slen + 4);
  free (seed);
  if (r == 0)
    r = hmac_sha256 (k, 32, region, strlen (region), key);
  if (r == 0)
    r = hmac_sha256 (key, 32, service, strlen (service), k);
  if (r == 0)
    r = hmac_sha256 (k, 32, "aws4_request", 12, key);
  OPENSSL_cleanse (k, sizeof k);
  if (r == -1)
    OPENSSL_cleanse (key, 32);
  return r;
}

char *
sigv4_authorization (const struct sigv4_signer *signer,
                     const struct sigv4_request *req)
{
  CLEANUP_FREE char *creq = NULL;
  CLEANUP_FREE char *signed_headers = NULL;
  CLEANUP_FREE char *sts = NULL;
  unsigned char key[32], sig[32];
  char sighex[65], day[9];
  struct sbuf b = { 0 };
  int r;

  if (!valid_signer (signer)) {
    errno = EINVAL;
    return NULL;
  }
  creq = sigv4_canonical_request (req, &signed_headers);
  if (creq == NULL)
    return NULL;
  sts = sigv4_string_to_sign (signer, creq);
  if (sts == NULL)
    return NULL;

  memcpy (day, signer->amz_date, 8);
  day[8] = '\0';
  if (sigv4_signing_key (signer->secret_key, day, signer->region,
                         signer->service, key)
      == -1)
    return NULL;
  r = hmac_sha256 (key, sizeof key, sts, strlen (sts), sig);
  OPENSSL_cleanse (key, sizeof key);
  if (r == -1)
    return NULL;
  hex_encode (sig, sizeof sig, sighex);

  sbuf_str (&b, "AWS4-HMAC-SHA256 Credential=");
  sbuf_str (&b, signer->access_key);
  sbuf_char (&b, '/');
  sbuf_scope (&b, signer);
  sbuf_str (&b, ",SignedHeaders=");
  sbuf_str (&b, signed_headers);
  sbuf_str (&b, ",Signature=");
  sbuf_str (&b, sighex);
  OPENSSL_cleanse (sighex, sizeof sighex);
  return sbuf_finish (&b);
}
