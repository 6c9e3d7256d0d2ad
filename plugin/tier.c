/* s3cow: the chunk cache's offers to the disk tier (see cache-internal.h
 * for the cache's files, states and locks).
 *
 * Disk tier (cache-dir=, disktier.c).  A chunk that misses memory is looked
 * for in the tier before the store.  A chunk that became clean with new
 * data (loaded from the store, or uploaded) is offered to the tier: the
 * entry is pinned and queued (cache->tierq: TIER_QUEUE items and tier_max =
 * cache-size / 8 bytes at most) and the tier thread writes it, then unpins
 * it.  When the queue is full, the thread that loaded the chunk writes the
 * file itself (tier_write) instead, so no chunk is dropped.  Read-ahead
 * queues only while fewer than TIER_QUEUE / 2 offers are queued, leaving
 * the other half to requests and uploads, whose threads the client waits
 * for more directly.  A request that writes the file itself does so after
 * copying its data out, before replying: one file write, bounded, never a
 * wait for the queue or for room in it.  A single tier thread falls
 * behind a cold sequential read: dropping offers when its queue is full
 * sends those chunks back to S3 on the next pass, and making read-ahead
 * wait for the queue slows the read.
 *
 * Locking rule for a tier write (tier_write): the writer holds a pin on the
 * entry and its shared lock, and neither cache->lock nor the tier's lock
 * across the file I/O; it writes only if the entry is loaded and still has
 * the version that was offered.  Data changes only under the exclusive
 * lock, so the file never receives a torn chunk; readers go on meanwhile,
 * and a writer of that chunk waits for one file write at most (never for
 * the queue).  Every tier write is counted in tier_inflight, so that
 * cache_detach waits for it.  The tier costs no memory beyond the pinned
 * entries (inside cache-size), and a failing tier fails nothing.
 *
 * Locking: cache->lock protects the queue (cache->tierq, tier_head,
 * tier_len, tier_bytes) and tier_inflight; it is let go only across a
 * tier write, as above.  disktier.c takes its own lock inside.
 */
#include <config.h>

#include <string.h>

#include "cache-internal.h"
#include "cleanup.h"
#include "disktier.h"
#include "stats.h"

/* Offer e's data, whose address is hash, to the tier: e has just become
 * loaded and clean with it.  cache->lock held; the caller holds a pin on e.
 * Queues it if fewer than room offers are queued, and returns false.
 * Returns true if the queue was full to room: the caller is to write the
 * file itself (tier_write) once it has let go of cache->lock and of e's
 * exclusive lock, so that no chunk is dropped.  Never waits.
 */
bool
tier_offer (struct entry *e, const uint8_t *hash, unsigned room)
{
  struct cache *c = e->disk->cache;
  struct tier_item *it;

  if (c->tier == NULL || e->data == NULL || c->stop
      || disktier_has (c->tier, hash))
    return false;
  if (c->tier_len >= room
      || c->tier_bytes + e->disk->chunk_size
             > c->tier_max * room / TIER_QUEUE) {
    stats_inc (STAT_TIER_SELF_WRITES);
    return true;
  }
  entry_pin (e);
  c->tier_bytes += e->disk->chunk_size;
  it = &c->tierq[(c->tier_head + c->tier_len++) % TIER_QUEUE];
  it->e = e;
  it->version = e->version;
  memcpy (it->hash, hash, HASH_LEN);
  pthread_cond_signal (&c->tier_work);
  return false;
}

/* Write e's data to the tier as the chunk whose address is hash, if e still
 * holds the version that had it.  The caller holds a pin on e and
 * cache->lock, not e's lock; cache->lock is let go across the file I/O and
 * held again on return.  e's shared lock is held for the write: readers go
 * on, a writer of the chunk waits for this one file write (never for the
 * queue), and the file never sees a torn chunk.  Counted in tier_inflight,
 * so that cache_detach waits for it.
 */
void
tier_write (struct cache *c, struct entry *e, const uint8_t *hash,
            uint64_t version)
{
  e->disk->tier_inflight++;
  pthread_mutex_unlock (&c->lock);
  pthread_rwlock_rdlock (&e->rw);
  if (entry_loaded (e) && e->data && e->version == version)
    disktier_put (c->tier, hash, e->data, e->disk->chunk_size);
  pthread_rwlock_unlock (&e->rw);
  pthread_mutex_lock (&c->lock);
  e->disk->tier_inflight--;
}

/* The tier thread: write offered chunks to the tier, one at a time. */
void *
tier_thread (void *arg)
{
  struct cache *c = arg;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);

  while (!c->stop) {
    struct tier_item it;

    if (c->tier_len == 0) {
      pthread_cond_wait (&c->tier_work, &c->lock);
      continue;
    }
    it = c->tierq[c->tier_head];
    c->tier_head = (c->tier_head + 1) % TIER_QUEUE;
    c->tier_len--;
    c->tier_bytes -= it.e->disk->chunk_size;
    tier_write (c, it.e, it.hash, it.version);
    entry_unpin (it.e);
    pthread_cond_broadcast (&c->changed); /* for cache_detach */
  }
  return NULL;
}

/* Drop the queued offers of cd (every disk if cd is NULL).  (L) */
void
tier_drop (struct cache *c, struct cache_disk *cd)
{
  unsigned k, n;

  for (k = n = 0; k < c->tier_len; k++) {
    struct tier_item it = c->tierq[(c->tier_head + k) % TIER_QUEUE];
    if (cd == NULL || it.e->disk == cd) {
      c->tier_bytes -= it.e->disk->chunk_size;
      entry_unpin (it.e);
    } else
      c->tierq[(c->tier_head + n++) % TIER_QUEUE] = it;
  }
  c->tier_len = n;
}
