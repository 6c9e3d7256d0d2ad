/* s3cow: counters of what the plugin does, for people (stats=FILE).
 *
 * Process-wide atomic counters, incremented by every layer without locks,
 * and written out in Prometheus text format.  Counting never fails and
 * never blocks.
 */
#ifndef S3COW_STATS_H
#define S3COW_STATS_H

#include <stdint.h>

enum stat_counter {
  STAT_STORE_GET, /* object-store calls, by kind */
  STAT_STORE_PUT,
  STAT_STORE_HEAD,
  STAT_STORE_DELETE,
  STAT_STORE_LIST,
  STAT_STORE_GET_BYTES,
  STAT_STORE_PUT_BYTES,
  STAT_STORE_ERRORS,     /* calls that failed (not 404 / 412) */
  STAT_HTTP_RETRIES,     /* HTTP attempts retried */
  STAT_CACHE_HITS,       /* chunk reads served from memory */
  STAT_CACHE_MISSES,     /* chunk loads from the store */
  STAT_CACHE_ZERO_READS, /* chunk reads of zero chunks (no data) */
  STAT_CACHE_EVICTIONS,
  STAT_READAHEAD_LOADS,       /* chunks loaded by read-ahead */
  STAT_READAHEAD_HITS,        /* reads that found a read-ahead chunk */
  STAT_PREFETCH_LOADS,        /* chunks loaded by working-set prefetch */
  STAT_PREFETCH_HITS,         /* reads that found a prefetched chunk */
  STAT_CHUNK_UPLOADS,         /* dirty chunks uploaded */
  STAT_CHUNK_UPLOADS_SKIPPED, /* dirty chunks unchanged or all zeros */
  STAT_CHUNK_UPLOAD_FAILURES,
  STAT_CHUNK_CORRUPT, /* chunk bodies that did not decode or failed the
                       * hash check */
  STAT_CHUNK_UPLOAD_PLAIN_BYTES,  /* chunk bytes uploaded, before encoding */
  STAT_CHUNK_UPLOAD_STORED_BYTES, /* bytes of the chunk objects uploaded */
  STAT_FLUSHES,
  STAT_COMMITS,
  STAT_COMMIT_MICROSECONDS, /* total time spent in commits */
  STAT_COMMITS_FULL,        /* commits that wrote a full map */
  STAT_HISTORY_KEEPS,       /* kept copies of heads written (PUTs) */
  STAT_TIER_HITS,           /* chunk loads served by cache-dir= */
  STAT_TIER_MISSES,         /* cache-dir= lookups that found nothing */
  STAT_TIER_READ_BYTES,
  STAT_TIER_WRITE_BYTES,
  STAT_TIER_WRITES,      /* chunk files written */
  STAT_TIER_EVICTIONS,   /* chunk files deleted to stay under the size */
  STAT_TIER_CORRUPT,     /* chunk files that failed the check (deleted) */
  STAT_TIER_SELF_WRITES, /* chunks written by their loader: queue full */
  STAT_TIER_ERRORS,      /* cache-dir= I/O errors (create, write, read...) */
  STAT_COUNT
};

void stats_add (enum stat_counter which, uint64_t n);

static inline void
stats_inc (enum stat_counter which)
{
  stats_add (which, 1);
}

/* Gauges supplied by their owner when the stats are written. */
struct stats_gauges {
  uint64_t cache_bytes; /* chunk buffers + reservations */
  uint64_t cache_limit;
  uint64_t dirty_bytes;
  uint64_t tier_bytes;              /* chunk files in cache-dir= (0: none) */
  uint64_t tier_limit;              /* cache-dir-size (0: no cache-dir=) */
  unsigned readahead_inflight;      /* read-ahead loads to keep in flight */
  unsigned readahead_inflight_peak; /* the most running at once so far */
  double readahead_latency;         /* seconds a load takes (moving mean) */
  unsigned upload_inflight;         /* the same for uploads */
  unsigned upload_inflight_peak;
  double upload_latency;
};

/* Write every counter and the gauges to path, atomically (temp file and
 * rename).  0, or -1 after logging.
 */
int stats_write (const char *path, const struct stats_gauges *gauges);

#endif /* S3COW_STATS_H */
