/* s3cow: the in-memory chunk map (see chunkmap.h). */
#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chunkmap.h"
#include "cleanup.h"

struct chunkmap {
  pthread_mutex_t lock; /* protects everything below */
  uint64_t nchunks;
  uint8_t (*hashes)[HASH_LEN]; /* nchunks entries */
  uint64_t *changed;           /* bitmap: changed since the last take */
  uint64_t nchanged;           /* bits set in changed */
  uint64_t nonzero;            /* non-zero entries in hashes */
  double oldest;               /* when the upload began of the oldest
                                * non-zero chunk among the changed
                                * entries (monotonic seconds); 0: none */
};

static const uint8_t zero_hash[HASH_LEN];

bool
hash_is_zero (const uint8_t hash[HASH_LEN])
{
  return memcmp (hash, zero_hash, HASH_LEN) == 0;
}

struct chunkmap *
chunkmap_new (uint64_t nchunks)
{
  struct chunkmap *map = calloc (1, sizeof *map);

  if (map == NULL)
    return NULL;
  pthread_mutex_init (&map->lock, NULL);
  map->nchunks = nchunks;
  map->hashes = calloc (nchunks ? nchunks : 1, HASH_LEN);
  map->changed = calloc ((nchunks + 63) / 64 + 1, sizeof (uint64_t));
  if (map->hashes == NULL || map->changed == NULL) {
    chunkmap_free (map);
    return NULL;
  }
  return map;
}

void
chunkmap_free (struct chunkmap *map)
{
  if (map == NULL)
    return;
  pthread_mutex_destroy (&map->lock);
  free (map->hashes);
  free (map->changed);
  free (map);
}

uint64_t
chunkmap_nchunks (const struct chunkmap *map)
{
  return map->nchunks;
}

/* Store hash at idx, keeping the non-zero count.  Lock held. */
static bool
store_hash (struct chunkmap *map, uint64_t idx, const uint8_t hash[HASH_LEN])
{
  bool was_zero = hash_is_zero (map->hashes[idx]);
  bool is_zero = hash_is_zero (hash);

  if (memcmp (map->hashes[idx], hash, HASH_LEN) == 0)
    return false;
  memcpy (map->hashes[idx], hash, HASH_LEN);
  map->nonzero += (uint64_t)was_zero - (uint64_t)is_zero;
  return true;
}

static void
mark (struct chunkmap *map, uint64_t idx)
{
  uint64_t bit = UINT64_C (1) << (idx % 64);

  if (!(map->changed[idx / 64] & bit)) {
    map->changed[idx / 64] |= bit;
    map->nchanged++;
  }
}

void
chunkmap_load (struct chunkmap *map, const struct map_entry *entries, size_t n)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);
  size_t i;

  for (i = 0; i < n; i++)
    if (entries[i].idx < map->nchunks)
      store_hash (map, entries[i].idx, entries[i].hash);
}

void
chunkmap_get (struct chunkmap *map, uint64_t idx, uint8_t hash[HASH_LEN])
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);

  memcpy (hash, map->hashes[idx], HASH_LEN);
}

bool
chunkmap_is_zero (struct chunkmap *map, uint64_t idx)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);

  return hash_is_zero (map->hashes[idx]);
}

/* Keep the oldest upload time.  Lock held. */
static void
note_upload (struct chunkmap *map, double since)
{
  if (since > 0 && (map->oldest == 0 || since < map->oldest))
    map->oldest = since;
}

void
chunkmap_set (struct chunkmap *map, uint64_t idx, const uint8_t hash[HASH_LEN],
              double since)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);

  if (store_hash (map, idx, hash)) {
    mark (map, idx);
    if (!hash_is_zero (hash))
      note_upload (map, since);
  }
}

int
chunkmap_take (struct chunkmap *map, bool full, struct map_entry **entries,
               size_t *n, double *oldest)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);
  uint64_t count = full ? map->nonzero + map->nchanged : map->nchanged;
  uint64_t idx, k = 0;
  struct map_entry *e;

  e = malloc (count ? count * sizeof *e : 1);
  if (e == NULL)
    return -1;
  if (full) {
    /* The changed zero entries too: a base needs none of them, but if its
     * commit fails, chunkmap_untake must mark them again, else a delta
     * after it would leave the old data of a chunk zeroed since.
     */
    for (idx = 0; idx < map->nchunks; idx++)
      if (!hash_is_zero (map->hashes[idx])
          || (map->changed[idx / 64] & (UINT64_C (1) << (idx % 64)))) {
        e[k].idx = idx;
        memcpy (e[k].hash, map->hashes[idx], HASH_LEN);
        k++;
      }
  } else {
    /* Skip clean words of the bitmap: cost follows the changes, mostly. */
    uint64_t w;
    for (w = 0; w < (map->nchunks + 63) / 64; w++) {
      uint64_t bits = map->changed[w];
      while (bits) {
        idx = w * 64 + __builtin_ctzll (bits);
        bits &= bits - 1;
        e[k].idx = idx;
        memcpy (e[k].hash, map->hashes[idx], HASH_LEN);
        k++;
      }
    }
  }
  memset (map->changed, 0, (map->nchunks + 63) / 64 * sizeof (uint64_t));
  map->nchanged = 0;
  *oldest = map->oldest;
  map->oldest = 0;
  *entries = e;
  *n = k;
  return 0;
}

void
chunkmap_untake (struct chunkmap *map, const struct map_entry *entries,
                 size_t n, double oldest)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);
  size_t i;

  for (i = 0; i < n; i++)
    mark (map, entries[i].idx);
  note_upload (map, oldest);
}

double
chunkmap_oldest (struct chunkmap *map)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);

  return map->oldest;
}

uint64_t
chunkmap_changed (struct chunkmap *map)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);

  return map->nchanged;
}

uint64_t
chunkmap_nonzero (struct chunkmap *map)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&map->lock);

  return map->nonzero;
}
