/* s3cow: the chunk cache's read-ahead (see cache-internal.h for the
 * cache's files, states and locks).
 *
 * Read-ahead.  Reads are followed as streams per disk (readahead_note);
 * a stream that goes on queues the chunks ahead of it, within ra_max bytes
 * for all streams, and the read-ahead threads load them as ordinary clean
 * entries (flag readahead until a read finds them).  They never wait for
 * memory and never evict anything but clean chunks; an entry they are
 * loading is pinned and LOADING, so a read or write of that chunk waits on
 * its lock as for any load, and loads it itself if read-ahead failed.
 *
 * As many loads run at once as the read-ahead controller's target
 * (workers.c): a thread finding it reached waits, so the loads in flight
 * follow the store's latency and throughput, not the threads started.
 *
 * Locking: cache->lock protects the streams (cache_disk->streams,
 * ra_clock, ra_inflight), the queue (cache->raq, ra_head, ra_len),
 * ra_bytes and the loads running (ra_running); readahead_note runs with
 * it held, and a read-ahead thread lets it go only across a chunk's load,
 * holding that entry's exclusive lock and a pin on it.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "cache-internal.h"
#include "chunkmap.h"
#include "cleanup.h"
#include "log.h"
#include "stats.h"
#include "timedwait.h"

#define RA_GAP                                                                 \
  4 /* chunks a stream may skip (requests of                                   \
     * parallel readers arrive out of order) */

/* A read of chunk idx of cd is starting; e is its entry, if any.  Follow
 * the sequential streams of the disk and queue the chunks ahead of one
 * that goes on.  cache->lock held.
 *
 * A stream is a run of reads moving forward by at most RA_GAP chunks at a
 * time (parallel readers' requests arrive a little out of order).  After
 * three chunks in sequence its window is 4 chunks, doubling with every
 * chunk read on, up to ra_max bytes for all streams together.  A read that
 * continues no stream takes the least recently moved slot, which cancels
 * that stream's queued chunks: random reads queue nothing and stop what a
 * finished stream had queued.
 */
void
readahead_note (struct cache_disk *cd, uint64_t idx, struct entry *e)
{
  struct cache *c = cd->cache;
  const uint32_t cs = cd->chunk_size;
  struct ra_stream *s = NULL;
  uint64_t nchunks, window, i;
  unsigned k;

  if (e && e->readahead) {
    e->readahead = false;
    c->ra_bytes -= cs;
    stats_inc (STAT_READAHEAD_HITS);
  }
  if (e && e->prefetched) {
    e->prefetched = false;
    c->pf_bytes -= cs;
    stats_inc (STAT_PREFETCH_HITS);
  }
  prefetch_feed (cd);
  if (c->ra_max == 0)
    return;
  for (k = 0; k < RA_STREAMS; k++) {
    struct ra_stream *t = &cd->streams[k];
    if (t->next > 0 && idx + 1 + RA_GAP >= t->next && idx <= t->next + RA_GAP) {
      s = t;
      break;
    }
  }
  if (s == NULL) {
    s = &cd->streams[0];
    for (k = 1; k < RA_STREAMS; k++)
      if (cd->streams[k].used < s->used)
        s = &cd->streams[k];
    s->gen++;
    s->next = idx + 1;
    s->sched = idx;
    s->run = 1;
    s->used = ++cd->ra_clock;
    return;
  }
  s->used = ++cd->ra_clock;
  if (idx < s->next)
    return; /* the same chunk again, or one left behind */
  s->run++;
  s->next = idx + 1;
  if (s->run < 3)
    return;
  window = s->run >= 12 ? UINT64_MAX : UINT64_C (1) << (s->run - 1);
  if (window > c->ra_max / cs)
    window = c->ra_max / cs;
  nchunks = chunkmap_nchunks (cd->map);
  if (s->sched < idx)
    s->sched = idx;
  for (i = s->sched + 1; i <= idx + window && i < nchunks; i++) {
    struct ra_item *it;
    if (c->ra_bytes + cs > c->ra_max || c->ra_len == c->ra_cap)
      break;
    s->sched = i;
    if (entry_lookup (cd, i) || chunkmap_is_zero (cd->map, i))
      continue;
    it = &c->raq[(c->ra_head + c->ra_len++) % c->ra_cap];
    it->cd = cd;
    it->idx = i;
    it->slot = s - cd->streams;
    it->gen = s->gen;
    it->prefetch = false;
    c->ra_bytes += cs;
    pthread_cond_signal (&c->ra_work);
  }
}

/* Read-ahead threads: load queued chunks into the cache as clean entries.
 * They never wait for memory: a chunk that finds neither a free buffer
 * nor a clean chunk to evict is dropped, so read-ahead never pushes out
 * dirty data nor waits for uploads.  A failed load is only logged: the
 * entry goes, and a read of that chunk loads it again itself.
 */
void *
readahead_thread (void *arg)
{
  struct cache *c = arg;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);

  while (!c->stop) {
    struct ra_item it;
    struct cache_disk *cd;
    struct entry *e;
    uint8_t *data, *scratch;
    uint32_t cs;

    /* The target reached (workers.c): wait for a slot. */
    if (c->ra_running >= c->ra_ctl.target) {
      pthread_cond_wait (&c->slot, &c->lock);
      continue;
    }
    if (c->ra_len == 0) {
      pthread_cond_wait (&c->ra_work, &c->lock);
      continue;
    }
    it = c->raq[c->ra_head];
    c->ra_head = (c->ra_head + 1) % c->ra_cap;
    c->ra_len--;
    cd = it.cd;
    cs = cd->chunk_size;
    data = scratch = NULL;
    if ((it.prefetch || cd->streams[it.slot].gen == it.gen)
        && entry_lookup (cd, it.idx) == NULL
        && !chunkmap_is_zero (cd->map, it.idx)
        && (data = pool_take_evicting (c, cs)) != NULL
        && (scratch = pool_take_evicting (c, cd->scratch_size)) == NULL) {
      pool_unreserve (c, data, cs);
      data = NULL;
    }
    if (data == NULL || (e = entry_create (cd, it.idx, data)) == NULL) {
      if (scratch)
        pool_unreserve (c, scratch, cd->scratch_size);
      /* cancelled, present, zeros, or no room */
      if (it.prefetch) {
        c->pf_bytes -= cs;
        prefetch_feed (cd);
      } else
        c->ra_bytes -= cs;
      continue;
    }
    /* ra_bytes or pf_bytes now counts the entry */
    if (it.prefetch) {
      e->prefetched = true;
      stats_inc (STAT_PREFETCH_LOADS);
    } else {
      e->readahead = true;
      stats_inc (STAT_READAHEAD_LOADS);
    }
    cd->ra_inflight++;
    if (++c->ra_running > c->ra_peak)
      c->ra_peak = c->ra_running;
    pthread_mutex_unlock (&c->lock);

    uint8_t hash[HASH_LEN];
    double t0 = monotonic_now ();
    int r = entry_load (e, hash, scratch); /* exclusive since create */
    double took = monotonic_now () - t0;
    bool self = false;

    pthread_mutex_lock (&c->lock);
    pool_put (c, scratch, cd->scratch_size);
    if (r >= 0) {
      entry_set_state (e, ENTRY_CLEAN);
      entry_check (e);
    }
    if (r == 1)
      self = tier_offer (e, hash, TIER_QUEUE / 2);
    if (r == -1 && e->readahead) {
      e->readahead = false;
      c->ra_bytes -= cs;
    }
    if (r == -1 && e->prefetched) {
      e->prefetched = false;
      c->pf_bytes -= cs;
    }
    pthread_rwlock_unlock (&e->rw);
    /* Only loads from the store measure it (not the tier's, nor zeros).
     * Work waits when chunks are queued and every slot was busy.
     */
    if (r == 1)
      workers_readahead_done (
          c, took, cs, c->ra_len > 0 && c->ra_running >= c->ra_ctl.target);
    c->ra_running--;
    if (self) {
      pthread_cond_broadcast (&c->changed); /* loaded: readers go on */
      tier_write (c, e, hash, e->version);
    }
    prefetch_feed (cd);
    cd->ra_inflight--;
    entry_unpin (e); /* not loaded: destroyed unless pinned */
    pthread_cond_broadcast (&c->changed);
  }
  return NULL;
}

/* Drop the queued read-ahead of cd, and wait for its loads running.
 * cache->lock held (let go while waiting).
 */
void
readahead_drop (struct cache_disk *cd)
{
  struct cache *c = cd->cache;
  size_t k, n;

  for (k = n = 0; k < c->ra_len; k++) {
    struct ra_item it = c->raq[(c->ra_head + k) % c->ra_cap];
    if (it.cd == cd && it.prefetch)
      c->pf_bytes -= cd->chunk_size;
    else if (it.cd == cd)
      c->ra_bytes -= cd->chunk_size;
    else
      c->raq[(c->ra_head + n++) % c->ra_cap] = it;
  }
  c->ra_len = n;
  cd->plan_pos = cd->plan_len; /* nothing more to queue */
  while (cd->ra_inflight > 0)
    pthread_cond_wait (&c->changed, &c->lock);
}

/* Prefetch.  A disk's plan (cache_prefetch) is queued a little at a time,
 * as an item of the read-ahead ring that no stream cancels, whenever
 * prefetched chunks not read yet take less than pf_max bytes: after every
 * read and every prefetch load.  So prefetch runs ahead of the reads by
 * at most pf_max, never waits for memory (as read-ahead), and the loads
 * go through the same entries: a read of a chunk being prefetched waits
 * on its lock instead of fetching it again.
 */
void
prefetch_feed (struct cache_disk *cd)
{
  struct cache *c = cd->cache;
  const uint32_t cs = cd->chunk_size;
  uint64_t nchunks = chunkmap_nchunks (cd->map);

  while (cd->plan_pos < cd->plan_len && c->pf_bytes + cs <= c->pf_max
         && c->ra_len < c->ra_cap) {
    uint64_t idx = cd->plan[cd->plan_pos++];
    struct ra_item *it;

    if (idx >= nchunks || entry_lookup (cd, idx)
        || chunkmap_is_zero (cd->map, idx))
      continue;
    it = &c->raq[(c->ra_head + c->ra_len++) % c->ra_cap];
    it->cd = cd;
    it->idx = idx;
    it->slot = 0;
    it->gen = 0;
    it->prefetch = true;
    c->pf_bytes += cs;
    pthread_cond_signal (&c->ra_work);
  }
}

int
cache_prefetch (struct cache_disk *cd, const uint64_t *idx, size_t n)
{
  struct cache *c = cd->cache;
  uint64_t *plan = NULL;

  if (n > 0) {
    plan = malloc (n * sizeof *plan);
    if (plan == NULL) {
      s3cow_log_error ("%s: no memory for a prefetch plan of %zu chunks",
                       cd->name, n);
      return -1;
    }
    memcpy (plan, idx, n * sizeof *plan);
  }
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  free (cd->plan);
  cd->plan = plan;
  cd->plan_len = n;
  cd->plan_pos = 0;
  if (c->ra_nthreads > 0)
    prefetch_feed (cd);
  else
    cd->plan_pos = n; /* no thread to load them */
  return 0;
}
