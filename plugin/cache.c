/* s3cow: the chunk cache's core (see cache.h): creating and freeing the
 * cache, attaching disks, read and write; entries, their lists and their
 * loading are in entry.c.  The states of an entry, the locks and their
 * order, and the other files of the cache are described in
 * cache-internal.h.
 *
 * One entry per cached chunk, found by (disk, chunk index) in a hash
 * table.  A clean entry that nobody pins is on the LRU, oldest first, and
 * the first to go when a buffer is needed (pool.c).  A dirty entry is on
 * its disk's dirty list until the write-back (writeback.c) uploads it.
 *
 * A read finds or creates the chunk's entry under cache->lock, pins it,
 * lets go of cache->lock and takes the entry's shared lock; an entry still
 * LOADING is loaded by whoever gets its exclusive lock first (from the
 * disk tier, else from the store through chunks_fetch).  A write takes the
 * exclusive lock, loads the chunk first only for a partial write of a
 * chunk not in memory, and makes the entry DIRTY.  Buffers are reserved
 * (pool_reserve, which may wait) before any entry lock is taken, so no
 * thread waits for memory while holding an entry lock: a thread that may
 * load a chunk reserves the scratch of chunks_fetch with its buffer.
 *
 * Locking: cache->lock protects the (L) fields of cache-internal.h; each
 * entry's rw lock protects its bytes.  Every function here but the load
 * takes cache->lock itself or says that it needs it held.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cache-internal.h"
#include "chunkmap.h"
#include "cleanup.h"
#include "disktier.h"
#include "log.h"
#include "stats.h"
#include "timedwait.h"

void
cache_check_all (struct cache *c)
{
#ifndef NDEBUG
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  const struct cache_disk *cd;
  const struct entry *e;
  uint64_t dirty_bytes = 0, lru = 0, buffers = 0, touched = 0;
  size_t b;

  for (cd = c->disks; cd; cd = cd->next) {
    uint64_t ndirty = 0;
    for (e = cd->dirty.head; e; e = e->next) {
      assert (e->disk == cd && entry_dirty (e));
      assert (e->next == NULL || e->dirty_seq <= e->next->dirty_seq);
      ndirty++;
    }
    assert (ndirty == cd->ndirty);
    dirty_bytes += ndirty * cd->chunk_size;
  }
  assert (dirty_bytes == c->dirty_bytes);
  for (e = c->lru.head; e; e = e->next) {
    assert (e->state == ENTRY_CLEAN && e->pins == 0);
    lru++;
  }
  for (b = 0; b < c->nbuckets; b++)
    for (e = c->buckets[b]; e; e = e->hnext) {
      entry_check (e);
      if (e->state == ENTRY_CLEAN && e->pins == 0)
        lru--;
      if (e->data)
        buffers += e->disk->chunk_size;
    }
  assert (lru == 0);
  for (b = 0; b < c->npool; b++) {
    buffers += c->pool[b].size;
    if (c->pool[b].touched)
      touched += c->pool[b].size;
  }
  assert (touched == c->pool_touched);
  assert (buffers <= c->used && c->used <= c->limit);
#else
  (void)c;
#endif
}

/* ---- public ---- */

struct cache *
cache_new (const struct cache_config *config, struct store *store)
{
  struct cache *c = calloc (1, sizeof *c);

  if (c == NULL) {
    s3cow_log_error ("calloc: %m");
    return NULL;
  }
  if (config->tier_dir) {
    c->tier = disktier_open (config->tier_dir, config->tier_size);
    if (c->tier == NULL) {
      free (c);
      return NULL;
    }
  }
  c->store = store;
  c->limit = config->size;
  c->tier_max = config->size / 8;
  /* Write-back thresholds: see writeback.c. */
  c->dirty_max = config->size / 4 * 3;
  c->writeback_start = c->dirty_max / 4 * 3;
  c->wait_timeout = config->wait_timeout;
  c->compression = config->compression;
  /* Threads: from the least, as many as their controllers ask for
   * (workers.c).
   */
  inflight_init (&c->up_ctl,
                 config->upload_threads ? config->upload_threads : 1,
                 config->upload_threads_max);
  c->nthreads = c->up_ctl.max;
  c->ra_max = config->readahead;
  if (c->ra_max > config->size / 4)
    c->ra_max = config->size / 4;
  c->pf_max = config->prefetch;
  if (c->pf_max > config->size / 2)
    c->pf_max = config->size / 2;
  if (config->readahead_threads > 0 && (c->ra_max > 0 || c->pf_max > 0))
    inflight_init (&c->ra_ctl, config->readahead_threads,
                   config->readahead_threads_max);
  else
    inflight_init (&c->ra_ctl, 0, 0); /* no thread */
  c->ra_nthreads = c->ra_ctl.max;
  c->ra_cap = (c->ra_max + c->pf_max) / (uint64_t)CHUNK_SIZE_MIN + 1;
  c->nbuckets = 1024;
  while (c->nbuckets < config->size / CHUNK_SIZE_MIN * 2)
    c->nbuckets *= 2;
  c->buckets = calloc (c->nbuckets, sizeof *c->buckets);
  c->pool_cap = config->size / (uint64_t)CHUNK_SIZE_MIN + 1;
  c->pool = calloc (c->pool_cap, sizeof *c->pool);
  c->threads = calloc (c->nthreads, sizeof *c->threads);
  c->ra_threads = calloc (c->ra_nthreads + 1, sizeof *c->ra_threads);
  c->raq = calloc (c->ra_cap, sizeof *c->raq);
  if (c->buckets == NULL || c->pool == NULL || c->threads == NULL
      || c->ra_threads == NULL || c->raq == NULL) {
    s3cow_log_error ("calloc: %m");
    goto fail;
  }
  /* Waited on with timeouts: on the monotonic clock (timedwait.h). */
  if ((errno = cond_init_monotonic (&c->changed)) != 0)
    goto fail_cond;
  if ((errno = cond_init_monotonic (&c->work)) != 0) {
    pthread_cond_destroy (&c->changed);
    goto fail_cond;
  }
  pthread_mutex_init (&c->lock, NULL);
  pthread_cond_init (&c->ra_work, NULL);
  pthread_cond_init (&c->tier_work, NULL);
  pthread_cond_init (&c->fill_work, NULL);
  pthread_cond_init (&c->slot, NULL);
  return c;

fail_cond:
  s3cow_log_error ("pthread_cond_init: %m");
fail:
  free (c->buckets);
  free (c->pool);
  free (c->threads);
  free (c->ra_threads);
  free (c->raq);
  disktier_close (c->tier);
  free (c);
  return NULL;
}

void
cache_free (struct cache *c)
{
  unsigned i;
  size_t b;

  if (c == NULL)
    return;
  pthread_mutex_lock (&c->lock);
  c->stop = true;
  pthread_cond_broadcast (&c->work);
  pthread_cond_broadcast (&c->ra_work);
  pthread_cond_broadcast (&c->tier_work);
  pthread_cond_broadcast (&c->slot);
  pthread_cond_broadcast (&c->changed); /* read-ahead waiting on the tier */
  pthread_cond_broadcast (&c->fill_work);
  pthread_mutex_unlock (&c->lock);
  for (i = 0; i < c->started; i++)
    pthread_join (c->threads[i], NULL);
  for (i = 0; i < c->ra_started; i++)
    pthread_join (c->ra_threads[i], NULL);
  if (c->tier_started)
    pthread_join (c->tier_thread, NULL);
  if (c->fill_started)
    pthread_join (c->fill_thread, NULL);
  pthread_mutex_lock (&c->lock);
  tier_drop (c, NULL);
  pthread_mutex_unlock (&c->lock);
  for (b = 0; b < c->nbuckets; b++)
    while (c->buckets[b])
      entry_destroy (c->buckets[b]);
  while (pool_shrink (c))
    ;
  pthread_cond_destroy (&c->changed);
  pthread_cond_destroy (&c->work);
  pthread_cond_destroy (&c->ra_work);
  pthread_cond_destroy (&c->tier_work);
  pthread_cond_destroy (&c->fill_work);
  pthread_cond_destroy (&c->slot);
  pthread_mutex_destroy (&c->lock);
  disktier_close (c->tier);
  free (c->buckets);
  free (c->pool);
  free (c->threads);
  free (c->ra_threads);
  free (c->raq);
  free (c);
}

struct cache_disk *
cache_attach (struct cache *c, const char *name, struct chunkmap *map,
              uint32_t chunk_size, const struct crypto *crypto)
{
  struct cache_disk *cd;

  /* Every request thread and uploader may pin one chunk at once. */
  if (c->limit < (uint64_t)chunk_size * 32) {
    s3cow_log_error ("%s: cache-size %" PRIu64 " is too small for %" PRIu32
                     "-byte chunks: give at least 32 chunks",
                     name, c->limit, chunk_size);
    return NULL;
  }
  cd = calloc (1, sizeof *cd);
  if (cd == NULL || (cd->name = strdup (name)) == NULL) {
    s3cow_log_error ("calloc: %m");
    free (cd);
    return NULL;
  }
  cd->chunks = chunks_new (c->store, chunk_size, &c->compression, crypto);
  if (cd->chunks == NULL) {
    free (cd->name);
    free (cd);
    return NULL;
  }
  cd->cache = c;
  cd->map = map;
  cd->chunk_size = chunk_size;
  /* A whole number of pages (pool.c): the scratch of an unencrypted disk
   * is a chunk, of an encrypted one a little over two.
   */
  cd->scratch_size
      = (chunks_scratch_len (cd->chunks) + (size_t)CHUNK_SIZE_MIN - 1)
        / CHUNK_SIZE_MIN * (size_t)CHUNK_SIZE_MIN;

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  cd->next = c->disks;
  c->disks = cd;
  return cd;
}

void
cache_detach (struct cache_disk *cd)
{
  struct cache *c = cd->cache;
  struct cache_disk **pp;
  uint64_t lost = 0;
  size_t b;

  pthread_mutex_lock (&c->lock);
  /* Uploads of this disk may still be running (pinned): wait for them. */
  for (;;) {
    struct entry *e;
    bool busy = false;
    for (e = cd->dirty.head; e; e = e->next)
      busy |= e->state == ENTRY_UPLOADING;
    if (!busy)
      break;
    pthread_cond_wait (&c->changed, &c->lock);
  }
  /* Drop its queued read-ahead, and wait for the loads running. */
  readahead_drop (cd);
  /* And its offers to the tier. */
  tier_drop (c, cd);
  while (cd->tier_inflight > 0)
    pthread_cond_wait (&c->changed, &c->lock);
  for (b = 0; b < c->nbuckets; b++) {
    struct entry **pp_e = &c->buckets[b];
    while (*pp_e) {
      struct entry *e = *pp_e;
      if (e->disk != cd) {
        pp_e = &e->hnext;
        continue;
      }
      if (entry_dirty (e)) {
        lost++;
        c->dirty_bytes -= cd->chunk_size;
      }
      entry_destroy (e);
    }
  }
  for (pp = &c->disks; *pp != cd; pp = &(*pp)->next)
    ;
  *pp = cd->next;
  pthread_cond_broadcast (&c->changed);
  pthread_mutex_unlock (&c->lock);
  if (lost)
    s3cow_log_error ("%s: %" PRIu64 " dirty chunks were never uploaded and "
                     "are lost",
                     cd->name, lost);
  chunks_free (cd->chunks);
  free (cd->plan);
  free (cd->name);
  free (cd);
}

int
cache_read (struct cache_disk *cd, uint64_t idx, uint32_t off, uint32_t len,
            void *buf)
{
  struct cache *c = cd->cache;
  struct entry *e;
  uint8_t *data, *scratch = NULL, self_hash[HASH_LEN];
  uint64_t self_version = 0;
  bool locked = false, self = false;
  int r;

  pthread_mutex_lock (&c->lock);
  e = entry_lookup (cd, idx);
  readahead_note (cd, idx, e);
  if (e == NULL) {
    if (chunkmap_is_zero (cd->map, idx)) {
      pthread_mutex_unlock (&c->lock);
      stats_inc (STAT_CACHE_ZERO_READS);
      memset (buf, 0, len);
      return 0;
    }
    if (pool_reserve_pair (c, cd->chunk_size, &data, cd->scratch_size, &scratch)
        == -1) {
      pthread_mutex_unlock (&c->lock);
      return -1;
    }
    /* reserve may have waited, and another thread created it meanwhile. */
    e = entry_lookup (cd, idx);
    if (e) {
      pool_unreserve (c, data, cd->chunk_size);
      pool_unreserve (c, scratch, cd->scratch_size);
      scratch = NULL;
    } else if ((e = entry_create (cd, idx, data)) == NULL) {
      pool_unreserve (c, scratch, cd->scratch_size);
      pthread_mutex_unlock (&c->lock);
      return -1;
    } else
      locked = true; /* exclusively, and LOADING */
  }
  if (!locked) {
    entry_pin (e);
    stats_inc (STAT_CACHE_HITS);
  }
  pthread_mutex_unlock (&c->lock);

  for (;;) {
    if (!locked)
      pthread_rwlock_rdlock (&e->rw);
    if (entry_loaded (e))
      break;
    /* Not loaded: load it ourselves, exclusively, with scratch reserved
     * before taking the lock.
     */
    if (!locked) {
      pthread_rwlock_unlock (&e->rw);
      if (scratch == NULL) {
        pthread_mutex_lock (&c->lock);
        scratch = pool_reserve (c, cd->scratch_size);
        pthread_mutex_unlock (&c->lock);
        if (scratch == NULL)
          goto fail;
      }
      pthread_rwlock_wrlock (&e->rw);
    }
    locked = false;
    if (!entry_loaded (e)) {
      uint8_t hash[HASH_LEN];
      if ((r = entry_load (e, hash, scratch)) == -1) {
        pthread_rwlock_unlock (&e->rw);
        goto fail;
      }
      pthread_mutex_lock (&c->lock);
      entry_set_state (e, ENTRY_CLEAN);
      entry_check (e);
      pool_put (c, scratch, cd->scratch_size);
      scratch = NULL;
      if (r == 1 && tier_offer (e, hash, TIER_QUEUE)) {
        self = true;
        memcpy (self_hash, hash, HASH_LEN);
        self_version = e->version;
      }
      pthread_cond_broadcast (&c->changed);
      pthread_mutex_unlock (&c->lock);
    }
    pthread_rwlock_unlock (&e->rw);
  }
  if (e->data)
    memcpy (buf, e->data + off, len);
  else
    memset (buf, 0, len);
  /* The tier's queue was full when this request loaded the chunk: write
   * the file now, under the shared lock already held (see tier_write).
   */
  if (self && e->data && e->version == self_version)
    disktier_put (c->tier, self_hash, e->data, cd->chunk_size);
  pthread_rwlock_unlock (&e->rw);
  r = 0;

out:
  pthread_mutex_lock (&c->lock);
  if (scratch)
    pool_unreserve (c, scratch, cd->scratch_size);
  entry_unpin (e);
  pthread_mutex_unlock (&c->lock);
  return r;

fail:
  r = -1;
  goto out;
}

int
cache_write (struct cache_disk *cd, uint64_t idx, uint32_t off, uint32_t len,
             const void *buf)
{
  struct cache *c = cd->cache;
  const bool whole = off == 0 && len == cd->chunk_size;
  const bool zero_whole = whole && buf == NULL;
  bool want_spare, want_scratch;
  bool must_reserve = false, must_scratch = false, created;
  uint8_t *spare = NULL;   /* a buffer from reserve, not yet used */
  uint8_t *scratch = NULL; /* for a load (chunks_fetch) */
  struct entry *e;

again:
  pthread_mutex_lock (&c->lock);
  e = entry_lookup (cd, idx);
  if (e == NULL && buf == NULL && chunkmap_is_zero (cd->map, idx)) {
    pthread_mutex_unlock (&c->lock);
    return 0; /* zeroing zeros */
  }
  if ((e == NULL || !entry_dirty (e)) && writeback_wait_for_room (c) == -1) {
    pthread_mutex_unlock (&c->lock);
    return -1;
  }
  e = entry_lookup (cd, idx); /* waiting dropped the lock */
  /* Reserve a buffer if this write may need one that the entry lacks, and
   * scratch if it may load the chunk from the store (a partial write of a
   * chunk not in memory, nor zeros): both at once.
   */
  want_spare = !zero_whole
               && (must_reserve || e == NULL
                   || (e->state != ENTRY_LOADING && e->data == NULL));
  want_scratch = !whole
                 && (must_scratch
                     || ((e == NULL || e->state == ENTRY_LOADING)
                         && !chunkmap_is_zero (cd->map, idx)));
  if (want_spare || want_scratch) {
    if (pool_reserve_pair (c, want_spare ? cd->chunk_size : 0, &spare,
                           want_scratch ? cd->scratch_size : 0, &scratch)
        == -1) {
      pthread_mutex_unlock (&c->lock);
      return -1;
    }
    e = entry_lookup (cd, idx);
  }
  created = e == NULL;
  if (created) {
    /* The new entry takes the spare buffer (create gives it back if it
     * fails).
     */
    e = entry_create (cd, idx, spare);
    spare = NULL;
    if (e == NULL) {
      if (scratch)
        pool_unreserve (c, scratch, cd->scratch_size);
      pthread_mutex_unlock (&c->lock);
      return -1;
    }
  } else
    entry_pin (e);
  pthread_mutex_unlock (&c->lock);

  if (!created)
    pthread_rwlock_wrlock (&e->rw);

  /* Give e a buffer if the write needs one.  An entry without a buffer is
   * a loaded zero chunk here (a new one got a buffer from create).
   */
  if (!zero_whole && e->data == NULL) {
    if (spare == NULL) {
      /* It lost its buffer after we looked: start again with one. */
      pthread_rwlock_unlock (&e->rw);
      ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
      pool_unreserve (c, scratch, cd->scratch_size);
      scratch = NULL;
      entry_unpin (e);
      must_reserve = true;
      goto again;
    }
    memset (spare, 0, cd->chunk_size);
    pthread_mutex_lock (&c->lock);
    e->data = spare; /* the spare becomes this chunk's buffer */
    spare = NULL;
    pthread_mutex_unlock (&c->lock);
  } else if (!entry_loaded (e) && !whole) {
    uint8_t hash[HASH_LEN];
    if (scratch == NULL && !chunkmap_is_zero (cd->map, idx)) {
      /* It went from memory after we looked: start again with scratch. */
      pthread_rwlock_unlock (&e->rw);
      ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
      pool_unreserve (c, spare, cd->chunk_size);
      spare = NULL;
      entry_unpin (e);
      must_scratch = true;
      goto again;
    }
    /* About to change: not for the tier. */
    if (entry_load (e, hash, scratch) == -1)
      goto fail;
  }

  /* Apply the write. */
  if (zero_whole) {
    if (e->data) {
      pthread_mutex_lock (&c->lock);
      pool_unreserve (c, e->data, cd->chunk_size);
      e->data = NULL;
      pthread_mutex_unlock (&c->lock);
    }
  } else if (buf)
    memcpy (e->data + off, buf, len);
  else
    memset (e->data + off, 0, len);

  pthread_mutex_lock (&c->lock);
  if (!entry_dirty (e)) {
    entry_set_state (e, ENTRY_DIRTY);
    e->dirty_seq = ++c->seq;
    e->run_start = e->run_end = off;
    e->retry_at = 0;
    entry_list_append (&cd->dirty, e);
    cd->ndirty++;
    c->dirty_bytes += cd->chunk_size;
    entry_check (e);
  }
  /* Track runs of contiguous writes: a chunk written whole in one run
   * (sequential writes) is ready to upload at once.
   */
  if (off != e->run_end)
    e->run_start = off;
  e->run_end = off + len;
  e->version++;
  if (spare)
    pool_unreserve (c, spare, cd->chunk_size);
  if (scratch)
    pool_unreserve (c, scratch, cd->scratch_size);
  if (writeback_whole (e) || c->dirty_bytes >= c->writeback_start)
    pthread_cond_signal (&c->work);
  pthread_rwlock_unlock (&e->rw);
  entry_unpin (e);
  pthread_mutex_unlock (&c->lock);
  return 0;

fail:
  pthread_rwlock_unlock (&e->rw);
  pthread_mutex_lock (&c->lock);
  if (spare)
    pool_unreserve (c, spare, cd->chunk_size);
  if (scratch)
    pool_unreserve (c, scratch, cd->scratch_size);
  entry_unpin (e);
  pthread_mutex_unlock (&c->lock);
  return -1;
}

bool
cache_is_zero (struct cache_disk *cd, uint64_t idx)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cd->cache->lock);
  struct entry *e = entry_lookup (cd, idx);

  if (e && e->state != ENTRY_LOADING)
    return e->data == NULL;
  return chunkmap_is_zero (cd->map, idx);
}

bool
cache_is_local (struct cache_disk *cd, uint64_t idx)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cd->cache->lock);
  struct entry *e = entry_lookup (cd, idx);

  if (e)
    return e->state != ENTRY_LOADING;
  return chunkmap_is_zero (cd->map, idx);
}

void
cache_gauges (struct cache *c, struct stats_gauges *g)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);

  g->cache_bytes = c->used;
  g->cache_limit = c->limit;
  g->dirty_bytes = c->dirty_bytes;
  g->tier_bytes = g->tier_limit = 0;
  if (c->tier)
    disktier_gauges (c->tier, &g->tier_bytes, &g->tier_limit);
  workers_gauges (c, g);
}

uint64_t
cache_dirty_chunks (struct cache_disk *cd)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cd->cache->lock);

  return cd->ndirty;
}
