/* s3cow command: log (a disk's commits in its history window) and history
 * (show or change the window).  Reading is plugin/history.c's; the
 * change is plugin/volume_history.c's.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog.h"
#include "cli.h"
#include "history.h"
#include "log.h"
#include "volume.h"

static const char *
what_changed (const struct history_commit *c)
{
  if (!c->wrote_map)
    return "none";
  return c->full ? "full" : "delta";
}

static void
print_json (const char *disk, const struct head *cur,
            const struct history_commit *v, size_t n)
{
  char t[32];
  size_t i;

  printf ("{\"disk\": ");
  json_string (stdout, disk);
  printf (", \"history_seconds\": %" PRIu64 ", \"generation\": %" PRIu64
          ", \"commits\": [",
          head_history (cur), cur->generation);
  for (i = 0; i < n; i++) {
    printf ("%s\n  {\"generation\": %" PRIu64 ", \"committed\": \"%s\", "
            "\"committed_unix\": %" PRIu64 ", \"map\": \"%s\", ",
            i ? "," : "", v[i].generation, iso_time (v[i].committed, t),
            v[i].committed, what_changed (&v[i]));
    if (v[i].wrote_map && !v[i].full)
      printf ("\"chunks_changed\": %" PRIu64, v[i].entries);
    else if (v[i].wrote_map)
      printf ("\"chunks_changed\": null, \"map_entries\": %" PRIu64,
              v[i].entries);
    else
      printf ("\"chunks_changed\": 0");
    printf (", \"kept\": %s, \"head\": %s}", v[i].kept ? "true" : "false",
            v[i].head ? "true" : "false");
  }
  printf ("%s]}\n", n ? "\n" : "");
}

int
cmd_log (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1], t[32], w[32];
  struct history_commit *v = NULL;
  struct store *store;
  struct head cur;
  size_t n, i;
  int r;

  if (parse_disk_name (argv[1], false, disk, snap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  r = history_commits (store, disk, &cur, &v, &n);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("disk %s does not exist", disk);
  if (r != STORE_OK)
    return EXIT_FAIL;
  if (cli->json)
    print_json (disk, &cur, v, n);
  else {
    printf ("disk %s: history window %s\n", disk,
            human_window (head_history (&cur), w));
    printf ("%-20s  %10s  %s\n", "COMMITTED", "GENERATION", "CHANGED");
    for (i = 0; i < n; i++) {
      char changed[64];

      if (!v[i].wrote_map)
        snprintf (changed, sizeof changed, "0 chunks");
      else if (v[i].full)
        snprintf (changed, sizeof changed, "full map of %" PRIu64 " chunks",
                  v[i].entries);
      else
        snprintf (changed, sizeof changed, "%" PRIu64 " chunk%s", v[i].entries,
                  v[i].entries == 1 ? "" : "s");
      printf ("%-20s  %10" PRIu64 "  %s%s\n", iso_time (v[i].committed, t),
              v[i].generation, changed,
              v[i].head && !v[i].kept ? " (head, not kept yet)"
              : v[i].head             ? " (head)"
                                      : "");
    }
  }
  free (v);
  return EXIT_OK;
}

int
cmd_history (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1], w[32];
  struct store *store;
  struct head cur;
  uint64_t seconds;
  int r;

  if (parse_disk_name (argv[1], false, disk, snap) == -1)
    return EXIT_USAGE;
  if (argc > 2 && parse_history (argv[2], &seconds) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (argc > 2) {
    if (volume_set_history (store, disk, seconds, cli->crypto) == -1)
      return EXIT_FAIL;
    if (cli->json)
      return print_json_result (JSON_STR, "disk", disk, JSON_U64,
                                "history_seconds", seconds, JSON_BOOL, "set", 1,
                                JSON_END)
                     == 0
                 ? EXIT_OK
                 : EXIT_FAIL;
    return EXIT_OK;
  }
  r = catalog_read_head (store, disk, "", &cur, NULL, NULL, NULL);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("disk %s does not exist", disk);
  if (r != STORE_OK)
    return EXIT_FAIL;
  if (cli->json)
    return print_json_result (JSON_STR, "disk", disk, JSON_U64,
                              "history_seconds", head_history (&cur), JSON_BOOL,
                              "set", 0, JSON_END)
                   == 0
               ? EXIT_OK
               : EXIT_FAIL;
  printf ("%s\n", human_window (head_history (&cur), w));
  return EXIT_OK;
}
