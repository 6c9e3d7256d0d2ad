/* s3cow: store.h front end: picks the backend and checks arguments. */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "log.h"
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
                       "file:///path", endpoint);
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

int
store_get (struct store *store, const char *key,
           void *buf, size_t cap, size_t *len, char *etag)
{
  return store->ops->get (store, key, 0, 0, true, buf, cap, len, etag);
}

int
store_get_range (struct store *store, const char *key,
                 uint64_t offset, size_t count, void *buf, size_t *len)
{
  if (count == 0) {
    *len = 0;
    return STORE_OK;
  }
  return store->ops->get (store, key, offset, count, false, buf, count, len,
                          NULL);
}

int
store_get_alloc (struct store *store, const char *key, size_t max,
                 void **data, size_t *len, char *etag)
{
  return store->ops->get_alloc (store, key, max, data, len, etag);
}

int
store_put (struct store *store, const char *key,
           const void *data, size_t len, const char *sha256_hex, char *etag)
{
  return store->ops->put (store, key, data, len, sha256_hex, NULL, false,
                          etag);
}

int
store_put_if_absent (struct store *store, const char *key,
                     const void *data, size_t len, char *etag)
{
  return store->ops->put (store, key, data, len, NULL, NULL, true, etag);
}

int
store_put_if_match (struct store *store, const char *key,
                    const void *data, size_t len, const char *if_etag,
                    char *new_etag)
{
  return store->ops->put (store, key, data, len, NULL, if_etag, false,
                          new_etag);
}

int
store_delete (struct store *store, const char *key)
{
  return store->ops->delete (store, key);
}

int
store_head (struct store *store, const char *key,
            uint64_t *size, char *etag, time_t *mtime)
{
  return store->ops->head (store, key, size, etag, mtime);
}

int
store_list (struct store *store, const char *key_prefix,
            store_list_fn fn, void *opaque)
{
  return store->ops->list (store, key_prefix, fn, opaque);
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
