/* s3cow command: the roots of the bucket, the objects gc marks from: every
 * disk head and every snapshot.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "log.h"

static int
add_root (void *opaque, const struct catalog_key *key,
          const struct store_entry *entry)
{
  struct roots *l = opaque;
  struct root *r;

  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    void *p = realloc (l->v, cap * sizeof *l->v);
    if (p == NULL) {
      s3cow_log_error ("realloc: %m");
      return STORE_PERMANENT;
    }
    l->v = p;
    l->cap = cap;
  }
  r = &l->v[l->n++];
  strcpy (r->disk, key->disk);
  strcpy (r->snap, key->kind == CATALOG_SNAP ? key->name : "");
  catalog_label (r->label, r->disk, r->snap);
  r->mtime = entry->mtime;
  return 0;
}

int
roots_list (struct store *store, const char *disk, unsigned kinds,
            struct roots *out)
{
  int r;

  memset (out, 0, sizeof *out);
  r = catalog_list (store, disk, kinds, add_root, out);
  if (r != STORE_OK) {
    s3cow_log_error ("cannot list the disks in the bucket");
    roots_free (out);
  }
  return r;
}

void
roots_free (struct roots *roots)
{
  free (roots->v);
  memset (roots, 0, sizeof *roots);
}
