/* s3cow: store.h on S3 (AWS, MinIO, Ceph RGW, ...).
 *
 * Layers, each in its own file, calls going down only:
 *
 *   store_s3.c   URLs, signing of each attempt, S3 status -> store status
 *   s3_http.c    libcurl handle pool, timeouts, retries with backoff
 *   sigv4.c      AWS Signature Version 4 (pure)
 *   s3_xml.c     error bodies and listings (over libexpat)
 *
 * Addressing:
 *
 *   path style (default)   http://host:port/BUCKET/PREFIXKEY
 *   virtual_host           http://BUCKET.host:port/PREFIXKEY
 *
 * The URL path is the signed canonical URI byte for byte (each segment
 * URI-encoded, see sigv4_uri_encode) and the URL query is the signed
 * canonical query (sorted), so that what is sent is what was signed.
 * Every attempt (retries included) is signed anew with the current time.
 *
 * Status mapping (see store.h): 404 -> STORE_NOT_FOUND except NoSuchBucket
 * (STORE_PERMANENT, "bucket X does not exist"); 412 and 409
 * ConditionalRequestConflict -> STORE_PRECONDITION; 403 and every other
 * 3xx/4xx -> STORE_PERMANENT with the S3 Code and Message; retries
 * exhausted -> STORE_TRANSIENT.
 *
 * Conditional PUT and retries: a conditional PUT is retried like any
 * other request.  If an attempt failed after it may have reached the
 * server (a reset, a timeout, a 500: RGW answers 500 UnknownError to
 * conditional PUTs that race on one key) and the retry gets 412, the
 * earlier attempt may or may not have been applied: we return
 * STORE_PRECONDITION and the caller, which knows whether the content is
 * its own (a writer id in it), can read the object to tell.  We cannot:
 * comparing the etag with the MD5 of our body would take another writer's
 * identical body for ours (test-store's 32 threads incrementing one
 * counter would lose updates that way).
 *
 * RGW 16.2 matches If-Match only against the unquoted etag (AWS and MinIO
 * take both): we send it unquoted.
 *
 * Bodies damaged on the way: s3_http retries a body shorter than its
 * Content-Length; a body of the right length with wrong bytes (a flipped
 * bit behind a broken proxy or NIC) is caught here, for whole-object GETs,
 * by its MD5 against the ETag, and retried the same way within the retry
 * budget, so that a chunk's SHA-256 check (cache.c) and the checksums of
 * heads and maps see good data unless the object itself is bad.  The ETag
 * of a single PUT is the MD5 of the body on AWS (without SSE-KMS/SSE-C),
 * MinIO (without encryption or compression) and RGW, but not everywhere,
 * so etag_md5 learns it: a PUT or GET whose ETag is (or is not) the MD5 of
 * the body it sent (or of the same body received twice) settles it for
 * the process; until a mismatch settles "no", GET bodies are checked.  A
 * body that arrives the same twice but does not match an ETag known to be
 * an MD5 is what the server holds: it is returned, for the caller's own
 * checks to judge.
 *
 * No lock here: the store's fields are read-only after store_s3_open;
 * s3_http locks its pool and credentials.c the current credentials.  An
 * attempt signs with the set current when it starts; one answered
 * ExpiredToken or InvalidAccessKeyId renews them once and is sent again.
 * Secrets are never put in a message.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "credentials.h"
#include "log.h"
#include "s3_http.h"
#include "s3_xml.h"
#include "sigv4.h"
#include "store.h"

_Static_assert(S3_HTTP_ETAG_MAX == STORE_ETAG_MAX, "etag sizes differ");

/* The most a listing page may be: 1000 keys (S3's page) of up to 1 KiB,
 * each as much as 5 times longer once XML-escaped ("&amp;"), plus about
 * 600 bytes of other fields each: 5.7 MiB.  Held in memory while parsed,
 * so it must stay well inside the 64 MiB above cache-size.
 */
#define LIST_PAGE_MAX (8 * 1024 * 1024)
_Static_assert(LIST_PAGE_MAX <= S3_XML_DOC_MAX, "a page s3_xml refuses");

struct s3_store {
  struct store base; /* first: store.c sees only this */
  struct s3_http *http;
  char *endpoint; /* as given (or the AWS default), messages */
  char *base_url; /* "http://[bucket.]host:port" */
  char *host;     /* Host header: "[bucket.]host:port" */
  char *bucket;
  char *prefix;      /* "" for none */
  char *bucket_path; /* "/bucket" (path style) or "" */
  char *region;
  /* NULL: anonymous requests.  Each attempt signs with the set current
   * when it starts (credentials.h).
   */
  struct creds *creds;
  /* Are the server's ETags the MD5 of the object's content?  0: not known
   * yet, 1: yes (seen), -1: no (seen); see the top.
   */
  atomic_int etag_md5;
};

/* Options of one S3 call. */
struct s3_call {
  const char *method;
  const char *key; /* relative to the prefix; NULL: bucket */
  const struct sigv4_param *params;
  size_t n_params;
  const char *payload_sha256; /* NULL: SIGV4_EMPTY_SHA256 */
  const char *range;          /* Range header value or NULL */
  const char *if_match;       /* unquoted etag or NULL */
  const char *if_none_match;  /* "*" or NULL */
};

/* What headers_fn needs to sign an attempt. */
struct sign_ctx {
  const struct s3_store *s;
  const struct s3_call *call;
  const char *path;       /* decoded path: "/bucket/prefixkey" */
  struct creds_set *used; /* the credentials of the last attempt, or NULL */
};

static void
free_store (struct s3_store *s)
{
  s3_http_free (s->http);
  free (s->endpoint);
  free (s->base_url);
  free (s->host);
  free (s->bucket);
  free (s->prefix);
  free (s->bucket_path);
  free (s->region);
  creds_unref (s->creds);
  free (s);
}

static void
s3_close (struct store *store)
{
  free_store ((struct s3_store *)store);
}

/* Build one "Name: value" line onto *headers.  Returns 0 or -1. */
static int
add_header (struct curl_slist **headers, const char *name, const char *value)
{
  CLEANUP_FREE char *line = NULL;
  struct curl_slist *l;

  if (asprintf (&line, "%s: %s", name, value) == -1) {
    line = NULL;
    return -1;
  }
  l = curl_slist_append (*headers, line);
  if (line[0] == 'A' && strncmp (line, "Authorization", 13) == 0)
    OPENSSL_cleanse (line, strlen (line));
  if (l == NULL)
    return -1;
  *headers = l;
  return 0;
}

/* s3_http_headers_fn: the headers of one attempt, signed now. */
static int
sign_headers (void *opaque, struct curl_slist **headers, char *errmsg,
              size_t errmsg_size)
{
  struct sign_ctx *ctx = opaque;
  const struct s3_store *s = ctx->s;
  const struct s3_call *call = ctx->call;
  const char *payload
      = call->payload_sha256 ? call->payload_sha256 : SIGV4_EMPTY_SHA256;
  struct sigv4_header h[8];
  size_t n = 0, i;
  char amz_date[17];
  char *auth = NULL;

  if (s->creds) {
    creds_set_unref (ctx->used);
    ctx->used = NULL;
    if (creds_get (s->creds, &ctx->used, errmsg, errmsg_size) == -1)
      return -1;
  }
  if (sigv4_format_date (time (NULL), amz_date) == -1) {
    snprintf (errmsg, errmsg_size, "the system clock is out of range");
    return -1;
  }
  h[n++] = (struct sigv4_header){ "Host", s->host };
  h[n++] = (struct sigv4_header){ "x-amz-date", amz_date };
  h[n++] = (struct sigv4_header){ "x-amz-content-sha256", payload };
  if (ctx->used && ctx->used->session_token)
    h[n++] = (struct sigv4_header){ "x-amz-security-token",
                                    ctx->used->session_token };
  if (call->range)
    h[n++] = (struct sigv4_header){ "Range", call->range };
  if (call->if_match)
    h[n++] = (struct sigv4_header){ "If-Match", call->if_match };
  if (call->if_none_match)
    h[n++] = (struct sigv4_header){ "If-None-Match", call->if_none_match };
  assert (n <= sizeof h / sizeof h[0]);

  if (ctx->used) {
    const struct sigv4_signer signer = {
      .access_key = ctx->used->access_key,
      .secret_key = ctx->used->secret_key,
      .region = s->region,
      .service = "s3",
      .amz_date = amz_date,
    };
    const struct sigv4_request req = {
      .method = call->method,
      .path = ctx->path,
      .params = call->params,
      .n_params = call->n_params,
      .headers = h,
      .n_headers = n,
      .payload_sha256 = payload,
    };

    auth = sigv4_authorization (&signer, &req);
    if (auth == NULL) {
      snprintf (errmsg, errmsg_size, "cannot sign the request: %s",
                strerror (errno));
      return -1;
    }
  }

  for (i = 0; i < n; i++)
    if (add_header (headers, h[i].name, h[i].value) == -1)
      goto oom;
  if (auth && add_header (headers, "Authorization", auth) == -1)
    goto oom;
  if (auth) {
    OPENSSL_cleanse (auth, strlen (auth));
    free (auth);
  }
  return 0;

oom:
  if (auth) {
    OPENSSL_cleanse (auth, strlen (auth));
    free (auth);
  }
  snprintf (errmsg, errmsg_size, "out of memory");
  return -1;
}

/* "s3://bucket/prefixkey" for messages (NULL if out of memory). */
static char *
what_of (const struct s3_store *s, const char *key)
{
  char *what;

  if (asprintf (&what, "s3://%s/%s%s", s->bucket, s->prefix, key ? key : "")
      == -1)
    return NULL;
  return what;
}

/* Send one call (with retries).  hreq has its sink set by the caller; the
 * rest is filled here.  Returns an S3_HTTP_* result; *what gets the name
 * of the object for messages (free it).
 */
static int
s3_perform (const struct s3_store *s, const struct s3_call *call,
            struct s3_http_request *hreq, struct s3_http_response *resp,
            char **what)
{
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *enc_path = NULL;
  CLEANUP_FREE char *query = NULL;
  CLEANUP_FREE char *url = NULL;
  struct sign_ctx ctx;
  int r;

  memset (resp, 0, sizeof *resp);
  *what = what_of (s, call->key);
  if (call->key)
    r = asprintf (&path, "%s/%s%s", s->bucket_path, s->prefix, call->key);
  else
    r = asprintf (&path, "%s", s->bucket_path[0] ? s->bucket_path : "/");
  if (r == -1) {
    path = NULL;
    goto oom;
  }
  enc_path = sigv4_uri_encode (path, true);
  query = sigv4_canonical_query (call->params, call->n_params);
  if (*what == NULL || enc_path == NULL || query == NULL)
    goto oom;
  if (asprintf (&url, "%s%s%s%s", s->base_url, enc_path, query[0] ? "?" : "",
                query)
      == -1) {
    url = NULL;
    goto oom;
  }

  ctx = (struct sign_ctx){ .s = s, .call = call, .path = path };
  hreq->method = call->method;
  hreq->url = url;
  hreq->what = *what;
  hreq->headers_fn = sign_headers;
  /* ctx outlives the request: s3_http_perform returns before we do. */
  // cppcheck-suppress autoVariables
  hreq->opaque = &ctx;
  r = s3_http_perform (s->http, hreq, resp);
  /* Temporary credentials that S3 calls expired or unknown (revoked
   * early, say): renew them once and try again.
   */
  if (r == S3_HTTP_OK && ctx.used
      && (resp->status == 400 || resp->status == 403)
      && (strcmp (resp->error.code, "ExpiredToken") == 0
          || strcmp (resp->error.code, "InvalidAccessKeyId") == 0
          || strcmp (resp->error.code, "InvalidToken") == 0)
      && creds_rejected (s->creds, ctx.used)) {
    s3_http_response_free (resp);
    memset (resp, 0, sizeof *resp);
    r = s3_http_perform (s->http, hreq, resp);
  }
  creds_set_unref (ctx.used);
  return r;

oom:
  snprintf (resp->errmsg, sizeof resp->errmsg, "out of memory");
  return S3_HTTP_PERMANENT;
}

/* A hint for a 403 or 400 Code, or "". */
static const char *
hint_of (const char *code)
{
  if (strcmp (code, "SignatureDoesNotMatch") == 0)
    return " (check the secret key)";
  if (strcmp (code, "InvalidAccessKeyId") == 0)
    return " (check the access key)";
  if (strcmp (code, "RequestTimeTooSkewed") == 0)
    return " (the system clock is off)";
  if (strcmp (code, "AuthorizationHeaderMalformed") == 0
      || strcmp (code, "PermanentRedirect") == 0
      || strcmp (code, "IllegalLocationConstraintException") == 0)
    return " (check the region)";
  if (strcmp (code, "ExpiredToken") == 0)
    return " (the session token has expired)";
  return "";
}

/* Turn the result of s3_perform into a store status, logging a failure.
 * 2xx is STORE_OK; the caller checks other statuses it expects first.
 */
static int
s3_status (const struct s3_store *s, const char *method, const char *what,
           int r, const struct s3_http_response *resp)
{
  const char *code = resp->error.code;
  const char *msg = resp->error.message;

  if (what == NULL) /* out of memory in s3_perform */
    what = "(object)";
  if (r == S3_HTTP_TRANSIENT) {
    s3cow_log_error ("%s %s: %s", method, what, resp->errmsg);
    return STORE_TRANSIENT;
  }
  if (r == S3_HTTP_PERMANENT) {
    s3cow_log_error ("%s %s: %s", method, what, resp->errmsg);
    return STORE_PERMANENT;
  }
  if (resp->status >= 200 && resp->status <= 299)
    return STORE_OK;

  switch (resp->status) {
  case 404:
    if (strcmp (code, "NoSuchBucket") == 0) {
      s3cow_log_error ("%s %s: bucket %s does not exist at %s "
                       "(HTTP 404 NoSuchBucket)",
                       method, what, s->bucket, s->endpoint);
      return STORE_PERMANENT;
    }
    return STORE_NOT_FOUND;
  case 412:
    return STORE_PRECONDITION;
  case 409:
    if (strcmp (code, "ConditionalRequestConflict") == 0)
      return STORE_PRECONDITION;
    break;
  case 403:
    if (code[0])
      s3cow_log_error ("%s %s: access denied: HTTP 403 %s%s%s%s", method, what,
                       code, msg[0] ? ": " : "", msg, hint_of (code));
    else
      s3cow_log_error ("%s %s: access denied: HTTP 403 (check the access "
                       "key, the secret key and the bucket's policy)",
                       method, what);
    return STORE_PERMANENT;
  }
  if (code[0])
    s3cow_log_error ("%s %s: HTTP %ld %s%s%s%s", method, what, resp->status,
                     code, msg[0] ? ": " : "", msg, hint_of (code));
  else
    s3cow_log_error ("%s %s: HTTP %ld", method, what, resp->status);
  return STORE_PERMANENT;
}

/* Copy the response's etag to etag (room for STORE_ETAG_MAX), if wanted. */
static int
take_etag (const char *method, const char *what,
           const struct s3_http_response *resp, char *etag)
{
  if (resp->etag_too_long) {
    s3cow_log_error ("%s %s: the server sent an etag longer than %d bytes",
                     method, what, STORE_ETAG_MAX - 1);
    return STORE_PERMANENT;
  }
  if (etag)
    memcpy (etag, resp->etag, STORE_ETAG_MAX);
  return STORE_OK;
}

/* Is etag 32 hex digits, the form of an MD5?  Then md5 gets its bytes. */
static bool
etag_as_md5 (const char *etag, unsigned char md5[16])
{
  size_t i;

  if (strlen (etag) != 32)
    return false;
  for (i = 0; i < 32; i++) {
    char c = etag[i];
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0)
      return false;
    if (i % 2 == 0)
      md5[i / 2] = v << 4;
    else
      md5[i / 2] |= v;
  }
  return true;
}

static bool
md5_of (const void *data, size_t len, unsigned char md5[16])
{
  unsigned int n = 0;

  return EVP_Digest (data, len, md5, &n, EVP_md5 (), NULL) == 1 && n == 16;
}

/* Record what a body and its ETag told about the server's ETags. */
static void
learn_etag_md5 (struct s3_store *s, bool is_md5)
{
  int unknown = 0;

  if (atomic_compare_exchange_strong (&s->etag_md5, &unknown, is_md5 ? 1 : -1)
      && !is_md5)
    s3cow_debug (http,
                 "%s: the server's ETags are not MD5s of the content: "
                 "GET bodies are not checked against them",
                 s->endpoint);
}

/* A whole-object GET: the state of its body check across attempts. */
struct body_check {
  struct s3_store *s;
  bool have_bad;             /* an earlier attempt's body did not match */
  unsigned char bad_md5[16]; /* its MD5 */
  bool held_bad;             /* the server holds a body unlike its ETag */
  char etag[S3_HTTP_ETAG_MAX];
  store_check_fn user_check; /* the caller's check, in place of the MD5 */
  void *user_opaque;
};

/* After a whole-object GET: say so if its content is not its ETag's. */
static void
report_body_check (const struct body_check *bc, const char *what)
{
  if (bc->held_bad && bc->user_check)
    s3cow_log_error ("GET %s: the object's content fails the reader's check "
                     "(the same wrong bytes twice): it may be damaged in the "
                     "bucket",
                     what);
  else if (bc->held_bad)
    s3cow_log_error ("GET %s: the object's content does not match its ETag "
                     "%s (the same wrong bytes twice): it may be damaged in "
                     "the bucket",
                     what, bc->etag);
}

/* s3_http check_fn: the MD5 of a whole object's body against its ETag. */
static int
check_body (void *opaque, const struct s3_http_response *resp, const void *body,
            size_t len, char *errmsg, size_t errmsg_size)
{
  struct body_check *bc = opaque;
  unsigned char want[16], got[16];

  if (bc->user_check) {
    /* The caller's check (a content hash): the MD5 only tells a body
     * received twice from a new one.
     */
    if (bc->user_check (bc->user_opaque, len ? body : "", len))
      return 0;
    if (!md5_of (len ? body : "", len, got))
      return 0;
    if (bc->have_bad && memcmp (bc->bad_md5, got, 16) == 0) {
      bc->held_bad = true; /* the same body twice: what the server holds */
      return 0;
    }
    bc->have_bad = true;
    memcpy (bc->bad_md5, got, 16);
    snprintf (errmsg, errmsg_size,
              "%zu-byte body fails the reader's check: damaged on the way?",
              len);
    return -1;
  }
  if (resp->status != 200 || atomic_load (&bc->s->etag_md5) < 0
      || len != resp->received || !etag_as_md5 (resp->etag, want)
      || !md5_of (len ? body : "", len, got))
    return 0; /* nothing to check against */
  if (memcmp (want, got, 16) == 0) {
    learn_etag_md5 (bc->s, true);
    return 0;
  }
  if (bc->have_bad && memcmp (bc->bad_md5, got, 16) == 0) {
    /* The same body twice: that is what the server holds. */
    learn_etag_md5 (bc->s, false);
    if (atomic_load (&bc->s->etag_md5) > 0) {
      bc->held_bad = true;
      memcpy (bc->etag, resp->etag, sizeof bc->etag);
    }
    return 0;
  }
  bc->have_bad = true;
  memcpy (bc->bad_md5, got, 16);
  snprintf (errmsg, errmsg_size,
            "%zu-byte body does not match its ETag %.32s (MD5): damaged on "
            "the way",
            len, resp->etag);
  return -1;
}

static int
s3_get (struct store *store, const char *key, uint64_t offset, size_t count,
        bool whole, void *buf, size_t cap, size_t *len, char *etag,
        store_check_fn check, void *check_opaque)
{
  struct s3_store *s = (struct s3_store *)store;
  struct s3_call call = { .method = "GET", .key = key };
  struct s3_http_request hreq
      = { .sink = S3_HTTP_BUFFER, .buf = buf, .cap = cap };
  struct s3_http_response resp;
  CLEANUP_FREE char *what = NULL;
  struct body_check bc
      = { .s = s, .user_check = check, .user_opaque = check_opaque };
  char range[64];
  int r;

  *len = 0;
  if (!whole) {
    if (count == 0 || offset > UINT64_MAX - (count - 1)) {
      s3cow_log_error ("GET %s: bad range: %zu bytes at %" PRIu64, key, count,
                       offset);
      return STORE_PERMANENT;
    }
    snprintf (range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset,
              offset + (count - 1));
    call.range = range;
    hreq.range = true;
    hreq.range_offset = offset;
  } else {
    hreq.check_fn = check_body;
    hreq.check_opaque = &bc;
  }

  r = s3_perform (s, &call, &hreq, &resp, &what);
  report_body_check (&bc, what);
  if (r == S3_HTTP_OK && !whole && resp.status == 416)
    return STORE_OK; /* at or past the end of the object: nothing */
  r = s3_status (s, "GET", what, r, &resp);
  if (r != STORE_OK)
    return r;

  if (!whole && resp.status == 206) {
    uint64_t start;

    /* "bytes START-END/TOTAL": the part must start where we asked. */
    if (sscanf (resp.content_range, "bytes %" SCNu64 "-", &start) != 1
        || start != offset) {
      s3cow_log_error ("GET %s: asked for bytes from %" PRIu64
                       ", got Content-Range \"%s\"",
                       what, offset, resp.content_range);
      return STORE_PERMANENT;
    }
  }
  *len = resp.len;
  return take_etag ("GET", what, &resp, etag);
}

static int
s3_get_alloc (struct store *store, const char *key, size_t max, void **data,
              size_t *len, char *etag)
{
  struct s3_store *s = (struct s3_store *)store;
  const struct s3_call call = { .method = "GET", .key = key };
  struct body_check bc = { .s = s };
  struct s3_http_request hreq = { .sink = S3_HTTP_ALLOC,
                                  .max = max,
                                  .check_fn = check_body,
                                  .check_opaque = &bc };
  struct s3_http_response resp;
  CLEANUP_FREE char *what = NULL;
  int r;

  *data = NULL;
  *len = 0;
  r = s3_perform (s, &call, &hreq, &resp, &what);
  report_body_check (&bc, what);
  r = s3_status (s, "GET", what, r, &resp);
  if (r == STORE_OK)
    r = take_etag ("GET", what, &resp, etag);
  if (r != STORE_OK) {
    s3_http_response_free (&resp);
    return r;
  }
  if (resp.data == NULL) {
    resp.data = malloc (1); /* an empty object: still something to free */
    if (resp.data == NULL) {
      s3cow_log_error ("GET %s: malloc: %m", what);
      return STORE_PERMANENT;
    }
  }
  *data = resp.data;
  *len = resp.len;
  return STORE_OK;
}

static int
s3_head_what (struct s3_store *s, const char *key, uint64_t *size, char *etag,
              time_t *mtime)
{
  const struct s3_call call = { .method = "HEAD", .key = key };
  struct s3_http_request hreq = { .sink = S3_HTTP_DISCARD };
  struct s3_http_response resp;
  CLEANUP_FREE char *what = NULL;
  int r;

  r = s3_perform (s, &call, &hreq, &resp, &what);
  r = s3_status (s, "HEAD", what, r, &resp);
  if (r != STORE_OK)
    return r;
  if (!resp.has_length) {
    s3cow_log_error ("HEAD %s: no Content-Length in the response", what);
    return STORE_PERMANENT;
  }
  if (size)
    *size = resp.content_length;
  if (mtime) {
    time_t t = curl_getdate (resp.last_modified, NULL);

    if (t == -1) {
      s3cow_log_error ("HEAD %s: bad Last-Modified \"%s\"", what,
                       resp.last_modified);
      return STORE_PERMANENT;
    }
    *mtime = t;
  }
  return take_etag ("HEAD", what, &resp, etag);
}

static int
s3_head (struct store *store, const char *key, uint64_t *size, char *etag,
         time_t *mtime)
{
  return s3_head_what ((struct s3_store *)store, key, size, etag, mtime);
}

static int
s3_put (struct store *store, const char *key, const void *data, size_t len,
        const char *sha256_hex, const char *if_match, bool if_absent,
        char *etag)
{
  struct s3_store *s = (struct s3_store *)store;
  struct s3_call call = { .method = "PUT", .key = key };
  struct s3_http_request hreq
      = { .sink = S3_HTTP_DISCARD, .body = data, .body_len = len };
  struct s3_http_response resp;
  CLEANUP_FREE char *what = NULL;
  char hash[65], unquoted[STORE_ETAG_MAX];
  int r;

  if (sha256_hex == NULL) {
    if (sigv4_sha256_hex (data, len, hash) == -1) {
      s3cow_log_error ("PUT %s: SHA-256 failed", key);
      return STORE_PERMANENT;
    }
    sha256_hex = hash;
  }
  call.payload_sha256 = sha256_hex;
  if (if_match) {
    size_t n = strlen (if_match);

    /* RGW 16.2 matches only the unquoted form. */
    if (n >= 2 && if_match[0] == '"' && if_match[n - 1] == '"') {
      if_match++;
      n -= 2;
    }
    if (n == 0 || n >= sizeof unquoted) {
      s3cow_log_error ("PUT %s: bad etag to match: \"%s\"", key, if_match);
      return STORE_PERMANENT;
    }
    memcpy (unquoted, if_match, n);
    unquoted[n] = '\0';
    call.if_match = unquoted;
  }
  if (if_absent)
    call.if_none_match = "*";

  r = s3_perform (s, &call, &hreq, &resp, &what);
  r = s3_status (s, "PUT", what, r, &resp);

  if (r == STORE_PRECONDITION && resp.maybe_applied)
    s3cow_debug (http,
                 "PUT %s: 412 after a retry: an earlier attempt may "
                 "have been applied",
                 what);
  if (r == STORE_PRECONDITION && if_match) {
    /* RGW answers If-Match on a missing key with 412, not 404: tell the
     * two apart.
     */
    if (s3_head_what (s, key, NULL, NULL, NULL) == STORE_NOT_FOUND)
      return STORE_NOT_FOUND;
  }
  if (r != STORE_OK)
    return r;
  if (atomic_load (&s->etag_md5) == 0) {
    unsigned char want[16], got[16];

    if (etag_as_md5 (resp.etag, want) && md5_of (len ? data : "", len, got))
      learn_etag_md5 (s, memcmp (want, got, 16) == 0);
  }
  return take_etag ("PUT", what, &resp, etag);
}

static int
s3_delete (struct store *store, const char *key)
{
  struct s3_store *s = (struct s3_store *)store;
  const struct s3_call call = { .method = "DELETE", .key = key };
  struct s3_http_request hreq = { .sink = S3_HTTP_DISCARD };
  struct s3_http_response resp;
  CLEANUP_FREE char *what = NULL;
  int r;

  r = s3_perform (s, &call, &hreq, &resp, &what);
  r = s3_status (s, "DELETE", what, r, &resp);
  return r == STORE_NOT_FOUND ? STORE_OK : r;
}

static int
s3_list (struct store *store, const char *key_prefix, store_list_fn fn,
         void *opaque)
{
  struct s3_store *s = (struct s3_store *)store;
  CLEANUP_FREE char *full_prefix = NULL;
  CLEANUP_FREE char *token = NULL;
  size_t plen = strlen (s->prefix);
  unsigned pages = 0;

  if (asprintf (&full_prefix, "%s%s", s->prefix, key_prefix ? key_prefix : "")
      == -1) {
    full_prefix = NULL;
    s3cow_log_error ("list: asprintf: %m");
    return STORE_PERMANENT;
  }

  for (;;) {
    struct sigv4_param params[3] = {
      { "list-type", "2" },
      { "prefix", full_prefix },
      { "continuation-token", token },
    };
    const struct s3_call call = {
      .method = "GET",
      .params = params,
      .n_params = token ? 3 : 2,
    };
    struct s3_http_request hreq
        = { .sink = S3_HTTP_ALLOC, .max = LIST_PAGE_MAX };
    struct s3_http_response resp;
    struct s3_xml_list list;
    CLEANUP_FREE char *what = NULL;
    size_t i;
    int r;

    r = s3_perform (s, &call, &hreq, &resp, &what);
    r = s3_status (s, "LIST", what, r, &resp);
    if (r == STORE_NOT_FOUND) {
      s3cow_log_error ("LIST %s: HTTP 404 %s", what, resp.error.code);
      r = STORE_PERMANENT;
    }
    if (r != STORE_OK) {
      s3_http_response_free (&resp);
      return r;
    }
    pages++;
    r = s3_xml_parse_list (resp.data, resp.len, &list);
    s3_http_response_free (&resp);
    if (r == -1) {
      s3cow_log_error ("LIST %s (page %u): the server sent a listing that "
                       "cannot be read: %s",
                       what, pages, list.why);
      s3_xml_list_free (&list);
      return STORE_PERMANENT;
    }

    for (i = 0; i < list.n; i++) {
      const struct s3_xml_object *o = &list.objects[i];
      struct store_entry e;

      if (strncmp (o->key, full_prefix, strlen (full_prefix)) != 0) {
        s3cow_log_error ("LIST %s: the server listed key \"%s\", which "
                         "does not have the prefix asked for",
                         what, o->key);
        s3_xml_list_free (&list);
        return STORE_PERMANENT;
      }
      e.key = o->key + plen;
      e.size = o->size;
      e.mtime = o->mtime;
      e.etag = o->etag;
      r = fn (opaque, &e);
      if (r != 0) {
        s3_xml_list_free (&list);
        return r;
      }
    }

    if (!list.truncated) {
      s3_xml_list_free (&list);
      return STORE_OK;
    }
    if (list.next_token == NULL
        || (token && strcmp (token, list.next_token) == 0)) {
      s3cow_log_error ("LIST %s (page %u): the listing is truncated but "
                       "gives no new continuation token",
                       what, pages);
      s3_xml_list_free (&list);
      return STORE_PERMANENT;
    }
    free (token);
    token = list.next_token;
    list.next_token = NULL;
    s3_xml_list_free (&list);
  }
}

static const struct store_ops s3_ops = {
  .name = "s3",
  .close = s3_close,
  .get = s3_get,
  .get_alloc = s3_get_alloc,
  .put = s3_put,
  .delete = s3_delete,
  .head = s3_head,
  .list = s3_list,
};

/* Split "http[s]://host[:port][/]" into scheme and authority.  Returns 0,
 * or -1 after logging one message saying what is wrong.
 */
static int
parse_endpoint (const char *endpoint, bool *https, const char **host,
                size_t *host_len, const char **port, size_t *port_len)
{
  const char *p, *auth, *end;

  if (strncasecmp (endpoint, "http://", 7) == 0) {
    *https = false;
    auth = endpoint + 7;
  } else if (strncasecmp (endpoint, "https://", 8) == 0) {
    *https = true;
    auth = endpoint + 8;
  } else {
    s3cow_log_error ("endpoint %s: must start with http:// or https:// "
                     "(or file:// for a directory)",
                     endpoint);
    return -1;
  }
  end = auth + strcspn (auth, "/?#");
  if (*end != '\0' && strcmp (end, "/") != 0) {
    s3cow_log_error ("endpoint %s: must be only scheme://host[:port], with "
                     "no path or query (give the bucket with bucket=)",
                     endpoint);
    return -1;
  }
  if (memchr (auth, '@', end - auth)) {
    /* Not printed: it holds a secret. */
    s3cow_log_error ("endpoint: must not hold a user name or password "
                     "(give the keys with access-key= and secret-key=)");
    return -1;
  }

  *host = auth;
  if (*auth == '[') {
    p = memchr (auth, ']', end - auth);
    if (p == NULL || p == auth + 1) {
      s3cow_log_error ("endpoint %s: bad IPv6 address", endpoint);
      return -1;
    }
    for (const char *q = auth + 1; q < p; q++)
      if (strchr ("0123456789abcdefABCDEF:.", *q) == NULL) {
        s3cow_log_error ("endpoint %s: bad IPv6 address", endpoint);
        return -1;
      }
    p++;
  } else {
    for (p = auth; p < end && *p != ':'; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
            || *p == '_')) {
        s3cow_log_error ("endpoint %s: bad character '%c' in the host name",
                         endpoint, *p);
        return -1;
      }
  }
  *host_len = p - auth;
  if (*host_len == 0) {
    s3cow_log_error ("endpoint %s: no host name", endpoint);
    return -1;
  }

  *port = NULL;
  *port_len = 0;
  if (p < end) {
    unsigned long v = 0;
    const char *q;

    if (*p != ':' || p + 1 == end) {
      s3cow_log_error ("endpoint %s: bad port", endpoint);
      return -1;
    }
    for (q = p + 1; q < end; q++) {
      if (*q < '0' || *q > '9' || v > 65535) {
        s3cow_log_error ("endpoint %s: bad port", endpoint);
        return -1;
      }
      v = v * 10 + (*q - '0');
    }
    if (v == 0 || v > 65535) {
      s3cow_log_error ("endpoint %s: bad port (1 to 65535)", endpoint);
      return -1;
    }
    *port = p + 1;
    *port_len = end - (p + 1);
  }
  return 0;
}

/* Is [h, h + n) an IP address (so it cannot take a bucket. in front)? */
static bool
is_ip_literal (const char *h, size_t n)
{
  size_t i;

  if (n > 0 && h[0] == '[')
    return true;
  for (i = 0; i < n; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || h[i] == '.'))
      return false;
  return true;
}

static bool
empty (const char *s)
{
  return s == NULL || s[0] == '\0';
}

/* Take the provider of config and get a first set now, so that a source
 * that does not work is known at once.  Instance metadata is the chain's
 * last resort: when it does not answer, requests are anonymous, as when
 * no credentials are found anywhere.  Returns 0 or -1 after logging.
 */
static int
open_credentials (struct s3_store *s, const struct store_config *config)
{
  struct creds_set *set = NULL;
  char errmsg[300];

  if (creds_get (config->credentials, &set, errmsg, sizeof errmsg) == 0) {
    creds_set_unref (set);
    s->creds = creds_ref (config->credentials);
    return 0;
  }
  if (creds_is_imds (config->credentials)) {
    s3cow_debug (http, "no credentials found (%s): anonymous requests", errmsg);
    return 0;
  }
  s3cow_log_error ("%s", errmsg);
  return -1;
}

struct store *
store_s3_open (const struct store_config *config)
{
  struct s3_store *s;
  const char *host, *port;
  size_t host_len, port_len, i;
  bool https;
  struct s3_http_config hc;
  const char *region = empty (config->region) ? "us-east-1" : config->region;

  if (empty (config->bucket)) {
    s3cow_log_error ("no bucket given (bucket=NAME)");
    return NULL;
  }
  for (i = 0; config->bucket[i]; i++)
    if (config->bucket[i] == '/' || (unsigned char)config->bucket[i] < 0x20
        || (config->virtual_host
            && strchr ("abcdefghijklmnopqrstuvwxyz0123456789.-",
                       config->bucket[i])
                   == NULL)) {
      s3cow_log_error (
          "bucket \"%s\": not a valid bucket name%s", config->bucket,
          config->virtual_host ? " for virtual-hosted style (a-z 0-9 . -)"
                               : "");
      return NULL;
    }
  if (i > 255) {
    s3cow_log_error ("bucket name too long");
    return NULL;
  }
  if (empty (config->access_key) != empty (config->secret_key)) {
    s3cow_log_error ("%s given without %s: give both keys, or neither for "
                     "anonymous access",
                     empty (config->access_key) ? "secret key" : "access key",
                     empty (config->access_key) ? "access key" : "secret key");
    return NULL;
  }
  for (i = 0; region[i]; i++)
    if (strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "0123456789-_",
                region[i])
        == NULL) {
      s3cow_log_error ("region \"%s\": not a valid region name", region);
      return NULL;
    }

  s = calloc (1, sizeof *s);
  if (s == NULL) {
    s3cow_log_error ("calloc: %m");
    return NULL;
  }
  s->base.ops = &s3_ops;

  if (empty (config->endpoint)) {
    if (asprintf (&s->endpoint, "https://s3.%s.amazonaws.com", region) == -1)
      s->endpoint = NULL;
  } else
    s->endpoint = strdup (config->endpoint);
  if (s->endpoint == NULL)
    goto oom;
  if (parse_endpoint (s->endpoint, &https, &host, &host_len, &port, &port_len)
      == -1)
    goto fail;
  if (config->virtual_host && is_ip_literal (host, host_len)) {
    s3cow_log_error ("endpoint %s: virtual-hosted style needs a host name, "
                     "not an IP address",
                     s->endpoint);
    goto fail;
  }

  if (asprintf (&s->host, "%s%s%.*s%s%.*s",
                config->virtual_host ? config->bucket : "",
                config->virtual_host ? "." : "", (int)host_len, host,
                port ? ":" : "", (int)port_len, port ? port : "")
      == -1) {
    s->host = NULL;
    goto oom;
  }
  if (asprintf (&s->base_url, "%s://%s", https ? "https" : "http", s->host)
      == -1) {
    s->base_url = NULL;
    goto oom;
  }
  if (config->virtual_host)
    s->bucket_path = strdup ("");
  else if (asprintf (&s->bucket_path, "/%s", config->bucket) == -1)
    s->bucket_path = NULL;
  s->bucket = strdup (config->bucket);
  s->prefix = strdup (config->prefix ? config->prefix : "");
  s->region = strdup (region);
  if (s->bucket_path == NULL || s->bucket == NULL || s->prefix == NULL
      || s->region == NULL)
    goto oom;
  if (!empty (config->access_key)) {
    if (strpbrk (config->access_key, "/, \r\n") != NULL) {
      s3cow_log_error ("the access key has a character that cannot be in "
                       "one ('/', ',', a blank or a line break)");
      goto fail;
    }
    if (config->session_token && strpbrk (config->session_token, "\r\n")) {
      s3cow_log_error ("the session token has a line break");
      goto fail;
    }
    s->creds = creds_new_static (
        config->credentials_source ? config->credentials_source : "parameters",
        config->access_key, config->secret_key, config->session_token);
    if (s->creds == NULL)
      goto fail;
  } else if (config->credentials && open_credentials (s, config) == -1)
    goto fail;

  hc = (struct s3_http_config){
    .timeout = config->timeout,
    .retry_time = config->retry_time,
    .connections = config->connections,
    .tls_verify = config->tls_verify,
    .ca_file = config->ca_file,
  };
  s->http = s3_http_new (&hc);
  if (s->http == NULL)
    goto fail;
  if (!config->tls_verify && https)
    s3cow_log_warning ("endpoint %s: TLS certificate verification is OFF "
                       "(tls-verify=false): anyone on the network path can "
                       "read and change the data",
                       s->endpoint);
  s3cow_debug (http,
               "s3 store: %s, bucket %s, prefix \"%s\", region %s, "
               "%s style, %s",
               s->endpoint, s->bucket, s->prefix, s->region,
               config->virtual_host ? "virtual-hosted" : "path",
               s->creds ? "signed" : "anonymous");
  return &s->base;

oom:
  s3cow_log_error ("out of memory");
fail:
  free_store (s);
  return NULL;
}
