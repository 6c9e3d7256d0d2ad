/* s3cow: the chunk cache's write-back: the upload threads, flush, and
 * uploading chunks again before a commit (see cache-internal.h for the
 * cache's files, states and locks).
 *
 * Durability.  cache->seq numbers the moments entries become dirty.  A flush
 * waits until no entry of its disk that became dirty at or before the flush
 * began is still dirty.  An uploader copies the chunk under the entry's
 * shared lock (or, short of memory, holds that lock through the upload) and
 * marks the entry clean only if no write came after the copy (e->version):
 * what it marks clean is what it uploaded.  An entry written during its
 * upload stays dirty, as dirty since the copy (a seq taken before it):
 * the flushes that began before the copy are done with it, so writes that
 * go on to a chunk never hold up a flush for longer than two uploads.
 *
 * Below writeback_start, chunks upload only when written whole or when a
 * flush (or the background commit) asks: random writes then rewrite
 * memory, not S3.  A chunk reaches the store only through chunks.c
 * (chunks_persist), and its new address is recorded in the disk's chunk
 * map here.
 *
 * As many uploads run at once as the upload controller's target
 * (workers.c), fed with each upload's time and whether other chunks
 * were ready and waiting for a slot.
 *
 * Locking: an upload thread holds cache->lock except across the upload,
 * during which it holds a pin on the entry (state UPLOADING) and either
 * its own copy of the data or the entry's shared lock.  cache_flush waits
 * on cache->changed with cache->lock held.  cache_refresh holds no lock
 * but an entry's shared lock while it copies the chunk out.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache-internal.h"
#include "chunkmap.h"
#include "cleanup.h"
#include "log.h"
#include "stats.h"
#include "timedwait.h"

/* Upload data (NULL: zeros), the content of chunk idx, through scratch
 * (the disk's scratch_size bytes, or NULL: see below), and record it in
 * the map; hash receives its address (zeros: all zero).  The caller keeps
 * data unchanged meanwhile.  1 if uploaded, 0 if no upload was needed
 * (unchanged, or zeros), -1 on error (logged).
 */
static int
upload (struct cache_disk *cd, uint64_t idx, const uint8_t *data,
        uint8_t *scratch, uint8_t *hash)
{
  uint8_t old[HASH_LEN];
  const double since = monotonic_now (); /* no later than the object's mtime */
  uint8_t *own_scratch = NULL;
  int r;

  /* The budget had no room for scratch without waiting (pool.c), and
   * waiting for memory here could wait forever: only uploads make dirty
   * chunks free.  It has none only while every chunk in it is dirty or in
   * use, for as long as uploads take: a buffer of the upload's own, out
   * of it, one per upload thread at most.
   */
  if (data && scratch == NULL) {
    own_scratch = malloc (cd->scratch_size);
    scratch = own_scratch;
  }
  chunkmap_get (cd->map, idx, old);
  if (data && scratch == NULL) {
    s3cow_log_error ("%s: chunk %" PRIu64 ": out of memory for its upload",
                     cd->name, idx);
    r = -1;
  } else
    r = chunks_persist (cd->chunks, data, old, hash, scratch);
  free (own_scratch);
  if (r == -1) {
    stats_inc (STAT_CHUNK_UPLOADS);
    stats_inc (STAT_CHUNK_UPLOAD_FAILURES);
    s3cow_log_error ("%s: chunk %" PRIu64 " could not be uploaded: it stays "
                     "dirty in memory and will be retried",
                     cd->name, idx);
    return -1;
  }
  stats_inc (r == 1 ? STAT_CHUNK_UPLOADS : STAT_CHUNK_UPLOADS_SKIPPED);
  chunkmap_set (cd->map, idx, hash, since);
  s3cow_debug (cache, "%s: uploaded chunk %" PRIu64, cd->name, idx);
  return r;
}

/* Was e written whole, in one run, since it became dirty?  (L) */
bool
writeback_whole (const struct entry *e)
{
  return e->run_start == 0 && e->run_end == e->disk->chunk_size;
}

/* The next entry to upload, or NULL; *wake is when to look again. */
static struct entry *
pick (struct cache *c, double t, double *wake)
{
  struct cache_disk *cd;
  struct entry *e;

  for (cd = c->disks; cd; cd = cd->next)
    for (e = cd->dirty.head; e; e = e->next) {
      bool wanted = e->dirty_seq <= cd->flush_target
                    || c->dirty_bytes >= c->writeback_start
                    || writeback_whole (e);
      if (e->state == ENTRY_UPLOADING || !wanted)
        continue;
      if (e->retry_at > t) {
        if (e->retry_at < *wake)
          *wake = e->retry_at;
        continue;
      }
      return e;
    }
  return NULL;
}

void *
writeback_thread (void *arg)
{
  struct cache *c = arg;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);

  while (!c->stop) {
    double t = monotonic_now (), wake = t + 1.0, took = -1;
    struct entry *e;
    uint8_t *copy, *scratch, hash[HASH_LEN];
    uint64_t version, copy_seq;
    uint32_t cs, ss;
    bool self = false;
    int r;

    /* The target reached (workers.c): wait for a slot. */
    if (c->up_running >= c->up_ctl.target) {
      pthread_cond_wait (&c->slot, &c->lock);
      continue;
    }
    e = pick (c, t, &wake);
    if (e == NULL) {
      cond_wait_seconds (&c->work, &c->lock, wake - t);
      continue;
    }
    cs = e->disk->chunk_size;
    ss = e->disk->scratch_size;
    entry_set_state (e, ENTRY_UPLOADING);
    entry_pin (e);
    entry_check (e);
    /* Upload a copy if memory allows without waiting, so that writers of
     * the chunk need not wait for the upload; else the chunk itself, with
     * writers kept out.  A chunk written whole (sequential writes) is
     * unlikely to be written again soon: no copy.
     */
    copy = NULL;
    if (e->data && !writeback_whole (e))
      copy = pool_take (c, cs);
    /* The scratch of chunks_persist, if the budget has room for it
     * without waiting (else see upload).
     */
    scratch = e->data ? pool_take_evicting (c, ss) : NULL;
    /* The upload holds every write made before this moment: a flush that
     * began before it needs no more of this chunk (see below).
     */
    copy_seq = ++c->seq;
    if (++c->up_running > c->up_peak)
      c->up_peak = c->up_running;
    pthread_mutex_unlock (&c->lock);

    pthread_rwlock_rdlock (&e->rw);
    version = e->version;
    t = monotonic_now ();
    if (copy) {
      /* Zeroed whole since it was picked: no buffer, the chunk is zeros. */
      if (e->data)
        memcpy (copy, e->data, cs);
      else
        memset (copy, 0, cs);
      pthread_rwlock_unlock (&e->rw);
      r = upload (e->disk, e->idx, copy, scratch, hash);
    } else
      r = upload (e->disk, e->idx, e->data, scratch, hash);
    took = monotonic_now () - t;
    pthread_mutex_lock (&c->lock);
    c->up_running--;
    entry_set_state (e, ENTRY_DIRTY); /* until known to be clean */
    if (copy)
      pool_unreserve (c, copy, cs);
    if (scratch)
      pool_unreserve (c, scratch, ss);
    if (r == 1)
      r = 0; /* uploaded */
    else
      took = -1; /* no upload, or failed: not a measure of the store */
    if (r == 0 && e->version != version) {
      /* Written during the upload: still dirty, and wanted at once, but
       * only with writes made after copy_seq, so dirty since then for
       * flushes: a flush that began before the copy was taken returns
       * (else writes that go on to the chunk would hold it up forever).
       */
      e->retry_at = 0;
      e->backoff = 0;
      e->dirty_seq = copy_seq;
      entry_dirty_insert (e);
    } else if (r == 0) {
      entry_list_remove (e);
      entry_set_state (e, ENTRY_CLEAN);
      e->backoff = 0;
      e->disk->ndirty--;
      c->dirty_bytes -= cs;
      c->failing = false;
      if (!hash_is_zero (hash))
        self = tier_offer (e, hash, TIER_QUEUE);
    } else {
      e->backoff = e->backoff ? fmin (e->backoff * 2, 30) : 1;
      e->retry_at = monotonic_now () + e->backoff;
      e->disk->failures++;
      c->failing = true;
    }
    entry_check (e);
    if (!copy)
      pthread_rwlock_unlock (&e->rw);
    if (self) {
      pthread_cond_broadcast (&c->changed); /* cleaned: flushes go on */
      tier_write (c, e, hash, version);
    }
    entry_unpin (e);
    pthread_cond_broadcast (&c->changed);
    /* Work waits when another chunk is ready and every slot was busy. */
    if (took >= 0) {
      t = monotonic_now ();
      wake = t + 1.0;
      workers_upload_done (c, took, cs,
                           c->up_running + 1 >= c->up_ctl.target
                               && pick (c, t, &wake) != NULL);
    }
  }
  return NULL;
}

/* Wait while the dirty buffer is full.  cache->lock held.  Fails (EIO,
 * logged) only after waiting wait_timeout while uploads fail.
 */
int
writeback_wait_for_room (struct cache *c)
{
  double start = monotonic_now ();

  while (c->dirty_bytes >= c->dirty_max) {
    if (c->failing && monotonic_now () - start > c->wait_timeout) {
      s3cow_log_error ("write-back buffer full and uploads failing (waited "
                       "%.0f s): failing the write",
                       monotonic_now () - start);
      errno = EIO;
      return -1;
    }
    pthread_cond_broadcast (&c->work);
    cond_wait_seconds (&c->changed, &c->lock, 1.0);
  }
  return 0;
}

int
cache_flush (struct cache_disk *cd)
{
  struct cache *c = cd->cache;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  uint64_t target = c->seq, failures = cd->failures;
  struct entry *e;

  if (cd->flush_target < target)
    cd->flush_target = target;
  for (e = cd->dirty.head; e && e->dirty_seq <= target; e = e->next)
    e->retry_at = 0; /* a flush retries failed uploads at once */
  pthread_cond_broadcast (&c->work);

  while (cd->dirty.head && cd->dirty.head->dirty_seq <= target) {
    if (cd->failures != failures) {
      s3cow_log_error ("%s: flush failed: %" PRIu64 " dirty chunks could not "
                       "be uploaded (kept in memory for the next flush)",
                       cd->name, cd->ndirty);
      errno = EIO;
      return -1;
    }
    pthread_cond_wait (&c->changed, &c->lock);
  }
  return 0;
}

/* Copy chunk idx into buf if the cache holds it with content hash.  The
 * caller holds no lock.
 */
static bool
copy_cached (struct cache_disk *cd, uint64_t idx, const uint8_t *hash,
             uint8_t *buf)
{
  struct cache *c = cd->cache;
  uint8_t sum[HASH_LEN];
  struct entry *e;
  bool copied = false;

  pthread_mutex_lock (&c->lock);
  e = entry_lookup (cd, idx);
  if (e == NULL || e->state == ENTRY_LOADING || e->data == NULL) {
    pthread_mutex_unlock (&c->lock);
    return false;
  }
  entry_pin (e);
  pthread_mutex_unlock (&c->lock);
  pthread_rwlock_rdlock (&e->rw);
  if (entry_loaded (e) && e->data) {
    memcpy (buf, e->data, cd->chunk_size);
    copied = true;
  }
  pthread_rwlock_unlock (&e->rw);
  pthread_mutex_lock (&c->lock);
  entry_unpin (e);
  pthread_mutex_unlock (&c->lock);
  if (!copied)
    return false;
  chunks_address (cd->chunks, buf, sum);
  return memcmp (sum, hash, HASH_LEN) == 0;
}

int
cache_refresh (struct cache_disk *cd, const struct map_entry *entries, size_t n,
               double uploaded)
{
  struct cache *c = cd->cache;
  uint8_t *buf, *scratch, hash[HASH_LEN];
  char key[KEY_MAX_LEN];
  size_t i, count = 0;
  int status = -1;

  /* From the budget, as a load's (no lock is held: this may wait). */
  pthread_mutex_lock (&c->lock);
  status
      = pool_reserve_pair (c, cd->chunk_size, &buf, cd->scratch_size, &scratch);
  pthread_mutex_unlock (&c->lock);
  if (status == -1)
    return -1;
  status = -1;
  for (i = 0; i < n; i++) {
    if (hash_is_zero (entries[i].hash))
      continue;
    if (!copy_cached (cd, entries[i].idx, entries[i].hash, buf)
        && chunks_fetch (cd->chunks, entries[i].hash, buf, scratch, NULL, 0)
               == -1) {
      /* Checked as a load is: damage on the way is retried. */
      bool gone = errno == ENOENT;

      key_chunk (key, entries[i].hash);
      s3cow_log_error (
          "%s: chunk %" PRIu64 ": %s, uploaded %.0f s ago and "
          "not committed yet, is %s and no longer in memory: "
          "it cannot be uploaded again before the commit",
          cd->name, entries[i].idx, key, monotonic_now () - uploaded,
          gone ? "gone from the bucket (deleted by s3cow gc?)" : "unreadable");
      goto out;
    }
    if (chunks_persist (cd->chunks, buf, NULL, hash, scratch) == -1)
      goto out;
    count++;
  }
  s3cow_debug (commit,
               "%s: uploaded again %zu chunks uploaded %.0f s ago "
               "and not committed yet",
               cd->name, count, monotonic_now () - uploaded);
  status = 0;

out:
  pthread_mutex_lock (&c->lock);
  pool_unreserve (c, buf, cd->chunk_size);
  pool_unreserve (c, scratch, cd->scratch_size);
  pthread_mutex_unlock (&c->lock);
  return status;
}
