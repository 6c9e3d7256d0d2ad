/* s3cow: what gc's files share (volume_gc.c: the mark and sweep, and
 * why they are safe; volume_gc_kept.c: the kept heads of disks'
 * histories).  One gc run owns its struct gc: nothing here is shared
 * between threads.
 */
#ifndef S3COW_VOLUME_GC_INTERNAL_H
#define S3COW_VOLUME_GC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "format.h"
#include "hashset.h"
#include "names.h"
#include "store.h"
#include "volume.h"

/* Flags of a root key in gc->keys (hashset value byte). */
#define KEY_READ 1    /* read at least once */
#define KEY_SETTLED 2 /* last read: a head at generation >= 1 */

struct candidate {
  char *key;              /* for maps (malloc'd); NULL for chunks */
  uint8_t hash[HASH_LEN]; /* the chunk's, or the hash of the map key */
  uint64_t size;
  time_t mtime;
};

struct candidates {
  struct candidate *v;
  size_t n, cap;
};

struct listed_root {
  char disk[NAME_MAX_LEN + 1];
  char snap[KEY_MAX_LEN]; /* name_valid: shorter */
  char etag[STORE_ETAG_MAX];
  bool read;       /* a head, read in this round: */
  uint64_t window; /* its history window, seconds */
};

/* A kept head (disks/D/history/...) in the current listing. */
struct listed_kept {
  char key[KEY_MAX_LEN];
  uint64_t generation;
  time_t mtime;
  uint64_t size;
  ssize_t head; /* index of its disk's head in roots, or -1: none */
};

struct gc {
  struct store *store;
  const struct volume_gc_ops *ops;
  bool dry_run;
  time_t cutoff;
  struct hashset *maps;     /* hashes of the keys of marked maps */
  struct hashset *chunks;   /* marked chunks */
  struct hashset *keys;     /* root keys gc read: KEY_* flags */
  struct hashset *versions; /* (key, etag) of every root version read */
  struct hashset *disks;    /* (key, disk id, created) of every head read */
  struct candidates cand_maps, cand_chunks;
  struct listed_root *roots; /* the current listing */
  size_t nroots, cap_roots;
  struct listed_kept *kept; /* the current listing's kept heads */
  size_t nkept, cap_kept;
  struct hashset *expired; /* keys of kept heads out of their window */
  struct candidates cand_kept;
  struct candidates cand_hints; /* round 1: hint objects older than cutoff */
  time_t now;                   /* T0 */
  bool list_maps;               /* round 1: collect candidate maps too */
  uint64_t listed_chunks, listed_maps;
  struct volume_gc_result *res;
};

/* A new zeroed candidate at the end of c, or NULL after logging. */
struct candidate *gc_candidates_add (struct candidates *c);

/* Mark map key (named by head h of root label) and its chunks, once.
 * 0, or -1 after logging.
 */
int gc_mark_map (struct gc *gc, const char *label, const struct head *h,
                 const char *key);

/* volume_gc_kept.c.  Round 1: sort the listed kept heads into roots (read
 * and marked) and those beyond their window (to delete); later rounds:
 * read the new ones; step 1b: delete those beyond their window.  Each 0,
 * or -1 after logging.
 */
int gc_kept_sort (struct gc *gc);
int gc_kept_visit_new (struct gc *gc);
int gc_kept_delete (struct gc *gc);

#endif /* S3COW_VOLUME_GC_INTERNAL_H */
