/* s3cow: a disk's commits (see disk.h, disk-internal.h): disk_flush,
 * what to commit and when, the map object and the head written, and the
 * commit thread.
 *
 * The head names the disk's map objects, applied in order onto an all-zero
 * disk.  A commit appends one delta map to the list; when the deltas grow
 * large (in count or in entries) it writes one full map instead, and the
 * list becomes just that map.  So a commit never writes a head of more
 * than MAX_DELTAS maps, whatever its chunks' ages (below), and never more
 * than HEAD_MAX_MAPS (checked before the map key is added).  A head over
 * that limit from an older s3cow still opens (format.h), and its next
 * commit is a full map.  Maps are immutable and their keys unique
 * (generation plus a random instance id), so a writer that lost the head
 * can never overwrite a map that the new owner's head names.
 *
 * Uncommitted chunks and gc ("gc-grace").  s3cow gc deletes unreferenced
 * chunks whose modification time (mtime) in the bucket is older than its
 * grace period G.  A chunk this server uploaded but has not committed yet
 * is unreferenced, so its upload must never be more than G old when a
 * head naming it lands, however long commits fail.  The chunk map keeps
 * the oldest upload start among the changed entries (chunkmap_oldest),
 * taken before the PUT, so never later than the object's mtime, and:
 *
 *   1. a commit that finds it older than G/4 uploads the changed chunks
 *      again first (cache_refresh: from memory, else read back and
 *      checked), so their mtime is recent (a full map names the others
 *      too, but the last head names those already);
 *   2. just before the head PUT is sent (at t_s), a commit whose oldest
 *      chunk (or its map, uploaded just before) is older than
 *      G - put_time - GC_MARGIN gives up (EIO); the next one uploads
 *      again (1);
 *   3. the commit thread commits at least every G/8 while chunks older
 *      than G/4 wait, even when commit-interval=0 or the chunk uploads of
 *      a flush fail, so that (1) runs in time.
 *
 * Why this is enough: the head PUT (and every retry of it) lands by
 * t_l <= t_s + put_time (s3_http.c: no attempt starts later than
 * retry-time after the call began, waiting for a connection included).
 * Each chunk the new head names that the last one did not has mtime
 * m >= t_s - (G - put_time - GC_MARGIN), so
 * m > t_l - G + GC_MARGIN.  A gc run that read its clock T0 <= t_l + 1
 * (S3 mtimes are whole seconds: 1 s of truncation) has cutoff T0 - G
 * < m - 1: the chunk is no candidate there (neither in its listing nor in
 * its HEAD before the DELETE).  A gc run with T0 > t_l marks from roots it
 * reads after T0, when the head naming the chunk is in place (or a later
 * one, which names what it needs).  Ages are measured on this machine's
 * monotonic clock against the store's clock: only durations are compared,
 * never clocks.  config_complete checks that G >= 2 (put_time + 2), so
 * that (2) leaves at least G/2 after a refresh.  What is not covered: a
 * server that cannot reach the store at all for longer than G while gc
 * can, and whose cache has since dropped those chunks (see s3cow(1)).
 *
 * What a commit writes, and how a lost answer is settled, is volume.h's
 * (volume_commit_head); what to commit and when is decided here.  Who may
 * commit (the lease, fencing) is disk.c's.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunkmap.h"
#include "cleanup.h"
#include "disk-internal.h"
#include "format.h"
#include "log.h"
#include "names.h"
#include "stats.h"
#include "timedwait.h"
#include "volume.h"

/* Compact into a full map when a commit would list more maps than this, or
 * when the deltas hold more entries than half the base plus this slack.
 */
#define MAX_DELTAS 32
#define DELTA_SLACK 4096
_Static_assert(MAX_DELTAS < HEAD_MAX_MAPS, "a head must hold MAX_DELTAS");

/* Seconds kept between the age a commit allows its chunks and gc-grace:
 * whole-second mtimes, and rounding.
 */
#define GC_MARGIN 2

/* Write the map entries changed since the last commit, then CAS the head.
 * The dirty chunks they name are already durable (cache_flush).
 */
static int
commit (struct disk *d)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->commit_lock);
  CLEANUP_FREE struct map_entry *entries = NULL;
  CLEANUP_FREE void *map_data = NULL;
  size_t n, map_len;
  char map_key[KEY_MAX_LEN];
  struct head next;
  uint64_t changed;
  bool full;
  double start, oldest = 0, map_start, age;
  int r;

  if (!disk_owned (d))
    goto eio;
  /* The last head PUT lost its answer: did it land? */
  r = volume_head_settle (d->store, &d->vh);
  if (r == VOLUME_CHANGED)
    disk_fence (d, "the head changed under us");
  if (r != 0)
    goto eio;
  changed = chunkmap_changed (d->map);
  if (changed == 0)
    return 0;
  start = monotonic_now ();
  full = d->vh.head.nmaps + 1 > MAX_DELTAS
         || d->delta_entries + changed > d->base_entries / 2 + DELTA_SLACK;
  if (chunkmap_take (d->map, false, &entries, &n, &oldest) == -1) {
    s3cow_log_error ("%s: commit: out of memory", d->label);
    goto eio;
  }

  /* 0. Changed chunks uploaded long ago (commits failed meanwhile, or
   * none was asked for): upload them again, so that gc cannot take them
   * before the head names them (see the top).  The unchanged ones are
   * named by the last head already.
   */
  if (oldest && monotonic_now () - oldest > d->gc_grace / 4) {
    double now = monotonic_now ();

    s3cow_log_error ("%s: chunks uploaded %.0f s ago are not committed yet "
                     "(gc-grace=%g): uploading them again",
                     d->label, now - oldest, d->gc_grace);
    if (cache_refresh (d->cd, entries, n, oldest) == -1)
      goto untake;
    oldest = now;
  }

  /* A full map names every chunk: mark the changed ones again, with their
   * upload time (refreshed or not), and take them all.  If the commit
   * fails, untake marks every entry of the full map changed.
   */
  if (full) {
    chunkmap_untake (d->map, entries, n, oldest);
    free (entries);
    entries = NULL;
    if (chunkmap_take (d->map, true, &entries, &n, &oldest) == -1) {
      s3cow_log_error ("%s: commit: out of memory", d->label);
      goto eio; /* the marks stay */
    }
  }

  /* The kept copy of the head this commit replaces (history.h), when a
   * first commit needs it: under way while the map is written.
   */
  volume_head_keep_start (d->store, &d->vh);

  /* 1. The map object: a new key, written once. */
  next = d->vh.head;
  next.generation++;
  next.committed = time (NULL);
  key_map (map_key, d->name, next.generation, d->instance);
  if (map_encode (entries, n, full, d->vh.head.chunk_size,
                  head_nchunks (&d->vh.head), d->crypto, map_key, &map_data,
                  &map_len)
      == -1) {
    s3cow_log_error ("%s: commit: out of memory", d->label);
    goto untake;
  }
  map_start = monotonic_now ();
  if (store_put (d->store, map_key, map_data, map_len, NULL, NULL) != STORE_OK)
    goto untake;

  /* That kept copy must exist before the head is replaced: wait for it
   * (written again if it failed), now: the check of age below must come
   * just before the head PUT.
   */
  if (volume_head_keep (d->store, &d->vh) == -1) {
    s3cow_log_error ("%s: commit of generation %" PRIu64 " failed: the "
                     "history needs the kept copy of generation %" PRIu64
                     " first; the next flush retries",
                     d->label, next.generation, d->vh.head.generation);
    goto untake;
  }

  /* 2. The head, compare-and-swap, if we still hold the lease, and if
   * gc cannot have taken what it names before it lands (see the top).
   */
  if (!disk_owned (d))
    goto untake;
  age = monotonic_now () - (oldest ? fmin (oldest, map_start) : map_start);
  if (age > d->gc_grace - d->put_time - GC_MARGIN) {
    s3cow_log_error ("%s: commit of generation %" PRIu64 " given up: what it "
                     "names was uploaded %.0f s ago, too close to gc-grace="
                     "%g; the next commit uploads it again",
                     d->label, next.generation, age, d->gc_grace);
    goto untake;
  }
  if (full)
    next.nmaps = 0;
  /* Never reached (a full map comes first), but never written past. */
  if (next.nmaps >= HEAD_MAX_MAPS) {
    s3cow_log_error ("%s: commit of generation %" PRIu64 " refused: the "
                     "head would list more than %d maps",
                     d->label, next.generation, HEAD_MAX_MAPS);
    goto untake;
  }
  strcpy (next.maps[next.nmaps++], map_key);
  r = volume_commit_head (d->store, &d->vh, &next);
  if (r == VOLUME_CHANGED)
    disk_fence (d, "the head changed under us");
  else if (r != 0)
    s3cow_log_error ("%s: commit of generation %" PRIu64 " failed: the last "
                     "commit stays in force; the next flush retries",
                     d->label, next.generation);
  if (r != 0)
    goto untake;

  stats_inc (STAT_COMMITS);
  stats_add (STAT_COMMIT_MICROSECONDS, (monotonic_now () - start) * 1e6);
  if (full) {
    stats_inc (STAT_COMMITS_FULL);
    d->base_entries = n;
    d->delta_entries = 0;
  } else
    d->delta_entries += n;
  s3cow_debug (commit, "%s: committed generation %" PRIu64 ": %zu %s entries",
               d->label, d->vh.head.generation, n, full ? "full" : "delta");
  return 0;

untake:
  chunkmap_untake (d->map, entries, n, oldest);
eio:
  errno = EIO;
  return -1;
}

int
disk_flush (struct disk *d)
{
  stats_inc (STAT_FLUSHES);
  if (!disk_owned (d))
    return -1;
  if (cache_flush (d->cd) == -1)
    return -1;
  return commit (d);
}

void *
disk_commit_thread (void *arg)
{
  struct disk *d = arg;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&d->thread_lock);

  /* At least every gc-grace/8: see the top, (3). */
  double period = d->gc_grace / 8;

  if (d->commit_interval > 0 && d->commit_interval < period)
    period = d->commit_interval;
  while (!d->stop) {
    double oldest;

    cond_wait_seconds (&d->thread_cond, &d->thread_lock, period);
    if (d->stop || atomic_load (&d->fenced))
      continue;
    pthread_mutex_unlock (&d->thread_lock);
    if (d->commit_interval > 0
        && (cache_dirty_chunks (d->cd) > 0 || chunkmap_changed (d->map) > 0))
      disk_flush (d); /* failures are logged; the next try retries */
    /* Chunks uploaded long ago and still not committed (their flush
     * failed, or commit-interval=0): commit them, uploading them again
     * first, before gc may take them (see the top).
     */
    oldest = chunkmap_oldest (d->map);
    if (oldest && monotonic_now () - oldest > d->gc_grace / 4 && disk_owned (d))
      commit (d);
    pthread_mutex_lock (&d->thread_lock);
  }
  return NULL;
}
