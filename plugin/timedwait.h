/* s3cow: timed waits on the monotonic clock.
 *
 * pthread_cond_timedwait measures its deadline on CLOCK_REALTIME unless
 * the condition variable was made otherwise, so a step of the system
 * clock backwards (NTP correcting it, an operator, a restored VM)
 * stretches a timed wait by the whole step: a lease renewal due in 10 s
 * waits an hour, and the lease lapses.  So every condition variable that
 * is waited on with a timeout is made with cond_init_monotonic and waited
 * on with cond_wait_seconds.
 */
#ifndef S3COW_TIMEDWAIT_H
#define S3COW_TIMEDWAIT_H

#include <math.h>
#include <pthread.h>
#include <time.h>

/* Seconds on CLOCK_MONOTONIC: for intervals and deadlines. */
static inline double
monotonic_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Initialise cond so that its timed waits use CLOCK_MONOTONIC.  Returns 0
 * or an errno value, as pthread_cond_init.
 */
static inline int
cond_init_monotonic (pthread_cond_t *cond)
{
  pthread_condattr_t attr;
  int err = pthread_condattr_init (&attr);

  if (err != 0)
    return err;
  err = pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  if (err == 0)
    err = pthread_cond_init (cond, &attr);
  pthread_condattr_destroy (&attr);
  return err;
}

/* Wait on cond (made by cond_init_monotonic), lock held, for at most
 * seconds (or until signalled, or a spurious wake-up).
 */
static inline void
cond_wait_seconds (pthread_cond_t *cond, pthread_mutex_t *lock, double seconds)
{
  struct timespec ts;
  double t = monotonic_now () + (seconds > 0 ? seconds : 0);

  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - floor (t)) * 1e9);
  pthread_cond_timedwait (cond, lock, &ts);
}

#endif /* S3COW_TIMEDWAIT_H */
