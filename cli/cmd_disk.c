/* s3cow command: create, fork, snapshot, rm, unlock.
 *
 * Fork and snapshot cost a constant number of requests, whatever the size
 * of the disk: read the source's head, write one new object, read the
 * source's head again.
 *
 *   fork      a new head (generation 0, parent = source) naming the
 *             source's immutable maps, written with If-None-Match: *
 *   snapshot  a byte-for-byte copy of the disk's head under snaps/,
 *             written with If-None-Match: *
 *
 * The second read makes them safe against gc (cmd_gc.c): the maps the new
 * object names must still be named by the source after the new object
 * exists, so that at every moment some head or snapshot names them.  A
 * source head never names a map again once it dropped it (map keys are
 * unique), so "named before and after" means "named throughout".  If the
 * source compacted in between (and dropped a map), the new object is
 * rewritten (If-Match on its own etag) from the source's newer head and
 * checked again: the fork or snapshot is then of that newer committed state.
 * A 412 on either write is checked against the object (landed): it may be
 * this command's own write, applied with its answer lost.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "log.h"
#include "names.h"

/* Rewrites of a new fork or snapshot while its source keeps compacting. */
#define DERIVE_MAX_TRIES 8

/* Read the head of disk[@snap] with messages for people.  Returns 0, or -1
 * after printing (a missing disk or snapshot, a store failure).
 */
static int
read_source (struct store *store, const char *disk, const char *snap,
             struct head *head, void **raw, size_t *raw_len)
{
  char label[2 * NAME_MAX_LEN + 2];
  int r;

  catalog_label (label, disk, snap);
  r = catalog_read_head (store, disk, snap, head, NULL, raw, raw_len);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("%s %s does not exist",
                     snap && snap[0] ? "snapshot" : "disk", label);
  else if (r != STORE_OK)
    s3cow_log_error ("cannot read %s %s", snap && snap[0] ? "snapshot" : "disk",
                     label);
  return r == STORE_OK ? 0 : -1;
}

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

/* After STORE_PRECONDITION from a conditional PUT of data to key.  The
 * store retries transient failures, so the 412 may answer a retry of this
 * very PUT, whose first attempt landed and lost its answer (store.h): read
 * the object back.  Returns STORE_OK (etag, if not NULL, gets the object's)
 * if it holds exactly data, STORE_PRECONDITION if it holds something else
 * or is gone, or the read's failure.  Identical bytes are exactly the
 * object asked for: a disk with the same created time (in seconds), size,
 * chunk size, parent and maps, or a snapshot of the same committed state.
 * So success is right even in the unlikely case that another client wrote
 * them (the same create or fork in the same second, a snapshot of the
 * same state under the same name).
 */
static int
landed (struct store *store, const char *key, const void *data, size_t len,
        char *etag)
{
  CLEANUP_FREE void *got = NULL;
  size_t got_len;
  int r;

  r = store_get_alloc (store, key, HEAD_MAX_SIZE, &got, &got_len, etag);
  if (r == STORE_NOT_FOUND)
    return STORE_PRECONDITION;
  if (r != STORE_OK)
    return r;
  return got_len == len && memcmp (got, data, len) == 0 ? STORE_OK
                                                        : STORE_PRECONDITION;
}

int
cmd_create (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1], key[KEY_MAX_LEN];
  CLEANUP_FREE void *data = NULL;
  struct head head = { 0 };
  struct store *store;
  uint64_t size;
  size_t len;
  int r;

  if (parse_disk_name (argv[1], false, disk, snap) == -1
      || parse_size ("size", argv[2], &size) == -1)
    return EXIT_USAGE;
  if (size == 0 || size % 512 != 0 || size > DISK_SIZE_MAX) {
    s3cow_log_error ("size %s: must be a positive multiple of 512 bytes, at "
                     "most 1P",
                     argv[2]);
    return EXIT_USAGE;
  }
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;

  head.size = size;
  head.chunk_size = cli->chunk_size;
  head.created = head.committed = time (NULL);
  if (head_encode (&head, &data, &len) == -1) {
    s3cow_log_error ("out of memory");
    return EXIT_FAIL;
  }
  key_head (key, disk);
  r = store_put_if_absent (store, key, data, len, NULL);
  if (r == STORE_PRECONDITION)
    r = landed (store, key, data, len, NULL);
  if (r == STORE_PRECONDITION) {
    s3cow_log_error ("disk %s already exists", disk);
    return EXIT_FAIL;
  }
  if (r != STORE_OK) {
    s3cow_log_error ("cannot create disk %s", disk);
    return EXIT_FAIL;
  }
  return EXIT_OK;
}

/* The object a fork (fork_name != NULL) or a snapshot writes, made from
 * the source's head (and its raw bytes).  *data: a new malloc'd buffer.
 */
static int
derive (const struct head *src, const void *raw, size_t raw_len,
        const char *fork_name, const char *src_label, void **data, size_t *len)
{
  struct head fork;

  if (fork_name == NULL) {
    *data = malloc (raw_len);
    if (*data == NULL)
      return -1;
    memcpy (*data, raw, raw_len);
    *len = raw_len;
    return 0;
  }
  fork = *src;
  fork.generation = 0;
  fork.created = fork.committed = time (NULL);
  snprintf (fork.parent, sizeof fork.parent, "%s", src_label);
  return head_encode (&fork, data, len);
}

/* Write the new object key from the source disk[@snap] (see the comment at
 * the top).  fork_name: the new disk's name, or NULL for a snapshot.
 * Returns an exit status, after printing.
 */
static int
publish (struct store *store, const char *disk, const char *snap,
         const char *key, const char *fork_name, const char *new_label)
{
  char src_label[2 * NAME_MAX_LEN + 2], etag[STORE_ETAG_MAX];
  CLEANUP_FREE void *raw = NULL;
  struct head src, again;
  size_t raw_len;
  int tries, r;

  catalog_label (src_label, disk, snap);
  if (read_source (store, disk, snap, &src, &raw, &raw_len) == -1)
    return EXIT_FAIL;

  for (tries = 0; tries < DERIVE_MAX_TRIES; tries++) {
    void *data, *raw2;
    size_t len, raw2_len;

    if (derive (&src, raw, raw_len, fork_name, src_label, &data, &len) == -1) {
      s3cow_log_error ("out of memory");
      return EXIT_FAIL;
    }
    if (tries == 0)
      r = store_put_if_absent (store, key, data, len, etag);
    else
      r = store_put_if_match (store, key, data, len, etag, etag);
    if (r == STORE_PRECONDITION)
      r = landed (store, key, data, len, etag);
    free (data);
    if (r == STORE_PRECONDITION && tries == 0) {
      s3cow_log_error ("%s %s already exists", fork_name ? "disk" : "snapshot",
                       new_label);
      return EXIT_FAIL;
    }
    if (r == STORE_PRECONDITION || r == STORE_NOT_FOUND) {
      s3cow_log_error ("%s was changed or removed by someone else while it "
                       "was being created",
                       new_label);
      return EXIT_FAIL;
    }
    if (r != STORE_OK) {
      s3cow_log_error ("cannot create %s", new_label);
      return EXIT_FAIL;
    }

    /* Still named by the source now that the new object exists? */
    r = catalog_read_head (store, disk, snap, &again, NULL, &raw2, &raw2_len);
    if (r != STORE_OK) {
      /* The source went away (or cannot be read): its maps may be
       * collected, so the new object must not stay.
       */
      s3cow_log_error ("%s %s disappeared or could not be read while %s was "
                       "being created: removing %s",
                       snap && snap[0] ? "snapshot" : "disk", src_label,
                       new_label, new_label);
      if (store_delete (store, key) != STORE_OK)
        s3cow_log_error ("could not remove %s: remove it with s3cow rm",
                         new_label);
      return EXIT_FAIL;
    }
    free (raw);
    raw = raw2;
    raw_len = raw2_len;
    if (maps_subset (&src, &again))
      return EXIT_OK;
    src = again;
  }
  s3cow_log_error ("%s: %s kept compacting while it was being forked: try "
                   "again",
                   new_label, src_label);
  if (store_delete (store, key) != STORE_OK)
    s3cow_log_error ("could not remove %s: remove it with s3cow rm", new_label);
  return EXIT_FAIL;
}

int
cmd_fork (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  char target[NAME_MAX_LEN + 1], tsnap[NAME_MAX_LEN + 1], key[KEY_MAX_LEN];
  struct store *store;

  if (parse_disk_name (argv[1], true, disk, snap) == -1
      || parse_disk_name (argv[2], false, target, tsnap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  key_head (key, target);
  return publish (store, disk, snap, key, target, target);
}

int
cmd_snapshot (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1], key[KEY_MAX_LEN];
  char label[2 * NAME_MAX_LEN + 2];
  struct store *store;

  if (parse_disk_name (argv[1], false, disk, snap) == -1
      || parse_snap_name (argv[2]) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  key_snap (key, disk, argv[2]);
  catalog_label (label, disk, argv[2]);
  return publish (store, disk, "", key, NULL, label);
}

/* ---- rm ---- */

static int
rm_snapshot (struct store *store, const char *disk, const char *snap)
{
  char key[KEY_MAX_LEN], label[2 * NAME_MAX_LEN + 2];
  int r;

  key_snap (key, disk, snap);
  catalog_label (label, disk, snap);
  r = store_head (store, key, NULL, NULL, NULL);
  if (r == STORE_NOT_FOUND) {
    s3cow_log_error ("snapshot %s does not exist", label);
    return EXIT_FAIL;
  }
  if (r != STORE_OK || store_delete (store, key) != STORE_OK) {
    s3cow_log_error ("cannot remove snapshot %s", label);
    return EXIT_FAIL;
  }
  return EXIT_OK;
}

static int
rm_disk (struct cli *cli, struct store *store, const char *disk)
{
  CLEANUP_FREE char *lease = NULL;
  struct roots snaps = { 0 };
  char key[KEY_MAX_LEN];
  struct head head;
  size_t i;
  bool held = false, has_lease;
  int r, status = EXIT_FAIL;

  /* 1. It exists (a head that does not decode can be removed too). */
  r = catalog_read_head (store, disk, "", &head, NULL, NULL, NULL);
  if (r == STORE_NOT_FOUND) {
    s3cow_log_error ("disk %s does not exist", disk);
    return EXIT_FAIL;
  }
  if (r != STORE_OK && r != STORE_PERMANENT) {
    s3cow_log_error ("cannot read disk %s", disk);
    return EXIT_FAIL;
  }

  /* 2. Its snapshots and its lease: refused unless --force. */
  if (roots_list (store, disk, CATALOG_MASK (CATALOG_SNAP), &snaps) != STORE_OK)
    return EXIT_FAIL;
  r = lease_view (store, disk, &lease, &held);
  has_lease = r != STORE_NOT_FOUND;
  if (r != STORE_OK && r != STORE_NOT_FOUND) {
    /* Unreadable (oversized, say): --force removes it unread. */
    if (!cli->force) {
      s3cow_log_error ("cannot read the lease of disk %s: --force removes "
                       "the disk and its lease anyway",
                       disk);
      goto out;
    }
  }
  if (!cli->force && snaps.n > 0) {
    s3cow_log_error ("disk %s has %zu snapshot%s (%s%s): remove %s first, or "
                     "give --force to remove %s too",
                     disk, snaps.n, snaps.n == 1 ? "" : "s", snaps.v[0].snap,
                     snaps.n > 1 ? ", ..." : "", snaps.n == 1 ? "it" : "them",
                     snaps.n == 1 ? "it" : "them");
    goto out;
  }
  if (!cli->force && held) {
    s3cow_log_error ("disk %s is in use: a server holds its lease:\n%s\nstop "
                     "that server first, or give --force",
                     disk, lease);
    goto out;
  }

  /* 3. Snapshots, then the head, then the lease: an interrupted rm leaves
   * the disk still there.  Maps and chunks are left to gc: other disks may
   * share them.
   */
  for (i = 0; i < snaps.n; i++) {
    key_snap (key, disk, snaps.v[i].snap);
    if (store_delete (store, key) != STORE_OK) {
      s3cow_log_error ("cannot remove snapshot %s@%s", disk, snaps.v[i].snap);
      goto out;
    }
  }
  key_head (key, disk);
  if (store_delete (store, key) != STORE_OK) {
    s3cow_log_error ("cannot remove disk %s", disk);
    goto out;
  }
  key_lease (key, disk);
  if (has_lease && store_delete (store, key) != STORE_OK) {
    s3cow_log_error ("disk %s is removed, but not its lease %s", disk, key);
    goto out;
  }
  status = EXIT_OK;

out:
  roots_free (&snaps);
  return status;
}

int
cmd_rm (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct store *store;

  if (parse_disk_name (argv[1], true, disk, snap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (snap[0])
    return rm_snapshot (store, disk, snap);
  return rm_disk (cli, store, disk);
}

/* ---- unlock ---- */

int
cmd_unlock (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1], key[KEY_MAX_LEN];
  CLEANUP_FREE char *lease = NULL;
  struct store *store;
  struct head head;
  bool held = false;
  int r;

  if (parse_disk_name (argv[1], false, disk, snap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  r = lease_view (store, disk, &lease, &held);
  if (r == STORE_NOT_FOUND) {
    r = catalog_read_head (store, disk, "", &head, NULL, NULL, NULL);
    if (r == STORE_NOT_FOUND) {
      s3cow_log_error ("disk %s does not exist", disk);
      return EXIT_FAIL;
    }
    printf ("disk %s has no lease: nothing to unlock\n", disk);
    return EXIT_OK;
  }
  /* A lease that cannot be read (oversized, say: the plugin then cannot
   * open the disk) is what --force is for: break it unread.
   */
  if (r != STORE_OK && !cli->force) {
    s3cow_log_error ("cannot read the lease of disk %s: --force breaks it "
                     "unread",
                     disk);
    return EXIT_FAIL;
  }
  if (!cli->force) {
    s3cow_log_error ("refusing to break the lease of disk %s without "
                     "--force.  Make sure that no server writes the disk "
                     "any more: two writers lose data.  The lease:\n%s",
                     disk, lease);
    return EXIT_FAIL;
  }
  key_lease (key, disk);
  if (store_delete (store, key) != STORE_OK) {
    s3cow_log_error ("cannot delete the lease of disk %s", disk);
    return EXIT_FAIL;
  }
  printf ("disk %s: lease %s broken\n", disk,
          r != STORE_OK ? "(unreadable)"
          : held        ? "(held)"
                        : "(released)");
  return EXIT_OK;
}
