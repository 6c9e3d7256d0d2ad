/* A test shim, loaded with LD_PRELOAD: clock_gettime (CLOCK_REALTIME)
 * reads $S3COW_CLOCKSHIFT seconds ahead of the system clock.  A deadline
 * a program computes on CLOCK_REALTIME then lies that much further in the
 * real future: as if the system clock had been stepped back by that much
 * right after the program read it (NTP correcting a clock, an operator).
 * Other clocks, and time (), are untouched.
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
