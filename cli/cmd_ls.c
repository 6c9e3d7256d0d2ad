/* s3cow command: ls (disks, or one disk's snapshots), as a table or JSON.
 *
 * One listing of disks/ (streamed) finds the names; then one GET per head,
 * and for disks one GET of the lease (whether a server holds it: the LOCK
 * column).  A head or lease that cannot be read is reported on stderr,
 * shown as "?" and makes the exit status 1; the others are still listed.
 *
 * Bytes used and stored: each row's chunk map is resolved (its maps read)
 * into its distinct chunks; used is their number times the chunk size,
 * stored the sum of their objects' sizes, from one listing of chunks/ (a
 * chunk shared by several rows counts in each).  Memory: the object sizes
 * (40 bytes per chunk object) and one row's map at a time.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "hashset.h"
#include "log.h"
#include "names.h"

struct row {
  char name[NAME_MAX_LEN + 1];
  bool ok;
  struct head head;
  bool sized;            /* used and stored are known */
  uint64_t used, stored; /* bytes of its distinct chunks, and of
                          * their objects */
  bool lease_read;       /* disks: the lease was read (or is absent) */
  char *lease;           /* its text (NULL: none) */
  bool lease_held;
};

/* "held", "-" (no lease, or released) or "?" (unreadable). */
static const char *
lock_column (const struct row *row)
{
  if (!row->lease_read)
    return "?";
  return row->lease && row->lease_held ? "held" : "-";
}

/* The bytes used and stored by row's chunks.  0, or -1 after printing. */
static int
size_row (struct store *store, const struct root *root,
          const struct chunk_sizes *sizes, struct row *row)
{
  CLEANUP_FREE struct map_entry *entries = NULL;
  struct hashset *seen = hashset_new ();
  char bad_map[KEY_MAX_LEN];
  uint64_t size;
  size_t n, i;
  int r;

  if (seen == NULL) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  r = catalog_resolve (store, &row->head, NULL, &entries, &n, bad_map);
  if (r != STORE_OK) {
    if (r == STORE_NOT_FOUND)
      s3cow_log_error ("%s: map %s is missing (run s3cow fsck)", root->label,
                       bad_map);
    hashset_free (seen);
    return -1;
  }
  for (i = 0; i < n; i++) {
    bool added;

    if (hashset_add (seen, entries[i].hash, &added) == NULL) {
      s3cow_log_error ("out of memory");
      hashset_free (seen);
      return -1;
    }
    if (!added)
      continue;
    row->used += row->head.chunk_size;
    if (chunk_sizes_find (sizes, entries[i].hash, &size))
      row->stored += size;
  }
  row->sized = true;
  hashset_free (seen);
  return 0;
}

static void
print_json (const char *disk, const struct row *rows, size_t n)
{
  char t[32];
  size_t i;

  printf ("[");
  for (i = 0; i < n; i++) {
    const struct head *h = &rows[i].head;

    printf ("%s\n  {\"name\": ", i ? "," : "");
    json_string (stdout, rows[i].name);
    if (disk) {
      printf (", \"disk\": ");
      json_string (stdout, disk);
    }
    if (!rows[i].ok) {
      printf (", \"error\": \"cannot read the head\"}");
      continue;
    }
    printf (", \"size\": %" PRIu64 ", \"chunk_size\": %" PRIu32
            ", \"parent\": ",
            h->size, h->chunk_size);
    if (h->parent[0])
      json_string (stdout, h->parent);
    else
      printf ("null");
    printf (", \"generation\": %" PRIu64 ", \"maps\": %" PRIu32, h->generation,
            h->nmaps);
    if (rows[i].sized)
      printf (", \"bytes_logical\": %" PRIu64 ", \"bytes_stored\": %" PRIu64,
              rows[i].used, rows[i].stored);
    printf (", \"encrypted\": %s", h->encrypted ? "true" : "false");
    if (h->encrypted) {
      char fp[CRYPTO_FINGERPRINT_HEX_LEN + 1];

      crypto_fingerprint_hex (h->key_fingerprint, fp);
      printf (", \"key_fingerprint\": \"%s\"", fp);
    }
    printf (", \"created\": \"%s\"", iso_time (h->created, t));
    printf (", \"committed\": \"%s\"", iso_time (h->committed, t));
    if (!disk) {
      /* null: the lease could not be read. */
      printf (", \"locked\": %s, \"lease\": ",
              !rows[i].lease_read                   ? "null"
              : rows[i].lease && rows[i].lease_held ? "true"
                                                    : "false");
      if (rows[i].lease_read)
        json_lease (stdout, rows[i].lease, rows[i].lease_held);
      else
        printf ("null");
    }
    printf ("}");
  }
  printf ("%s]\n", n ? "\n" : "");
}

static void
print_table (const char *disk, const struct row *rows, size_t n)
{
  char s1[16], s2[16], s3[16], s4[16], t[32];
  int w = disk ? 8 : 4;
  size_t i;

  for (i = 0; i < n; i++)
    if ((int)strlen (rows[i].name) > w)
      w = strlen (rows[i].name);
  printf ("%-*s %8s %6s %8s %8s %-20s %s\n", w, disk ? "SNAPSHOT" : "NAME",
          "SIZE", "CHUNK", "USED", "STORED", "COMMITTED",
          disk ? "GENERATION" : "LOCK PARENT");
  for (i = 0; i < n; i++) {
    const struct head *h = &rows[i].head;

    if (!rows[i].ok) {
      printf ("%-*s %8s %6s %8s %8s %-20s %s%s\n", w, rows[i].name, "?", "?",
              "?", "?", "?", disk ? "" : "?    ", "?");
      continue;
    }
    printf ("%-*s %8s %6s %8s %8s %-20s ", w, rows[i].name,
            human_size (h->size, s1), human_size (h->chunk_size, s2),
            rows[i].sized ? human_size (rows[i].used, s3) : "?",
            rows[i].sized ? human_size (rows[i].stored, s4) : "?",
            iso_time (h->committed, t));
    if (disk)
      printf ("%" PRIu64 "\n", h->generation);
    else
      printf ("%-4s %s\n", lock_column (&rows[i]),
              h->parent[0] ? h->parent : "-");
  }
}

int
cmd_ls (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct roots list = { 0 };
  struct chunk_sizes sizes = { 0 };
  struct row *rows = NULL;
  struct store *store;
  struct head head;
  size_t i;
  int status = EXIT_FAIL, r;

  if (argc > 1 && parse_disk_name (argv[1], false, disk, snap) == -1)
    return EXIT_USAGE;
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;

  if (argc > 1) {
    r = catalog_read_head (store, disk, "", &head, NULL, NULL, NULL);
    if (r == STORE_NOT_FOUND) {
      s3cow_log_error ("disk %s does not exist", disk);
      return EXIT_FAIL;
    }
    if (r != STORE_OK && r != STORE_PERMANENT) {
      s3cow_log_error ("cannot read disk %s", disk);
      return EXIT_FAIL;
    }
  }
  r = roots_list (store, argc > 1 ? disk : NULL,
                  CATALOG_MASK (argc > 1 ? CATALOG_SNAP : CATALOG_HEAD), &list);
  if (r != STORE_OK)
    return EXIT_FAIL;
  rows = calloc (list.n ? list.n : 1, sizeof *rows);
  if (rows == NULL) {
    s3cow_log_error ("calloc: %m");
    goto out;
  }
  status = EXIT_OK;
  for (i = 0; i < list.n; i++) {
    const struct root *root = &list.v[i];

    strcpy (rows[i].name, argc > 1 ? root->snap : root->disk);
    r = catalog_read_head (store, root->disk, root->snap, &rows[i].head, NULL,
                           NULL, NULL);
    rows[i].ok = r == STORE_OK;
    /* Removed since the listing: leave it out. */
    if (r == STORE_NOT_FOUND)
      rows[i].name[0] = '\0';
    else if (r != STORE_OK)
      status = EXIT_FAIL;
    if (argc > 1 || r == STORE_NOT_FOUND)
      continue;
    r = catalog_lease_view (store, root->disk, &rows[i].lease,
                            &rows[i].lease_held);
    rows[i].lease_read = r == STORE_OK || r == STORE_NOT_FOUND;
    if (!rows[i].lease_read)
      status = EXIT_FAIL;
  }
  if (list.n > 0 && chunk_sizes_list (store, &sizes) != STORE_OK)
    status = EXIT_FAIL;
  else
    for (i = 0; i < list.n; i++)
      if (rows[i].ok && size_row (store, &list.v[i], &sizes, &rows[i]) == -1)
        status = EXIT_FAIL;
  /* Drop the rows removed meanwhile. */
  {
    size_t k = 0;
    for (i = 0; i < list.n; i++)
      if (rows[i].name[0])
        rows[k++] = rows[i];
      else
        free (rows[i].lease);
    list.n = k;
  }
  if (cli->json)
    print_json (argc > 1 ? disk : NULL, rows, list.n);
  else
    print_table (argc > 1 ? disk : NULL, rows, list.n);

out:
  chunk_sizes_free (&sizes);
  for (i = 0; rows && i < list.n; i++)
    free (rows[i].lease);
  free (rows);
  roots_free (&list);
  return status;
}
