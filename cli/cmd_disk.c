/* s3cow command: create, fork, snapshot, rm, unlock.
 *
 * Arguments and output only: the bucket is changed by plugin/volume.c,
 * which says how each of these stays safe against gc, lost answers and
 * each other.
 */
#include <config.h>

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
  uint64_t size;

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
  return volume_create (store, disk, size, cli->chunk_size, cli->crypto) == 0
             ? EXIT_OK
             : EXIT_FAIL;
}

int
cmd_fork (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  char target[NAME_MAX_LEN + 1], tsnap[NAME_MAX_LEN + 1];
  struct store *store;

  if (parse_disk_name (argv[1], true, disk, snap) == -1
      || parse_disk_name (argv[2], false, target, tsnap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  return volume_fork (store, disk, snap, target, cli->crypto) == 0 ? EXIT_OK
                                                                   : EXIT_FAIL;
}

int
cmd_snapshot (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct store *store;

  if (parse_disk_name (argv[1], false, disk, snap) == -1
      || parse_snap_name (argv[2]) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  return volume_snapshot (store, disk, argv[2], cli->crypto) == 0 ? EXIT_OK
                                                                  : EXIT_FAIL;
}

int
cmd_rm (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct store *store;
  int r;

  if (parse_disk_name (argv[1], true, disk, snap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (snap[0])
    r = volume_rm_snapshot (store, disk, snap);
  else
    r = volume_rm_disk (store, disk, cli->force);
  return r == 0 ? EXIT_OK : EXIT_FAIL;
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
  if (what[0] == 'n') /* "no lease" */
    printf ("disk %s has no lease: nothing to unlock\n", disk);
  else
    printf ("disk %s: lease (%s) broken\n", disk, what);
  return EXIT_OK;
}
