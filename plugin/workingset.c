/* s3cow: working-set hints (see workingset.h).
 *
 * The hint object is text (docs/format.md):
 *
 *   s3cow-hints 1
 *   snapshot <32 hex digits: the op_id of the snapshot it belongs to>
 *   chunk-size <bytes>
 *   chunks <n>
 *   <chunk index>          n lines, in the order to prefetch them
 *
 * A hint whose snapshot id differs from the snapshot's (a snapshot deleted
 * and made again under the same name), whose chunk size differs from the
 * disk's, or that does not parse is ignored.
 *
 * Locking: ws->lock protects the recording (seq, n, seen) until done is
 * set (under it), and stop; the read path takes it only until then.
 * After done, seq, n and seen are frozen, and save runs once, unlocked.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cleanup.h"
#include "log.h"
#include "names.h"
#include "timedwait.h"
#include "workingset.h"

#define HINT_MAGIC "s3cow-hints 1\n"
#define HINT_MAX_SIZE (128 + 24 * WORKINGSET_MAX_CHUNKS)

struct workingset {
  struct store *store;
  char label[NAME_REF_MAX_LEN + 1]; /* for log lines */
  char key[KEY_MAX_LEN];            /* where this disk's hint goes */
  uint8_t snap_id[HEAD_ID_LEN];     /* op_id of that snapshot */
  uint32_t chunk_size;
  uint64_t nchunks;
  double deadline; /* monotonic: the end of the window */

  pthread_mutex_t lock;
  pthread_cond_t cond;
  atomic_bool done; /* window over or full: record no more */
  bool stop, saved, thread_started;
  pthread_t thread;
  uint64_t *seq; /* chunks first read, in order */
  size_t n;
  uint8_t *seen; /* bitmap over nchunks */
};

struct hint {
  uint8_t snap_id[HEAD_ID_LEN];
  uint32_t chunk_size;
  uint64_t *idx;
  size_t n;
};

static void
hex_id (const uint8_t *id, char *out)
{
  size_t i;

  for (i = 0; i < HEAD_ID_LEN; i++)
    sprintf (out + 2 * i, "%02x", id[i]);
}

/* Parse the NUL-terminated text s of len bytes into *h.  0, or -1 with
 * *why set.
 */
static int
hint_parse (const char *s, size_t len, struct hint *h, const char **why)
{
  const char *p;
  char *end, id[2 * HEAD_ID_LEN + 1];
  unsigned long long cs, n, i;
  int used = 0;

  *why = "not a hint";
  if (strlen (s) != len || strncmp (s, HINT_MAGIC, strlen (HINT_MAGIC)) != 0)
    return -1;
  p = s + strlen (HINT_MAGIC);
  *why = "bad header";
  if (sscanf (p, "snapshot %32[0-9a-f]\nchunk-size %llu\nchunks %llu\n%n", id,
              &cs, &n, &used)
          != 3
      || strlen (id) != 2 * HEAD_ID_LEN || cs == 0 || cs > UINT32_MAX
      || n > WORKINGSET_MAX_CHUNKS)
    return -1;
  for (i = 0; i < HEAD_ID_LEN; i++) {
    unsigned b;
    if (sscanf (id + 2 * i, "%2x", &b) != 1)
      return -1;
    h->snap_id[i] = b;
  }
  h->chunk_size = cs;
  p += used;
  h->idx = calloc (n ? n : 1, sizeof *h->idx);
  *why = "out of memory";
  if (h->idx == NULL)
    return -1;
  *why = "bad chunk line";
  for (i = 0; i < n; i++) {
    if (*p < '0' || *p > '9')
      goto bad;
    errno = 0;
    h->idx[i] = strtoull (p, &end, 10);
    if (errno != 0 || *end != '\n')
      goto bad;
    p = end + 1;
  }
  *why = "trailing bytes";
  if (*p != '\0')
    goto bad;
  h->n = n;
  return 0;

bad:
  free (h->idx);
  h->idx = NULL;
  return -1;
}

/* Parse text (not NUL-terminated) into *h.  0, or -1 with *why set. */
static int
hint_decode (const char *text, size_t len, struct hint *h, const char **why)
{
  char *s = malloc (len + 1);
  int r;

  *why = "out of memory";
  if (s == NULL)
    return -1;
  memcpy (s, text, len);
  s[len] = '\0';
  r = hint_parse (s, len, h, why);
  free (s);
  return r;
}

/* Read the hint at key into *h if it is one of snapshot snap_id with
 * chunks of chunk_size.  0, or -1 (missing, unreadable or not matching:
 * a debug line for the last two).
 */
static int
hint_read (struct store *store, const char *key, const uint8_t *snap_id,
           uint32_t chunk_size, struct hint *h)
{
  CLEANUP_FREE void *data = NULL;
  const char *why;
  size_t len;
  int r;

  memset (h, 0, sizeof *h);
  r = store_get_alloc (store, key, HINT_MAX_SIZE, &data, &len, NULL);
  if (r == STORE_NOT_FOUND)
    return -1;
  if (r != STORE_OK) {
    s3cow_debug (cache, "hint %s: cannot read it: ignored", key);
    return -1;
  }
  if (hint_decode (data, len, h, &why) == -1) {
    s3cow_debug (cache, "hint %s: damaged (%s): ignored", key, why);
    return -1;
  }
  if (memcmp (h->snap_id, snap_id, HEAD_ID_LEN) != 0
      || h->chunk_size != chunk_size) {
    s3cow_debug (cache, "hint %s: of another snapshot or chunk size: ignored",
                 key);
    free (h->idx);
    h->idx = NULL;
    return -1;
  }
  return 0;
}

/* The parent of (disk, snap) with head h, as the next (disk, snap) to look
 * at, following disk heads (forks of a head) up to a snapshot.  Returns 0
 * with *found and *sh (that snapshot's head) set, or -1 (none, logged as
 * debug).
 */
static int
next_snapshot (struct store *store, const struct head *h, char *disk,
               char *snap, struct head *sh)
{
  struct head cur = *h;
  int depth;

  for (depth = 0; depth < WORKINGSET_MAX_DEPTH; depth++) {
    if (cur.parent[0] == '\0' || !name_valid_label (cur.parent)
        || name_parse_export (cur.parent, disk, snap) == -1)
      return -1;
    if (catalog_read_head (store, disk, snap[0] ? snap : NULL, &cur, NULL, NULL,
                           NULL)
        != STORE_OK) {
      s3cow_debug (cache, "hints: cannot read %s%s%s: no hint", disk,
                   snap[0] ? "@" : "", snap);
      return -1;
    }
    if (snap[0]) {
      *sh = cur;
      return 0;
    }
  }
  return -1;
}

struct workingset *
workingset_open (struct store *store, struct cache_disk *cd, const char *disk,
                 const char *snap, const struct head *h)
{
  struct workingset *ws;
  char d[NAME_MAX_LEN + 1], s[NAME_MAX_LEN + 1], key[KEY_MAX_LEN];
  struct head cur;
  int depth;

  if (h->chunk_size == 0)
    return NULL;
  /* The snapshot this disk descends from (itself when it is one). */
  if (snap[0]) {
    snprintf (d, sizeof d, "%s", disk);
    snprintf (s, sizeof s, "%s", snap);
    cur = *h;
  } else if (next_snapshot (store, h, d, s, &cur) == -1)
    return NULL;

  ws = calloc (1, sizeof *ws);
  if (ws == NULL)
    return NULL;
  ws->store = store;
  ws->chunk_size = h->chunk_size;
  ws->nchunks = head_nchunks (h);
  snprintf (ws->label, sizeof ws->label, "%s%s%s", disk, snap[0] ? "@" : "",
            snap);
  key_hints (ws->key, d, s);
  memcpy (ws->snap_id, cur.op_id, HEAD_ID_LEN);
  ws->seq = malloc (WORKINGSET_MAX_CHUNKS * sizeof *ws->seq);
  ws->seen = calloc (ws->nchunks / 8 + 1, 1);
  if (ws->seq == NULL || ws->seen == NULL
      || (errno = cond_init_monotonic (&ws->cond)) != 0) {
    free (ws->seq);
    free (ws->seen);
    free (ws);
    return NULL;
  }
  pthread_mutex_init (&ws->lock, NULL);
  ws->deadline = monotonic_now () + WORKINGSET_WINDOW;

  /* Prefetch the nearest hint up the chain: a fork of a fork inherits. */
  for (depth = 0; depth < WORKINGSET_MAX_DEPTH; depth++) {
    struct hint hint;

    key_hints (key, d, s);
    if (hint_read (store, key, cur.op_id, h->chunk_size, &hint) == 0) {
      s3cow_debug (cache, "%s: prefetching %zu chunks of hint %s", ws->label,
                   hint.n, key);
      cache_prefetch (cd, hint.idx, hint.n);
      free (hint.idx);
      break;
    }
    if (next_snapshot (store, &cur, d, s, &cur) == -1)
      break;
  }
  return ws;
}

void
workingset_note (struct workingset *ws, uint64_t first, uint64_t last)
{
  uint64_t i;

  if (ws == NULL || atomic_load (&ws->done))
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&ws->lock);
  if (atomic_load (&ws->done))
    return; /* ended while we waited: seq and seen are frozen */
  if (monotonic_now () >= ws->deadline) {
    atomic_store (&ws->done, true);
    pthread_cond_signal (&ws->cond);
    return;
  }
  for (i = first; i <= last && i < ws->nchunks; i++) {
    if (ws->seen[i / 8] & (1u << (i % 8)))
      continue;
    if (ws->n == WORKINGSET_MAX_CHUNKS) {
      atomic_store (&ws->done, true);
      pthread_cond_signal (&ws->cond);
      return;
    }
    ws->seen[i / 8] |= 1u << (i % 8);
    ws->seq[ws->n++] = i;
  }
}

/* Merge what was recorded with the hint there (chunks this open read
 * first, in its order, then the hint's others in theirs, up to the
 * limit) and write it.  Failures are debug lines.  Called once done is
 * set, by one thread, without ws->lock: the recording no longer changes,
 * and a read that notes a chunk meanwhile never waits for this I/O.
 */
static void
save (struct workingset *ws)
{
  CLEANUP_FREE char *text = NULL;
  struct hint old;
  size_t len = 0, cap = HINT_MAX_SIZE, i, n = ws->n;
  char id[2 * HEAD_ID_LEN + 1];
  int r;

  if (ws->saved || ws->n == 0)
    return;
  ws->saved = true;
  if (hint_read (ws->store, ws->key, ws->snap_id, ws->chunk_size, &old) == -1)
    old.n = 0;
  for (i = 0; i < old.n && n < WORKINGSET_MAX_CHUNKS; i++)
    if (old.idx[i] < ws->nchunks
        && !(ws->seen[old.idx[i] / 8] & (1u << (old.idx[i] % 8))))
      n++;
  text = malloc (cap);
  if (text == NULL) {
    free (old.idx);
    return;
  }
  hex_id (ws->snap_id, id);
  len = snprintf (
      text, cap, HINT_MAGIC "snapshot %s\nchunk-size %" PRIu32 "\nchunks %zu\n",
      id, ws->chunk_size, n);
  for (i = 0; i < ws->n; i++)
    len += snprintf (text + len, cap - len, "%" PRIu64 "\n", ws->seq[i]);
  for (i = 0; i < old.n && n > ws->n; i++)
    if (old.idx[i] < ws->nchunks
        && !(ws->seen[old.idx[i] / 8] & (1u << (old.idx[i] % 8)))) {
      len += snprintf (text + len, cap - len, "%" PRIu64 "\n", old.idx[i]);
      n--;
    }
  free (old.idx);
  r = store_put (ws->store, ws->key, text, len, NULL, NULL);
  s3cow_debug (cache, "%s: %s hint %s: %zu chunks read first", ws->label,
               r == STORE_OK ? "wrote" : "could not write", ws->key, ws->n);
}

static void *
save_thread (void *arg)
{
  struct workingset *ws = arg;

  pthread_mutex_lock (&ws->lock);
  while (!ws->stop && !atomic_load (&ws->done)) {
    double left = ws->deadline - monotonic_now ();
    if (left <= 0)
      break;
    cond_wait_seconds (&ws->cond, &ws->lock, left);
  }
  atomic_store (&ws->done, true);
  pthread_mutex_unlock (&ws->lock);
  save (ws);
  return NULL;
}

void
workingset_start (struct workingset *ws)
{
  if (ws == NULL || ws->thread_started)
    return;
  ws->thread_started = pthread_create (&ws->thread, NULL, save_thread, ws) == 0;
}

void
workingset_close (struct workingset *ws)
{
  if (ws == NULL)
    return;
  if (ws->thread_started) {
    pthread_mutex_lock (&ws->lock);
    ws->stop = true;
    pthread_cond_signal (&ws->cond);
    pthread_mutex_unlock (&ws->lock);
    pthread_join (ws->thread, NULL);
  } else {
    pthread_mutex_lock (&ws->lock);
    atomic_store (&ws->done, true);
    pthread_mutex_unlock (&ws->lock);
    save (ws);
  }
  pthread_mutex_destroy (&ws->lock);
  pthread_cond_destroy (&ws->cond);
  free (ws->seq);
  free (ws->seen);
  free (ws);
}
