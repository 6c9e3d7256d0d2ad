/* s3cow: the chunk cache (see cache.h).
 *
 * One entry per cached chunk, found by (disk, chunk index) in a hash table.
 *
 *   entry states (cache->lock)        lists
 *   -------------------------------   -----------------------------------
 *   !loaded        being loaded or     none; always has a buffer; the
 *                  overwritten         thread holding its wrlock fills it
 *   loaded, CLEAN  same as the store   LRU, when unpinned (evictable)
 *   loaded, DIRTY  newer than store    its disk's dirty list, in the order
 *                                      it became dirty (dirty_seq)
 *   data == NULL   (when loaded) the chunk is all zeros; no buffer
 *
 * Locking.  cache->lock protects every field marked (L): the hash table,
 * the lists, the counters, and each entry's pins, state and list links.  An
 * entry's rw lock protects its data bytes: readers and the uploader take it
 * shared, writers and the loader exclusive.  e->data and e->loaded change
 * only with both the entry's exclusive lock and cache->lock held, so either
 * lock is enough to read them.  Lock order: entry rw lock, then cache->lock,
 * then the chunk map's lock or the disk tier's lock.  A thread takes an entry's
 * rw lock only while it holds a pin on it and NOT cache->lock, except on an
 * entry it has just created (uncontended).  Pinned entries are never evicted or
 * freed.
 *
 * Memory.  cache->used counts every chunk buffer: those of entries, those
 * reserved by a thread and not yet given to an entry, upload copies, and
 * the pool of free buffers; it never exceeds cache->limit.  Freed buffers
 * go to the pool and are reused as they are: mapping a fresh buffer per
 * chunk cost a page fault per 4 KiB and the kernel's zeroing on every load
 * (a third of the CPU of a cold sequential read, measured).  A thread
 * reserves a buffer (from the pool, else a new one while under the limit,
 * else evicting clean chunks, else waiting for uploads to clean some)
 * before it takes an entry lock, so no thread waits for memory while
 * holding an entry lock.
 *
 * Locking rule for buffers: nothing writes or reads a chunk buffer's bytes
 * while holding cache->lock.  The first touch of a fresh mapping is a page
 * fault in which the kernel zeroes the page, a whole 2 MiB one with huge
 * pages (6-8 ms on this VM, measured): under cache->lock it would stall
 * every other thread for that long.  So the pool keeps its bookkeeping
 * outside the buffers (an array, not links inside them), and a buffer is
 * first written by the thread that took it, after letting go of the lock
 * (load, the copy of a write or of an upload).
 *
 * Read-ahead.  Reads are followed as streams per disk (readahead_note);
 * a stream that goes on queues the chunks ahead of it, within ra_max bytes
 * for all streams, and the read-ahead threads load them as ordinary clean
 * entries (flag readahead until a read finds them).  They never wait for
 * memory and never evict anything but clean chunks; an entry they are
 * loading is pinned and !loaded, so a read or write of that chunk waits on
 * its lock as for any load, and loads it itself if read-ahead failed.
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
 * wait for the queue or for room in it.  Measured: the single tier thread
 * fell behind a cold sequential read and up to a third of the chunks were
 * dropped (read again from S3 on the next pass), and read-ahead waiting
 * for the queue slowed the cold read by 15%; with requests only dropping
 * their offers when it was full, 76 of 1024 were still dropped.
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
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <openssl/sha.h>

#include "cache.h"
#include "cleanup.h"
#include "disktier.h"
#include "log.h"
#include "names.h"
#include "stats.h"
#include "timedwait.h"

enum entry_state { CLEAN, DIRTY };

struct free_buffer;

struct entry;
struct list {
  struct entry *head, *tail;
};

struct entry {
  struct cache_disk *disk;
  uint64_t idx;
  pthread_rwlock_t rw;         /* the bytes of data */
  struct entry *hnext;         /* (L) hash chain */
  struct entry *prev, *next;   /* (L) on the LRU or on the disk's dirty list */
  struct list *on;             /* (L) which list, or NULL */
  unsigned pins;               /* (L) threads using it */
  bool loaded;                 /* (L+wr) data holds the chunk */
  uint8_t *data;               /* (L+wr) chunk_size bytes; NULL: zeros */
  enum entry_state state;      /* (L) */
  bool uploading;              /* (L) an uploader holds it */
  uint64_t dirty_seq;          /* (L) when it last became dirty, or the
                                * copy of its last upload was taken */
  uint32_t run_start, run_end; /* (L) the last run of contiguous writes */
  uint64_t version;            /* (L+wr) writes so far */
  double retry_at;             /* (L) after a failed upload: not before */
  double backoff;              /* (L) seconds, doubling per failure */
  bool readahead;              /* (L) made by read-ahead and not read yet:
                                * counted in cache->ra_bytes */
};

/* A chunk offered to the disk tier: the entry is pinned until written. */
struct tier_item {
  struct entry *e;
  uint64_t version; /* written only if the entry still has this version */
  uint8_t hash[HASH_LEN];
};
#define TIER_QUEUE                                                             \
  16 /* chunks waiting for the tier thread, at most, and                       \
      * in bytes at most cache-size / 8 (tier_max) */

/* A sequential stream of reads of one disk, for read-ahead. */
struct ra_stream {
  uint64_t next;  /* the chunk after the last one read */
  uint64_t sched; /* read-ahead scheduled up to here */
  unsigned run;   /* chunks read in sequence so far */
  uint64_t used;  /* when it last moved (disk's ra_clock) */
  uint64_t gen;   /* changes when the slot is reused */
};
#define RA_STREAMS 8 /* streams tracked per disk */
#define RA_GAP                                                                 \
  4 /* chunks a stream may skip (requests of                                   \
     * parallel readers arrive out of order) */

/* A chunk to read ahead. */
struct ra_item {
  struct cache_disk *cd;
  uint64_t idx;
  unsigned slot; /* its stream, and the stream's gen: */
  uint64_t gen;  /* a reused slot cancels the item */
};

struct cache_disk {
  struct cache *cache;
  char *name;
  struct chunkmap *map;
  uint32_t chunk_size;
  uint8_t zero_hash[HASH_LEN]; /* SHA-256 of a chunk of zeros */
  struct cache_disk *next;     /* (L) cache->disks */
  struct list dirty;           /* (L) sorted by dirty_seq */
  uint64_t ndirty;             /* (L) */
  uint64_t flush_target;       /* (L) upload now what is dirty since <= */
  uint64_t failures;           /* (L) failed uploads so far */
  struct ra_stream streams[RA_STREAMS]; /* (L) */
  uint64_t ra_clock;                    /* (L) */
  unsigned ra_inflight;                 /* (L) read-ahead loads running */
  unsigned tier_inflight;               /* (L) tier writes running */
};

struct cache {
  struct store *store;
  pthread_mutex_t lock;     /* protects the (L) fields */
  pthread_cond_t changed;   /* (L) an entry was loaded, cleaned, unpinned
                             * or freed, or an upload failed */
  pthread_cond_t work;      /* (L) something may be ready to upload */
  uint64_t limit;           /* cache-size */
  uint64_t used;            /* (L) buffers + reservations, <= limit */
  uint64_t dirty_bytes;     /* (L) chunk bytes of dirty entries */
  uint64_t dirty_max;       /* writers wait above this */
  uint64_t writeback_start; /* uploads start above this */
  uint64_t seq;             /* (L) */
  struct entry **buckets;   /* (L) */
  size_t nbuckets;
  struct list lru;                /* (L) clean, unpinned, with data */
  struct cache_disk *disks;       /* (L) */
  struct free_buffer *pool;       /* (L) unused buffers, counted in used */
  size_t npool, pool_cap;         /* (L) buffers on the pool, and room */
  uint64_t ra_max;                /* read-ahead bytes at most; 0: none */
  uint64_t ra_bytes;              /* (L) chunks queued, loading, or loaded
                                   * by read-ahead and not read yet */
  struct ra_item *raq;            /* (L) ring of ra_cap items */
  size_t ra_cap, ra_head, ra_len; /* (L) */
  pthread_cond_t ra_work;         /* (L) the ring is not empty, or stop */
  unsigned ra_nthreads, ra_started;
  pthread_t *ra_threads;
  struct disktier *tier;              /* NULL: no cache-dir= */
  struct tier_item tierq[TIER_QUEUE]; /* (L) ring */
  unsigned tier_head, tier_len;       /* (L) */
  uint64_t tier_bytes, tier_max;      /* (L) bytes queued, and at most */
  pthread_cond_t tier_work;           /* (L) tierq not empty, or stop */
  bool tier_started;
  pthread_t tier_thread;
  bool failing; /* (L) the last upload failed */
  bool stop;    /* (L) threads must exit */
  double wait_timeout;
  unsigned nthreads, started;
  pthread_t *threads;
};

/* ---- lists and hash table: cache->lock held ---- */

static void
list_remove (struct entry *e)
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
static void
dirty_insert (struct entry *e)
{
  struct list *l = &e->disk->dirty;
  struct entry *p;

  list_remove (e);
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

static void
list_append (struct list *l, struct entry *e)
{
  list_remove (e);
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

static struct entry *
lookup (struct cache_disk *cd, uint64_t idx)
{
  struct cache *c = cd->cache;
  struct entry *e;

  for (e = c->buckets[bucket_of (c, cd, idx)]; e; e = e->hnext)
    if (e->disk == cd && e->idx == idx)
      return e;
  return NULL;
}

/* ---- buffers and memory: cache->lock held ---- */

/* A free buffer on the pool.  The pool is an array of these, not a list
 * linked through the buffers, so that putting a buffer never writes to it
 * (see "Locking rule for buffers").  Every buffer is counted in
 * cache->used <= cache->limit and is at least CHUNK_SIZE_MIN bytes, so
 * limit / CHUNK_SIZE_MIN slots always suffice (pool_cap).
 */
struct free_buffer {
  uint8_t *p;
  uint32_t size;
};

static void pool_put (struct cache *c, uint8_t *p, uint32_t size);

/* Map len bytes (a multiple of HUGE_SIZE) aligned to HUGE_SIZE and ask for
 * transparent huge pages, or NULL.  The first touch of a fresh buffer is a
 * page fault and the kernel's zeroing per page: with 4 KiB pages that cost
 * 5-8 ms of CPU per MiB on this VM, more than the rest of the upload path
 * (hash, copies, sockets) together; with 2 MiB pages 1.7-2.8 ms (measured,
 * docs/benchmarks.md).  Each 4 KiB-aligned part may still be unmapped on its
 * own (the kernel splits the huge page).
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

/* A buffer of size bytes, counted in c->used: a pooled one if there is one
 * of that size (usually touched already: no page faults, no zeroing by the
 * kernel; looked for from the most recently pooled), else a new mapping if
 * the budget has room.  NULL otherwise, without waiting.  Its content is
 * undefined.
 *
 * New buffers come HUGE_SIZE at a time when the budget has room (see
 * map_huge): one is returned and the others of the same huge page go to
 * the pool untouched; whoever takes one of them first touches it outside
 * cache->lock.
 */
static uint8_t *
pool_take (struct cache *c, uint32_t size)
{
  uint8_t *p;
  size_t i, len, off;

  for (i = c->npool; i-- > 0;)
    if (c->pool[i].size == size) {
      p = c->pool[i].p;
      c->pool[i] = c->pool[--c->npool];
      return p;
    }
  if (c->used + size > c->limit)
    return NULL;
  len = size < HUGE_SIZE ? HUGE_SIZE : size; /* sizes are powers of 2 */
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
    pool_put (c, p + off, size);
  return p;
}

/* Give a buffer back to the pool (it stays counted in c->used).  Does not
 * touch its bytes.
 */
static void
pool_put (struct cache *c, uint8_t *p, uint32_t size)
{
  if (p == NULL)
    return;
  assert (c->npool < c->pool_cap);
  c->pool[c->npool].p = p;
  c->pool[c->npool].size = size;
  c->npool++;
}

/* Unmap one pooled buffer (of a size nobody asks for).  False if none. */
static bool
pool_shrink (struct cache *c)
{
  struct free_buffer *f;

  if (c->npool == 0)
    return false;
  f = &c->pool[--c->npool];
  c->used -= f->size;
  munmap (f->p, f->size);
  return true;
}

/* Free an unpinned entry entirely. */
static void
destroy (struct entry *e)
{
  struct cache *c = e->disk->cache;
  struct entry **pp = &c->buckets[bucket_of (c, e->disk, e->idx)];

  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
  list_remove (e);
  if (e->readahead)
    c->ra_bytes -= e->disk->chunk_size; /* evicted unread */
  pool_put (c, e->data, e->disk->chunk_size);
  pthread_rwlock_destroy (&e->rw);
  free (e);
}

/* A buffer of size bytes (see pool_take), evicting clean chunks, else
 * waiting for uploads to clean some.  Fails (EIO, logged) only after
 * waiting wait_timeout while uploads fail.
 */
static uint8_t *
reserve (struct cache *c, uint32_t size)
{
  double start = monotonic_now ();
  uint8_t *p;

  while ((p = pool_take (c, size)) == NULL) {
    if (c->used + size <= c->limit) {
      s3cow_log_error ("out of memory for a %" PRIu32 "-byte chunk: %m", size);
      errno = ENOMEM;
      return NULL;
    }
    if (pool_shrink (c))
      continue;
    if (c->lru.head) {
      s3cow_debug (cache, "evict %s chunk %" PRIu64, c->lru.head->disk->name,
                   c->lru.head->idx);
      stats_inc (STAT_CACHE_EVICTIONS);
      destroy (c->lru.head);
      continue;
    }
    if (c->failing && monotonic_now () - start > c->wait_timeout) {
      s3cow_log_error ("cache full of dirty chunks that cannot be uploaded "
                       "(waited %.0f s): failing the request",
                       monotonic_now () - start);
      errno = EIO;
      return NULL;
    }
    pthread_cond_broadcast (&c->work);
    cond_wait_seconds (&c->changed, &c->lock, 1.0);
  }
  return p;
}

/* Give back a buffer that reserve gave and nothing took. */
static void
unreserve (struct cache *c, uint8_t *p, uint32_t size)
{
  pool_put (c, p, size);
  pthread_cond_broadcast (&c->changed);
}

/* Drop a pin; an unpinned entry goes where its state says. */
static void
unpin (struct entry *e)
{
  struct cache *c = e->disk->cache;

  if (--e->pins > 0)
    return;
  if (!e->loaded || (e->state == CLEAN && e->data == NULL))
    destroy (e);
  else if (e->state == CLEAN)
    list_append (&c->lru, e);
  pthread_cond_broadcast (&c->changed);
}

static void
pin (struct entry *e)
{
  if (e->pins++ == 0 && e->on == &e->disk->cache->lru)
    list_remove (e);
}

/* Create, pin and exclusively lock a new entry with buffer data from
 * reserve (it takes it), or NULL for a chunk about to become all zeros.
 */
static struct entry *
create (struct cache_disk *cd, uint64_t idx, uint8_t *data)
{
  struct cache *c = cd->cache;
  struct entry *e = calloc (1, sizeof *e);
  size_t b;

  if (e == NULL) {
    s3cow_log_error ("%s: out of memory for chunk %" PRIu64, cd->name, idx);
    unreserve (c, data, cd->chunk_size);
    errno = ENOMEM;
    return NULL;
  }
  e->disk = cd;
  e->idx = idx;
  e->data = data;
  e->state = CLEAN;
  e->pins = 1;
  pthread_rwlock_init (&e->rw, NULL);
  pthread_rwlock_wrlock (&e->rw); /* new: uncontended */
  b = bucket_of (c, cd, idx);
  e->hnext = c->buckets[b];
  c->buckets[b] = e;
  return e;
}

/* ---- store I/O: entry lock held, cache->lock NOT held ---- */

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
    SHA256 (body, len, sum);
    cc->ok = memcmp (sum, cc->hash, HASH_LEN) == 0;
  }
  return cc->ok;
}

/* Fill e->data (exclusive lock held, !loaded) with the chunk from the disk
 * tier, else from the store, checked against its address.  hash receives
 * the chunk's address.  Returns 1 if the data came from the store (to be
 * offered to the tier), 0 if from the tier or zeros, -1 on error.
 *
 * The check runs inside store_get_checked, so that the body is hashed once
 * and a body that fails it is read again like any transient failure, for
 * up to retry-time: damage on the way (a flipped bit behind a broken proxy)
 * costs a retry, not an error.  The same wrong content twice is what the
 * bucket holds (damaged, truncated or altered there): the store returns it
 * at once, and the read gets EIO with a line naming the chunk.  A backend
 * that does not run the check (the directory: nothing on the way) returns
 * what it holds, checked here.
 */
static int
load (struct entry *e, uint8_t *hash)
{
  struct cache_disk *cd = e->disk;
  char key[KEY_MAX_LEN];
  struct chunk_check cc = { .hash = hash, .size = cd->chunk_size };
  size_t len;
  int r;

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
  key_chunk (key, hash);
  stats_inc (STAT_CACHE_MISSES);
  r = store_get_checked (cd->cache->store, key, e->data, cd->chunk_size, &len,
                         check_chunk, &cc);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("%s: chunk %" PRIu64 ": %s is missing from the bucket",
                     cd->name, e->idx, key);
  if (r != STORE_OK)
    goto eio; /* else the store retried, and logged why */
  if (!cc.checked)
    check_chunk (&cc, e->data, len);
  if (cc.ok) {
    s3cow_debug (cache, "%s: loaded chunk %" PRIu64, cd->name, e->idx);
    return 1;
  }
  stats_inc (STAT_CHUNK_CORRUPT);
  s3cow_log_error ("%s: chunk %" PRIu64 ": %s is corrupt (%zu bytes, content "
                   "does not match its address%s: damaged in the bucket)",
                   cd->name, e->idx, key, len,
                   cc.checked ? "; the same wrong content twice" : "");
eio:
  errno = EIO;
  return -1;
}

/* ---- disk tier ---- */

/* Offer e's data, whose address is hash, to the tier: e has just become
 * loaded and clean with it.  cache->lock held; the caller holds a pin on e.
 * Queues it if fewer than room offers are queued, and returns false.
 * Returns true if the queue was full to room: the caller is to write the
 * file itself (tier_write) once it has let go of cache->lock and of e's
 * exclusive lock, so that no chunk is dropped.  Never waits.
 */
static bool
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
  pin (e);
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
static void
tier_write (struct cache *c, struct entry *e, const uint8_t *hash,
            uint64_t version)
{
  e->disk->tier_inflight++;
  pthread_mutex_unlock (&c->lock);
  pthread_rwlock_rdlock (&e->rw);
  if (e->loaded && e->data && e->version == version)
    disktier_put (c->tier, hash, e->data, e->disk->chunk_size);
  pthread_rwlock_unlock (&e->rw);
  pthread_mutex_lock (&c->lock);
  e->disk->tier_inflight--;
}

/* The tier thread: write offered chunks to the tier, one at a time. */
static void *
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
    unpin (it.e);
    pthread_cond_broadcast (&c->changed); /* for cache_detach */
  }
  return NULL;
}

/* Drop the queued offers of cd (every disk if cd is NULL).  (L) */
static void
tier_drop (struct cache *c, struct cache_disk *cd)
{
  unsigned k, n;

  for (k = n = 0; k < c->tier_len; k++) {
    struct tier_item it = c->tierq[(c->tier_head + k) % TIER_QUEUE];
    if (cd == NULL || it.e->disk == cd) {
      c->tier_bytes -= it.e->disk->chunk_size;
      unpin (it.e);
    } else
      c->tierq[(c->tier_head + n++) % TIER_QUEUE] = it;
  }
  c->tier_len = n;
}

/* ---- read-ahead ---- */

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
static void
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
    if (lookup (cd, i) || chunkmap_is_zero (cd->map, i))
      continue;
    it = &c->raq[(c->ra_head + c->ra_len++) % c->ra_cap];
    it->cd = cd;
    it->idx = i;
    it->slot = s - cd->streams;
    it->gen = s->gen;
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
static void *
readahead_thread (void *arg)
{
  struct cache *c = arg;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);

  while (!c->stop) {
    struct ra_item it;
    struct cache_disk *cd;
    struct entry *e;
    uint8_t *data;
    uint32_t cs;

    if (c->ra_len == 0) {
      pthread_cond_wait (&c->ra_work, &c->lock);
      continue;
    }
    it = c->raq[c->ra_head];
    c->ra_head = (c->ra_head + 1) % c->ra_cap;
    c->ra_len--;
    cd = it.cd;
    cs = cd->chunk_size;
    data = NULL;
    if (cd->streams[it.slot].gen == it.gen && lookup (cd, it.idx) == NULL
        && !chunkmap_is_zero (cd->map, it.idx)) {
      data = pool_take (c, cs);
      if (data == NULL && c->lru.head) {
        stats_inc (STAT_CACHE_EVICTIONS);
        destroy (c->lru.head);
        data = pool_take (c, cs);
      }
    }
    if (data == NULL || (e = create (cd, it.idx, data)) == NULL) {
      c->ra_bytes -= cs; /* cancelled, present, zeros, or no room */
      continue;
    }
    e->readahead = true; /* ra_bytes now counts the entry */
    cd->ra_inflight++;
    stats_inc (STAT_READAHEAD_LOADS);
    pthread_mutex_unlock (&c->lock);

    uint8_t hash[HASH_LEN];
    int r = load (e, hash); /* exclusive lock held since create */
    bool self = false;

    pthread_mutex_lock (&c->lock);
    if (r >= 0)
      e->loaded = true;
    if (r == 1)
      self = tier_offer (e, hash, TIER_QUEUE / 2);
    if (r == -1 && e->readahead) {
      e->readahead = false;
      c->ra_bytes -= cs;
    }
    pthread_rwlock_unlock (&e->rw);
    if (self) {
      pthread_cond_broadcast (&c->changed); /* loaded: readers go on */
      tier_write (c, e, hash, e->version);
    }
    cd->ra_inflight--;
    unpin (e); /* not loaded: destroyed unless pinned */
    pthread_cond_broadcast (&c->changed);
  }
  return NULL;
}

/* Upload data (NULL: zeros), the content of chunk idx, and record it in the
 * map; hash receives its address (zeros: all zero).  The caller keeps data
 * unchanged meanwhile.
 */
static int
upload (struct cache_disk *cd, uint64_t idx, const uint8_t *data, uint8_t *hash)
{
  uint8_t old[HASH_LEN];
  char key[KEY_MAX_LEN], hex[HASH_HEX_LEN + 1];
  const double since = monotonic_now (); /* no later than the object's mtime */

  memset (hash, 0, HASH_LEN);
  if (data) {
    SHA256 (data, cd->chunk_size, hash);
    if (memcmp (hash, cd->zero_hash, HASH_LEN) == 0)
      memset (hash, 0, HASH_LEN);
  }
  chunkmap_get (cd->map, idx, old);
  if (!hash_is_zero (hash) && memcmp (hash, old, HASH_LEN) != 0) {
    key_chunk (key, hash);
    hash_to_hex (hash, hex);
    stats_inc (STAT_CHUNK_UPLOADS);
    if (store_put (cd->cache->store, key, data, cd->chunk_size, hex, NULL)
        != STORE_OK) {
      stats_inc (STAT_CHUNK_UPLOAD_FAILURES);
      s3cow_log_error ("%s: chunk %" PRIu64 " could not be uploaded: it stays "
                       "dirty in memory and will be retried",
                       cd->name, idx);
      return -1;
    }
  } else
    stats_inc (STAT_CHUNK_UPLOADS_SKIPPED);
  chunkmap_set (cd->map, idx, hash, since);
  s3cow_debug (cache, "%s: uploaded chunk %" PRIu64, cd->name, idx);
  return 0;
}

/* ---- upload threads ---- */

/* Was e written whole, in one run, since it became dirty?  (L) */
static bool
written_whole (const struct entry *e)
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
                    || written_whole (e);
      if (e->uploading || !wanted)
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

static void *
uploader (void *arg)
{
  struct cache *c = arg;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);

  while (!c->stop) {
    double t = monotonic_now (), wake = t + 1.0;
    struct entry *e = pick (c, t, &wake);
    uint8_t *copy, hash[HASH_LEN];
    uint64_t version, copy_seq;
    uint32_t cs;
    bool self = false;
    int r;

    if (e == NULL) {
      cond_wait_seconds (&c->work, &c->lock, wake - t);
      continue;
    }
    cs = e->disk->chunk_size;
    e->uploading = true;
    pin (e);
    /* Upload a copy if memory allows without waiting, so that writers of
     * the chunk need not wait for the upload; else the chunk itself, with
     * writers kept out.  A chunk written whole (sequential writes) is
     * unlikely to be written again soon: no copy.
     */
    copy = NULL;
    if (e->data && !written_whole (e))
      copy = pool_take (c, cs);
    /* The upload holds every write made before this moment: a flush that
     * began before it needs no more of this chunk (see below).
     */
    copy_seq = ++c->seq;
    pthread_mutex_unlock (&c->lock);

    pthread_rwlock_rdlock (&e->rw);
    version = e->version;
    if (copy) {
      memcpy (copy, e->data, cs);
      pthread_rwlock_unlock (&e->rw);
      r = upload (e->disk, e->idx, copy, hash);
    } else
      r = upload (e->disk, e->idx, e->data, hash);
    pthread_mutex_lock (&c->lock);
    e->uploading = false;
    if (copy)
      unreserve (c, copy, cs);
    if (r == 0 && e->version != version) {
      /* Written during the upload: still dirty, and wanted at once, but
       * only with writes made after copy_seq, so dirty since then for
       * flushes: a flush that began before the copy was taken returns
       * (else writes that go on to the chunk would hold it up forever).
       */
      e->retry_at = 0;
      e->backoff = 0;
      e->dirty_seq = copy_seq;
      dirty_insert (e);
    } else if (r == 0) {
      list_remove (e);
      e->state = CLEAN;
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
    if (!copy)
      pthread_rwlock_unlock (&e->rw);
    if (self) {
      pthread_cond_broadcast (&c->changed); /* cleaned: flushes go on */
      tier_write (c, e, hash, version);
    }
    unpin (e);
    pthread_cond_broadcast (&c->changed);
  }
  return NULL;
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
  /* Below writeback_start, chunks upload only when written whole or when
   * a flush (or the background commit) asks: random writes then rewrite
   * memory, not S3.
   */
  c->dirty_max = config->size / 4 * 3;
  c->writeback_start = c->dirty_max / 4 * 3;
  c->wait_timeout = config->wait_timeout;
  c->nthreads = config->upload_threads ? config->upload_threads : 1;
  c->ra_max = config->readahead;
  if (c->ra_max > config->size / 4)
    c->ra_max = config->size / 4;
  c->ra_nthreads = config->readahead_threads;
  if (c->ra_max == 0)
    c->ra_nthreads = 0;
  c->ra_cap = c->ra_max / (uint64_t)CHUNK_SIZE_MIN + 1;
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

int
cache_start (struct cache *c)
{
  int err;

  for (; c->started < c->nthreads; c->started++) {
    err = pthread_create (&c->threads[c->started], NULL, uploader, c);
    if (err != 0) {
      errno = err;
      s3cow_log_error ("cannot start upload thread: %m");
      return -1;
    }
  }
  for (; c->ra_started < c->ra_nthreads; c->ra_started++) {
    err = pthread_create (&c->ra_threads[c->ra_started], NULL, readahead_thread,
                          c);
    if (err != 0) {
      errno = err;
      s3cow_log_error ("cannot start read-ahead thread: %m");
      return -1;
    }
  }
  if (c->tier && !c->tier_started) {
    err = pthread_create (&c->tier_thread, NULL, tier_thread, c);
    if (err != 0) {
      errno = err;
      s3cow_log_error ("cannot start the cache-dir thread: %m");
      return -1;
    }
    c->tier_started = true;
  }
  return 0;
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
  pthread_cond_broadcast (&c->changed); /* read-ahead waiting on the tier */
  pthread_mutex_unlock (&c->lock);
  for (i = 0; i < c->started; i++)
    pthread_join (c->threads[i], NULL);
  for (i = 0; i < c->ra_started; i++)
    pthread_join (c->ra_threads[i], NULL);
  if (c->tier_started)
    pthread_join (c->tier_thread, NULL);
  pthread_mutex_lock (&c->lock);
  tier_drop (c, NULL);
  pthread_mutex_unlock (&c->lock);
  for (b = 0; b < c->nbuckets; b++)
    while (c->buckets[b])
      destroy (c->buckets[b]);
  while (pool_shrink (c))
    ;
  pthread_cond_destroy (&c->changed);
  pthread_cond_destroy (&c->work);
  pthread_cond_destroy (&c->ra_work);
  pthread_cond_destroy (&c->tier_work);
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
              uint32_t chunk_size)
{
  struct cache_disk *cd;
  uint8_t *zeros;

  /* Every request thread and uploader may pin one chunk at once. */
  if (c->limit < (uint64_t)chunk_size * 32) {
    s3cow_log_error ("%s: cache-size %" PRIu64 " is too small for %" PRIu32
                     "-byte chunks: give at least 32 chunks",
                     name, c->limit, chunk_size);
    return NULL;
  }
  cd = calloc (1, sizeof *cd);
  zeros = calloc (1, chunk_size);
  if (cd == NULL || zeros == NULL || (cd->name = strdup (name)) == NULL) {
    s3cow_log_error ("calloc: %m");
    free (zeros);
    free (cd);
    return NULL;
  }
  SHA256 (zeros, chunk_size, cd->zero_hash);
  free (zeros);
  cd->cache = c;
  cd->map = map;
  cd->chunk_size = chunk_size;

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
  size_t b, k, n;

  pthread_mutex_lock (&c->lock);
  /* Uploads of this disk may still be running (pinned): wait for them. */
  for (;;) {
    struct entry *e;
    bool busy = false;
    for (e = cd->dirty.head; e; e = e->next)
      busy |= e->uploading;
    if (!busy)
      break;
    pthread_cond_wait (&c->changed, &c->lock);
  }
  /* Drop its queued read-ahead, and wait for the loads running. */
  for (k = n = 0; k < c->ra_len; k++) {
    struct ra_item it = c->raq[(c->ra_head + k) % c->ra_cap];
    if (it.cd == cd)
      c->ra_bytes -= cd->chunk_size;
    else
      c->raq[(c->ra_head + n++) % c->ra_cap] = it;
  }
  c->ra_len = n;
  while (cd->ra_inflight > 0)
    pthread_cond_wait (&c->changed, &c->lock);
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
      if (e->state == DIRTY) {
        lost++;
        c->dirty_bytes -= cd->chunk_size;
      }
      destroy (e);
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
  free (cd->name);
  free (cd);
}

int
cache_read (struct cache_disk *cd, uint64_t idx, uint32_t off, uint32_t len,
            void *buf)
{
  struct cache *c = cd->cache;
  struct entry *e;
  uint8_t *data, self_hash[HASH_LEN];
  uint64_t self_version = 0;
  bool locked = false, self = false;

  pthread_mutex_lock (&c->lock);
  e = lookup (cd, idx);
  readahead_note (cd, idx, e);
  if (e == NULL) {
    if (chunkmap_is_zero (cd->map, idx)) {
      pthread_mutex_unlock (&c->lock);
      stats_inc (STAT_CACHE_ZERO_READS);
      memset (buf, 0, len);
      return 0;
    }
    if ((data = reserve (c, cd->chunk_size)) == NULL) {
      pthread_mutex_unlock (&c->lock);
      return -1;
    }
    /* reserve may have waited, and another thread created it meanwhile. */
    e = lookup (cd, idx);
    if (e)
      unreserve (c, data, cd->chunk_size);
    else if ((e = create (cd, idx, data)) == NULL) {
      pthread_mutex_unlock (&c->lock);
      return -1;
    } else
      locked = true; /* exclusively, and not loaded */
  }
  if (!locked) {
    pin (e);
    stats_inc (STAT_CACHE_HITS);
  }
  pthread_mutex_unlock (&c->lock);

  for (;;) {
    if (!locked)
      pthread_rwlock_rdlock (&e->rw);
    if (e->loaded)
      break;
    /* Not loaded: load it ourselves, exclusively. */
    if (!locked) {
      pthread_rwlock_unlock (&e->rw);
      pthread_rwlock_wrlock (&e->rw);
    }
    locked = false;
    if (!e->loaded) {
      uint8_t hash[HASH_LEN];
      int r = load (e, hash);
      if (r == -1) {
        pthread_rwlock_unlock (&e->rw);
        ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
        unpin (e);
        return -1;
      }
      pthread_mutex_lock (&c->lock);
      e->loaded = true;
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

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  unpin (e);
  return 0;
}

/* Wait while the dirty buffer is full.  cache->lock held. */
static int
wait_for_dirty_room (struct cache *c)
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
cache_write (struct cache_disk *cd, uint64_t idx, uint32_t off, uint32_t len,
             const void *buf)
{
  struct cache *c = cd->cache;
  const bool whole = off == 0 && len == cd->chunk_size;
  const bool zero_whole = whole && buf == NULL;
  bool must_reserve = false, created;
  uint8_t *spare = NULL; /* a buffer from reserve, not yet used */
  struct entry *e;

again:
  pthread_mutex_lock (&c->lock);
  e = lookup (cd, idx);
  if (e == NULL && buf == NULL && chunkmap_is_zero (cd->map, idx)) {
    pthread_mutex_unlock (&c->lock);
    return 0; /* zeroing zeros */
  }
  if ((e == NULL || e->state != DIRTY) && wait_for_dirty_room (c) == -1) {
    pthread_mutex_unlock (&c->lock);
    return -1;
  }
  e = lookup (cd, idx); /* waiting dropped the lock */
  /* Reserve a buffer if this write may need one that the entry lacks. */
  if (!zero_whole
      && (must_reserve || e == NULL || (e->loaded && e->data == NULL))) {
    if ((spare = reserve (c, cd->chunk_size)) == NULL) {
      pthread_mutex_unlock (&c->lock);
      return -1;
    }
    e = lookup (cd, idx);
  }
  created = e == NULL;
  if (created) {
    /* The new entry takes the spare buffer (create gives it back if it
     * fails).
     */
    e = create (cd, idx, spare);
    spare = NULL;
    if (e == NULL) {
      pthread_mutex_unlock (&c->lock);
      return -1;
    }
  } else
    pin (e);
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
      unpin (e);
      must_reserve = true;
      goto again;
    }
    memset (spare, 0, cd->chunk_size);
    pthread_mutex_lock (&c->lock);
    e->data = spare; /* the spare becomes this chunk's buffer */
    spare = NULL;
    pthread_mutex_unlock (&c->lock);
  } else if (!e->loaded && !whole) {
    uint8_t hash[HASH_LEN];
    if (load (e, hash) == -1) /* about to change: not for the tier */
      goto fail;
  }

  /* Apply the write. */
  if (zero_whole) {
    if (e->data) {
      pthread_mutex_lock (&c->lock);
      unreserve (c, e->data, cd->chunk_size);
      e->data = NULL;
      pthread_mutex_unlock (&c->lock);
    }
  } else if (buf)
    memcpy (e->data + off, buf, len);
  else
    memset (e->data + off, 0, len);

  pthread_mutex_lock (&c->lock);
  e->loaded = true;
  if (e->state != DIRTY) {
    e->state = DIRTY;
    e->dirty_seq = ++c->seq;
    e->run_start = e->run_end = off;
    e->retry_at = 0;
    list_append (&cd->dirty, e);
    cd->ndirty++;
    c->dirty_bytes += cd->chunk_size;
  }
  /* Track runs of contiguous writes: a chunk written whole in one run
   * (sequential writes) is ready to upload at once.
   */
  if (off != e->run_end)
    e->run_start = off;
  e->run_end = off + len;
  e->version++;
  if (spare)
    unreserve (c, spare, cd->chunk_size);
  if (written_whole (e) || c->dirty_bytes >= c->writeback_start)
    pthread_cond_signal (&c->work);
  pthread_rwlock_unlock (&e->rw);
  unpin (e);
  pthread_mutex_unlock (&c->lock);
  return 0;

fail:
  pthread_rwlock_unlock (&e->rw);
  pthread_mutex_lock (&c->lock);
  if (spare)
    unreserve (c, spare, cd->chunk_size);
  unpin (e);
  pthread_mutex_unlock (&c->lock);
  return -1;
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
  struct chunk_check cc = { .hash = hash, .size = cd->chunk_size };
  struct entry *e;
  bool copied = false;

  pthread_mutex_lock (&c->lock);
  e = lookup (cd, idx);
  if (e == NULL || !e->loaded || e->data == NULL) {
    pthread_mutex_unlock (&c->lock);
    return false;
  }
  pin (e);
  pthread_mutex_unlock (&c->lock);
  pthread_rwlock_rdlock (&e->rw);
  if (e->loaded && e->data) {
    memcpy (buf, e->data, cd->chunk_size);
    copied = true;
  }
  pthread_rwlock_unlock (&e->rw);
  pthread_mutex_lock (&c->lock);
  unpin (e);
  pthread_mutex_unlock (&c->lock);
  return copied && check_chunk (&cc, buf, cd->chunk_size);
}

int
cache_refresh (struct cache_disk *cd, const struct map_entry *entries, size_t n,
               double uploaded)
{
  uint8_t *buf = malloc (cd->chunk_size);
  char key[KEY_MAX_LEN], hex[HASH_HEX_LEN + 1];
  size_t i, len, count = 0;
  int r, status = -1;

  if (buf == NULL) {
    s3cow_log_error ("%s: out of memory", cd->name);
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (hash_is_zero (entries[i].hash))
      continue;
    key_chunk (key, entries[i].hash);
    hash_to_hex (entries[i].hash, hex);
    if (!copy_cached (cd, entries[i].idx, entries[i].hash, buf)) {
      struct chunk_check cc
          = { .hash = entries[i].hash, .size = cd->chunk_size };

      /* Checked as load() checks: damage on the way is retried. */
      r = store_get_checked (cd->cache->store, key, buf, cd->chunk_size, &len,
                             check_chunk, &cc);
      if (r == STORE_OK && !cc.checked)
        check_chunk (&cc, buf, len);
      if (r == STORE_OK && !cc.ok)
        r = STORE_PERMANENT;
      if (r != STORE_OK) {
        s3cow_log_error ("%s: chunk %" PRIu64 ": %s, uploaded %.0f s ago and "
                         "not committed yet, is %s and no longer in memory: "
                         "it cannot be uploaded again before the commit",
                         cd->name, entries[i].idx, key,
                         monotonic_now () - uploaded,
                         r == STORE_NOT_FOUND ? "gone from the bucket "
                                                "(deleted by s3cow gc?)"
                                              : "unreadable");
        goto out;
      }
    }
    if (store_put (cd->cache->store, key, buf, cd->chunk_size, hex, NULL)
        != STORE_OK)
      goto out;
    count++;
  }
  s3cow_debug (commit,
               "%s: uploaded again %zu chunks uploaded %.0f s ago "
               "and not committed yet",
               cd->name, count, monotonic_now () - uploaded);
  status = 0;

out:
  free (buf);
  return status;
}

bool
cache_is_zero (struct cache_disk *cd, uint64_t idx)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cd->cache->lock);
  struct entry *e = lookup (cd, idx);

  if (e && e->loaded)
    return e->data == NULL;
  return chunkmap_is_zero (cd->map, idx);
}

bool
cache_is_local (struct cache_disk *cd, uint64_t idx)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cd->cache->lock);
  struct entry *e = lookup (cd, idx);

  if (e)
    return e->loaded;
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
}

uint64_t
cache_dirty_chunks (struct cache_disk *cd)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cd->cache->lock);

  return cd->ndirty;
}
