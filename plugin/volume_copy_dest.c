/* s3cow: the destination's disk, for the copy (volume_copy.h).
 *
 * Before the copy: which of the destination's head and snapshots of the
 * disk may stay, which one the copy replaces, and which chunks they name
 * already.  After the head landed: the roots relied on still name what
 * they named (volume_copy.c says why: gc).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cleanup.h"
#include "history.h"
#include "log.h"
#include "volume.h"
#include "volume_copy-internal.h"

/* ---- the destination's disk ---- */

void
copy_free_relied (struct copy *c)
{
  size_t i;

  for (i = 0; i < c->nrelied; i++)
    free (c->relied[i].maps);
  free (c->relied);
  c->relied = NULL;
  c->nrelied = 0;
}

/* Keep h (the destination's head, or snapshot snap) as relied on, and
 * mark the chunks it names as needing nothing.
 */
static int
rely_on (struct copy *c, const char *snap, const struct head *h)
{
  CLEANUP_FREE struct map_entry *entries = NULL;
  char bad_map[KEY_MAX_LEN];
  struct relied *p, *r;
  size_t n, i;

  if (catalog_resolve (c->dst_store, h, c->src->crypto, &entries, &n, bad_map)
      != STORE_OK) {
    s3cow_log_error ("cannot read map %s of the destination", bad_map);
    return -1;
  }
  p = realloc (c->relied, (c->nrelied + 1) * sizeof *p);
  if (p == NULL) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  c->relied = p;
  r = &p[c->nrelied];
  snprintf (r->snap, sizeof r->snap, "%s", snap);
  r->nmaps = h->nmaps;
  r->maps = malloc ((h->nmaps ? h->nmaps : 1) * sizeof *r->maps);
  if (r->maps == NULL) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  memcpy (r->maps, h->maps, h->nmaps * sizeof *r->maps);
  c->nrelied++;
  for (i = 0; i < n; i++) {
    struct need *need = copy_find_need (c, entries[i].hash);
    if (need)
      need->fresh = FRESH_NAMED;
  }
  return 0;
}

/* Was h written by a copy: one map, whose instance starts with "copy"
 * (volume_copy.c, write_map), onto which no server committed since?
 */
static bool
written_by_copy (const struct head *h)
{
  const char *name;

  if (h->nmaps != 1)
    return false;
  name = strstr (h->maps[0], "/maps/");
  return name && strstr (name, "-copy") != NULL;
}

static bool
id_is_zero (const uint8_t id[HEAD_ID_LEN])
{
  static const uint8_t zero[HEAD_ID_LEN];

  return memcmp (id, zero, HEAD_ID_LEN) == 0;
}

void
copy_map_instance (const struct head *src, char *instance)
{
  uint8_t id[HEAD_ID_LEN];
  size_t i;

  if (id_is_zero (src->op_id))
    volume_new_id (id);
  else
    memcpy (id, src->op_id, HEAD_ID_LEN);
  strcpy (instance, "copy");
  for (i = 0; i < 8; i++)
    sprintf (instance + 4 + 2 * i, "%02x", id[i]);
}

/* Does h, written by a copy, hold the state s (the map it names was
 * written for s's op id)?  Not generation and commit time: a server that
 * opens the copy claims its head (a new generation, the same map), and
 * the source may reach that generation in the same second with other data.
 */
static bool
same_state (const struct head *h, const struct head *s)
{
  char instance[COPY_INSTANCE_LEN + 1];
  const char *name;

  if (id_is_zero (s->op_id) || !written_by_copy (h) || h->size != s->size)
    return false;
  copy_map_instance (s, instance);
  name = strrchr (h->maps[0], '/');
  return name && strstr (name, instance) != NULL;
}

/* The destination's label for messages: DISK or DISK@SNAP. */
void
copy_dst_label (const struct copy *c, const char *snap, char *label)
{
  catalog_label (label, c->dst_disk, snap);
}

/* One root of the destination's disk: the head (snap "") or a snapshot.
 * *skip_all: it is the object the copy writes, and holds the source's
 * state already.
 */
static int
check_root (struct copy *c, const char *snap, const struct head *h,
            bool *skip_all)
{
  const struct head *s = &c->src->head;
  char label[2 * NAME_MAX_LEN + 2];

  copy_dst_label (c, snap, label);
  if (id_is_zero (s->disk_id)
      || memcmp (h->disk_id, s->disk_id, HEAD_ID_LEN) != 0
      || h->chunk_size != s->chunk_size) {
    s3cow_log_error ("the destination already has %s %s, which is not a copy "
                     "of %s (another disk): remove it, or copy to another "
                     "name",
                     snap[0] ? "snapshot" : "disk", label, c->src->label);
    return -1;
  }
  if (strcmp (snap, c->src->snap) != 0) {
    /* A head that a server writes changes under the copy: not relied on. */
    if (snap[0] == '\0' && !written_by_copy (h))
      return 0;
    return rely_on (c, snap, h);
  }

  /* The object this copy writes. */
  if (snap[0]) {
    if (same_state (h, s)) {
      *skip_all = true;
      return 0;
    }
    s3cow_log_error ("the destination already has snapshot %s, a copy of "
                     "another state of %s: remove it to copy it again",
                     label, c->src->label);
    return -1;
  }
  if (!written_by_copy (h)) {
    s3cow_log_error ("disk %s at the destination was written since it was "
                     "copied: refusing to overwrite it (remove it first to "
                     "copy %s again)",
                     label, c->src->label);
    return -1;
  }
  if (same_state (h, s))
    *skip_all = true;
  /* Replaced by If-Match: a commit onto it may name what it names. */
  return rely_on (c, snap, h);
}

struct snap_names {
  char (*v)[KEY_MAX_LEN]; /* names (name_valid: shorter) */
  size_t n;
};

static int
add_snap (void *opaque, const struct catalog_key *key,
          const struct store_entry *entry)
{
  struct snap_names *l = opaque;
  void *p = realloc (l->v, (l->n + 1) * sizeof *l->v);

  (void)entry;
  if (p == NULL) {
    s3cow_log_error ("out of memory");
    return STORE_PERMANENT;
  }
  l->v = p;
  snprintf (l->v[l->n++], KEY_MAX_LEN, "%s", key->name);
  return 0;
}

/* Step 1 at the destination: check its disk, mark what it names.  *etag
 * gets the etag of the object the copy replaces ("" if none).
 */
int
copy_read_destination (struct copy *c, char *etag, bool *skip_all)
{
  struct snap_names snaps = { 0 };
  char label[2 * NAME_MAX_LEN + 2], key[KEY_MAX_LEN];
  struct head h;
  size_t i;
  int r, status = -1;

  etag[0] = '\0';
  r = catalog_list (c->dst_store, c->dst_disk, CATALOG_MASK (CATALOG_SNAP),
                    add_snap, &snaps);
  if (r != STORE_OK) {
    s3cow_log_error ("cannot list the snapshots of %s at the destination",
                     c->dst_disk);
    goto out;
  }
  for (i = 0; i <= snaps.n; i++) {
    const char *snap = i < snaps.n ? snaps.v[i] : "";
    char tag[STORE_ETAG_MAX];

    copy_dst_label (c, snap, label);
    if (snap[0])
      key_snap (key, c->dst_disk, snap);
    else
      key_head (key, c->dst_disk);
    /* Under the source's key: an earlier copy of it has the same. */
    r = history_read_key (c->dst_store, key, label, c->src->crypto, &h, tag);
    if (r == STORE_NOT_FOUND)
      continue; /* removed meanwhile */
    if (r != STORE_OK) {
      s3cow_log_error ("cannot read %s at the destination", label);
      goto out;
    }
    if (strcmp (snap, c->src->snap) == 0)
      strcpy (etag, tag);
    if (check_root (c, snap, &h, skip_all) == -1)
      goto out;
  }

  /* A server holding the lease would lose its next commit to the copy. */
  if (etag[0] && c->src->snap[0] == '\0') {
    CLEANUP_FREE char *lease = NULL;
    bool held = false;

    r = catalog_lease_view (c->dst_store, c->dst_disk, &lease, &held);
    if (r != STORE_OK && r != STORE_NOT_FOUND) {
      s3cow_log_error ("cannot read the lease of disk %s at the destination",
                       c->dst_disk);
      goto out;
    }
    if (held) {
      s3cow_log_error ("disk %s at the destination is in use: a server holds "
                       "its lease:\n%s",
                       c->dst_disk, lease);
      goto out;
    }
  }
  status = 0;
out:
  free (snaps.v);
  return status;
}

static bool
same_maps (const struct head *h, const struct relied *p)
{
  uint32_t i;

  if (h->nmaps != p->nmaps)
    return false;
  for (i = 0; i < p->nmaps; i++)
    if (strcmp (h->maps[i], p->maps[i]) != 0)
      return false;
  return true;
}

/* Step 5: the roots relied on still name what they named? */
int
copy_check_relied (struct copy *c)
{
  char label[2 * NAME_MAX_LEN + 2];
  struct head h;
  size_t i;
  int r;

  for (i = 0; i < c->nrelied; i++) {
    const struct relied *p = &c->relied[i];

    if (strcmp (p->snap, c->src->snap) == 0)
      continue; /* the object replaced */
    copy_dst_label (c, p->snap, label);
    r = catalog_read_head (c->dst_store, c->dst_disk, p->snap, &h, NULL, NULL,
                           NULL);
    if (r != STORE_OK || !same_maps (&h, p)) {
      s3cow_log_error ("%s at the destination was removed or changed during "
                       "the copy: the chunks it shared may be collected",
                       label);
      return -1;
    }
  }
  return 0;
}
