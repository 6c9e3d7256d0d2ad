/* s3cow: HTTP transport for the S3 store, on libcurl.
 *
 * A pool of at most `connections` CURL easy handles, shared by all threads:
 * a request borrows a handle for its whole retry loop and gives it back, so
 * that the handle's kept-alive connection serves the next request.  A
 * request that finds every handle busy waits for one, within its retry
 * time budget (below): no attempt starts later than retry_time after the
 * call began, so a call lasts at most about retry_time + timeout.
 *
 * s3_http_perform sends one request and retries it while it fails in a way
 * that may go away (connection refused or reset, timeout, a body shorter
 * than its Content-Length, a body that the caller's check_fn rejects,
 * HTTP 5xx except 501/505, 408, 429, 503 SlowDown, 400 RequestTimeout),
 * with exponential backoff and jitter,
 * within a time budget.  A host name that does not resolve is retried
 * only once the pool has had an answer from the server: before that it
 * is a wrong endpoint, reported at once rather than after the budget.  It knows
 * nothing of S3 semantics beyond that: the caller decides what a final status
 * means.  It does not log errors (the caller does, knowing the context); it
 * emits one s3cow_debug (http, ...) line per attempt.
 *
 * Thread-safe.  Lock: s3_http.lock guards the pool only; it is never held
 * across network I/O or a callback.
 */
#ifndef S3COW_S3_HTTP_H
#define S3COW_S3_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "s3_xml.h"

struct s3_http_config {
  double timeout;       /* seconds for one attempt; 0: 30 */
  double retry_time;    /* seconds of retrying for one call; 0: 60 */
  unsigned connections; /* pool size; 0: 16 */
  bool tls_verify;      /* verify the server's certificate */
  const char *ca_file;  /* NULL: the system's CA bundle (copied) */
};

struct s3_http;
struct s3_http_response;

/* Make a pool (no handle or connection is made before the first request).
 * Returns NULL after logging the reason.
 */
struct s3_http *s3_http_new (const struct s3_http_config *config);

/* Free the pool and close its connections.  No request may be running. */
void s3_http_free (struct s3_http *http);

/* Build the request headers for one attempt: append to *headers (with
 * curl_slist_append; on failure leave what was appended, it is freed).
 * Called again before every retry, so that a signature can use the current
 * time.  Returns 0, or -1 to fail the call permanently (errmsg says why).
 */
typedef int (*s3_http_headers_fn) (void *opaque, struct curl_slist **headers,
                                   char *errmsg, size_t errmsg_size);

/* Where a successful (2xx) response body goes. */
enum s3_http_sink {
  S3_HTTP_DISCARD, /* nowhere (PUT, DELETE, HEAD) */
  S3_HTTP_BUFFER,  /* into buf, at most cap bytes */
  S3_HTTP_ALLOC,   /* into a new malloc'd buffer, at most max */
};

struct s3_http_request {
  const char *method; /* GET, PUT, HEAD or DELETE */
  const char *url;    /* sent as is (already encoded) */
  const char *what;   /* for debug lines: "s3://bucket/key" */
  s3_http_headers_fn headers_fn;
  void *opaque;     /* for headers_fn */
  const void *body; /* PUT: len bytes (may be 0) */
  size_t body_len;
  enum s3_http_sink sink;
  void *buf; /* S3_HTTP_BUFFER */
  size_t cap;
  size_t max; /* S3_HTTP_ALLOC */
  /* A Range request of bytes from range_offset: if the server answers 200
   * (the whole object) instead of 206, the first range_offset bytes are
   * dropped and whatever does not fit in cap is ignored.
   */
  bool range;
  uint64_t range_offset;
  /* Optional: a check of a complete 2xx body (body, len: what the sink
   * holds) before the call returns it.  0 accepts the body; -1 fails the
   * attempt as transient, with errmsg saying why, so it is retried like a
   * short body (a body damaged on the way, say).
   */
  int (*check_fn) (void *opaque, const struct s3_http_response *resp,
                   const void *body, size_t len, char *errmsg,
                   size_t errmsg_size);
  void *check_opaque;
};

#define S3_HTTP_ETAG_MAX 130 /* as STORE_ETAG_MAX */

/* What came back.  Owned by the caller; free with s3_http_response_free. */
struct s3_http_response {
  long status;       /* of the last attempt; 0 if none */
  void *data;        /* S3_HTTP_ALLOC: the body (malloc'd) */
  size_t len;        /* bytes of body stored (BUFFER, ALLOC) */
  uint64_t received; /* bytes of body received */
  bool has_length;   /* a Content-Length was sent */
  uint64_t content_length;
  char etag[S3_HTTP_ETAG_MAX]; /* ETag without quotes, "" if none */
  bool etag_too_long;
  char last_modified[64];    /* raw header value, "" if none */
  char content_range[96];    /* raw header value, "" if none */
  char date[64];             /* raw header value, "" if none */
  char bucket_region[64];    /* x-amz-bucket-region, "" if none */
  struct s3_xml_error error; /* Code and Message of a non-2xx body */
  unsigned attempts;
  double seconds; /* spent in the call, retries included */
  /* An earlier attempt failed after the request may have reached the
   * server (not a refused connection, a 429 or a 503): a conditional PUT
   * that now gets 412 may have succeeded on that earlier attempt.
   */
  bool maybe_applied;
  char errmsg[512]; /* why the call failed (no secrets) */
};

enum {
  S3_HTTP_OK = 0,         /* a final HTTP response: see status */
  S3_HTTP_TRANSIENT = -1, /* still failing when the budget ran out */
  S3_HTTP_PERMANENT = -2, /* cannot succeed: TLS verification, body
                           * larger than allowed, out of memory... */
};

/* Send req, retrying as described above.  resp is overwritten.  Returns
 * S3_HTTP_OK with resp->status set to a final status (2xx, 3xx, 4xx other
 * than 408/429, 501, 505 or a 400 RequestTimeout), or S3_HTTP_TRANSIENT or
 * S3_HTTP_PERMANENT with resp->errmsg (and resp->status / resp->error of
 * the last response, if there was one).  An object larger than the sink
 * allows is S3_HTTP_PERMANENT with errmsg "object larger than N bytes" and
 * nothing larger is ever allocated.
 */
int s3_http_perform (struct s3_http *http, const struct s3_http_request *req,
                     struct s3_http_response *resp);

/* Free resp->data.  Safe to call twice. */
void s3_http_response_free (struct s3_http_response *resp);

#endif /* S3COW_S3_HTTP_H */
