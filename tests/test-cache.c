/* s3cow test: the chunk cache (cache.h) on a directory store, without
 * nbdkit: reads and writes in memory, flush and write-back, eviction and
 * loading again, zero chunks, refresh, and the error paths (a chunk
 * missing from the bucket or corrupt there, uploads failing, the
 * write-back buffer full while uploads fail), and the pool's filler.
 * After each step the whole cache is checked against its invariants
 * (cache_check_all), and every state change asserts its own
 * (entry_check): the test is built without NDEBUG.
 *
 * The store is wrapped so that PUTs can be made to fail and are counted.
 * The program is linked with --wrap=malloc and --wrap=calloc
 * (Makefile.am): allocations of a chunk or more are counted, to show that
 * the buffers of loads and uploads come from the cache's budget.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache-internal.h"
#include "cache.h"
#include "chunkmap.h"
#include "chunks.h"
#include "crypto.h"
#include "format.h"
#include "hash.h"
#include "log.h"
#include "names.h"
#include "store.h"
#include "timedwait.h"

#define CS ((uint32_t)CHUNK_SIZE_MIN) /* chunk size */
#define CACHE_CHUNKS 40               /* cache-size, in chunks */
#define NCHUNKS 128                   /* chunks of the disk */
#define FILL_CACHE_CHUNKS 512         /* the filler's test: 32 MiB */

/* A store that passes every call to inner, counting PUTs, and failing
 * them while fail_puts is set.
 */
struct wrap {
  struct store base;
  struct store *inner;
};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* protects: */
static bool fail_puts;
static unsigned nputs;
static struct cache *watched; /* GETs check its memory, and are slow */

/* Allocations of a chunk or more, by any code of the program (atomic). */
static unsigned big_allocs;
void *__real_malloc (size_t size);
void *__real_calloc (size_t n, size_t size);
void *__wrap_malloc (size_t size);
void *__wrap_calloc (size_t n, size_t size);

void *
__wrap_malloc (size_t size)
{
  if (size >= CS)
    __atomic_add_fetch (&big_allocs, 1, __ATOMIC_RELAXED);
  return __real_malloc (size);
}

void *
__wrap_calloc (size_t n, size_t size)
{
  if (size && n >= (CS + size - 1) / size)
    __atomic_add_fetch (&big_allocs, 1, __ATOMIC_RELAXED);
  return __real_calloc (n, size);
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
  struct cache *c;

  pthread_mutex_lock (&lock);
  c = watched;
  pthread_mutex_unlock (&lock);
  if (c && strncmp (key, "chunks/", 7) == 0) {
    /* Loads and uploads overlap: every buffer counted, within the limit. */
    pthread_mutex_lock (&c->lock);
    if (c->used > c->limit) {
      fprintf (stderr,
               "test-cache: FAIL: %" PRIu64 " bytes of buffers, "
               "over the cache's %" PRIu64 "\n",
               c->used, c->limit);
      exit (EXIT_FAILURE);
    }
    pthread_mutex_unlock (&c->lock);
    usleep (1000);
  }
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
  struct store *in = ((struct wrap *)s)->inner;
  bool fail;

  pthread_mutex_lock (&lock);
  fail = fail_puts;
  if (!fail)
    nputs++;
  pthread_mutex_unlock (&lock);
  if (fail) {
    s3cow_log_error ("test: PUT %s fails", key);
    return STORE_TRANSIENT;
  }
  return in->ops->put (in, key, data, len, sha256_hex, if_match, if_absent,
                       etag);
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

static void
set_fail_puts (bool fail)
{
  pthread_mutex_lock (&lock);
  fail_puts = fail;
  pthread_mutex_unlock (&lock);
}

static unsigned
count_puts (void)
{
  unsigned n;

  pthread_mutex_lock (&lock);
  n = nputs;
  pthread_mutex_unlock (&lock);
  return n;
}

static const char *step = "setup";

static void __attribute__ ((format (printf, 1, 2), noreturn))
fail (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "test-cache: FAIL (%s): ", step);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (EXIT_FAILURE);
}

/* The bytes of chunk idx after write number gen (0: never written). */
static void
pattern (uint8_t *buf, uint64_t idx, unsigned gen)
{
  uint32_t i;

  for (i = 0; i < CS; i++)
    buf[i] = gen ? (uint8_t)(idx * 7 + (uint64_t)gen * 13 + i / 512) : 0;
}

static struct store *store;
static struct chunkmap *map;
static uint8_t want[NCHUNKS][CS]; /* what each chunk must read as */

static struct cache *
new_cache (double wait_timeout, uint64_t readahead)
{
  struct cache_config config = {
    .size = (uint64_t)CACHE_CHUNKS * CS,
    .upload_threads = 2,
    .wait_timeout = wait_timeout,
    .readahead = readahead,
    .readahead_threads = readahead ? 2 : 0,
  };
  struct cache *c = cache_new (&config, store);

  if (c == NULL || cache_start (c) == -1)
    fail ("cache_new or cache_start");
  return c;
}

static struct cache_disk *
attach (struct cache *c)
{
  struct cache_disk *cd = cache_attach (c, "d", map, CS, NULL);

  if (cd == NULL)
    fail ("cache_attach");
  return cd;
}

static void
write_chunk (struct cache_disk *cd, uint64_t idx, unsigned gen)
{
  pattern (want[idx], idx, gen);
  if (cache_write (cd, idx, 0, CS, want[idx]) == -1)
    fail ("write of chunk %" PRIu64 ": %m", idx);
}

static void
check_chunk (struct cache_disk *cd, uint64_t idx)
{
  static uint8_t buf[CS];

  memset (buf, 0xa5, CS);
  if (cache_read (cd, idx, 0, CS, buf) == -1)
    fail ("read of chunk %" PRIu64 ": %m", idx);
  if (memcmp (buf, want[idx], CS) != 0)
    fail ("chunk %" PRIu64 " does not read as written", idx);
}

static void
flush (struct cache_disk *cd)
{
  if (cache_flush (cd) == -1)
    fail ("flush: %m");
  if (cache_dirty_chunks (cd) != 0)
    fail ("%" PRIu64 " chunks still dirty after a flush",
          cache_dirty_chunks (cd));
}

/* The first flush after uploads work again: an upload that began before
 * (and fails) fails a flush running meanwhile, as documented; the next
 * one retries it.  At most a few.
 */
static void
flush_after_failures (struct cache_disk *cd)
{
  int i;

  for (i = 0; i < 5 && cache_flush (cd) == -1; i++)
    ;
  if (i == 5)
    fail ("flush: %m");
  if (cache_dirty_chunks (cd) != 0)
    fail ("%" PRIu64 " chunks still dirty after a flush",
          cache_dirty_chunks (cd));
}

/* The chunk's address in the map is the hash of what it must hold. */
static void
check_mapped (uint64_t idx)
{
  uint8_t got[HASH_LEN], sum[HASH_LEN];
  bool zero = true;
  uint32_t i;

  for (i = 0; i < CS && zero; i++)
    zero = want[idx][i] == 0;
  chunkmap_get (map, idx, got);
  if (zero) {
    if (!hash_is_zero (got))
      fail ("chunk %" PRIu64 " of zeros has an address", idx);
    return;
  }
  hash_sha256 (want[idx], CS, sum);
  if (memcmp (got, sum, HASH_LEN) != 0)
    fail ("chunk %" PRIu64 ": the map has the wrong address", idx);
}

/* Writes and reads in memory, partial writes, zeroing. */
static void
test_memory (struct cache *c, struct cache_disk *cd)
{
  uint8_t buf[100];
  uint64_t i;

  step = "memory";
  for (i = 0; i < 4; i++)
    write_chunk (cd, i, 1);
  /* A partial write over a chunk in memory. */
  memset (buf, 0x5a, sizeof buf);
  if (cache_write (cd, 1, 1000, sizeof buf, buf) == -1)
    fail ("partial write: %m");
  memcpy (want[1] + 1000, buf, sizeof buf);
  /* Zeroing part of one, all of another (buf NULL). */
  if (cache_write (cd, 2, 10, 20, NULL) == -1
      || cache_write (cd, 3, 0, CS, NULL) == -1)
    fail ("zero: %m");
  memset (want[2] + 10, 0, 20);
  memset (want[3], 0, CS);
  for (i = 0; i < 5; i++)
    check_chunk (cd, i);
  if (!cache_is_zero (cd, 3) || cache_is_zero (cd, 2) || !cache_is_zero (cd, 4))
    fail ("cache_is_zero");
  if (!cache_is_local (cd, 1) || !cache_is_local (cd, 4))
    fail ("cache_is_local");
  /* Chunks written whole may be uploaded already. */
  if (cache_dirty_chunks (cd) > 4)
    fail ("%" PRIu64 " dirty chunks, not 4 at most", cache_dirty_chunks (cd));
  cache_check_all (c);
}

/* A flush uploads what was written, and records the addresses. */
static void
test_flush (struct cache *c, struct cache_disk *cd)
{
  unsigned before;
  uint64_t i;

  step = "flush";
  flush (cd);
  for (i = 0; i < 5; i++)
    check_mapped (i);
  /* Chunks 0, 1 and 2 are in the store; 3 is zeros, 4 never written. */
  for (i = 0; i < 3; i++) {
    uint8_t hash[HASH_LEN];
    char key[KEY_MAX_LEN];
    uint64_t size;

    chunkmap_get (map, i, hash);
    key_chunk (key, hash);
    if (store_head (store, key, &size, NULL, NULL) != STORE_OK || size != CS)
      fail ("chunk %" PRIu64 " is not in the store", i);
  }
  /* Writing the same bytes again uploads nothing. */
  before = count_puts ();
  write_chunk (cd, 0, 1);
  flush (cd);
  if (count_puts () != before)
    fail ("an unchanged chunk was uploaded again");
  cache_check_all (c);
}

/* More chunks than the cache holds: the clean ones are evicted and
 * loaded again from the store, checked.
 */
static void
test_evict (struct cache *c, struct cache_disk *cd)
{
  uint64_t i;

  step = "evict";
  for (i = 0; i < NCHUNKS; i++) {
    write_chunk (cd, i, 2);
    if (i % 8 == 7)
      flush (cd);
  }
  flush (cd);
  cache_check_all (c);
  for (i = 0; i < NCHUNKS; i++) {
    check_chunk (cd, i);
    check_mapped (i);
  }
  cache_check_all (c);
  /* Partial writes of chunks no longer in memory load them first. */
  for (i = 0; i < 8; i++) {
    uint8_t b = 0x77;
    if (cache_write (cd, i, CS / 2, 1, &b) == -1)
      fail ("partial write of chunk %" PRIu64 ": %m", i);
    want[i][CS / 2] = b;
  }
  flush (cd);
  for (i = 0; i < NCHUNKS; i++)
    check_chunk (cd, i);
  cache_check_all (c);
}

/* A chunk missing from the bucket or corrupt there: EIO, never wrong data.
 * Run on a cache that holds none of the disk's chunks.
 */
static void
test_bad_chunks (struct cache *c, struct cache_disk *cd)
{
  uint8_t hash[HASH_LEN], buf[CS];
  char key[KEY_MAX_LEN];

  step = "missing chunk";
  chunkmap_get (map, 10, hash);
  key_chunk (key, hash);
  if (store_delete (store, key) != STORE_OK)
    fail ("delete %s", key);
  errno = 0;
  if (cache_read (cd, 10, 0, 512, buf) != -1 || errno != EIO)
    fail ("reading a missing chunk: not EIO (%m)");
  cache_check_all (c);

  step = "corrupt chunk";
  chunkmap_get (map, 11, hash);
  key_chunk (key, hash);
  memcpy (buf, want[11], CS);
  buf[5] ^= 1;
  if (store_put (store, key, buf, CS, NULL, NULL) != STORE_OK)
    fail ("put %s", key);
  errno = 0;
  if (cache_read (cd, 11, 0, CS, buf) != -1 || errno != EIO)
    fail ("reading a corrupt chunk: not EIO (%m)");
  /* A partial write needs the chunk too: it fails the same way. */
  errno = 0;
  if (cache_write (cd, 11, 0, 1, buf) != -1 || errno != EIO)
    fail ("a partial write of a corrupt chunk: not EIO (%m)");
  cache_check_all (c);
  /* A whole write does not read it, and repairs it. */
  write_chunk (cd, 11, 3);
  write_chunk (cd, 10, 3);
  flush (cd);
  check_chunk (cd, 10);
  check_chunk (cd, 11);
  cache_check_all (c);
}

/* Uploads that fail: the flush fails, the chunks stay dirty and in
 * memory, and the next flush, once uploads work, succeeds.
 */
static void
test_upload_failure (struct cache *c, struct cache_disk *cd)
{
  step = "upload failure";
  set_fail_puts (true);
  write_chunk (cd, 20, 4);
  write_chunk (cd, 21, 4);
  errno = 0;
  if (cache_flush (cd) != -1 || errno != EIO)
    fail ("a flush whose uploads fail: not EIO (%m)");
  if (cache_dirty_chunks (cd) != 2)
    fail ("%" PRIu64 " dirty chunks, not 2", cache_dirty_chunks (cd));
  check_chunk (cd, 20);
  cache_check_all (c);
  set_fail_puts (false);
  flush_after_failures (cd);
  check_mapped (20);
  check_mapped (21);
  cache_check_all (c);
}

/* The write-back buffer full of chunks that cannot be uploaded: a write
 * fails with EIO after wait_timeout, and the cache recovers when uploads
 * work again.
 */
static void
test_buffer_full (struct cache *c, struct cache_disk *cd)
{
  uint8_t b = 1;
  uint64_t i;
  bool failed = false;

  step = "write-back buffer full";
  set_fail_puts (true);
  for (i = 0; i < NCHUNKS && !failed; i++) {
    /* Partial writes of chunks in memory or zeros: not uploaded at once. */
    if (cache_write (cd, i, 0, 1, &b) == -1) {
      if (errno != EIO)
        fail ("write failed with %m, not EIO");
      failed = true;
    } else
      want[i][0] = b;
  }
  if (!failed)
    fail ("no write failed");
  cache_check_all (c);
  set_fail_puts (false);
  flush_after_failures (cd);
  for (i = 0; i < NCHUNKS; i++)
    check_chunk (cd, i);
  cache_check_all (c);
}

/* cache_refresh uploads again, from memory or from the store. */
static void
test_refresh (struct cache *c, struct cache_disk *cd)
{
  struct map_entry entries[3];
  unsigned before;
  int i;

  step = "refresh";
  for (i = 0; i < 3; i++) {
    entries[i].idx = 40 + i;
    chunkmap_get (map, entries[i].idx, entries[i].hash);
  }
  before = count_puts ();
  if (cache_refresh (cd, entries, 3, monotonic_now ()) == -1)
    fail ("refresh: %m");
  if (count_puts () - before != 3)
    fail ("%u PUTs, not 3", count_puts () - before);
  cache_check_all (c);
}

/* A chunk gone from the bucket and not in memory: refresh fails. */
static void
test_refresh_missing (struct cache_disk *cd)
{
  struct map_entry e;
  char key[KEY_MAX_LEN];

  step = "refresh of a missing chunk";
  e.idx = 50;
  chunkmap_get (map, e.idx, e.hash);
  key_chunk (key, e.hash);
  if (store_delete (store, key) != STORE_OK)
    fail ("delete %s", key);
  if (cache_refresh (cd, &e, 1, monotonic_now ()) != -1)
    fail ("refresh of a missing chunk succeeded");
  /* Put it back for what follows. */
  if (store_put (store, key, want[50], CS, NULL, NULL) != STORE_OK)
    fail ("put %s", key);
}

/* Sequential reads with read-ahead on. */
static void
test_readahead (struct cache *c, struct cache_disk *cd)
{
  uint64_t i;

  step = "read-ahead";
  for (i = 0; i < NCHUNKS; i++)
    check_chunk (cd, i);
  cache_check_all (c);
}

/* The pool's filler: after the first buffer is taken, touched buffers
 * (every page resident) wait on the pool, within the budget.
 */
static void
test_filler (void)
{
  struct cache_config config = {
    .size = (uint64_t)FILL_CACHE_CHUNKS * CS,
    .upload_threads = 1,
    .wait_timeout = 1.0,
  };
  struct cache *c = cache_new (&config, store);
  struct cache_disk *cd;
  uint64_t touched = 0;
  unsigned char vec[CS / 4096];
  size_t b, k;
  int i;

  step = "filler";
  if (c == NULL || cache_start (c) == -1)
    fail ("cache_new or cache_start");
  cd = attach (c);
  write_chunk (cd, 0, 9);
  for (i = 0; i < 500 && touched < config.size / 8; i++) {
    if (i > 0)
      usleep (10000);
    pthread_mutex_lock (&c->lock);
    touched = c->pool_touched;
    pthread_mutex_unlock (&c->lock);
  }
  if (touched < config.size / 8)
    fail ("%" PRIu64 " bytes of touched buffers on the pool, not %" PRIu64,
          touched, config.size / 8);
  pthread_mutex_lock (&c->lock);
  for (b = 0; b < c->npool; b++) {
    if (!c->pool[b].touched)
      continue;
    if (mincore (c->pool[b].p, CS, vec) == -1)
      fail ("mincore: %m");
    for (k = 0; k < sizeof vec; k++)
      if (!(vec[k] & 1))
        fail ("a touched pooled buffer has a page not resident");
  }
  pthread_mutex_unlock (&c->lock);
  cache_check_all (c);
  /* Writes of many chunks: the budget holds with the filler running. */
  for (k = 0; k < NCHUNKS; k++)
    write_chunk (cd, k, 9);
  flush (cd);
  for (k = 0; k < NCHUNKS; k++)
    check_chunk (cd, k);
  cache_check_all (c);
  cache_detach (cd);
  cache_free (c);
}

/* The chunk codec's memory is the cache's: many threads load chunks of
 * an unencrypted and an encrypted disk, compressed or not, on a small
 * cache, and no buffer of a chunk or more comes from the heap (scratch
 * included): the cache's memory stays within its limit, whatever the
 * number of threads.  Writes, uploads and loads for partial writes run
 * too, checked against the limit (uploads may take scratch of their own
 * while the cache is full: writeback.c).
 */
#define MEM_THREADS 16
static uint8_t want2[NCHUNKS][CS]; /* the encrypted disk's chunks */
struct worker {
  pthread_t thread;
  struct cache_disk *cd[2];
  unsigned k;
  bool write;
  const char *error;
};

static void *
mem_worker (void *arg)
{
  struct worker *w = arg;
  uint8_t buf[CS];
  uint64_t idx;
  int d;

  for (idx = w->k; idx < NCHUNKS; idx += MEM_THREADS)
    for (d = 0; d < 2; d++) {
      uint8_t (*chunks)[CS] = d ? want2 : want;
      if (w->write) {
        /* A partial write: the chunk is loaded first if not in memory. */
        if (cache_write (w->cd[d], idx, 0, CS / 2, chunks[idx]) == -1
            || cache_write (w->cd[d], idx, CS / 2, CS / 2, chunks[idx] + CS / 2)
                   == -1)
          w->error = "write failed";
      } else if (cache_read (w->cd[d], idx, 0, CS, buf) == -1)
        w->error = "read failed";
      else if (memcmp (buf, chunks[idx], CS) != 0)
        w->error = "a chunk does not read as written";
    }
  return NULL;
}

static void
run_workers (struct cache_disk *plain, struct cache_disk *sealed, bool write)
{
  struct worker w[MEM_THREADS];
  unsigned k;

  for (k = 0; k < MEM_THREADS; k++) {
    w[k] = (struct worker){
      .cd = { plain, sealed }, .k = k, .write = write, .error = NULL
    };
    if (pthread_create (&w[k].thread, NULL, mem_worker, &w[k]) != 0)
      fail ("pthread_create");
  }
  for (k = 0; k < MEM_THREADS; k++) {
    pthread_join (w[k].thread, NULL);
    if (w[k].error)
      fail ("thread %u: %s", k, w[k].error);
  }
}

static void
test_codec_memory (void)
{
  static const uint8_t master[CRYPTO_KEY_LEN] = { 42 };
  struct cache_config config = {
    .size = (uint64_t)CACHE_CHUNKS * CS,
    .upload_threads = 4,
    .wait_timeout = 10,
    .readahead = (uint64_t)8 * CS,
    .readahead_threads = 2,
    .compression = CHUNK_COMPRESSION_DEFAULT,
  };
  struct chunkmap *map1 = chunkmap_new (NCHUNKS),
                  *map2 = chunkmap_new (NCHUNKS);
  struct crypto *crypto = crypto_new (master);
  struct cache_disk *plain, *sealed;
  struct map_entry entries[4];
  uint64_t idx, x = 88172645463325252u;
  struct cache *c;
  uint32_t i;

  step = "codec memory";
  if (map1 == NULL || map2 == NULL || crypto == NULL)
    fail ("chunkmap_new or crypto_new");
  /* Even chunks compress (frames), odd ones do not (raw). */
  for (idx = 0; idx < NCHUNKS; idx++) {
    pattern (want[idx], idx, 6);
    for (i = 0; idx % 2 && i < CS; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      want[idx][i] = (uint8_t)x;
    }
    memcpy (want2[idx], want[idx], CS);
  }

  c = cache_new (&config, store);
  if (c == NULL || cache_start (c) == -1)
    fail ("cache_new or cache_start");
  plain = cache_attach (c, "plain", map1, CS, NULL);
  sealed = cache_attach (c, "sealed", map2, CS, crypto);
  if (plain == NULL || sealed == NULL)
    fail ("cache_attach");
  pthread_mutex_lock (&lock);
  watched = c;
  pthread_mutex_unlock (&lock);

  run_workers (plain, sealed, true); /* uploads (write-back) */
  flush (plain);
  flush (sealed);
  run_workers (plain, sealed, true); /* loads of partial writes */
  flush (plain);
  flush (sealed);
  cache_check_all (c);

  __atomic_store_n (&big_allocs, 0, __ATOMIC_RELAXED);
  run_workers (plain, sealed, false); /* loads, evicting */
  for (i = 0; i < 4; i++) {
    entries[i].idx = i;
    chunkmap_get (map2, i, entries[i].hash);
  }
  if (cache_refresh (sealed, entries, 4, monotonic_now ()) == -1)
    fail ("refresh: %m");
  cache_check_all (c);
  if (__atomic_load_n (&big_allocs, __ATOMIC_RELAXED) != 0)
    fail ("%u buffers of a chunk or more were allocated out of the cache's "
          "budget",
          __atomic_load_n (&big_allocs, __ATOMIC_RELAXED));

  pthread_mutex_lock (&lock);
  watched = NULL;
  pthread_mutex_unlock (&lock);
  cache_detach (plain);
  cache_detach (sealed);
  cache_free (c);
  crypto_free (crypto);
  chunkmap_free (map1);
  chunkmap_free (map2);
}

int
main (void)
{
  char root[] = "/tmp/test-cache-XXXXXX", dir[64], endpoint[64], cmd[128];
  struct store *inner;
  struct wrap *w;
  struct cache *c;
  struct cache_disk *cd;

  if (mkdtemp (root) == NULL) {
    perror ("mkdtemp");
    return EXIT_FAILURE;
  }
  snprintf (dir, sizeof dir, "%s/b", root);
  snprintf (endpoint, sizeof endpoint, "file://%s", root);
  if (mkdir (dir, 0700) == -1) {
    perror ("mkdir");
    return EXIT_FAILURE;
  }
  inner = store_open (&(struct store_config){
      .endpoint = endpoint, .bucket = "b", .retry_time = 1 });
  w = calloc (1, sizeof *w);
  map = chunkmap_new (NCHUNKS);
  if (inner == NULL || w == NULL || map == NULL)
    fail ("store_open, calloc or chunkmap_new");
  w->base.ops = &wrap_ops;
  w->inner = inner;
  store = &w->base;

  c = new_cache (1.0, 0);
  cd = attach (c);
  test_memory (c, cd);
  test_flush (c, cd);
  test_evict (c, cd);
  test_upload_failure (c, cd);
  test_refresh (c, cd);
  cache_detach (cd);
  cache_free (c);

  /* A new cache: nothing of the disk in memory. */
  c = new_cache (1.0, 0);
  cd = attach (c);
  test_refresh_missing (cd);
  test_bad_chunks (c, cd);
  test_buffer_full (c, cd);
  cache_detach (cd);
  cache_free (c);

  test_filler ();

  c = new_cache (1.0, (uint64_t)8 * CS);
  cd = attach (c);
  test_readahead (c, cd);
  /* Detaching with dirty chunks loses them, and says so. */
  step = "detach";
  write_chunk (cd, 0, 5);
  cache_check_all (c);
  cache_detach (cd);
  cache_free (c);

  test_codec_memory ();

  chunkmap_free (map);
  store_close (store);
  store_close (inner);
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system (cmd) != 0)
    fprintf (stderr, "test-cache: could not remove %s\n", root);
  printf ("test-cache: ok\n");
  return EXIT_SUCCESS;
}
