/* s3cow command: parsing of sizes, durations, names and secrets. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "duration.h"
#include "format.h"
#include "log.h"
#include "names.h"

int
parse_size (const char *what, const char *s, uint64_t *out)
{
  static const char suffixes[] = "KMGTPE";
  const char *p;
  char *end;
  uint64_t v;
  unsigned shift = 0;

  if (!isdigit ((unsigned char)s[0]))
    goto bad;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0)
    goto bad;
  if (*end) {
    p = strchr (suffixes, toupper ((unsigned char)*end));
    if (p == NULL || end[1] != '\0')
      goto bad;
    shift = 10 * (unsigned)(p - suffixes + 1);
  }
  if (shift && v > (UINT64_MAX >> shift)) {
    s3cow_log_error ("%s '%s' is too large", what, s);
    return -1;
  }
  *out = v << shift;
  return 0;

bad:
  s3cow_log_error ("%s '%s' is not a size: use bytes or a number with K, M, "
                   "G, T or P (e.g. 20G)",
                   what, s);
  return -1;
}

int
parse_disk_size (const char *s, uint64_t *out)
{
  if (parse_size ("size", s, out) == -1)
    return -1;
  if (*out == 0 || *out % 512 != 0 || *out > DISK_SIZE_MAX) {
    s3cow_log_error ("size %s: must be a positive multiple of 512 bytes, at "
                     "most 1P",
                     s);
    return -1;
  }
  return 0;
}

int
parse_duration (const char *what, const char *s, double *out)
{
  if (duration_parse (s, out) == -1) {
    s3cow_log_error ("%s '%s' is not a duration: use a number with ms, s, "
                     "m, h or d (e.g. 30s, 10m, 2h, 1d)",
                     what, s);
    return -1;
  }
  return 0;
}

int
parse_history (const char *s, uint64_t *seconds)
{
  double v;

  if (parse_duration ("history window", s, &v) == -1)
    return -1;
  if (v > (double)HEAD_HISTORY_MAX) {
    s3cow_log_error ("history window %s is too long (at most 3650d)", s);
    return -1;
  }
  *seconds = (uint64_t)ceil (v);
  return 0;
}

int
parse_seconds (const char *what, const char *s, double *out)
{
  if (duration_parse (s, out) == -1 || *out <= 0) {
    s3cow_log_error ("%s '%s': expected a positive duration: seconds, or a "
                     "number with ms, s, m, h or d (e.g. 500ms, 30s, 2m)",
                     what, s);
    return -1;
  }
  return 0;
}

int
parse_disk_name (const char *s, bool snap_allowed, char *disk, char *snap)
{
  if (name_is_time_ref (s)) {
    s3cow_log_error ("'%s': a point in time (DISK@TIME) is not allowed here "
                     "(give a disk%s)",
                     s, snap_allowed ? " or a snapshot" : "");
    return -1;
  }
  if (!snap_allowed && strchr (s, '@')) {
    s3cow_log_error ("'%s': a snapshot is not allowed here (give a disk)", s);
    return -1;
  }
  return name_parse_export (s, disk, snap);
}

int
parse_snap_name (const char *s)
{
  if (!name_valid (s)) {
    s3cow_log_error ("invalid snapshot name '%s': use 1 to %d of A-Z a-z 0-9 "
                     ". _ - (not first . or -)",
                     s, NAME_MAX_LEN);
    return -1;
  }
  return 0;
}

int
read_secret_file (const char *what, const char *file, char **out)
{
  FILE *fp = strcmp (file, "-") == 0 ? stdin : fopen (file, "r");
  char *line = NULL;
  size_t size = 0;
  ssize_t n;

  if (fp == NULL) {
    s3cow_log_error ("%s file %s: %m", what, file);
    return -1;
  }
  n = getline (&line, &size, fp);
  if (fp != stdin)
    fclose (fp);
  if (n == -1) {
    free (line);
    s3cow_log_error ("%s file %s: empty or unreadable", what, file);
    return -1;
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  if (n == 0) {
    free (line);
    s3cow_log_error ("%s file %s: the first line is empty", what, file);
    return -1;
  }
  *out = line;
  return 0;
}

int
read_encryption_key_file (const char *file, struct crypto **out)
{
  char *line;

  if (read_secret_file ("encryption key", file, &line) == -1)
    return -1;
  *out = crypto_new_from_text (line);
  if (*out == NULL && errno == EINVAL)
    s3cow_log_error ("encryption key file %s: not a key (one line of 64 hex "
                     "characters: 256 bits)",
                     file);
  else if (*out == NULL)
    s3cow_log_error ("encryption key file %s: deriving the keys: %m", file);
  free (line);
  return *out ? 0 : -1;
}
