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
parse_duration (const char *what, const char *s, double *out)
{
  char *end;
  double v, unit = 1;

  errno = 0;
  v = strtod (s, &end);
  if (errno != 0 || end == s || !isfinite (v) || v < 0 || !isdigit (s[0]))
    goto bad;
  if (*end) {
    if (end[1] != '\0')
      goto bad;
    switch (*end) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      goto bad;
    }
  }
  *out = v * unit;
  return 0;

bad:
  s3cow_log_error ("%s '%s' is not a duration: use a number with s, m, h or "
                   "d (e.g. 30s, 10m, 2h, 1d)",
                   what, s);
  return -1;
}

int
parse_seconds (const char *what, const char *s, double *out)
{
  char *end;

  errno = 0;
  *out = strtod (s, &end);
  if (errno != 0 || end == s || *end || !isfinite (*out) || *out <= 0) {
    s3cow_log_error ("%s '%s': expected a positive number of seconds", what, s);
    return -1;
  }
  return 0;
}

int
parse_disk_name (const char *s, bool snap_allowed, char *disk, char *snap)
{
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
