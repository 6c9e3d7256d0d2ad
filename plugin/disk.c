/* s3cow: one disk (see disk.h).
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
 * (volume_commit_head); what to commit and when is decided here.
 *
 * Locking: commit_lock serialises commits and protects vh (the head, its
 * etag, a head PUT whose answer was lost) and the map entry counts;
 * fenced is read without it (atomically).  The cache and chunk map have
 * their own locks.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
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
#include "disk.h"
#include "format.h"
#include "history.h"
#include "lease.h"
#include "log.h"
#include "names.h"
#include "stats.h"
#include "timedwait.h"
#include "volume.h"
#include "workingset.h"

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
  double gc_grace, put_time;   /* see the top */
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

static void
fence (struct disk *d, const char *why)
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
static bool
owns_disk (struct disk *d)
{
  if (d->lease) {
    switch (lease_state (d->lease)) {
    case LEASE_LOST:
      fence (d, "lease lost");
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

  if (!owns_disk (d))
    goto eio;
  /* The last head PUT lost its answer: did it land? */
  r = volume_head_settle (d->store, &d->vh);
  if (r == VOLUME_CHANGED)
    fence (d, "the head changed under us");
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
  if (!owns_disk (d))
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
    fence (d, "the head changed under us");
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
  if (!owns_disk (d))
    return -1;
  if (cache_flush (d->cd) == -1)
    return -1;
  return commit (d);
}

static void *
commit_thread (void *arg)
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
    if (oldest && monotonic_now () - oldest > d->gc_grace / 4 && owns_disk (d))
      commit (d);
    pthread_mutex_lock (&d->thread_lock);
  }
  return NULL;
}

int
disk_start (struct disk *d)
{
  int err;

  workingset_start (d->ws);
  if (d->readonly || d->started)
    return 0;
  d->started = true;
  /* Even with commit-interval=0: see the top, (3). */
  err = pthread_create (&d->thread, NULL, commit_thread, d);
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
  return owns_disk (d) ? 0 : -1;
}

int
disk_pread (struct disk *d, void *buf, uint32_t count, uint64_t offset)
{
  const uint32_t cs = d->chunk_size;
  uint8_t *p = buf;

  if (!owns_disk (d))
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

  if (!owns_disk (d))
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
