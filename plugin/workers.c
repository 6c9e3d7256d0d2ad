/* s3cow: the chunk cache's background threads: the upload threads, the
 * read-ahead threads and the disk tier's thread (see cache-internal.h for
 * the cache's files, states and locks).
 *
 * How many uploads and read-ahead loads run at once follows the latency
 * and throughput of the store (inflight.h): each kind has a controller,
 * fed as each of its requests ends, whose target bounds the requests
 * running (a thread past it waits: readahead.c, writeback.c).  Threads
 * are started as the target first needs them, never more than the
 * kind's maximum, and are not stopped when it falls (an idle thread
 * costs nothing but its stack).
 *
 * Locking: cache->lock protects the controllers, the counts of threads
 * started and of requests running; threads are started with it held (a
 * new thread first waits for it).
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>

#include "cache-internal.h"
#include "cleanup.h"
#include "log.h"
#include "timedwait.h"

/* Start threads of one kind up to want (at most max).  0, or the error
 * of pthread_create.
 */
static int
start (struct cache *c, pthread_t *threads, unsigned *started, unsigned want,
       unsigned max, void *(*fn) (void *))
{
  int err;

  if (want > max)
    want = max;
  for (; *started < want; (*started)++)
    if ((err = pthread_create (&threads[*started], NULL, fn, c)) != 0)
      return err;
  return 0;
}

void
workers_grow (struct cache *c)
{
  int err;

  if (c->stop)
    return;
  err = start (c, c->threads, &c->started, c->up_ctl.target, c->nthreads,
               writeback_thread);
  if (err == 0)
    err = start (c, c->ra_threads, &c->ra_started, c->ra_ctl.target,
                 c->ra_nthreads, readahead_thread);
  if (err != 0) {
    errno = err;
    s3cow_debug (inflight,
                 "cannot start a thread (%m): %u uploaders and %u "
                 "read-ahead threads for now",
                 c->started, c->ra_started);
  }
  pthread_cond_broadcast (&c->slot);
}

/* Feed ctl one request, and follow a new target. */
static void
follow (struct cache *c, struct inflight *ctl, const char *what, unsigned peak,
        double seconds, uint64_t bytes, bool backlog)
{
  unsigned was = ctl->target;

  if (!inflight_done (ctl, monotonic_now (), seconds, bytes, backlog))
    return;
  s3cow_debug (inflight,
               "%s: %u in flight (was %u): %.1f ms a chunk, %.1f MiB/s, "
               "at most %u seen",
               what, ctl->target, was, ctl->latency * 1000,
               ctl->rate / (1024 * 1024), peak);
  workers_grow (c);
}

void
workers_readahead_done (struct cache *c, double seconds, uint64_t bytes,
                        bool backlog)
{
  follow (c, &c->ra_ctl, "read-ahead loads", c->ra_peak, seconds, bytes,
          backlog);
}

void
workers_upload_done (struct cache *c, double seconds, uint64_t bytes,
                     bool backlog)
{
  follow (c, &c->up_ctl, "uploads", c->up_peak, seconds, bytes, backlog);
}

int
cache_start (struct cache *c)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  int err;

  err = start (c, c->threads, &c->started, c->up_ctl.target, c->nthreads,
               writeback_thread);
  if (err != 0) {
    errno = err;
    s3cow_log_error ("cannot start upload thread: %m");
    return -1;
  }
  err = start (c, c->ra_threads, &c->ra_started, c->ra_ctl.target,
               c->ra_nthreads, readahead_thread);
  if (err != 0) {
    errno = err;
    s3cow_log_error ("cannot start read-ahead thread: %m");
    return -1;
  }
  if (!c->fill_started) {
    err = pthread_create (&c->fill_thread, NULL, pool_fill_thread, c);
    if (err != 0) {
      errno = err;
      s3cow_log_error ("cannot start the pool's filler thread: %m");
      return -1;
    }
    c->fill_started = true;
  }
  if (c->tier && !c->tier_started) {
    err = pthread_create (&c->tier_thread, NULL, tier_thread, c);
    if (err != 0) {
      errno = err;
      s3cow_log_error ("cannot start the cache-dir thread: %m");
      return -1;
    }
    c->tier_started = true;
  }
  return 0;
}

void
workers_gauges (struct cache *c, struct stats_gauges *g)
{
  g->readahead_inflight = c->ra_ctl.target;
  g->readahead_inflight_peak = c->ra_peak;
  g->readahead_latency = c->ra_ctl.latency;
  g->upload_inflight = c->up_ctl.target;
  g->upload_inflight_peak = c->up_peak;
  g->upload_latency = c->up_ctl.latency;
}
