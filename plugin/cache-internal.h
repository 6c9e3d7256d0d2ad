/* s3cow: the chunk cache's private header, shared by its files:
 *
 *   cache.c       the core: create and free, attach and detach, read
 *                 and write
 *   entry.c       entries: states, hash table, LRU and dirty lists, pins,
 *                 create, destroy, load
 *   pool.c        chunk buffers, the memory budget, the filler thread
 *   readahead.c   sequential streams and the read-ahead threads
 *   writeback.c   upload threads, flush, and uploading again (refresh)
 *   workers.c     starting those threads, as many as their in-flight
 *                 controllers (inflight.h) ask for
 *   tier.c        offers of clean chunks to the disk tier (cache-dir=)
 *
 * and, below them, chunks.c (content addressing: the only way to the
 * store) and disktier.c (the files of the tier).
 *
 * Locking (all files).  cache->lock protects every field marked (L): the
 * hash table, the lists, the counters, the queues, and each entry's pins,
 * state and list links.  An entry's rw lock protects its data bytes:
 * readers, the uploader and tier writes take it shared, writers and the
 * loader exclusive.  Fields marked (L+wr) change only with both the
 * entry's exclusive lock and cache->lock held, so either lock is enough
 * to read them.  Lock order: entry rw lock, then cache->lock, then the
 * chunk map's lock or the disk tier's lock.  A thread takes an entry's rw
 * lock only while it holds a pin on it and NOT cache->lock, except on an
 * entry it has just created (uncontended).  Pinned entries are never
 * evicted or freed.  No lock but an entry's own rw lock is held across
 * store or file I/O.
 *
 * Entry states (enum entry_state; (L), and (L+wr) into or out of LOADING):
 *
 *   state      meaning                       lists (e->on)      pins
 *   ---------  ----------------------------  -----------------  ------
 *   LOADING    being filled (loaded from     none               >= 1
 *              the store, or overwritten
 *              whole) by the holder of its
 *              exclusive lock; data may be
 *              NULL only for a whole zeroing
 *   CLEAN      same as the store             the LRU when       any
 *                                            unpinned, else
 *                                            none
 *   DIRTY      newer than the store          its disk's dirty   any
 *                                            list, by dirty_seq
 *   UPLOADING  dirty, and an uploader holds  its disk's dirty   >= 1
 *              it (still written to freely)  list
 *
 * In every state but LOADING, data == NULL means the chunk is all zeros
 * (no buffer).  An unpinned CLEAN entry without data is freed at once
 * (unpin), so the LRU holds only entries with a buffer.  entry_check
 * asserts this table (compiled unless NDEBUG).  The only transitions:
 * LOADING -> CLEAN (loaded), LOADING/CLEAN -> DIRTY (written), DIRTY ->
 * UPLOADING (picked), UPLOADING -> CLEAN (uploaded) or DIRTY (failed, or
 * written meanwhile); an entry in any state may be freed when unpinned
 * (a LOADING one whose load failed; any at detach).
 */
#ifndef S3COW_CACHE_INTERNAL_H
#define S3COW_CACHE_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "chunks.h"
#include "inflight.h"
#include "names.h"

enum entry_state {
  ENTRY_LOADING,
  ENTRY_CLEAN,
  ENTRY_DIRTY,
  ENTRY_UPLOADING,
};

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
  enum entry_state state;      /* (L; L+wr into or out of LOADING): read
                                * it with entry_state outside (L) */
  uint8_t *data;               /* (L+wr) chunk_size bytes; NULL: zeros */
  uint64_t dirty_seq;          /* (L) when it last became dirty, or the
                                * copy of its last upload was taken */
  uint32_t run_start, run_end; /* (L) the last run of contiguous writes */
  uint64_t version;            /* (L+wr) writes so far */
  double retry_at;             /* (L) after a failed upload: not before */
  double backoff;              /* (L) seconds, doubling per failure */
  bool readahead;              /* (L) made by read-ahead and not read yet:
                                * counted in cache->ra_bytes */
  bool prefetched;             /* (L) made by prefetch and not read yet:
                                * counted in cache->pf_bytes */
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

/* A chunk to read ahead. */
struct ra_item {
  struct cache_disk *cd;
  uint64_t idx;
  unsigned slot; /* its stream, and the stream's gen: */
  uint64_t gen;  /* a reused slot cancels the item */
  bool prefetch; /* from the disk's prefetch plan (slot unused) */
};

struct cache_disk {
  struct cache *cache;
  char *name;
  struct chunkmap *map;
  struct chunks *chunks; /* its chunks in the store */
  uint32_t chunk_size;
  uint32_t scratch_size;   /* a buffer for chunks_fetch or chunks_persist */
  struct cache_disk *next; /* (L) cache->disks */
  struct list dirty;       /* (L) sorted by dirty_seq */
  uint64_t ndirty;         /* (L) */
  uint64_t flush_target;   /* (L) upload now what is dirty since <= */
  uint64_t failures;       /* (L) failed uploads so far */
  struct ra_stream streams[RA_STREAMS]; /* (L) */
  uint64_t ra_clock;                    /* (L) */
  unsigned ra_inflight;                 /* (L) read-ahead loads running */
  uint64_t *plan;                       /* (L) chunks to prefetch, in order */
  size_t plan_len, plan_pos;            /* (L) and the next one to queue */
  unsigned tier_inflight;               /* (L) tier writes running */
};

/* A free buffer on the pool (pool.c). */
struct free_buffer {
  uint8_t *p;
  uint32_t size;
  bool touched; /* its pages are mapped: no page fault on first use */
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
  struct list lru;          /* (L) clean, unpinned, with data */
  struct cache_disk *disks; /* (L) */
  struct free_buffer *pool; /* (L) unused buffers, counted in used */
  size_t npool, pool_cap;   /* (L) buffers on the pool, and room */
  uint64_t pool_touched;    /* (L) bytes of touched pooled buffers */
  uint32_t fill_size;       /* (L) the buffer size last asked for */
  pthread_cond_t fill_work; /* (L) a buffer was taken, or stop */
  bool fill_started;
  pthread_t fill_thread;
  uint64_t ra_max;                /* read-ahead bytes at most; 0: none */
  uint64_t ra_bytes;              /* (L) chunks queued, loading, or loaded
                                   * by read-ahead and not read yet */
  uint64_t pf_max;                /* prefetch bytes at most; 0: none */
  uint64_t pf_bytes;              /* (L) chunks queued, loading, or loaded
                                   * by prefetch and not read yet */
  struct ra_item *raq;            /* (L) ring of ra_cap items */
  size_t ra_cap, ra_head, ra_len; /* (L) */
  pthread_cond_t ra_work;         /* (L) the ring is not empty, or stop */
  struct inflight ra_ctl;         /* (L) read-ahead loads to keep in flight */
  unsigned ra_running, ra_peak;   /* (L) loads from the store running, and
                                   * the most at once so far */
  unsigned ra_nthreads;           /* read-ahead threads at most */
  unsigned ra_started;            /* (L) threads started so far */
  pthread_t *ra_threads;          /* (L) ra_nthreads of them */
  struct disktier *tier;          /* NULL: no cache-dir= */
  struct tier_item tierq[TIER_QUEUE]; /* (L) ring */
  unsigned tier_head, tier_len;       /* (L) */
  uint64_t tier_bytes, tier_max;      /* (L) bytes queued, and at most */
  pthread_cond_t tier_work;           /* (L) tierq not empty, or stop */
  bool tier_started;
  pthread_t tier_thread;
  bool failing; /* (L) the last upload failed */
  bool stop;    /* (L) threads must exit */
  double wait_timeout;
  struct chunk_compression compression; /* of new chunk objects */
  pthread_cond_t slot;                  /* (L) a target grew, or stop: for
                                         * threads past their target (not
                                         * woken by every new piece of
                                         * work) */
  struct inflight up_ctl;               /* (L) uploads to keep in flight */
  unsigned up_running, up_peak;         /* (L) uploads running, and the
                                         * most at once so far */
  unsigned nthreads;                    /* upload threads at most */
  unsigned started;                     /* (L) started so far */
  pthread_t *threads;                   /* (L) nthreads of them */
};

/* ---- entries (cache.c); cache->lock held unless said otherwise ---- */

/* e's state, read without cache->lock by a thread holding e's rw lock
 * (which keeps it in or out of LOADING).
 */
static inline enum entry_state
entry_state (const struct entry *e)
{
  return __atomic_load_n (&e->state, __ATOMIC_RELAXED);
}

static inline void
entry_set_state (struct entry *e, enum entry_state s)
{
  __atomic_store_n (&e->state, s, __ATOMIC_RELAXED);
}

/* Holds the chunk (any state but LOADING). */
static inline bool
entry_loaded (const struct entry *e)
{
  return entry_state (e) != ENTRY_LOADING;
}

/* Newer than the store (DIRTY or UPLOADING).  (L) */
static inline bool
entry_dirty (const struct entry *e)
{
  return e->state == ENTRY_DIRTY || e->state == ENTRY_UPLOADING;
}

/* Assert the table of states above.  (L) */
#ifndef NDEBUG
void entry_check (const struct entry *e);
#else
static inline void
entry_check (const struct entry *e __attribute__ ((unused)))
{}
#endif

/* For tests: assert the table for every entry, and that the counters
 * (dirty bytes and chunks, memory used) and lists agree with the entries.
 * Takes cache->lock.  Compiled unless NDEBUG (else it checks nothing).
 */
void cache_check_all (struct cache *c);

void entry_list_remove (struct entry *e);
void entry_list_append (struct list *l, struct entry *e);
void entry_dirty_insert (struct entry *e);
struct entry *entry_lookup (struct cache_disk *cd, uint64_t idx);
struct entry *entry_create (struct cache_disk *cd, uint64_t idx, uint8_t *data);
void entry_destroy (struct entry *e);
void entry_pin (struct entry *e);
void entry_unpin (struct entry *e);
/* Entry lock held exclusively, cache->lock NOT held; scratch: the disk's
 * scratch_size bytes, reserved by the caller.
 */
int entry_load (struct entry *e, uint8_t *hash, uint8_t *scratch);

/* ---- buffers (pool.c); cache->lock held ---- */

uint8_t *pool_take (struct cache *c, uint32_t size);
void pool_put (struct cache *c, uint8_t *p, uint32_t size);
void *pool_fill_thread (void *cache);
bool pool_shrink (struct cache *c);
uint8_t *pool_take_evicting (struct cache *c, uint32_t size);
int pool_reserve_pair (struct cache *c, uint32_t size1, uint8_t **p1,
                       uint32_t size2, uint8_t **p2);
uint8_t *pool_reserve (struct cache *c, uint32_t size);
void pool_unreserve (struct cache *c, uint8_t *p, uint32_t size);

/* ---- read-ahead (readahead.c); cache->lock held ---- */

void readahead_note (struct cache_disk *cd, uint64_t idx, struct entry *e);
void *readahead_thread (void *arg);
void readahead_drop (struct cache_disk *cd);
void prefetch_feed (struct cache_disk *cd);

/* ---- write-back (writeback.c); cache->lock held ---- */

bool writeback_whole (const struct entry *e);
void *writeback_thread (void *arg);
int writeback_wait_for_room (struct cache *c);

/* ---- threads (workers.c); cache->lock held ---- */

/* Start threads until each kind has as many as its controller's target
 * (never past its maximum), unless the cache is stopping, and wake those
 * waiting for a slot.  A thread that cannot be started is logged (debug)
 * and tried again at the next change; the others keep working.
 */
void workers_grow (struct cache *c);

/* A read-ahead load or upload of bytes ended after seconds with work
 * waiting (backlog) or not: feed the controller, and follow it.
 */
void workers_readahead_done (struct cache *c, double seconds, uint64_t bytes,
                             bool backlog);
void workers_upload_done (struct cache *c, double seconds, uint64_t bytes,
                          bool backlog);

/* The controllers' targets, latencies and the peaks, for stats=. */
void workers_gauges (struct cache *c, struct stats_gauges *g);

/* ---- disk tier (tier.c); cache->lock held ---- */

bool tier_offer (struct entry *e, const uint8_t *hash, unsigned room);
void tier_write (struct cache *c, struct entry *e, const uint8_t *hash,
                 uint64_t version);
void *tier_thread (void *arg);
void tier_drop (struct cache *c, struct cache_disk *cd);

#endif /* S3COW_CACHE_INTERNAL_H */
