/* s3cow fuzzing: log.h that formats every message (so that a bad format
 * argument is still caught by the sanitizers) and prints nothing, unless
 * S3COW_FUZZ_LOG=1 (to see why an input was refused while debugging).
 *
 * Linked into the fuzz targets instead of log_stderr.c / log_nbdkit.c.
 * The messages are also checked for what must never be in them: a fuzz
 * target can set fuzz_log_forbidden[] to strings (secrets) and the target
 * aborts if a message contains one.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "fuzz.h"

int s3cow_debug_http;
int s3cow_debug_cache;
int s3cow_debug_commit;
int s3cow_debug_lease;
int s3cow_debug_inflight;

const char *fuzz_log_forbidden[2];
unsigned long fuzz_log_errors;

static void
fuzz_vlog (const char *level, const char *fmt, va_list ap)
{
  static int verbose = -1;
  char buf[8192];

  vsnprintf (buf, sizeof buf, fmt, ap);
  if (verbose == -1) {
    const char *v = getenv ("S3COW_FUZZ_LOG");
    verbose = v && v[0] == '1';
  }
  if (verbose)
    fprintf (stderr, "s3cow-fuzz: %s: %s\n", level, buf);
  for (size_t i = 0; i < 2; i++)
    if (fuzz_log_forbidden[i] && fuzz_log_forbidden[i][0]
        && strstr (buf, fuzz_log_forbidden[i])) {
      fprintf (stderr, "s3cow-fuzz: a secret is in a log message: %s\n", buf);
      abort ();
    }
}

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

  fuzz_log_errors++;
  va_start (ap, fmt);
  vsnprintf (last_error, sizeof last_error, fmt, ap);
  va_end (ap);
  va_start (ap, fmt);
  fuzz_vlog ("error", fmt, ap);
  va_end (ap);
}

void
s3cow_log_warning (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fuzz_vlog ("warning", fmt, ap);
  va_end (ap);
}

void
s3cow_log_debug (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fuzz_vlog ("debug", fmt, ap);
  va_end (ap);
}
