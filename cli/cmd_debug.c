/* s3cow command: debug-fill DISK N (hidden; for scripts/bench-fork.sh).
 *
 * Commits, as a writer would, a full map of N entries (chunks 0 to N-1)
 * whose hashes name no chunk object, so that a benchmark can measure fork
 * on a densely written 1 TiB disk without uploading 1 TiB.  The disk's data
 * becomes unreadable (fsck reports every chunk missing); remove it after.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "hash.h"
#include "log.h"
#include "names.h"
#include "volume.h"

int
cmd_debug_fill (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct map_entry *entries;
  struct store *store;
  size_t map_len;
  uint64_t n, i;
  int r;

  if (parse_disk_name (argv[1], false, disk, snap) == -1
      || parse_size ("N", argv[2], &n) == -1)
    return EXIT_USAGE;
  if (n > DISK_SIZE_MAX / CHUNK_SIZE_MIN) {
    s3cow_log_error ("N %s: too large", argv[2]);
    return EXIT_USAGE;
  }
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;

  entries = malloc ((n ? n : 1) * sizeof *entries);
  if (entries == NULL) {
    s3cow_log_error ("out of memory for %" PRIu64 " entries", n);
    return EXIT_FAIL;
  }
  for (i = 0; i < n; i++) {
    char seed[40];
    int seed_len = snprintf (seed, sizeof seed, "s3cow fake chunk %" PRIu64, i);

    entries[i].idx = i;
    hash_sha256 (seed, seed_len, entries[i].hash);
  }
  r = volume_commit_full_map (store, disk, entries, n, &map_len);
  free (entries);
  if (r == -1)
    return EXIT_FAIL;
  printf ("disk %s: committed a full map of %" PRIu64 " fake chunks (%zu "
          "bytes)\n",
          disk, n, map_len);
  return EXIT_OK;
}
