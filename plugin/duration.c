/* s3cow: durations with units (see duration.h). */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int
duration_parse (const char *s, double *seconds)
{
  static const struct {
    const char *name;
    double seconds;
  } units[] = {
    { "", 1 },   { "ms", 0.001 }, { "s", 1 },
    { "m", 60 }, { "h", 3600 },   { "d", 86400 },
  };
  char *end;
  double v;
  size_t i;

  /* A digit first: strtod would take "inf", "nan", "0x10", " 1", "-1". */
  if (s == NULL || !isdigit ((unsigned char)s[0]))
    return -1;
  errno = 0;
  v = strtod (s, &end);
  if (errno != 0 || !isfinite (v) || v < 0)
    return -1;
  for (i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp (end, units[i].name) == 0) {
      *seconds = v * units[i].seconds;
      return isfinite (*seconds) ? 0 : -1;
    }
  return -1;
}
