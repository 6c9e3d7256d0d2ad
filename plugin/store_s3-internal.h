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
 * etag_md5 (atomic), and the region and the addresses made from it, which
 * store_s3_check may change: it runs before any other call (store.h).
 */
#ifndef S3COW_STORE_S3_INTERNAL_H
#define S3COW_STORE_S3_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
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
  /* The region is a default (no region= nor --region, no AWS_REGION, no
   * profile region): store_s3_check may replace it with the bucket's.
   */
  bool region_guessed;
  bool endpoint_given;              /* false: the AWS endpoint of the region */
  enum store_addressing addressing; /* as configured */
  bool virtual_host;                /* what addressing chose */
  /* Requests are anonymous because no credentials were found: what was
   * tried, for a 403 to say (NULL: signed, or anonymous on purpose).
   */
  char *anonymous_why;
  char *sse;            /* x-amz-server-side-encryption of PUTs, or NULL */
  char *sse_kms_key_id; /* ...-aws-kms-key-id, or NULL */
  char *storage_class;  /* x-amz-storage-class of unconditional PUTs */
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
  const char *sse;            /* x-amz-server-side-encryption or NULL */
  const char *sse_kms_key_id; /* ...-aws-kms-key-id or NULL */
  const char *storage_class;  /* x-amz-storage-class or NULL */
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

/* For a final answer other than 2xx, 404, 409, 412 and 416: write into
 * resp->errmsg what it means and what to check (the access key id key_id
 * that signed the request, NULL if none; the action; the clock's offset
 * from the server's Date; the bucket's region), or "" when there is
 * nothing to add to the S3 Code and Message.
 */
void store_s3_explain (const struct s3_store *s, const struct s3_call *call,
                       const char *key_id, struct s3_http_response *resp);

/* Is region a plausible region name (so it can go in a URL and a
 * signature)?
 */
bool store_s3_region_ok (const char *region);

/* The bucket's region as a 3xx/4xx answer names it (the error's Region,
 * else x-amz-bucket-region), or NULL.
 */
const char *store_s3_bucket_region (const struct s3_http_response *resp);

/* Does resp say that the bucket is in another region than s->region? */
bool store_s3_wrong_region (const struct s3_store *s,
                            const struct s3_http_response *resp);

/* Use region from now on: the signing region, and the endpoint's host
 * when the endpoint is AWS's default for the region.  Only while no
 * other call runs (store_s3_check).  Returns 0, or -1 after logging.
 */
int store_s3_set_region (struct s3_store *s, const char *region);

/* Turn the result of store_s3_perform into a store status, logging a
 * failure (one message naming the S3 error, with a hint).  2xx is
 * STORE_OK; the caller checks other statuses it expects first.
 */
int store_s3_status (const struct s3_store *s, const char *method,
                     const char *what, int r,
                     const struct s3_http_response *resp);

#endif /* S3COW_STORE_S3_INTERNAL_H */
