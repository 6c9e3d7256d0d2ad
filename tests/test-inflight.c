/* Unit test of the in-flight controller (plugin/inflight.c), on a
 * simulated server: requests of 1 MiB take L seconds each, L growing
 * once the server's capacity is reached, and the work wants D bytes/s.
 * The target must follow Little's law (grow with the latency), stop
 * where more in flight delivers nothing, shrink when the work slows,
 * and stay within its bounds.  No clock, no threads: deterministic.
 */
#include <config.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "inflight.h"

static int failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond);      \
      fprintf (stderr, __VA_ARGS__);                                           \
      fputc ('\n', stderr);                                                    \
      failures++;                                                              \
    }                                                                          \
  } while (0)

#define MiB (1024.0 * 1024)
#define SIZE (UINT64_C (1024) * 1024)

struct server {
  double base;     /* seconds a request takes on an idle server */
  double capacity; /* bytes/s at most; 0: no limit */
  double demand;   /* bytes/s the work wants */
};

struct run {
  double now;
  unsigned lo, hi; /* the target's extremes seen */
};

/* Feed the controller `seconds` of simulated time: each step, one
 * request ends.  With n = target requests in flight the server answers in
 * L = max (base, n * SIZE / capacity) and delivers n * SIZE / L; the work
 * takes X = min (that, demand), and waits for a slot when that < demand.
 */
static void
simulate (struct inflight *f, const struct server *s, double seconds,
          struct run *r)
{
  double end = r->now + seconds;

  while (r->now < end) {
    double n = f->target, lat = s->base, supply, x;

    if (s->capacity > 0 && n * SIZE / s->capacity > lat)
      lat = n * SIZE / s->capacity;
    supply = n * SIZE / lat;
    x = supply < s->demand ? supply : s->demand;
    r->now += SIZE / x;
    inflight_done (f, r->now, lat, SIZE, supply < s->demand * 0.999);
    if (f->target < r->lo)
      r->lo = f->target;
    if (f->target > r->hi)
      r->hi = f->target;
  }
}

/* The target where it settles, from min 4 to max 64. */
static unsigned
settle (double base, double capacity, double demand, struct run *r)
{
  struct inflight f;
  struct server s = { base, capacity, demand };

  inflight_init (&f, 4, 64);
  *r = (struct run){ .lo = 4, .hi = 4 };
  simulate (&f, &s, 60, r);
  return f.target;
}

static void
test_follows_latency (void)
{
  const double demand = 400 * MiB;
  const double lats[] = { 0.002, 0.010, 0.020, 0.050, 0.100 };
  unsigned prev = 0;
  size_t i;

  for (i = 0; i < sizeof lats / sizeof lats[0]; i++) {
    struct run r;
    unsigned t = settle (lats[i], 0, demand, &r);
    double need = demand * lats[i] / SIZE; /* Little */
    unsigned want = need < 4 ? 4 : (unsigned)ceil (need - 1e-6);

    printf ("latency %3.0f ms: target %u (Little: %.1f)\n", lats[i] * 1000, t,
            need);
    CHECK (t >= prev, "latency %g s: target %u, below %u at a shorter one",
           lats[i], t, prev);
    CHECK (t >= want, "latency %g s: target %u, Little's law needs %u", lats[i],
           t, want);
    CHECK (t <= want * 2 || t <= 6,
           "latency %g s: target %u, far above the %u needed", lats[i], t,
           want);
    CHECK (r.hi <= 64 && r.lo >= 4, "out of bounds: %u..%u", r.lo, r.hi);
    prev = t;
  }
}

/* A server at its limit: more in flight only queues there. */
static void
test_saturated_server (void)
{
  struct run r;
  unsigned t = settle (0.020, 100 * MiB, 400 * MiB, &r);

  printf ("saturated at 100 MiB/s: target %u (highest %u)\n", t, r.hi);
  CHECK (r.hi <= 6, "grew to %u against a server at its limit", r.hi);
  CHECK (t <= 6, "settled at %u against a server at its limit", t);
}

static void
test_bounds (void)
{
  struct inflight f;
  struct server slow = { 0.100, 0, 1000 * MiB };
  struct run r = { .lo = 3, .hi = 3 };

  inflight_init (&f, 3, 16);
  simulate (&f, &slow, 30, &r);
  CHECK (f.target == 16, "target %u, expected the maximum 16", f.target);
  CHECK (r.hi <= 16 && r.lo >= 3, "out of bounds: %u..%u", r.lo, r.hi);

  /* min == max: fixed, whatever the server. */
  inflight_init (&f, 4, 4);
  r = (struct run){ .lo = 4, .hi = 4 };
  simulate (&f, &slow, 30, &r);
  CHECK (r.lo == 4 && r.hi == 4, "fixed at 4 but moved: %u..%u", r.lo, r.hi);

  /* max below min: fixed at min. */
  inflight_init (&f, 8, 2);
  CHECK (f.min == 8 && f.max == 8 && f.target == 8, "%u..%u, target %u", f.min,
         f.max, f.target);
}

/* Less work: back down towards what the work keeps in flight. */
static void
test_shrinks (void)
{
  struct inflight f;
  struct server s = { 0.050, 0, 400 * MiB };
  struct run r = { .lo = 4, .hi = 4 };
  unsigned high;

  inflight_init (&f, 4, 64);
  simulate (&f, &s, 30, &r);
  high = f.target;
  CHECK (high >= 20, "target %u at 50 ms and 400 MiB/s", high);
  s.demand = 40 * MiB; /* Little: 2 */
  simulate (&f, &s, 60, &r);
  printf ("demand 400 -> 40 MiB/s at 50 ms: target %u -> %u\n", high, f.target);
  CHECK (f.target == 4, "target %u after the work slowed, expected 4",
         f.target);
}

/* A pause (no request for a minute) is not an epoch of no throughput. */
static void
test_pause (void)
{
  struct inflight f;
  struct server s = { 0.050, 0, 400 * MiB };
  struct run r = { .lo = 4, .hi = 4 };
  unsigned before;

  inflight_init (&f, 4, 64);
  simulate (&f, &s, 30, &r);
  before = f.target;
  r.now += 60;
  r.lo = r.hi = before;
  simulate (&f, &s, 5, &r);
  CHECK (r.lo >= before, "target fell from %u to %u after a pause", before,
         r.lo);
}

int
main (void)
{
  test_follows_latency ();
  test_saturated_server ();
  test_bounds ();
  test_shrinks ();
  test_pause ();
  if (failures) {
    fprintf (stderr, "test-inflight: %d failures\n", failures);
    return 1;
  }
  return 0;
}
