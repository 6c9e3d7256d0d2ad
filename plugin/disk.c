/* s3cow: one disk (see disk.h, disk-internal.h): open and close, the
 * lease and fencing, and the reads and writes of the connections.
 * Commits (disk_flush: what to commit and when, the map and head writes,
 * the gc-grace guard, the commit thread) are disk_commit.c's.
 *
 * Fencing: who may commit, and when an open writes the head.  Only the
 * lease holder commits, and each commit is a compare-and-swap (If-Match)
 * on the etag of the head this server last read or wrote, so a commit
 * lands only on the state this server serves.  What is left is a previous
 * holder H that still believes its lease valid, or has a head PUT under
 * way, when a new holder N takes the lease.  N looks at how it took it:
 *
 *   - from a lease object marked "released": H released it in disk_close
 *     after its commit thread stopped and its final commit returned, and
 *     only when no head PUT it sent may land any more ("stray": every
 *     PUT whose answer it did not get carried If-Match on an etag that
 *     has since been replaced, by a later PUT of H that landed or by
 *     another writer).  So N reads the head and writes nothing at open:
 *     an open that only reads costs no head PUT and leaves the generation
 *     and commit time alone.  (H whose last head PUT may still land, a
 *     commit or the claim of an open that failed, does not release: its
 *     lease expires, and N takes it over as below.)
 *   - by taking over a stale or unreadable lease, or with no lease
 *     object at all (never taken, or deleted by s3cow unlock --force
 *     while H may live): N rewrites the head (claim_head, If-Match on
 *     the etag it read under the lease) before it serves anything.  A
 *     PUT of H that lands after that claim fails (412) and fences H; one
 *     that lands before it makes the claim fail, and N reads the head
 *     and maps again and claims again.  So N serves a state that
 *     includes every commit of H, and H can commit nothing after it.
 *
 * Reads too stop once this server knows or must assume that it lost the
 * lease (lost, expired by its own clock, or fenced): another writer may
 * have changed the disk since, and what this server holds (committed
 * data replaced since, writes never committed) is no longer the disk.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "chunkmap.h"
#include "cleanup.h"
#include "disk-internal.h"
#include "format.h"
#include "history.h"
#include "lease.h"
#include "log.h"
#include "names.h"
#include "timedwait.h"
#include "volume.h"
#include "workingset.h"

static void
make_instance (char *instance)
{
  uint8_t r[8];
  size_t i;

  if (getrandom (r, sizeof r, 0) != sizeof r) {
    uint64_t t = (uint64_t)time (NULL) ^ ((uint64_t)getpid () << 32);
    memcpy (r, &t, sizeof r);
  }
  for (i = 0; i < sizeof r; i++)
    sprintf (instance + 2 * i, "%02x", r[i]);
}

/* Read the map objects named by the head into d->map. */
static int
load_maps (struct disk *d)
{
  uint64_t nchunks = head_nchunks (&d->vh.head);
  uint32_t i;

  d->base_entries = d->delta_entries = 0;
  for (i = 0; i < d->vh.head.nmaps; i++) {
    CLEANUP_FREE void *data = NULL;
    CLEANUP_FREE struct map_entry *entries = NULL;
    size_t len, n;
    bool full;
    int r;

    r = store_get_alloc (d->store, d->vh.head.maps[i],
                         map_max_size (nchunks, d->vh.head.encrypted), &data,
                         &len, NULL);
    if (r == STORE_NOT_FOUND)
      s3cow_log_error ("%s: map %s named by the head is missing", d->label,
                       d->vh.head.maps[i]);
    if (r != STORE_OK)
      return -1;
    if (map_decode (d->vh.head.maps[i], data, len, d->vh.head.chunk_size,
                    nchunks, &entries, &n, &full)
            == -1
        || (d->crypto
            && object_check_mac (d->crypto, d->vh.head.maps[i], data, len)
                   == -1))
      return -1;
    chunkmap_load (d->map, entries, n);
    if (i == 0)
      d->base_entries = n;
    else
      d->delta_entries += n;
  }
  return 0;
}

/* A new chunk map for the head, filled from its maps. */
static int
load_head_maps (struct disk *d)
{
  d->map = chunkmap_new (head_nchunks (&d->vh.head));
  if (d->map == NULL) {
    s3cow_log_error ("%s: no memory for the map of %" PRIu64 " chunks",
                     d->label, head_nchunks (&d->vh.head));
    return -1;
  }
  return load_maps (d);
}

static int
read_head (struct disk *d, const struct disk_config *config)
{
  CLEANUP_FREE void *data = NULL;
  size_t len;
  int r;

  if (config->at_time) {
    struct name_ref ref = { .at_time = true, .time = config->time };

    snprintf (ref.disk, sizeof ref.disk, "%s", config->name);
    r = history_read_ref (d->store, &ref, true, config->crypto, &d->vh.head,
                          d->vh.key);
    if (r == STORE_NOT_FOUND)
      s3cow_log_error ("disk %s does not exist", config->name);
    return r == STORE_OK ? 0 : -1;
  }
  r = store_get_alloc (d->store, d->vh.key, HEAD_MAX_SIZE, &data, &len,
                       d->vh.etag);
  if (r == STORE_NOT_FOUND && config->create_size && !config->snap[0]) {
    bool created;

    if (volume_create_if_absent (d->store, d->name, config->create_size,
                                 config->create_chunk_size,
                                 HEAD_HISTORY_DEFAULT, config->crypto, &created)
        == -1)
      return -1;
    if (created)
      s3cow_log_debug (
          "%s: created disk: %" PRIu64 " bytes, chunk size %" PRIu32, d->label,
          config->create_size, config->create_chunk_size);
    r = store_get_alloc (d->store, d->vh.key, HEAD_MAX_SIZE, &data, &len,
                         d->vh.etag);
  }
  if (r == STORE_NOT_FOUND) {
    if (config->snap[0])
      s3cow_log_error ("snapshot %s does not exist", d->label);
    else
      s3cow_log_error ("disk %s does not exist (%s)", d->label,
                       config->exact_size
                           ? "give size= to create it"
                           : "a server with new-disk-size= creates it");
    return -1;
  }
  if (r != STORE_OK)
    return -1;
  if (head_decode (d->vh.key, data, len, &d->vh.head) == -1)
    return -1;
  /* Before anything of the disk is used: its key, and that the head is
   * what that key wrote.
   */
  if (history_check_head (d->vh.key, d->label, config->crypto, &d->vh.head,
                          data, len)
      != STORE_OK)
    return -1;
  if (config->exact_size && config->create_size
      && config->create_size != d->vh.head.size) {
    s3cow_log_error ("disk %s exists with size %" PRIu64
                     ", not the size=%" PRIu64
                     " given (resize it with s3cow resize)",
                     d->label, d->vh.head.size, config->create_size);
    return -1;
  }
  return 0;
}

/* The fields of d that name the disk. */
static void
init_names (struct disk *d, const struct disk_config *config)
{
  struct name_ref ref = { .at_time = config->at_time, .time = config->time };

  snprintf (d->name, sizeof d->name, "%s", config->name);
  snprintf (ref.disk, sizeof ref.disk, "%s", config->name);
  snprintf (ref.snap, sizeof ref.snap, "%s", config->snap);
  name_ref_label (&ref, d->label);
  if (config->snap[0])
    key_snap (d->vh.key, config->name, config->snap);
  else
    key_head (d->vh.key, config->name);
}

int
disk_check (struct store *store, const struct disk_config *config,
            uint32_t *chunk_size)
{
  CLEANUP_FREE struct disk *d = calloc (1, sizeof *d);

  if (d == NULL) {
    s3cow_log_error ("calloc: %m");
    return -1;
  }
  d->store = store;
  init_names (d, config);
  if (read_head (d, config) == -1)
    return -1;
  *chunk_size = d->vh.head.chunk_size;
  return 0;
}

/* Rewrite the head (compare-and-swap) right after taking over the lease:
 * from now on, a commit by a writer that lost the lease fails (see
 * "Fencing" at the top).  If the head changed since we read it, read it
 * and the maps again.
 */
static int
claim_head (struct disk *d, const struct disk_config *config)
{
  int attempt;

  for (attempt = 0; attempt < 5; attempt++) {
    struct head next = d->vh.head;
    int r;

    next.generation++;
    next.committed = time (NULL);
    r = volume_commit_head (d->store, &d->vh, &next);
    if (r != VOLUME_CHANGED)
      return r;
    /* Someone committed just before we took the lease: start over. */
    chunkmap_free (d->map);
    d->map = NULL;
    if (read_head (d, config) == -1 || load_head_maps (d) == -1)
      return -1;
  }
  s3cow_log_error ("%s: the head keeps changing under us although we hold "
                   "the lease",
                   d->label);
  return -1;
}

struct disk *
disk_open (struct store *store, struct cache *cache,
           const struct disk_config *config)
{
  struct disk *d = calloc (1, sizeof *d);

  if (d == NULL) {
    s3cow_log_error ("calloc: %m");
    return NULL;
  }
  d->store = store;
  d->cache = cache;
  init_names (d, config);
  d->readonly = config->readonly || config->snap[0] || config->at_time;
  d->commit_interval = config->commit_interval;
  d->gc_grace = config->gc_grace;
  d->put_time = config->put_time;
  d->crypto = config->crypto;
  d->vh.crypto = config->crypto;
  d->vh.keep_in_background = true;
  make_instance (d->instance);
  pthread_mutex_init (&d->commit_lock, NULL);
  pthread_mutex_init (&d->thread_lock, NULL);
  errno = cond_init_monotonic (&d->thread_cond);
  if (errno != 0) {
    s3cow_log_error ("pthread_cond_init: %m");
    pthread_mutex_destroy (&d->commit_lock);
    pthread_mutex_destroy (&d->thread_lock);
    free (d);
    return NULL;
  }

  if (!d->readonly) {
    /* A missing disk (not to be created) is an error before the lease:
     * else every name a client asks for leaves a lease object behind.
     * The head is read again below, under the lease.
     */
    if (read_head (d, config) == -1)
      goto fail;
    /* Before anything is uploaded: s3cow gc honours this grace. */
    if (volume_record_grace (store, d->gc_grace) == -1)
      goto fail;
    d->lease = lease_acquire (
        store, &(struct lease_config){ .disk = d->name,
                                       .instance = d->instance,
                                       .duration = config->lease_duration,
                                       .wait = config->lease_wait });
    /* Renew from now on: reading the maps and claiming the head may take
     * longer than the lease lasts.
     */
    if (d->lease == NULL || lease_start (d->lease) == -1)
      goto fail;
  }
  if (read_head (d, config) == -1 || load_head_maps (d) == -1)
    goto fail;
  /* See "Fencing" at the top. */
  if (!d->readonly && !lease_from_released (d->lease)
      && claim_head (d, config) == -1)
    goto fail;
  d->size = d->vh.head.size;
  d->chunk_size = d->vh.head.chunk_size;
  d->cd = cache_attach (cache, d->label, d->map, d->chunk_size, d->crypto);
  if (d->cd == NULL)
    goto fail;
  if (config->prefetch && !config->at_time)
    d->ws = workingset_open (store, d->cd, config->name, config->snap,
                             &d->vh.head);
  s3cow_debug (commit,
               "%s: opened generation %" PRIu64 ", %" PRIu32 " maps, %" PRIu64
               " chunks in use",
               d->label, d->vh.head.generation, d->vh.head.nmaps,
               chunkmap_nonzero (d->map));
  return d;

fail:
  (void)volume_head_keep_wait (&d->vh);
  /* A claim that may still land: let the lease expire, so that the next
   * holder claims the head too ("Fencing" at the top).
   */
  if (d->vh.stray)
    lease_drop (d->lease);
  else
    lease_release (d->lease);
  volume_head_clear (&d->vh);
  chunkmap_free (d->map);
  pthread_mutex_destroy (&d->commit_lock);
  pthread_mutex_destroy (&d->thread_lock);
  pthread_cond_destroy (&d->thread_cond);
  free (d);
  return NULL;
}

uint64_t
disk_size (const struct disk *d)
{
  return d->size;
}

uint32_t
disk_chunk_size (const struct disk *d)
{
  return d->chunk_size;
}

bool
disk_readonly (const struct disk *d)
{
  return d->readonly;
}

void
disk_fence (struct disk *d, const char *why)
{
  if (!atomic_exchange (&d->fenced, true))
    s3cow_log_error ("%s: %s: another writer owns this disk now; this server "
                     "will not serve it again (reads, writes and flushes "
                     "fail with EIO)",
                     d->label, why);
}

/* Does this server still own the disk: may it serve reads and writes
 * now?  If not: false, errno EIO, and a log line when the state starts.
 * A read-only open holds no lease and always may.
 */
bool
disk_owned (struct disk *d)
{
  if (d->lease) {
    switch (lease_state (d->lease)) {
    case LEASE_LOST:
      disk_fence (d, "lease lost");
      break;
    case LEASE_EXPIRED:
      if (!atomic_exchange (&d->expired, true))
        s3cow_log_error ("%s: lease not renewed in time: reads, writes and "
                         "flushes fail until a renewal succeeds",
                         d->label);
      errno = EIO;
      return false;
    case LEASE_VALID:
      if (atomic_exchange (&d->expired, false))
        s3cow_log_error ("%s: lease renewed: I/O resumes", d->label);
      break;
    }
  }
  if (atomic_load (&d->fenced)) {
    errno = EIO;
    return false;
  }
  return true;
}

int
disk_start (struct disk *d)
{
  int err;

  workingset_start (d->ws);
  if (d->readonly || d->started)
    return 0;
  d->started = true;
  /* Even with commit-interval=0: see "gc-grace" in disk_commit.c, (3). */
  err = pthread_create (&d->thread, NULL, disk_commit_thread, d);
  if (err != 0) {
    errno = err;
    s3cow_log_error ("%s: cannot start the commit thread: %m", d->label);
    return -1;
  }
  d->thread_started = true;
  return 0;
}

int
disk_close (struct disk *d)
{
  int r = 0;

  if (d->thread_started) {
    pthread_mutex_lock (&d->thread_lock);
    d->stop = true;
    pthread_cond_signal (&d->thread_cond);
    pthread_mutex_unlock (&d->thread_lock);
    pthread_join (d->thread, NULL);
  }
  if (!d->readonly && !atomic_load (&d->fenced)
      && (cache_dirty_chunks (d->cd) > 0 || chunkmap_changed (d->map) > 0)) {
    r = disk_flush (d);
    if (r == -1)
      s3cow_log_error ("%s: final commit failed: writes since the last "
                       "successful flush are lost",
                       d->label);
  }
  /* The kept copy of the last commit (history): a failure is logged, and
   * the next writer writes it before it replaces the head.
   */
  (void)volume_head_keep_wait (&d->vh);
  /* Released only when no head PUT of ours can land any more: see
   * "Fencing" at the top.  Else the lease expires.
   */
  if (d->lease && d->vh.stray) {
    s3cow_log_error ("%s: the last commit may still land: leaving the lease "
                     "to expire (%.0f s) instead of releasing it",
                     d->label, lease_duration (d->lease));
    lease_drop (d->lease);
  } else
    lease_release (d->lease);
  workingset_close (d->ws);
  cache_detach (d->cd);
  chunkmap_free (d->map);
  volume_head_clear (&d->vh);
  pthread_mutex_destroy (&d->commit_lock);
  pthread_mutex_destroy (&d->thread_lock);
  pthread_cond_destroy (&d->thread_cond);
  free (d);
  return r;
}

int
disk_may_read (struct disk *d)
{
  return disk_owned (d) ? 0 : -1;
}

int
disk_pread (struct disk *d, void *buf, uint32_t count, uint64_t offset)
{
  const uint32_t cs = d->chunk_size;
  uint8_t *p = buf;

  if (!disk_owned (d))
    return -1;
  if (count > 0)
    workingset_note (d->ws, offset / cs, (offset + count - 1) / cs);
  while (count > 0) {
    uint32_t off = offset % cs, len = count < cs - off ? count : cs - off;
    if (cache_read (d->cd, offset / cs, off, len, p) == -1)
      return -1;
    p += len;
    offset += len;
    count -= len;
  }
  return 0;
}

/* Write buf (NULL: zeros) chunk by chunk. */
static int
write_or_zero (struct disk *d, const uint8_t *p, uint32_t count,
               uint64_t offset, bool fua)
{
  const uint32_t cs = d->chunk_size;

  if (!disk_owned (d))
    return -1;
  while (count > 0) {
    uint32_t off = offset % cs, len = count < cs - off ? count : cs - off;
    /* Zeros from the start of the last chunk to the end of the disk (its
     * size not a multiple of cs) zero the whole chunk: its bytes past the
     * end are zeros already, and the cache then needs not read the chunk
     * first (a GET, slow, and EIO if the store cannot give it).
     */
    uint32_t clen = p == NULL && off == 0 && offset + len == d->size ? cs : len;
    if (cache_write (d->cd, offset / cs, off, clen, p) == -1)
      return -1;
    if (p)
      p += len;
    offset += len;
    count -= len;
  }
  return fua ? disk_flush (d) : 0;
}

int
disk_pwrite (struct disk *d, const void *buf, uint32_t count, uint64_t offset,
             bool fua)
{
  return write_or_zero (d, buf, count, offset, fua);
}

int
disk_zero (struct disk *d, uint32_t count, uint64_t offset, bool fua, bool fast)
{
  const uint32_t cs = d->chunk_size;
  const uint64_t end = offset + count;

  /* Whole chunks become zero entries of the map; a partial one keeps its
   * other bytes, which a chunk not in memory must fetch first: not fast.
   * The last chunk zeroed up to the end of the disk is whole (see
   * write_or_zero).
   */
  if (fast && count > 0
      && ((offset % cs != 0 && !cache_is_local (d->cd, offset / cs))
          || (end % cs != 0 && end != d->size
              && !cache_is_local (d->cd, end / cs)))) {
    s3cow_debug (cache,
                 "%s: fast zero at %" PRIu64 " (%" PRIu32 " bytes): "
                 "a partial chunk is not in memory",
                 d->label, offset, count);
    errno = ENOTSUP;
    return -1;
  }
  return write_or_zero (d, NULL, count, offset, fua);
}

bool
disk_is_zero_chunk (struct disk *d, uint64_t offset)
{
  return cache_is_zero (d->cd, offset / d->chunk_size);
}
