/* s3cow: copying a disk's state into another bucket (see volume_copy.h).
 *
 *   1. Read the source's head and resolve its chunk map; read what the
 *      destination holds of the disk (head, snapshots) and refuse another
 *      disk, a head written since it was copied, or a held lease.
 *   2. The distinct chunks of the source: those the destination's own
 *      disk already names (its head, its snapshots) need nothing; the
 *      others are looked up at the destination, with one HEAD each when
 *      they are few, else one listing of chunks/ (whose cost is the
 *      destination's chunk count, not the source's).
 *   3. Send what is missing, jobs chunks at a time: each is read from the
 *      source and checked against its address (chunks_fetch) before it is
 *      written.
 *   4. One full map, then the head or snapshot with a conditional PUT.
 *   5. Read again the destination's snapshots (and head) whose chunks
 *      step 2 relied on: see gc below.
 * Steps 1 and 5 at the destination are volume_copy_dest.c.
 *
 * Against gc at the destination (plugin/volume_gc.c, "Why this is safe").
 * gc deletes an unreferenced chunk only when it is older than the grace
 * period.  The new head or snapshot may name three kinds of chunks:
 *  - chunks the destination's disk named when step 2 read it.  A head
 *    this copy replaces (If-Match) is a commit: a commit may keep naming
 *    what the head it replaces named.  Any other root relied on (a
 *    snapshot; the head, when a snapshot is written) is read again after
 *    the new object landed, as fork does (volume.c): if it changed or is
 *    gone, the new object is removed and the copy fails.
 *  - chunks the destination held: only if their Last-Modified time is
 *    younger than half the grace; older ones are sent again (which makes
 *    them young), like a server resends what it could not commit within
 *    its gc-grace.
 *  - chunks this copy sent.  When the copy takes longer than half the
 *    grace, what it sent first is sent again before the head is written,
 *    pass after pass (each shorter than the last), so that every chunk
 *    the new object names was written within the grace when it lands.
 * Half the grace leaves room for clocks: the times compared are the
 * store's Last-Modified and this machine's clock.
 *
 * At the source, the copy reads a committed state: its chunks stay as long
 * as a head or snapshot names them.  A disk that a server keeps writing
 * may drop chunks while they are copied (then the copy fails, naming the
 * missing chunk): copy a snapshot of it instead.  A point in time is a
 * kept head, whose chunks gc keeps while it is in the disk's history
 * window: one about to leave it can fail the same way.
 */
#include <config.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "chunk_codec.h"
#include "chunks.h"
#include "cleanup.h"
#include "history.h"
#include "log.h"
#include "volume.h"
#include "volume_copy.h"
#include "volume_copy-internal.h"

/* At most this many chunks to look up are looked up one HEAD each; more
 * are looked up by listing the destination's chunks/ once.
 */
#define COPY_HEAD_MAX 256

/* Sending passes (see the top) before the copy gives up. */
#define COPY_MAX_PASSES 16

int
volume_copy_source (struct store *store, const char *ref,
                    const struct crypto *c, struct copy_source *src)
{
  struct name_ref r;
  char key[KEY_MAX_LEN];

  memset (src, 0, sizeof *src);
  /* DISK, DISK@SNAP, or DISK@TIME: the head that was current then (a
   * kept head, which gc leaves while it is in the history window), copied
   * as a disk.
   */
  if (name_parse_ref (ref, &r) == -1)
    return -1;
  strcpy (src->disk, r.disk);
  strcpy (src->snap, r.snap);
  name_ref_label (&r, src->label);
  src->crypto = c;
  return history_read_ref_logged (store, &r, true, c, &src->head, key);
}

/* ---- the chunks to send ---- */

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* A chunk key's name (lowercase hex) into its hash.  0, or -1. */
static int
hex_to_hash (const char *hex, uint8_t hash[HASH_LEN])
{
  size_t i;

  if (strlen (hex) != HASH_HEX_LEN)
    return -1;
  for (i = 0; i < HASH_LEN; i++) {
    int hi = hex_digit (hex[2 * i]), lo = hex_digit (hex[2 * i + 1]);

    if (hi < 0 || lo < 0)
      return -1;
    hash[i] = hi << 4 | lo;
  }
  return 0;
}

static int
compare_need (const void *a, const void *b)
{
  const struct need *x = a, *y = b;
  int c = memcmp (x->hash, y->hash, HASH_LEN);

  if (c)
    return c;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* needs = the distinct hashes of entries (none is zero), sorted. */
static int
make_needs (struct copy *c, const struct map_entry *entries, size_t n)
{
  size_t i, k;

  c->needs = calloc (n ? n : 1, sizeof *c->needs);
  if (c->needs == NULL) {
    s3cow_log_error ("out of memory for %zu chunks", n);
    return -1;
  }
  for (i = 0; i < n; i++) {
    memcpy (c->needs[i].hash, entries[i].hash, HASH_LEN);
    c->needs[i].idx = entries[i].idx;
  }
  qsort (c->needs, n, sizeof *c->needs, compare_need);
  for (i = k = 0; i < n; i++)
    if (k == 0
        || memcmp (c->needs[k - 1].hash, c->needs[i].hash, HASH_LEN) != 0)
      c->needs[k++] = c->needs[i];
  c->nneeds = k;
  return 0;
}

struct need *
copy_find_need (struct copy *c, const uint8_t hash[HASH_LEN])
{
  size_t lo = 0, hi = c->nneeds;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int r = memcmp (c->needs[mid].hash, hash, HASH_LEN);

    if (r == 0)
      return &c->needs[mid];
    if (r < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* ---- checking and sending, jobs at a time ---- */

static void
check_one (struct copy *c, struct need *need)
{
  char key[KEY_MAX_LEN];
  time_t mtime = 0;
  int r;

  key_chunk (key, need->hash);
  r = store_head (c->dst_store, key, NULL, NULL, &mtime);
  if (r == STORE_OK)
    need->fresh = mtime > 0 ? (int64_t)mtime : 1;
  else if (r != STORE_NOT_FOUND)
    atomic_store (&c->failed, true); /* logged */
}

static void
send_one (struct copy *c, struct need *need, void *buf, void *scratch)
{
  uint8_t got[HASH_LEN];
  int64_t start = time (NULL);

  if (chunks_fetch (c->src_chunks, need->hash, buf, scratch, c->src->label,
                    need->idx)
      == -1) {
    atomic_store (&c->failed, true); /* logged, naming the chunk */
    return;
  }
  if (chunks_persist (c->dst_chunks, buf, NULL, got, scratch) == -1) {
    atomic_store (&c->failed, true);
    return;
  }
  need->fresh = start;
  atomic_fetch_add (&c->sent, 1);
  atomic_fetch_add (&c->bytes, c->src->head.chunk_size);
}

static void *
worker (void *arg)
{
  struct copy *c = arg;
  void *buf = NULL, *scratch = NULL;
  size_t i, scratch_len;

  if (c->phase == PHASE_SEND) {
    scratch_len = chunks_scratch_len (c->src_chunks);
    if (scratch_len < chunks_scratch_len (c->dst_chunks))
      scratch_len = chunks_scratch_len (c->dst_chunks);
    buf = malloc (c->src->head.chunk_size);
    scratch = malloc (scratch_len);
    if (buf == NULL || scratch == NULL) {
      s3cow_log_error ("out of memory for a chunk buffer");
      atomic_store (&c->failed, true);
      free (buf);
      free (scratch);
      return NULL;
    }
  }
  while (!atomic_load (&c->failed)
         && (i = atomic_fetch_add (&c->next, 1)) < c->nwork) {
    struct need *need = &c->needs[c->work[i]];

    if (c->phase == PHASE_SEND)
      send_one (c, need, buf, scratch);
    else
      check_one (c, need);
    atomic_fetch_add (&c->done, 1);
  }
  free (buf);
  free (scratch);
  return NULL;
}

static void
report (struct copy *c, const char *phase, uint64_t done, uint64_t total)
{
  if (c->ops && c->ops->progress)
    c->ops->progress (c->ops->opaque, phase, done, total,
                      atomic_load (&c->bytes));
}

/* Run the phase over work[0..nwork) on c->jobs threads, reporting from
 * this one.  0, or -1 (logged).
 */
static int
run_phase (struct copy *c, enum phase phase)
{
  const char *name = phase == PHASE_SEND ? "sending" : "checking";
  pthread_t threads[COPY_MAX_JOBS];
  const struct timespec tick = { 0, 100000000L }; /* 0.1 s */
  unsigned i, started = 0;

  c->phase = phase;
  atomic_store (&c->next, 0);
  atomic_store (&c->done, 0);
  for (i = 0; i < c->jobs && i < c->nwork; i++) {
    if (pthread_create (&threads[i], NULL, worker, c) != 0)
      break; /* fewer threads do the same work */
    started++;
  }
  if (started == 0 && c->nwork > 0) {
    s3cow_log_error ("cannot start a thread: %m");
    return -1;
  }
  while (started > 0 && !atomic_load (&c->failed)
         && atomic_load (&c->done) < c->nwork) {
    report (c, name, atomic_load (&c->done), c->nwork);
    nanosleep (&tick, NULL);
  }
  for (i = 0; i < started; i++)
    pthread_join (threads[i], NULL);
  report (c, name, atomic_load (&c->done), c->nwork);
  return atomic_load (&c->failed) ? -1 : 0;
}

static int
list_chunk (void *opaque, const struct store_entry *entry)
{
  struct copy *c = opaque;
  const char *hex = entry->key + strlen (KEY_CHUNKS_PREFIX);
  uint8_t hash[HASH_LEN];
  struct need *need;

  c->listed++;
  if (c->listed % 1000 == 0)
    report (c, "listing", c->listed, 0);
  if (hex_to_hash (hex, hash) == -1)
    return 0; /* not s3cow's */
  need = copy_find_need (c, hash);
  if (need && need->fresh != FRESH_NAMED)
    need->fresh = entry->mtime > 0 ? (int64_t)entry->mtime : 1;
  return 0;
}

/* Step 2: which chunks does the destination hold, and since when? */
static int
look_up (struct copy *c)
{
  size_t i;
  int r;

  c->nwork = 0;
  for (i = 0; i < c->nneeds; i++)
    if (c->needs[i].fresh != FRESH_NAMED)
      c->work[c->nwork++] = i;
  if (c->nwork == 0)
    return 0;
  if (c->nwork <= COPY_HEAD_MAX)
    return run_phase (c, PHASE_CHECK);
  c->res->listed = true;
  r = store_list (c->dst_store, KEY_CHUNKS_PREFIX, list_chunk, c);
  if (r != STORE_OK) {
    s3cow_log_error ("cannot list the chunks of the destination");
    return -1;
  }
  return 0;
}

/* Step 3: send what the destination lacks or holds since too long, until
 * nothing is older than half the grace.
 */
static int
send_missing (struct copy *c)
{
  uint64_t grace;
  bool recorded;
  size_t i;
  int pass;

  if (volume_read_grace (c->dst_store, &grace, &recorded) == -1)
    return -1;
  for (pass = 0;; pass++) {
    int64_t oldest = (int64_t)time (NULL) - (int64_t)(grace / 2);

    c->nwork = 0;
    for (i = 0; i < c->nneeds; i++)
      if (c->needs[i].fresh < oldest)
        c->work[c->nwork++] = i;
    if (pass == 0)
      c->res->present = c->nneeds - c->nwork;
    if (c->nwork == 0)
      return 0;
    if (pass == COPY_MAX_PASSES) {
      s3cow_log_error ("the copy is slower than the destination's gc grace "
                       "period (%" PRIu64 " s) allows: %zu chunks sent "
                       "more than half of it ago are not referenced yet "
                       "(give more --jobs, or raise the grace)",
                       grace, c->nwork);
      return -1;
    }
    if (pass > 0)
      s3cow_debug (commit, "copy: pass %d: sending %zu chunks again", pass + 1,
                   c->nwork);
    if (run_phase (c, PHASE_SEND) == -1)
      return -1;
  }
}

/* ---- the map and the head ---- */

static int
write_map (struct copy *c, const struct map_entry *entries, size_t n, char *key)
{
  const struct head *s = &c->src->head;
  CLEANUP_FREE void *map = NULL;
  char instance[COPY_INSTANCE_LEN + 1];
  size_t len;

  copy_map_instance (s, instance);
  key_map (key, c->dst_disk, s->generation, instance);
  if (map_encode (entries, n, true, s->chunk_size, head_nchunks (s),
                  c->src->crypto, key, &map, &len)
      == -1) {
    s3cow_log_error ("cannot encode the map: %m");
    return -1;
  }
  if (store_put (c->dst_store, key, map, len, NULL, NULL) != STORE_OK) {
    s3cow_log_error ("cannot write the map %s at the destination", key);
    return -1;
  }
  return 0;
}

static int
write_head (struct copy *c, const char *map_key, const char *etag)
{
  CLEANUP_FREE void *data = NULL;
  char label[2 * NAME_MAX_LEN + 2];
  struct head h = c->src->head;
  size_t len;
  int r;

  copy_dst_label (c, c->src->snap, label);
  h.parent[0] = '\0';
  h.nmaps = 1;
  snprintf (h.maps[0], KEY_MAX_LEN, "%s", map_key);
  if (c->src->snap[0])
    key_snap (c->res->key, c->dst_disk, c->src->snap);
  else
    key_head (c->res->key, c->dst_disk);
  if (volume_encode_head (&h, c->src->crypto, c->res->key, &data, &len) == -1)
    return -1;
  r = store_put_conditional (c->dst_store, c->res->key, data, len,
                             etag[0] ? etag : NULL, NULL);
  if (r == STORE_PRECONDITION || r == STORE_NOT_FOUND)
    s3cow_log_error ("%s at the destination was %s by someone else during the "
                     "copy: run the copy again",
                     label, etag[0] ? "changed or removed" : "created");
  else if (r != STORE_OK)
    s3cow_log_error ("cannot write %s at the destination", label);
  return r == STORE_OK ? 0 : -1;
}

int
volume_copy (struct store *src_store, const struct copy_source *src,
             struct store *dst_store, const char *dst_disk, unsigned jobs,
             const struct volume_copy_ops *ops,
             struct volume_copy_result *result)
{
  const struct chunk_compression compression = CHUNK_COMPRESSION_DEFAULT;
  struct copy c = {
    .src_store = src_store,
    .dst_store = dst_store,
    .src = src,
    .dst_disk = dst_disk,
    .jobs = jobs < 1               ? 1
            : jobs > COPY_MAX_JOBS ? COPY_MAX_JOBS
                                   : jobs,
    .ops = ops,
    .res = result,
  };
  CLEANUP_FREE struct map_entry *entries = NULL;
  char etag[STORE_ETAG_MAX], map_key[KEY_MAX_LEN], bad_map[KEY_MAX_LEN];
  char label[2 * NAME_MAX_LEN + 2];
  bool skip_all = false;
  size_t n;
  int status = -1, r;

  memset (result, 0, sizeof *result);
  copy_dst_label (&c, src->snap, label);

  /* 1. */
  r = catalog_resolve (src_store, &src->head, src->crypto, &entries, &n,
                       bad_map);
  if (r != STORE_OK) {
    s3cow_log_error ("%s: cannot read its map %s%s", src->label, bad_map,
                     r == STORE_NOT_FOUND ? " (missing)" : "");
    return -1;
  }
  if (make_needs (&c, entries, n) == -1)
    goto out;
  result->chunks = c.nneeds;
  if (copy_read_destination (&c, etag, &skip_all) == -1)
    goto out;
  if (skip_all) {
    result->up_to_date = true;
    result->present = c.nneeds;
    if (src->snap[0])
      key_snap (result->key, dst_disk, src->snap);
    else
      key_head (result->key, dst_disk);
    status = 0;
    goto out;
  }
  /* The destination's chunks are written as a server would by default. */
  c.src_chunks
      = chunks_new (src_store, src->head.chunk_size, &compression, src->crypto);
  c.dst_chunks
      = chunks_new (dst_store, src->head.chunk_size, &compression, src->crypto);
  c.work = malloc ((c.nneeds ? c.nneeds : 1) * sizeof *c.work);
  if (c.src_chunks == NULL || c.dst_chunks == NULL || c.work == NULL) {
    s3cow_log_error ("out of memory");
    goto out;
  }

  /* 2, 3. */
  if (look_up (&c) == -1)
    goto out;
  if (send_missing (&c) == -1)
    goto out;
  result->sent = atomic_load (&c.sent);
  result->bytes_sent = atomic_load (&c.bytes);

  /* 4, 5. */
  if (write_map (&c, entries, n, map_key) == -1
      || write_head (&c, map_key, etag) == -1)
    goto out;
  if (copy_check_relied (&c) == -1) {
    if (store_delete (dst_store, result->key) == STORE_OK)
      s3cow_log_error ("%s removed at the destination: run the copy again",
                       label);
    else
      s3cow_log_error ("could not remove %s at the destination: remove it "
                       "with s3cow rm, then run the copy again",
                       label);
    goto out;
  }
  status = 0;

out:
  result->sent = atomic_load (&c.sent);
  result->bytes_sent = atomic_load (&c.bytes);
  chunks_free (c.src_chunks);
  chunks_free (c.dst_chunks);
  free (c.work);
  free (c.needs);
  copy_free_relied (&c);
  return status;
}
