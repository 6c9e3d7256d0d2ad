/* s3cow command: gc, and grace (show or set the bucket's gc grace
 * record).  Arguments and output only: the mark and sweep, and why they
 * are safe while servers write, are plugin/volume_gc.c's; the grace
 * record is plugin/volume.c's.
 *
 * --json: one object, written as gc goes (a bucket may hold millions of
 * objects to delete): "dry_run", "objects" (with --dry-run or --verbose:
 * each object deleted, or that would be, as key, size, modified), then
 * the counts, and "completed" (false when gc stopped on an error).
 */
#include <config.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "log.h"
#include "volume.h"

static void
gc_progress (void *opaque, const char *line)
{
  progress (opaque, "%s", line);
}

/* Objects listed so far in the JSON output. */
static uint64_t json_objects;

static void
gc_swept (void *opaque, const char *key, uint64_t size, time_t mtime)
{
  const struct cli *cli = opaque;
  char t[32];

  if (cli->json) {
    if (!cli->dry_run && !cli->verbose)
      return;
    printf ("%s\n    { \"key\": ", json_objects++ ? "," : "");
    json_string (stdout, key);
    printf (", \"size\": %" PRIu64 ", \"modified\": \"%s\" }", size,
            iso_time (mtime, t));
  } else if (cli->dry_run) {
    progress_done (cli);
    printf ("would delete %s (%" PRIu64 " bytes, modified %s)\n", key, size,
            iso_time (mtime, t));
  } else if (cli->verbose) {
    progress_done (cli);
    printf ("deleted %s (%" PRIu64 " bytes)\n", key, size);
  }
}

/* The end of the --json object: the counts of res. */
static void
print_json_counts (const struct volume_gc_result *res, bool completed)
{
  printf ("%s],\n"
          "  \"disks_and_snapshots\": %zu,\n"
          "  \"maps_in_use\": %zu,\n"
          "  \"chunks_in_use\": %zu,\n"
          "  \"maps_deleted\": %" PRIu64 ",\n"
          "  \"chunks_deleted\": %" PRIu64 ",\n"
          "  \"bytes_deleted\": %" PRIu64 ",\n"
          "  \"kept_heads_in_use\": %" PRIu64 ",\n"
          "  \"kept_heads_deleted\": %" PRIu64 ",\n"
          "  \"young_chunks\": %" PRIu64 ",\n"
          "  \"completed\": %s\n}\n",
          json_objects ? "\n  " : "", res->roots, res->maps_in_use,
          res->chunks_in_use, res->maps_deleted, res->chunks_deleted,
          res->bytes_deleted, res->kept_heads, res->kept_deleted, res->young,
          completed ? "true" : "false");
}

int
cmd_gc (struct cli *cli, int argc, char **argv)
{
  const struct volume_gc_ops ops
      = { .opaque = cli, .progress = gc_progress, .swept = gc_swept };
  struct volume_gc_result res;
  struct store *store;
  int r;

  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (cli->json)
    printf ("{\n  \"dry_run\": %s,\n  \"objects\": [",
            cli->dry_run ? "true" : "false");
  r = volume_gc (store, cli->grace, cli->force, cli->dry_run, &ops, &res);
  progress_done (cli);
  if (cli->json)
    print_json_counts (&res, r == 0);
  if (r == -1) {
    if (res.sweeping && !cli->dry_run)
      s3cow_log_error ("gc stopped: what it deleted before was unreferenced");
    else
      s3cow_log_error ("gc stopped: nothing was deleted");
    return EXIT_FAIL;
  }
  if (cli->json)
    return EXIT_OK;
  printf ("gc: %zu disks and snapshots use %zu maps and %zu chunks; %s %" PRIu64
          " maps and %" PRIu64 " chunks (%" PRIu64 " bytes)",
          res.roots, res.maps_in_use, res.chunks_in_use,
          cli->dry_run ? "would delete" : "deleted", res.maps_deleted,
          res.chunks_deleted, res.bytes_deleted);
  if (res.kept_heads || res.kept_deleted)
    printf ("; %" PRIu64 " kept heads (history) in use, %s %" PRIu64,
            res.kept_heads, cli->dry_run ? "would delete" : "deleted",
            res.kept_deleted);
  if (res.young)
    printf ("; %" PRIu64 " unused chunks are younger than the grace period",
            res.young);
  printf ("\n");
  return EXIT_OK;
}

/* A grace as s3cow grace shows it: human_window's, but 0 is "0s". */
static const char *
human_grace (uint64_t seconds, char *buf)
{
  if (seconds == 0) {
    snprintf (buf, 32, "0s");
    return buf;
  }
  return human_window (seconds, buf);
}

int
cmd_grace (struct cli *cli, int argc, char **argv)
{
  char a[32], b[32];
  struct store *store;
  uint64_t old, want;
  double seconds = 0;
  bool recorded;

  if (argc > 1) {
    if (parse_duration ("grace", argv[1], &seconds) == -1)
      return EXIT_USAGE;
    if (seconds > (double)HEAD_HISTORY_MAX) {
      s3cow_log_error ("grace %s is too long (at most 3650d)", argv[1]);
      return EXIT_USAGE;
    }
  }
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (argc == 1) {
    if (volume_read_grace (store, &old, &recorded) == -1)
      return EXIT_FAIL;
    if (cli->json)
      return print_json_result (JSON_U64, "grace_seconds", old, JSON_BOOL,
                                "recorded", recorded, JSON_BOOL, "set", 0,
                                JSON_END)
                     == 0
                 ? EXIT_OK
                 : EXIT_FAIL;
    printf ("%s (%s)\n", human_grace (old, a),
            recorded ? "recorded in gc/grace"
                     : "the default: no server recorded one");
    return EXIT_OK;
  }
  want = (uint64_t)ceil (seconds);
  if (volume_set_grace (store, seconds, cli->force, &old, &recorded) == -1)
    return EXIT_FAIL;
  if (cli->json)
    return print_json_result (JSON_U64, "grace_seconds", want, JSON_U64,
                              "old_grace_seconds", old, JSON_BOOL,
                              "old_recorded", recorded, JSON_BOOL, "set", 1,
                              JSON_END)
                   == 0
               ? EXIT_OK
               : EXIT_FAIL;
  printf ("gc grace: %s (was %s%s)\n", human_grace (want, a),
          human_grace (old, b), recorded ? "" : ", the default");
  return EXIT_OK;
}
