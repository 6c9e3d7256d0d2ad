/* s3cow: copying a disk's state into another bucket (s3cow copy).
 *
 * Part of the volume layer (volume.h): the copy writes the destination's
 * bucket only through its own conditional PUTs, in this order: the chunks
 * the destination lacks, one full map, then the head or snapshot, last,
 * with If-None-Match: * (or If-Match on the destination's own earlier
 * copy).  A copy that stops before the last PUT leaves no new disk or
 * snapshot, only chunks and a map that gc removes after its grace period,
 * or that the next run of the same copy finds and does not send again.
 *
 * What a copy writes.  The source is a disk's last committed state, one of
 * its snapshots, or its state at a point in time (volume_copy_source).
 * DISK and DISK@TIME are copied to the head of the destination disk (a
 * time's state as a disk: its generation and commit time are the ones it
 * had then); DISK@SNAP to the snapshot SNAP of the destination disk (its
 * head is not written), so that copying a disk's snapshots and then the
 * disk, in any order, rebuilds the disk with its snapshots.  The destination
 * keeps the source's disk id, size, chunk size, generation and times; its
 * parent is empty (the source's parent lives in the source's bucket).
 *
 * The disk id is the origin: a destination disk (or any of its
 * snapshots) with another disk id is refused, and so is a destination
 * head that a server wrote since it was copied (its maps are not the one
 * map a copy writes), or whose lease a server holds.
 *
 * An encrypted source is copied with its key: its head, maps and chunks
 * are checked with it, the chunks written at the destination are sealed
 * under the same key domain (so their ids stay the same), and the
 * destination's map and head are authenticated under their own names
 * there.  The copy is encrypted under the same key, which it needs.
 */
#ifndef S3COW_VOLUME_COPY_H
#define S3COW_VOLUME_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"
#include "format.h"
#include "names.h"
#include "store.h"

/* The state a copy reads. */
struct copy_source {
  char disk[NAME_MAX_LEN + 1];
  char snap[NAME_MAX_LEN + 1];  /* "": the disk's head */
  char label[NAME_REF_MAX_LEN]; /* DISK, DISK@SNAP or DISK@TIME */
  struct head head;
  const struct crypto *crypto; /* an encrypted source's key (else NULL) */
};

/* Read the source ref: "DISK" (its last committed state), "DISK@SNAP" or
 * "DISK@TIME" (history.h), checked against the key c given (NULL: none;
 * an encrypted source needs its key, one that is not encrypted none),
 * which src keeps.  0, or -1 after logging (a bad name, no such disk or
 * snapshot, a time its history cannot serve, the wrong key).
 */
int volume_copy_source (struct store *store, const char *ref,
                        const struct crypto *c, struct copy_source *src);

/* The most worker threads a copy runs. */
#define COPY_MAX_JOBS 64

struct volume_copy_ops {
  void *opaque;
  /* Called from the calling thread about ten times a second while chunks
   * are checked or sent: phase "checking" or "sending" (may be NULL).
   */
  void (*progress) (void *opaque, const char *phase, uint64_t done,
                    uint64_t total, uint64_t bytes);
};

struct volume_copy_result {
  uint64_t chunks;       /* distinct chunks of the source that are not zero */
  uint64_t present;      /* of them, at the destination and not sent */
  uint64_t sent;         /* chunk objects written, resends included */
  uint64_t bytes_sent;   /* their bytes */
  bool listed;           /* the destination's chunks/ was listed (not HEAD) */
  bool up_to_date;       /* the destination already held this state */
  char key[KEY_MAX_LEN]; /* the head or snapshot written */
};

/* Copy src (read from src_store) into disk dst_disk of dst_store, with
 * jobs worker threads (1 to COPY_MAX_JOBS), each holding one chunk in
 * memory.  0, or -1 after logging.
 */
int volume_copy (struct store *src_store, const struct copy_source *src,
                 struct store *dst_store, const char *dst_disk, unsigned jobs,
                 const struct volume_copy_ops *ops,
                 struct volume_copy_result *result);

#endif /* S3COW_VOLUME_COPY_H */
