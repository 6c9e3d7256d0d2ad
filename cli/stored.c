/* s3cow command: the bytes each chunk object takes in the bucket, from one
 * listing of chunks/ (sizes come with the listing: no object is read), for
 * the stored-bytes figures of ls and info.  Memory: 40 bytes per chunk
 * object in the bucket.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static int
add_chunk (void *opaque, const struct store_entry *entry)
{
  struct chunk_sizes *cs = opaque;
  uint8_t hash[HASH_LEN];

  if (!key_parse_chunk (entry->key, hash))
    return 0; /* not s3cow's */
  if (cs->n == cs->cap) {
    size_t cap = cs->cap ? 2 * cs->cap : 1024;
    void *p = realloc (cs->v, cap * sizeof *cs->v);

    if (p == NULL) {
      s3cow_log_error ("realloc: %m");
      return STORE_PERMANENT;
    }
    cs->v = p;
    cs->cap = cap;
  }
  memcpy (cs->v[cs->n].hash, hash, HASH_LEN);
  cs->v[cs->n].size = entry->size;
  cs->n++;
  return 0;
}

static int
compare_hash (const void *a, const void *b)
{
  return memcmp (a, b, HASH_LEN);
}

int
chunk_sizes_list (struct store *store, struct chunk_sizes *out)
{
  size_t i;
  int r;

  memset (out, 0, sizeof *out);
  r = store_list (store, KEY_CHUNKS_PREFIX, add_chunk, out);
  if (r != STORE_OK) {
    chunk_sizes_free (out);
    return r;
  }
  /* Listings come in byte order, which is the hashes' order; sort only
   * if a store did not keep it.
   */
  for (i = 1; i < out->n; i++)
    if (memcmp (out->v[i - 1].hash, out->v[i].hash, HASH_LEN) >= 0) {
      qsort (out->v, out->n, sizeof *out->v, compare_hash);
      break;
    }
  return STORE_OK;
}

bool
chunk_sizes_find (const struct chunk_sizes *cs, const uint8_t hash[HASH_LEN],
                  uint64_t *size)
{
  size_t lo = 0, hi = cs->n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp (cs->v[mid].hash, hash, HASH_LEN);

    if (c == 0) {
      *size = cs->v[mid].size;
      return true;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

void
chunk_sizes_free (struct chunk_sizes *cs)
{
  free (cs->v);
  memset (cs, 0, sizeof *cs);
}
