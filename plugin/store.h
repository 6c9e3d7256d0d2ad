/* s3cow: the object-store interface.
 *
 * Everything above this layer (chunk cache, disk, lease, the s3cow command)
 * talks to object storage only through these functions.  Two backends
 * implement it with the same semantics:
 *
 *   store_s3.c    S3 over HTTP(S) with libcurl (AWS, MinIO, Ceph RGW, ...)
 *   store_dir.c   a local directory, endpoint=file:///path
 *
 * A store is one bucket plus an optional key prefix: every key passed here
 * is relative to the prefix, and store_list returns keys without it.  Keys
 * are built by the callers from validated names only.
 *
 * All functions are thread-safe: any number of threads may call them on one
 * store at once.  None of them holds a lock of the caller's.
 *
 * Return values: STORE_OK (0) or a negative enum store_status.
 * STORE_NOT_FOUND and STORE_PRECONDITION are normal outcomes and are NOT
 * logged; STORE_TRANSIENT and STORE_PERMANENT have been logged with
 * s3cow_log_error (what, which key, the HTTP status and the S3 error Code and
 * Message when there was one) before returning.
 */
#ifndef S3COW_STORE_H
#define S3COW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct creds;

enum store_status {
  STORE_OK = 0,
  STORE_NOT_FOUND = -1,    /* no such key (404 NoSuchKey / ENOENT) */
  STORE_PRECONDITION = -2, /* If-Match / If-None-Match failed (412, 409) */
  STORE_TRANSIENT = -3,    /* 5xx, 429/SlowDown, reset, timeout: still failing
                            * when the retry time budget ran out */
  STORE_PERMANENT = -4,    /* auth, no such bucket, bad request, object larger
                            * than the caller allowed, local I/O error, ... */
};

/* Room for any etag, NUL included.  Etags are returned without quotes. */
#define STORE_ETAG_MAX 130

/* How S3 requests name the bucket. */
enum store_addressing {
  /* Virtual-hosted style on AWS's own endpoints (none given, or a host
   * under amazonaws.com) for a bucket name that is a host name label;
   * path style on any other endpoint, and for bucket names with dots or
   * capitals (AWS's wildcard certificate covers one label only).
   */
  STORE_ADDRESSING_AUTO,
  STORE_ADDRESSING_PATH,    /* host/bucket/key */
  STORE_ADDRESSING_VIRTUAL, /* bucket.host/key */
};

struct store_config {
  /* NULL: AWS (https://s3.REGION.amazonaws.com).  "file:///path": the
   * directory store.  Otherwise "http://host[:port]" or "https://...". */
  const char *endpoint;
  const char *bucket; /* required */
  const char *prefix; /* "" or NULL for none */
  const char *region; /* NULL: us-east-1 */
  /* region is a default, not given by the user (region=, --region,
   * AWS_REGION, a profile): the bucket's own region may replace it
   * (store_check).
   */
  bool region_guessed;
  const char *access_key; /* S3 only; NULL with secret_key NULL: anonymous */
  const char *secret_key;
  const char *session_token; /* NULL: none */
  /* Where the keys above come from, for messages (NULL: parameters). */
  const char *credentials_source;
  /* A credential provider (credentials.h) in place of the keys above, which
   * are then NULL; store_s3_open takes a reference.  NULL: the keys.
   */
  struct creds *credentials;
  /* The credential chain was searched and found nothing (requests are
   * anonymous): a 403 then says so and what was tried.
   */
  bool credentials_tried;
  enum store_addressing addressing;
  bool tls_verify;      /* default true; false only when asked */
  const char *ca_file;  /* NULL: the system's CA bundle */
  double timeout;       /* seconds for one request; 0: default 30 */
  double retry_time;    /* total seconds spent retrying one call
                         * (transient failures); 0: default 60 */
  unsigned connections; /* max parallel connections; 0: default 16 */
  /* S3 server-side encryption of every object written: NULL (the
   * bucket's default), "AES256" (SSE-S3) or "aws:kms" (SSE-KMS, with the
   * key sse_kms_key_id, NULL: the account's AWS managed key).
   */
  const char *sse;
  const char *sse_kms_key_id;
  /* The S3 storage class of the objects written once (store_put: chunks,
   * maps), NULL: the bucket's default (STANDARD).  Objects rewritten in
   * place (store_put_if_match / _if_absent: heads, leases) stay in the
   * default class, where small objects rewritten often cost least.
   */
  const char *storage_class;
};

struct store;

/* Open the store.  Checks the configuration (a malformed endpoint, a missing
 * bucket name, ...) and prepares connections, but does not contact the server.
 * Returns NULL after logging the reason.
 */
struct store *store_open (const struct store_config *config);
void store_close (struct store *store);

/* Whole object into buf, which has room for cap bytes.  *len is set to the
 * object's size.  An object larger than cap fails with STORE_PERMANENT (and
 * never allocates more).  etag may be NULL.
 */
int store_get (struct store *store, const char *key, void *buf, size_t cap,
               size_t *len, char *etag);

/* A reader's own check of a whole object's body (a content hash, say):
 * true accepts it.  Called with no lock of the store held, possibly more
 * than once per call (once per attempt), the last time on the body that
 * store_get_checked returns.
 */
typedef bool (*store_check_fn) (void *opaque, const void *body, size_t len);

/* store_get, with check in place of the store's own check of the body
 * (on S3: the MD5 of the body against the ETag), so that the body is hashed
 * once: a body that check rejects is retried as damaged on the way, within
 * the retry budget; the same rejected body twice is what the server holds
 * and is returned (STORE_OK) for the caller to judge.  A backend whose
 * bodies cannot be damaged on the way (the directory) may not call check
 * at all: the caller checks what it got unless check saw it.
 */
int store_get_checked (struct store *store, const char *key, void *buf,
                       size_t cap, size_t *len, store_check_fn check,
                       void *check_opaque);

/* Bytes [offset, offset + count) of an object into buf (room for count).
 * *len is less than count only at the end of the object (0 for a range
 * starting at or past the end: STORE_OK).
 */
int store_get_range (struct store *store, const char *key, uint64_t offset,
                     size_t count, void *buf, size_t *len);

/* Whole object into a new malloc'd buffer (*data, free it), at most max bytes:
 * larger objects fail with STORE_PERMANENT without a large allocation.
 */
int store_get_alloc (struct store *store, const char *key, size_t max,
                     void **data, size_t *len, char *etag);

/* Create or replace an object.  sha256_hex may be NULL, or the lowercase hex
 * SHA-256 of data when the caller already knows it (saves hashing it again
 * for the signature).  etag (the new object's) may be NULL.
 */
int store_put (struct store *store, const char *key, const void *data,
               size_t len, const char *sha256_hex, char *etag);

/* Create an object only if the key does not exist (If-None-Match: *).
 * STORE_PRECONDITION if it exists.
 */
int store_put_if_absent (struct store *store, const char *key, const void *data,
                         size_t len, char *etag);

/* Replace an object only if its current etag is if_etag (If-Match):
 * compare-and-swap.  STORE_PRECONDITION if the etag differs,
 * STORE_NOT_FOUND if there is no object.  new_etag may be NULL.
 *
 * Both conditional puts: after a transient failure and a retry,
 * STORE_PRECONDITION may hide an attempt of this very call that was
 * applied (the first try landed, its answer was lost).  Callers that must
 * know write content unique to the attempt and read the object back.
 */
int store_put_if_match (struct store *store, const char *key, const void *data,
                        size_t len, const char *if_etag, char *new_etag);

/* The one answer to "a 412 may be our own write whose answer was lost".
 *
 * store_put_conditional: store_put_if_absent (if_etag NULL) or
 * store_put_if_match, and on STORE_PRECONDITION, store_holds: the object
 * holding exactly data was this call's own write (an attempt that landed
 * and lost its answer), so that is STORE_OK.  data must be unique to the
 * writer (an operation id or nonce in it), or another writer's identical
 * bytes would count as its own.
 *
 * store_holds: does key hold exactly data?  STORE_OK if so,
 * STORE_PRECONDITION if something else, STORE_NOT_FOUND, or a failure.
 *
 * store_put_conditional_mine: the same, but whether the object found is
 * the writer's own is mine's answer (on the object read back, at most max
 * bytes): for objects that carry a nonce of their writer's in a field
 * rather than an op id new in each write (a lease's instance), so that
 * an earlier write of the same writer whose answer was lost counts too.
 * mine is called only when the object is read back.
 *
 * All three: etag (may be NULL) gets the object's etag when it exists (on
 * STORE_OK and STORE_PRECONDITION), "" on STORE_NOT_FOUND.  Callers compare it
 * with the etag they last knew: unchanged means their write has not landed
 * (yet), anything else that someone else's has.
 */
int store_put_conditional (struct store *store, const char *key,
                           const void *data, size_t len, const char *if_etag,
                           char *etag);
int store_holds (struct store *store, const char *key, const void *data,
                 size_t len, char *etag);
typedef bool (*store_mine_fn) (void *opaque, const void *body, size_t len);
int store_put_conditional_mine (struct store *store, const char *key,
                                const void *data, size_t len,
                                const char *if_etag, char *etag, size_t max,
                                store_mine_fn mine, void *opaque);

/* Delete an object.  Deleting a missing key is STORE_OK (as S3 does). */
int store_delete (struct store *store, const char *key);

/* Size, etag and last-modified time of an object.  Any output may be NULL. */
int store_head (struct store *store, const char *key, uint64_t *size,
                char *etag, time_t *mtime);

struct store_entry {
  const char *key; /* relative to the prefix */
  uint64_t size;
  time_t mtime;
  const char *etag; /* without quotes */
};

/* Call fn for every key that starts with key_prefix, in byte order, across
 * all pages of the listing.  fn returns 0 to go on, anything else to stop
 * (store_list then returns that value).  Keys are valid only during fn.
 */
typedef int (*store_list_fn) (void *opaque, const struct store_entry *entry);
int store_list (struct store *store, const char *key_prefix, store_list_fn fn,
                void *opaque);

/* Check that the bucket is there and that the credentials work, with one
 * cheap request (S3: a listing of at most one key under the prefix), so
 * that a wrong bucket, endpoint, key, secret or clock is reported when a
 * program starts.  When the S3 answer names another region for the bucket
 * and the region was a default (config.region_guessed), the store
 * switches to the bucket's region (a debug line) and checks again.  Call
 * it before any other call on the store runs (it may change the store's
 * addresses).  A listing that is denied (AccessDenied) to credentials
 * that are otherwise good is not a failure here: a server of one disk
 * needs no listing.  Returns STORE_OK, or another status after logging
 * one message naming the cause.
 */
int store_check (struct store *store);

/* The errno to give an NBD client for a failed store call: EIO mostly. */
int store_errno (int status);

/* A short word for a status, for messages: "not found", ... */
const char *store_strstatus (int status);

/* Backend dispatch table: store.c calls these.  Each backend fills one. */
struct store_ops {
  const char *name;
  void (*close) (struct store *);
  int (*get) (struct store *, const char *key, uint64_t offset, size_t count,
              bool whole, void *buf, size_t cap, size_t *len, char *etag,
              store_check_fn check, void *check_opaque);
  int (*get_alloc) (struct store *, const char *key, size_t max, void **data,
                    size_t *len, char *etag);
  int (*put) (struct store *, const char *key, const void *data, size_t len,
              const char *sha256_hex, const char *if_match, bool if_absent,
              char *etag);
  int (*delete) (struct store *, const char *key);
  int (*head) (struct store *, const char *key, uint64_t *size, char *etag,
               time_t *mtime);
  int (*list) (struct store *, const char *key_prefix, store_list_fn fn,
               void *opaque);
  int (*check) (struct store *); /* NULL: nothing to check */
};

/* Every backend's private struct starts with this. */
struct store {
  const struct store_ops *ops;
};

struct store *store_s3_open (const struct store_config *config);
struct store *store_dir_open (const struct store_config *config,
                              const char *root);

/* Resolve the connection settings as the plugin and the s3cow command take
 * them: explicit values win; then AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 * / AWS_SESSION_TOKEN; then a provider of the rest of the AWS SDKs' chain
 * (credentials.h: web identity, the profile, the container endpoint,
 * instance metadata).  region: AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's, us-east-1.  endpoint: AWS_ENDPOINT_URL.  Fills only fields
 * that are NULL, but for prefix: a prefix that does not end in '/' gets
 * one ("team-a" keeps its objects under "team-a/").  What it allocates is owned
 * by *owned (free with store_config_free_owned, after the stores opened with
 * config). Returns 0, or -1 after logging (an unreadable credentials file,
 * ...).
 */
struct store_config_owned {
  char *access_key, *secret_key, *session_token, *region, *endpoint;
  char *prefix;
  struct creds *credentials;
};
int store_config_resolve (struct store_config *config,
                          struct store_config_owned *owned);
void store_config_free_owned (struct store_config_owned *owned);

#endif /* S3COW_STORE_H */
