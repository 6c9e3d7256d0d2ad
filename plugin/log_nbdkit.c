/* s3cow: log.h on top of nbdkit's logging (linked into the plugin only). */
#include <config.h>

#include <stdarg.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "log.h"

/* Exported from the plugin so that nbdkit -D s3cow.NAME=1 sets them. */
NBDKIT_DLL_PUBLIC int s3cow_debug_http;
NBDKIT_DLL_PUBLIC int s3cow_debug_cache;
NBDKIT_DLL_PUBLIC int s3cow_debug_commit;
NBDKIT_DLL_PUBLIC int s3cow_debug_lease;

void
s3cow_log_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  nbdkit_verror (fmt, ap);
  va_end (ap);
}

void
s3cow_log_debug (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  nbdkit_vdebug (fmt, ap);
  va_end (ap);
}
