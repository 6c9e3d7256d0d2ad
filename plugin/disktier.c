/* s3cow: the local disk tier (see disktier.h).  Called only by cache.c.
 *
 *   DIR/<sha256-hex>    one clean chunk, exactly its bytes; its name is its
 *                       SHA-256, checked on every read
 *   DIR/.tmp-XXXXXX     a file being written (mkstemp: unique, even between
 *                       processes); renamed to its hash when complete
 *
 * Files.  A chunk file appears only by rename of a complete temp file, so a
 * reader sees a whole file or none; two servers (or forks) writing the same
 * chunk into one directory rename identical bytes over each other.  Nothing
 * is fsynced: after a crash of the machine a file may be short or hold
 * garbage, and the check on read deletes it and makes it a miss.  A file is
 * never trusted: a short, long or wrong one is deleted, logged, counted
 * (s3cow_tier_corrupt_total) and the chunk comes from the store.
 *
 * Restarts.  The tier survives restarts: at open, the directory is scanned
 * once (readdir + fstatat per file: time in proportion to the files there)
 * and every chunk file enters the index, oldest modification time first on
 * the LRU list; a hit sets the file's modification time to now, so that
 * order survives the next restart too.  While scanning, whenever the files
 * kept reach twice max_bytes, the oldest are deleted down to max_bytes, so
 * the scan's memory is bounded like the index's.  Temp files older than an
 * hour are left-overs of a crash: deleted.  Other names are ignored.
 *
 * Sharing.  Each server keeps its own index of the files it found at start
 * or wrote, and keeps those under its own cache-dir-size.  A file another
 * server deleted is a miss here (the entry goes); a file another server
 * wrote after this one started is unknown here (a miss, then written again
 * by rename: same bytes).  So several servers on one directory never see
 * wrong data; the directory holds at most the sum of their sizes.
 *
 * Memory.  The index costs one struct tent (72 bytes, about 80 with
 * malloc's overhead) plus one bucket pointer per file: about 90 bytes per
 * chunk file, i.e. 0.9 MiB for 10 GiB of 1 MiB chunks (14 MiB at most for
 * 10 GiB of 64 KiB chunks).  Chunk data is read with pread into the
 * caller's buffer, never mapped: the page cache holds the files, not RSS;
 * it is read in pieces, each hashed as soon as it lands (read_hashed).
 *
 * Locking.  dt->lock protects every (L) field.  File I/O (open, read,
 * write, rename, unlink) happens without it.  An entry being written
 * (writing) is in the table but not on the LRU list, so eviction skips it
 * and readers treat it as a miss.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "disktier.h"
#include "format.h"
#include "hash.h"
#include "log.h"
#include "stats.h"

#define TMP_PREFIX ".tmp-"
#define TMP_STALE_SECONDS 3600 /* a temp file this old is a crash's */
#define WRITE_FAILURES_MAX 32  /* failed writes in a row that stop writes */

/* What failed, for logging each cause once. */
enum op { OP_CREATE, OP_WRITE, OP_RENAME, OP_READ, OP_UNLINK, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
  "cannot create a temp file",  "cannot write a chunk file",
  "cannot rename a chunk file", "cannot read a chunk file",
  "cannot delete a chunk file",
};
#define ERRNO_LOGGED 256 /* errno values tracked; above: always logged */

/* One chunk file in the index. */
struct tent {
  uint8_t hash[HASH_LEN];
  uint64_t size;
  struct tent *hnext;       /* (L) hash chain */
  struct tent *prev, *next; /* (L) LRU list (not while writing) */
  bool writing;             /* (L) a put is writing the file */
  uint64_t gen;             /* (L) which insert made it: see forget */
};

struct disktier {
  char *dir;
  int dirfd;
  uint64_t max_bytes;       /* (L) lowered when the file system is full */
  pthread_mutex_t lock;     /* protects the (L) fields */
  struct tent **buckets;    /* (L) */
  size_t nbuckets, count;   /* (L) */
  struct tent *head, *tail; /* (L) LRU: head is the least recently used */
  uint64_t bytes;           /* (L) sizes of all entries, writing included */
  uint64_t gens;            /* (L) inserts so far */
  unsigned write_failures;  /* (L) in a row */
  bool writes_off;          /* (L) too many failures: writes stopped */
  uint8_t logged[OP_COUNT][ERRNO_LOGGED / 8]; /* (L) causes logged */
};

/* ---- index: dt->lock held ---- */

static size_t
bucket_of (const struct disktier *dt, const uint8_t *hash)
{
  uint64_t h;

  memcpy (&h, hash, sizeof h); /* a SHA-256 is uniform already */
  return h & (dt->nbuckets - 1);
}

static struct tent *
lookup (struct disktier *dt, const uint8_t *hash)
{
  struct tent *t;

  for (t = dt->buckets[bucket_of (dt, hash)]; t; t = t->hnext)
    if (memcmp (t->hash, hash, HASH_LEN) == 0)
      return t;
  return NULL;
}

static void
lru_remove (struct disktier *dt, struct tent *t)
{
  if (t->prev)
    t->prev->next = t->next;
  else if (dt->head == t)
    dt->head = t->next;
  if (t->next)
    t->next->prev = t->prev;
  else if (dt->tail == t)
    dt->tail = t->prev;
  t->prev = t->next = NULL;
}

static void
lru_append (struct disktier *dt, struct tent *t)
{
  t->prev = dt->tail;
  t->next = NULL;
  if (dt->tail)
    dt->tail->next = t;
  else
    dt->head = t;
  dt->tail = t;
}

/* Double the table when it gets crowded (failure to grow is harmless). */
static void
maybe_grow (struct disktier *dt)
{
  struct tent **nb, *t, *next;
  size_t i, n = dt->nbuckets * 2;

  if (dt->count < dt->nbuckets * 2)
    return;
  nb = calloc (n, sizeof *nb);
  if (nb == NULL)
    return;
  for (i = 0; i < dt->nbuckets; i++)
    for (t = dt->buckets[i]; t; t = next) {
      size_t b;
      next = t->hnext;
      dt->nbuckets = n; /* for bucket_of */
      b = bucket_of (dt, t->hash);
      dt->nbuckets = n / 2;
      t->hnext = nb[b];
      nb[b] = t;
    }
  free (dt->buckets);
  dt->buckets = nb;
  dt->nbuckets = n;
}

static void
insert (struct disktier *dt, struct tent *t)
{
  size_t b;

  maybe_grow (dt);
  b = bucket_of (dt, t->hash);
  t->hnext = dt->buckets[b];
  dt->buckets[b] = t;
  t->gen = ++dt->gens;
  dt->count++;
  dt->bytes += t->size;
  if (!t->writing)
    lru_append (dt, t);
}

/* Take t out of the index (not freed). */
static void
unlink_entry (struct disktier *dt, struct tent *t)
{
  struct tent **pp = &dt->buckets[bucket_of (dt, t->hash)];

  while (*pp != t)
    pp = &(*pp)->hnext;
  *pp = t->hnext;
  if (!t->writing)
    lru_remove (dt, t);
  dt->count--;
  dt->bytes -= t->size;
}

/* Forget the entry for hash that insert number gen made: its file is gone
 * or bad.  A newer entry for the same hash (evicted and written again while
 * the caller read the old file) stays: its file is a new, whole one.
 */
static void
forget (struct disktier *dt, const uint8_t *hash, uint64_t gen)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&dt->lock);
  struct tent *t = lookup (dt, hash);

  if (t && t->gen == gen && !t->writing) {
    unlink_entry (dt, t);
    free (t);
  }
}

/* Log err for op once per (op, errno).  dt->lock NOT held. */
static void
log_once (struct disktier *dt, enum op op, int err, const char *what)
{
  bool first = true;

  stats_inc (STAT_TIER_ERRORS);
  if (err >= 0 && err < ERRNO_LOGGED) {
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&dt->lock);
    first = !(dt->logged[op][err / 8] & (1 << (err % 8)));
    dt->logged[op][err / 8] |= 1 << (err % 8);
  }
  if (first) {
    errno = err;
    s3cow_log_error ("cache-dir=%s: %s %s: %m (logged once per cause; the "
                     "chunk comes from the store)",
                     dt->dir, op_names[op], what);
  }
}

/* ---- open: the scan ---- */

struct found {
  uint8_t hash[HASH_LEN];
  uint64_t size;
  struct timespec mtime;
};

static int
older_first (const void *a, const void *b)
{
  const struct found *x = a, *y = b;

  if (x->mtime.tv_sec != y->mtime.tv_sec)
    return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
  if (x->mtime.tv_nsec != y->mtime.tv_nsec)
    return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
  return 0;
}

/* Decode a file name that is a hash, else false. */
static bool
parse_hash (const char *name, uint8_t *hash)
{
  size_t i;

  if (strlen (name) != HASH_HEX_LEN)
    return false;
  for (i = 0; i < HASH_HEX_LEN; i++) {
    char c = name[i];
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (v < 0)
      return false;
    if (i % 2 == 0)
      hash[i / 2] = v << 4;
    else
      hash[i / 2] |= v;
  }
  return true;
}

/* Sort found[*n] oldest first and delete the oldest files until the rest
 * fit in max_bytes; *bytes is their total.
 */
static void
trim_found (struct disktier *dt, struct found *found, size_t *n,
            uint64_t *bytes)
{
  char hex[HASH_HEX_LEN + 1];
  size_t i = 0;

  if (*n == 0)
    return;
  qsort (found, *n, sizeof *found, older_first);
  while (*bytes > dt->max_bytes) {
    hash_to_hex (found[i].hash, hex);
    if (unlinkat (dt->dirfd, hex, 0) == -1 && errno != ENOENT)
      log_once (dt, OP_UNLINK, errno, hex);
    stats_inc (STAT_TIER_EVICTIONS);
    *bytes -= found[i].size;
    i++;
  }
  memmove (found, found + i, (*n - i) * sizeof *found);
  *n -= i;
}

/* Index the chunk files already in the directory (see the top comment). */
static int
scan (struct disktier *dt)
{
  CLEANUP_FREE struct found *found = NULL;
  size_t n = 0, cap = 0, i;
  uint64_t bytes = 0;
  struct dirent *d;
  struct timespec now;
  int fd;
  DIR *dir;

  clock_gettime (CLOCK_REALTIME, &now);
  fd = dup (dt->dirfd);
  if (fd == -1 || (dir = fdopendir (fd)) == NULL) {
    s3cow_log_error ("cache-dir=%s: cannot list it: %m", dt->dir);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  while ((errno = 0, d = readdir (dir)) != NULL) {
    struct stat st;
    uint8_t hash[HASH_LEN];
    bool is_tmp = strncmp (d->d_name, TMP_PREFIX, strlen (TMP_PREFIX)) == 0;

    if (!is_tmp && !parse_hash (d->d_name, hash))
      continue;
    if (fstatat (dt->dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1
        || !S_ISREG (st.st_mode))
      continue;
    if (is_tmp) {
      if (now.tv_sec - st.st_mtim.tv_sec > TMP_STALE_SECONDS)
        unlinkat (dt->dirfd, d->d_name, 0);
      continue;
    }
    if (st.st_size < CHUNK_SIZE_MIN || st.st_size > CHUNK_SIZE_MAX) {
      stats_inc (STAT_TIER_CORRUPT);
      s3cow_log_error ("cache-dir=%s: %s is corrupt (%" PRIu64 " bytes: no "
                       "chunk has that size): deleted",
                       dt->dir, d->d_name, (uint64_t)st.st_size);
      unlinkat (dt->dirfd, d->d_name, 0);
      continue;
    }
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 1024;
      struct found *nf = realloc (found, ncap * sizeof *found);
      if (nf == NULL) {
        s3cow_log_error ("cache-dir=%s: realloc: %m", dt->dir);
        closedir (dir);
        return -1;
      }
      found = nf;
      cap = ncap;
    }
    memcpy (found[n].hash, hash, HASH_LEN);
    found[n].size = st.st_size;
    found[n].mtime = st.st_mtim;
    n++;
    bytes += st.st_size;
    if (bytes >= 2 * dt->max_bytes)
      trim_found (dt, found, &n, &bytes);
  }
  if (errno != 0) {
    s3cow_log_error ("cache-dir=%s: cannot list it: %m", dt->dir);
    closedir (dir);
    return -1;
  }
  closedir (dir);
  trim_found (dt, found, &n, &bytes);

  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&dt->lock);
  for (i = 0; i < n; i++) {
    struct tent *t = calloc (1, sizeof *t);
    if (t == NULL) {
      s3cow_log_error ("cache-dir=%s: calloc: %m", dt->dir);
      return -1;
    }
    memcpy (t->hash, found[i].hash, HASH_LEN);
    t->size = found[i].size;
    insert (dt, t);
  }
  s3cow_debug (cache, "cache-dir=%s: %zu chunk files, %" PRIu64 " bytes",
               dt->dir, n, bytes);
  return 0;
}

/* Create a temp file in the directory: fd, or -1 with errno set.  name
 * receives its name (room for sizeof TMP_PREFIX "XXXXXX").
 */
static int
make_temp (struct disktier *dt, char *name)
{
  char path[4096];
  int fd;

  if (snprintf (path, sizeof path, "%s/%sXXXXXX", dt->dir, TMP_PREFIX)
      >= (int)sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  fd = mkostemp (path, O_CLOEXEC);
  if (fd >= 0)
    strcpy (name, strrchr (path, '/') + 1);
  return fd;
}

struct disktier *
disktier_open (const char *dir, uint64_t max_bytes)
{
  struct disktier *dt;
  char tmp[sizeof TMP_PREFIX + 8];
  int fd;

  if (mkdir (dir, 0700) == -1 && errno != EEXIST) {
    s3cow_log_error ("cache-dir=%s: cannot create it: %m", dir);
    return NULL;
  }
  dt = calloc (1, sizeof *dt);
  if (dt == NULL || (dt->dir = strdup (dir)) == NULL) {
    s3cow_log_error ("calloc: %m");
    free (dt);
    return NULL;
  }
  dt->dirfd = -1;
  dt->max_bytes = max_bytes;
  dt->nbuckets = 1024;
  dt->buckets = calloc (dt->nbuckets, sizeof *dt->buckets);
  pthread_mutex_init (&dt->lock, NULL);
  dt->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dt->buckets == NULL || dt->dirfd == -1) {
    s3cow_log_error ("cache-dir=%s: cannot open it: %m", dir);
    goto fail;
  }
  /* One clear error now rather than one per chunk later. */
  fd = make_temp (dt, tmp);
  if (fd == -1) {
    s3cow_log_error ("cache-dir=%s: cannot create a file there: %m", dir);
    goto fail;
  }
  close (fd);
  unlinkat (dt->dirfd, tmp, 0);
  if (scan (dt) == -1)
    goto fail;
  return dt;

fail:
  disktier_close (dt);
  return NULL;
}

void
disktier_close (struct disktier *dt)
{
  size_t b;

  if (dt == NULL)
    return;
  for (b = 0; dt->buckets && b < dt->nbuckets; b++)
    while (dt->buckets[b]) {
      struct tent *t = dt->buckets[b];
      dt->buckets[b] = t->hnext;
      free (t);
    }
  if (dt->dirfd >= 0)
    close (dt->dirfd);
  pthread_mutex_destroy (&dt->lock);
  free (dt->buckets);
  free (dt->dir);
  free (dt);
}

bool
disktier_has (struct disktier *dt, const uint8_t *hash)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&dt->lock);
  struct tent *t = lookup (dt, hash);

  return t && !t->writing;
}

/* Read exactly size bytes at 0 from fd into buf, hashing them into sum as
 * they land: a piece of READ_PIECE bytes is hashed right after its pread,
 * while it is still in the CPU's cache (never slower than a full pread
 * then a full hash, faster when the buffers are cold, as in a new
 * server's pool).  Returns size, or
 * the bytes read when the file is shorter (sum then undefined), or -1
 * (errno).
 */
#define READ_PIECE (256 * 1024)
static ssize_t
read_hashed (int fd, uint8_t *buf, uint32_t size, uint8_t *sum)
{
  struct hash_state *h = hash_begin ();
  size_t done = 0;

  if (h == NULL)
    return -1;
  while (done < size) {
    size_t want = size - done < READ_PIECE ? size - done : READ_PIECE;
    ssize_t r = pread (fd, buf + done, want, done);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      hash_abort (h);
      return -1;
    }
    if (r == 0)
      break;
    if (hash_update (h, buf + done, r) == -1) {
      hash_abort (h);
      return -1;
    }
    done += r;
  }
  if (done < size) {
    hash_abort (h);
    return done;
  }
  if (hash_end (h, sum) == -1)
    return -1;
  return done;
}

bool
disktier_get (struct disktier *dt, const uint8_t *hash, void *buf,
              uint32_t size)
{
  char hex[HASH_HEX_LEN + 1];
  uint8_t sum[HASH_LEN];
  struct stat st;
  ssize_t r;
  uint64_t gen = 0;
  int fd;

  pthread_mutex_lock (&dt->lock);
  {
    struct tent *t = lookup (dt, hash);
    bool there = t && !t->writing;
    if (there) {
      lru_remove (dt, t);
      lru_append (dt, t);
      gen = t->gen;
    }
    pthread_mutex_unlock (&dt->lock);
    if (!there) {
      stats_inc (STAT_TIER_MISSES);
      return false;
    }
  }

  hash_to_hex (hash, hex);
  fd = openat (dt->dirfd, hex, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    if (errno != ENOENT) /* ENOENT: deleted by another server */
      log_once (dt, OP_READ, errno, hex);
    goto miss;
  }
  if (fstat (fd, &st) == -1) {
    log_once (dt, OP_READ, errno, hex);
    close (fd);
    goto miss;
  }
  r = st.st_size == size ? read_hashed (fd, buf, size, sum) : 0;
  if (r == -1) {
    log_once (dt, OP_READ, errno, hex);
    close (fd);
    goto miss;
  }
  if (r == size) {
    if (memcmp (sum, hash, HASH_LEN) == 0) {
      (void)futimens (fd, NULL); /* best effort: LRU order for next start */
      close (fd);
      stats_inc (STAT_TIER_HITS);
      stats_add (STAT_TIER_READ_BYTES, size);
      return true;
    }
  }
  close (fd);
  stats_inc (STAT_TIER_CORRUPT);
  s3cow_log_error ("cache-dir=%s: %s is corrupt (%" PRIu64 " bytes, "
                   "expected %" PRIu32 "%s): deleted; the chunk comes from "
                   "the store",
                   dt->dir, hex, (uint64_t)st.st_size, size,
                   st.st_size == size ? ", content does not match its name"
                                      : "");
  if (unlinkat (dt->dirfd, hex, 0) == -1 && errno != ENOENT)
    log_once (dt, OP_UNLINK, errno, hex);
miss:
  forget (dt, hash, gen);
  stats_inc (STAT_TIER_MISSES);
  return false;
}

/* Record the outcome of a write (dt->lock held).  Too many failures in a
 * row stop writes.
 */
static void
write_outcome (struct disktier *dt, bool ok)
{
  if (ok) {
    dt->write_failures = 0;
    return;
  }
  if (++dt->write_failures == WRITE_FAILURES_MAX && !dt->writes_off) {
    dt->writes_off = true;
    s3cow_log_error ("cache-dir=%s: %d writes failed in a row: no more "
                     "chunks will be written there (reads go on)",
                     dt->dir, WRITE_FAILURES_MAX);
  }
}

/* Write buf into a temp file and rename it to hex.  0, or the errno of
 * the failure (logged).
 */
static int
write_file (struct disktier *dt, const char *hex, const uint8_t *buf,
            uint32_t size)
{
  char tmp[sizeof TMP_PREFIX + 8];
  size_t done = 0;
  int fd, err;

  fd = make_temp (dt, tmp);
  if (fd == -1) {
    err = errno;
    log_once (dt, OP_CREATE, err, hex);
    return err;
  }
  while (done < size) {
    ssize_t r = write (fd, buf + done, size - done);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      err = errno;
      log_once (dt, OP_WRITE, err, hex);
      goto fail;
    }
    done += r;
  }
  if (close (fd) == -1) {
    fd = -1;
    err = errno;
    log_once (dt, OP_WRITE, err, hex);
    goto fail;
  }
  fd = -1;
  if (renameat (dt->dirfd, tmp, dt->dirfd, hex) == -1) {
    err = errno;
    log_once (dt, OP_RENAME, err, hex);
    goto fail;
  }
  return 0;

fail:
  if (fd >= 0)
    close (fd);
  unlinkat (dt->dirfd, tmp, 0);
  return err;
}

/* Take the least recently used entries out of the index until the bytes
 * fit in max_bytes (dt->lock held); returns them, linked by hnext, for
 * evict.
 */
static struct tent *
choose_victims (struct disktier *dt)
{
  struct tent *victims = NULL;

  while (dt->bytes > dt->max_bytes && dt->head) {
    struct tent *v = dt->head;
    unlink_entry (dt, v);
    v->hnext = victims;
    victims = v;
  }
  return victims;
}

/* Delete the files of victims and free them (dt->lock NOT held).  A file
 * of the same hash written again meanwhile by this server may be deleted
 * here too: a later miss, never wrong data.
 */
static void
evict (struct disktier *dt, struct tent *victims)
{
  char hex[HASH_HEX_LEN + 1];

  while (victims) {
    struct tent *v = victims;
    victims = v->hnext;
    hash_to_hex (v->hash, hex);
    if (unlinkat (dt->dirfd, hex, 0) == -1 && errno != ENOENT)
      log_once (dt, OP_UNLINK, errno, hex);
    stats_inc (STAT_TIER_EVICTIONS);
    s3cow_debug (cache, "cache-dir: evict %s", hex);
    free (v);
  }
}

/* Writing t failed with err, t still in the index (dt->lock held).  If
 * the file system is full before max_bytes, hold at most the bytes of the
 * other files from now on, and return true (*was: the old max_bytes): the
 * caller then evicts the least recently used files to make room and
 * writes t again.  Without this, a file system that filled before
 * cache-dir-size made every write fail, and after 32 the tier kept for
 * good what it held then (after a restart too).
 */
static bool
full_file_system (struct disktier *dt, const struct tent *t, int err,
                  uint64_t *was)
{
  uint64_t others = dt->bytes - t->size;

  if ((err != ENOSPC && err != EDQUOT) || others >= dt->max_bytes)
    return false;
  *was = dt->max_bytes;
  dt->max_bytes = others;
  return true;
}

void
disktier_put (struct disktier *dt, const uint8_t *hash, const void *buf,
              uint32_t size)
{
  char hex[HASH_HEX_LEN + 1];
  struct tent *t, *victims;
  uint64_t was = 0; /* max_bytes before a full file system lowered it */
  int r;

  t = calloc (1, sizeof *t);
  if (t == NULL)
    return; /* only a cache: not now */
  memcpy (t->hash, hash, HASH_LEN);
  t->size = size;
  t->writing = true;
  hash_to_hex (hash, hex);

  /* 1. Claim the name and the room, choosing the files to evict. */
  pthread_mutex_lock (&dt->lock);
  if (dt->writes_off || size > dt->max_bytes || lookup (dt, hash)) {
    pthread_mutex_unlock (&dt->lock);
    free (t);
    return; /* present (or being written), or no room at all */
  }
  insert (dt, t);
  for (;;) {
    uint64_t limit = dt->max_bytes;

    victims = choose_victims (dt);
    pthread_mutex_unlock (&dt->lock);
    if (was)
      s3cow_log_error ("cache-dir=%s: file system full: the tier holds at "
                       "most %" PRIu64 " bytes from now on (instead of %" PRIu64
                       "), the least recently used files making room",
                       dt->dir, limit, was);

    /* 2. Evict. 3. Write. */
    evict (dt, victims);
    r = write_file (dt, hex, buf, size); /* 0, or an errno */
    pthread_mutex_lock (&dt->lock);
    if (r == 0 || was || !full_file_system (dt, t, r, &was))
      break; /* else once more, with room made */
  }

  /* 4. Publish, or give the room back. */
  if (r == 0) {
    stats_inc (STAT_TIER_WRITES);
    stats_add (STAT_TIER_WRITE_BYTES, size);
    t->writing = false;
    lru_append (dt, t);
  } else {
    unlink_entry (dt, t);
    free (t);
  }
  write_outcome (dt, r == 0);
  pthread_mutex_unlock (&dt->lock);
}

void
disktier_gauges (struct disktier *dt, uint64_t *bytes, uint64_t *limit)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&dt->lock);

  *bytes = dt->bytes;
  *limit = dt->max_bytes;
}
