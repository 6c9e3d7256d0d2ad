/* s3cow: the plugin's parameters: parsed one by one (.config), then
 * completed from the environment and checked together (.config_complete).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "chunk_codec.h"
#include "crypto.h"
#include "disk.h"
#include "duration.h"
#include "names.h"
#include "params.h"
#include "store.h"

/* The defaults, as the man page says. */
/* clang-format off */
#define PARAMS_DEFAULTS                                                        \
  {                                                                            \
    .store_config = { .tls_verify = true },                                    \
    .chunk_size = 1024 * 1024,                                                 \
    .cache_size = 256 * 1024 * 1024,                                           \
    .readahead = 64 * 1024 * 1024,                                             \
    .prefetch = true,                                                          \
    .cache_dir_size = UINT64_C (10) << 30, /* 10G */                           \
    .commit_interval = 5,                                                      \
    .gc_grace = 3600,                                                          \
    .lease_duration = 30,                                                      \
    .lease_wait = 0,                                                           \
    .compression = CHUNK_COMPRESSION_DEFAULT,                                  \
  }
/* clang-format on */

struct params params = PARAMS_DEFAULTS;

/* Adaptive (no upload-threads= / read-ahead-threads=): the least number
 * of requests in flight, where each starts.
 */
#define UPLOAD_THREADS_LEAST 8
#define READAHEAD_THREADS_LEAST 4
/* upload-threads-max=, read-ahead-threads-max= when not given. */
#define THREADS_MAX_DEFAULT 32

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

/* A count of connections or threads: 1 to 256. */
static int
parse_count (const char *key, const char *value, unsigned *out)
{
  unsigned n;

  if (nbdkit_parse_unsigned (key, value, &n) == -1)
    return -1;
  if (n == 0 || n > 256) {
    nbdkit_error ("%s=%s: must be from 1 to 256", key, value);
    return -1;
  }
  *out = n;
  return 0;
}

/* encryption-key=: 64 hex characters, in nbdkit's password forms. */
static int
set_encryption_key (const char *value)
{
  char *text;

  if (nbdkit_read_password (value, &text) == -1)
    return -1;
  crypto_free (params.crypto);
  params.crypto = crypto_new_from_text (text);
  if (params.crypto == NULL && errno == EINVAL)
    nbdkit_error ("encryption-key: not a key (64 hex characters: 256 bits)");
  else if (params.crypto == NULL)
    nbdkit_error ("encryption-key: deriving the keys: %m");
  free (text);
  return params.crypto ? 0 : -1;
}

/* A disk size parameter (size=, new-disk-size=): a positive multiple of
 * 512, at most DISK_SIZE_MAX.  0, or -1 after nbdkit_error.
 */
static int
parse_disk_size (const char *key, const char *value, uint64_t *out)
{
  int64_t size = nbdkit_parse_size (value);

  if (size == -1)
    return -1;
  if (size <= 0 || size % 512 != 0 || (uint64_t)size > DISK_SIZE_MAX) {
    nbdkit_error ("%s=%s: must be a positive multiple of 512 bytes, at "
                  "most 1P",
                  key, value);
    return -1;
  }
  *out = size;
  return 0;
}

int
params_config (const char *key, const char *value)
{
  int64_t size;

  if (strcmp (key, "bucket") == 0)
    params.store_config.bucket = value;
  else if (strcmp (key, "export") == 0)
    params.export_name = value;
  else if (strcmp (key, "size") == 0) {
    if (parse_disk_size (key, value, &params.create_size) == -1)
      return -1;
  } else if (strcmp (key, "new-disk-size") == 0) {
    if (parse_disk_size (key, value, &params.new_disk_size) == -1)
      return -1;
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
    params.chunk_size = size;
  } else if (strcmp (key, "cache-size") == 0) {
    size = nbdkit_parse_size (value);
    if (size == -1)
      return -1;
    if (size <= 0) {
      nbdkit_error ("cache-size=%s: must be positive", value);
      return -1;
    }
    params.cache_size = size;
  } else if (strcmp (key, "cache-dir") == 0) {
    if (value[0] == '\0') {
      nbdkit_error ("cache-dir=: must name a directory");
      return -1;
    }
    return set_path (key, value, &params.cache_dir);
  } else if (strcmp (key, "cache-dir-size") == 0) {
    size = nbdkit_parse_size (value);
    if (size == -1)
      return -1;
    if (size < CHUNK_SIZE_MAX) {
      nbdkit_error ("cache-dir-size=%s: must be at least 64M", value);
      return -1;
    }
    params.cache_dir_size = size;
  } else if (strcmp (key, "read-ahead") == 0) {
    size = nbdkit_parse_size (value);
    if (size == -1)
      return -1;
    params.readahead = size;
  } else if (strcmp (key, "endpoint") == 0)
    params.store_config.endpoint = value;
  else if (strcmp (key, "region") == 0)
    params.store_config.region = value;
  else if (strcmp (key, "sse") == 0)
    params.store_config.sse = value;
  else if (strcmp (key, "sse-kms-key-id") == 0)
    params.store_config.sse_kms_key_id = value;
  else if (strcmp (key, "storage-class") == 0)
    params.store_config.storage_class = value;
  else if (strcmp (key, "prefix") == 0)
    params.store_config.prefix = value;
  else if (strcmp (key, "access-key") == 0)
    params.store_config.access_key = value;
  else if (strcmp (key, "secret-key") == 0) {
    free (params.secret_key);
    if (nbdkit_read_password (value, &params.secret_key) == -1)
      return -1;
    params.store_config.secret_key = params.secret_key;
  } else if (strcmp (key, "encryption-key") == 0) {
    return set_encryption_key (value);
  } else if (strcmp (key, "session-token") == 0) {
    free (params.session_token);
    if (nbdkit_read_password (value, &params.session_token) == -1)
      return -1;
    params.store_config.session_token = params.session_token;
  } else if (strcmp (key, "ca-file") == 0) {
    if (set_path (key, value, &params.ca_file) == -1)
      return -1;
    params.store_config.ca_file = params.ca_file;
  } else if (strcmp (key, "tls-verify") == 0)
    return parse_bool (key, value, &params.store_config.tls_verify);
  else if (strcmp (key, "prefetch") == 0)
    return parse_bool (key, value, &params.prefetch);
  else if (strcmp (key, "virtual-host") == 0) {
    bool virtual_host;

    if (parse_bool (key, value, &virtual_host) == -1)
      return -1;
    params.store_config.addressing
        = virtual_host ? STORE_ADDRESSING_VIRTUAL : STORE_ADDRESSING_PATH;
  } else if (strcmp (key, "timeout") == 0)
    return parse_time (key, value, &params.store_config.timeout);
  else if (strcmp (key, "retry-time") == 0)
    return parse_time (key, value, &params.store_config.retry_time);
  else if (strcmp (key, "commit-interval") == 0)
    return parse_time (key, value, &params.commit_interval);
  else if (strcmp (key, "gc-grace") == 0)
    return parse_time (key, value, &params.gc_grace);
  else if (strcmp (key, "lease") == 0) {
    if (parse_time (key, value, &params.lease_duration) == -1)
      return -1;
    if (params.lease_duration < 3 || params.lease_duration > 3600) {
      nbdkit_error ("lease=%s: must be from 3 to 3600 seconds", value);
      return -1;
    }
  } else if (strcmp (key, "lease-wait") == 0)
    return parse_time (key, value, &params.lease_wait);
  else if (strcmp (key, "compression") == 0) {
    const char *why;

    if (chunk_compression_parse (value, &params.compression, &why) == -1) {
      nbdkit_error ("compression=%s: %s", value, why);
      return -1;
    }
  } else if (strcmp (key, "stats") == 0)
    return set_path (key, value, &params.stats_file);
  else if (strcmp (key, "connections") == 0)
    return parse_count (key, value, &params.store_config.connections);
  else if (strcmp (key, "upload-threads") == 0)
    return parse_count (key, value, &params.upload_threads);
  else if (strcmp (key, "upload-threads-max") == 0)
    return parse_count (key, value, &params.upload_threads_max);
  else if (strcmp (key, "read-ahead-threads") == 0)
    return parse_count (key, value, &params.readahead_threads);
  else if (strcmp (key, "read-ahead-threads-max") == 0)
    return parse_count (key, value, &params.readahead_threads_max);
  else {
    nbdkit_error ("unknown parameter '%s' (see nbdkit-s3cow-plugin(1))", key);
    return -1;
  }
  return 0;
}

/* The cache must hold 32 chunks: every request thread and uploader may pin
 * one at a time.
 */
int
params_check_cache_size (uint32_t disk_chunk_size)
{
  if (params.cache_size < (uint64_t)disk_chunk_size * 32) {
    nbdkit_error ("cache-size must hold at least 32 chunks (%" PRIu64
                  " bytes for chunk size %" PRIu32 ")",
                  (uint64_t)disk_chunk_size * 32, disk_chunk_size);
    return -1;
  }
  return 0;
}

/* fixed (upload-threads=, read-ahead-threads=), else from the least
 * default (or max, if lower) to max.
 */
static void
threads (unsigned fixed, unsigned least, unsigned max, unsigned *lo,
         unsigned *hi)
{
  if (max == 0)
    max = THREADS_MAX_DEFAULT;
  if (fixed)
    *lo = *hi = fixed;
  else {
    *lo = least < max ? least : max;
    *hi = max;
  }
}

void
params_upload_threads (unsigned *least, unsigned *most)
{
  threads (params.upload_threads, UPLOAD_THREADS_LEAST,
           params.upload_threads_max, least, most);
}

void
params_readahead_threads (unsigned *least, unsigned *most)
{
  threads (params.readahead_threads, READAHEAD_THREADS_LEAST,
           params.readahead_threads_max, least, most);
}

double
params_retry_time (void)
{
  return params.store_config.retry_time ? params.store_config.retry_time : 60;
}

static double
effective_timeout (void)
{
  return params.store_config.timeout ? params.store_config.timeout : 30;
}

/* The longest one store PUT may take, retries included. */
double
params_put_time (void)
{
  return params_retry_time () + effective_timeout ();
}

int
params_config_complete (void)
{
  struct name_ref ref;

  /* As the s3cow command: the parameters, then the environment. */
  if (params.store_config.bucket == NULL)
    params.store_config.bucket = getenv ("S3COW_BUCKET");
  if (params.store_config.endpoint == NULL)
    params.store_config.endpoint = getenv ("S3COW_ENDPOINT");
  if (params.store_config.prefix == NULL)
    params.store_config.prefix = getenv ("S3COW_PREFIX");
  if (params.store_config.bucket == NULL
      || params.store_config.bucket[0] == '\0') {
    nbdkit_error ("bucket= is required (or S3COW_BUCKET)");
    return -1;
  }
  if (params.export_name && name_parse_ref (params.export_name, &ref) == -1)
    return -1;
  if (params.export_name && (ref.snap[0] || ref.at_time)
      && params.create_size) {
    nbdkit_error ("size= cannot create a %s (export=%s)",
                  ref.at_time ? "disk at a past time" : "snapshot",
                  params.export_name);
    return -1;
  }
  /* size= is one disk's exact size; new-disk-size= lets any client name
   * a new disk, so that a mistyped name creates nothing without it.
   */
  if (params.create_size && params.export_name == NULL) {
    nbdkit_error ("size= needs export= (it is the size of that disk): "
                  "new-disk-size= creates the disks that clients name");
    return -1;
  }
  if (params.new_disk_size && params.export_name) {
    nbdkit_error ("new-disk-size= is for a server without export=: with "
                  "export=, size= creates the disk");
    return -1;
  }
  if ((params.create_size || params.new_disk_size)
      && params_check_cache_size (params.chunk_size) == -1)
    return -1;
  if (params.upload_threads && params.upload_threads_max) {
    nbdkit_error ("upload-threads= fixes the uploads in flight and "
                  "upload-threads-max= bounds them as they adapt: give one "
                  "of them");
    return -1;
  }
  if (params.readahead_threads && params.readahead_threads_max) {
    nbdkit_error ("read-ahead-threads= fixes the read-ahead loads in flight "
                  "and read-ahead-threads-max= bounds them as they adapt: "
                  "give one of them");
    return -1;
  }
  if (params.store_config.connections == 0) {
    /* Every upload and read-ahead load in flight, and 16 for the
     * requests' own loads, commits and the lease.
     */
    unsigned lo, up, ra;
    params_upload_threads (&lo, &up);
    params_readahead_threads (&lo, &ra);
    params.store_config.connections = 16 + up + ra;
    if (params.store_config.connections > 256)
      params.store_config.connections = 256;
  }
  /* See "gc-grace" in disk_commit.c: what a commit needs after uploading its
   * chunks again.
   */
  if (params.gc_grace < 2 * (params_put_time () + 2)) {
    nbdkit_error ("gc-grace=%g is too short for retry-time=%g and "
                  "timeout=%g: it must be at least 2 * (retry-time + "
                  "timeout + 2) = %g seconds",
                  params.gc_grace, params_retry_time (), effective_timeout (),
                  2 * (params_put_time () + 2));
    return -1;
  }
  return 0;
}

void
params_free (void)
{
  store_config_free_owned (&params.store_owned);
  free (params.secret_key);
  free (params.session_token);
  crypto_free (params.crypto);
  free (params.cache_dir);
  free (params.stats_file);
  free (params.ca_file);
}
