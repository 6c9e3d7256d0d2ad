/* s3cow: a disk's private header, shared by its two files:
 *
 *   disk.c         open (the head read, the lease taken, the head claimed)
 *                  and close, fencing, and the I/O of the connections
 *   disk_commit.c  commits: what to commit and when, the map object and
 *                  the head written, the gc-grace guard, the commit thread
 *
 * Nothing else includes it: the rest of s3cow sees disk.h only.
 *
 * Locking: commit_lock serialises commits and protects vh (the head, its
 * etag, a head PUT whose answer was lost) and the map entry counts;
 * fenced is read without it (atomically).  The cache and chunk map have
 * their own locks.
 */
#ifndef S3COW_DISK_INTERNAL_H
#define S3COW_DISK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "chunkmap.h"
#include "crypto.h"
#include "disk.h"
#include "lease.h"
#include "names.h"
#include "store.h"
#include "volume.h"
#include "workingset.h"

struct disk {
  struct store *store;
  struct cache *cache;
  struct cache_disk *cd;
  struct chunkmap *map;
  char name[NAME_MAX_LEN + 1];
  char label[2 * NAME_MAX_LEN + 2]; /* "disk" or "disk@snap" for logs */
  char instance[17]; /* random: makes this process's map keys unique */
  bool readonly;
  double commit_interval;
  double gc_grace, put_time;   /* see "gc-grace" in disk_commit.c */
  uint64_t size;               /* never change after open: the I/O paths */
  uint32_t chunk_size;         /* read these, not head (commit_lock) */
  struct lease *lease;         /* NULL when read-only */
  const struct crypto *crypto; /* the disk's key (NULL: not encrypted) */
  struct workingset *ws;       /* NULL: no hints */

  pthread_mutex_t commit_lock; /* protects the fields below */
  struct volume_head vh;       /* the head: last committed, etag, stray */
  uint64_t base_entries;       /* entries in vh.head.maps[0] */
  uint64_t delta_entries;      /* entries in vh.head.maps[1..] */
  atomic_bool fenced;          /* another writer owns the head: write no more */
  atomic_bool expired;         /* the lease is expired (logged once) */

  pthread_mutex_t thread_lock; /* protects stop, and wakes the thread */
  pthread_cond_t thread_cond;
  bool stop;
  bool started;        /* disk_start ran */
  bool thread_started; /* the commit thread runs */
  pthread_t thread;
};

/* Another writer owns the disk: from now on this server serves nothing
 * of it (logged once, with why).  In disk.c.
 */
void disk_fence (struct disk *d, const char *why);

/* Does this server still own the disk: may it serve reads and writes
 * now?  If not: false, errno EIO, and a log line when the state starts.
 * A read-only open holds no lease and always may.  In disk.c.
 */
bool disk_owned (struct disk *d);

/* The background commit thread (arg: the disk), started by disk_start
 * and stopped by disk_close (stop, under thread_lock).  In disk_commit.c.
 */
void *disk_commit_thread (void *arg);

#endif /* S3COW_DISK_INTERNAL_H */
