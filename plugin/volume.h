/* s3cow: every change to the layout of a bucket, in one place.
 *
 * The s3cow command and the plugin change the bucket only through these
 * functions: create, fork, snapshot, commit (volume_head.c), rm, unlock,
 * resize, the gc grace record, and gc's mark and sweep.  Reading is
 * catalog.h's.
 *
 * Conditional writes.  Every head and snapshot written here carries a new
 * random operation id (format.h: op_id), so that when a conditional PUT
 * answers 412 after a retry, reading the object back tells this writer's
 * own landed attempt (its answer lost on the way) from anyone else's write:
 * only identical bytes, op id included, count as success
 * (store_put_conditional).  Two `s3cow create X` at once: one succeeds,
 * the other finds X exists.
 *
 * All functions log what went wrong (s3cow_log_error) and return -1, or 0
 * on success, unless said otherwise.  None keeps state between calls.
 */
#ifndef S3COW_VOLUME_H
#define S3COW_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto.h"
#include "format.h"
#include "names.h"
#include "store.h"

/* The grace a bucket without a grace record relies on: the plugin's
 * default gc-grace=.
 */
#define VOLUME_DEFAULT_GRACE 3600

/* A new random id (operation or disk id). */
void volume_new_id (uint8_t id[HEAD_ID_LEN]);

/* create: a new empty disk (generation 0) with a history window of
 * history seconds (0: off; HEAD_HISTORY_DEFAULT unless told), encrypted
 * under c (NULL: not encrypted).  "already exists" when it does, even for
 * a create of the same size run at the same moment.
 */
int volume_create (struct store *store, const char *disk, uint64_t size,
                   uint32_t chunk_size, uint64_t history,
                   const struct crypto *c);

/* create, as the plugin's size= does: a disk that exists already is no
 * error (*created false; the caller checks its size).
 */
int volume_create_if_absent (struct store *store, const char *disk,
                             uint64_t size, uint32_t chunk_size,
                             uint64_t history, const struct crypto *c,
                             bool *created);

/* fork src_disk[@src_snap] into the new disk new_disk; snapshot disk as
 * disk@snap.  A constant number of requests, whatever the disk's size.
 * The new head keeps the source's key domain: an encrypted source needs
 * its key c (its head is checked with it, and the new one authenticated);
 * one that is not encrypted needs c NULL.
 */
int volume_fork (struct store *store, const char *src_disk,
                 const char *src_snap, const char *new_disk,
                 const struct crypto *c);
int volume_snapshot (struct store *store, const char *disk, const char *snap,
                     const struct crypto *c);

/* The same from any ref (names.h): DISK, DISK@SNAP or DISK@TIME (a
 * snapshot of DISK@SNAP is refused by the caller).  A fork of a time has
 * the disk as its parent.  A fork keeps its source's history window
 * unless opts (may be NULL) sets one.  c: as above.
 */
struct volume_fork_options {
  bool set_history;
  uint64_t history; /* seconds; 0: off */
};
int volume_fork_ref (struct store *store, const struct name_ref *src,
                     const char *new_disk,
                     const struct volume_fork_options *opts,
                     const struct crypto *c);
int volume_snapshot_ref (struct store *store, const struct name_ref *src,
                         const char *snap, const struct crypto *c);

/* rm disk@snap. */
int volume_rm_snapshot (struct store *store, const char *disk,
                        const char *snap);

/* rm disk: its snapshots, head and lease.  Without with_snapshots it is
 * refused when the disk has snapshots; without force when a server holds
 * its lease, or the lease cannot be read.
 */
int volume_rm_disk (struct store *store, const char *disk, bool with_snapshots,
                    bool force);

/* unlock disk: delete its lease.  Returns 0 with *what set to "no lease"
 * (nothing done), "held", "released" or "unreadable" (the lease broken),
 * or -1 after logging (a refusal without force included).
 */
int volume_unlock (struct store *store, const char *disk, bool force,
                   const char **what);

/* resize disk to size bytes (a multiple of 512, at most DISK_SIZE_MAX,
 * checked by the caller).  A smaller size is refused unless shrink.  Refused
 * while a server holds the disk's lease.  An encrypted disk needs its key
 * c (the new head is authenticated with it, a shrink's last chunk sealed);
 * one that is not encrypted needs c NULL.  *old_size gets the size it had
 * (equal to size: nothing was done).  See volume_resize.c.
 */
int volume_resize (struct store *store, const char *disk, uint64_t size,
                   bool shrink, const struct crypto *c, uint64_t *old_size);

/* ---- history (volume_history.c) ---- */

/* Write the kept copy of head, a head of disk that is or was its head,
 * under disks/D/history/ (history.h).  An encrypted head needs its key c:
 * the copy's MAC is bound to the disk's head key (history_mac_key).  0,
 * or -1 after logging.
 */
int volume_keep_head (struct store *store, const char *disk,
                      const struct head *head, const struct crypto *c);

/* Set disk's history window to seconds (0: off), taking its lease for
 * the moment: refused while a server writes the disk.  An encrypted disk
 * needs its key c (the head is written).  0 or -1.
 */
int volume_set_history (struct store *store, const char *disk, uint64_t seconds,
                        const struct crypto *c);

/* ---- commits: the head of a disk open read-write ---- */

struct volume_keep_job; /* volume_head.c */

/* What one writer knows of the head it commits onto. */
struct volume_head {
  char key[KEY_MAX_LEN];       /* the head's key */
  const struct crypto *crypto; /* an encrypted disk's key (else NULL) */
  struct head head;            /* the last one read or committed */
  char etag[STORE_ETAG_MAX];   /* its etag */
  /* A head PUT of this writer's (If-Match etag) may land yet: its answer
   * was lost, or it has not arrived.  Then another writer that takes the
   * lease must not trust a release (see disk.c, "Fencing").
   */
  bool stray;
  /* The bytes of a PUT whose outcome is not known yet, and its head:
   * volume_head_settle finds out.
   */
  void *pending;
  size_t pending_len;
  struct head pending_head;
  /* The op id of the last head whose kept copy (history.h) this writer
   * wrote, if kept_set: when it is head's, head needs no copy before it
   * is replaced.
   */
  bool kept_set;
  uint8_t kept_op_id[HEAD_ID_LEN];
  /* A server sets this: the kept copy of a head it committed is written
   * in the background (volume_head_keep_start), off the flush path.
   * Else (commands) volume_commit_head writes it before it returns.
   */
  bool keep_in_background;
  struct volume_keep_job *keeping; /* the copy under way, or NULL */
};

/* Outcomes of the two calls below, besides 0 and -1 (a failure, logged or
 * a store failure already logged: the head stays as it was).
 */
#define VOLUME_CHANGED (-2) /* another writer's head is in place (or none) */

/* Find out whether the pending PUT (if any) landed: then it becomes
 * vh->head.  Call it before building the next head on vh->head.
 * 0 (settled, or nothing pending), VOLUME_CHANGED, or -1 (still pending).
 */
int volume_head_settle (struct store *store, struct volume_head *vh);

/* The single place where a commit writes a disk's head: next (a new op id
 * is set; and the history window, when next has none: format.h) replaces
 * vh->head if the head is still vh->etag.  History: the kept copy of
 * vh->head is written first (volume_head_keep), that of next once it
 * landed: before this returns, or with keep_in_background started then
 * and left running (if it fails, it is written before the next commit).
 * 0: next is vh->head now.  VOLUME_CHANGED: someone else's head is in
 * place.  -1: not committed; when it is not known whether the PUT
 * landed, vh->pending holds it (settle before the next commit).  Nothing
 * may be pending.
 */
int volume_commit_head (struct store *store, struct volume_head *vh,
                        const struct head *next);

/* Write the kept copy of vh->head unless it was written (or its window
 * is 0), after waiting for the one under way in the background, if any.
 * volume_commit_head does it before it replaces the head; a caller that
 * must send the head PUT right after a check of time (a commit: disk_commit.c,
 * "gc-grace") calls this before that check.  0, or -1 after logging.
 */
int volume_head_keep (struct store *store, struct volume_head *vh);

/* Start writing the kept copy of vh->head in the background, from a
 * thread of its own, unless it was written, is under way, or its window
 * is 0; first wait for a copy of another head still under way (one at a
 * time).  volume_head_keep and volume_head_keep_wait wait for it.  When
 * no thread can be started, nothing is: volume_head_keep writes it.
 */
void volume_head_keep_start (struct store *store, struct volume_head *vh);

/* Wait for the kept copy under way in the background, if any (before vh
 * is freed: a server's close).  0, or -1 when it failed (logged: the
 * copy is written before that head is replaced, by this writer's next
 * commit or by the next writer's first).
 */
int volume_head_keep_wait (struct volume_head *vh);

/* Forget vh's pending PUT (free its bytes). */
void volume_head_clear (struct volume_head *vh);

/* Commit onto disk's head a full map of n entries written as is (no
 * chunk objects: for benchmarks).  *map_len gets the map's size.
 */
int volume_commit_full_map (struct store *store, const char *disk,
                            const struct map_entry *entries, uint64_t n,
                            size_t *map_len);

/* For the volume_*.c files: encode h, to be stored under key, with a new
 * op id into *data (an encrypted head needs its key c; logs and returns
 * -1); a new unique map key of disk at generation.
 */
int volume_encode_head (struct head *h, const struct crypto *c, const char *key,
                        void **data, size_t *len);
void volume_new_map_key (char *key, const char *disk, uint64_t generation);

/* ---- the gc grace record (gc/grace) ---- */

/* Raise the bucket's grace record to at least seconds (rounded up); never
 * lowers it.  A read-write server calls this when it opens a disk, before
 * it uploads anything.
 */
int volume_record_grace (struct store *store, double seconds);

/* The bucket's grace record into *seconds (VOLUME_DEFAULT_GRACE when there
 * is none); *recorded says whether there was one.
 */
int volume_read_grace (struct store *store, uint64_t *seconds, bool *recorded);

/* Set the bucket's grace record to seconds (rounded up), up or down: for
 * s3cow grace, once the servers that used a longer gc-grace= are gone.
 * Raising it is volume_record_grace.  Lowering it (below the record, or
 * below VOLUME_DEFAULT_GRACE when there is none) is refused unless force,
 * and if the record changes meanwhile (a server raised it).  *old and
 * *recorded get the grace before, as volume_read_grace gives them.  0, or
 * -1 after logging.
 */
int volume_set_grace (struct store *store, double seconds, bool force,
                      uint64_t *old, bool *recorded);

/* ---- gc ---- */

struct volume_gc_ops {
  void *opaque;
  /* A progress line (may be NULL). */
  void (*progress) (void *opaque, const char *line);
  /* An object deleted, or (dry_run) that would be (may be NULL). */
  void (*swept) (void *opaque, const char *key, uint64_t size, time_t mtime);
};

struct volume_gc_result {
  size_t roots;          /* disks and snapshots marked from */
  uint64_t kept_heads;   /* kept heads (history) marked from */
  uint64_t kept_deleted; /* kept heads out of their window, deleted */
  size_t maps_in_use, chunks_in_use;
  uint64_t maps_deleted, chunks_deleted, bytes_deleted;
  uint64_t young;  /* unreferenced, but within the grace period */
  unsigned rounds; /* root listings */
  bool sweeping;   /* deleting began: what was deleted was garbage */
};

/* Mark from every head, snapshot and kept head within its disk's history
 * window, delete the kept heads beyond it, sweep unreferenced chunks and
 * maps older than grace seconds (dry_run: report, delete nothing).  A grace
 * shorter than the bucket's grace record is refused unless force.
 */
int volume_gc (struct store *store, double grace, bool force, bool dry_run,
               const struct volume_gc_ops *ops,
               struct volume_gc_result *result);

#endif /* S3COW_VOLUME_H */
