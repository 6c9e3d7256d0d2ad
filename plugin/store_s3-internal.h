/* s3cow: the S3 store's private header, shared by its files:
 *
 *   store_s3.c          the store's operations: GET (with the body check
 *                       against the ETag), HEAD, PUT, DELETE, LIST pages
 *   store_s3_request.c  one call: its URL, the signing of each attempt,
 *                       the renewal of rejected temporary credentials
 *   store_s3_errors.c   an S3 answer -> a store status and one message
 *                       a user can act on
 *   store_s3_open.c     the endpoint, the bucket name, the credentials:
 *                       store_s3_open
 *
 * Nothing else includes it: the rest of s3cow sees store.h only.  No lock:
 * the fields of struct s3_store are read-only after store_s3_open, except
 * etag_md5 (atomic).
 */
#ifndef S3COW_STORE_S3_INTERNAL_H
#define S3COW_STORE_S3_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>

#include "credentials.h"
#include "s3_http.h"
#include "sigv4.h"
#include "store.h"

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

extern const struct store_ops store_s3_ops;

/* Free s and all it holds (s may be half built by store_s3_open). */
void store_s3_free (struct s3_store *s);

/* Send one call (with retries, each attempt signed anew).  hreq has its
 * sink set by the caller; the rest is filled here.  Returns an S3_HTTP_*
 * result; *what gets the name of the object for messages (free it; NULL
 * if out of memory).  An answer ExpiredToken, InvalidToken or
 * InvalidAccessKeyId to temporary credentials renews them once and sends
 * the call again.
 */
int store_s3_perform (const struct s3_store *s, const struct s3_call *call,
                      struct s3_http_request *hreq,
                      struct s3_http_response *resp, char **what);

/* Turn the result of store_s3_perform into a store status, logging a
 * failure (one message naming the S3 error, with a hint).  2xx is
 * STORE_OK; the caller checks other statuses it expects first.
 */
int store_s3_status (const struct s3_store *s, const char *method,
                     const char *what, int r,
                     const struct s3_http_response *resp);

#endif /* S3COW_STORE_S3_INTERNAL_H */
