/* s3cow test: the store interface (store.h) against a real store.
 *
 * The store is the one the environment names, so the same checks run on
 * the directory store and on S3:
 *
 *   S3COW_TEST_STORE_ENDPOINT   file:///DIR or http://HOST:PORT (unset: SKIP)
 *   S3COW_TEST_BUCKET           an existing bucket
 *   S3COW_TEST_ACCESS_KEY, S3COW_TEST_SECRET_KEY, S3COW_TEST_REGION   for S3
 *   S3COW_TEST_DEBUG            set: log every request (-D s3cow.http=1)
 *
 * Modes (argv):
 *
 *   test-store                  the whole suite, under a fresh key prefix:
 *                               put/get/range/head/delete, caps and maxima,
 *                               conditional puts, a 4 MiB round trip, listing
 *                               of more than 1000 keys, 32 threads of CAS
 *                               increments; then deletes what it made
 *   test-store cas-increment N KEY
 *                               N compare-and-swap increments of the counter
 *                               in KEY (created at 0 if missing), for
 *                               concurrent processes; see cas_increment
 *   test-store get KEY          print KEY's content on stdout (a counter:
 *                               "VALUE TOKEN")
 *   test-store wrong-secret     with a wrong secret key, calls must fail with
 *                               STORE_PERMANENT (the shell test checks that
 *                               the message on stderr names the S3 error)
 *   test-store missing-bucket   on a bucket that does not exist, calls must
 *                               fail with STORE_PERMANENT
 *   test-store refused          endpoint http://127.0.0.1:1, retry_time=1:
 *                               STORE_TRANSIENT in well under 20 seconds
 *   test-store pool-wait        one connection, to a local socket that never
 *                               answers: a call waiting for the connection
 *                               held by another still ends within
 *                               retry_time + timeout of its start
 *
 * Each failure prints what was called, the actual and the expected value,
 * and exits 1.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "hash.h"
#include "log.h"
#include "store.h"

extern const char *s3cow_log_program; /* log_stderr.c */

#define BIG_SIZE (4 * 1024 * 1024)
#define LIST_COUNT 1100 /* more than one S3 page (1000) */
#define CAS_THREADS 32
#define CAS_PER_THREAD 8
#define PUT_THREADS 16

static const char *endpoint; /* from the environment */
static const char *bucket;
static bool is_dir_store; /* endpoint is file://... */

static void __attribute__ ((noreturn, format (printf, 2, 3)))
fail_at (int line, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "test-store: FAIL (test-store.c:%d): ", line);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (EXIT_FAILURE);
}
#define fail(fmt, ...) fail_at (__LINE__, fmt, ##__VA_ARGS__)

/* expr must give the store status expected. */
#define CHECK(expr, expected)                                                  \
  do {                                                                         \
    int r_ = (expr);                                                           \
    int e_ = (expected);                                                       \
    if (r_ != e_)                                                              \
      fail ("%s\n  returned %d (%s), expected %d (%s)", #expr, r_,             \
            store_strstatus (r_), e_, store_strstatus (e_));                   \
  } while (0)

#define CHECK_U64(what, actual, expected)                                      \
  do {                                                                         \
    uint64_t a_ = (actual), e_ = (expected);                                   \
    if (a_ != e_)                                                              \
      fail ("%s: got %" PRIu64 ", expected %" PRIu64, (what), a_, e_);         \
  } while (0)

/* len bytes at actual must be the exp_len bytes at expected. */
static void
check_bytes_at (int line, const char *what, const void *actual, size_t len,
                const void *expected, size_t exp_len)
{
  const unsigned char *a = actual, *e = expected;
  size_t i;

  if (len != exp_len)
    fail_at (line, "%s: got %zu bytes, expected %zu", what, len, exp_len);
  for (i = 0; i < len; i++)
    if (a[i] != e[i])
      fail_at (line, "%s: byte %zu is 0x%02x, expected 0x%02x", what, i, a[i],
               e[i]);
}
#define check_bytes(what, a, len, e, exp_len)                                  \
  check_bytes_at (__LINE__, what, a, len, e, exp_len)

static void
check_etag_at (int line, const char *what, const char *etag)
{
  if (etag[0] == '\0' || strchr (etag, '"') || strlen (etag) >= STORE_ETAG_MAX)
    fail_at (line, "%s: etag \"%s\": expected a non-empty etag without quotes",
             what, etag);
}
#define check_etag(what, etag) check_etag_at (__LINE__, what, etag)

#define CHECK_STR(what, actual, expected)                                      \
  do {                                                                         \
    const char *a_ = (actual), *e_ = (expected);                               \
    if (strcmp (a_, e_) != 0)                                                  \
      fail ("%s: got \"%s\", expected \"%s\"", (what), a_, e_);                \
  } while (0)

static double
now (void)
{
  struct timespec ts;

  if (clock_gettime (CLOCK_MONOTONIC, &ts) == -1)
    fail ("clock_gettime: %m");
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
xmalloc (size_t n)
{
  void *p = malloc (n);

  if (p == NULL)
    fail ("malloc %zu: %m", n);
  return p;
}

static char *xasprintf (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));
static char *
xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *s;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (r == -1)
    fail ("vasprintf: %m");
  return s;
}

static void
sha256_hex (const void *data, size_t len, char out[65])
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[HASH_SHA256_LEN];
  unsigned int i;

  hash_sha256 (data, len, md);
  for (i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
}

/* A store on the environment's endpoint and bucket, with this key prefix. */
static struct store *
open_store (const char *the_bucket, const char *prefix, double retry_time)
{
  struct store_config config = { 0 };
  struct store *store;

  config.endpoint = endpoint;
  config.bucket = the_bucket;
  config.prefix = prefix;
  config.region = getenv ("S3COW_TEST_REGION");
  config.access_key = getenv ("S3COW_TEST_ACCESS_KEY");
  config.secret_key = getenv ("S3COW_TEST_SECRET_KEY");
  config.tls_verify = true;
  config.retry_time = retry_time;
  store = store_open (&config);
  if (store == NULL)
    fail ("store_open (endpoint %s, bucket %s, prefix \"%s\") failed", endpoint,
          the_bucket, prefix ? prefix : "");
  return store;
}

/* Run fn (i, arg) for i in [0, n) on nthreads threads. */
struct parallel {
  void (*fn) (size_t i, void *arg);
  void *arg;
  size_t n;
  atomic_size_t next; /* the next i to hand out */
};

static void *
parallel_thread (void *vp)
{
  struct parallel *p = vp;
  size_t i;

  while ((i = atomic_fetch_add (&p->next, 1)) < p->n)
    p->fn (i, p->arg);
  return NULL;
}

static void
run_parallel (unsigned nthreads, size_t n, void (*fn) (size_t, void *),
              void *arg)
{
  struct parallel p = { .fn = fn, .arg = arg, .n = n };
  pthread_t threads[64];
  unsigned t;
  int err;

  if (nthreads > 64)
    nthreads = 64;
  atomic_init (&p.next, 0);
  for (t = 0; t < nthreads; t++) {
    err = pthread_create (&threads[t], NULL, parallel_thread, &p);
    if (err != 0)
      fail ("pthread_create: %s", strerror (err));
  }
  for (t = 0; t < nthreads; t++) {
    err = pthread_join (threads[t], NULL);
    if (err != 0)
      fail ("pthread_join: %s", strerror (err));
  }
}

/* ---------------------------------------------------------------------- */
/* put, get, range get, head, delete, caps */

static void
test_basic (struct store *st)
{
  const char *hello = "hello, world", *hello2 = "HELLO, WORLD!";
  char etag[STORE_ETAG_MAX], etag2[STORE_ETAG_MAX], got_etag[STORE_ETAG_MAX];
  char sha[65], buf[64];
  uint64_t size;
  time_t mtime, t0 = time (NULL);
  size_t len;
  void *data;

  /* put, head, get */
  CHECK (store_put (st, "basic/a", hello, 12, NULL, etag), STORE_OK);
  check_etag ("put etag", etag);
  CHECK (store_head (st, "basic/a", &size, got_etag, &mtime), STORE_OK);
  CHECK_U64 ("head size", size, 12);
  CHECK_STR ("head etag", got_etag, etag);
  if (mtime < t0 - 3600 || mtime > t0 + 3600)
    fail ("head mtime %lld: expected about now (%lld)", (long long)mtime,
          (long long)t0);
  CHECK (store_head (st, "basic/a", NULL, NULL, NULL), STORE_OK);

  CHECK (store_get (st, "basic/a", buf, sizeof buf, &len, got_etag), STORE_OK);
  check_bytes ("get", buf, len, hello, 12);
  CHECK_STR ("get etag", got_etag, etag);
  CHECK (store_get (st, "basic/a", buf, 12, &len, NULL), STORE_OK);
  check_bytes ("get with cap == size", buf, len, hello, 12);

  /* An object larger than the cap is an error, not a truncated read. */
  CHECK (store_get (st, "basic/a", buf, 11, &len, NULL), STORE_PERMANENT);

  /* Ranges: inside, reaching past the end, starting at the end. */
  CHECK (store_get_range (st, "basic/a", 7, 5, buf, &len), STORE_OK);
  check_bytes ("range [7, 12)", buf, len, "world", 5);
  CHECK (store_get_range (st, "basic/a", 0, 12, buf, &len), STORE_OK);
  check_bytes ("range [0, 12)", buf, len, hello, 12);
  CHECK (store_get_range (st, "basic/a", 7, 50, buf, &len), STORE_OK);
  check_bytes ("range [7, 57) past the end", buf, len, "world", 5);
  CHECK (store_get_range (st, "basic/a", 11, 1, buf, &len), STORE_OK);
  check_bytes ("range [11, 12)", buf, len, "d", 1);
  CHECK (store_get_range (st, "basic/a", 12, 10, buf, &len), STORE_OK);
  CHECK_U64 ("range [12, 22) starting at the end: len", len, 0);

  /* get_alloc and its maximum */
  CHECK (store_get_alloc (st, "basic/a", 12, &data, &len, got_etag), STORE_OK);
  check_bytes ("get_alloc max == size", data, len, hello, 12);
  CHECK_STR ("get_alloc etag", got_etag, etag);
  free (data);
  CHECK (store_get_alloc (st, "basic/a", 1 << 20, &data, &len, NULL), STORE_OK);
  check_bytes ("get_alloc", data, len, hello, 12);
  free (data);
  CHECK (store_get_alloc (st, "basic/a", 11, &data, &len, NULL),
         STORE_PERMANENT);

  /* Replacing changes content and etag. */
  CHECK (store_put (st, "basic/a", hello2, 13, NULL, etag2), STORE_OK);
  check_etag ("second put etag", etag2);
  if (strcmp (etag, etag2) == 0)
    fail ("etag did not change with the content: \"%s\" both times", etag);
  CHECK (store_get (st, "basic/a", buf, sizeof buf, &len, got_etag), STORE_OK);
  check_bytes ("get after replace", buf, len, hello2, 13);
  CHECK_STR ("get etag after replace", got_etag, etag2);

  /* A put with the right SHA-256 works; with a wrong one it must fail and
   * leave the object alone.
   */
  sha256_hex (hello, 12, sha);
  CHECK (store_put (st, "basic/sha", hello, 12, sha, NULL), STORE_OK);
  CHECK (store_get (st, "basic/sha", buf, sizeof buf, &len, NULL), STORE_OK);
  check_bytes ("get after put with sha256", buf, len, hello, 12);
  CHECK (store_put (st, "basic/sha", hello2, 13, sha, NULL), STORE_PERMANENT);
  CHECK (store_get (st, "basic/sha", buf, sizeof buf, &len, NULL), STORE_OK);
  check_bytes ("get after put with a wrong sha256", buf, len, hello, 12);

  /* An empty object */
  CHECK (store_put (st, "basic/empty", "", 0, NULL, etag), STORE_OK);
  check_etag ("empty put etag", etag);
  CHECK (store_head (st, "basic/empty", &size, NULL, NULL), STORE_OK);
  CHECK_U64 ("empty head size", size, 0);
  len = 99;
  CHECK (store_get (st, "basic/empty", buf, sizeof buf, &len, NULL), STORE_OK);
  CHECK_U64 ("empty get len", len, 0);
  CHECK (store_get_alloc (st, "basic/empty", 0, &data, &len, NULL), STORE_OK);
  CHECK_U64 ("empty get_alloc len", len, 0);
  free (data);

  /* Missing keys */
  CHECK (store_get (st, "basic/missing", buf, sizeof buf, &len, NULL),
         STORE_NOT_FOUND);
  CHECK (store_get_range (st, "basic/missing", 0, 10, buf, &len),
         STORE_NOT_FOUND);
  CHECK (store_get_alloc (st, "basic/missing", 100, &data, &len, NULL),
         STORE_NOT_FOUND);
  CHECK (store_head (st, "basic/missing", &size, NULL, NULL), STORE_NOT_FOUND);
  /* "basic" is only a prefix of keys, not a key. */
  CHECK (store_get (st, "basic", buf, sizeof buf, &len, NULL), STORE_NOT_FOUND);
  CHECK (store_head (st, "basic", NULL, NULL, NULL), STORE_NOT_FOUND);

  /* Delete, and delete again (S3: not an error). */
  CHECK (store_delete (st, "basic/a"), STORE_OK);
  CHECK (store_get (st, "basic/a", buf, sizeof buf, &len, NULL),
         STORE_NOT_FOUND);
  CHECK (store_head (st, "basic/a", NULL, NULL, NULL), STORE_NOT_FOUND);
  CHECK (store_delete (st, "basic/a"), STORE_OK);
  CHECK (store_delete (st, "basic/never-existed"), STORE_OK);
  CHECK (store_delete (st, "basic"), STORE_OK);
  CHECK (store_head (st, "basic/sha", NULL, NULL, NULL), STORE_OK);
}

/* ---------------------------------------------------------------------- */
/* put-if-absent and put-if-match */

static void
test_conditional (struct store *st)
{
  char e1[STORE_ETAG_MAX], e2[STORE_ETAG_MAX], e[STORE_ETAG_MAX];
  char buf[64];
  size_t len;

  CHECK (store_put_if_absent (st, "cond/x", "one", 3, e1), STORE_OK);
  check_etag ("put_if_absent etag", e1);
  CHECK (store_put_if_absent (st, "cond/x", "two", 3, e), STORE_PRECONDITION);
  CHECK (store_get (st, "cond/x", buf, sizeof buf, &len, e), STORE_OK);
  check_bytes ("after a refused put_if_absent", buf, len, "one", 3);
  CHECK_STR ("etag after a refused put_if_absent", e, e1);

  CHECK (store_put_if_match (st, "cond/x", "two", 3, e1, e2), STORE_OK);
  check_etag ("put_if_match etag", e2);
  if (strcmp (e1, e2) == 0)
    fail ("put_if_match: the etag did not change: \"%s\"", e1);
  CHECK (store_get (st, "cond/x", buf, sizeof buf, &len, e), STORE_OK);
  check_bytes ("after put_if_match", buf, len, "two", 3);
  CHECK_STR ("etag after put_if_match", e, e2);

  /* The old etag no longer matches. */
  CHECK (store_put_if_match (st, "cond/x", "three", 5, e1, NULL),
         STORE_PRECONDITION);
  CHECK (
      store_put_if_match (st, "cond/x", "three", 5, "0123456789abcdef", NULL),
      STORE_PRECONDITION);
  CHECK (store_get (st, "cond/x", buf, sizeof buf, &len, NULL), STORE_OK);
  check_bytes ("after a refused put_if_match", buf, len, "two", 3);

  /* The etag from head works as well as the one from put. */
  CHECK (store_head (st, "cond/x", NULL, e, NULL), STORE_OK);
  CHECK_STR ("head etag", e, e2);
  CHECK (store_put_if_match (st, "cond/x", "four", 4, e, e1), STORE_OK);
  CHECK (store_get (st, "cond/x", buf, sizeof buf, &len, NULL), STORE_OK);
  check_bytes ("after put_if_match with head's etag", buf, len, "four", 4);

  /* No object: NOT_FOUND, and nothing is created. */
  CHECK (store_put_if_match (st, "cond/missing", "x", 1, e1, NULL),
         STORE_NOT_FOUND);
  CHECK (store_head (st, "cond/missing", NULL, NULL, NULL), STORE_NOT_FOUND);

  /* After a delete, put_if_absent works again. */
  CHECK (store_delete (st, "cond/x"), STORE_OK);
  CHECK (store_put_if_absent (st, "cond/x", "five", 4, NULL), STORE_OK);
  CHECK (store_get (st, "cond/x", buf, sizeof buf, &len, NULL), STORE_OK);
  check_bytes ("put_if_absent after delete", buf, len, "five", 4);
}

/* A 412 read back: the writer's own bytes are its success (an attempt
 * that landed and lost its answer), anyone else's are not.
 */
static bool
starts_with_m (void *opaque, const void *body, size_t len)
{
  (void)opaque;
  return len > 0 && ((const char *)body)[0] == 'm';
}

static void
test_conditional_readback (struct store *st)
{
  char e1[STORE_ETAG_MAX], e[STORE_ETAG_MAX];

  CHECK (store_put_conditional (st, "cread/x", "mine-1", 6, NULL, e1),
         STORE_OK);
  /* The same bytes again: as if a retry found its first attempt landed. */
  CHECK (store_put_conditional (st, "cread/x", "mine-1", 6, NULL, e), STORE_OK);
  CHECK_STR ("etag of our own landed write", e, e1);
  /* Other bytes, of the same size or not: someone else's write. */
  CHECK (store_put_conditional (st, "cread/x", "theirs", 6, NULL, e),
         STORE_PRECONDITION);
  CHECK_STR ("etag of the object found", e, e1);
  CHECK (store_put_conditional (st, "cread/x", "x", 1, "0123456789abcdef", e),
         STORE_PRECONDITION);
  CHECK_STR ("etag of the larger object found", e, e1);
  CHECK (store_holds (st, "cread/x", "mine-1", 6, e), STORE_OK);
  CHECK (store_holds (st, "cread/x", "mine-2", 6, e), STORE_PRECONDITION);
  CHECK (store_holds (st, "cread/missing", "mine-1", 6, e), STORE_NOT_FOUND);
  CHECK_STR ("etag of a missing object", e, "");
  /* The caller's own test: an older write of ours counts. */
  CHECK (store_put_conditional_mine (st, "cread/x", "mine-2", 6, NULL, e, 64,
                                     starts_with_m, NULL),
         STORE_OK);
  CHECK_STR ("etag of our older write", e, e1);
  CHECK (store_put_conditional_mine (st, "cread/x", "other", 5, NULL, e, 64,
                                     starts_with_m, NULL),
         STORE_OK);
  CHECK (store_put (st, "cread/x", "theirs", 6, NULL, NULL), STORE_OK);
  CHECK (store_put_conditional_mine (st, "cread/x", "mine-3", 6, NULL, e, 64,
                                     starts_with_m, NULL),
         STORE_PRECONDITION);
  CHECK (store_delete (st, "cread/x"), STORE_OK);
}

/* ---------------------------------------------------------------------- */
/* a 4 MiB object */

static void
test_big (struct store *st)
{
  unsigned char *data = xmalloc (BIG_SIZE), *buf = xmalloc (BIG_SIZE);
  char sha[65], etag[STORE_ETAG_MAX], got_etag[STORE_ETAG_MAX];
  uint64_t x = 0x9e3779b97f4a7c15, size;
  void *alloc;
  size_t i, len;
  double t;

  for (i = 0; i < BIG_SIZE; i++) { /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    data[i] = x >> 32;
  }
  sha256_hex (data, BIG_SIZE, sha);

  t = now ();
  CHECK (store_put (st, "big/4M", data, BIG_SIZE, sha, etag), STORE_OK);
  check_etag ("4 MiB put etag", etag);
  CHECK (store_get (st, "big/4M", buf, BIG_SIZE, &len, got_etag), STORE_OK);
  check_bytes ("4 MiB get", buf, len, data, BIG_SIZE);
  CHECK_STR ("4 MiB get etag", got_etag, etag);
  printf ("test-store: 4 MiB put + get: %.3f s\n", now () - t);

  CHECK (store_head (st, "big/4M", &size, got_etag, NULL), STORE_OK);
  CHECK_U64 ("4 MiB head size", size, BIG_SIZE);
  CHECK_STR ("4 MiB head etag", got_etag, etag);

  CHECK (store_get (st, "big/4M", buf, BIG_SIZE - 1, &len, NULL),
         STORE_PERMANENT);
  CHECK (store_get_range (st, "big/4M", 1234567, 100000, buf, &len), STORE_OK);
  check_bytes ("4 MiB range in the middle", buf, len, data + 1234567, 100000);
  CHECK (store_get_range (st, "big/4M", BIG_SIZE - 1000, 1 << 20, buf, &len),
         STORE_OK);
  check_bytes ("4 MiB range past the end", buf, len, data + BIG_SIZE - 1000,
               1000);

  CHECK (store_get_alloc (st, "big/4M", BIG_SIZE, &alloc, &len, NULL),
         STORE_OK);
  check_bytes ("4 MiB get_alloc", alloc, len, data, BIG_SIZE);
  free (alloc);
  CHECK (store_get_alloc (st, "big/4M", BIG_SIZE - 1, &alloc, &len, NULL),
         STORE_PERMANENT);

  free (data);
  free (buf);
}

/* ---------------------------------------------------------------------- */
/* listing */

/* Keys under "list/" besides list/k0000 ... list/k1099: their byte order is
 * not their order in a directory walk ('-' < '/' < '0' < 'B' < 'a').
 */
static const char *list_extra[] = {
  "list/a-b", "list/a/b", "list/a0", "list/B", "list/z/y/x", "list/a/c",
};
#define LIST_EXTRA (sizeof list_extra / sizeof list_extra[0])
/* Keys that share a beginning with "list/" but must not be listed. */
static const char *list_others[] = {
  "lis", "list-other", "lista/k0001", "lisu/x", "listz",
};
#define LIST_OTHERS (sizeof list_others / sizeof list_others[0])

struct put_job {
  struct store *st;
  char **keys;
};

static void
put_key (size_t i, void *arg)
{
  struct put_job *job = arg;
  const char *key = job->keys[i];

  /* The content is the key: list checks each size. */
  CHECK (store_put (job->st, key, key, strlen (key), NULL, NULL), STORE_OK);
}

static void
delete_key (size_t i, void *arg)
{
  struct put_job *job = arg;

  CHECK (store_delete (job->st, job->keys[i]), STORE_OK);
}

struct collected {
  char **keys;
  size_t n, cap;
  size_t stop_after; /* 0: never stop */
  bool check_sizes;  /* size must be strlen (key) */
  const char *probe; /* NULL, or a key whose entry is kept: */
  bool probe_seen;
  uint64_t probe_size;
  char probe_etag[STORE_ETAG_MAX];
};

static int
collect (void *opaque, const struct store_entry *entry)
{
  struct collected *c = opaque;

  if (entry->etag == NULL)
    fail ("list: key %s has a NULL etag", entry->key);
  check_etag ("list etag", entry->etag);
  if (c->check_sizes)
    CHECK_U64 (entry->key, entry->size, strlen (entry->key));
  if (c->probe && strcmp (entry->key, c->probe) == 0) {
    if (strlen (entry->etag) >= sizeof c->probe_etag)
      fail ("list: etag of %s too long: %s", entry->key, entry->etag);
    c->probe_seen = true;
    c->probe_size = entry->size;
    strcpy (c->probe_etag, entry->etag);
  }
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 1024;
    c->keys = realloc (c->keys, c->cap * sizeof c->keys[0]);
    if (c->keys == NULL)
      fail ("realloc: %m");
  }
  c->keys[c->n] = strdup (entry->key);
  if (c->keys[c->n] == NULL)
    fail ("strdup: %m");
  c->n++;
  if (c->stop_after && c->n == c->stop_after)
    return 42;
  return 0;
}

static void
collected_free (struct collected *c)
{
  size_t i;

  for (i = 0; i < c->n; i++)
    free (c->keys[i]);
  free (c->keys);
  memset (c, 0, sizeof *c);
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The listing must be exactly the n keys in want (sorted), in that order. */
static void
check_listing (const char *what, struct collected *c, char **want, size_t n)
{
  size_t i;

  for (i = 0; i < c->n && i < n; i++)
    if (strcmp (c->keys[i], want[i]) != 0)
      fail ("%s: entry %zu is \"%s\", expected \"%s\" (byte order)", what, i,
            c->keys[i], want[i]);
  if (c->n != n)
    fail ("%s: got %zu keys, expected %zu", what, c->n, n);
}

static void
test_list (struct store *st, struct store *raw, const char *run_prefix)
{
  size_t n = LIST_COUNT + LIST_EXTRA + LIST_OTHERS, nlisted, i, j;
  char **keys = xmalloc (n * sizeof *keys);
  char **want = xmalloc (n * sizeof *keys);
  struct put_job job = { .st = st, .keys = keys };
  struct collected c = { .check_sizes = true, .probe = "list/k0500" };
  char etag[STORE_ETAG_MAX];
  uint64_t size;
  double t;
  int r;

  for (i = 0; i < LIST_COUNT; i++)
    keys[i] = xasprintf ("list/k%04zu", i);
  for (i = 0; i < LIST_EXTRA; i++)
    keys[LIST_COUNT + i] = xasprintf ("%s", list_extra[i]);
  for (i = 0; i < LIST_OTHERS; i++)
    keys[LIST_COUNT + LIST_EXTRA + i] = xasprintf ("%s", list_others[i]);
  nlisted = LIST_COUNT + LIST_EXTRA;

  t = now ();
  run_parallel (PUT_THREADS, n, put_key, &job);
  printf ("test-store: %zu puts on %d threads: %.3f s\n", n, PUT_THREADS,
          now () - t);

  /* Everything under "list/", across pages, in byte order. */
  memcpy (want, keys, nlisted * sizeof *keys);
  qsort (want, nlisted, sizeof *want, compare_strings);
  t = now ();
  CHECK (store_list (st, "list/", collect, &c), STORE_OK);
  printf ("test-store: listing %zu keys: %.3f s\n", c.n, now () - t);
  check_listing ("list \"list/\"", &c, want, nlisted);

  /* The entries agree with head. */
  CHECK (store_head (st, "list/k0500", &size, etag, NULL), STORE_OK);
  if (!c.probe_seen)
    fail ("list/k0500 missing from the listing");
  CHECK_U64 ("list/k0500: size in the listing", c.probe_size, size);
  CHECK_STR ("list/k0500: etag in the listing", c.probe_etag, etag);
  collected_free (&c);

  /* Narrower prefixes */
  c.check_sizes = true;
  CHECK (store_list (st, "list/k10", collect, &c), STORE_OK);
  for (i = 0, j = 0; i < nlisted; i++)
    if (strncmp (want[i], "list/k10", 8) == 0)
      want[j++] = want[i];
  check_listing ("list \"list/k10\"", &c, want, j);
  if (j != 100)
    fail ("list \"list/k10\": %zu keys, expected 100", j);
  collected_free (&c);

  c.check_sizes = true;
  CHECK (store_list (st, "list/a", collect, &c), STORE_OK);
  {
    char *a[] = { "list/a-b", "list/a/b", "list/a/c", "list/a0" };
    check_listing ("list \"list/a\"", &c, a, 4);
  }
  collected_free (&c);

  c.check_sizes = true;
  CHECK (store_list (st, "list/a/", collect, &c), STORE_OK);
  {
    char *a[] = { "list/a/b", "list/a/c" };
    check_listing ("list \"list/a/\"", &c, a, 2);
  }
  collected_free (&c);

  c.check_sizes = true;
  CHECK (store_list (st, "list", collect, &c), STORE_OK);
  memcpy (want, keys, n * sizeof *keys);
  qsort (want, n, sizeof *want, compare_strings);
  for (i = 0, j = 0; i < n; i++)
    if (strncmp (want[i], "list", 4) == 0)
      want[j++] = want[i];
  check_listing ("list \"list\"", &c, want, j);
  collected_free (&c);

  CHECK (store_list (st, "nothing-here/", collect, &c), STORE_OK);
  CHECK_U64 ("list \"nothing-here/\": keys", c.n, 0);
  CHECK (store_list (st, "list/k0000/", collect, &c), STORE_OK);
  CHECK_U64 ("list \"list/k0000/\": keys", c.n, 0);

  /* fn stops the listing: store_list returns its value. */
  c.stop_after = 3;
  r = store_list (st, "list/", collect, &c);
  if (r != 42)
    fail ("list stopped by fn: returned %d, expected 42 (fn's value)", r);
  CHECK_U64 ("list stopped by fn: calls", c.n, 3);
  collected_free (&c);

  /* Through a store without the prefix, keys carry it. */
  {
    char *p = xasprintf ("%slist/k000", run_prefix);
    char *a[10];
    CHECK (store_list (raw, p, collect, &c), STORE_OK);
    for (i = 0; i < 10; i++)
      a[i] = xasprintf ("%slist/k%04zu", run_prefix, i);
    check_listing ("list without the store's prefix", &c, a, 10);
    for (i = 0; i < 10; i++)
      free (a[i]);
    free (p);
    collected_free (&c);
  }

  t = now ();
  run_parallel (PUT_THREADS, n, delete_key, &job);
  printf ("test-store: %zu deletes on %d threads: %.3f s\n", n, PUT_THREADS,
          now () - t);
  CHECK (store_list (st, "lis", collect, &c), STORE_OK);
  CHECK_U64 ("list \"lis\" after deleting everything: keys", c.n, 0);

  for (i = 0; i < n; i++)
    free (keys[i]);
  free (keys);
  free (want);
}

/* ---------------------------------------------------------------------- */
/* compare-and-swap increments */

/* The counter object holds "VALUE TOKEN": the count in decimal, then a
 * token unique to the put that wrote it (thread id, pid, attempt number).
 *
 * Why the token: a conditional put that the S3 store retried after an
 * attempt that may have reached the server (a reset, a 500; RGW answers
 * 500 to conditional PUTs that race on one key) can answer
 * STORE_PRECONDITION although that attempt was applied.  The caller tells
 * by reading the object back: if it holds our token, our put won.  That is
 * what s3cow's own writers do (their writer id is in the head).
 */
struct cas_stats {
  unsigned long retries; /* PRECONDITION: somebody else won */
  unsigned long own;     /* PRECONDITION, but the object was ours */
};

/* Parse the counter's content: "VALUE" or "VALUE TOKEN". */
static unsigned long long
counter_value (const char *key, const char *content)
{
  unsigned long long value;
  char *end;

  value = strtoull (content, &end, 10);
  if (end == content || (*end != '\0' && *end != ' '))
    fail ("counter %s holds \"%s\", expected a decimal number", key, content);
  return value;
}

/* Add n to the counter in key: read it, put VALUE+1 with put_if_match,
 * retry on STORE_PRECONDITION.  A missing counter is created at 0 first.
 * id tells the callers (threads, processes) apart.  Adds to *stats.
 */
static void
cas_increment (struct store *st, const char *key, unsigned n, unsigned id,
               struct cas_stats *stats)
{
  unsigned int seed = id ^ (unsigned)getpid ();
  char old[64], mine[64], now_there[64], etag[STORE_ETAG_MAX];
  unsigned long attempt = 0;
  unsigned i;

  for (i = 0; i < n;) {
    unsigned long long value;
    size_t len;
    int r, w;

    r = store_get (st, key, old, sizeof old - 1, &len, etag);
    if (r == STORE_NOT_FOUND) {
      r = store_put_if_absent (st, key, "0", 1, NULL);
      if (r != STORE_OK && r != STORE_PRECONDITION)
        fail ("put_if_absent %s: returned %d (%s)", key, r,
              store_strstatus (r));
      continue;
    }
    if (r != STORE_OK)
      fail ("get %s: returned %d (%s)", key, r, store_strstatus (r));
    old[len] = '\0';
    value = counter_value (key, old);

    w = snprintf (mine, sizeof mine, "%llu %u.%ld.%lu", value + 1, id,
                  (long)getpid (), attempt++);
    r = store_put_if_match (st, key, mine, w, etag, NULL);
    if (r == STORE_OK) {
      i++;
      continue;
    }
    if (r != STORE_PRECONDITION)
      fail ("put_if_match %s: returned %d (%s), expected %d (%s) or %d (%s)",
            key, r, store_strstatus (r), STORE_OK, store_strstatus (STORE_OK),
            STORE_PRECONDITION, store_strstatus (STORE_PRECONDITION));

    /* Was it ours after all?  (See above.) */
    r = store_get (st, key, now_there, sizeof now_there - 1, &len, NULL);
    if (r != STORE_OK)
      fail ("get %s: returned %d (%s)", key, r, store_strstatus (r));
    now_there[len] = '\0';
    if (strcmp (now_there, mine) == 0) {
      stats->own++;
      i++;
      continue;
    }

    /* Somebody else won: back off for up to 2 ms and read again. */
    {
      struct timespec ts = { 0, (rand_r (&seed) % 2000) * 1000 };
      stats->retries++;
      if (nanosleep (&ts, NULL) == -1 && errno != EINTR)
        fail ("nanosleep: %m");
    }
  }
}

struct cas_job {
  struct store *st;
  const char *key;
  pthread_mutex_t lock;   /* protects stats */
  struct cas_stats stats; /* summed over the threads */
};

static void
cas_thread (size_t i, void *arg)
{
  struct cas_job *job = arg;
  struct cas_stats stats = { 0 };
  int err;

  cas_increment (job->st, job->key, CAS_PER_THREAD, i, &stats);
  err = pthread_mutex_lock (&job->lock);
  if (err != 0)
    fail ("pthread_mutex_lock: %s", strerror (err));
  job->stats.retries += stats.retries;
  job->stats.own += stats.own;
  err = pthread_mutex_unlock (&job->lock);
  if (err != 0)
    fail ("pthread_mutex_unlock: %s", strerror (err));
}

static void
test_cas_threads (struct store *st)
{
  struct cas_job job
      = { .st = st, .key = "cas/counter", .lock = PTHREAD_MUTEX_INITIALIZER };
  char buf[64];
  size_t len;
  double t;

  CHECK (store_put (st, job.key, "0", 1, NULL, NULL), STORE_OK);
  t = now ();
  run_parallel (CAS_THREADS, CAS_THREADS, cas_thread, &job);
  CHECK (store_get (st, job.key, buf, sizeof buf - 1, &len, NULL), STORE_OK);
  buf[len] = '\0';
  printf ("test-store: %d threads x %d CAS increments: %.3f s, %lu retries, "
          "%lu ambiguous PRECONDITIONs that were ours\n",
          CAS_THREADS, CAS_PER_THREAD, now () - t, job.stats.retries,
          job.stats.own);
  if (counter_value (job.key, buf) != CAS_THREADS * CAS_PER_THREAD)
    fail ("CAS counter after %d threads x %d increments: got \"%s\", "
          "expected %d (%s)",
          CAS_THREADS, CAS_PER_THREAD, buf, CAS_THREADS * CAS_PER_THREAD,
          counter_value (job.key, buf) < CAS_THREADS * CAS_PER_THREAD
              ? "lost updates: two puts succeeded with the same etag"
              : "counted twice: a put reported failure but was applied");
}

/* ---------------------------------------------------------------------- */
/* keys the directory store refuses */

static void
test_invalid_keys (struct store *st)
{
  static const char *bad[] = {
    "../escape", "a/../b",     "a//b", "/abs", "a/",
    ".lock",     "a/.tmp-1-1", "./a",  "",
  };
  char buf[8];
  size_t i, len;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    printf ("test-store: invalid key \"%s\" (an error message follows):\n",
            bad[i]);
    if (fflush (stdout) == EOF)
      fail ("fflush: %m");
    CHECK (store_put (st, bad[i], "x", 1, NULL, NULL), STORE_PERMANENT);
    CHECK (store_get (st, bad[i], buf, sizeof buf, &len, NULL),
           STORE_PERMANENT);
  }
}

/* ---------------------------------------------------------------------- */

static void
suite (void)
{
  char *run_prefix
      = xasprintf ("test-store-%ld-%ld/", (long)getpid (), (long)time (NULL));
  struct store *st = open_store (bucket, run_prefix, 30);
  struct store *raw = open_store (bucket, NULL, 30);
  struct collected c = { 0 };
  struct put_job job = { .st = st };
  double t = now ();

  printf ("test-store: endpoint %s, bucket %s, prefix %s\n", endpoint, bucket,
          run_prefix);
  test_basic (st);
  printf ("test-store: ok: put, get, range, head, delete, caps\n");
  test_conditional (st);
  test_conditional_readback (st);
  printf ("test-store: ok: put_if_absent, put_if_match, 412 read back\n");
  test_big (st);
  printf ("test-store: ok: 4 MiB object\n");
  test_list (st, raw, run_prefix);
  printf ("test-store: ok: listing\n");
  test_cas_threads (st);
  printf ("test-store: ok: CAS from %d threads\n", CAS_THREADS);
  if (is_dir_store) {
    test_invalid_keys (st);
    printf ("test-store: ok: invalid keys refused\n");
  }

  /* Delete what we made; the whole bucket lists only real keys. */
  CHECK (store_list (raw, "", collect, &c), STORE_OK);
  for (size_t i = 0; i < c.n; i++)
    if (c.keys[i][0] == '.' || strstr (c.keys[i], "/."))
      fail ("list \"\": the store's own file \"%s\" is listed", c.keys[i]);
  collected_free (&c);
  CHECK (store_list (st, "", collect, &c), STORE_OK);
  job.keys = c.keys;
  run_parallel (PUT_THREADS, c.n, delete_key, &job);
  collected_free (&c);
  CHECK (store_list (st, "", collect, &c), STORE_OK);
  CHECK_U64 ("keys left under the run's prefix", c.n, 0);

  store_close (st);
  store_close (raw);
  free (run_prefix);
  printf ("test-store: PASS (%.3f s)\n", now () - t);
}

/* ---------------------------------------------------------------------- */
/* error modes */

static void
mode_wrong_secret (void)
{
  struct store_config config = { 0 };
  struct store *st;
  char buf[8];
  size_t len;

  if (is_dir_store || getenv ("S3COW_TEST_ACCESS_KEY") == NULL) {
    printf ("test-store: wrong-secret needs an S3 endpoint with keys\n");
    exit (77);
  }
  config.endpoint = endpoint;
  config.bucket = bucket;
  config.region = getenv ("S3COW_TEST_REGION");
  config.access_key = getenv ("S3COW_TEST_ACCESS_KEY");
  config.secret_key = "wrongWRONGwrongWRONGwrongWRONGwrong00000";
  config.tls_verify = true;
  config.retry_time = 10;
  st = store_open (&config);
  if (st == NULL)
    fail ("store_open failed");
  CHECK (store_put (st, "wrong-secret", "x", 1, NULL, NULL), STORE_PERMANENT);
  CHECK (store_get (st, "wrong-secret", buf, sizeof buf, &len, NULL),
         STORE_PERMANENT);
  store_close (st);
  printf ("test-store: ok: wrong secret refused\n");
}

static int
list_nothing (void *opaque, const struct store_entry *entry)
{
  fail ("list on a missing bucket returned key %s", entry->key);
}

static void
mode_missing_bucket (void)
{
  char *name = xasprintf ("s3cow-no-such-bucket-%ld", (long)getpid ());
  struct store *st = open_store (name, NULL, 10);
  char buf[8];
  size_t len;

  /* Not STORE_NOT_FOUND: the caller must learn that the bucket is wrong,
   * not that a key is missing.  (HEAD has no error body in S3, so head is
   * not checked.)
   */
  CHECK (store_get (st, "k", buf, sizeof buf, &len, NULL), STORE_PERMANENT);
  CHECK (store_put (st, "k", "x", 1, NULL, NULL), STORE_PERMANENT);
  CHECK (store_put_if_absent (st, "k", "x", 1, NULL), STORE_PERMANENT);
  CHECK (store_list (st, "", list_nothing, NULL), STORE_PERMANENT);
  store_close (st);
  free (name);
  printf ("test-store: ok: missing bucket refused\n");
}

static void
mode_refused (void)
{
  struct store_config config = { 0 };
  struct store *st;
  char buf[8];
  size_t len;
  double t;

  config.endpoint = "http://127.0.0.1:1";
  config.bucket = "bucket";
  config.access_key = "AKIDEXAMPLE";
  config.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  config.retry_time = 1;
  config.timeout = 5;
  st = store_open (&config);
  if (st == NULL)
    fail ("store_open (http://127.0.0.1:1) failed");
  t = now ();
  CHECK (store_get (st, "k", buf, sizeof buf, &len, NULL), STORE_TRANSIENT);
  t = now () - t;
  printf ("test-store: refused connection: STORE_TRANSIENT after %.1f s\n", t);
  if (t > 20)
    fail ("refused connection with retry_time=1: gave up after %.1f s, "
          "expected well under 20 s",
          t);
  store_close (st);
}

/* A store_get of key "held" on st, for mode_pool_wait. */
static void *
get_held (void *arg)
{
  struct store *st = arg;
  char buf[8];
  size_t len;

  CHECK (store_get (st, "held", buf, sizeof buf, &len, NULL), STORE_TRANSIENT);
  return NULL;
}

static void
mode_pool_wait (void)
{
  const double retry_time = 1, timeout = 3;
  struct store_config config = { 0 };
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t addr_len = sizeof addr;
  char url[64], buf[8];
  struct store *st;
  pthread_t thread;
  size_t len;
  double t;
  int fd, err;

  /* Listening, never accepting: connections are made (the backlog) and
   * requests sent, but no answer ever comes.
   */
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fd = socket (AF_INET, SOCK_STREAM, 0);
  if (fd == -1 || bind (fd, (struct sockaddr *)&addr, sizeof addr) == -1
      || listen (fd, 16) == -1
      || getsockname (fd, (struct sockaddr *)&addr, &addr_len) == -1)
    fail ("a listening socket: %m");
  snprintf (url, sizeof url, "http://127.0.0.1:%d", ntohs (addr.sin_port));
  config.endpoint = url;
  config.bucket = "bucket";
  config.access_key = "AKIDEXAMPLE";
  config.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  config.retry_time = retry_time;
  config.timeout = timeout;
  config.connections = 1;
  st = store_open (&config);
  if (st == NULL)
    fail ("store_open (%s) failed", url);

  /* Another call holds the only connection for a whole timeout. */
  err = pthread_create (&thread, NULL, get_held, st);
  if (err != 0) {
    errno = err;
    fail ("pthread_create: %m");
  }
  usleep (300 * 1000);
  t = now ();
  CHECK (store_get (st, "waits", buf, sizeof buf, &len, NULL), STORE_TRANSIENT);
  t = now () - t;
  printf ("test-store: a call waiting for the only connection: "
          "STORE_TRANSIENT after %.1f s\n",
          t);
  if (t > retry_time + timeout + 0.5)
    fail ("a call waiting for a busy connection lasted %.1f s, more than "
          "retry_time + timeout = %.0f s",
          t, retry_time + timeout);
  err = pthread_join (thread, NULL);
  if (err != 0) {
    errno = err;
    fail ("pthread_join: %m");
  }
  store_close (st);
  close (fd);
}

static void
mode_cas_increment (const char *count, const char *key)
{
  struct store *st = open_store (bucket, NULL, 30);
  struct cas_stats stats = { 0 };
  char *end;
  unsigned long n = strtoul (count, &end, 10);
  double t = now ();

  if (*count == '\0' || *end != '\0')
    fail ("cas-increment: N must be a number, not \"%s\"", count);
  cas_increment (st, key, n, 0, &stats);
  printf ("test-store: pid %ld: %lu CAS increments of %s: %.3f s, %lu "
          "retries, %lu ambiguous PRECONDITIONs that were ours\n",
          (long)getpid (), n, key, now () - t, stats.retries, stats.own);
  store_close (st);
}

static void
mode_get (const char *key)
{
  struct store *st = open_store (bucket, NULL, 30);
  void *data;
  size_t len;

  CHECK (store_get_alloc (st, key, 1 << 20, &data, &len, NULL), STORE_OK);
  if (fwrite (data, 1, len, stdout) != len)
    fail ("fwrite: %m");
  free (data);
  store_close (st);
}

static void __attribute__ ((noreturn)) usage (void)
{
  fprintf (stderr,
           "usage: test-store [cas-increment N KEY | get KEY | wrong-secret "
           "| missing-bucket | refused | pool-wait]\n");
  exit (EXIT_FAILURE);
}

int
main (int argc, char *argv[])
{
  const char *mode = argc > 1 ? argv[1] : "suite";

  s3cow_log_program = "test-store";
  if (getenv ("S3COW_TEST_DEBUG")) {
    s3cow_debug_http = 1;
    s3cow_debug_lease = 1;
  }
  endpoint = getenv ("S3COW_TEST_STORE_ENDPOINT");
  bucket = getenv ("S3COW_TEST_BUCKET");

  if (strcmp (mode, "refused") == 0) {
    if (argc != 2)
      usage ();
    mode_refused ();
  } else if (strcmp (mode, "pool-wait") == 0) {
    if (argc != 2)
      usage ();
    mode_pool_wait ();
  } else {
    if (endpoint == NULL || bucket == NULL) {
      printf ("test-store: SKIP: set S3COW_TEST_STORE_ENDPOINT and "
              "S3COW_TEST_BUCKET (see tests/test-store-dir.sh)\n");
      exit (77);
    }
    is_dir_store = strncmp (endpoint, "file://", 7) == 0;

    if (strcmp (mode, "suite") == 0 && argc <= 2)
      suite ();
    else if (strcmp (mode, "cas-increment") == 0 && argc == 4)
      mode_cas_increment (argv[2], argv[3]);
    else if (strcmp (mode, "get") == 0 && argc == 3)
      mode_get (argv[2]);
    else if (strcmp (mode, "wrong-secret") == 0 && argc == 2)
      mode_wrong_secret ();
    else if (strcmp (mode, "missing-bucket") == 0 && argc == 2)
      mode_missing_bucket ();
    else
      usage ();
  }

  if (fflush (stdout) == EOF)
    fail ("fflush: %m");
  exit (EXIT_SUCCESS);
}
