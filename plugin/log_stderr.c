/* s3cow: log.h on stderr (linked into the s3cow command and unit tests). */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

int s3cow_debug_http;
int s3cow_debug_cache;
int s3cow_debug_commit;
int s3cow_debug_lease;
int s3cow_debug_inflight;

/* Set by the program (argv[0]); prefixes every line. */
const char *s3cow_log_program = "s3cow";

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
  fprintf (stderr, "%s: error: ", s3cow_log_program);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

void
s3cow_log_warning (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "%s: warning: ", s3cow_log_program);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

void
s3cow_log_debug (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "%s: debug: ", s3cow_log_program);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}
