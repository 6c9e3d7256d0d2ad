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
#include <time.h>

#include "catalog.h"
#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "hash.h"
#include "log.h"
#include "names.h"

int
cmd_debug_fill (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  char etag[STORE_ETAG_MAX], key[KEY_MAX_LEN], instance[32];
  struct map_entry *entries;
  CLEANUP_FREE void *map = NULL;
  CLEANUP_FREE void *data = NULL;
  struct store *store;
  struct head h;
  size_t map_len, len;
  uint64_t n, i;
  int r;

  if (parse_disk_name (argv[1], false, disk, snap) == -1
      || parse_size ("N", argv[2], &n) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  r = catalog_read_head (store, disk, "", &h, etag, NULL, NULL);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("disk %s does not exist", disk);
  if (r != STORE_OK)
    return EXIT_FAIL;
  if (n > head_nchunks (&h)) {
    s3cow_log_error ("disk %s has only %" PRIu64 " chunks", disk,
                     head_nchunks (&h));
    return EXIT_USAGE;
  }

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
  r = map_encode (entries, n, true, h.chunk_size, head_nchunks (&h), &map,
                  &map_len);
  free (entries);
  if (r == -1) {
    s3cow_log_error ("out of memory for the map");
    return EXIT_FAIL;
  }
  snprintf (instance, sizeof instance, "debugfill%07lx",
            (unsigned long)(time (NULL) & 0xfffffff));
  h.generation++;
  h.committed = time (NULL);
  key_map (key, disk, h.generation, instance);
  if (store_put (store, key, map, map_len, NULL, NULL) != STORE_OK)
    return EXIT_FAIL;
  h.nmaps = 1;
  strcpy (h.maps[0], key);
  if (head_encode (&h, &data, &len) == -1) {
    s3cow_log_error ("out of memory");
    return EXIT_FAIL;
  }
  key_head (key, disk);
  r = store_put_if_match (store, key, data, len, etag, NULL);
  if (r == STORE_PRECONDITION)
    s3cow_log_error ("disk %s changed meanwhile (is a server writing it?)",
                     disk);
  if (r != STORE_OK)
    return EXIT_FAIL;
  printf ("disk %s: committed a full map of %" PRIu64 " fake chunks (%zu "
          "bytes)\n",
          disk, n, map_len);
  return EXIT_OK;
}
