/* s3cow: content addressing of chunks (see chunks.h).
 *
 * A chunk object is today the chunk's bytes, stored under
 * chunks/<sha256-hex of the bytes>, with the same hash as the payload hash
 * of the PUT.  Everything that knows this is in this file.
 *
 * No locks: a struct chunks is read-only once made.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chunkmap.h"
#include "chunks.h"
#include "hash.h"
#include "log.h"
#include "stats.h"

struct chunks {
  struct store *store;
  uint32_t chunk_size;
  uint8_t zero_hash[HASH_LEN]; /* SHA-256 of a chunk of zeros */
};

struct chunks *
chunks_new (struct store *store, uint32_t chunk_size)
{
  struct chunks *ch = calloc (1, sizeof *ch);
  uint8_t *zeros = calloc (1, chunk_size);

  if (ch == NULL || zeros == NULL) {
    s3cow_log_error ("calloc: %m");
    free (zeros);
    free (ch);
    return NULL;
  }
  ch->store = store;
  ch->chunk_size = chunk_size;
  hash_sha256 (zeros, chunk_size, ch->zero_hash);
  free (zeros);
  return ch;
}

void
chunks_free (struct chunks *ch)
{
  free (ch);
}

void
chunks_address (const struct chunks *ch, const void *data,
                uint8_t hash[HASH_LEN])
{
  memset (hash, 0, HASH_LEN);
  if (data) {
    hash_sha256 (data, ch->chunk_size, hash);
    if (memcmp (hash, ch->zero_hash, HASH_LEN) == 0)
      memset (hash, 0, HASH_LEN);
  }
}

/* The check of a chunk's body against its address, for store_get_checked:
 * the body is hashed once, while the store can still retry it.
 */
struct chunk_check {
  const uint8_t *hash;
  uint32_t size;
  bool checked, ok; /* the last body seen, and its verdict */
};

static bool
check_chunk (void *opaque, const void *body, size_t len)
{
  struct chunk_check *cc = opaque;
  uint8_t sum[HASH_LEN];

  cc->checked = true;
  cc->ok = false;
  if (len == cc->size) {
    hash_sha256 (body, len, sum);
    cc->ok = memcmp (sum, cc->hash, HASH_LEN) == 0;
  }
  return cc->ok;
}

int
chunks_fetch (struct chunks *ch, const uint8_t hash[HASH_LEN], void *buf,
              const char *name, uint64_t idx)
{
  char key[KEY_MAX_LEN];
  struct chunk_check cc = { .hash = hash, .size = ch->chunk_size };
  size_t len;
  int r;

  key_chunk (key, hash);
  r = store_get_checked (ch->store, key, buf, ch->chunk_size, &len, check_chunk,
                         &cc);
  if (r == STORE_NOT_FOUND) {
    if (name)
      s3cow_log_error ("%s: chunk %" PRIu64 ": %s is missing from the bucket",
                       name, idx, key);
    errno = ENOENT;
    return -1;
  }
  if (r != STORE_OK) {
    errno = EIO; /* the store retried, and logged why */
    return -1;
  }
  /* A backend that does not run the check (the directory: nothing on the
   * way) returns what it holds, checked here.
   */
  if (!cc.checked)
    check_chunk (&cc, buf, len);
  if (cc.ok)
    return 0;
  if (name) {
    stats_inc (STAT_CHUNK_CORRUPT);
    s3cow_log_error ("%s: chunk %" PRIu64 ": %s is corrupt (%zu bytes, "
                     "content does not match its address%s: damaged in the "
                     "bucket)",
                     name, idx, key, len,
                     cc.checked ? "; the same wrong content twice" : "");
  }
  errno = EIO;
  return -1;
}

int
chunks_persist (struct chunks *ch, const void *data, const uint8_t *prev,
                uint8_t hash[HASH_LEN])
{
  char key[KEY_MAX_LEN], hex[HASH_HEX_LEN + 1];

  chunks_address (ch, data, hash);
  if (hash_is_zero (hash) || (prev && memcmp (hash, prev, HASH_LEN) == 0))
    return 0;
  key_chunk (key, hash);
  hash_to_hex (hash, hex);
  if (store_put (ch->store, key, data, ch->chunk_size, hex, NULL) != STORE_OK)
    return -1;
  return 1;
}
