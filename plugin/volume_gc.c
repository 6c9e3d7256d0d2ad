/* s3cow: gc, mark and sweep of chunks/ and disks/ * /maps/ (see volume.h).
 *
 * Roots are every disk head, every snapshot, and the kept heads of each
 * disk's history (history.h) that its window still needs: those written
 * within the window (on the store's clock: mtime > T0 - window, the
 * window as the disk's head says when round 1 reads it), and the newest
 * one written before the window's start, which a time at the start names.
 * The older kept heads are deleted in step 1b, before the maps and chunks
 * only they named become candidates.  A map is live if a root
 * names it; a chunk is live if a live map names it (any entry, even one a
 * later delta overrides: the plugin and fsck read those maps whole).  gc
 * deletes only objects that are not live AND older than the grace period.
 *
 *   0. The grace must be at least the bucket's grace record (gc/grace: the
 *      longest gc-grace= of the servers that opened a disk read-write; 1 h
 *      when there is none), unless forced (a dry run only warns).  T0 = the
 * store's clock: the Last-Modified of a marker object (gc/clock) that gc
 * writes, so that mtimes and T0 come from the same clock.  cutoff = T0 - grace.
 *   1. Round 1: list disks/ once: the roots, and the candidate maps (mtime
 *      <= cutoff).  Read each root; mark the maps it names and every chunk
 *      those maps name (each map is read once however many roots name it).
 *      Sort the kept heads, disk by disk, into roots (read and marked from)
 *      and those beyond the window; the kept heads of a disk without a head
 *      (an rm that stopped half-way) go too once older than the grace.
 *  1b. Delete the kept heads beyond their window.
 *   2. List chunks/: candidate chunks, unmarked with mtime <= cutoff.
 *   3. Rounds 2, 3, ...: list the roots again and read those that are new
 *      or changed since gc read them, and mark from them; read every kept
 *      head not read yet (new commits), once: they never change.  Stop
 *      after a round in which nothing "moved" (below); at most MAX_ROUNDS.
 *   4. Delete the candidate maps still unmarked, then the candidate chunks
 *      still unmarked, each after a HEAD shows its mtime is still old.
 *
 * A root "moved" in a round when gc had not read that key before, or it
 * is a snapshot whose etag changed, or a head that gc last read at
 * generation 0 whose etag changed, or a head that is another incarnation
 * (disk id and created time) than every one gc read under that key.  A
 * head that only committed (same incarnation, generation >= 1 both times)
 * did not move: a disk that flushes all the time does not keep gc from
 * finishing.  A kept head read for the first time does not move either:
 * a busy disk writes one per commit.  Marks only ever accumulate.
 *
 * Any root or map that cannot be read or decoded stops gc before step 4:
 * nothing is deleted when gc cannot know everything that is referenced.
 *
 * Why this is safe while servers write (commit: chunks, then map, then the
 * head CAS), fork, snapshot and rm (volume.c).  Call an object old when
 * its mtime is at most the cutoff.  Facts:
 *  (a) A head commit that lands after T0 names no old object that the head
 *      it replaces did not name (directly, or through its maps): a server
 *      uploads a chunk again whenever a chunk index takes a new hash and
 *      uploads again what it could not commit within its gc-grace, which
 *      is at most our grace (step 0; plugin/disk_commit.c, "gc-grace",
 *      shows that every object a new head names anew has mtime >
 *      t_landed - gc-grace), and a map is written just before the head
 *      that names it.
 *  (b) A fork or snapshot names an old object only if its source (the same
 *      incarnation) named it both when the command read the source before
 *      writing and when it read it again after writing (volume.c).  It
 *      rewrites its new object only within that command, with If-Match on
 *      its own etag: a fork head that a server committed since (generation
 *      >= 1) is never rewritten; a removed and re-created name is another
 *      incarnation (a new disk id).
 *  (c) A root names an old object over one interval of time: map keys are
 *      unique and never named again once dropped; a chunk named again is
 *      uploaded again, and then is not old at step 4's HEAD.
 *  Take an old candidate X that some root names after the sweep began.
 *  Let F be the last listing (round f), in which nothing moved, and go
 *  back along how X came to be named: by (a) commits after T0 add no old
 *  object, so X reached the root that names it through a chain of forks
 *  and snapshots, each (b) from a source naming X throughout the command.
 *  Consider the roots of that chain as they were when F listed them.  A
 *  root created before F passed its key was listed in F and, as nothing
 *  moved, read by gc as the same version or, for a committing head, as
 *  the same incarnation at generation >= 1, which (a, c) names X at the
 *  time gc read it if it did at any time since T0 before that.  A root
 *  created after F passed its key took X from a source that named X when
 *  that command read it and after it wrote, which lies after F passed:
 *  go back to that source.  The chain is finite and starts at a root that
 *  named X before gc read it, so some read marked X.  Removal during gc
 *  (rm) only ends intervals: a fork or snapshot of a disk removed during
 *  gc is itself a root that the next listing finds (and it took X while
 *  the disk still named it), and a snapshot that lands on a disk being
 *  removed is removed by its own command or by rm's second listing.
 *  What remains is the round trip between step 4's HEAD and its DELETE.
 *
 * Kept heads.  A kept head is a copy of a head that was its disk's head
 * (a commit writes it once its head landed, a server in the background,
 * and every commit or claim makes sure that the kept copy of the head it
 * replaces exists before replacing it, waiting for that background write
 * or writing the copy itself: volume_head.c), so:
 *  (d) a kept head is first written while the head it copies is its
 *      disk's head (after that head landed, before it is replaced), names
 *      what that head names, and never changes afterwards: a later write
 *      of its key (a slow writer's copy of the same head) writes that
 *      same head again.
 *  A kept head created before F passed its key was listed in F, and read
 *  (in F or earlier: once is enough, by (d)) unless step 1 put it beyond
 *  its window, and then step 1b deleted it.  One created after F passed
 *  its key copies a head that was its disk's head after F passed that
 *  head's key (disks/D/head sorts before disks/D/history/): go back to
 *  that head as above.  A fork or snapshot whose source is a kept head
 *  (a time; (b): read before and after it writes) either read it again
 *  before step 1b deleted it, and so was written before round 2 listed,
 *  a root that round 2 or a later one reads; or finds it gone and removes
 *  itself.  A kept head beyond the window is deleted even if a server
 *  still serves that time read-only: its reads may then fail, as those
 *  of a removed snapshot do (s3cow(1)).
 */
#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "chunkmap.h"
#include "cleanup.h"
#include "hashset.h"
#include "log.h"
#include "names.h"
#include "volume.h"
#include "volume_gc-internal.h"

#define MAX_ROUNDS 10

static void report (struct gc *gc, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
report (struct gc *gc, const char *fmt, ...)
{
  char line[256];
  va_list ap;

  if (gc->ops == NULL || gc->ops->progress == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  gc->ops->progress (gc->ops->opaque, line);
}

static void
candidates_free (struct candidates *c)
{
  size_t i;

  for (i = 0; i < c->n; i++)
    free (c->v[i].key);
  free (c->v);
}

struct candidate *
gc_candidates_add (struct candidates *c)
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

/* 0. The store's time now.  Falls back on the local clock (with a
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
  if (store_put (gc->store, KEY_GC_CLOCK, stamp, len, NULL, NULL) == STORE_OK
      && store_head (gc->store, KEY_GC_CLOCK, NULL, NULL, &t) == STORE_OK && t)
    return t;
  s3cow_log_warning ("could not read the server's clock (%s); using this "
                     "machine's: a clock difference with the server "
                     "shortens or lengthens the grace period",
                     KEY_GC_CLOCK);
  return time (NULL);
}

/* 1, 3. One key of the listing of disks/: a root, or (round 1) a map. */
static int
list_one (void *opaque, const struct catalog_key *key,
          const struct store_entry *entry)
{
  struct gc *gc = opaque;
  struct candidate *c;

  if (key->kind == CATALOG_MAP) {
    gc->listed_maps++;
    report (gc, "gc: listing maps: %" PRIu64, gc->listed_maps);
    if (entry->mtime > gc->cutoff)
      return 0;
    c = gc_candidates_add (&gc->cand_maps);
    if (c == NULL || (c->key = strdup (entry->key)) == NULL) {
      s3cow_log_error ("out of memory");
      return STORE_PERMANENT;
    }
    hashset_key_hash (entry->key, c->hash);
    c->size = entry->size;
    c->mtime = entry->mtime;
    return 0;
  }

  if (key->kind == CATALOG_HINTS) {
    /* Advice, not data: deleted in step 4 when its snapshot is gone. */
    if (entry->mtime > gc->cutoff)
      return 0;
    c = gc_candidates_add (&gc->cand_hints);
    if (c == NULL || (c->key = strdup (entry->key)) == NULL) {
      s3cow_log_error ("out of memory");
      return STORE_PERMANENT;
    }
    c->size = entry->size;
    c->mtime = entry->mtime;
    return 0;
  }

  if (key->kind == CATALOG_HISTORY) {
    struct listed_kept *k;

    if (gc->nkept == gc->cap_kept) {
      size_t cap = gc->cap_kept ? 2 * gc->cap_kept : 64;
      void *p = realloc (gc->kept, cap * sizeof *gc->kept);
      if (p == NULL) {
        s3cow_log_error ("realloc: %m");
        return STORE_PERMANENT;
      }
      gc->kept = p;
      gc->cap_kept = cap;
    }
    k = &gc->kept[gc->nkept++];
    snprintf (k->key, sizeof k->key, "%s", entry->key);
    k->generation = key->generation;
    k->mtime = entry->mtime;
    k->size = entry->size;
    /* disks/D/head sorts just before disks/D/history/. */
    k->head = gc->nroots > 0 && gc->roots[gc->nroots - 1].snap[0] == '\0'
                      && strcmp (gc->roots[gc->nroots - 1].disk, key->disk) == 0
                  ? (ssize_t)gc->nroots - 1
                  : -1;
    return 0;
  }

  if (gc->nroots == gc->cap_roots) {
    size_t cap = gc->cap_roots ? 2 * gc->cap_roots : 64;
    void *p = realloc (gc->roots, cap * sizeof *gc->roots);
    if (p == NULL) {
      s3cow_log_error ("realloc: %m");
      return STORE_PERMANENT;
    }
    gc->roots = p;
    gc->cap_roots = cap;
  }
  {
    struct listed_root *r = &gc->roots[gc->nroots++];

    snprintf (r->disk, sizeof r->disk, "%s", key->disk);
    snprintf (r->snap, sizeof r->snap, "%s",
              key->kind == CATALOG_SNAP ? key->name : "");
    snprintf (r->etag, sizeof r->etag, "%s", entry->etag ? entry->etag : "");
    r->read = false;
    r->window = 0;
  }
  return 0;
}

/* Mark one map (named by head h of root label) and its chunks.  0 or -1. */
int
gc_mark_map (struct gc *gc, const char *label, const struct head *h,
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
  r = catalog_read_map (gc->store, h, key, NULL, &entries, &n);
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

/* The hash of a few strings and bytes, each followed by a NUL. */
static void
hash_parts (uint8_t out[HASH_LEN], const char *a, const char *b,
            const uint8_t *id, uint64_t created)
{
  char buf[KEY_MAX_LEN + STORE_ETAG_MAX + 2 * HEAD_ID_LEN + 32];
  size_t i, n;

  n = (size_t)snprintf (buf, sizeof buf, "%s\n%s\n", a, b ? b : "");
  if (id)
    for (i = 0; i < HEAD_ID_LEN && n + 3 < sizeof buf; i++)
      n += (size_t)snprintf (buf + n, sizeof buf - n, "%02x", id[i]);
  snprintf (buf + n, sizeof buf - n, "\n%" PRIu64, created);
  hashset_key_hash (buf, out);
}

/* 1, 3. Read root r if new or changed and mark from it; *moved is set as
 * the top says.  0, or -1 after logging.
 */
static int
visit (struct gc *gc, struct listed_root *r, bool *moved)
{
  char key[KEY_MAX_LEN], label[2 * NAME_MAX_LEN + 2], etag[STORE_ETAG_MAX];
  uint8_t key_hash[HASH_LEN], h_version[HASH_LEN], h_disk[HASH_LEN];
  uint8_t *flags, was;
  struct head h;
  bool is_snap = r->snap[0] != '\0', added, new_version;
  uint32_t m;
  int st;

  if (is_snap)
    key_snap (key, r->disk, r->snap);
  else
    key_head (key, r->disk);
  catalog_label (label, r->disk, r->snap);
  hash_parts (h_version, key, r->etag, NULL, 0);
  if (r->etag[0] && hashset_find (gc->versions, h_version))
    return 0; /* this very version was read */

  st = catalog_read_head (gc->store, r->disk, r->snap, &h, etag, NULL, NULL);
  if (st == STORE_NOT_FOUND)
    return 0; /* removed since the listing */
  if (st != STORE_OK) {
    s3cow_log_error ("cannot read %s", label);
    return -1;
  }
  for (m = 0; m < h.nmaps; m++)
    if (gc_mark_map (gc, label, &h, h.maps[m]) == -1)
      return -1;
  if (!is_snap) {
    r->read = true;
    r->window = head_history (&h);
  }

  hashset_key_hash (key, key_hash);
  flags = hashset_add (gc->keys, key_hash, &added);
  if (flags == NULL)
    goto nomem;
  was = *flags;
  *flags = KEY_READ | (!is_snap && h.generation >= 1 ? KEY_SETTLED : 0);
  hash_parts (h_version, key, etag, NULL, 0);
  if (hashset_add (gc->versions, h_version, &new_version) == NULL)
    goto nomem;
  hash_parts (h_disk, key, NULL, h.disk_id, h.created);
  if (hashset_add (gc->disks, h_disk, &added) == NULL)
    goto nomem;
  if (!(was & KEY_READ) || added
      || (new_version && (is_snap || !(was & KEY_SETTLED))))
    *moved = true;
  return 0;

nomem:
  s3cow_log_error ("out of memory");
  return -1;
}

/* 1, 3. One round: list disks/, visit every root.  0 or -1. */
static int
round_of_marks (struct gc *gc, unsigned number, bool *moved)
{
  size_t i;

  gc->nroots = gc->nkept = 0;
  if (catalog_list (gc->store, NULL,
                    CATALOG_MASK (CATALOG_HEAD) | CATALOG_MASK (CATALOG_SNAP)
                        | CATALOG_MASK (CATALOG_HISTORY)
                        | (gc->list_maps ? CATALOG_MASK (CATALOG_MAP)
                                               | CATALOG_MASK (CATALOG_HINTS)
                                         : 0),
                    list_one, gc)
      != STORE_OK) {
    s3cow_log_error ("cannot list the disks in the bucket");
    return -1;
  }
  *moved = false;
  for (i = 0; i < gc->nroots; i++) {
    report (gc,
            "gc: round %u: marking %zu/%zu disks and snapshots, %zu chunks "
            "in use",
            number, i + 1, gc->nroots, hashset_count (gc->chunks));
    if (visit (gc, &gc->roots[i], moved) == -1)
      return -1;
  }
  if ((number == 1 ? gc_kept_sort (gc) : gc_kept_visit_new (gc)) == -1)
    return -1;
  gc->res->rounds = number;
  gc->res->roots = gc->nroots;
  return 0;
}

/* 2. Candidate chunks. */
static int
list_chunk (void *opaque, const struct store_entry *entry)
{
  struct gc *gc = opaque;
  uint8_t hash[HASH_LEN];
  struct candidate *c;

  gc->listed_chunks++;
  report (gc, "gc: listing chunks: %" PRIu64 " (%zu not in use)",
          gc->listed_chunks, gc->cand_chunks.n);
  if (!key_parse_chunk (entry->key, hash))
    return 0; /* not s3cow's: left alone */
  if (hashset_find (gc->chunks, hash))
    return 0;
  if (entry->mtime > gc->cutoff) {
    gc->res->young++;
    return 0;
  }
  c = gc_candidates_add (&gc->cand_chunks);
  if (c == NULL)
    return STORE_PERMANENT;
  memcpy (c->hash, hash, HASH_LEN);
  c->size = entry->size;
  c->mtime = entry->mtime;
  return 0;
}

/* Is the hint object at key that of a snapshot in the last listing? */
static bool
hint_has_snapshot (struct gc *gc, const char *key)
{
  struct catalog_key k;
  size_t i;

  if (catalog_parse_key (key, &k) != CATALOG_HINTS)
    return true; /* cannot happen: listed as one */
  for (i = 0; i < gc->nroots; i++)
    if (strcmp (gc->roots[i].disk, k.disk) == 0
        && strcmp (gc->roots[i].snap, k.name) == 0)
      return true;
  return false;
}

/* 4. Delete (or, dry run, report) one candidate still unmarked. */
static int
sweep_one (struct gc *gc, const struct candidate *c, bool is_chunk,
           uint64_t *count)
{
  char key[KEY_MAX_LEN];
  time_t mtime;
  int r;

  if (is_chunk)
    key_chunk (key, c->hash);
  else
    snprintf (key, sizeof key, "%s", c->key);
  if (!gc->dry_run) {
    /* Uploaded again since the listing: a writer is using it.  Chunks: a
     * writer uploads a chunk again whenever it needs it.  Maps: a server
     * whose head PUT failed writes the same map key again on its next
     * attempt (the generation did not advance), and may land that head
     * after our last round.
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
  }
  if (gc->ops && gc->ops->swept)
    gc->ops->swept (gc->ops->opaque, key, c->size, c->mtime);
  (*count)++;
  gc->res->bytes_deleted += c->size;
  return 0;
}

/* 0. Is grace long enough for the servers of this bucket? */
static int
check_grace (struct gc *gc, double grace, bool force, bool dry_run)
{
  uint64_t need;
  bool recorded;

  if (volume_read_grace (gc->store, &need, &recorded) == -1) {
    if (!force)
      return -1;
    s3cow_log_warning ("--force: running without knowing the servers' "
                       "gc-grace");
    return 0;
  }
  if (grace >= (double)need)
    return 0;
  if (dry_run) {
    s3cow_log_warning ("the grace period (%gs) is shorter than the servers' "
                       "gc-grace (%" PRIu64 "s): gc without --dry-run would "
                       "refuse it without --force",
                       grace, need);
    return 0;
  }
  if (force) {
    s3cow_log_warning ("--force: the grace period (%gs) is shorter than the "
                       "servers' gc-grace (%" PRIu64 "s): chunks that a "
                       "server uploaded but has not committed yet may be "
                       "deleted, and data it flushes afterwards lost",
                       grace, need);
    return 0;
  }
  s3cow_log_error ("the grace period (%gs) is shorter than the gc-grace the "
                   "servers of this bucket rely on (%" PRIu64 "s, %s): gc "
                   "could delete chunks that a server uploaded but has not "
                   "committed yet, and a later flush would then lose data.  "
                   "Use --grace %" PRIu64 "s or longer; or, when no server "
                   "writes to the bucket, --force; or, once no server with "
                   "that long a gc-grace= runs, lower the record with s3cow "
                   "grace",
                   grace, need,
                   recorded ? "recorded in " KEY_GC_GRACE
                            : "the default: no server recorded one",
                   need);
  return -1;
}

static int
run (struct gc *gc, double grace, bool force)
{
  uint64_t nmaps = 0, nchunks = 0;
  unsigned number;
  size_t i, total, done = 0;
  bool moved;

  /* 0-1. */
  if (check_grace (gc, grace, force, gc->dry_run) == -1)
    return -1;
  gc->now = server_now (gc);
  gc->cutoff = gc->now - (time_t)grace;
  gc->list_maps = true;
  if (round_of_marks (gc, 1, &moved) == -1)
    return -1;
  gc->list_maps = false;
  gc->res->sweeping = gc->cand_kept.n > 0;
  if (gc_kept_delete (gc) == -1)
    return -1;

  /* 2-3. */
  if (store_list (gc->store, KEY_CHUNKS_PREFIX, list_chunk, gc) != STORE_OK) {
    s3cow_log_error ("cannot list the chunks");
    return -1;
  }
  for (number = 2;; number++) {
    if (round_of_marks (gc, number, &moved) == -1)
      return -1;
    if (!moved)
      break;
    if (number == MAX_ROUNDS) {
      s3cow_log_error ("disks and snapshots kept appearing or being "
                       "replaced during %d rounds: nothing deleted; try "
                       "again later",
                       MAX_ROUNDS);
      return -1;
    }
  }

  /* 4. Maps first: a map names chunks, never the other way round. */
  gc->res->sweeping = true;
  total = gc->cand_maps.n + gc->cand_chunks.n;
  for (i = 0; i < gc->cand_maps.n; i++, done++) {
    const struct candidate *c = &gc->cand_maps.v[i];

    report (gc, "gc: sweeping %zu/%zu", done + 1, total);
    if (hashset_find (gc->maps, c->hash) == NULL
        && sweep_one (gc, c, false, &nmaps) == -1)
      return -1;
  }
  for (i = 0; i < gc->cand_chunks.n; i++, done++) {
    const struct candidate *c = &gc->cand_chunks.v[i];

    report (gc, "gc: sweeping %zu/%zu", done + 1, total);
    if (hashset_find (gc->chunks, c->hash) == NULL
        && sweep_one (gc, c, true, &nchunks) == -1)
      return -1;
  }
  /* Hints of snapshots that no longer exist (the last round's roots). */
  for (i = 0; i < gc->cand_hints.n; i++) {
    uint64_t nhints = 0;

    if (!hint_has_snapshot (gc, gc->cand_hints.v[i].key)
        && sweep_one (gc, &gc->cand_hints.v[i], false, &nhints) == -1)
      return -1;
  }
  gc->res->maps_deleted = nmaps;
  gc->res->chunks_deleted = nchunks;
  gc->res->maps_in_use = hashset_count (gc->maps);
  gc->res->chunks_in_use = hashset_count (gc->chunks);
  return 0;
}

int
volume_gc (struct store *store, double grace, bool force, bool dry_run,
           const struct volume_gc_ops *ops, struct volume_gc_result *result)
{
  struct gc gc
      = { .store = store, .ops = ops, .dry_run = dry_run, .res = result };
  int r = -1;

  memset (result, 0, sizeof *result);
  gc.maps = hashset_new ();
  gc.chunks = hashset_new ();
  gc.keys = hashset_new ();
  gc.versions = hashset_new ();
  gc.disks = hashset_new ();
  gc.expired = hashset_new ();
  if (gc.maps == NULL || gc.chunks == NULL || gc.keys == NULL
      || gc.versions == NULL || gc.disks == NULL || gc.expired == NULL)
    s3cow_log_error ("out of memory");
  else
    r = run (&gc, grace, force);
  hashset_free (gc.maps);
  hashset_free (gc.chunks);
  hashset_free (gc.keys);
  hashset_free (gc.versions);
  hashset_free (gc.disks);
  hashset_free (gc.expired);
  candidates_free (&gc.cand_kept);
  candidates_free (&gc.cand_hints);
  candidates_free (&gc.cand_maps);
  candidates_free (&gc.cand_chunks);
  free (gc.roots);
  free (gc.kept);
  return r;
}
