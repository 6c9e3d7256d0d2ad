/* s3cow: the chunk cache's buffers and its memory budget (see
 * cache-internal.h for the cache's files, states and locks).
 *
 * Locking: every function here runs with cache->lock held, which
 * protects the pool (cache->pool, npool) and cache->used; pool_reserve
 * may wait on cache->changed, letting it go meanwhile.  None of them
 * reads or writes a buffer's bytes (see the locking rule for buffers).
 *
 * Memory.  cache->used counts every chunk buffer: those of entries, those
 * reserved by a thread and not yet given to an entry, upload copies, the
 * scratch of the chunk codec (chunks_fetch and chunks_persist: as much as
 * a chunk again, or more on an encrypted disk, for every load and upload
 * running), and the pool of free buffers; it never exceeds cache->limit.
 * Freed buffers go to the pool and are reused as they are: mapping a fresh
 * buffer per chunk costs a page fault per 4 KiB and the kernel's zeroing
 * on every load, a large share of a cold read's CPU.  A thread
 * reserves a buffer (from the pool, else a new one while under the limit,
 * else evicting clean chunks, else waiting for uploads to clean some)
 * before it takes an entry lock, so no thread waits for memory while
 * holding an entry lock; and it reserves the buffers it needs together
 * (a chunk and its scratch), so that no thread waits for memory while
 * holding some: threads each holding one could wait for each other.
 *
 * Locking rule for buffers: nothing writes or reads a chunk buffer's bytes
 * while holding cache->lock.  The first touch of a fresh mapping is a page
 * fault in which the kernel zeroes the page, a whole 2 MiB one with huge
 * pages: under cache->lock it would stall
 * every other thread for that long.  So the pool keeps its bookkeeping
 * outside the buffers (an array, not links inside them), and a buffer is
 * first written by the thread that took it, after letting go of the lock
 * (load, the copy of a write or of an upload).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "cache-internal.h"
#include "log.h"
#include "stats.h"
#include "timedwait.h"

/* ---- buffers and memory: cache->lock held ---- */

/* The pool is an array of struct free_buffer, not a list linked through
 * the buffers, so that putting a buffer never writes to it (see the
 * locking rule for buffers).  Every buffer is counted in cache->used <=
 * cache->limit and is at least CHUNK_SIZE_MIN bytes, so limit /
 * CHUNK_SIZE_MIN slots always suffice (pool_cap).
 */

/* Map len bytes (a multiple of the page size) aligned to HUGE_SIZE and ask
 * for transparent huge pages, or NULL.  The first touch of a fresh buffer is a
 * page fault and the kernel's zeroing per page: with 4 KiB pages that
 * costs more CPU than the rest of the upload path (hash, copies, sockets)
 * together, with 2 MiB pages a third of that (docs/benchmarks.md).  Each
 * 4 KiB-aligned part may still be unmapped on its own (the kernel splits
 * the huge page).
 */
#define HUGE_SIZE ((size_t)2 * 1024 * 1024)
static uint8_t *
map_huge (size_t len)
{
  uint8_t *p, *a;

  p = mmap (NULL, len + HUGE_SIZE, PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  a = (uint8_t *)(((uintptr_t)p + HUGE_SIZE - 1) & ~(uintptr_t)(HUGE_SIZE - 1));
  if (a > p)
    munmap (p, a - p);
  if (a + len < p + len + HUGE_SIZE)
    munmap (a + len, p + len + HUGE_SIZE - (a + len));
  /* Advice only: without huge pages (THP off) the buffer works the same. */
  (void)madvise (a, len, MADV_HUGEPAGE);
  return a;
}

static void
pool_add (struct cache *c, uint8_t *p, uint32_t size, bool touched)
{
  assert (c->npool < c->pool_cap);
  c->pool[c->npool].p = p;
  c->pool[c->npool].size = size;
  c->pool[c->npool].touched = touched;
  c->npool++;
  if (touched)
    c->pool_touched += size;
}

static void
pool_remove (struct cache *c, size_t i)
{
  if (c->pool[i].touched)
    c->pool_touched -= c->pool[i].size;
  c->pool[i] = c->pool[--c->npool];
}

/* A buffer of size bytes, counted in c->used: a pooled one if there is one
 * of that size (a touched one first: no page faults, no zeroing by the
 * kernel; looked for from the most recently pooled), else a new mapping if
 * the budget has room.  NULL otherwise, without waiting.  Its content is
 * undefined.
 *
 * New buffers come HUGE_SIZE at a time when the budget has room (see
 * map_huge): one is returned and the others of the same huge page go to
 * the pool untouched; whoever takes one of them first touches it outside
 * cache->lock.  A size that does not divide HUGE_SIZE (scratch of an
 * encrypted disk, a multiple of CHUNK_SIZE_MIN) is mapped alone.
 */
uint8_t *
pool_take (struct cache *c, uint32_t size)
{
  uint8_t *p;
  size_t i, len, off;
  int pass;

  c->fill_size = size;
  pthread_cond_signal (&c->fill_work);
  for (pass = 0; pass < 2; pass++)
    for (i = c->npool; i-- > 0;)
      if (c->pool[i].size == size && (pass == 1 || c->pool[i].touched)) {
        p = c->pool[i].p;
        pool_remove (c, i);
        return p;
      }
  if (c->used + size > c->limit)
    return NULL;
  len = size < HUGE_SIZE && HUGE_SIZE % size == 0 ? HUGE_SIZE : size;
  p = NULL;
  if (c->used + len <= c->limit && (p = map_huge (len)) != NULL)
    c->used += len;
  else {
    len = size;
    p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
              -1, 0);
    if (p == MAP_FAILED)
      return NULL;
    c->used += size;
  }
  for (off = size; off < len; off += size)
    pool_add (c, p + off, size, false);
  return p;
}

/* Give a buffer back to the pool (it stays counted in c->used).  Does not
 * touch its bytes.
 */
void
pool_put (struct cache *c, uint8_t *p, uint32_t size)
{
  if (p != NULL)
    pool_add (c, p, size, true);
}

/* Unmap one pooled buffer (of a size nobody asks for).  False if none. */
bool
pool_shrink (struct cache *c)
{
  struct free_buffer *f;

  if (c->npool == 0)
    return false;
  f = &c->pool[c->npool - 1];
  c->used -= f->size;
  munmap (f->p, f->size);
  pool_remove (c, c->npool - 1);
  return true;
}

/* A buffer of size bytes (see pool_take), without waiting: after
 * making room if needed, by unmapping pooled buffers of other sizes and
 * evicting clean chunks.  NULL with errno EAGAIN when the rest of the
 * budget is in use (dirty or pinned chunks, other threads' buffers), or
 * ENOMEM when mapping failed.
 */
uint8_t *
pool_take_evicting (struct cache *c, uint32_t size)
{
  uint8_t *p;

  while ((p = pool_take (c, size)) == NULL) {
    if (c->used + size <= c->limit) {
      errno = ENOMEM;
      return NULL;
    }
    if (pool_shrink (c))
      continue;
    if (c->lru.head == NULL) {
      errno = EAGAIN;
      return NULL;
    }
    s3cow_debug (cache, "evict %s chunk %" PRIu64, c->lru.head->disk->name,
                 c->lru.head->idx);
    stats_inc (STAT_CACHE_EVICTIONS);
    entry_destroy (c->lru.head);
  }
  return p;
}

/* Buffers of size1 and size2 bytes, both or neither (a size of 0: that
 * pointer is set to NULL), as pool_take_evicting, else waiting for
 * uploads to clean some.  Fails (logged) if mapping failed (ENOMEM), or
 * (EIO) after waiting wait_timeout while uploads fail.
 */
int
pool_reserve_pair (struct cache *c, uint32_t size1, uint8_t **p1,
                   uint32_t size2, uint8_t **p2)
{
  double start = monotonic_now ();

  for (;;) {
    uint32_t size = size1; /* the one that failed */
    int err;

    *p1 = *p2 = NULL;
    if (size1 == 0 || (*p1 = pool_take_evicting (c, size1)) != NULL) {
      if (size2 == 0 || (*p2 = pool_take_evicting (c, size2)) != NULL)
        return 0;
      /* Not kept while waiting for the other. */
      err = errno;
      size = size2;
      pool_unreserve (c, *p1, size1);
      *p1 = NULL;
      errno = err;
    }
    if (errno == ENOMEM) {
      s3cow_log_error ("out of memory for a %" PRIu32 "-byte buffer: %m", size);
      return -1;
    }
    if (c->failing && monotonic_now () - start > c->wait_timeout) {
      s3cow_log_error ("cache full of dirty chunks that cannot be uploaded "
                       "(waited %.0f s): failing the request",
                       monotonic_now () - start);
      errno = EIO;
      return -1;
    }
    pthread_cond_broadcast (&c->work);
    cond_wait_seconds (&c->changed, &c->lock, 1.0);
  }
}

/* A buffer of size bytes: pool_reserve_pair of one. */
uint8_t *
pool_reserve (struct cache *c, uint32_t size)
{
  uint8_t *p, *none;

  return pool_reserve_pair (c, size, &p, 0, &none) == 0 ? p : NULL;
}

/* Give back a buffer that reserve gave and nothing took. */
void
pool_unreserve (struct cache *c, uint8_t *p, uint32_t size)
{
  pool_put (c, p, size);
  pthread_cond_broadcast (&c->changed);
}

/* ---- the filler thread ---- */

/* Touched bytes the filler keeps on the pool, at most. */
#define FILL_AHEAD ((uint64_t)16 * 1024 * 1024)

/* Fault in len bytes at p: the kernel maps and zeroes every page now. */
static void
touch_pages (uint8_t *p, size_t len)
{
  size_t off;

#ifdef MADV_POPULATE_WRITE
  if (madvise (p, len, MADV_POPULATE_WRITE) == 0)
    return;
#endif
  for (off = 0; off < len; off += 4096)
    ((volatile uint8_t *)p)[off] = 0;
}

/* The pool's filler.  The first touch of a new buffer is a page fault in
 * which the kernel zeroes the page (see map_huge): paid by whichever
 * thread first writes the buffer, a read waiting for its chunk among
 * them.  While the budget has room, this thread keeps up to FILL_AHEAD
 * bytes (an eighth of cache-size at most) of touched buffers of the size
 * last asked for on the pool, which pool_take gives out first; so a
 * cache filling up takes memory the kernel has zeroed already, and RSS
 * runs at most that far ahead of use.  What it maps is counted in
 * cache->used before it is mapped, so the budget holds meanwhile.
 */
void *
pool_fill_thread (void *cache)
{
  struct cache *c = cache;
  uint64_t ahead = c->limit / 8 < FILL_AHEAD ? c->limit / 8 : FILL_AHEAD;
  uint32_t size;
  size_t len, off;
  uint8_t *p;

  pthread_mutex_lock (&c->lock);
  while (!c->stop) {
    size = c->fill_size;
    if (size == 0) {
      pthread_cond_wait (&c->fill_work, &c->lock);
      continue;
    }
    len = size < HUGE_SIZE && HUGE_SIZE % size == 0 ? HUGE_SIZE : size;
    if (c->pool_touched >= ahead || c->used + len > c->limit
        || c->npool + len / size > c->pool_cap) {
      pthread_cond_wait (&c->fill_work, &c->lock);
      continue;
    }
    c->used += len;
    pthread_mutex_unlock (&c->lock);
    p = map_huge (len);
    if (p)
      touch_pages (p, len);
    pthread_mutex_lock (&c->lock);
    if (p == NULL) {
      c->used -= len;
      s3cow_debug (cache, "pool filler: cannot map %zu bytes: %m", len);
      pthread_cond_wait (&c->fill_work, &c->lock);
      continue;
    }
    for (off = 0; off < len; off += size)
      pool_add (c, p + off, size, true);
    pthread_cond_broadcast (&c->changed);
  }
  pthread_mutex_unlock (&c->lock);
  return NULL;
}
