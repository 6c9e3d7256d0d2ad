/* s3cow command: gc, mark and sweep of chunks/ and disks/ * /maps/.
 *
 * Roots are every disk head and every snapshot.  A map is live if a root
 * names it; a chunk is live if a live map names it (any entry, even one a
 * later delta overrides: the plugin and fsck read those maps whole).  gc
 * deletes only objects that are not live AND older than the grace period.
 *
 *   0. T0 = the server's clock: the Last-Modified of a marker object
 *      (gc/clock) that gc writes, so that mtimes and T0 come from the same
 *      clock.  cutoff = T0 - grace.
 *   1. List disks/ * /maps/: candidate maps, those with mtime <= cutoff.
 *   2. Mark pass 1: list the roots; read each (keeping its etag); mark the
 *      maps it names and every chunk those maps name.  Each map is read
 *      once however many roots name it (forks share maps).
 *   3. List chunks/: candidate chunks, unmarked with mtime <= cutoff.
 *   4. Mark pass 2, 3, ...: the same as 2, until a pass sees exactly the
 *      roots and etags of the pass before (at most MAX_PASSES).
 *   5. Delete the candidate maps still unmarked, then the candidate chunks
 *      still unmarked, each after a HEAD shows its mtime is still old.
 *
 * Any root or map that cannot be read or decoded stops gc before step 5:
 * nothing is deleted when gc cannot know everything that is referenced.
 *
 * Why this is safe while servers write (commit: chunks, then map, then the
 * head CAS), fork and snapshot (cmd_disk.c):
 *  - A chunk a writer uploaded but has not committed yet, and a map it
 *    wrote but has not named in the head yet, are younger than the grace
 *    period (which must be at least the servers' gc-grace=: a server
 *    uploads again what it could not commit in time, see plugin/disk.c),
 *    so they are not candidates.  The plugin
 *    uploads a chunk again whenever a chunk index takes a new hash, which
 *    refreshes its mtime, so an old unreferenced chunk becomes referenced
 *    only after a fresh upload.  Likewise a map: a server retrying a failed
 *    commit writes the same map key again (same generation) before its
 *    head PUT.  Step 5's HEAD catches an upload made since the listing;
 *    what remains is the round trip between that HEAD and the DELETE.
 *  - An old map or chunk becomes referenced by a new root only through a
 *    fork or snapshot, which checks that its source still names the maps
 *    after the new root exists: so an object, once referenced, stays
 *    referenced without a gap until no root references it, and it is never
 *    referenced again after that (map keys are unique; heads never name a
 *    dropped map again).
 *  - So an old candidate that is live when deleted was live throughout
 *    steps 2-4.  Take the last two passes, k and k+1, equal in roots and
 *    etags.  When pass k+1 listed the roots, some root R named the object;
 *    R was listed in pass k+1, hence in pass k, and read in both with the
 *    same etag, so R did not change between the two reads, and the listing
 *    of k+1 lies between them: R named the object when read, and it was
 *    marked.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "chunkmap.h"
#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "hashset.h"
#include "log.h"
#include "names.h"

#define MAX_PASSES 10
#define CLOCK_KEY "gc/clock"

struct candidate {
  char *key;              /* for maps (malloc'd); NULL for chunks */
  uint8_t hash[HASH_LEN]; /* the chunk's, or the hash of the map key */
  uint64_t size;
  time_t mtime;
};

struct candidates {
  struct candidate *v;
  size_t n, cap;
};

/* One mark pass: the roots it saw and their etags ("" when gone). */
struct pass {
  struct roots roots;
  char (*etags)[STORE_ETAG_MAX];
};

struct gc {
  struct cli *cli;
  struct store *store;
  time_t cutoff;
  struct hashset *maps;   /* hashes of the keys of marked maps */
  struct hashset *chunks; /* marked chunks */
  struct candidates cand_maps, cand_chunks;
  uint64_t young; /* unreferenced but within the grace period */
  uint64_t listed_chunks, listed_maps;
  bool sweeping; /* step 5 began: objects may be deleted */
};

static void
candidates_free (struct candidates *c)
{
  size_t i;

  for (i = 0; i < c->n; i++)
    free (c->v[i].key);
  free (c->v);
}

static struct candidate *
candidates_add (struct candidates *c)
{
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 256;
    void *p = realloc (c->v, cap * sizeof *c->v);
    if (p == NULL) {
      s3cow_log_error ("realloc: %m");
      return NULL;
    }
    c->v = p;
    c->cap = cap;
  }
  memset (&c->v[c->n], 0, sizeof c->v[c->n]);
  return &c->v[c->n++];
}

static void
pass_free (struct pass *p)
{
  roots_free (&p->roots);
  free (p->etags);
  p->etags = NULL;
}

/* 0. The server's time now.  Falls back on the local clock (with a
 * warning) if the marker cannot be written, e.g. with read-only keys.
 */
static time_t
server_now (struct gc *gc)
{
  char stamp[64];
  time_t t = 0;
  int len;

  len = snprintf (stamp, sizeof stamp, "s3cow gc %lld\n",
                  (long long)time (NULL));
  if (store_put (gc->store, CLOCK_KEY, stamp, len, NULL, NULL) == STORE_OK
      && store_head (gc->store, CLOCK_KEY, NULL, NULL, &t) == STORE_OK && t)
    return t;
  s3cow_log_error ("warning: could not read the server's clock (%s); using "
                   "this machine's: a clock difference with the server "
                   "shortens or lengthens the grace period",
                   CLOCK_KEY);
  return time (NULL);
}

/* 1. Candidate maps. */
static int
list_map (void *opaque, const struct catalog_key *key,
          const struct store_entry *entry)
{
  struct gc *gc = opaque;
  struct candidate *c;

  gc->listed_maps++;
  progress (gc->cli, "gc: listing maps: %" PRIu64, gc->listed_maps);
  if (entry->mtime > gc->cutoff)
    return 0;
  c = candidates_add (&gc->cand_maps);
  if (c == NULL || (c->key = strdup (entry->key)) == NULL) {
    s3cow_log_error ("out of memory");
    return STORE_PERMANENT;
  }
  hashset_key_hash (entry->key, c->hash);
  c->size = entry->size;
  c->mtime = entry->mtime;
  return 0;
}

/* Mark one map (named by head h of root label) and its chunks.  0 or -1. */
static int
mark_map (struct gc *gc, const char *label, const struct head *h,
          const char *key)
{
  CLEANUP_FREE struct map_entry *entries = NULL;
  uint8_t key_hash[HASH_LEN];
  bool added;
  size_t n, i;
  int r;

  hashset_key_hash (key, key_hash);
  if (hashset_find (gc->maps, key_hash))
    return 0;
  r = catalog_read_map (gc->store, h, key, &entries, &n);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("%s names map %s, which is missing: run s3cow fsck, "
                     "and repair or remove %s",
                     label, key, label);
  if (r != STORE_OK)
    return -1;
  for (i = 0; i < n; i++)
    if (!hash_is_zero (entries[i].hash)
        && hashset_add (gc->chunks, entries[i].hash, &added) == NULL)
      goto nomem;
  /* Only now: a map whose chunks failed to mark must be read again. */
  if (hashset_add (gc->maps, key_hash, &added) == NULL)
    goto nomem;
  return 0;

nomem:
  s3cow_log_error ("out of memory");
  return -1;
}

/* 2, 4. One mark pass into *p.  0, or -1 after printing. */
static int
mark_pass (struct gc *gc, unsigned number, struct pass *p)
{
  size_t i;
  uint32_t m;
  int r;

  if (roots_list (gc->store, NULL,
                  CATALOG_MASK (CATALOG_HEAD) | CATALOG_MASK (CATALOG_SNAP),
                  &p->roots)
      != STORE_OK)
    return -1;
  p->etags = calloc (p->roots.n ? p->roots.n : 1, sizeof *p->etags);
  if (p->etags == NULL) {
    s3cow_log_error ("calloc: %m");
    return -1;
  }
  for (i = 0; i < p->roots.n; i++) {
    const struct root *root = &p->roots.v[i];
    struct head h;

    progress (gc->cli,
              "gc: pass %u: marking %zu/%zu disks and snapshots, "
              "%zu chunks in use",
              number, i + 1, p->roots.n, hashset_count (gc->chunks));
    r = catalog_read_head (gc->store, root->disk, root->snap, &h, p->etags[i],
                           NULL, NULL);
    if (r == STORE_NOT_FOUND) {
      p->etags[i][0] = '\0'; /* removed since the listing */
      continue;
    }
    if (r != STORE_OK) {
      s3cow_log_error ("cannot read %s", root->label);
      return -1;
    }
    for (m = 0; m < h.nmaps; m++)
      if (mark_map (gc, root->label, &h, h.maps[m]) == -1)
        return -1;
  }
  return 0;
}

static bool
same_pass (const struct pass *a, const struct pass *b)
{
  size_t i;

  if (a->roots.n != b->roots.n)
    return false;
  for (i = 0; i < a->roots.n; i++)
    if (strcmp (a->roots.v[i].label, b->roots.v[i].label) != 0
        || strcmp (a->etags[i], b->etags[i]) != 0)
      return false;
  return true;
}

/* The value of a lowercase hex digit, or -1. */
static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* 3. Candidate chunks. */
static int
list_chunk (void *opaque, const struct store_entry *entry)
{
  struct gc *gc = opaque;
  const char *hex = entry->key + strlen (KEY_CHUNKS_PREFIX);
  uint8_t hash[HASH_LEN];
  struct candidate *c;
  size_t i;

  gc->listed_chunks++;
  progress (gc->cli, "gc: listing chunks: %" PRIu64 " (%zu not in use)",
            gc->listed_chunks, gc->cand_chunks.n);
  if (strlen (hex) != HASH_HEX_LEN)
    return 0; /* not s3cow's: left alone */
  for (i = 0; i < HASH_LEN; i++) {
    int hi = hex_digit (hex[2 * i]), lo = hex_digit (hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return 0;
    hash[i] = hi << 4 | lo;
  }
  if (hashset_find (gc->chunks, hash))
    return 0;
  if (entry->mtime > gc->cutoff) {
    gc->young++;
    return 0;
  }
  c = candidates_add (&gc->cand_chunks);
  if (c == NULL)
    return STORE_PERMANENT;
  memcpy (c->hash, hash, HASH_LEN);
  c->size = entry->size;
  c->mtime = entry->mtime;
  return 0;
}

/* 5. Delete (or, dry run, list) one candidate still unmarked. */
static int
sweep_one (struct gc *gc, const struct candidate *c, bool is_chunk,
           uint64_t *count, uint64_t *bytes)
{
  char key[KEY_MAX_LEN], t[32];
  time_t mtime;
  int r;

  if (is_chunk)
    key_chunk (key, c->hash);
  else
    snprintf (key, sizeof key, "%s", c->key);
  if (gc->cli->dry_run) {
    progress_done (gc->cli);
    printf ("would delete %s (%" PRIu64 " bytes, modified %s)\n", key, c->size,
            iso_time (c->mtime, t));
  } else {
    /* Uploaded again since the listing: a writer is using it.  Chunks: a
     * writer uploads a chunk again whenever it needs it.  Maps: a server
     * whose head PUT failed writes the same map key again on its next
     * attempt (the generation did not advance), and may land that head
     * after our last mark pass.
     */
    r = store_head (gc->store, key, NULL, NULL, &mtime);
    if (r == STORE_NOT_FOUND)
      return 0;
    if (r != STORE_OK)
      return -1;
    if (mtime > gc->cutoff)
      return 0;
    if (store_delete (gc->store, key) != STORE_OK)
      return -1;
    if (gc->cli->verbose) {
      progress_done (gc->cli);
      printf ("deleted %s (%" PRIu64 " bytes)\n", key, c->size);
    }
  }
  (*count)++;
  *bytes += c->size;
  return 0;
}

static int
run (struct gc *gc)
{
  struct pass prev = { 0 }, cur = { 0 };
  uint64_t nmaps = 0, nchunks = 0, map_bytes = 0, chunk_bytes = 0;
  unsigned number;
  size_t i, total, done = 0;
  int status = -1;

  /* 0-1. */
  gc->cutoff = server_now (gc) - (time_t)gc->cli->grace;
  if (catalog_list (gc->store, NULL, CATALOG_MASK (CATALOG_MAP), list_map, gc)
      != STORE_OK) {
    s3cow_log_error ("cannot list the maps");
    goto out;
  }

  /* 2-4. */
  if (mark_pass (gc, 1, &prev) == -1)
    goto out;
  if (store_list (gc->store, KEY_CHUNKS_PREFIX, list_chunk, gc) != STORE_OK) {
    s3cow_log_error ("cannot list the chunks");
    goto out;
  }
  for (number = 2;; number++) {
    if (mark_pass (gc, number, &cur) == -1)
      goto out;
    if (same_pass (&prev, &cur))
      break;
    if (number == MAX_PASSES) {
      s3cow_log_error ("the disks kept changing during %d passes: nothing "
                       "deleted; try again later",
                       MAX_PASSES);
      goto out;
    }
    pass_free (&prev);
    prev = cur;
    memset (&cur, 0, sizeof cur);
  }

  /* 5. Maps first: a map names chunks, never the other way round. */
  gc->sweeping = true;
  total = gc->cand_maps.n + gc->cand_chunks.n;
  for (i = 0; i < gc->cand_maps.n; i++, done++) {
    const struct candidate *c = &gc->cand_maps.v[i];

    progress (gc->cli, "gc: sweeping %zu/%zu", done + 1, total);
    if (hashset_find (gc->maps, c->hash) == NULL
        && sweep_one (gc, c, false, &nmaps, &map_bytes) == -1)
      goto out;
  }
  for (i = 0; i < gc->cand_chunks.n; i++, done++) {
    const struct candidate *c = &gc->cand_chunks.v[i];

    progress (gc->cli, "gc: sweeping %zu/%zu", done + 1, total);
    if (hashset_find (gc->chunks, c->hash) == NULL
        && sweep_one (gc, c, true, &nchunks, &chunk_bytes) == -1)
      goto out;
  }
  progress_done (gc->cli);
  printf ("gc: %zu disks and snapshots use %zu maps and %zu chunks; %s %" PRIu64
          " maps and %" PRIu64 " chunks (%" PRIu64 " bytes)",
          cur.roots.n, hashset_count (gc->maps), hashset_count (gc->chunks),
          gc->cli->dry_run ? "would delete" : "deleted", nmaps, nchunks,
          map_bytes + chunk_bytes);
  if (gc->young)
    printf ("; %" PRIu64 " unused chunks are younger than the grace period",
            gc->young);
  printf ("\n");
  status = 0;

out:
  progress_done (gc->cli);
  pass_free (&prev);
  pass_free (&cur);
  return status;
}

int
cmd_gc (struct cli *cli, int argc, char **argv)
{
  struct gc gc = { .cli = cli };
  int status = EXIT_FAIL;

  gc.store = cli_store (cli);
  if (gc.store == NULL)
    return EXIT_FAIL;
  gc.maps = hashset_new ();
  gc.chunks = hashset_new ();
  if (gc.maps == NULL || gc.chunks == NULL)
    s3cow_log_error ("out of memory");
  else if (run (&gc) == 0)
    status = EXIT_OK;
  else if (gc.sweeping && !cli->dry_run)
    s3cow_log_error ("gc stopped: what it deleted before was unreferenced");
  else
    s3cow_log_error ("gc stopped: nothing was deleted");
  hashset_free (gc.maps);
  hashset_free (gc.chunks);
  candidates_free (&gc.cand_maps);
  candidates_free (&gc.cand_chunks);
  return status;
}
