/* s3cow command: create, fork, snapshot, rm, unlock, resize.
 *
 * Arguments and output only: the bucket is changed by plugin/volume.c,
 * which says how each of these stays safe against gc, lost answers and
 * each other.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "format.h"
#include "log.h"
#include "names.h"
#include "volume.h"

int
cmd_create (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct store *store;
  uint64_t size, history;

  if (parse_disk_name (argv[1], false, disk, snap) == -1
      || parse_disk_size (argv[2], &size) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  history = cli->set_history ? cli->history : HEAD_HISTORY_DEFAULT;
  if (volume_create (store, disk, size, cli->chunk_size, history, cli->crypto)
      == -1)
    return EXIT_FAIL;
  if (cli->json
      && print_json_result (JSON_STR, "disk", disk, JSON_BOOL, "created", 1,
                            JSON_U64, "size", size, JSON_U64, "chunk_size",
                            (uint64_t)cli->chunk_size, JSON_U64,
                            "history_seconds", history, JSON_BOOL, "encrypted",
                            cli->crypto != NULL, JSON_END)
             == -1)
    return EXIT_FAIL;
  return EXIT_OK;
}

int
cmd_fork (struct cli *cli, int argc, char **argv)
{
  char target[NAME_MAX_LEN + 1], tsnap[NAME_MAX_LEN + 1];
  struct volume_fork_options opts
      = { .set_history = cli->set_history, .history = cli->history };
  struct name_ref src;
  struct store *store;

  if (name_parse_ref (argv[1], &src) == -1
      || parse_disk_name (argv[2], false, target, tsnap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (volume_fork_ref (store, &src, target, &opts, cli->crypto) == -1)
    return EXIT_FAIL;
  if (cli->json
      && print_json_result (JSON_STR, "disk", target, JSON_BOOL, "created", 1,
                            JSON_STR, "source", argv[1], JSON_END)
             == -1)
    return EXIT_FAIL;
  return EXIT_OK;
}

int
cmd_snapshot (struct cli *cli, int argc, char **argv)
{
  struct name_ref src;
  struct store *store;

  if (name_parse_ref (argv[1], &src) == -1 || parse_snap_name (argv[2]) == -1)
    return EXIT_USAGE;
  if (src.snap[0]) {
    s3cow_log_error ("'%s': a snapshot is not allowed here (give DISK or "
                     "DISK@TIME)",
                     argv[1]);
    return EXIT_USAGE;
  }
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (volume_snapshot_ref (store, &src, argv[2], cli->crypto) == -1)
    return EXIT_FAIL;
  if (cli->json
      && print_json_result (JSON_STR, "disk", src.disk, JSON_STR, "snapshot",
                            argv[2], JSON_BOOL, "created", 1, JSON_STR,
                            "source", argv[1], JSON_END)
             == -1)
    return EXIT_FAIL;
  return EXIT_OK;
}

int
cmd_rm (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct store *store;
  int r;

  if (name_is_time_ref (argv[1])) {
    s3cow_log_error ("'%s' is a point in time, which cannot be removed: the "
                     "disk's history keeps it until it is older than the "
                     "history window (s3cow history DISK DURATION changes "
                     "the window)",
                     argv[1]);
    return EXIT_USAGE;
  }
  if (parse_disk_name (argv[1], true, disk, snap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (snap[0])
    r = volume_rm_snapshot (store, disk, snap);
  else
    r = volume_rm_disk (store, disk, cli->snapshots, cli->force);
  if (r == -1)
    return EXIT_FAIL;
  if (cli->json
      && print_json_result (JSON_STR, "disk", disk, JSON_STR, "snapshot",
                            snap[0] ? snap : NULL, JSON_BOOL, "removed", 1,
                            JSON_BOOL, "snapshots_removed",
                            !snap[0] && cli->snapshots, JSON_END)
             == -1)
    return EXIT_FAIL;
  return EXIT_OK;
}

int
cmd_unlock (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct store *store;
  const char *what;

  if (parse_disk_name (argv[1], false, disk, snap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (volume_unlock (store, disk, cli->force, &what) == -1)
    return EXIT_FAIL;
  if (cli->json)
    return print_json_result (JSON_STR, "disk", disk, JSON_BOOL, "lease_broken",
                              what[0] != 'n', JSON_STR, "lease", what, JSON_END)
                   == 0
               ? EXIT_OK
               : EXIT_FAIL;
  if (what[0] == 'n') /* "no lease" */
    printf ("disk %s has no lease: nothing to unlock\n", disk);
  else
    printf ("disk %s: lease (%s) broken\n", disk, what);
  return EXIT_OK;
}

int
cmd_resize (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1], a[16], b[16];
  struct store *store;
  uint64_t size, old_size;

  if (name_parse_export (argv[1], disk, snap) == -1)
    return EXIT_USAGE;
  if (snap[0]) {
    s3cow_log_error ("%s is a snapshot, and snapshots never change: fork it "
                     "(s3cow fork %s NEWDISK) and resize the new disk",
                     argv[1], argv[1]);
    return EXIT_USAGE;
  }
  if (parse_disk_size (argv[2], &size) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (volume_resize (store, disk, size, cli->shrink, cli->crypto, &old_size)
      == -1)
    return EXIT_FAIL;
  if (cli->json)
    return print_json_result (JSON_STR, "disk", disk, JSON_BOOL, "resized",
                              old_size != size, JSON_U64, "old_size", old_size,
                              JSON_U64, "size", size, JSON_END)
                   == 0
               ? EXIT_OK
               : EXIT_FAIL;
  if (old_size == size)
    printf ("disk %s is %s (%" PRIu64 " bytes) already: nothing to do\n", disk,
            human_size (size, a), size);
  else
    printf ("disk %s resized from %s to %s (%" PRIu64 " bytes)\n", disk,
            human_size (old_size, a), human_size (size, b), size);
  return EXIT_OK;
}
