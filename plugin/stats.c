/* s3cow: counters (see stats.h). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

static _Atomic uint64_t counters[STAT_COUNT];

static const struct {
  const char *name, *help;
} meta[STAT_COUNT] = {
  [STAT_STORE_GET] = { "s3cow_store_requests_total{op=\"get\"}",
                       "Object-store calls by operation." },
  [STAT_STORE_PUT] = { "s3cow_store_requests_total{op=\"put\"}", NULL },
  [STAT_STORE_HEAD] = { "s3cow_store_requests_total{op=\"head\"}", NULL },
  [STAT_STORE_DELETE] = { "s3cow_store_requests_total{op=\"delete\"}", NULL },
  [STAT_STORE_LIST] = { "s3cow_store_requests_total{op=\"list\"}", NULL },
  [STAT_STORE_GET_BYTES] = { "s3cow_store_bytes_total{op=\"get\"}",
                             "Bytes moved by object-store calls." },
  [STAT_STORE_PUT_BYTES] = { "s3cow_store_bytes_total{op=\"put\"}", NULL },
  [STAT_STORE_ERRORS]
  = { "s3cow_store_errors_total", "Object-store calls that failed." },
  [STAT_HTTP_RETRIES]
  = { "s3cow_http_retries_total", "HTTP attempts that were retried." },
  [STAT_CACHE_HITS]
  = { "s3cow_cache_hits_total", "Chunk reads served from memory." },
  [STAT_CACHE_MISSES]
  = { "s3cow_cache_misses_total", "Chunks loaded from the store." },
  [STAT_CACHE_ZERO_READS] = { "s3cow_cache_zero_reads_total",
                              "Reads of zero chunks (no data anywhere)." },
  [STAT_CACHE_EVICTIONS]
  = { "s3cow_cache_evictions_total", "Clean chunks dropped from memory." },
  [STAT_READAHEAD_LOADS] = { "s3cow_readahead_loads_total",
                             "Chunks loaded ahead of sequential reads." },
  [STAT_READAHEAD_HITS] = { "s3cow_readahead_hits_total",
                            "Chunk reads that found a chunk read ahead." },
  [STAT_PREFETCH_LOADS]
  = { "s3cow_prefetch_loads_total",
      "Chunks loaded ahead of reads from a working-set hint." },
  [STAT_PREFETCH_HITS] = { "s3cow_prefetch_hits_total",
                           "Chunk reads that found a prefetched chunk." },
  [STAT_CHUNK_UPLOADS]
  = { "s3cow_chunk_uploads_total", "Dirty chunks uploaded." },
  [STAT_CHUNK_UPLOADS_SKIPPED]
  = { "s3cow_chunk_uploads_skipped_total", "Dirty chunks that needed no upload "
                                           "(unchanged, or zeros)." },
  [STAT_CHUNK_UPLOAD_FAILURES]
  = { "s3cow_chunk_upload_failures_total", "Chunk uploads that failed." },
  [STAT_CHUNK_CORRUPT]
  = { "s3cow_chunk_corrupt_total",
      "Chunk bodies that did not decode or match their hash." },
  [STAT_CHUNK_UPLOAD_PLAIN_BYTES]
  = { "s3cow_chunk_upload_plain_bytes_total",
      "Bytes of the chunks uploaded, before compression." },
  [STAT_CHUNK_UPLOAD_STORED_BYTES]
  = { "s3cow_chunk_upload_stored_bytes_total",
      "Bytes of the chunk objects uploaded (compressed or raw)." },
  [STAT_FLUSHES] = { "s3cow_flushes_total", "Flushes (client and "
                                            "background)." },
  [STAT_COMMITS] = { "s3cow_commits_total", "Commits of a new head." },
  [STAT_COMMIT_MICROSECONDS]
  = { "s3cow_commit_microseconds_total", "Time spent in commits." },
  [STAT_COMMITS_FULL] = { "s3cow_commits_full_total",
                          "Commits that wrote a full map (compaction)." },
  [STAT_HISTORY_KEEPS]
  = { "s3cow_history_keeps_total", "Kept copies of heads written (history)." },
  [STAT_TIER_HITS] = { "s3cow_tier_hits_total",
                       "Chunk loads served by the disk tier (cache-dir=)." },
  [STAT_TIER_MISSES]
  = { "s3cow_tier_misses_total", "Disk tier lookups that found no good file." },
  [STAT_TIER_READ_BYTES] = { "s3cow_tier_bytes_total{op=\"read\"}",
                             "Bytes read from and written to the disk tier." },
  [STAT_TIER_WRITE_BYTES] = { "s3cow_tier_bytes_total{op=\"write\"}", NULL },
  [STAT_TIER_WRITES]
  = { "s3cow_tier_writes_total", "Chunk files written to the disk tier." },
  [STAT_TIER_EVICTIONS]
  = { "s3cow_tier_evictions_total", "Chunk files deleted to stay under "
                                    "cache-dir-size." },
  [STAT_TIER_CORRUPT]
  = { "s3cow_tier_corrupt_total", "Disk tier files that failed the hash check "
                                  "(deleted)." },
  [STAT_TIER_SELF_WRITES]
  = { "s3cow_tier_self_writes_total",
      "Chunks written to the disk tier by the thread that loaded or "
      "uploaded them, because the tier's queue was full." },
  [STAT_TIER_ERRORS] = { "s3cow_tier_errors_total",
                         "Disk tier I/O errors (the chunk came from the "
                         "store)." },
};

void
stats_add (enum stat_counter which, uint64_t n)
{
  atomic_fetch_add_explicit (&counters[which], n, memory_order_relaxed);
}

/* The metric name without labels, for # HELP / # TYPE lines. */
static void
base_name (const char *name, char *out, size_t size)
{
  size_t len = strcspn (name, "{");

  snprintf (out, size, "%.*s", (int)len, name);
}

int
stats_write (const char *path, const struct stats_gauges *g)
{
  char tmp[4096], base[128];
  FILE *fp;
  int i;

  if (snprintf (tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
    s3cow_log_error ("stats file name too long: %s", path);
    return -1;
  }
  fp = fopen (tmp, "w");
  if (fp == NULL) {
    s3cow_log_error ("stats: %s: %m", tmp);
    return -1;
  }
  for (i = 0; i < STAT_COUNT; i++) {
    if (meta[i].help) {
      base_name (meta[i].name, base, sizeof base);
      fprintf (fp, "# HELP %s %s\n# TYPE %s counter\n", base, meta[i].help,
               base);
    }
    fprintf (fp, "%s %" PRIu64 "\n", meta[i].name,
             atomic_load_explicit (&counters[i], memory_order_relaxed));
  }
  fprintf (fp,
           "# HELP s3cow_cache_bytes Memory holding chunk data.\n"
           "# TYPE s3cow_cache_bytes gauge\ns3cow_cache_bytes %" PRIu64 "\n"
           "# HELP s3cow_cache_limit_bytes cache-size.\n"
           "# TYPE s3cow_cache_limit_bytes gauge\n"
           "s3cow_cache_limit_bytes %" PRIu64 "\n"
           "# HELP s3cow_dirty_bytes Dirty chunk data awaiting upload.\n"
           "# TYPE s3cow_dirty_bytes gauge\ns3cow_dirty_bytes %" PRIu64 "\n"
           "# HELP s3cow_tier_bytes Chunk files in cache-dir=.\n"
           "# TYPE s3cow_tier_bytes gauge\ns3cow_tier_bytes %" PRIu64 "\n"
           "# HELP s3cow_tier_limit_bytes cache-dir-size (0: no cache-dir=).\n"
           "# TYPE s3cow_tier_limit_bytes gauge\n"
           "s3cow_tier_limit_bytes %" PRIu64 "\n",
           g->cache_bytes, g->cache_limit, g->dirty_bytes, g->tier_bytes,
           g->tier_limit);
  fprintf (fp,
           "# HELP s3cow_inflight_target Requests kept in flight now, by "
           "kind.\n"
           "# TYPE s3cow_inflight_target gauge\n"
           "s3cow_inflight_target{op=\"readahead\"} %u\n"
           "s3cow_inflight_target{op=\"upload\"} %u\n"
           "# HELP s3cow_inflight_peak The most requests in flight at once "
           "so far, by kind.\n"
           "# TYPE s3cow_inflight_peak gauge\n"
           "s3cow_inflight_peak{op=\"readahead\"} %u\n"
           "s3cow_inflight_peak{op=\"upload\"} %u\n"
           "# HELP s3cow_inflight_latency_seconds Time one request takes "
           "(moving mean), by kind.\n"
           "# TYPE s3cow_inflight_latency_seconds gauge\n"
           "s3cow_inflight_latency_seconds{op=\"readahead\"} %.6f\n"
           "s3cow_inflight_latency_seconds{op=\"upload\"} %.6f\n",
           g->readahead_inflight, g->upload_inflight,
           g->readahead_inflight_peak, g->upload_inflight_peak,
           g->readahead_latency, g->upload_latency);
  if (fclose (fp) == EOF || rename (tmp, path) == -1) {
    s3cow_log_error ("stats: %s: %m", path);
    unlink (tmp);
    return -1;
  }
  return 0;
}
