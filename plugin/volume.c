/* s3cow: every change to the layout of a bucket (see volume.h).
 *
 * Fork and snapshot cost a constant number of requests, whatever the size
 * of the disk: read the source's head, write one new object, read the
 * source's head again.
 *
 *   fork      a new head (generation 0, parent = source, a new disk id)
 *             naming the source's immutable maps, If-None-Match: *
 *   snapshot  a copy of the disk's head (same disk id, a new op id) under
 *             snaps/, If-None-Match: *
 *
 * The second read makes them safe against gc (the top of the gc section
 * below): the maps the new object names must still be named by the same
 * incarnation of the source (same disk id and created time) after the new
 * object exists, so that at every moment some head or snapshot names
 * them.  A source head never names a map again once it dropped it (map
 * keys are unique), so "named before and after" means "named throughout".
 * If the source compacted in between (and dropped a map), the new object is
 * rewritten (If-Match on its own etag) from the source's newer head and
 * checked again: the fork or snapshot is then of that newer committed
 * state.  If the source is gone, or is another incarnation (removed and
 * created again), the new object is removed and the command fails: so a
 * snapshot never outlives a disk that `rm --force` removed while it ran.
 *
 * rm removes the snapshots, then the head, then lists the snapshots again
 * and removes those that appeared meanwhile (a snapshot whose second read
 * came before the head was gone), then the lease.  A snapshot whose
 * object landed after that second listing finds the head gone on its
 * second read and removes itself.
 */
#include <config.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "chunkmap.h"
#include "cleanup.h"
#include "hashset.h"
#include "history.h"
#include "log.h"
#include "names.h"
#include "volume.h"

/* Rewrites of a new fork or snapshot while its source keeps compacting. */
#define DERIVE_MAX_TRIES 8

/* Listings of the snapshots of a disk being removed, after its head. */
#define RM_RELIST_MAX 8

/* Tries of a CAS on the grace record against other servers raising it. */
#define GRACE_MAX_TRIES 16

void
volume_new_id (uint8_t id[HEAD_ID_LEN])
{
  static unsigned counter;
  size_t i;

  if (getrandom (id, HEAD_ID_LEN, 0) == HEAD_ID_LEN)
    return;
  /* No entropy (very early boot): time, pid and a counter are still
   * unique enough to tell two writers apart.
   */
  {
    struct timespec ts;
    uint64_t a, b;

    clock_gettime (CLOCK_REALTIME, &ts);
    a = (uint64_t)ts.tv_sec ^ ((uint64_t)getpid () << 32);
    b = (uint64_t)ts.tv_nsec
        ^ ((uint64_t)__atomic_add_fetch (&counter, 1, __ATOMIC_RELAXED) << 32);
    for (i = 0; i < 8; i++) {
      id[i] = (uint8_t)(a >> (8 * i));
      id[8 + i] = (uint8_t)(b >> (8 * i));
    }
  }
}

int
volume_encode_head (struct head *h, const struct crypto *c, const char *key,
                    void **data, size_t *len)
{
  volume_new_id (h->op_id);
  if (head_encode (h, c, key, data, len) == -1) {
    s3cow_log_error ("%s: cannot encode the head: %m", key);
    return -1;
  }
  return 0;
}

int
volume_create_if_absent (struct store *store, const char *disk, uint64_t size,
                         uint32_t chunk_size, uint64_t history,
                         const struct crypto *c, bool *created)
{
  CLEANUP_FREE void *data = NULL;
  struct head head = { 0 };
  char key[KEY_MAX_LEN];
  size_t len;
  int r;

  *created = false;
  head.size = size;
  head.chunk_size = chunk_size;
  head.has_history = true;
  head.history = history;
  head.created = head.committed = time (NULL);
  volume_new_id (head.disk_id);
  if (c) {
    head.encrypted = true;
    memcpy (head.key_fingerprint, crypto_fingerprint (c),
            CRYPTO_FINGERPRINT_LEN);
  }
  key_head (key, disk);
  if (volume_encode_head (&head, c, key, &data, &len) == -1)
    return -1;
  r = store_put_conditional (store, key, data, len, NULL, NULL);
  if (r == STORE_PRECONDITION)
    return 0;
  if (r != STORE_OK) {
    s3cow_log_error ("cannot create disk %s", disk);
    return -1;
  }
  *created = true;
  return 0;
}

int
volume_create (struct store *store, const char *disk, uint64_t size,
               uint32_t chunk_size, uint64_t history, const struct crypto *c)
{
  bool created;

  if (volume_create_if_absent (store, disk, size, chunk_size, history, c,
                               &created)
      == -1)
    return -1;
  if (!created) {
    s3cow_log_error ("disk %s already exists", disk);
    return -1;
  }
  return 0;
}

/* ---- fork and snapshot ---- */

/* Does b name every map that a names? */
static bool
maps_subset (const struct head *a, const struct head *b)
{
  uint32_t i;

  for (i = 0; i < a->nmaps; i++)
    if (!catalog_head_names_map (b, a->maps[i]))
      return false;
  return true;
}

/* The same incarnation of a disk: not removed and created again. */
static bool
same_disk (const struct head *a, const struct head *b)
{
  return a->created == b->created
         && memcmp (a->disk_id, b->disk_id, HEAD_ID_LEN) == 0;
}

/* Remove the new object key that publish wrote (the source went away). */
static void
unpublish (struct store *store, const char *key, const char *new_label)
{
  if (store_delete (store, key) != STORE_OK)
    s3cow_log_error ("could not remove %s: remove it with s3cow rm", new_label);
}

/* Write the new object key from the source src (see the comment at the
 * top).  fork_name: the new disk's name, or NULL for a snapshot.  A
 * source at a time is a kept head, immutable: the second read only checks
 * that it is still there; when it is the disk's head itself (its last
 * commit not kept yet), that head must still name the same maps.
 */
static int
publish (struct store *store, const struct name_ref *src,
         const struct crypto *c, const char *key, const char *fork_name,
         const char *new_label, const struct volume_fork_options *opts)
{
  char src_label[NAME_REF_MAX_LEN], etag[STORE_ETAG_MAX];
  char src_key[KEY_MAX_LEN];
  const char *src_what = src->snap[0] ? "snapshot" : "disk";
  uint8_t new_disk_id[HEAD_ID_LEN];
  struct head src_head, again;
  int tries, r;

  name_ref_label (src, src_label);
  if (history_read_ref_logged (store, src, true, c, &src_head, src_key) == -1)
    return -1;
  volume_new_id (new_disk_id);

  for (tries = 0; tries < DERIVE_MAX_TRIES; tries++) {
    struct head obj = src_head;
    void *data;
    size_t len;

    if (fork_name) {
      obj.generation = 0;
      obj.created = obj.committed = time (NULL);
      /* A parent is DISK or DISK@SNAP (format.h): a fork of a time names
       * the disk.
       */
      snprintf (obj.parent, sizeof obj.parent, "%s",
                src->at_time ? src->disk : src_label);
      memcpy (obj.disk_id, new_disk_id, HEAD_ID_LEN);
      if (opts && opts->set_history) {
        obj.has_history = true;
        obj.history = opts->history;
      }
    }
    if (volume_encode_head (&obj, c, key, &data, &len) == -1)
      return -1;
    r = store_put_conditional (store, key, data, len, tries ? etag : NULL,
                               etag);
    free (data);
    if (r == STORE_PRECONDITION && tries == 0) {
      s3cow_log_error ("%s %s already exists", fork_name ? "disk" : "snapshot",
                       new_label);
      return -1;
    }
    if (r == STORE_PRECONDITION || r == STORE_NOT_FOUND) {
      s3cow_log_error ("%s was changed or removed by someone else while it "
                       "was being created",
                       new_label);
      return -1;
    }
    if (r != STORE_OK) {
      s3cow_log_error ("cannot create %s", new_label);
      return -1;
    }

    /* Still named by the same source now that the new object exists? */
    r = history_read_key (store, src_key, src_label, c, &again, NULL);
    if (r != STORE_OK || !same_disk (&src_head, &again)) {
      /* The source went away (or cannot be read, or is a new disk of the
       * same name): its maps may be collected, and a snapshot must not
       * outlive its disk.  The new object must not stay.
       */
      s3cow_log_error ("%s %s was removed or could not be read while %s was "
                       "being created: removing %s",
                       src_what, src_label, new_label, new_label);
      unpublish (store, key, new_label);
      return -1;
    }
    if (maps_subset (&src_head, &again))
      return 0;
    if (src->at_time)
      break; /* a newer head is not the state at that time */
    src_head = again;
  }
  s3cow_log_error ("%s: %s kept compacting while it was being forked: try "
                   "again",
                   new_label, src_label);
  unpublish (store, key, new_label);
  return -1;
}

int
volume_fork_ref (struct store *store, const struct name_ref *src,
                 const char *new_disk, const struct volume_fork_options *opts,
                 const struct crypto *c)
{
  char key[KEY_MAX_LEN];

  key_head (key, new_disk);
  return publish (store, src, c, key, new_disk, new_disk, opts);
}

int
volume_fork (struct store *store, const char *src_disk, const char *src_snap,
             const char *new_disk, const struct crypto *c)
{
  struct name_ref src = { 0 };

  snprintf (src.disk, sizeof src.disk, "%s", src_disk);
  snprintf (src.snap, sizeof src.snap, "%s", src_snap ? src_snap : "");
  return volume_fork_ref (store, &src, new_disk, NULL, c);
}

int
volume_snapshot_ref (struct store *store, const struct name_ref *src,
                     const char *snap, const struct crypto *c)
{
  char key[KEY_MAX_LEN], label[2 * NAME_MAX_LEN + 2];

  key_snap (key, src->disk, snap);
  catalog_label (label, src->disk, snap);
  return publish (store, src, c, key, NULL, label, NULL);
}

int
volume_snapshot (struct store *store, const char *disk, const char *snap,
                 const struct crypto *c)
{
  struct name_ref src = { 0 };

  snprintf (src.disk, sizeof src.disk, "%s", disk);
  return volume_snapshot_ref (store, &src, snap, c);
}

/* ---- rm ---- */

int
volume_rm_snapshot (struct store *store, const char *disk, const char *snap)
{
  char key[KEY_MAX_LEN], label[2 * NAME_MAX_LEN + 2];
  int r;

  key_snap (key, disk, snap);
  catalog_label (label, disk, snap);
  r = store_head (store, key, NULL, NULL, NULL);
  if (r == STORE_NOT_FOUND) {
    s3cow_log_error ("snapshot %s does not exist", label);
    return -1;
  }
  if (r != STORE_OK || store_delete (store, key) != STORE_OK) {
    s3cow_log_error ("cannot remove snapshot %s", label);
    return -1;
  }
  return 0;
}

/* The snapshots of disk: their names, into a new malloc'd array. */
struct names {
  char (*v)[KEY_MAX_LEN]; /* names (name_valid: shorter) */
  size_t n, cap;
};

static int
add_name (void *opaque, const struct catalog_key *key,
          const struct store_entry *entry)
{
  struct names *l = opaque;

  (void)entry;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    void *p = realloc (l->v, cap * sizeof *l->v);
    if (p == NULL) {
      s3cow_log_error ("realloc: %m");
      return STORE_PERMANENT;
    }
    l->v = p;
    l->cap = cap;
  }
  snprintf (l->v[l->n++], KEY_MAX_LEN, "%s", key->name);
  return 0;
}

static int
list_snaps (struct store *store, const char *disk, struct names *out)
{
  int r;

  free (out->v);
  memset (out, 0, sizeof *out);
  r = catalog_list (store, disk, CATALOG_MASK (CATALOG_SNAP), add_name, out);
  if (r != STORE_OK)
    s3cow_log_error ("cannot list the snapshots of disk %s", disk);
  return r == STORE_OK ? 0 : -1;
}

static int
delete_snaps (struct store *store, const char *disk, const struct names *snaps)
{
  char key[KEY_MAX_LEN];
  size_t i;

  for (i = 0; i < snaps->n; i++) {
    key_snap (key, disk, snaps->v[i]);
    if (store_delete (store, key) != STORE_OK) {
      s3cow_log_error ("cannot remove snapshot %s@%s", disk, snaps->v[i]);
      return -1;
    }
  }
  return 0;
}

static int
delete_history (struct store *store, const char *disk)
{
  struct history_list l;
  size_t i;
  int status = 0;

  if (history_list (store, disk, &l) != STORE_OK)
    return -1;
  for (i = 0; i < l.n; i++)
    if (store_delete (store, l.v[i].key) != STORE_OK)
      status = -1;
  history_list_free (&l);
  return status;
}

int
volume_rm_disk (struct store *store, const char *disk, bool with_snapshots,
                bool force)
{
  CLEANUP_FREE char *lease = NULL;
  struct names snaps = { 0 };
  char key[KEY_MAX_LEN];
  struct head head;
  bool held = false, has_lease;
  int r, i, status = -1;

  /* 1. It exists (a head that does not decode can be removed too). */
  r = catalog_read_head (store, disk, "", &head, NULL, NULL, NULL);
  if (r == STORE_NOT_FOUND) {
    s3cow_log_error ("disk %s does not exist", disk);
    return -1;
  }
  if (r != STORE_OK && r != STORE_PERMANENT) {
    s3cow_log_error ("cannot read disk %s", disk);
    return -1;
  }

  /* 2. Its snapshots (refused unless --snapshots) and its lease (unless
   * --force).
   */
  if (list_snaps (store, disk, &snaps) == -1)
    goto out;
  r = catalog_lease_view (store, disk, &lease, &held);
  has_lease = r != STORE_NOT_FOUND;
  if (r != STORE_OK && r != STORE_NOT_FOUND && !force) {
    /* Unreadable (oversized, say): --force removes it unread. */
    s3cow_log_error ("cannot read the lease of disk %s: --force removes "
                     "the disk and its lease anyway",
                     disk);
    goto out;
  }
  if (!with_snapshots && snaps.n > 0) {
    s3cow_log_error ("disk %s has %zu snapshot%s (%s%s): remove %s first, or "
                     "give --snapshots to remove %s too",
                     disk, snaps.n, snaps.n == 1 ? "" : "s", snaps.v[0],
                     snaps.n > 1 ? ", ..." : "", snaps.n == 1 ? "it" : "them",
                     snaps.n == 1 ? "it" : "them");
    goto out;
  }
  if (!force && held) {
    s3cow_log_error ("disk %s is in use: a server holds its lease:\n%s\nstop "
                     "that server first, or give --force",
                     disk, lease);
    goto out;
  }

  /* 3. Snapshots, then the head, then snapshots made meanwhile (see the
   * top), then the lease: an interrupted rm leaves the disk still there,
   * or no disk.  Maps and chunks are left to gc: other disks may share
   * them.
   */
  if (delete_snaps (store, disk, &snaps) == -1)
    goto out;
  key_head (key, disk);
  if (store_delete (store, key) != STORE_OK) {
    s3cow_log_error ("cannot remove disk %s", disk);
    goto out;
  }
  for (i = 0;; i++) {
    if (list_snaps (store, disk, &snaps) == -1
        || delete_snaps (store, disk, &snaps) == -1) {
      s3cow_log_error ("disk %s is removed, but maybe not all of its "
                       "snapshots: run s3cow rm %s --force again",
                       disk, disk);
      goto out;
    }
    if (snaps.n == 0)
      break;
    if (i == RM_RELIST_MAX) {
      s3cow_log_error ("disk %s is removed, but snapshots of it keep "
                       "appearing: run s3cow rm %s --force again",
                       disk, disk);
      goto out;
    }
  }
  /* The kept heads: nothing reads them once the head is gone, and gc
   * deletes those an interrupted rm leaves.
   */
  if (delete_history (store, disk) == -1) {
    s3cow_log_error ("disk %s is removed, but maybe not all of its kept "
                     "heads (history): gc removes them",
                     disk);
    goto out;
  }
  key_lease (key, disk);
  if (has_lease && store_delete (store, key) != STORE_OK) {
    s3cow_log_error ("disk %s is removed, but not its lease %s", disk, key);
    goto out;
  }
  status = 0;

out:
  free (snaps.v);
  return status;
}

/* ---- unlock ---- */

int
volume_unlock (struct store *store, const char *disk, bool force,
               const char **what)
{
  CLEANUP_FREE char *lease = NULL;
  char key[KEY_MAX_LEN];
  struct head head;
  bool held = false;
  int r;

  r = catalog_lease_view (store, disk, &lease, &held);
  if (r == STORE_NOT_FOUND) {
    r = catalog_read_head (store, disk, "", &head, NULL, NULL, NULL);
    if (r == STORE_NOT_FOUND) {
      s3cow_log_error ("disk %s does not exist", disk);
      return -1;
    }
    *what = "no lease";
    return 0;
  }
  /* A lease that cannot be read (oversized, say: the plugin then cannot
   * open the disk) is what --force is for: break it unread.
   */
  if (r != STORE_OK && !force) {
    s3cow_log_error ("cannot read the lease of disk %s: --force breaks it "
                     "unread",
                     disk);
    return -1;
  }
  if (!force) {
    s3cow_log_error ("refusing to break the lease of disk %s without "
                     "--force.  Make sure that no server writes the disk "
                     "any more: two writers lose data.  The lease:\n%s",
                     disk, lease);
    return -1;
  }
  key_lease (key, disk);
  if (store_delete (store, key) != STORE_OK) {
    s3cow_log_error ("cannot delete the lease of disk %s", disk);
    return -1;
  }
  *what = r != STORE_OK ? "unreadable" : held ? "held" : "released";
  return 0;
}

void
volume_new_map_key (char *key, const char *disk, uint64_t generation)
{
  char instance[2 * 8 + 1];
  uint8_t id[HEAD_ID_LEN];
  size_t i;

  volume_new_id (id);
  for (i = 0; i < 8; i++)
    sprintf (instance + 2 * i, "%02x", id[i]);
  key_map (key, disk, generation, instance);
}

/* ---- a full map written as is ---- */

int
volume_commit_full_map (struct store *store, const char *disk,
                        const struct map_entry *entries, uint64_t n,
                        size_t *map_len)
{
  char key[KEY_MAX_LEN];
  CLEANUP_FREE void *map = NULL;
  CLEANUP_FREE struct volume_head *vh = calloc (1, sizeof *vh);
  struct head next;
  int r;

  if (vh == NULL) {
    s3cow_log_error ("calloc: %m");
    return -1;
  }
  key_head (vh->key, disk);
  r = catalog_read_head (store, disk, "", &vh->head, vh->etag, NULL, NULL);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("disk %s does not exist", disk);
  if (r != STORE_OK)
    return -1;
  next = vh->head;
  if (n > head_nchunks (&next)) {
    s3cow_log_error ("disk %s has only %" PRIu64 " chunks", disk,
                     head_nchunks (&next));
    return -1;
  }
  if (next.encrypted) {
    s3cow_log_error ("disk %s is encrypted", disk);
    return -1;
  }
  if (map_encode (entries, n, true, next.chunk_size, head_nchunks (&next), NULL,
                  NULL, &map, map_len)
      == -1) {
    s3cow_log_error ("out of memory for the map");
    return -1;
  }
  next.generation++;
  next.committed = time (NULL);
  volume_new_map_key (key, disk, next.generation);
  if (store_put (store, key, map, *map_len, NULL, NULL) != STORE_OK)
    return -1;
  next.nmaps = 1;
  strcpy (next.maps[0], key);
  r = volume_commit_head (store, vh, &next);
  volume_head_clear (vh);
  if (r == VOLUME_CHANGED)
    s3cow_log_error ("disk %s changed meanwhile (is a server writing it?)",
                     disk);
  return r == 0 ? 0 : -1;
}

/* ---- the gc grace record ---- */

/* The record and its etag (etag "" and *seconds 0 when there is none). */
static int
get_grace (struct store *store, uint64_t *seconds, char *etag)
{
  CLEANUP_FREE void *data = NULL;
  size_t len;
  int r;

  *seconds = 0;
  etag[0] = '\0';
  r = store_get_alloc (store, KEY_GC_GRACE, GRACE_MAX_SIZE, &data, &len, etag);
  if (r == STORE_NOT_FOUND)
    return 0;
  if (r != STORE_OK) {
    s3cow_log_error ("cannot read %s, the gc grace record", KEY_GC_GRACE);
    return -1;
  }
  if (grace_decode (KEY_GC_GRACE, data, len, seconds) == -1) {
    s3cow_log_error ("%s cannot be read: remove it, and open every disk "
                     "again (each server records its gc-grace=)",
                     KEY_GC_GRACE);
    return -1;
  }
  return 0;
}

int
volume_record_grace (struct store *store, double seconds)
{
  uint64_t want = (uint64_t)ceil (seconds), have;
  char etag[STORE_ETAG_MAX];
  int tries, r;

  for (tries = 0; tries < GRACE_MAX_TRIES; tries++) {
    CLEANUP_FREE void *data = NULL;
    size_t len;

    if (get_grace (store, &have, etag) == -1)
      return -1;
    if (etag[0] && have >= want)
      return 0;
    if (grace_encode (want, &data, &len) == -1) {
      s3cow_log_error ("out of memory");
      return -1;
    }
    /* Lost answers need no op id here: reading the record again shows
     * whether it is high enough, whoever wrote it.
     */
    r = etag[0]
            ? store_put_if_match (store, KEY_GC_GRACE, data, len, etag, NULL)
            : store_put_if_absent (store, KEY_GC_GRACE, data, len, NULL);
    if (r == STORE_OK) {
      s3cow_debug (commit, "%s: raised to %" PRIu64 " s", KEY_GC_GRACE, want);
      return 0;
    }
    if (r != STORE_PRECONDITION && r != STORE_NOT_FOUND) {
      s3cow_log_error ("cannot write %s, the gc grace record (s3cow gc reads "
                       "it to know how long chunks that are not committed "
                       "yet must be kept)",
                       KEY_GC_GRACE);
      return -1;
    }
  }
  s3cow_log_error ("%s keeps changing: cannot record gc-grace=%g", KEY_GC_GRACE,
                   seconds);
  return -1;
}

int
volume_read_grace (struct store *store, uint64_t *seconds, bool *recorded)
{
  char etag[STORE_ETAG_MAX];

  if (get_grace (store, seconds, etag) == -1)
    return -1;
  *recorded = etag[0] != '\0';
  if (!*recorded)
    *seconds = VOLUME_DEFAULT_GRACE;
  return 0;
}

int
volume_set_grace (struct store *store, double seconds, bool force,
                  uint64_t *old, bool *recorded)
{
  uint64_t want = (uint64_t)ceil (seconds);
  CLEANUP_FREE void *data = NULL;
  char etag[STORE_ETAG_MAX];
  size_t len;
  int r;

  if (get_grace (store, old, etag) == -1)
    return -1;
  *recorded = etag[0] != '\0';
  if (!*recorded)
    *old = VOLUME_DEFAULT_GRACE;
  if (want >= *old)
    return volume_record_grace (store, seconds);
  if (!force) {
    s3cow_log_error ("the gc grace is %" PRIu64 "s (%s): lowering it to "
                     "%" PRIu64 "s needs --force, and is safe only once no "
                     "server with a longer gc-grace= writes to the bucket (a "
                     "server records its gc-grace= when it opens a disk: one "
                     "that opens a disk later raises it again)",
                     *old,
                     *recorded ? "recorded in " KEY_GC_GRACE
                               : "the default: no server recorded one",
                     want);
    return -1;
  }
  if (grace_encode (want, &data, &len) == -1) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  /* Never over a record raised meanwhile: that server is running.  The
   * record holds only the number, so bytes equal to ours are as good as
   * our own write (an attempt whose answer was lost).
   */
  r = store_put_conditional (store, KEY_GC_GRACE, data, len,
                             *recorded ? etag : NULL, NULL);
  if (r == STORE_PRECONDITION || r == STORE_NOT_FOUND) {
    s3cow_log_error ("%s changed while it was being lowered (a server opened "
                     "a disk and recorded its gc-grace=?): it was not "
                     "lowered",
                     KEY_GC_GRACE);
    return -1;
  }
  if (r != STORE_OK) {
    s3cow_log_error ("cannot write %s, the gc grace record: it may or may "
                     "not be lowered (s3cow grace shows it)",
                     KEY_GC_GRACE);
    return -1;
  }
  s3cow_debug (commit, "%s: lowered from %" PRIu64 " s to %" PRIu64 " s",
               KEY_GC_GRACE, *old, want);
  return 0;
}
