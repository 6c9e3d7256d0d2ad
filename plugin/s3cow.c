/* s3cow: nbdkit plugin glue: parameters, the open disks, the callbacks.
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
#include "crypto.h"
#include "disk.h"
#include "duration.h"
#include "format.h"
#include "log.h"
#include "names.h"
#include "open_failures.h"
#include "stats.h"
#include "store.h"
#include "timedwait.h"

/* Parameters. */
static struct store_config store_config = { .tls_verify = true };
static struct store_config_owned store_owned;
static char *secret_key, *session_token; /* from nbdkit_read_password */
static struct crypto *crypto;            /* encryption-key= (NULL: none) */
static const char *export_name;
static uint64_t create_size;
static uint32_t chunk_size = 1024 * 1024;
static uint64_t cache_size = 256 * 1024 * 1024;
static unsigned upload_threads = 8;
static uint64_t readahead = 64 * 1024 * 1024;
static unsigned readahead_threads = 4;
static bool prefetch = true;
static char *cache_dir;                               /* NULL: no disk tier */
static uint64_t cache_dir_size = UINT64_C (10) << 30; /* 10G */
static double commit_interval = 5;
static double gc_grace = 3600;
static double lease_duration = 30;
static double lease_wait = 0;
static char *stats_file;
static char *ca_file;
static struct chunk_compression compression = CHUNK_COMPRESSION_DEFAULT;

/* File parameters are made absolute at once: nbdkit without -f changes
 * directory to / when it forks into the background, after .config.
 */
static int
set_path (const char *key, const char *value, char **path)
{
  char *abs = nbdkit_absolute_path (value);

  if (abs == NULL) {
    nbdkit_error ("%s=%s: cannot make it an absolute path", key, value);
    return -1;
  }
  free (*path);
  *path = abs;
  return 0;
}

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
  stats_write (stats_file, &gauges);
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
  if (stats_file && cache)
    write_stats ();
  cache_free (cache);
  store_close (store);
  store_config_free_owned (&store_owned);
  free (secret_key);
  free (session_token);
  crypto_free (crypto);
  free (cache_dir);
  free (stats_file);
  free (ca_file);
}

/* encryption-key=: 64 hex characters, in nbdkit's password forms. */
static int
set_encryption_key (const char *value)
{
  char *text;

  if (nbdkit_read_password (value, &text) == -1)
    return -1;
  crypto_free (crypto);
  crypto = crypto_new_from_text (text);
  if (crypto == NULL && errno == EINVAL)
    nbdkit_error ("encryption-key: not a key (64 hex characters: 256 bits)");
  else if (crypto == NULL)
    nbdkit_error ("encryption-key: deriving the keys: %m");
  free (text);
  return crypto ? 0 : -1;
}

/* A duration from 0 to a day: seconds, or with a unit (duration.h). */
static int
parse_time (const char *key, const char *value, double *out)
{
  if (duration_parse (value, out) == -1 || *out > 86400) {
    nbdkit_error ("%s=%s: expected a duration from 0 to 1d: seconds, or a "
                  "number with ms, s, m, h or d (500ms, 30s, 2m)",
                  key, value);
    return -1;
  }
  return 0;
}

static int
parse_bool (const char *key, const char *value, bool *out)
{
  int r = nbdkit_parse_bool (value);

  if (r == -1)
    return -1;
  *out = r;
  return 0;
}

static int
s3cow_config (const char *key, const char *value)
{
  int64_t size;

  if (strcmp (key, "bucket") == 0)
    store_config.bucket = value;
  else if (strcmp (key, "export") == 0)
    export_name = value;
  else if (strcmp (key, "size") == 0) {
    size = nbdkit_parse_size (value);
    if (size == -1)
      return -1;
    if (size <= 0 || size % 512 != 0 || (uint64_t)size > DISK_SIZE_MAX) {
      nbdkit_error ("size=%s: must be a positive multiple of 512 bytes, at "
                    "most 1P",
                    value);
      return -1;
    }
    create_size = size;
  } else if (strcmp (key, "chunk-size") == 0) {
    size = nbdkit_parse_size (value);
    if (size == -1)
      return -1;
    if (size < CHUNK_SIZE_MIN || size > CHUNK_SIZE_MAX
        || (size & (size - 1)) != 0) {
      nbdkit_error ("chunk-size=%s: must be a power of two from 64K to 64M",
                    value);
      return -1;
    }
    chunk_size = size;
  } else if (strcmp (key, "cache-size") == 0) {
    size = nbdkit_parse_size (value);
    if (size == -1)
      return -1;
    if (size <= 0) {
      nbdkit_error ("cache-size=%s: must be positive", value);
      return -1;
    }
    cache_size = size;
  } else if (strcmp (key, "cache-dir") == 0) {
    if (value[0] == '\0') {
      nbdkit_error ("cache-dir=: must name a directory");
      return -1;
    }
    return set_path (key, value, &cache_dir);
  } else if (strcmp (key, "cache-dir-size") == 0) {
    size = nbdkit_parse_size (value);
    if (size == -1)
      return -1;
    if (size < CHUNK_SIZE_MAX) {
      nbdkit_error ("cache-dir-size=%s: must be at least 64M", value);
      return -1;
    }
    cache_dir_size = size;
  } else if (strcmp (key, "read-ahead") == 0) {
    size = nbdkit_parse_size (value);
    if (size == -1)
      return -1;
    readahead = size;
  } else if (strcmp (key, "endpoint") == 0)
    store_config.endpoint = value;
  else if (strcmp (key, "region") == 0)
    store_config.region = value;
  else if (strcmp (key, "sse") == 0)
    store_config.sse = value;
  else if (strcmp (key, "sse-kms-key-id") == 0)
    store_config.sse_kms_key_id = value;
  else if (strcmp (key, "storage-class") == 0)
    store_config.storage_class = value;
  else if (strcmp (key, "prefix") == 0)
    store_config.prefix = value;
  else if (strcmp (key, "access-key") == 0)
    store_config.access_key = value;
  else if (strcmp (key, "secret-key") == 0) {
    free (secret_key);
    if (nbdkit_read_password (value, &secret_key) == -1)
      return -1;
    store_config.secret_key = secret_key;
  } else if (strcmp (key, "encryption-key") == 0) {
    return set_encryption_key (value);
  } else if (strcmp (key, "session-token") == 0) {
    free (session_token);
    if (nbdkit_read_password (value, &session_token) == -1)
      return -1;
    store_config.session_token = session_token;
  } else if (strcmp (key, "ca-file") == 0) {
    if (set_path (key, value, &ca_file) == -1)
      return -1;
    store_config.ca_file = ca_file;
  } else if (strcmp (key, "tls-verify") == 0)
    return parse_bool (key, value, &store_config.tls_verify);
  else if (strcmp (key, "virtual-host") == 0)
    return parse_bool (key, value, &store_config.virtual_host);
  else if (strcmp (key, "prefetch") == 0)
    return parse_bool (key, value, &prefetch);
  else if (strcmp (key, "timeout") == 0)
    return parse_time (key, value, &store_config.timeout);
  else if (strcmp (key, "retry-time") == 0)
    return parse_time (key, value, &store_config.retry_time);
  else if (strcmp (key, "commit-interval") == 0)
    return parse_time (key, value, &commit_interval);
  else if (strcmp (key, "gc-grace") == 0)
    return parse_time (key, value, &gc_grace);
  else if (strcmp (key, "lease") == 0) {
    if (parse_time (key, value, &lease_duration) == -1)
      return -1;
    if (lease_duration < 3 || lease_duration > 3600) {
      nbdkit_error ("lease=%s: must be from 3 to 3600 seconds", value);
      return -1;
    }
  } else if (strcmp (key, "lease-wait") == 0)
    return parse_time (key, value, &lease_wait);
  else if (strcmp (key, "compression") == 0) {
    const char *why;

    if (chunk_compression_parse (value, &compression, &why) == -1) {
      nbdkit_error ("compression=%s: %s", value, why);
      return -1;
    }
  } else if (strcmp (key, "stats") == 0)
    return set_path (key, value, &stats_file);
  else if (strcmp (key, "connections") == 0
           || strcmp (key, "upload-threads") == 0
           || strcmp (key, "read-ahead-threads") == 0) {
    unsigned n;
    if (nbdkit_parse_unsigned (key, value, &n) == -1)
      return -1;
    if (n == 0 || n > 256) {
      nbdkit_error ("%s=%s: must be from 1 to 256", key, value);
      return -1;
    }
    if (key[0] == 'c')
      store_config.connections = n;
    else if (key[0] == 'u')
      upload_threads = n;
    else
      readahead_threads = n;
  } else {
    nbdkit_error ("unknown parameter '%s' (see nbdkit-s3cow-plugin(1))", key);
    return -1;
  }
  return 0;
}

/* The cache must hold 32 chunks: every request thread and uploader may pin
 * one at a time.
 */
static int
check_cache_size (uint32_t disk_chunk_size)
{
  if (cache_size < (uint64_t)disk_chunk_size * 32) {
    nbdkit_error ("cache-size must hold at least 32 chunks (%" PRIu64
                  " bytes for chunk size %" PRIu32 ")",
                  (uint64_t)disk_chunk_size * 32, disk_chunk_size);
    return -1;
  }
  return 0;
}

static double
effective_retry_time (void)
{
  return store_config.retry_time ? store_config.retry_time : 60;
}

static double
effective_timeout (void)
{
  return store_config.timeout ? store_config.timeout : 30;
}

/* The longest one store PUT may take, retries included. */
static double
put_time (void)
{
  return effective_retry_time () + effective_timeout ();
}

static int
s3cow_config_complete (void)
{
  struct name_ref ref;

  /* As the s3cow command: the parameters, then the environment. */
  if (store_config.bucket == NULL)
    store_config.bucket = getenv ("S3COW_BUCKET");
  if (store_config.endpoint == NULL)
    store_config.endpoint = getenv ("S3COW_ENDPOINT");
  if (store_config.prefix == NULL)
    store_config.prefix = getenv ("S3COW_PREFIX");
  if (store_config.bucket == NULL || store_config.bucket[0] == '\0') {
    nbdkit_error ("bucket= is required (or S3COW_BUCKET)");
    return -1;
  }
  if (export_name && name_parse_ref (export_name, &ref) == -1)
    return -1;
  if (export_name && (ref.snap[0] || ref.at_time) && create_size) {
    nbdkit_error ("size= cannot create a %s (export=%s)",
                  ref.at_time ? "disk at a past time" : "snapshot",
                  export_name);
    return -1;
  }
  if (create_size && check_cache_size (chunk_size) == -1)
    return -1;
  /* See "gc-grace" in disk.c: what a commit needs after uploading its
   * chunks again.
   */
  if (gc_grace < 2 * (put_time () + 2)) {
    nbdkit_error ("gc-grace=%g is too short for retry-time=%g and "
                  "timeout=%g: it must be at least 2 * (retry-time + "
                  "timeout + 2) = %g seconds",
                  gc_grace, effective_retry_time (), effective_timeout (),
                  2 * (put_time () + 2));
    return -1;
  }
  return 0;
}

#define s3cow_config_help                                                      \
  "bucket=<BUCKET>      (required) The S3 bucket.\n"                           \
  "export=<DISK>        Serve only this disk (or DISK@SNAPSHOT or\n"           \
  "                     DISK@YYYY-MM-DDTHH:MM:SSZ, read-only).\n"              \
  "size=<SIZE>          Create the disk with this size if it does not "        \
  "exist.\n"                                                                   \
  "chunk-size=<SIZE>    Chunk size of a new disk (64K..64M, default 1M).\n"    \
  "cache-size=<SIZE>    Memory for chunk data (default 256M).\n"               \
  "cache-dir=<DIR>      Also keep clean chunks in files here (disk tier).\n"   \
  "cache-dir-size=<SIZE>  Bytes of files in cache-dir at most (default "       \
  "10G).\n"                                                                    \
  "endpoint=<URL>       S3 endpoint, or file:///DIR (default: AWS).\n"         \
  "region=<REGION>      Region (default: AWS_REGION or us-east-1).\n"          \
  "prefix=<PREFIX>      Key prefix inside the bucket.\n"                       \
  "access-key=<KEY>     Access key (default: AWS_ACCESS_KEY_ID, ~/.aws).\n"    \
  "secret-key=<SECRET>  Secret key (password forms: -, +FILE, -FD).\n"         \
  "session-token=<TOK>  Session token (password forms).\n"                     \
  "encryption-key=<KEY> Key of encrypted disks (password forms).\n"            \
  "ca-file=<FILE>       CA certificates for HTTPS.\n"                          \
  "sse=AES256|aws:kms   Server-side encryption of the objects written.\n"      \
  "sse-kms-key-id=<ID>  The KMS key of sse=aws:kms.\n"                         \
  "storage-class=<CLS>  Storage class of chunks and maps (STANDARD_IA, "       \
  "...).\n"                                                                    \
  "tls-verify=false     Do not verify the server's certificate.\n"             \
  "virtual-host=true    Use bucket.host URLs.\n"                               \
  "timeout=<TIME>       Timeout of one S3 request (default 30s).\n"            \
  "retry-time=<TIME>    Time budget for retrying one S3 call (default 1m).\n"  \
  "connections=<N>      Parallel S3 connections (default 16).\n"               \
  "upload-threads=<N>   Background upload threads (default 8).\n"              \
  "read-ahead=<SIZE>    Read-ahead of sequential reads (default 64M; 0: "      \
  "off).\n"                                                                    \
  "read-ahead-threads=<N>  Threads that read ahead (default 4).\n"             \
  "prefetch=on|off      Learn and prefetch working sets (default on).\n"       \
  "commit-interval=<T>  Time between background commits (default 5s).\n"       \
  "gc-grace=<TIME>      The shortest --grace of s3cow gc (default 1h).\n"      \
  "lease=<TIME>         Lease duration of a read-write open (default 30s).\n"  \
  "lease-wait=<TIME>    Wait this long for a live lease holder (default 0).\n" \
  "compression=<C>      New chunks: zstd[:LEVEL], lz4 or none (default "       \
  "zstd:1).\n"                                                                 \
  "stats=<FILE>         Write counters here every second (Prometheus text)."

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
    .create_size = ref->snap[0] || ref->at_time ? 0 : create_size,
    .create_chunk_size = chunk_size,
    .commit_interval = commit_interval,
    .gc_grace = gc_grace,
    .put_time = put_time (),
    .lease_duration = lease_duration,
    .lease_wait = lease_wait,
    .crypto = crypto,
    .prefetch = prefetch,
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
  od->refs = export_name ? 2 : 1; /* export=: open until unload */
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
  if (store_config_resolve (&store_config, &store_owned) == -1)
    return -1;
  store = store_open (&store_config);
  if (store == NULL || store_check (store) != STORE_OK)
    return -1;
  cache = cache_new (
      &(struct cache_config){ .size = cache_size,
                              .upload_threads = upload_threads,
                              .readahead = readahead,
                              .readahead_threads = readahead_threads,
                              .prefetch = prefetch ? cache_size / 2 : 0,
                              .tier_dir = cache_dir,
                              .tier_size = cache_dir_size,
                              .compression = compression,
                              .wait_timeout = store_config.retry_time
                                                  ? store_config.retry_time
                                                  : 60 },
      store);
  if (cache == NULL)
    return -1;
  if (export_name) {
    struct name_ref ref;
    struct disk_config config;
    uint32_t disk_chunk_size;
    if (disk_config_for (export_name, false, &ref, &config) == -1
        || disk_check (store, &config, &disk_chunk_size) == -1
        || check_cache_size (disk_chunk_size) == -1)
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
  if (stats_file) {
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
  if (export_name) {
    CLEANUP_FREE char *why = open_failure_describe (export_name);

    return nbdkit_add_export (exports, export_name, why);
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
  return export_name ? export_name : "";
}

static void *
s3cow_open (int readonly)
{
  const char *export = nbdkit_export_name ();
  struct handle *h;

  if (export_name && export && export[0] && strcmp (export, export_name)) {
    char shown[2 * NAME_MAX_LEN + 2];
    name_printable (export, shown, sizeof shown);
    nbdkit_error ("this server serves only disk %s, not %s", export_name,
                  shown);
    return NULL;
  }
  if (export_name)
    export = export_name;
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
      ((struct handle *)handle)->od->export, store_config.bucket,
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
  .config = s3cow_config,
  .config_complete = s3cow_config_complete,
  .config_help = s3cow_config_help,
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
