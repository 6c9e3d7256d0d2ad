/* s3cow: why the last open of an export failed (see open_failures.h). */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "open_failures.h"

#define NOTES_MAX 32

struct note {
  char export[200]; /* "" for a free slot */
  char why[512];
  time_t when;
};

static pthread_mutex_t notes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct note notes[NOTES_MAX]; /* guarded by notes_lock */

/* The note of export, or NULL.  notes_lock held. */
static struct note *
find (const char *export)
{
  size_t i;

  for (i = 0; i < NOTES_MAX; i++)
    if (notes[i].export[0] && strcmp (notes[i].export, export) == 0)
      return &notes[i];
  return NULL;
}

void
open_failure_note (const char *export, const char *why)
{
  struct note *n;
  size_t i;

  if (export == NULL || strlen (export) >= sizeof n->export)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&notes_lock);
  n = find (export);
  if (why == NULL || why[0] == '\0') {
    if (n)
      n->export[0] = '\0';
    return;
  }
  if (n == NULL) {
    /* A free slot, else the oldest note. */
    n = &notes[0];
    for (i = 0; i < NOTES_MAX; i++) {
      if (notes[i].export[0] == '\0') {
        n = &notes[i];
        break;
      }
      if (notes[i].when < n->when)
        n = &notes[i];
    }
    snprintf (n->export, sizeof n->export, "%s", export);
  }
  snprintf (n->why, sizeof n->why, "%s", why);
  n->when = time (NULL);
}

char *
open_failure_describe (const char *export)
{
  const struct note *n;
  struct tm tm;
  char *s;

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&notes_lock);
  n = find (export);
  if (n == NULL || gmtime_r (&n->when, &tm) == NULL)
    return NULL;
  if (asprintf (&s, "could not be opened at %02d:%02d:%02d UTC: %s", tm.tm_hour,
                tm.tm_min, tm.tm_sec, n->why)
      == -1)
    return NULL;
  return s;
}
