/* s3cow: nbdkit plugin glue: the open disks, the callbacks (the
 * parameters are in params.c).
 *
 * Disks are opened by the first connection that asks for them (only then
 * do we know whether the server is read-only: nbdkit -r opens take no
 * lease), shared by all their connections, and closed (committed, lease
 * released) when the last one goes.  With export=NAME the server serves
 * that one disk: it checks at startup that the disk exists (or creates
 * it), and keeps it open from the first connection until it stops.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

#include "cache.h"
#include "catalog.h"
#include "chunk_codec.h"
#include "cleanup.h"
#include "disk.h"
#include "format.h"
#include "log.h"
#include "names.h"
#include "open_failures.h"
#include "params.h"
#include "stats.h"
#include "store.h"
#include "timedwait.h"

static struct store *store;
static struct cache *cache;

/* The stats= writer thread. */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER; /* stats_stop */
static pthread_cond_t stats_cond; /* monotonic: made in after_fork */
static bool stats_stop, stats_started;
static pthread_t stats_thread;

/* The open disks.  disks_lock protects the list and every field but disk,
 * and is never held across disk_open or disk_close (network I/O, and up to
 * lease-wait= for a locked disk): a disk being opened or closed stays on
 * the list in that state, so that connections for the same disk wait for
 * it (disks_cond) and connections for other disks go on.
 */
enum open_state { OPENING, OPEN, CLOSING };
struct open_disk {
  struct open_disk *next;
  char export[2 * NAME_MAX_LEN + 2];
  struct disk *disk; /* set before the state becomes OPEN */
  enum open_state state;
  unsigned refs; /* connections, plus one with export= */
};
static pthread_mutex_t disks_lock = PTHREAD_MUTEX_INITIALIZER;
/* Signalled when a disk leaves OPENING or CLOSING. */
static pthread_cond_t disks_cond = PTHREAD_COND_INITIALIZER;
static struct open_disk *disks;

struct handle {
  struct open_disk *od;
};

static void
write_stats (void)
{
  struct stats_gauges gauges;

  cache_gauges (cache, &gauges);
  stats_write (params.stats_file, &gauges);
}

/* Write the stats file every second. */
static void *
stats_writer (void *arg)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&stats_lock);

  while (!stats_stop) {
    cond_wait_seconds (&stats_cond, &stats_lock, 1.0);
    write_stats ();
  }
  return NULL;
}

static void
s3cow_unload (void)
{
  struct open_disk *od;

  if (stats_started) {
    pthread_mutex_lock (&stats_lock);
    stats_stop = true;
    pthread_cond_signal (&stats_cond);
    pthread_mutex_unlock (&stats_lock);
    pthread_join (stats_thread, NULL);
  }

  while ((od = disks) != NULL) {
    disks = od->next;
    disk_close (od->disk);
    free (od);
  }
  if (params.stats_file && cache)
    write_stats ();
  cache_free (cache);
  store_close (store);
  params_free ();
}

/* The disk configuration for an export name (ref receives its parts,
 * which config points into).  0, or -1 after logging a bad name.
 */
static int
disk_config_for (const char *export, bool readonly, struct name_ref *ref,
                 struct disk_config *config)
{
  if (name_parse_ref (export, ref) == -1)
    return -1;
  *config = (struct disk_config){
    .name = ref->disk,
    .snap = ref->snap,
    .at_time = ref->at_time,
    .time = ref->time,
    .readonly = readonly || ref->at_time,
    .create_size = ref->snap[0] || ref->at_time ? 0
                   : params.export_name         ? params.create_size
                                                : params.new_disk_size,
    .exact_size = params.export_name != NULL,
    .create_chunk_size = params.chunk_size,
    .commit_interval = params.commit_interval,
    .gc_grace = params.gc_grace,
    .put_time = params_put_time (),
    .lease_duration = params.lease_duration,
    .lease_wait = params.lease_wait,
    .crypto = params.crypto,
    .prefetch = params.prefetch,
  };
  return 0;
}

static void
remove_disk (struct open_disk *od)
{
  struct open_disk **pp;

  for (pp = &disks; *pp != od; pp = &(*pp)->next)
    ;
  *pp = od->next;
}

/* Find or open the disk for an export name.  disks_lock held; let go
 * while waiting for the same disk being opened or closed by another
 * connection, and while opening it.
 */
static struct open_disk *
get_disk (const char *export, bool readonly)
{
  struct name_ref ref;
  struct disk_config config;
  struct open_disk *od;
  struct disk *disk;

again:
  for (od = disks; od; od = od->next)
    if (strcmp (od->export, export) == 0) {
      if (od->state != OPEN) {
        pthread_cond_wait (&disks_cond, &disks_lock);
        goto again;
      }
      od->refs++;
      return od;
    }
  if (disk_config_for (export, readonly, &ref, &config) == -1)
    return NULL;
  od = calloc (1, sizeof *od);
  if (od == NULL) {
    nbdkit_error ("calloc: %m");
    return NULL;
  }
  snprintf (od->export, sizeof od->export, "%s", export);
  od->state = OPENING;
  od->next = disks;
  disks = od;

  pthread_mutex_unlock (&disks_lock);
  disk = disk_open (store, cache, &config);
  if (disk && disk_start (disk) == -1) {
    disk_close (disk);
    disk = NULL;
  }
  pthread_mutex_lock (&disks_lock);

  pthread_cond_broadcast (&disks_cond);
  if (disk == NULL) {
    remove_disk (od);
    free (od);
    return NULL;
  }
  od->disk = disk;
  od->state = OPEN;
  od->refs = params.export_name ? 2 : 1; /* export=: open until unload */
  return od;
}

/* A connection is done with od.  disks_lock held; let go while closing
 * the disk.
 */
static void
put_disk (struct open_disk *od)
{
  if (--od->refs > 0)
    return;
  od->state = CLOSING;
  pthread_mutex_unlock (&disks_lock);
  disk_close (od->disk);
  pthread_mutex_lock (&disks_lock);
  remove_disk (od);
  pthread_cond_broadcast (&disks_cond);
  free (od);
}

static int
s3cow_get_ready (void)
{
  unsigned up_least, up_most, ra_least, ra_most;

  if (store_config_resolve (&params.store_config, &params.store_owned) == -1)
    return -1;
  store = store_open (&params.store_config);
  if (store == NULL || store_check (store) != STORE_OK)
    return -1;
  params_upload_threads (&up_least, &up_most);
  params_readahead_threads (&ra_least, &ra_most);
  cache = cache_new (
      &(struct cache_config){ .size = params.cache_size,
                              .upload_threads = up_least,
                              .upload_threads_max = up_most,
                              .readahead = params.readahead,
                              .readahead_threads = ra_least,
                              .readahead_threads_max = ra_most,
                              .prefetch
                              = params.prefetch ? params.cache_size / 2 : 0,
                              .tier_dir = params.cache_dir,
                              .tier_size = params.cache_dir_size,
                              .compression = params.compression,
                              .wait_timeout = params_retry_time () },
      store);
  if (cache == NULL)
    return -1;
  if (params.export_name) {
    struct name_ref ref;
    struct disk_config config;
    uint32_t disk_chunk_size;
    if (disk_config_for (params.export_name, false, &ref, &config) == -1
        || disk_check (store, &config, &disk_chunk_size) == -1
        || params_check_cache_size (disk_chunk_size) == -1)
      return -1;
  }
  return 0;
}

static int
s3cow_after_fork (void)
{
  int err;

  if (cache_start (cache) == -1)
    return -1;
  if (params.stats_file) {
    err = cond_init_monotonic (&stats_cond);
    if (err == 0)
      err = pthread_create (&stats_thread, NULL, stats_writer, NULL);
    if (err != 0) {
      errno = err;
      nbdkit_error ("cannot start the stats thread: %m");
      return -1;
    }
    stats_started = true;
  }
  return 0;
}

/* Every disk in the bucket is an export. */
static int
add_export (void *opaque, const struct catalog_key *key,
            const struct store_entry *entry)
{
  CLEANUP_FREE char *why = open_failure_describe (key->disk);

  return nbdkit_add_export (opaque, key->disk, why);
}

static int
s3cow_list_exports (int readonly, int is_tls, struct nbdkit_exports *exports)
{
  if (params.export_name) {
    CLEANUP_FREE char *why = open_failure_describe (params.export_name);

    return nbdkit_add_export (exports, params.export_name, why);
  }
  if (catalog_list (store, NULL, CATALOG_MASK (CATALOG_HEAD), add_export,
                    exports)
      != STORE_OK)
    return -1;
  return 0;
}

static const char *
s3cow_default_export (int readonly, int is_tls)
{
  return params.export_name ? params.export_name : "";
}

static void *
s3cow_open (int readonly)
{
  const char *export = nbdkit_export_name ();
  struct handle *h;

  if (params.export_name && export && export[0]
      && strcmp (export, params.export_name)) {
    char shown[2 * NAME_MAX_LEN + 2];
    name_printable (export, shown, sizeof shown);
    nbdkit_error ("this server serves only disk %s, not %s", params.export_name,
                  shown);
    return NULL;
  }
  if (params.export_name)
    export = params.export_name;
  else if (export == NULL || export[0] == '\0') {
    nbdkit_error ("no disk named: ask for an export name (the disk), or "
                  "start the server with export=DISK");
    return NULL;
  }
  h = calloc (1, sizeof *h);
  if (h == NULL) {
    nbdkit_error ("calloc: %m");
    return NULL;
  }
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&disks_lock);
  s3cow_log_forget_error ();
  h->od = get_disk (export, readonly);
  /* The client learns only "unknown export" (open_failures.h). */
  open_failure_note (export, h->od ? NULL : s3cow_log_last_error ());
  if (h->od == NULL) {
    free (h);
    return NULL;
  }
  return h;
}

static void
s3cow_close (void *handle)
{
  struct handle *h = handle;

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&disks_lock);
  put_disk (h->od);
  free (h);
}

#define DISK(handle) (((struct handle *)(handle))->od->disk)

static int64_t
s3cow_get_size (void *handle)
{
  return disk_size (DISK (handle));
}

static const char *
s3cow_export_description (void *handle)
{
  struct disk *d = DISK (handle);

  return nbdkit_printf_intern (
      "s3cow disk %s in bucket %s, chunk size %" PRIu32,
      ((struct handle *)handle)->od->export, params.store_config.bucket,
      disk_chunk_size (d));
}

static int
s3cow_block_size (void *handle, uint32_t *minimum, uint32_t *preferred,
                  uint32_t *maximum)
{
  uint32_t cs = disk_chunk_size (DISK (handle));

  *minimum = 1;
  *preferred = cs < 32 * 1024 * 1024 ? cs : 32 * 1024 * 1024;
  *maximum = 0xffffffff;
  return 0;
}

static int
s3cow_can_write (void *handle)
{
  return !disk_readonly (DISK (handle));
}

static int
s3cow_can_always_true (void *handle)
{
  return 1;
}

static int
s3cow_can_fua (void *handle)
{
  return NBDKIT_FUA_NATIVE;
}

/* Data callbacks: the disk layer logged; pass its errno to the client. */
#define RETURN_ERRNO(r)                                                        \
  do {                                                                         \
    if ((r) == -1) {                                                           \
      nbdkit_set_error (errno ? errno : EIO);                                  \
      return -1;                                                               \
    }                                                                          \
    return 0;                                                                  \
  } while (0)

static int
s3cow_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
  RETURN_ERRNO (disk_pread (DISK (handle), buf, count, offset));
}

static int
s3cow_pwrite (void *handle, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
  RETURN_ERRNO (
      disk_pwrite (DISK (handle), buf, count, offset, flags & NBDKIT_FLAG_FUA));
}

static int
s3cow_zero (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  RETURN_ERRNO (disk_zero (DISK (handle), count, offset,
                           flags & NBDKIT_FLAG_FUA,
                           flags & NBDKIT_FLAG_FAST_ZERO));
}

static int
s3cow_trim (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  RETURN_ERRNO (
      disk_zero (DISK (handle), count, offset, flags & NBDKIT_FLAG_FUA, false));
}

static int
s3cow_flush (void *handle, uint32_t flags)
{
  RETURN_ERRNO (disk_flush (DISK (handle)));
}

/* Zero chunks are holes; everything else is data. */
static int
s3cow_extents (void *handle, uint32_t count, uint64_t offset, uint32_t flags,
               struct nbdkit_extents *extents)
{
  struct disk *d = DISK (handle);
  uint32_t cs = disk_chunk_size (d);
  uint64_t end = offset + count, pos = offset - offset % cs;

  if (disk_may_read (d) == -1) {
    nbdkit_set_error (errno);
    return -1;
  }
  while (pos < end) {
    uint64_t len = cs;
    uint32_t type = disk_is_zero_chunk (d, pos)
                        ? NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO
                        : 0;
    if (pos + len > disk_size (d))
      len = disk_size (d) - pos;
    if (nbdkit_add_extent (extents, pos, len, type) == -1)
      return -1;
    pos += len;
    if (flags & NBDKIT_FLAG_REQ_ONE)
      break;
  }
  return 0;
}

static struct nbdkit_plugin plugin = {
  .name = "s3cow",
  .longname = "s3cow: copy-on-write disks on S3",
  .version = PACKAGE_VERSION,
  .unload = s3cow_unload,
  .config = params_config,
  .config_complete = params_config_complete,
  .config_help = PARAMS_HELP,
  .magic_config_key = "bucket",
  .get_ready = s3cow_get_ready,
  .after_fork = s3cow_after_fork,
  .list_exports = s3cow_list_exports,
  .default_export = s3cow_default_export,
  .open = s3cow_open,
  .close = s3cow_close,
  .get_size = s3cow_get_size,
  .export_description = s3cow_export_description,
  .block_size = s3cow_block_size,
  .can_write = s3cow_can_write,
  .can_flush = s3cow_can_always_true,
  .can_trim = s3cow_can_always_true,
  .can_zero = s3cow_can_always_true,
  .can_fast_zero = s3cow_can_always_true,
  .can_extents = s3cow_can_always_true,
  .can_multi_conn = s3cow_can_always_true,
  .can_fua = s3cow_can_fua,
  .pread = s3cow_pread,
  .pwrite = s3cow_pwrite,
  .zero = s3cow_zero,
  .trim = s3cow_trim,
  .flush = s3cow_flush,
  .extents = s3cow_extents,
  .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN (plugin)
