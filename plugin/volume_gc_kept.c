/* s3cow: gc and the kept heads of disks' histories (see volume_gc.c,
 * "Kept heads", for why this is safe while servers commit and people
 * fork).
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "catalog.h"
#include "hashset.h"
#include "log.h"
#include "volume.h"
#include "volume_gc-internal.h"

/* 1, 3. Read kept head k and mark from it, once: kept heads do not
 * change.  0, or -1 after logging.
 */
static int
visit_kept (struct gc *gc, const struct listed_kept *k)
{
  uint8_t key_hash[HASH_LEN];
  uint8_t *flags;
  struct head h;
  bool added;
  uint32_t m;
  int st;

  hashset_key_hash (k->key, key_hash);
  if (hashset_find (gc->keys, key_hash))
    return 0;
  st = catalog_read_key (gc->store, k->key, &h, NULL, NULL, NULL);
  if (st == STORE_NOT_FOUND)
    return 0;
  if (st != STORE_OK) {
    s3cow_log_error ("cannot read kept head %s", k->key);
    return -1;
  }
  for (m = 0; m < h.nmaps; m++)
    if (gc_mark_map (gc, k->key, &h, h.maps[m]) == -1)
      return -1;
  flags = hashset_add (gc->keys, key_hash, &added);
  if (flags == NULL) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  *flags = KEY_READ;
  gc->res->kept_heads++;
  return 0;
}

/* Put kept head k on the list to delete (step 1b). */
static int
expire (struct gc *gc, const struct listed_kept *k)
{
  struct candidate *c;
  bool added;

  c = gc_candidates_add (&gc->cand_kept);
  if (c == NULL || (c->key = strdup (k->key)) == NULL) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  hashset_key_hash (k->key, c->hash);
  c->size = k->size;
  c->mtime = k->mtime;
  if (hashset_add (gc->expired, c->hash, &added) == NULL) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  return 0;
}

/* 1. The kept heads of round 1, disk by disk (a disk's are listed
 * together, by generation): those within the disk's window (read from
 * its head in this round) are roots, and so is the newest one committed
 * before the window's start (what a time at the start names); older
 * ones are deleted.  The window is measured on the store's clock (their
 * mtimes against T0).  Kept heads of a disk without a head (an
 * interrupted rm) are deleted once older than the grace period.
 */
int
gc_kept_sort (struct gc *gc)
{
  size_t i = 0, j, k;

  while (i < gc->nkept) {
    ssize_t head = gc->kept[i].head;
    bool has_head = head >= 0 && gc->roots[head].read;
    uint64_t window = has_head ? gc->roots[head].window : 0;
    time_t start = gc->now - (time_t)window;
    size_t base = SIZE_MAX;

    for (j = i;
         j < gc->nkept && gc->kept[j].head == head && (head >= 0 || j == i);
         j++)
      if (has_head && window > 0 && gc->kept[j].mtime <= start)
        base = j; /* by generation: the newest before the start */
    for (k = i; k < j; k++) {
      const struct listed_kept *e = &gc->kept[k];
      bool old;

      if (has_head)
        old = window == 0 || (base != SIZE_MAX && k < base);
      else
        old = e->mtime <= gc->cutoff;
      if (old ? expire (gc, e) == -1 : (has_head && visit_kept (gc, e) == -1))
        return -1;
    }
    i = j;
  }
  return 0;
}

/* 3. Kept heads that appeared since round 1 (new commits): roots. */
int
gc_kept_visit_new (struct gc *gc)
{
  size_t i;

  for (i = 0; i < gc->nkept; i++) {
    uint8_t h[HASH_LEN];

    hashset_key_hash (gc->kept[i].key, h);
    if (hashset_find (gc->expired, h) && gc->dry_run)
      continue; /* still there: the dry run deletes nothing */
    if (visit_kept (gc, &gc->kept[i]) == -1)
      return -1;
  }
  return 0;
}

/* 1b. Delete the kept heads out of their window, before the rounds that
 * follow: from then on no fork or snapshot can take them as its source
 * (its second read fails), so marks need not come from them.
 */
int
gc_kept_delete (struct gc *gc)
{
  size_t i;

  for (i = 0; i < gc->cand_kept.n; i++) {
    const struct candidate *c = &gc->cand_kept.v[i];

    if (!gc->dry_run && store_delete (gc->store, c->key) != STORE_OK
        && store_head (gc->store, c->key, NULL, NULL, NULL)
               != STORE_NOT_FOUND) {
      s3cow_log_error ("cannot delete kept head %s", c->key);
      return -1;
    }
    if (gc->ops && gc->ops->swept)
      gc->ops->swept (gc->ops->opaque, c->key, c->size, c->mtime);
    gc->res->kept_deleted++;
  }
  return 0;
}
