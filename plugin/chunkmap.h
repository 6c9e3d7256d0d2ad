/* s3cow: the in-memory chunk map of one disk: chunk index -> content hash.
 *
 * The map is flat (one hash per chunk), so a read never walks a chain of
 * forks or deltas: the chain is resolved once, when the disk is opened.
 * It also remembers which entries changed since the last commit, so that a
 * commit writes only those (a delta) or, now and then, everything (a base).
 *
 * Thread-safe: every function takes the map's own mutex for its duration
 * and never calls out while holding it.  Lock order: cache lock, then map
 * lock (the cache may call chunkmap_get with its lock held).
 */
#ifndef S3COW_CHUNKMAP_H
#define S3COW_CHUNKMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"

struct chunkmap;

/* A map of nchunks zero chunks, with nothing changed.  NULL on ENOMEM. */
struct chunkmap *chunkmap_new (uint64_t nchunks);
void chunkmap_free (struct chunkmap *map);

uint64_t chunkmap_nchunks (const struct chunkmap *map);

/* Load committed entries (when opening a disk): not marked changed. */
void chunkmap_load (struct chunkmap *map, const struct map_entry *entries,
                    size_t n);

/* The hash of chunk idx (all zero bytes: a zero chunk). */
void chunkmap_get (struct chunkmap *map, uint64_t idx, uint8_t hash[HASH_LEN]);
bool chunkmap_is_zero (struct chunkmap *map, uint64_t idx);

/* Set chunk idx to hash, marking it changed if it differs.  The caller
 * guarantees the chunk object is durable in the store before this call;
 * since is when its upload began (monotonic seconds): the map keeps the
 * oldest such time among the changed entries (chunkmap_oldest), so that a
 * commit can tell how long ago the chunks it names were uploaded (see
 * "gc-grace" in disk_commit.c).
 */
void chunkmap_set (struct chunkmap *map, uint64_t idx,
                   const uint8_t hash[HASH_LEN], double since);

/* Take the entries changed since the last take, and clear their marks.
 * With full, return every non-zero entry instead (a base), and the changed
 * zero ones (so that chunkmap_untake marks them again), still clearing all
 * marks.  *entries is a new malloc'd array sorted by idx; *oldest is
 * the upload time of the oldest changed non-zero chunk (0: none), and is
 * cleared too.  Returns 0, or -1 on ENOMEM (nothing cleared).
 */
int chunkmap_take (struct chunkmap *map, bool full, struct map_entry **entries,
                   size_t *n, double *oldest);

/* Mark these entries changed again (their commit failed), with oldest
 * (from chunkmap_take, or later if they were uploaded again since) as
 * their oldest upload time.  The current hashes stay: they are at least
 * as new as the ones that failed.
 */
void chunkmap_untake (struct chunkmap *map, const struct map_entry *entries,
                      size_t n, double oldest);

/* The oldest upload time among the changed entries (0: none). */
double chunkmap_oldest (struct chunkmap *map);

/* How many entries are marked changed; how many chunks are non-zero. */
uint64_t chunkmap_changed (struct chunkmap *map);
uint64_t chunkmap_nonzero (struct chunkmap *map);

bool hash_is_zero (const uint8_t hash[HASH_LEN]);

#endif /* S3COW_CHUNKMAP_H */
