/* s3cow: the difference of two states (see catalog_diff.h).
 *
 * Memory: the two resolved maps (40 bytes per chunk that is not zero, as
 * catalog_resolve) and the ranges, at most one per changed chunk.
 *
 * Encrypted disks need no key: the maps' chunk ids are compared, never
 * the chunks, and their MACs are not checked.  Ids are keyed, so two
 * states under different keys (or one encrypted, one not) share no id:
 * every chunk that is not zero in either differs.
 */
#include <config.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_diff.h"
#include "cleanup.h"
#include "log.h"

/* The ranges being built. */
struct ranges {
  struct catalog_range *v;
  size_t n, cap;
};

/* Add chunk idx of new (clipped to its size), merged with the last range
 * if adjacent.
 */
static int
add_chunk (struct ranges *rs, const struct head *new, uint64_t idx)
{
  uint64_t off = idx * new->chunk_size, len;

  if (off >= new->size)
    return 0; /* past the new end: the size change drops it */
  len = new->size - off < new->chunk_size ? new->size - off : new->chunk_size;
  if (rs->n > 0 && rs->v[rs->n - 1].offset + rs->v[rs->n - 1].length == off) {
    rs->v[rs->n - 1].length += len;
    return 0;
  }
  if (rs->n == rs->cap) {
    size_t cap = rs->cap ? 2 * rs->cap : 64;
    void *p = realloc (rs->v, cap * sizeof *rs->v);
    if (p == NULL) {
      s3cow_log_error ("realloc: %m");
      return -1;
    }
    rs->v = p;
    rs->cap = cap;
  }
  rs->v[rs->n++] = (struct catalog_range){ off, len };
  return 0;
}

static int
resolve (struct store *store, const struct head *head, const char *label,
         struct map_entry **entries, size_t *n)
{
  char bad[KEY_MAX_LEN];

  if (catalog_resolve (store, head, NULL, entries, n, bad) != STORE_OK) {
    s3cow_log_error ("%s: cannot read its map %s", label, bad);
    return -1;
  }
  return 0;
}

int
catalog_diff (struct store *store, const struct head *old,
              const char *old_label, const struct head *new,
              const char *new_label, struct catalog_range **ranges, size_t *n)
{
  CLEANUP_FREE struct map_entry *a = NULL;
  CLEANUP_FREE struct map_entry *b = NULL;
  struct ranges rs = { 0 };
  size_t na, nb, i = 0, j = 0;

  *ranges = NULL;
  *n = 0;
  if (old->chunk_size != new->chunk_size) {
    s3cow_log_error ("%s has chunks of %" PRIu32 " bytes, %s of %" PRIu32
                     ": their maps cannot be compared",
                     old_label, old->chunk_size, new_label, new->chunk_size);
    return -1;
  }
  if (resolve (store, old, old_label, &a, &na) == -1
      || resolve (store, new, new_label, &b, &nb) == -1)
    return -1;

  /* Both sorted by idx, zero chunks left out: a chunk in one only differs
   * (the other has zeros there), a chunk in both differs by its hash.
   */
  while (i < na || j < nb) {
    uint64_t idx;
    bool differs;

    if (j == nb || (i < na && a[i].idx < b[j].idx)) {
      idx = a[i++].idx;
      differs = true;
    } else if (i == na || b[j].idx < a[i].idx) {
      idx = b[j++].idx;
      differs = true;
    } else {
      idx = a[i].idx;
      differs = memcmp (a[i++].hash, b[j++].hash, HASH_LEN) != 0;
    }
    if (differs && add_chunk (&rs, new, idx) == -1) {
      free (rs.v);
      return -1;
    }
  }
  *ranges = rs.v;
  *n = rs.n;
  return 0;
}
