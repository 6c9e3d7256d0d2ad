/* s3cow: log.h on top of nbdkit's logging (linked into the plugin only). */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "log.h"

/* Exported from the plugin so that nbdkit -D s3cow.NAME=1 sets them. */
NBDKIT_DLL_PUBLIC int s3cow_debug_http;
NBDKIT_DLL_PUBLIC int s3cow_debug_cache;
NBDKIT_DLL_PUBLIC int s3cow_debug_commit;
NBDKIT_DLL_PUBLIC int s3cow_debug_lease;
NBDKIT_DLL_PUBLIC int s3cow_debug_inflight;

/* See log.h: per thread, so that connections opening at once each keep
 * their own.
 */
static __thread char last_error[512];

const char *
s3cow_log_last_error (void)
{
  return last_error;
}

void
s3cow_log_forget_error (void)
{
  last_error[0] = '\0';
}

void
s3cow_log_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (last_error, sizeof last_error, fmt, ap);
  va_end (ap);
  va_start (ap, fmt);
  nbdkit_verror (fmt, ap);
  va_end (ap);
}

/* nbdkit 1.32 has no warning call for plugins: nbdkit_error would read as
 * a failure, nbdkit_debug shows only with -v.  So straight to stderr, in
 * nbdkit's own format (with --log=syslog it is not in the syslog).
 */
void
s3cow_log_warning (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "nbdkit: s3cow: warning: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

void
s3cow_log_debug (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  nbdkit_vdebug (fmt, ap);
  va_end (ap);
}
