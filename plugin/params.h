/* s3cow: the plugin's parameters (nbdkit's .config and .config_complete).
 *
 * Set while nbdkit reads the command line, before any other callback;
 * read-only afterwards, so the callbacks read them without a lock.
 */
#ifndef S3COW_PARAMS_H
#define S3COW_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk_codec.h"
#include "crypto.h"
#include "store.h"

struct params {
  struct store_config store_config;
  struct store_config_owned store_owned;
  char *secret_key, *session_token; /* from nbdkit_read_password */
  struct crypto *crypto;            /* encryption-key= (NULL: none) */
  const char *export_name;
  uint64_t create_size;   /* size=: export='s disk (0: none) */
  uint64_t new_disk_size; /* new-disk-size=: any name, without export= */
  uint32_t chunk_size;
  uint64_t cache_size;
  unsigned upload_threads;     /* fixed; 0: adaptive (params_*_threads) */
  unsigned upload_threads_max; /* 0: the default */
  uint64_t readahead;
  unsigned readahead_threads;     /* as upload_threads */
  unsigned readahead_threads_max; /* 0: the default */
  bool prefetch;
  char *cache_dir; /* NULL: no disk tier */
  uint64_t cache_dir_size;
  double commit_interval;
  double gc_grace;
  double lease_duration;
  double lease_wait;
  char *stats_file;
  char *ca_file;
  struct chunk_compression compression;
};

extern struct params params;

/* nbdkit's .config: one KEY=VALUE.  0, or -1 after nbdkit_error. */
int params_config (const char *key, const char *value);

/* nbdkit's .config_complete: the environment for what the parameters did
 * not say, and the checks across parameters.  0, or -1 after nbdkit_error.
 */
int params_config_complete (void);

/* Free what the parameters own (at unload). */
void params_free (void);

/* 0 if the cache holds enough chunks of disk_chunk_size bytes, else -1
 * after nbdkit_error.
 */
int params_check_cache_size (uint32_t disk_chunk_size);

/* The longest one store PUT may take, retries included (seconds). */
double params_put_time (void);

/* retry-time=, or its default (seconds). */
double params_retry_time (void);

/* The uploads and read-ahead loads in flight: *least (and at first) and
 * *most (equal: fixed by upload-threads= or read-ahead-threads=).
 */
void params_upload_threads (unsigned *least, unsigned *most);
void params_readahead_threads (unsigned *least, unsigned *most);

#define PARAMS_HELP                                                            \
  "bucket=<BUCKET>      (required) The S3 bucket.\n"                           \
  "export=<DISK>        Serve only this disk (or DISK@SNAPSHOT or\n"           \
  "                     DISK@YYYY-MM-DDTHH:MM:SSZ, read-only).\n"              \
  "size=<SIZE>          With export=: create the disk with this size if "      \
  "it\n"                                                                       \
  "                     does not exist (it must have this size if it does).\n" \
  "new-disk-size=<SIZE> Without export=: create an unknown disk a client\n"    \
  "                     names with this size (default: refuse it).\n"          \
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
  "virtual-host=BOOL    bucket.host (true) or host/bucket (false) URLs\n"      \
  "                     (default: bucket.host on AWS only).\n"                 \
  "timeout=<TIME>       Timeout of one S3 request (default 30s).\n"            \
  "retry-time=<TIME>    Time budget for retrying one S3 call (default 1m).\n"  \
  "connections=<N>      Parallel S3 connections (default: 16 + the two\n"      \
  "                     threads maxima below).\n"                              \
  "upload-threads=<N>   Exactly N uploads in flight (default: 8 and more\n"    \
  "                     as the store's latency asks).\n"                       \
  "upload-threads-max=<N>  Uploads in flight at most (default 32).\n"          \
  "read-ahead=<SIZE>    Read-ahead of sequential reads (default 64M; 0: "      \
  "off).\n"                                                                    \
  "read-ahead-threads=<N>  Exactly N read-ahead loads in flight (default:\n"   \
  "                     4 and more as the store's latency asks).\n"            \
  "read-ahead-threads-max=<N>  Read-ahead loads in flight at most (default "   \
  "32).\n"                                                                     \
  "prefetch=on|off      Learn and prefetch working sets (default on).\n"       \
  "commit-interval=<T>  Time between background commits (default 5s).\n"       \
  "gc-grace=<TIME>      The shortest --grace of s3cow gc (default 1h).\n"      \
  "lease=<TIME>         Lease duration of a read-write open (default 30s).\n"  \
  "lease-wait=<TIME>    Wait this long for a live lease holder (default 0).\n" \
  "compression=<C>      New chunks: zstd[:LEVEL], lz4 or none (default "       \
  "zstd:1).\n"                                                                 \
  "stats=<FILE>         Write counters here every second (Prometheus text)."

#endif /* S3COW_PARAMS_H */
