/* s3cow: working-set hints: what a disk reads in its first minutes after
 * open, shared by the forks of one snapshot, and prefetched at open.
 *
 * A fleet boots many forks of one snapshot, and each boot reads about the
 * same chunks in about the same order, one miss at a time.  So every open
 * records the chunks read in the first WORKINGSET_WINDOW seconds (each
 * once, in the order first read, at most WORKINGSET_MAX_CHUNKS), and
 * writes them when the window ends (or at close) to the hint object of
 * the snapshot the disk descends from (disks/D/hints/S, docs/format.md),
 * merged with the hint already there.  At open, the hint of the nearest
 * snapshot up the parent chain that has one is handed to cache_prefetch.
 * A missing or damaged hint is only a debug line: hints are advice.
 */
#ifndef S3COW_WORKINGSET_H
#define S3COW_WORKINGSET_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "format.h"
#include "store.h"

#define WORKINGSET_WINDOW 300.0    /* seconds recorded after open */
#define WORKINGSET_MAX_CHUNKS 4096 /* chunks in a hint, at most */
#define WORKINGSET_MAX_DEPTH 8     /* parents followed to find a hint */

struct workingset;

/* Find the snapshot that the disk (disk, or disk@snap when snap is not "")
 * with head h descends from, and start prefetching its hint into cd.
 * NULL when there is none (a disk without a snapshot ancestor), or on
 * error: hints never fail an open (errors are debug lines).
 */
struct workingset *workingset_open (struct store *store, struct cache_disk *cd,
                                    const char *disk, const char *snap,
                                    const struct head *h);

/* Chunks first..last are being read. */
void workingset_note (struct workingset *ws, uint64_t first, uint64_t last);

/* Start the thread that writes the hint when the window ends (after
 * nbdkit forks).  Never fails: without it, the hint is written at close.
 */
void workingset_start (struct workingset *ws);

/* Write the hint if not written yet, stop the thread, free.  NULL: no-op. */
void workingset_close (struct workingset *ws);

#endif /* S3COW_WORKINGSET_H */
