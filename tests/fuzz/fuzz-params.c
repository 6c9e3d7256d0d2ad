/* s3cow fuzzing: the plugin's parameter parsing (params_config and
 * params_config_complete in plugin/params.c), outside nbdkit.
 *
 * plugin/params.c is compiled into this file, so that its static functions
 * and parameters can be reached and reset; the nbdkit functions it calls
 * are replaced by small equivalents below (nbdkit_parse_size as nbdkit
 * 1.32 parses sizes; passwords only in their literal form: no terminal,
 * file or descriptor is read).
 *
 * Input: lines of KEY=VALUE (a line without '=' is a value for bucket=,
 * nbdkit's magic key), given to params_config in order, as nbdkit does
 * (stopping at the first error); then params_config_complete.  Values of
 * secret-key= and session-token= get a marker in front.  Checked
 * besides memory safety: an error is reported (nbdkit_error) for every
 * refusal, a literal secret-key= or session-token= value is never in an
 * error message, and an accepted configuration is within every documented
 * limit (chunk size, cache size for a new disk, size, lease, names,
 * compression and its level), with durations that are finite and at most
 * 1e9 seconds.
 */
#include "params.c"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <stdarg.h>

#include "fuzz.h"

static unsigned long nbdkit_errors;

/* Errors so far: nbdkit_error's and the core's (s3cow_log_error, which is
 * nbdkit_error in the plugin).
 */
static unsigned long
errors_now (void)
{
  return nbdkit_errors + fuzz_log_errors;
}

/* ---- nbdkit's functions, as far as params.c uses them ---- */

static void
check_message (const char *fmt, va_list ap)
{
  char buf[8192];
  size_t i;

  vsnprintf (buf, sizeof buf, fmt, ap);
  for (i = 0; i < 2; i++)
    if (fuzz_log_forbidden[i] && strstr (buf, fuzz_log_forbidden[i])) {
      fprintf (stderr, "s3cow-fuzz: a secret is in an error: %s\n", buf);
      abort ();
    }
}

void
nbdkit_verror (const char *fmt, va_list ap)
{
  nbdkit_errors++;
  check_message (fmt, ap);
}

void
nbdkit_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  nbdkit_verror (fmt, ap);
  va_end (ap);
}

void
nbdkit_vdebug (const char *fmt, va_list ap)
{
  check_message (fmt, ap);
}

void
nbdkit_debug (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  nbdkit_vdebug (fmt, ap);
  va_end (ap);
}

/* As nbdkit 1.32's server/public.c. */
int64_t
nbdkit_parse_size (const char *str)
{
  int64_t size;
  char *end;
  uint64_t scale = 1;

  errno = 0;
  size = strtoimax (str, &end, 10);
  if (str == end) {
    nbdkit_error ("could not parse size string (%s)", str);
    return -1;
  }
  if (size < 0) {
    nbdkit_error ("size cannot be negative (%s)", str);
    return -1;
  }
  if (errno) {
    nbdkit_error ("size (%s) exceeds maximum value", str);
    return -1;
  }
  switch (*end) {
  case '\0':
    end--;
    break;
  case 'e':
  case 'E':
    scale *= 1024; /* fallthrough */
  case 'p':
  case 'P':
    scale *= 1024; /* fallthrough */
  case 't':
  case 'T':
    scale *= 1024; /* fallthrough */
  case 'g':
  case 'G':
    scale *= 1024; /* fallthrough */
  case 'm':
  case 'M':
    scale *= 1024; /* fallthrough */
  case 'k':
  case 'K':
    scale *= 1024; /* fallthrough */
  case 'b':
  case 'B':
    break;
  case 's':
  case 'S':
    scale = 512;
    break;
  default:
    nbdkit_error ("could not parse size: unknown suffix '%s'", end);
    return -1;
  }
  if (end[1]) {
    nbdkit_error ("could not parse size: unknown suffix '%s'", end);
    return -1;
  }
  if (INT64_MAX / scale < (uint64_t)size) {
    nbdkit_error ("overflow computing size (%s)", str);
    return -1;
  }
  return size * scale;
}

int
nbdkit_parse_bool (const char *str)
{
  if (!strcmp (str, "1") || !strcasecmp (str, "true") || !strcasecmp (str, "t")
      || !strcasecmp (str, "yes") || !strcasecmp (str, "y")
      || !strcasecmp (str, "on"))
    return 1;
  if (!strcmp (str, "0") || !strcasecmp (str, "false") || !strcasecmp (str, "f")
      || !strcasecmp (str, "no") || !strcasecmp (str, "n")
      || !strcasecmp (str, "off"))
    return 0;
  nbdkit_error ("could not decipher boolean (%s)", str);
  return -1;
}

int
nbdkit_parse_unsigned (const char *what, const char *str, unsigned *rp)
{
  unsigned long r;
  char *end;
  const char *p = str;

  while (isspace ((unsigned char)*p))
    p++;
  if (*p == '-') {
    nbdkit_error ("%s: negative numbers are not allowed", what);
    return -1;
  }
  errno = 0;
  r = strtoul (str, &end, 0);
  if (errno || end == str || *end || r > UINT_MAX) {
    nbdkit_error ("%s: could not parse number: \"%s\"", what, str);
    return -1;
  }
  *rp = r;
  return 0;
}

int
nbdkit_read_password (const char *value, char **password)
{
  *password = NULL;
  if (value[0] == '-' || value[0] == '+') {
    nbdkit_error ("fuzzing: password forms are not read");
    return -1;
  }
  *password = strdup (value);
  if (*password == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  return 0;
}

/* As nbdkit: relative paths are taken from the current directory. */
char *
nbdkit_absolute_path (const char *path)
{
  char *r;

  if (path[0] == '/')
    r = strdup (path);
  else if (asprintf (&r, "/cwd/%s", path) == -1)
    r = NULL;
  if (r == NULL)
    nbdkit_error ("strdup: %m");
  return r;
}

/* ---- The target ---- */

static void
reset (void)
{
  params_free ();
  params = (struct params)PARAMS_DEFAULTS;
}

static bool
seconds_ok (double s)
{
  return isfinite (s) && s >= 0 && s <= 1e9;
}

/* Literal secrets get this marker in front (the plugin treats them as
 * opaque strings), so that an error message holding one is told from a
 * message whose own text matches the fuzzer's secret.
 */
#define SECRET_MARK "\001s3cow-fuzz-secret:"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *buf = malloc (size + 1), *line, *next;
  unsigned long errors;
  int r = 0;

  FUZZ_ASSERT (buf != NULL);
  memcpy (buf, data, size);
  buf[size] = '\0';
  reset ();
  /* No message may hold a secret (unless the input spells the marker, even
   * in part: a message could add the ':').
   */
  if (memmem (data, size, "s3cow-fuzz", strlen ("s3cow-fuzz")) == NULL)
    fuzz_log_forbidden[0] = SECRET_MARK;

  for (line = buf; line && r == 0; line = next) {
    char *eq, *key, *value;

    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    eq = strchr (line, '=');
    if (eq) {
      *eq = '\0';
      key = line;
      value = eq + 1;
    } else {
      key = "bucket";
      value = line;
    }
    if (strcmp (key, "secret-key") == 0 || strcmp (key, "session-token") == 0) {
      char *m;

      if (asprintf (&m, "%s%s", SECRET_MARK, value) == -1)
        abort ();
      errors = errors_now ();
      r = params_config (key, m);
      free (m);
    } else {
      errors = errors_now ();
      r = params_config (key, value);
    }
    FUZZ_ASSERT (r == 0 || errors_now () > errors);
  }
  if (r == 0) {
    errors = errors_now ();
    r = params_config_complete ();
    FUZZ_ASSERT (r == 0 || errors_now () > errors);
  }
  if (r == 0) {
    FUZZ_ASSERT (params.store_config.bucket != NULL);
    FUZZ_ASSERT (params.chunk_size >= CHUNK_SIZE_MIN
                 && params.chunk_size <= CHUNK_SIZE_MAX);
    FUZZ_ASSERT ((params.chunk_size & (params.chunk_size - 1)) == 0);
    /* (The cache is checked against an existing disk's own chunk size
     * when it is opened.)
     */
    FUZZ_ASSERT (!params.create_size
                 || params.cache_size >= (uint64_t)params.chunk_size * 32);
    FUZZ_ASSERT (params.create_size % 512 == 0
                 && params.create_size <= DISK_SIZE_MAX);
    FUZZ_ASSERT (!params.new_disk_size
                 || params.cache_size >= (uint64_t)params.chunk_size * 32);
    FUZZ_ASSERT (params.new_disk_size % 512 == 0
                 && params.new_disk_size <= DISK_SIZE_MAX);
    /* size= is export='s; new-disk-size= any name's, without export=. */
    FUZZ_ASSERT (!params.create_size || params.export_name);
    FUZZ_ASSERT (!params.new_disk_size || !params.export_name);
    /* Seconds: finite, and small enough that now + value fits a time_t
     * and value * 1000 a long (bug "param-nonfinite": strtod takes nan,
     * inf and 1e300, which then made the lease unusable, the commit thread
     * spin, or a cast overflow).
     */
    FUZZ_ASSERT (params.lease_duration >= 3 && params.lease_duration <= 3600);
    FUZZ_ASSERT (seconds_ok (params.lease_wait)
                 && seconds_ok (params.commit_interval));
    FUZZ_ASSERT (seconds_ok (params.store_config.timeout));
    FUZZ_ASSERT (seconds_ok (params.store_config.retry_time));
    FUZZ_ASSERT (params.store_config.connections <= 256);
    {
      unsigned lo, hi;

      params_upload_threads (&lo, &hi);
      FUZZ_ASSERT (lo >= 1 && lo <= hi && hi <= 256);
      params_readahead_threads (&lo, &hi);
      FUZZ_ASSERT (lo >= 1 && lo <= hi && hi <= 256);
    }
    FUZZ_ASSERT (params.compression.codec <= CHUNK_CODEC_ZSTD);
    FUZZ_ASSERT (params.compression.codec != CHUNK_CODEC_ZSTD
                 || (params.compression.level >= 1
                     && params.compression.level <= CHUNK_ZSTD_MAX_LEVEL));
    if (params.export_name) {
      char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];

      FUZZ_ASSERT (name_parse_export (params.export_name, disk, snap) == 0);
      FUZZ_ASSERT (!(snap[0] && params.create_size));
    }
  }
  fuzz_log_forbidden[0] = fuzz_log_forbidden[1] = NULL;
  reset ();
  free (buf);
  return 0;
}
