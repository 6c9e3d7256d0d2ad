/* A test shim, loaded with LD_PRELOAD: clock_gettime (CLOCK_REALTIME)
 * reads $S3COW_CLOCKSHIFT seconds ahead of the system clock.  A deadline
 * a program computes on CLOCK_REALTIME then lies that much further in the
 * real future: as if the system clock had been stepped back by that much
 * right after the program read it (NTP correcting a clock, an operator).
 * Other clocks are untouched, and so is time (), which signs S3
 * requests, unless $S3COW_TIMESHIFT shifts it: a clock off from the
 * server's, for S3's RequestTimeTooSkewed.
 */
#include <config.h> /* _GNU_SOURCE: RTLD_NEXT */

#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

int
clock_gettime (clockid_t id, struct timespec *ts)
{
  static int (*real) (clockid_t, struct timespec *);
  const char *shift;
  int r;

  if (real == NULL)
    real = (int (*) (clockid_t, struct timespec *))dlsym (RTLD_NEXT,
                                                          "clock_gettime");
  if (real == NULL)
    abort ();
  r = real (id, ts);
  if (r == 0 && id == CLOCK_REALTIME && (shift = getenv ("S3COW_CLOCKSHIFT")))
    ts->tv_sec += atol (shift);
  return r;
}

time_t
time (time_t *t)
{
  struct timespec ts;
  const char *shift;
  static int (*real) (clockid_t, struct timespec *);

  if (real == NULL)
    real = (int (*) (clockid_t, struct timespec *))dlsym (RTLD_NEXT,
                                                          "clock_gettime");
  if (real == NULL)
    abort ();
  if (real (CLOCK_REALTIME, &ts) == -1)
    return (time_t)-1;
  if ((shift = getenv ("S3COW_TIMESHIFT")))
    ts.tv_sec += atol (shift);
  if (t)
    *t = ts.tv_sec;
  return ts.tv_sec;
}
