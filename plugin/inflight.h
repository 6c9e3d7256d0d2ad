/* s3cow: how many requests to keep in flight (read-ahead loads, chunk
 * uploads): a controller fed with the duration and size of each request
 * as it ends.
 *
 * Little's law: moving X bytes/s in requests of S bytes that take L
 * seconds each keeps X * L / S requests in flight.  A server 20 ms away
 * needs ten times the requests in flight of one 2 ms away for the same
 * X.  What X the work wants is known only while the requests keep up:
 * when work waits for a free slot (backlog), it wants more than the
 * slots deliver, so the controller tries more.  A server that has room
 * then delivers proportionally more at the same L; one at its limit
 * (or a client out of CPU) answers more slowly instead, X stays, and
 * more in flight would only queue: the controller goes back.
 *
 * It decides once per epoch: at least INFLIGHT_EPOCH_MIN seconds, and
 * INFLIGHT_EPOCH_LATENCIES mean latencies, and as many requests ended
 * as the target.  With X the bytes/s of the epoch and B its busy time
 * (the sum of its requests' durations, so B / epoch = X * L / S by
 * Little's law: the requests in flight on average):
 *
 *   the last growth did not pay: still    back to the target before it;
 *   a backlog, and X rose by less than    no growth for
 *   half as much as the target (ratio)    INFLIGHT_HOLD_EPOCHS epochs
 *
 *   a backlog (most requests ended with   grow by half (at least one)
 *   work waiting for a slot)
 *
 *   no backlog                            shrink by an eighth (at least
 *                                         one), not below
 *                                         INFLIGHT_HEADROOM * B / epoch
 *
 * always within [min, max].  An epoch in which no request ended for
 * INFLIGHT_IDLE_EPOCHS epochs' time is dropped (its X would measure the
 * pause): a new one starts as the next request ends.
 *
 * Pure and not thread-safe: the caller serializes (the cache calls it
 * under its lock) and passes the time.
 */
#ifndef S3COW_INFLIGHT_H
#define S3COW_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#define INFLIGHT_EPOCH_MIN 0.1     /* seconds */
#define INFLIGHT_EPOCH_LATENCIES 4 /* mean latencies per epoch, at least */
#define INFLIGHT_GAIN_MIN 0.5      /* of the target's growth, relative */
#define INFLIGHT_HOLD_EPOCHS 8
#define INFLIGHT_HEADROOM 1.5
#define INFLIGHT_IDLE_EPOCHS 2

struct inflight {
  unsigned min, max; /* bounds of the target (equal: fixed) */
  unsigned target;   /* requests to keep in flight now */
  double latency;    /* mean duration of a request (moving average of
                      * the last few), seconds; 0: none yet */
  double rate;       /* bytes/s of the last epoch; 0: none yet */
  /* The epoch being measured. */
  bool open;        /* started */
  double start;     /* when it started */
  double last;      /* when its last request ended */
  uint64_t bytes;   /* moved by the requests that ended in it */
  double busy;      /* the sum of their durations */
  unsigned ended;   /* how many */
  unsigned waiting; /* of which ended with work waiting for a slot */
  /* The epoch before. */
  double prev_rate;
  unsigned prev_target;
  bool grew;     /* the target grew at its end */
  unsigned hold; /* epochs left without growth */
};

/* A controller of target min, within [min, max] (max < min: max = min). */
void inflight_init (struct inflight *f, unsigned min, unsigned max);

/* A request of bytes ended at time now (seconds, monotonic) after
 * seconds; backlog: work was waiting for a slot as it ended (all slots
 * busy and more work queued).  True if the target changed.
 */
bool inflight_done (struct inflight *f, double now, double seconds,
                    uint64_t bytes, bool backlog);

#endif /* S3COW_INFLIGHT_H */
