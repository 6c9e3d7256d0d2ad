/* s3cow: store.h front end: picks the backend and checks arguments. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "stats.h"
#include "store.h"

struct store *
store_open (const struct store_config *config)
{
  const char *endpoint = config->endpoint;

  if (config->bucket == NULL || config->bucket[0] == '\0') {
    s3cow_log_error ("no bucket given (bucket=NAME)");
    return NULL;
  }
  if (endpoint && strncmp (endpoint, "file://", 7) == 0) {
    const char *root = endpoint + 7;
    if (root[0] != '/') {
      s3cow_log_error ("endpoint %s: a file endpoint needs an absolute path: "
                       "file:///path",
                       endpoint);
      return NULL;
    }
    return store_dir_open (config, root);
  }
  return store_s3_open (config);
}

void
store_close (struct store *store)
{
  if (store)
    store->ops->close (store);
}

/* Count a finished call. */
static int
counted (int r, enum stat_counter op, enum stat_counter bytes_stat,
         uint64_t bytes)
{
  stats_inc (op);
  if (r == STORE_OK && bytes)
    stats_add (bytes_stat, bytes);
  if (r == STORE_TRANSIENT || r == STORE_PERMANENT)
    stats_inc (STAT_STORE_ERRORS);
  return r;
}

int
store_get (struct store *store, const char *key, void *buf, size_t cap,
           size_t *len, char *etag)
{
  int r = store->ops->get (store, key, 0, 0, true, buf, cap, len, etag, NULL,
                           NULL);

  return counted (r, STAT_STORE_GET, STAT_STORE_GET_BYTES,
                  r == STORE_OK ? *len : 0);
}

int
store_get_checked (struct store *store, const char *key, void *buf, size_t cap,
                   size_t *len, store_check_fn check, void *check_opaque)
{
  int r = store->ops->get (store, key, 0, 0, true, buf, cap, len, NULL, check,
                           check_opaque);

  return counted (r, STAT_STORE_GET, STAT_STORE_GET_BYTES,
                  r == STORE_OK ? *len : 0);
}

int
store_get_range (struct store *store, const char *key, uint64_t offset,
                 size_t count, void *buf, size_t *len)
{
  if (count == 0) {
    *len = 0;
    return STORE_OK;
  }
  int r = store->ops->get (store, key, offset, count, false, buf, count, len,
                           NULL, NULL, NULL);

  return counted (r, STAT_STORE_GET, STAT_STORE_GET_BYTES,
                  r == STORE_OK ? *len : 0);
}

int
store_get_alloc (struct store *store, const char *key, size_t max, void **data,
                 size_t *len, char *etag)
{
  int r = store->ops->get_alloc (store, key, max, data, len, etag);

  return counted (r, STAT_STORE_GET, STAT_STORE_GET_BYTES,
                  r == STORE_OK ? *len : 0);
}

int
store_put (struct store *store, const char *key, const void *data, size_t len,
           const char *sha256_hex, char *etag)
{
  return counted (
      store->ops->put (store, key, data, len, sha256_hex, NULL, false, etag),
      STAT_STORE_PUT, STAT_STORE_PUT_BYTES, len);
}

int
store_put_if_absent (struct store *store, const char *key, const void *data,
                     size_t len, char *etag)
{
  return counted (
      store->ops->put (store, key, data, len, NULL, NULL, true, etag),
      STAT_STORE_PUT, STAT_STORE_PUT_BYTES, len);
}

int
store_put_if_match (struct store *store, const char *key, const void *data,
                    size_t len, const char *if_etag, char *new_etag)
{
  return counted (
      store->ops->put (store, key, data, len, NULL, if_etag, false, new_etag),
      STAT_STORE_PUT, STAT_STORE_PUT_BYTES, len);
}

int
store_holds (struct store *store, const char *key, const void *data, size_t len,
             char *etag)
{
  CLEANUP_FREE void *got = NULL;
  size_t got_len;
  uint64_t size;
  int r;

  if (etag)
    etag[0] = '\0';
  /* The size first: another size is not ours, and is never read. */
  r = store_head (store, key, &size, etag, NULL);
  if (r != STORE_OK || size != len)
    return r != STORE_OK ? r : STORE_PRECONDITION;
  r = store_get_alloc (store, key, len, &got, &got_len, etag);
  if (r == STORE_NOT_FOUND && etag)
    etag[0] = '\0';
  if (r != STORE_OK)
    return r;
  return got_len == len && memcmp (got, data, len) == 0 ? STORE_OK
                                                        : STORE_PRECONDITION;
}

/* The conditional PUT itself: a missing object gives etag "". */
static int
put_if (struct store *store, const char *key, const void *data, size_t len,
        const char *if_etag, char *etag)
{
  int r = if_etag ? store_put_if_match (store, key, data, len, if_etag, etag)
                  : store_put_if_absent (store, key, data, len, etag);

  if (r == STORE_NOT_FOUND && etag)
    etag[0] = '\0';
  return r;
}

int
store_put_conditional (struct store *store, const char *key, const void *data,
                       size_t len, const char *if_etag, char *etag)
{
  int r = put_if (store, key, data, len, if_etag, etag);

  if (r != STORE_PRECONDITION)
    return r;
  /* The store retries transient failures, so the 412 may answer a retry
   * of this very PUT whose first attempt landed and lost its answer.
   */
  return store_holds (store, key, data, len, etag);
}

int
store_put_conditional_mine (struct store *store, const char *key,
                            const void *data, size_t len, const char *if_etag,
                            char *etag, size_t max, store_mine_fn mine,
                            void *opaque)
{
  CLEANUP_FREE void *got = NULL;
  size_t got_len;
  int r = put_if (store, key, data, len, if_etag, etag);

  if (r != STORE_PRECONDITION)
    return r;
  /* As above, with the caller's test of whose the object is. */
  if (etag)
    etag[0] = '\0';
  r = store_get_alloc (store, key, max, &got, &got_len, etag);
  if (r == STORE_NOT_FOUND) {
    if (etag)
      etag[0] = '\0';
    return STORE_PRECONDITION;
  }
  if (r != STORE_OK)
    return r;
  return mine (opaque, got, got_len) ? STORE_OK : STORE_PRECONDITION;
}

int
store_delete (struct store *store, const char *key)
{
  return counted (store->ops->delete (store, key), STAT_STORE_DELETE,
                  STAT_STORE_DELETE, 0);
}

int
store_head (struct store *store, const char *key, uint64_t *size, char *etag,
            time_t *mtime)
{
  return counted (store->ops->head (store, key, size, etag, mtime),
                  STAT_STORE_HEAD, STAT_STORE_HEAD, 0);
}

int
store_list (struct store *store, const char *key_prefix, store_list_fn fn,
            void *opaque)
{
  return counted (store->ops->list (store, key_prefix, fn, opaque),
                  STAT_STORE_LIST, STAT_STORE_LIST, 0);
}

int
store_check (struct store *store)
{
  return store->ops->check ? store->ops->check (store) : STORE_OK;
}

int
store_errno (int status)
{
  switch (status) {
  case STORE_OK:
    return 0;
  case STORE_NOT_FOUND:
    return ENOENT;
  default:
    return EIO;
  }
}

const char *
store_strstatus (int status)
{
  switch (status) {
  case STORE_OK:
    return "ok";
  case STORE_NOT_FOUND:
    return "not found";
  case STORE_PRECONDITION:
    return "precondition failed";
  case STORE_TRANSIENT:
    return "transient failure (retries exhausted)";
  case STORE_PERMANENT:
    return "permanent failure";
  default:
    return "unknown status";
  }
}
