/* s3cow command: formatting for people (sizes, times, progress) and for
 * programs (JSON strings).
 */
#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "log.h"

const char *
human_size (uint64_t bytes, char *buf)
{
  static const char units[] = "KMGTPE";
  double v;
  int u = 0;

  if (bytes < 1024) {
    snprintf (buf, 16, "%" PRIu64, bytes);
    return buf;
  }
  for (v = bytes / 1024.0; v >= 1024 && u < 5; u++)
    v /= 1024;
  if (v == (double)(uint64_t)v)
    snprintf (buf, 16, "%" PRIu64 "%c", (uint64_t)v, units[u]);
  else
    snprintf (buf, 16, "%.1f%c", v, units[u]);
  return buf;
}

const char *
iso_time (uint64_t t, char *buf)
{
  time_t tt = (time_t)t;
  struct tm tm;

  if (t == 0 || gmtime_r (&tt, &tm) == NULL) {
    strcpy (buf, "-");
    return buf;
  }
  strftime (buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char *
human_window (uint64_t seconds, char *buf)
{
  if (seconds == 0)
    snprintf (buf, 32, "off");
  else if (seconds % 86400 == 0)
    snprintf (buf, 32, "%" PRIu64 "d", seconds / 86400);
  else if (seconds % 3600 == 0)
    snprintf (buf, 32, "%" PRIu64 "h", seconds / 3600);
  else if (seconds % 60 == 0)
    snprintf (buf, 32, "%" PRIu64 "m", seconds / 60);
  else
    snprintf (buf, 32, "%" PRIu64 "s", seconds);
  return buf;
}

void
json_string (FILE *fp, const char *s)
{
  const unsigned char *p;

  fputc ('"', fp);
  for (p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf (fp, "\\%c", *p);
    else if (*p == '\n')
      fputs ("\\n", fp);
    else if (*p < 0x20 || *p == 0x7f)
      fprintf (fp, "\\u%04x", *p);
    else
      fputc (*p, fp);
  }
  fputc ('"', fp);
}

int
print_json_result (enum json_field type, ...)
{
  json_object *obj = json_object_new_object ();
  json_object *v;
  const char *key, *s;
  va_list ap;
  int r = -1;

  va_start (ap, type);
  for (; obj && type != JSON_END; type = va_arg (ap, enum json_field)) {
    key = va_arg (ap, const char *);
    v = NULL;
    switch (type) {
    case JSON_STR:
      s = va_arg (ap, const char *);
      if (s == NULL)
        continue;
      v = json_object_new_string (s);
      break;
    case JSON_U64:
      v = json_object_new_uint64 (va_arg (ap, uint64_t));
      break;
    case JSON_BOOL:
      v = json_object_new_boolean (va_arg (ap, int));
      break;
    default:
      abort ();
    }
    if (v == NULL || json_object_object_add (obj, key, v) != 0) {
      json_object_put (v);
      goto out;
    }
  }
  if (obj == NULL)
    goto out;
  printf ("%s\n", json_object_to_json_string_ext (
                      obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                               | JSON_C_TO_STRING_NOSLASHESCAPE));
  r = 0;
out:
  va_end (ap);
  json_object_put (obj);
  if (r == -1)
    s3cow_log_error ("out of memory writing the JSON output");
  return r;
}

void
json_lease (FILE *fp, const char *text, bool held)
{
  CLEANUP_FREE char *object = NULL;
  struct lease_info li;
  char t1[32], t2[32], t3[32];

  if (text == NULL) {
    fputs ("null", fp);
    return;
  }
  fprintf (fp, "{\"held\": %s, \"text\": ", held ? "true" : "false");
  json_string (fp, text);
  /* The fields, when the lease decodes (times on the holder's clock); the
   * view lost the object's final newline.
   */
  if (asprintf (&object, "%s\n", text) != -1
      && lease_decode ("lease", object, strlen (object), &li) == 0) {
    fprintf (fp, ", \"host\": ");
    json_string (fp, li.host);
    fprintf (fp, ", \"pid\": %" PRIu64 ", \"instance\": ", li.pid);
    json_string (fp, li.instance);
    fprintf (fp, ", \"export\": ");
    json_string (fp, li.export);
    fprintf (fp,
             ", \"taken\": \"%s\", \"renewed\": \"%s\", "
             "\"expires\": \"%s\", \"duration_seconds\": %" PRIu32,
             iso_time (li.taken, t1), iso_time (li.renewed, t2),
             iso_time (li.renewed + li.duration, t3), li.duration);
  }
  fputc ('}', fp);
}

static double
now_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* When the progress line was last drawn (monotonic seconds), and whether
 * one is on the screen.  The command is single-threaded where it reports.
 */
static double progress_last;
static bool progress_shown;

void
progress (const struct cli *cli, const char *fmt, ...)
{
  double t;
  va_list ap;

  if (!cli->progress)
    return;
  t = now_seconds ();
  if (progress_shown && t - progress_last < 0.1)
    return;
  progress_last = t;
  progress_shown = true;
  fputs ("\r\033[K", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fflush (stderr);
}

void
progress_done (const struct cli *cli)
{
  if (!cli->progress || !progress_shown)
    return;
  fputs ("\r\033[K", stderr);
  fflush (stderr);
  progress_shown = false;
}
