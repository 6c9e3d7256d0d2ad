/* s3cow: store.h on S3 (AWS, MinIO, Ceph RGW, ...).
 *
 * Layers, each in its own file, calls going down only:
 *
 *   store_s3*.c  operations, URLs, signing of each attempt, S3 status ->
 *                store status (store_s3-internal.h lists the files)
 *   s3_http.c    libcurl handle pool, timeouts, retries with backoff
 *   sigv4.c      AWS Signature Version 4 (pure)
 *   s3_xml.c     error bodies and listings (over libexpat)
 *
 * Addressing:
 *
 *   path style (default)   http://host:port/BUCKET/PREFIXKEY
 *   virtual_host           http://BUCKET.host:port/PREFIXKEY
 *
 * Signing and URLs: store_s3_request.c.  Status mapping:
 * store_s3_errors.c.
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

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "log.h"
#include "s3_http.h"
#include "s3_xml.h"
#include "sigv4.h"
#include "store.h"
#include "store_s3-internal.h"

_Static_assert(S3_HTTP_ETAG_MAX == STORE_ETAG_MAX, "etag sizes differ");

/* The most a listing page may be: 1000 keys (S3's page) of up to 1 KiB,
 * each as much as 5 times longer once XML-escaped ("&amp;"), plus about
 * 600 bytes of other fields each: 5.7 MiB.  Held in memory while parsed,
 * so it must stay well inside the 64 MiB above cache-size.
 */
#define LIST_PAGE_MAX (8 * 1024 * 1024)
_Static_assert(LIST_PAGE_MAX <= S3_XML_DOC_MAX, "a page s3_xml refuses");

static void
s3_close (struct store *store)
{
  store_s3_free ((struct s3_store *)store);
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

  r = store_s3_perform (s, &call, &hreq, &resp, &what);
  report_body_check (&bc, what);
  if (r == S3_HTTP_OK && !whole && resp.status == 416)
    return STORE_OK; /* at or past the end of the object: nothing */
  r = store_s3_status (s, "GET", what, r, &resp);
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
  r = store_s3_perform (s, &call, &hreq, &resp, &what);
  report_body_check (&bc, what);
  r = store_s3_status (s, "GET", what, r, &resp);
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

  r = store_s3_perform (s, &call, &hreq, &resp, &what);
  r = store_s3_status (s, "HEAD", what, r, &resp);
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
  call.sse = s->sse;
  call.sse_kms_key_id = s->sse_kms_key_id;
  /* Written once (chunks, maps): the storage class asked for.  Rewritten
   * in place (heads, leases): the default class (store.h).
   */
  if (!if_match && !if_absent)
    call.storage_class = s->storage_class;

  r = store_s3_perform (s, &call, &hreq, &resp, &what);
  r = store_s3_status (s, "PUT", what, r, &resp);

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

  r = store_s3_perform (s, &call, &hreq, &resp, &what);
  r = store_s3_status (s, "DELETE", what, r, &resp);
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

    r = store_s3_perform (s, &call, &hreq, &resp, &what);
    r = store_s3_status (s, "LIST", what, r, &resp);
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

static int
s3_check (struct store *store)
{
  struct s3_store *s = (struct s3_store *)store;
  bool switched = false;

  for (;;) {
    const struct sigv4_param params[3] = {
      { "list-type", "2" },
      { "max-keys", "1" },
      { "prefix", s->prefix },
    };
    const struct s3_call call
        = { .method = "GET", .params = params, .n_params = 3 };
    struct s3_http_request hreq
        = { .sink = S3_HTTP_ALLOC, .max = LIST_PAGE_MAX };
    struct s3_http_response resp;
    CLEANUP_FREE char *what = NULL;
    int r;

    r = store_s3_perform (s, &call, &hreq, &resp, &what);
    s3_http_response_free (&resp);
    if (r == S3_HTTP_OK && !switched && s->region_guessed
        && store_s3_wrong_region (s, &resp)) {
      const char *region = store_s3_bucket_region (&resp);

      s3cow_debug (http, "bucket %s is in region %s, not %s: using %s",
                   s->bucket, region, s->region, region);
      if (store_s3_set_region (s, region) == -1)
        return STORE_PERMANENT;
      switched = true;
      continue;
    }
    if (r == S3_HTTP_OK && resp.status == 403 && s->anonymous_why == NULL
        && strcmp (resp.error.code, "AccessDenied") == 0) {
      s3cow_debug (http, "LIST %s: access denied (%s): not checked further",
                   what ? what : s->bucket, resp.errmsg);
      return STORE_OK;
    }
    r = store_s3_status (s, "LIST", what, r, &resp);
    if (r == STORE_NOT_FOUND) {
      s3cow_log_error ("LIST %s: HTTP 404 %s", what, resp.error.code);
      r = STORE_PERMANENT;
    }
    return r;
  }
}

const struct store_ops store_s3_ops = {
  .name = "s3",
  .close = s3_close,
  .get = s3_get,
  .get_alloc = s3_get_alloc,
  .put = s3_put,
  .delete = s3_delete,
  .head = s3_head,
  .list = s3_list,
  .check = s3_check,
};
