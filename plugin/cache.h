/* s3cow: the chunk cache: an LRU of clean chunks and a bounded write-back
 * buffer of dirty chunks, shared by every disk of the server.
 *
 * All chunk data in memory lives here, inside the configured size.  Reads
 * load whole chunks from the store and check them against their address
 * (SHA-256); writes modify cached chunks (reading a chunk first only for a
 * partial write); background threads upload dirty chunks under their
 * content address and record the new hash in the disk's chunk map.  The
 * cache reaches the store only through chunks.h (content addressing).  It
 * never commits: the disk does that after cache_flush.
 *
 * Thread-safe.  No function holds a lock across store I/O except an entry's
 * own data lock (held by the thread that loads or uploads that one chunk).
 */
#ifndef S3COW_CACHE_H
#define S3COW_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk_codec.h"
#include "chunkmap.h"
#include "crypto.h"
#include "stats.h"
#include "store.h"

struct cache;
struct cache_disk;

struct cache_config {
  uint64_t size;                  /* bytes of chunk data in memory, at most */
  unsigned upload_threads;        /* uploads in flight, at least (and at
                                   * first) */
  unsigned upload_threads_max;    /* at most: between the two, they follow
                                   * the store's latency and throughput
                                   * (inflight.h); not above the least:
                                   * fixed */
  double wait_timeout;            /* seconds a writer waits for buffer space
                                   * while uploads are failing, before EIO */
  uint64_t readahead;             /* bytes read ahead of sequential readers,
                                   * at most (capped at size / 4); 0: none */
  unsigned readahead_threads;     /* loads of them (and prefetch) in flight,
                                   * at least (and at first); 0: none */
  unsigned readahead_threads_max; /* at most, as upload_threads_max */
  uint64_t prefetch;              /* bytes prefetched ahead of reads, at most
                                   * (capped at size / 2); 0: no prefetch */
  const char *tier_dir;           /* cache-dir=: local disk tier; NULL: none */
  uint64_t tier_size;             /* cache-dir-size: bytes of files, at most */
  struct chunk_compression compression; /* how new chunk objects are
                                         * written */
};

/* A new, empty cache (opening the disk tier, if any: see disktier.h).
 * NULL after logging on error.
 */
struct cache *cache_new (const struct cache_config *config,
                         struct store *store);

/* Start the upload and read-ahead threads (call after nbdkit forks): as
 * many as the least of each; more start later as they are needed.  0 or
 * -1 (logged).
 */
int cache_start (struct cache *cache);

/* Stop the threads and free everything.  Detach every disk first. */
void cache_free (struct cache *cache);

/* Register a disk whose chunks are chunk_size bytes and whose map is map
 * (the cache calls chunkmap_get and chunkmap_set on it).  name is for log
 * lines.  crypto: the key domain of an encrypted disk (NULL: none; kept
 * by the caller until cache_detach).  The cache must hold at least a few
 * chunks of this size: returns NULL after logging if cache-size is too
 * small.
 */
struct cache_disk *cache_attach (struct cache *cache, const char *name,
                                 struct chunkmap *map, uint32_t chunk_size,
                                 const struct crypto *crypto);

/* Drop every cached chunk of the disk.  Dirty chunks still there are lost:
 * they are counted in a log line.  No request of the disk may be running.
 */
void cache_detach (struct cache_disk *cd);

/* Read or write len bytes at offset off of chunk idx (off + len <= chunk
 * size).  buf NULL in cache_write writes zeros.  Return 0, or -1 with errno
 * set (EIO) after logging.
 */
int cache_read (struct cache_disk *cd, uint64_t idx, uint32_t off, uint32_t len,
                void *buf);
int cache_write (struct cache_disk *cd, uint64_t idx, uint32_t off,
                 uint32_t len, const void *buf);

/* Upload every chunk of the disk written before this call, in parallel,
 * and record their hashes in the chunk map.  Returns 0 when all of them are
 * durable in the store, or -1 with errno EIO (logged) if any upload failed
 * meanwhile; the chunks stay dirty and a later flush retries them.
 */
int cache_flush (struct cache_disk *cd);

/* Upload again the non-zero chunks of entries (from chunkmap_take; the
 * oldest was uploaded at monotonic time uploaded), from memory when the
 * cache holds them, else by reading them from the store (checked against
 * their hash), so that their modification time in the bucket is now: see
 * "gc-grace" in disk_commit.c.  Returns 0, or -1 (logged, naming the chunk) if
 * one cannot be read or uploaded.  Takes and drops the cache's locks;
 * does network I/O.
 */
int cache_refresh (struct cache_disk *cd, const struct map_entry *entries,
                   size_t n, double uploaded);

/* Load chunks idx[0..n) of the disk in the background, in this order, by
 * the read-ahead threads, keeping at most the cache's prefetch bytes
 * loaded and not yet read, ahead of the reads (disk.c: working-set
 * hints).  A read of a chunk being loaded waits for that load; chunks
 * already cached or all zeros are skipped.  Replaces an earlier plan.
 * 0, or -1 (ENOMEM, logged).
 */
int cache_prefetch (struct cache_disk *cd, const uint64_t *idx, size_t n);

/* True if chunk idx reads as zeros without any data (for extents). */
bool cache_is_zero (struct cache_disk *cd, uint64_t idx);

/* True if part of chunk idx can be written without reading the chunk from
 * the store first: it is in memory, or all zeros (for fast zero).
 */
bool cache_is_local (struct cache_disk *cd, uint64_t idx);

/* Memory and dirty bytes now, and the requests kept in flight, for
 * stats=.
 */
void cache_gauges (struct cache *cache, struct stats_gauges *gauges);

/* Dirty chunks of the disk now. */
uint64_t cache_dirty_chunks (struct cache_disk *cd);

#endif /* S3COW_CACHE_H */
