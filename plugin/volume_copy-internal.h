/* s3cow: what the two halves of the copy share (volume_copy.h).
 *
 *   volume_copy.c       the source, the chunks to send, checking and
 *                       sending them jobs at a time, the map and the head
 *   volume_copy_dest.c  the destination's disk: what may be replaced,
 *                       what it names already, and the check after the
 *                       head landed
 */
#ifndef S3COW_VOLUME_COPY_INTERNAL_H
#define S3COW_VOLUME_COPY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunks.h"
#include "format.h"
#include "names.h"
#include "store.h"
#include "volume_copy.h"

/* fresh: never needs sending (named by a root of the destination's disk). */
#define FRESH_NAMED INT64_MAX

/* One distinct chunk of the source. */
struct need {
  uint8_t hash[HASH_LEN];
  uint64_t idx; /* a chunk of the source holding it (for messages) */
  /* Since when the destination holds it (unix seconds; 0: not known to),
   * or FRESH_NAMED.
   */
  int64_t fresh;
};

/* A head or snapshot of the destination's disk that step 2 relied on. */
struct relied {
  char snap[NAME_MAX_LEN + 1]; /* "": the head */
  uint32_t nmaps;
  char (*maps)[KEY_MAX_LEN];
};

enum phase { PHASE_CHECK, PHASE_SEND };

struct copy {
  struct store *src_store, *dst_store;
  const struct copy_source *src;
  const char *dst_disk;
  unsigned jobs;
  const struct volume_copy_ops *ops;
  struct volume_copy_result *res;
  struct chunks *src_chunks, *dst_chunks;

  struct need *needs;
  size_t nneeds;

  /* The phase under way: needs[work[i]] for i < nwork. */
  enum phase phase;
  size_t *work;
  size_t nwork;
  atomic_size_t next, done;
  atomic_uint_fast64_t sent, bytes;
  atomic_bool failed;

  struct relied *relied;
  size_t nrelied;
  uint64_t listed; /* keys listed under chunks/ */
};

/* The need of hash, or NULL: it is not a chunk of the source. */
struct need *copy_find_need (struct copy *c, const uint8_t hash[HASH_LEN]);

/* The destination's label for messages: DISK or DISK@SNAP into label
 * (room for 2 * NAME_MAX_LEN + 2).
 */
void copy_dst_label (const struct copy *c, const char *snap, char *label);

/* Step 1 at the destination: check its disk (refusing another disk, a
 * head written since it was copied, a held lease), and mark FRESH_NAMED
 * the needs its head and snapshots name.  *etag gets the etag of the
 * object the copy replaces ("" if none); *skip_all is set when that
 * object holds the source's state already.  0, or -1 after logging.
 */
int copy_read_destination (struct copy *c, char *etag, bool *skip_all);

/* Step 5: every root relied on (but the one replaced) still names the
 * maps it named.  0, or -1 after logging.
 */
int copy_check_relied (struct copy *c);

void copy_free_relied (struct copy *c);

/* The instance of the map a copy of the state src writes: "copy" and 16
 * hex digits of src's op id, which every write of a head changes, so that
 * the destination's map names the source state it holds (random when src
 * has no op id: written before op ids existed).
 */
#define COPY_INSTANCE_LEN (4 + 2 * 8)
void copy_map_instance (const struct head *src, char *instance);

#endif /* S3COW_VOLUME_COPY_INTERNAL_H */
