/* s3cow: the lease lock: one writer per disk, across any number of servers.
 *
 * The lease is the object disks/DISK/lease (format.h: struct lease_info).
 *
 *   acquire   PUT If-None-Match: *, or, if the object says "released",
 *             PUT If-Match on its etag.  A held lease is taken over (If-Match)
 *             only after this process has seen the same etag unchanged for
 *             the holder's whole duration, on its own monotonic clock: no
 *             clocks are compared across machines.
 *   renew     duration/3 after the start of the last successful PUT (at
 *             once if that is past), PUT If-Match on our etag; from
 *             lease_start on, which the caller runs right after taking it.
 *   valid     until duration*2/3 after the start of the last successful
 *             renewal: a taker waits a full duration after it first saw
 *             that etag, which it cannot have seen before we sent it.  A
 *             renewal that finds (412) that an earlier, failed renewal had
 *             landed with its answer lost counts from the start of that
 *             earlier one, and renews again at once.
 *   release   PUT If-Match a copy that says "released"; never DELETE (RGW
 *             ignores If-Match on DELETE, and could remove a new holder's).
 *
 * The lease only keeps honest servers apart.  What makes a server that
 * lost its lease (paused, partitioned) harmless is the head's
 * compare-and-swap: a new holder that did not find the lease released
 * rewrites the head when it takes the disk, so the old holder's next
 * commit fails ("Fencing" in disk.c).
 */
#ifndef S3COW_LEASE_H
#define S3COW_LEASE_H

#include <stdbool.h>

#include "store.h"

struct lease_config {
  const char *disk;     /* valid disk name */
  const char *instance; /* this process's random id */
  double duration;      /* seconds */
  double wait;          /* seconds to wait for a live holder */
};

enum lease_state {
  LEASE_VALID,   /* writes and commits may go on */
  LEASE_EXPIRED, /* renewals failing: stop for now */
  LEASE_LOST,    /* another server took it: stop for good */
};

struct lease;

/* Take the disk's lease, waiting as the header comment says.  NULL after
 * logging: a live holder (named, with when its lease runs out), or a
 * store failure.
 */
struct lease *lease_acquire (struct store *store,
                             const struct lease_config *config);

/* Start the renewal thread.  0, or -1 after logging. */
int lease_start (struct lease *lease);

enum lease_state lease_state (struct lease *lease);

/* True when lease_acquire took the lease from an object that its last
 * holder had marked released (lease_release), false when there was no
 * object or a stale or unreadable one was taken over.
 */
bool lease_from_released (const struct lease *lease);

/* The duration, seconds. */
double lease_duration (const struct lease *lease);

/* Stop renewing, mark the lease released (if still ours), free it. */
void lease_release (struct lease *lease);

/* Stop renewing and free the lease without releasing it: it expires, and
 * the next holder takes it over as a stale one.
 */
void lease_drop (struct lease *lease);

#endif /* S3COW_LEASE_H */
