/* s3cow test: a taker's wait for a stale lease counts from when it saw the
 * holder's lease object, not from before its own (slow) request.
 *
 * lease.h: a holder's lease is valid until 2/3 of a duration after the
 * start of its last successful renewal; a taker takes the lease over once
 * it has seen the same etag for a whole duration.  If the taker counts
 * from before a request that took long (retries), the holder may have
 * renewed meanwhile, and the taker takes over while the holder still
 * thinks its lease valid: two writers (the head's compare-and-swap then
 * fails the old one's commits, but its writes were accepted meanwhile).
 *
 * On a directory store, behind a wrapper store that holds the taker's
 * first PUT until the holder has renewed after more than 3.5 s, and from
 * then on fails the holder's PUTs (as if it had lost the network):
 *
 *   t0         the taker starts; its first PUT is held
 *   t0 + ~4    the holder renews (valid until ~t0 + 8), then cannot renew
 *   ...        the taker sees that etag and waits a duration (6 s)
 *
 * Counting from t0 the taker took over at ~t0 + 6, while the holder's
 * lease was valid.  The test checks that when the taker gets the lease,
 * the holder's is no longer LEASE_VALID.  No S3 server needed.
 *
 * Second case: a renewal whose answer was lost.  A renewal starting at r
 * lands but fails (its retries ran out: the answer is lost); the next one,
 * at r + 4, gets 412 and adopts the object, which names our instance
 * (put_lease); after that every renewal fails:
 *
 *   r          the renewal lands, the taker sees its etag
 *   r + 4      the next renewal adopts it; it was counted valid until
 *              r + 8 (2/3 of a duration from its own start)
 *   r + 6      the taker, which saw that etag unchanged for a duration,
 *              takes over
 *
 * The holder must count from r (the start of the failed renewal).
 *
 * Third case: a slow acquire.  The PUT that takes the lease is held
 * 3.5 s (more than a third of the duration, less than two): the lease
 * is valid until 4 s after that PUT began, and renewal is due 2 s after
 * it.  Started right after, the renewal thread must renew at once, not
 * a third of a duration later: at 4.8 s the lease is still valid.  Then
 * the lease is released, and taken again: from a released object.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lease.h"
#include "log.h"
#include "store.h"

#define DURATION 6.0

enum role {
  HOLDER, /* first case */
  TAKER,
  LOSER, /* second case: the holder whose answer is lost */
  PLAIN, /* passes every call on */
  SLOW,  /* third case: its first PUT is held 3.5 s */
};

/* A store that passes every call to inner, but PUTs as above. */
struct wrap {
  struct store base;
  struct store *inner;
  enum role role;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* protects: */
static pthread_cond_t renewed = PTHREAD_COND_INITIALIZER;
static bool holder_fails;      /* the holder's PUTs fail */
static double holder_ok_start; /* start of its last successful PUT */
static unsigned taker_puts;    /* PUTs the taker made */
static double t0;              /* the taker started */
static bool lose_next;         /* the loser's next PUT lands, answer lost */
static double lost_landed;     /* when it landed (0: not yet) */
static unsigned after_lost;    /* the loser's PUTs since */
static unsigned slow_puts;     /* PUTs of the SLOW store */

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
w_close (struct store *s)
{
  free (s);
}

static int
w_get (struct store *s, const char *key, uint64_t offset, size_t count,
       bool whole, void *buf, size_t cap, size_t *len, char *etag,
       store_check_fn check, void *check_opaque)
{
  struct store *in = ((struct wrap *)s)->inner;

  return in->ops->get (in, key, offset, count, whole, buf, cap, len, etag,
                       check, check_opaque);
}

static int
w_get_alloc (struct store *s, const char *key, size_t max, void **data,
             size_t *len, char *etag)
{
  struct store *in = ((struct wrap *)s)->inner;

  return in->ops->get_alloc (in, key, max, data, len, etag);
}

static int
w_put (struct store *s, const char *key, const void *data, size_t len,
       const char *sha256_hex, const char *if_match, bool if_absent, char *etag)
{
  struct wrap *w = (struct wrap *)s;
  struct store *in = w->inner;
  double start = now ();
  bool lose;
  int r;

  if (w->role == SLOW) {
    pthread_mutex_lock (&lock);
    if (slow_puts++ == 0)
      usleep (3500 * 1000);
    pthread_mutex_unlock (&lock);
  }
  if (w->role == PLAIN || w->role == SLOW)
    return in->ops->put (in, key, data, len, sha256_hex, if_match, if_absent,
                         etag);
  if (w->role == LOSER) {
    pthread_mutex_lock (&lock);
    /* After the lost one, only the adopting PUT (412) gets through. */
    if (lost_landed > 0 && after_lost++ > 0) {
      pthread_mutex_unlock (&lock);
      s3cow_log_error ("test: the holder's PUT fails");
      return STORE_TRANSIENT;
    }
    lose = lose_next && lost_landed == 0;
    pthread_mutex_unlock (&lock);
    r = in->ops->put (in, key, data, len, sha256_hex, if_match, if_absent,
                      etag);
    if (lose && r == STORE_OK) {
      pthread_mutex_lock (&lock);
      lost_landed = now ();
      pthread_cond_broadcast (&renewed);
      pthread_mutex_unlock (&lock);
      sleep (3); /* its retries, until retry-time ran out */
      s3cow_log_error ("test: the answer to the holder's PUT is lost");
      return STORE_TRANSIENT;
    }
    return r;
  }

  pthread_mutex_lock (&lock);
  if (w->role == HOLDER && holder_fails) {
    pthread_mutex_unlock (&lock);
    s3cow_log_error ("test: the holder's PUT fails");
    return STORE_TRANSIENT;
  }
  if (w->role == TAKER && taker_puts++ == 0) {
    /* Held until the holder renewed after t0 + 3.5 s; then the holder
     * renews no more.
     */
    while (holder_ok_start <= t0 + 3.5)
      pthread_cond_wait (&renewed, &lock);
    holder_fails = true;
  }
  pthread_mutex_unlock (&lock);

  r = in->ops->put (in, key, data, len, sha256_hex, if_match, if_absent, etag);
  if (w->role == HOLDER && r == STORE_OK) {
    pthread_mutex_lock (&lock);
    holder_ok_start = start;
    pthread_cond_broadcast (&renewed);
    pthread_mutex_unlock (&lock);
  }
  return r;
}

static int
w_delete (struct store *s, const char *key)
{
  struct store *in = ((struct wrap *)s)->inner;

  return in->ops->delete (in, key);
}

static int
w_head (struct store *s, const char *key, uint64_t *size, char *etag,
        time_t *mtime)
{
  struct store *in = ((struct wrap *)s)->inner;

  return in->ops->head (in, key, size, etag, mtime);
}

static int
w_list (struct store *s, const char *key_prefix, store_list_fn fn, void *opaque)
{
  struct store *in = ((struct wrap *)s)->inner;

  return in->ops->list (in, key_prefix, fn, opaque);
}

static const struct store_ops wrap_ops = {
  .name = "wrap",
  .close = w_close,
  .get = w_get,
  .get_alloc = w_get_alloc,
  .put = w_put,
  .delete = w_delete,
  .head = w_head,
  .list = w_list,
};

static struct store *
wrap (struct store *inner, enum role role)
{
  struct wrap *w = calloc (1, sizeof *w);

  if (w == NULL) {
    perror ("calloc");
    exit (EXIT_FAILURE);
  }
  w->base.ops = &wrap_ops;
  w->inner = inner;
  w->role = role;
  return &w->base;
}

static const char *
state_name (enum lease_state state)
{
  return state == LEASE_VALID     ? "still valid"
         : state == LEASE_EXPIRED ? "expired"
                                  : "lost";
}

/* The first case (see the top).  Exits after printing why on failure. */
static void
slow_taker (struct store *inner)
{
  struct store *hs, *ts;
  struct lease *holder, *taker;
  enum lease_state state;
  double took;

  hs = wrap (inner, HOLDER);
  ts = wrap (inner, TAKER);

  holder = lease_acquire (
      hs, &(struct lease_config){ .disk = "d",
                                  .instance = "00000000000000aa",
                                  .duration = DURATION });
  if (holder == NULL || lease_start (holder) == -1) {
    fprintf (stderr, "test-lease: FAIL: the holder did not get the lease\n");
    exit (EXIT_FAILURE);
  }

  t0 = now ();
  taker = lease_acquire (ts,
                         &(struct lease_config){ .disk = "d",
                                                 .instance = "00000000000000bb",
                                                 .duration = DURATION,
                                                 .wait = 60 });
  took = now () - t0;
  if (taker == NULL) {
    fprintf (stderr, "test-lease: FAIL: the taker did not get the lease\n");
    exit (EXIT_FAILURE);
  }
  state = lease_state (holder);
  printf ("test-lease: the taker got the lease after %.1f s (the holder's "
          "last renewal began at %.1f s); the holder's lease is %s\n",
          took, holder_ok_start - t0, state_name (state));
  if (state == LEASE_VALID) {
    fprintf (stderr, "test-lease: FAIL: the lease was taken over while the "
                     "holder's was still valid\n");
    exit (EXIT_FAILURE);
  }
  if (took < DURATION) {
    fprintf (stderr,
             "test-lease: FAIL: taken over after %.1f s, less than "
             "the %.0f s duration\n",
             took, DURATION);
    exit (EXIT_FAILURE);
  }

  lease_release (taker);
  lease_release (holder); /* its PUTs fail: logged, as expected */
  store_close (hs);
  store_close (ts);
}

/* The second case (see the top).  Exits after printing why on failure. */
static void
lost_answer (struct store *inner)
{
  struct store *hs = wrap (inner, LOSER), *ts = wrap (inner, PLAIN);
  struct lease *holder, *taker;
  enum lease_state state;
  double landed, took;
  unsigned after;

  holder = lease_acquire (
      hs, &(struct lease_config){ .disk = "e",
                                  .instance = "00000000000000cc",
                                  .duration = DURATION });
  if (holder == NULL || lease_start (holder) == -1) {
    fprintf (stderr, "test-lease: FAIL: the holder did not get the lease\n");
    exit (EXIT_FAILURE);
  }
  pthread_mutex_lock (&lock);
  lose_next = true;
  while (lost_landed == 0)
    pthread_cond_wait (&renewed, &lock);
  landed = lost_landed;
  pthread_mutex_unlock (&lock);

  taker = lease_acquire (ts,
                         &(struct lease_config){ .disk = "e",
                                                 .instance = "00000000000000dd",
                                                 .duration = DURATION,
                                                 .wait = 60 });
  took = now () - landed;
  if (taker == NULL) {
    fprintf (stderr, "test-lease: FAIL: the taker did not get the lease\n");
    exit (EXIT_FAILURE);
  }
  state = lease_state (holder);
  pthread_mutex_lock (&lock);
  after = after_lost;
  pthread_mutex_unlock (&lock);
  printf ("test-lease: a renewal landed with its answer lost; the taker got "
          "the lease %.1f s later; the holder's lease is %s\n",
          took, state_name (state));
  if (after == 0) {
    fprintf (stderr, "test-lease: FAIL: the holder did not renew again "
                     "before the taker took over: the case was not met\n");
    exit (EXIT_FAILURE);
  }
  if (state == LEASE_VALID) {
    fprintf (stderr, "test-lease: FAIL: the lease was taken over while the "
                     "holder's was still valid (it counted from the "
                     "renewal that adopted the lost one)\n");
    exit (EXIT_FAILURE);
  }
  lease_release (taker);
  lease_release (holder); /* its PUTs fail: logged, as expected */
  store_close (hs);
  store_close (ts);
}

/* The third case (see the top).  Exits after printing why on failure. */
static void
slow_acquire (struct store *inner)
{
  struct store *ss = wrap (inner, SLOW);
  struct lease_config config
      = { .disk = "f", .instance = "00000000000000ee", .duration = DURATION };
  struct lease *l;
  enum lease_state state;
  double start = now (), took;

  l = lease_acquire (ss, &config);
  took = now () - start;
  if (l == NULL || lease_start (l) == -1) {
    fprintf (stderr, "test-lease: FAIL: no lease (slow acquire)\n");
    exit (EXIT_FAILURE);
  }
  if (lease_from_released (l)) {
    fprintf (stderr, "test-lease: FAIL: a new lease counted as released\n");
    exit (EXIT_FAILURE);
  }
  if (start + 4.8 > now ())
    usleep ((useconds_t)((start + 4.8 - now ()) * 1e6));
  state = lease_state (l);
  printf ("test-lease: taking the lease took %.1f s; 4.8 s after it began, "
          "the lease is %s\n",
          took, state_name (state));
  if (took < DURATION / 3) {
    fprintf (stderr, "test-lease: FAIL: the case was not met\n");
    exit (EXIT_FAILURE);
  }
  if (state != LEASE_VALID) {
    fprintf (stderr, "test-lease: FAIL: the renewal that was due when the "
                     "lease was taken did not run at once\n");
    exit (EXIT_FAILURE);
  }
  lease_release (l);
  l = lease_acquire (ss, &config);
  if (l == NULL || !lease_from_released (l)) {
    fprintf (stderr, "test-lease: FAIL: a released lease, taken again, did "
                     "not count as released\n");
    exit (EXIT_FAILURE);
  }
  lease_release (l);
  store_close (ss);
}

int
main (void)
{
  char root[] = "/tmp/test-lease-XXXXXX", bucket_dir[64], endpoint[64],
       cmd[128];
  struct store *inner;

  if (mkdtemp (root) == NULL) {
    perror ("mkdtemp");
    return EXIT_FAILURE;
  }
  snprintf (bucket_dir, sizeof bucket_dir, "%s/b", root);
  snprintf (endpoint, sizeof endpoint, "file://%s", root);
  if (mkdir (bucket_dir, 0700) == -1) {
    perror ("mkdir");
    return EXIT_FAILURE;
  }
  inner = store_open (
      &(struct store_config){ .endpoint = endpoint, .bucket = "b" });
  if (inner == NULL) {
    fprintf (stderr, "test-lease: FAIL: store_open %s\n", endpoint);
    return EXIT_FAILURE;
  }
  slow_taker (inner);
  lost_answer (inner);
  slow_acquire (inner);
  store_close (inner);
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system (cmd) != 0)
    fprintf (stderr, "test-lease: could not remove %s\n", root);
  printf ("test-lease: ok\n");
  return EXIT_SUCCESS;
}
