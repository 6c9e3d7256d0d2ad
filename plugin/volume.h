/* s3cow: every change to the layout of a bucket, in one place.
 *
 * The s3cow command (and, for its head writes, the plugin) changes the
 * bucket only through these functions: create, fork, snapshot, rm, unlock,
 * the gc grace record, and gc's mark and sweep.  Reading is catalog.h's.
 *
 * Conditional writes.  Every head and snapshot written here carries a new
 * random operation id (format.h: op_id), so that when a conditional PUT
 * answers 412 after a retry, reading the object back tells this writer's
 * own landed attempt (its answer lost on the way) from anyone else's write:
 * only identical bytes, op id included, count as success
 * (volume_put_conditional).  Two `s3cow create X` at once: one succeeds,
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

/* PUT data to key only if absent (if_etag NULL) or only if its etag is
 * if_etag.  A 412 after retries is checked by reading the object back:
 * holding exactly data, it was this call's own write (etag, if not NULL,
 * gets the object's).  data must be unique to the caller (an op id).
 * Returns STORE_OK, STORE_PRECONDITION (someone else's object, or gone),
 * or another store status (logged).
 */
int volume_put_conditional (struct store *store, const char *key,
                            const void *data, size_t len, const char *if_etag,
                            char *etag);

/* create: a new empty disk (generation 0), encrypted under c (NULL: not
 * encrypted).  "already exists" when it does, even for a create of the
 * same size run at the same moment.
 */
int volume_create (struct store *store, const char *disk, uint64_t size,
                   uint32_t chunk_size, const struct crypto *c);

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

/* rm disk@snap. */
int volume_rm_snapshot (struct store *store, const char *disk,
                        const char *snap);

/* rm disk: its snapshots, head and lease.  Without force it is refused
 * when the disk has snapshots or a server holds its lease.
 */
int volume_rm_disk (struct store *store, const char *disk, bool force);

/* unlock disk: delete its lease.  Returns 0 with *what set to "no lease"
 * (nothing done), "held", "released" or "unreadable" (the lease broken),
 * or -1 after logging (a refusal without force included).
 */
int volume_unlock (struct store *store, const char *disk, bool force,
                   const char **what);

/* Commit onto disk's head a full map of n entries written as is (no
 * chunk objects: for benchmarks).  *map_len gets the map's size.
 */
int volume_commit_full_map (struct store *store, const char *disk,
                            const struct map_entry *entries, uint64_t n,
                            size_t *map_len);

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

/* ---- gc ---- */

struct volume_gc_ops {
  void *opaque;
  /* A progress line (may be NULL). */
  void (*progress) (void *opaque, const char *line);
  /* An object deleted, or (dry_run) that would be (may be NULL). */
  void (*swept) (void *opaque, const char *key, uint64_t size, time_t mtime);
};

struct volume_gc_result {
  size_t roots; /* disks and snapshots marked from */
  size_t maps_in_use, chunks_in_use;
  uint64_t maps_deleted, chunks_deleted, bytes_deleted;
  uint64_t young;  /* unreferenced, but within the grace period */
  unsigned rounds; /* root listings */
  bool sweeping;   /* deleting began: what was deleted was garbage */
};

/* Mark from every head and snapshot, sweep unreferenced chunks and maps
 * older than grace seconds (dry_run: report, delete nothing).  A grace
 * shorter than the bucket's grace record is refused unless force.
 */
int volume_gc (struct store *store, double grace, bool force, bool dry_run,
               const struct volume_gc_ops *ops,
               struct volume_gc_result *result);

#endif /* S3COW_VOLUME_H */
