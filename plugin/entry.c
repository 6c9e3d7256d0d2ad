/* s3cow: the chunk cache's entries (see cache-internal.h for their
 * states, the locks and the cache's other files): the invariants of an
 * entry's state, the hash table, the LRU and dirty lists, pins, creating
 * and destroying entries, and loading a chunk into one.
 *
 * Locking: every function here but entry_load runs with cache->lock
 * held; entry_load runs with the entry's exclusive lock and without
 * cache->lock.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cache-internal.h"
#include "chunkmap.h"
#include "disktier.h"
#include "log.h"
#include "stats.h"

#ifndef NDEBUG
void
entry_check (const struct entry *e)
{
  const struct cache *c = e->disk->cache;

  switch (e->state) {
  case ENTRY_LOADING:
    assert (e->pins > 0);
    assert (e->on == NULL);
    break;
  case ENTRY_CLEAN:
    if (e->pins == 0) {
      assert (e->data != NULL);
      assert (e->on == &c->lru);
    } else
      assert (e->on == NULL);
    break;
  case ENTRY_DIRTY:
    assert (e->on == &e->disk->dirty);
    break;
  case ENTRY_UPLOADING:
    assert (e->pins > 0);
    assert (e->on == &e->disk->dirty);
    break;
  default:
    assert (!"entry state out of range");
  }
}
#endif

/* ---- lists and hash table: cache->lock held ---- */

void
entry_list_remove (struct entry *e)
{
  struct list *l = e->on;

  if (l == NULL)
    return;
  if (e->prev)
    e->prev->next = e->next;
  else
    l->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    l->tail = e->prev;
  e->prev = e->next = NULL;
  e->on = NULL;
}

/* Put dirty entry e back on its disk's dirty list, which is sorted by
 * dirty_seq: after the entries that became dirty before it.
 */
void
entry_dirty_insert (struct entry *e)
{
  struct list *l = &e->disk->dirty;
  struct entry *p;

  entry_list_remove (e);
  p = l->tail;
  while (p && p->dirty_seq > e->dirty_seq)
    p = p->prev;
  e->prev = p;
  e->next = p ? p->next : l->head;
  if (e->next)
    e->next->prev = e;
  else
    l->tail = e;
  if (p)
    p->next = e;
  else
    l->head = e;
  e->on = l;
}

void
entry_list_append (struct list *l, struct entry *e)
{
  entry_list_remove (e);
  e->prev = l->tail;
  e->next = NULL;
  if (l->tail)
    l->tail->next = e;
  else
    l->head = e;
  l->tail = e;
  e->on = l;
}

static size_t
bucket_of (struct cache *c, struct cache_disk *cd, uint64_t idx)
{
  uint64_t h = (idx + (uintptr_t)cd) * UINT64_C (0x9E3779B97F4A7C15);

  return (h >> 20) & (c->nbuckets - 1);
}

struct entry *
entry_lookup (struct cache_disk *cd, uint64_t idx)
{
  struct cache *c = cd->cache;
  struct entry *e;

  for (e = c->buckets[bucket_of (c, cd, idx)]; e; e = e->hnext)
    if (e->disk == cd && e->idx == idx)
      return e;
  return NULL;
}

void
entry_destroy (struct entry *e)
{
  struct cache *c = e->disk->cache;
  struct entry **pp = &c->buckets[bucket_of (c, e->disk, e->idx)];

  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
  entry_list_remove (e);
  if (e->readahead)
    c->ra_bytes -= e->disk->chunk_size; /* evicted unread */
  if (e->prefetched)
    c->pf_bytes -= e->disk->chunk_size;
  pool_put (c, e->data, e->disk->chunk_size);
  pthread_rwlock_destroy (&e->rw);
  free (e);
}

void
entry_unpin (struct entry *e)
{
  struct cache *c = e->disk->cache;

  if (--e->pins > 0)
    return;
  if (e->state == ENTRY_LOADING || (e->state == ENTRY_CLEAN && e->data == NULL))
    entry_destroy (e);
  else {
    if (e->state == ENTRY_CLEAN)
      entry_list_append (&c->lru, e);
    entry_check (e);
  }
  pthread_cond_broadcast (&c->changed);
}

void
entry_pin (struct entry *e)
{
  if (e->pins++ == 0 && e->on == &e->disk->cache->lru)
    entry_list_remove (e);
  entry_check (e);
}

/* Create, pin and exclusively lock a new entry with buffer data from
 * pool_reserve (it takes it), or NULL for a chunk about to become all zeros.
 */
struct entry *
entry_create (struct cache_disk *cd, uint64_t idx, uint8_t *data)
{
  struct cache *c = cd->cache;
  struct entry *e = calloc (1, sizeof *e);
  size_t b;

  if (e == NULL) {
    s3cow_log_error ("%s: out of memory for chunk %" PRIu64, cd->name, idx);
    pool_unreserve (c, data, cd->chunk_size);
    errno = ENOMEM;
    return NULL;
  }
  e->disk = cd;
  e->idx = idx;
  e->data = data;
  e->state = ENTRY_LOADING;
  e->pins = 1;
  pthread_rwlock_init (&e->rw, NULL);
  pthread_rwlock_wrlock (&e->rw); /* new: uncontended */
  b = bucket_of (c, cd, idx);
  e->hnext = c->buckets[b];
  c->buckets[b] = e;
  return e;
}

/* ---- loading: entry lock held, cache->lock NOT held ---- */

/* Fill e->data (exclusive lock held, LOADING) with the chunk from the disk
 * tier, else from the store through chunks_fetch (with scratch), checked
 * against its address.  hash receives the chunk's address.  Returns 1 if the
 * data came from the store (to be offered to the tier), 0 if from the tier or
 * zeros, -1 (errno EIO, logged) on error.
 */
int
entry_load (struct entry *e, uint8_t *hash, uint8_t *scratch)
{
  struct cache_disk *cd = e->disk;

  chunkmap_get (cd->map, e->idx, hash);
  if (hash_is_zero (hash)) {
    memset (e->data, 0, cd->chunk_size);
    return 0;
  }
  if (cd->cache->tier
      && disktier_get (cd->cache->tier, hash, e->data, cd->chunk_size)) {
    s3cow_debug (cache, "%s: chunk %" PRIu64 " from cache-dir", cd->name,
                 e->idx);
    return 0;
  }
  stats_inc (STAT_CACHE_MISSES);
  assert (scratch != NULL); /* reserved unless the map said zeros */
  if (chunks_fetch (cd->chunks, hash, e->data, scratch, cd->name, e->idx)
      == -1) {
    errno = EIO;
    return -1;
  }
  s3cow_debug (cache, "%s: loaded chunk %" PRIu64, cd->name, e->idx);
  return 1;
}
