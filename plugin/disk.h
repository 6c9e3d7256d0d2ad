/* s3cow: one disk: its head, chunk map and commits, over the shared cache.
 *
 * A disk is opened once per server and shared by all its connections.
 * Writes go to the cache; disk_flush makes them durable:
 *
 *   1. cache_flush: upload the dirty chunks (in parallel);
 *   2. write the changed map entries as a new immutable map object (a delta,
 *      or now and then a full base that replaces the list);
 *   3. compare-and-swap the head on the etag this process last committed.
 *
 * A crash anywhere leaves the last committed head intact.  Step 3 is also
 * the fence: if the head changed under us, another writer owns the disk, so
 * this process stops writing it (every write and flush fails with EIO).
 */
#ifndef S3COW_DISK_H
#define S3COW_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "crypto.h"
#include "store.h"

struct disk_config {
  const char *name;           /* disk name (valid) */
  const char *snap;           /* snapshot name, or "" */
  bool at_time;               /* DISK@TIME: the disk as last committed at
                               * or before time (history.h), read-only */
  int64_t time;               /* unix seconds */
  bool readonly;              /* a snapshot is always read-only */
  uint64_t create_size;       /* create if missing with this size; 0: don't */
  bool exact_size;            /* the server serves this disk only (export=):
                               * an existing disk must have create_size, if
                               * given, and a missing one is created by
                               * size=, not new-disk-size= */
  uint32_t create_chunk_size; /* chunk size for a new disk */
  double commit_interval;     /* seconds between background commits */
  double gc_grace;            /* the shortest grace s3cow gc runs with */
  double put_time;            /* the longest one store PUT may take
                               * (retry-time + timeout) */
  double lease_duration;      /* seconds (read-write opens take a lease) */
  double lease_wait;          /* seconds to wait for a live lease holder */
  bool prefetch;              /* working-set hints (workingset.h) */
  /* The key of an encrypted disk (NULL: none).  A disk created here is
   * encrypted under it.  Kept by the caller until disk_close.
   */
  const struct crypto *crypto;
};

struct disk;

/* Check that a disk exists (creating it if config->create_size says so)
 * with the size asked for, without opening it; *chunk_size is its chunk
 * size.  0, or -1 after logging.
 */
int disk_check (struct store *store, const struct disk_config *config,
                uint32_t *chunk_size);

/* Open (or create) a disk: take its lease unless read-only (and start
 * renewing it at once), read its head and maps, and, read-write, when
 * the lease was not released cleanly by its last holder, rewrite the head
 * once, so that a previous holder that lost the lease can no longer
 * commit ("Fencing" in disk.c).  An open that finds a released lease and
 * writes nothing leaves the head alone.  NULL after logging.
 */
struct disk *disk_open (struct store *store, struct cache *cache,
                        const struct disk_config *config);

/* Start the background commit thread (after nbdkit forks).  0 or -1. */
int disk_start (struct disk *disk);

/* Flush and commit what is dirty, stop the threads, wait for the kept
 * copy of the last commit (history; a failure is logged), release the
 * lease (or, if the last head PUT may still land, let it expire), free
 * everything.
 * Returns 0, or -1 if the final commit failed (logged: data lost).
 */
int disk_close (struct disk *disk);

uint64_t disk_size (const struct disk *disk);
uint32_t disk_chunk_size (const struct disk *disk);
bool disk_readonly (const struct disk *disk);

/* I/O.  Return 0, or -1 with errno set after logging.  Once a read-write
 * server knows or must assume that it lost the disk (its lease lost, or
 * expired by its own clock; fenced), reads fail with EIO too, as do
 * writes and flushes.
 */
int disk_pread (struct disk *disk, void *buf, uint32_t count, uint64_t offset);
int disk_pwrite (struct disk *disk, const void *buf, uint32_t count,
                 uint64_t offset, bool fua);
/* With fast (NBD's fast zero), fails with ENOTSUP, without logging, if a
 * chunk only partly zeroed would first have to be read from the store.
 */
int disk_zero (struct disk *disk, uint32_t count, uint64_t offset, bool fua,
               bool fast);
int disk_flush (struct disk *disk);

/* May this server serve reads of the disk now (see disk_pread)?  0, or
 * -1 with errno EIO after logging.
 */
int disk_may_read (struct disk *disk);

/* True if the chunk containing offset reads as zeros without data. */
bool disk_is_zero_chunk (struct disk *disk, uint64_t offset);

#endif /* S3COW_DISK_H */
