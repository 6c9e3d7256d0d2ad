/* s3cow: the lease lock (see lease.h). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "format.h"
#include "lease.h"
#include "log.h"
#include "names.h"
#include "timedwait.h"

struct lease {
  struct store *store;
  char key[KEY_MAX_LEN];
  struct lease_info info; /* what we write */
  double duration;
  bool from_released; /* taken from an object marked released */

  pthread_mutex_t lock;      /* protects the fields below */
  pthread_cond_t cond;       /* wakes the renewal thread */
  char etag[STORE_ETAG_MAX]; /* of our lease object */
  double renewed_at;         /* start of the last successful PUT */
  double valid_until;        /* renewed_at + 2/3 duration (monotonic) */
  bool lost;
  bool stop;
  bool thread_started;
  pthread_t thread;
};

/* Is the lease object read back ours: our instance (a random nonce of
 * this open, which no other server writes), in the same state?  Decode
 * (which logs a bad object) only what names our instance: the caller
 * reports an unreadable lease once.
 */
struct mine {
  const struct lease *l;
  bool adopted;
};

static bool
is_mine (void *opaque, const void *data, size_t len)
{
  struct mine *m = opaque;
  struct lease_info stored;
  char needle[sizeof m->l->info.instance + 16];

  snprintf (needle, sizeof needle, "\ninstance=%s\n", m->l->info.instance);
  m->adopted = memmem (data, len, needle, strlen (needle)) != NULL
               && lease_decode (m->l->key, data, len, &stored) == 0
               && strcmp (stored.instance, m->l->info.instance) == 0
               && stored.released == m->l->info.released;
  return m->adopted;
}

/* Write our lease with the given precondition (if_etag NULL: If-None-Match).
 * A 412 is read back (store_put_conditional_mine): an object of ours there
 * was our own PUT that had landed (this or an earlier attempt whose answer
 * was lost), so then it is STORE_OK, with *adopted set (the object may be
 * older than this call).  adopted may be NULL.
 */
static int
put_lease (struct lease *l, const char *if_etag, char *etag, bool *adopted)
{
  struct mine mine = { .l = l };
  char buf[LEASE_MAX_SIZE];
  size_t len;
  int r;

  l->info.renewed = time (NULL);
  len = lease_encode (&l->info, buf);
  r = store_put_conditional_mine (l->store, l->key, buf, len, if_etag, etag,
                                  LEASE_MAX_SIZE, is_mine, &mine);
  if (adopted)
    *adopted = r == STORE_OK && mine.adopted;
  return r;
}

static void
describe_holder (const struct lease_info *h, char *out, size_t size)
{
  char taken[32], renewed[32];
  time_t t1 = h->taken, t2 = h->renewed;
  struct tm tm;

  strftime (taken, sizeof taken, "%Y-%m-%d %H:%M:%S UTC", gmtime_r (&t1, &tm));
  strftime (renewed, sizeof renewed, "%H:%M:%S UTC", gmtime_r (&t2, &tm));
  snprintf (out, size,
            "%s pid %" PRIu64 " (instance %s, export %s) since %s;"
            " its %" PRIu32 " s lease was last renewed at %s (holder's clock)"
            " and expires %" PRIu32 " s after its last renewal",
            h->host, h->pid, h->instance, h->export, taken, h->duration,
            renewed, h->duration);
}

struct lease *
lease_acquire (struct store *store, const struct lease_config *config)
{
  struct lease *l = calloc (1, sizeof *l);
  char seen_etag[STORE_ETAG_MAX] = "", etag[STORE_ETAG_MAX];
  char host[LEASE_FIELD_MAX];
  double start = monotonic_now (), seen_at = 0, t;
  bool saw_renewal = false, seen_unreadable = false;
  int r;

  if (l == NULL) {
    s3cow_log_error ("calloc: %m");
    return NULL;
  }
  l->store = store;
  l->duration = config->duration;
  key_lease (l->key, config->disk);
  if (gethostname (l->info.host, sizeof l->info.host - 1) == -1)
    strcpy (l->info.host, "unknown");
  /* lease_decode takes printable ASCII only: so must we write. */
  name_printable (l->info.host, host, sizeof host);
  snprintf (l->info.host, sizeof l->info.host, "%s",
            host[0] ? host : "unknown");
  l->info.pid = getpid ();
  snprintf (l->info.instance, sizeof l->info.instance, "%s", config->instance);
  snprintf (l->info.export, sizeof l->info.export, "%s", config->disk);
  l->info.taken = time (NULL);
  l->info.duration = (uint32_t)ceil (config->duration);
  pthread_mutex_init (&l->lock, NULL);
  r = cond_init_monotonic (&l->cond);
  if (r != 0) {
    errno = r;
    s3cow_log_error ("pthread_cond_init: %m");
    pthread_mutex_destroy (&l->lock);
    free (l);
    return NULL;
  }

  for (;;) {
    CLEANUP_FREE void *data = NULL;
    struct lease_info holder;
    size_t len;
    double hold, got;
    bool unreadable;

    t = monotonic_now ();
    l->from_released = false;
    r = put_lease (l, NULL, etag, NULL);
    if (r == STORE_OK)
      break;
    if (r != STORE_PRECONDITION)
      goto fail;
    r = store_get_alloc (store, l->key, LEASE_MAX_SIZE, &data, &len, etag);
    if (r == STORE_NOT_FOUND)
      continue; /* deleted meanwhile: try again */
    if (r != STORE_OK)
      goto fail;
    /* The etag was seen now, not when this round began: the holder may
     * have started the renewal that wrote it while our requests (and
     * their retries) were under way, and its lease runs 2/3 of a duration
     * from that start (see lease.h).
     */
    got = monotonic_now ();
    /* Unreadable: treat it as held for our own duration.  Decoded (and
     * logged) once per version of the object, not every half second.
     */
    unreadable = strcmp (etag, seen_etag) == 0 && seen_unreadable;
    if (!unreadable) {
      unreadable = lease_decode (l->key, data, len, &holder) == -1;
      if (unreadable)
        s3cow_log_error ("disk %s: its lease object cannot be read: treating "
                         "it as held; it is taken over once unchanged for "
                         "%" PRIu32 " s, or break it with: s3cow unlock %s "
                         "--force",
                         config->disk, l->info.duration, config->disk);
    }
    if (unreadable) {
      memset (&holder, 0, sizeof holder);
      strcpy (holder.host, "unknown (unreadable lease object)");
      holder.duration = l->info.duration;
    }
    if (holder.released) {
      if ((r = put_lease (l, etag, etag, NULL)) == STORE_OK) {
        l->from_released = true;
        break;
      }
      if (r != STORE_PRECONDITION)
        goto fail;
      continue;
    }
    if (strcmp (etag, seen_etag) != 0) {
      saw_renewal = seen_etag[0] != '\0';
      strcpy (seen_etag, etag);
      seen_at = got;
      seen_unreadable = unreadable;
    }
    hold = holder.duration ? holder.duration : l->duration;
    if (got - seen_at >= hold) {
      /* Unchanged for its whole duration on our clock: the holder is gone. */
      if ((r = put_lease (l, etag, etag, NULL)) == STORE_OK) {
        s3cow_log_debug ("disk %s: took over the stale lease of %s pid %" PRIu64
                         " (unchanged for %.0f s)",
                         config->disk, holder.host, holder.pid, got - seen_at);
        break;
      }
      if (r != STORE_PRECONDITION)
        goto fail;
      continue;
    }
    /* A holder that renews, or whose last renewal looks recent, is alive:
     * refuse once lease-wait is over.  (Looking recent by the holder's
     * clock can only make us refuse, never take over.)
     */
    if ((saw_renewal || (double)time (NULL) < holder.renewed + hold + 5)
        && t - start >= config->wait) {
      char who[1024];
      describe_holder (&holder, who, sizeof who);
      s3cow_log_error ("disk %s is locked by %s.  Wait for it with "
                       "lease-wait=SECONDS, open it read-only (nbdkit -r), or "
                       "break the lock with: s3cow unlock %s --force",
                       config->disk, who, config->disk);
      goto fail;
    }
    usleep (500 * 1000);
  }

  strcpy (l->etag, etag);
  l->renewed_at = t;
  l->valid_until = t + l->duration * 2 / 3;
  s3cow_debug (lease, "disk %s: lease taken (%.0f s)%s", config->disk,
               l->duration,
               l->from_released ? ", released by its last holder" : "");
  return l;

fail:
  pthread_mutex_destroy (&l->lock);
  pthread_cond_destroy (&l->cond);
  free (l);
  return NULL;
}

/* Renew duration/3 after the start of the last successful renewal (at
 * once if that is past: taking the lease may have been slow); after a
 * failure, try again every second.
 */
static void *
renew_thread (void *arg)
{
  struct lease *l = arg;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&l->lock);
  double wait = l->renewed_at + l->duration / 3 - monotonic_now ();
  /* Start of the first renewal that failed since the last one that
   * succeeded (0: none).  A failed renewal may have landed with its answer
   * lost: then the next renewal adopts that object (put_lease), and a
   * taker counts from when it landed, which is after this time but may be
   * long before the adopting renewal began.
   */
  double failed_since = 0;

  while (!l->stop && !l->lost) {
    char etag[STORE_ETAG_MAX], old[STORE_ETAG_MAX];
    double t, from;
    bool adopted;
    int r;

    /* On the monotonic clock: a step of the system clock must not hold
     * a renewal back (timedwait.h).
     */
    cond_wait_seconds (&l->cond, &l->lock, wait);
    if (l->stop)
      break;
    strcpy (old, l->etag);
    pthread_mutex_unlock (&l->lock);

    t = monotonic_now ();
    r = put_lease (l, old, etag, &adopted);

    pthread_mutex_lock (&l->lock);
    if (r == STORE_OK) {
      from = adopted && failed_since > 0 ? failed_since : t;
      failed_since = 0;
      strcpy (l->etag, etag);
      l->renewed_at = from;
      l->valid_until = from + l->duration * 2 / 3;
      /* An adopted object may be old: write a new one at once, so that
       * takers count from now again.  Else duration/3 from the start of
       * this one, however long it took.
       */
      wait = from < t ? 0 : t + l->duration / 3 - monotonic_now ();
      s3cow_debug (lease, "%s: renewed%s", l->key,
                   from < t ? " (an earlier renewal had landed)" : "");
    } else if (r == STORE_PRECONDITION || r == STORE_NOT_FOUND) {
      l->lost = true;
      s3cow_log_error ("%s: lease lost: another server took it or it was "
                       "broken by hand",
                       l->key);
    } else {
      wait = 1;
      if (failed_since == 0)
        failed_since = t;
      s3cow_log_error ("%s: lease renewal failed (valid for %.0f s more)",
                       l->key, fmax (0, l->valid_until - monotonic_now ()));
    }
  }
  return NULL;
}

int
lease_start (struct lease *l)
{
  int err = pthread_create (&l->thread, NULL, renew_thread, l);

  if (err != 0) {
    errno = err;
    s3cow_log_error ("%s: cannot start the renewal thread: %m", l->key);
    return -1;
  }
  l->thread_started = true;
  return 0;
}

bool
lease_from_released (const struct lease *l)
{
  return l->from_released;
}

double
lease_duration (const struct lease *l)
{
  return l->duration;
}

enum lease_state
lease_state (struct lease *l)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&l->lock);

  if (l->lost)
    return LEASE_LOST;
  return monotonic_now () < l->valid_until ? LEASE_VALID : LEASE_EXPIRED;
}

/* Stop the renewal thread; if release, mark the lease released (if still
 * ours); free it.
 */
static void
stop_and_free (struct lease *l, bool release)
{
  char etag[STORE_ETAG_MAX];

  if (l == NULL)
    return;
  pthread_mutex_lock (&l->lock);
  l->stop = true;
  pthread_cond_signal (&l->cond);
  pthread_mutex_unlock (&l->lock);
  if (l->thread_started)
    pthread_join (l->thread, NULL);
  if (release && !l->lost) {
    l->info.released = true;
    if (put_lease (l, l->etag, etag, NULL) == STORE_OK)
      s3cow_debug (lease, "%s: released", l->key);
    else
      s3cow_log_error ("%s: could not release the lease: it will expire",
                       l->key);
  }
  pthread_mutex_destroy (&l->lock);
  pthread_cond_destroy (&l->cond);
  free (l);
}

void
lease_release (struct lease *l)
{
  stop_and_free (l, true);
}

void
lease_drop (struct lease *l)
{
  stop_and_free (l, false);
}
