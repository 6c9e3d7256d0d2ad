/* s3cow: references to a disk's state, and the difference between two
 * states computed from their chunk maps alone.
 *
 * A reference names a state that a head describes: "DISK" (its last
 * commit) or "DISK@SNAPSHOT".  catalog_parse_ref and catalog_read_ref are
 * the one place that turns such a string into a head, so that a new kind
 * of reference is added here for every command that takes one.
 */
#ifndef S3COW_CATALOG_DIFF_H
#define S3COW_CATALOG_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "names.h"
#include "store.h"

struct catalog_ref {
  char disk[NAME_MAX_LEN + 1];
  char snap[NAME_MAX_LEN + 1];      /* "" for the disk itself */
  char label[2 * NAME_MAX_LEN + 2]; /* for messages: the reference as given */
};

/* Parse s into *ref.  0, or -1 after logging what is wrong with it. */
int catalog_parse_ref (const char *s, struct catalog_ref *ref);

/* Read the head that ref names into *head.  0, or -1 after logging
 * ("does not exist" included).
 */
int catalog_read_ref (struct store *store, const struct catalog_ref *ref,
                      struct head *head);

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
