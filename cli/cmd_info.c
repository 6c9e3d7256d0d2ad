/* s3cow command: info DISK[@SNAP|@TIME].
 *
 * Sharing accounting.  The disk's chunk map is resolved (its maps applied
 * in order, as the plugin reads it) into the set S of the chunks it
 * references.  Then every map named by any other disk or snapshot (its own
 * snapshots included) is read once (maps shared by forks are read once) and
 * every chunk of S it names is marked shared.  A chunk is "unique" when no
 * other disk or snapshot names it: removing the disk and running gc would
 * free it.  For DISK@TIME (a kept head, history.h) every chunk the disk
 * still names counts as shared.  Memory: S plus one map at a time plus the set
 * of map keys read.
 *
 * Stored bytes: one listing of chunks/ gives the size of every chunk
 * object (compressed or raw), summed over S: what the disk's chunks take in
 * the bucket, against the chunk size times their number (logical).
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "chunkmap.h"
#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "hashset.h"
#include "history.h"
#include "log.h"
#include "names.h"

/* Follow parents at most this far (a loop of names is possible when disks
 * were removed and made again).
 */
#define MAX_CHAIN 256

struct parent {
  char label[2 * NAME_MAX_LEN + 2];
  bool exists;
};

struct info {
  char label[NAME_REF_MAX_LEN];
  struct name_ref ref;
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct head head;
  struct parent chain[MAX_CHAIN];
  size_t nchain;
  struct roots snaps;        /* the disk's snapshots (none for a snapshot) */
  uint64_t referenced;       /* chunks that are not zero */
  uint64_t distinct, shared; /* distinct chunks; of those, shared */
  uint64_t stored_unique, stored_shared; /* bytes of their objects */
  uint64_t missing;                      /* of S, with no object */
  char *lease;                           /* NULL: none */
  bool lease_held;
};

/* The parent chain, as far as the parents exist. */
static int
follow_parents (struct store *store, struct info *info)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct head h = info->head;
  size_t i;
  int r;

  while (h.parent[0] && info->nchain < MAX_CHAIN) {
    struct parent *p = &info->chain[info->nchain++];

    snprintf (p->label, sizeof p->label, "%s", h.parent);
    for (i = 0; i + 1 < info->nchain; i++)
      if (strcmp (info->chain[i].label, p->label) == 0)
        return 0; /* a loop: stop */
    if (name_parse_export (h.parent, disk, snap) == -1)
      return 0; /* logged; not a name s3cow writes */
    r = catalog_read_head (store, disk, snap, &h, NULL, NULL, NULL);
    if (r == STORE_NOT_FOUND)
      return 0;
    if (r != STORE_OK)
      return -1;
    p->exists = true;
  }
  return 0;
}

/* Mark the chunks of S that the maps of other roots name. */
static int
mark_shared (struct store *store, struct info *info, struct hashset *set)
{
  struct hashset *seen_maps = hashset_new ();
  struct roots roots;
  size_t i, k;
  uint32_t m;
  int status = -1, r;

  if (seen_maps == NULL) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  if (roots_list (store, NULL,
                  CATALOG_MASK (CATALOG_HEAD) | CATALOG_MASK (CATALOG_SNAP),
                  &roots)
      != STORE_OK) {
    hashset_free (seen_maps);
    return -1;
  }
  for (i = 0; i < roots.n; i++) {
    struct head h;

    if (strcmp (roots.v[i].label, info->label) == 0)
      continue;
    r = catalog_read_head (store, roots.v[i].disk, roots.v[i].snap, &h, NULL,
                           NULL, NULL);
    if (r == STORE_NOT_FOUND)
      continue; /* removed since the listing */
    if (r != STORE_OK) {
      s3cow_log_error ("cannot read %s: the sharing figures would be wrong",
                       roots.v[i].label);
      goto out;
    }
    for (m = 0; m < h.nmaps; m++) {
      CLEANUP_FREE struct map_entry *entries = NULL;
      uint8_t key_hash[HASH_LEN];
      bool added;
      size_t n;

      hashset_key_hash (h.maps[m], key_hash);
      if (hashset_add (seen_maps, key_hash, &added) == NULL) {
        s3cow_log_error ("out of memory");
        goto out;
      }
      if (!added)
        continue;
      r = catalog_read_map (store, &h, h.maps[m], NULL, &entries, &n);
      if (r == STORE_NOT_FOUND) {
        s3cow_log_error ("%s: map %s is missing (run s3cow fsck)",
                         roots.v[i].label, h.maps[m]);
        continue;
      }
      if (r != STORE_OK)
        goto out;
      for (k = 0; k < n; k++) {
        uint8_t *v;

        if (!hash_is_zero (entries[k].hash)
            && (v = hashset_find (set, entries[k].hash)) != NULL && !*v) {
          *v = 1;
          info->shared++;
        }
      }
    }
  }
  status = 0;

out:
  roots_free (&roots);
  hashset_free (seen_maps);
  return status;
}

/* Add up the object sizes of the chunks of S (unique or shared). */
struct stored_sum {
  struct info *info;
  const struct chunk_sizes *sizes;
};

static void
add_stored (void *opaque, const uint8_t hash[HASH_LEN], uint8_t *shared)
{
  struct stored_sum *s = opaque;
  uint64_t size;

  if (!chunk_sizes_find (s->sizes, hash, &size))
    s->info->missing++;
  else if (*shared)
    s->info->stored_shared += size;
  else
    s->info->stored_unique += size;
}

static int
sum_stored (struct store *store, struct info *info, struct hashset *set)
{
  struct chunk_sizes sizes;
  struct stored_sum s = { .info = info, .sizes = &sizes };

  if (chunk_sizes_list (store, &sizes) != STORE_OK)
    return -1;
  hashset_foreach (set, add_stored, &s);
  chunk_sizes_free (&sizes);
  return 0;
}

/* stored / logical, or 0 for nothing. */
static double
ratio (uint64_t stored, uint64_t logical)
{
  return logical ? (double)stored / logical : 0;
}

static void
print_text (const struct info *info)
{
  const struct head *h = &info->head;
  uint64_t cs = h->chunk_size;
  char s[16], u[16], t[32];
  size_t i;

  printf ("%-17s %s\n",
          info->ref.at_time ? "disk at time:"
          : info->snap[0]   ? "snapshot:"
                            : "disk:",
          info->label);
  printf ("%-17s %" PRIu64 " (%s)\n", "size:", h->size,
          human_size (h->size, s));
  printf ("%-17s %" PRIu64 " (%s)\n", "chunk size:", cs, human_size (cs, s));
  printf ("%-17s %" PRIu64 "\n", "generation:", h->generation);
  if (h->encrypted) {
    char fp[CRYPTO_FINGERPRINT_HEX_LEN + 1];

    crypto_fingerprint_hex (h->key_fingerprint, fp);
    printf ("%-17s yes (key fingerprint %s)\n", "encrypted:", fp);
  } else
    printf ("%-17s no\n", "encrypted:");
  printf ("%-17s %s\n", "created:", iso_time (h->created, t));
  printf ("%-17s %s\n", "committed:", iso_time (h->committed, t));
  printf ("%-17s", "parent chain:");
  if (info->nchain == 0)
    printf (" -");
  for (i = 0; i < info->nchain; i++)
    printf ("%s %s%s", i ? " ->" : "", info->chain[i].label,
            info->chain[i].exists ? "" : " (removed)");
  printf ("\n%-17s %" PRIu32 "\n", "maps:", h->nmaps);
  for (i = 0; i < h->nmaps; i++)
    printf ("  %s\n", h->maps[i]);
  if (!info->snap[0] && !info->ref.at_time) {
    printf ("%-17s %zu\n", "snapshots:", info->snaps.n);
    for (i = 0; i < info->snaps.n; i++)
      printf ("  %s\n", info->snaps.v[i].snap);
  }
  printf ("%-17s %" PRIu64 " of %" PRIu64 " (%" PRIu64 " distinct)\n",
          "chunks in use:", info->referenced, head_nchunks (h), info->distinct);
  printf ("%-17s %" PRIu64 " (%s) in %" PRIu64 " chunks, %" PRIu64
          " (%s) stored\n",
          "unique:", (info->distinct - info->shared) * cs,
          human_size ((info->distinct - info->shared) * cs, s),
          info->distinct - info->shared, info->stored_unique,
          human_size (info->stored_unique, u));
  printf (
      "%-17s %" PRIu64 " (%s) in %" PRIu64 " chunks, %" PRIu64 " (%s) stored\n",
      "shared:", info->shared * cs, human_size (info->shared * cs, s),
      info->shared, info->stored_shared, human_size (info->stored_shared, u));
  printf (
      "%-17s %" PRIu64 " (%s) for %" PRIu64 " (%s) of chunks, %.2fx",
      "stored:", info->stored_unique + info->stored_shared,
      human_size (info->stored_unique + info->stored_shared, s),
      info->distinct * cs, human_size (info->distinct * cs, u),
      ratio (info->stored_unique + info->stored_shared, info->distinct * cs));
  if (info->missing)
    printf (" (%" PRIu64 " chunks missing: run s3cow fsck)", info->missing);
  printf ("\n");
  if (info->snap[0] || info->ref.at_time)
    return;
  printf ("%-17s %s\n", "history window:", human_window (head_history (h), t));
  if (info->lease == NULL)
    printf ("%-17s none\n", "lease:");
  else {
    const char *line = info->lease, *nl;

    printf ("%-17s %s\n", "lease:", info->lease_held ? "held" : "released");
    while (line && *line) {
      nl = strchr (line, '\n');
      printf ("  %.*s\n", (int)(nl ? nl - line : (int)strlen (line)), line);
      line = nl ? nl + 1 : NULL;
    }
  }
}

static void
print_json (const struct info *info)
{
  const struct head *h = &info->head;
  uint64_t cs = h->chunk_size;
  char t[32];
  size_t i;

  printf ("{\n  \"name\": ");
  json_string (stdout, info->label);
  printf (",\n  \"disk\": ");
  json_string (stdout, info->disk);
  printf (",\n  \"snapshot\": ");
  if (info->snap[0])
    json_string (stdout, info->snap);
  else
    printf ("null");
  printf (",\n  \"time\": ");
  if (info->ref.at_time)
    printf ("\"%s\"", iso_time (info->ref.time, t));
  else
    printf ("null");
  printf (",\n  \"size\": %" PRIu64 ",\n  \"chunk_size\": %" PRIu64
          ",\n  \"generation\": %" PRIu64,
          h->size, cs, h->generation);
  printf (",\n  \"encrypted\": %s", h->encrypted ? "true" : "false");
  if (h->encrypted) {
    char fp[CRYPTO_FINGERPRINT_HEX_LEN + 1];

    crypto_fingerprint_hex (h->key_fingerprint, fp);
    printf (",\n  \"key_fingerprint\": \"%s\"", fp);
  }
  printf (",\n  \"created\": \"%s\"", iso_time (h->created, t));
  printf (",\n  \"committed\": \"%s\"", iso_time (h->committed, t));
  printf (",\n  \"parent_chain\": [");
  for (i = 0; i < info->nchain; i++) {
    printf ("%s{\"name\": ", i ? ", " : "");
    json_string (stdout, info->chain[i].label);
    printf (", \"exists\": %s}", info->chain[i].exists ? "true" : "false");
  }
  printf ("],\n  \"maps\": [");
  for (i = 0; i < h->nmaps; i++) {
    printf ("%s", i ? ", " : "");
    json_string (stdout, h->maps[i]);
  }
  printf ("],\n  \"snapshots\": [");
  for (i = 0; i < info->snaps.n; i++) {
    printf ("%s", i ? ", " : "");
    json_string (stdout, info->snaps.v[i].snap);
  }
  printf ("],\n  \"chunks\": %" PRIu64 ",\n  \"chunks_in_use\": %" PRIu64
          ",\n  \"chunks_distinct\": %" PRIu64
          ",\n  \"chunks_unique\": %" PRIu64 ",\n  \"chunks_shared\": %" PRIu64
          ",\n  \"bytes_unique\": %" PRIu64 ",\n  \"bytes_shared\": %" PRIu64,
          head_nchunks (h), info->referenced, info->distinct,
          info->distinct - info->shared, info->shared,
          (info->distinct - info->shared) * cs, info->shared * cs);
  if (!info->snap[0] && !info->ref.at_time)
    printf (",\n  \"history_seconds\": %" PRIu64, head_history (h));
  printf (",\n  \"bytes_logical\": %" PRIu64 ",\n  \"bytes_stored\": %" PRIu64
          ",\n  \"bytes_stored_unique\": %" PRIu64
          ",\n  \"bytes_stored_shared\": %" PRIu64
          ",\n  \"chunks_missing\": %" PRIu64,
          info->distinct * cs, info->stored_unique + info->stored_shared,
          info->stored_unique, info->stored_shared, info->missing);
  printf (",\n  \"lease\": ");
  json_lease (stdout, info->lease, info->lease_held);
  printf ("\n}\n");
}

int
cmd_info (struct cli *cli, int argc, char **argv)
{
  CLEANUP_FREE struct map_entry *entries = NULL;
  struct info *info = calloc (1, sizeof *info);
  struct hashset *set = hashset_new ();
  struct store *store;
  char bad_map[KEY_MAX_LEN], key[KEY_MAX_LEN];
  size_t n, i;
  int status = EXIT_FAIL, r;

  if (info == NULL || set == NULL) {
    s3cow_log_error ("out of memory");
    goto out;
  }
  if (name_parse_ref (argv[1], &info->ref) == -1) {
    status = EXIT_USAGE;
    goto out;
  }
  strcpy (info->disk, info->ref.disk);
  strcpy (info->snap, info->ref.snap);
  name_ref_label (&info->ref, info->label);
  store = cli_store (cli);
  if (store == NULL)
    goto out;

  /* 1. The head, its parents, its snapshots, its lease. */
  if (history_read_ref_logged (store, &info->ref, false, NULL, &info->head, key)
      == -1)
    goto out;
  if (follow_parents (store, info) == -1)
    goto out;
  if (!info->snap[0] && !info->ref.at_time) {
    if (roots_list (store, info->disk, CATALOG_MASK (CATALOG_SNAP),
                    &info->snaps)
        != STORE_OK)
      goto out;
    r = catalog_lease_view (store, info->disk, &info->lease, &info->lease_held);
    if (r != STORE_OK && r != STORE_NOT_FOUND)
      goto out;
  }

  /* 2. The chunks it references, and which of them others do too. */
  r = catalog_resolve (store, &info->head, NULL, &entries, &n, bad_map);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("%s: map %s is missing (run s3cow fsck)", info->label,
                     bad_map);
  if (r != STORE_OK)
    goto out;
  info->referenced = n;
  for (i = 0; i < n; i++) {
    bool added;

    if (hashset_add (set, entries[i].hash, &added) == NULL) {
      s3cow_log_error ("out of memory");
      goto out;
    }
    info->distinct += added;
  }
  if (mark_shared (store, info, set) == -1
      || sum_stored (store, info, set) == -1)
    goto out;

  if (cli->json)
    print_json (info);
  else
    print_text (info);
  status = EXIT_OK;

out:
  if (info) {
    roots_free (&info->snaps);
    free (info->lease);
  }
  free (info);
  hashset_free (set);
  return status;
}
