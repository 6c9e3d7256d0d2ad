/* s3cow: how many requests to keep in flight (see inflight.h). */
#include <config.h>

#include <math.h>

#include "inflight.h"

void
inflight_init (struct inflight *f, unsigned min, unsigned max)
{
  *f = (struct inflight){ .min = min, .max = max < min ? min : max };
  f->target = f->min;
}

static void
epoch_begin (struct inflight *f, double start)
{
  f->open = true;
  f->start = f->last = start;
  f->bytes = 0;
  f->busy = 0;
  f->ended = f->waiting = 0;
}

/* The end of an epoch of elapsed seconds: the next target. */
static unsigned
decide (struct inflight *f, double elapsed)
{
  const double rate = f->bytes / elapsed;
  const bool backlog = f->waiting * 2 > f->ended;
  unsigned next = f->target;

  if (f->grew && backlog && f->prev_target > 0
      && rate
             < f->prev_rate
                   * (1
                      + INFLIGHT_GAIN_MIN * ((double)f->target - f->prev_target)
                            / f->prev_target)) {
    /* More in flight did not deliver more: the server or the client is
     * the limit, not the requests in flight.
     */
    next = f->prev_target;
    f->hold = INFLIGHT_HOLD_EPOCHS;
  } else if (backlog && f->hold == 0) {
    next = f->target + (f->target / 2 > 0 ? f->target / 2 : 1);
  } else {
    if (!backlog) {
      /* What the epoch kept in flight (Little), with headroom. */
      double used = ceil (INFLIGHT_HEADROOM * f->busy / elapsed);
      unsigned step = f->target / 8 > 0 ? f->target / 8 : 1;

      if (used < f->target)
        next = f->target - step > used ? f->target - step : (unsigned)used;
    }
    if (f->hold > 0)
      f->hold--;
  }
  if (next > f->max)
    next = f->max;
  if (next < f->min)
    next = f->min;
  f->grew = next > f->target;
  f->prev_rate = rate;
  f->prev_target = f->target;
  f->rate = rate;
  return next;
}

bool
inflight_done (struct inflight *f, double now, double seconds, uint64_t bytes,
               bool backlog)
{
  double epoch, elapsed;
  unsigned next;

  if (!(seconds >= 0)) /* also NaN */
    seconds = 0;
  f->latency
      = f->latency == 0 ? seconds : f->latency + (seconds - f->latency) / 8;
  epoch = fmax (INFLIGHT_EPOCH_MIN, INFLIGHT_EPOCH_LATENCIES * f->latency);
  if (!f->open || now - f->last > INFLIGHT_IDLE_EPOCHS * epoch) {
    /* The first request, or the first after a pause: the epoch starts
     * as it ends (of the requests running before, not all have ended
     * yet: counting them from here would make the first rate too low).
     */
    epoch_begin (f, now);
    f->grew = false;
    return false;
  }
  f->last = now;
  f->bytes += bytes;
  f->busy += seconds;
  f->ended++;
  f->waiting += backlog;
  elapsed = now - f->start;
  if (elapsed < epoch || f->ended < f->target)
    return false;
  next = decide (f, elapsed);
  epoch_begin (f, now);
  if (next == f->target)
    return false;
  f->target = next;
  return true;
}
