/* s3cow: the difference between two states of disks, computed from their
 * chunk maps alone.  The states are named as everywhere else: DISK,
 * DISK@SNAP or DISK@TIME (names.h name_parse_ref, read with history.h).
 */
#ifndef S3COW_CATALOG_DIFF_H
#define S3COW_CATALOG_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "names.h"
#include "store.h"

/* A range of bytes [offset, offset + length). */
struct catalog_range {
  uint64_t offset, length;
};

/* The byte ranges where the state new differs from old, at chunk
 * granularity, from their maps (no chunk object is read): the chunks
 * whose content hashes differ, old read as zeros past its end, clipped to
 * new's size, adjacent ranges merged.  So old resized to new's size, then
 * these ranges copied from new, is new.  Both must have the same chunk
 * size.  *ranges: a new malloc'd array of *n ranges in offset order.
 * Returns 0, or -1 after logging.
 */
int catalog_diff (struct store *store, const struct head *old,
                  const char *old_label, const struct head *new,
                  const char *new_label, struct catalog_range **ranges,
                  size_t *n);

#endif /* S3COW_CATALOG_DIFF_H */
