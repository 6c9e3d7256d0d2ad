/* s3cow: commits: a disk's head written by its lease holder (volume.h).
 *
 * Every commit (and the claim of a new lease holder, a commit of nothing)
 * replaces the head with a compare-and-swap, If-Match on the etag of the
 * head this writer last read or wrote, and with a new op id, so that its
 * bytes are its own.  A PUT whose answer was lost (a transient failure,
 * the retries ran out) may have landed or not, and may land still: its
 * bytes are kept, and the next commit first reads the head back
 * (volume_head_settle): our bytes there mean it landed, another etag that
 * someone else's head replaced ours, the same etag that it has not landed
 * (it may yet: stray stays).  A 412 is read back the same way, in
 * store_put_conditional.
 *
 * History (history.h): before a head is replaced, its kept copy must
 * exist, also when the writer that committed it stopped before keeping
 * it; so the first commit of a writer (or a claim) writes that copy, and
 * every commit writes the copy of the head it wrote once it landed: one
 * more small PUT per commit, none while the window is 0.  A server
 * (keep_in_background) writes the copy of the head it committed off the
 * flush path, from a thread of its own started once the head landed, one
 * at a time: whatever replaces that head next waits for it first (its
 * next commit, volume_head_keep; another writer writes the copy itself,
 * as the first commit of a writer does), and close waits for it too.  A
 * copy that failed in the background is logged and written again, on
 * the flush path, before the head is replaced; if that fails too, the
 * commit fails.  A server that dies before its copy landed leaves it to
 * the next writer, the same way.  The first commit of a server's session
 * starts the copy of the head it replaces while it writes its map
 * (disk.c), so that a flush waits for three PUTs in a row at most: a
 * chunk, the map, the head.
 *
 * Commit times never go backwards: a commit is stamped no earlier than
 * the head it replaces, so that DISK@TIME stays one commit (history.h)
 * even after a takeover by a server whose clock is behind.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"
#include "volume.h"

void
volume_head_clear (struct volume_head *vh)
{
  free (vh->pending);
  vh->pending = NULL;
  vh->pending_len = 0;
}

/* The object at vh->key is someone else's (etag): no PUT of ours, all of
 * them If-Match vh->etag, can land any more.
 */
static int
changed (struct volume_head *vh, const char *etag)
{
  if (strcmp (etag, vh->etag) == 0)
    return -1; /* not replaced: ours may land yet (stray stays) */
  vh->stray = false;
  return VOLUME_CHANGED;
}

static void keep_landed (struct store *store, struct volume_head *vh);

int
volume_head_settle (struct store *store, struct volume_head *vh)
{
  char etag[STORE_ETAG_MAX];
  int r;

  if (vh->pending == NULL)
    return 0;
  r = store_holds (store, vh->key, vh->pending, vh->pending_len, etag);
  if (r == STORE_OK) {
    s3cow_debug (
        commit, "%s: the uncertain commit of generation %" PRIu64 " had landed",
        vh->key, vh->pending_head.generation);
    vh->head = vh->pending_head;
    strcpy (vh->etag, etag);
    vh->stray = false;
    keep_landed (store, vh);
  } else if (r == STORE_PRECONDITION || r == STORE_NOT_FOUND) {
    r = changed (vh, etag);
    volume_head_clear (vh);
    /* Not landed yet: the head is still ours, commits go on. */
    return r == VOLUME_CHANGED ? r : 0;
  } else
    return -1; /* cannot tell: still pending */
  volume_head_clear (vh);
  return 0;
}

/* The disk's name, from vh->key (disks/D/head). */
static int
disk_of (const struct volume_head *vh, char *disk)
{
  struct catalog_key k;

  if (catalog_parse_key (vh->key, &k) != CATALOG_HEAD) {
    s3cow_log_error ("%s: not a disk's head", vh->key);
    return -1;
  }
  strcpy (disk, k.disk);
  return 0;
}

/* Does vh->head still need its kept copy? */
static bool
keep_needed (const struct volume_head *vh)
{
  return head_history (&vh->head) != 0
         && !(vh->kept_set
              && memcmp (vh->kept_op_id, vh->head.op_id, HEAD_ID_LEN) == 0);
}

/* A kept copy written by a thread of its own (volume_head_keep_start). */
struct volume_keep_job {
  pthread_t thread;
  struct store *store;
  const struct crypto *crypto;
  char disk[NAME_MAX_LEN + 1];
  struct head head;
  int r; /* volume_keep_head's; read once the thread is joined */
};

static void *
keep_thread (void *arg)
{
  struct volume_keep_job *job = arg;

  job->r = volume_keep_head (job->store, job->disk, &job->head, job->crypto);
  if (job->r == 0)
    s3cow_debug (commit, "%s: generation %" PRIu64 " kept (history)", job->disk,
                 job->head.generation);
  return NULL;
}

int
volume_head_keep_wait (struct volume_head *vh)
{
  struct volume_keep_job *job = vh->keeping;
  int err, r;

  if (job == NULL)
    return 0;
  vh->keeping = NULL;
  err = pthread_join (job->thread, NULL);
  r = err == 0 ? job->r : -1;
  if (err != 0) {
    errno = err;
    s3cow_log_error ("%s: pthread_join: %m", vh->key);
  }
  if (r == 0) {
    vh->kept_set = true;
    memcpy (vh->kept_op_id, job->head.op_id, HEAD_ID_LEN);
  } else
    s3cow_log_error ("%s: the kept copy of generation %" PRIu64 " (history) "
                     "was not written; it is written again before that head "
                     "is replaced",
                     vh->key, job->head.generation);
  free (job);
  return r;
}

void
volume_head_keep_start (struct store *store, struct volume_head *vh)
{
  struct volume_keep_job *job;
  int err;

  if (vh->keeping
      && memcmp (vh->keeping->head.op_id, vh->head.op_id, HEAD_ID_LEN) == 0)
    return; /* under way */
  /* One at a time; a failure is logged, and volume_head_keep writes the
   * copy that vh->head still needs.
   */
  (void)volume_head_keep_wait (vh);
  if (!keep_needed (vh))
    return;
  job = malloc (sizeof *job);
  if (job == NULL) {
    s3cow_debug (commit,
                 "%s: malloc: %m: the kept copy waits for the next "
                 "commit",
                 vh->key);
    return;
  }
  if (disk_of (vh, job->disk) == -1) {
    free (job);
    return;
  }
  job->store = store;
  job->crypto = vh->crypto;
  job->head = vh->head;
  job->r = -1;
  err = pthread_create (&job->thread, NULL, keep_thread, job);
  if (err != 0) {
    errno = err;
    s3cow_debug (commit,
                 "%s: pthread_create: %m: the kept copy waits for "
                 "the next commit",
                 vh->key);
    free (job);
    return;
  }
  vh->keeping = job;
}

int
volume_head_keep (struct store *store, struct volume_head *vh)
{
  char disk[NAME_MAX_LEN + 1];

  /* Its failure is logged: the copy is written again just below. */
  (void)volume_head_keep_wait (vh);
  if (!keep_needed (vh))
    return 0;
  if (disk_of (vh, disk) == -1
      || volume_keep_head (store, disk, &vh->head, vh->crypto) == -1)
    return -1;
  vh->kept_set = true;
  memcpy (vh->kept_op_id, vh->head.op_id, HEAD_ID_LEN);
  return 0;
}

/* vh->head is a head of ours that landed just now: its kept copy, in the
 * background for a server, else now.  A failure is logged; the copy is
 * written again before the head is replaced.
 */
static void
keep_landed (struct store *store, struct volume_head *vh)
{
  if (vh->keep_in_background)
    volume_head_keep_start (store, vh);
  else
    (void)volume_head_keep (store, vh);
}

int
volume_commit_head (struct store *store, struct volume_head *vh,
                    const struct head *next)
{
  char etag[STORE_ETAG_MAX];
  struct head h = *next;
  void *data;
  size_t len;
  int r;

  if (vh->pending) {
    s3cow_log_error ("%s: a commit while the last one is unsettled", vh->key);
    return -1;
  }
  /* The kept copy of the head replaced, before it is (volume_gc.c,
   * "Kept heads").
   */
  if (volume_head_keep (store, vh) == -1) {
    s3cow_log_error ("%s: generation %" PRIu64 " not written: the history "
                     "needs the kept copy of generation %" PRIu64 " first",
                     vh->key, next->generation, vh->head.generation);
    return -1;
  }
  if (!h.has_history) {
    h.has_history = true;
    h.history = HEAD_HISTORY_DEFAULT;
  }
  if (h.committed < vh->head.committed)
    h.committed = vh->head.committed;
  volume_new_id (h.op_id);
  if (head_encode (&h, vh->crypto, vh->key, &data, &len) == -1) {
    s3cow_log_error ("%s: commit: cannot encode the head: %m", vh->key);
    return -1;
  }
  r = store_put_conditional (store, vh->key, data, len, vh->etag, etag);
  if (r == STORE_OK) {
    free (data);
    vh->head = h;
    strcpy (vh->etag, etag);
    vh->stray = false;
    keep_landed (store, vh);
    return 0;
  }
  if (r == STORE_PRECONDITION || r == STORE_NOT_FOUND) {
    free (data);
    vh->stray = true;
    return changed (vh, etag);
  }
  /* It may have landed, or land still. */
  vh->stray = true;
  vh->pending = data;
  vh->pending_len = len;
  vh->pending_head = h;
  return -1;
}
