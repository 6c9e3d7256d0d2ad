/* s3cow: the object-store interface (store.h) on a local directory.
 *
 * store.c calls store_dir_open for endpoint=file:///ROOT; after that only
 * the ops table below is called, from any number of threads and processes
 * at once.  It is for tests, for development without an S3 server, and for
 * hosts that keep disks on a local filesystem.  It answers every call in
 * store.h's contract as the S3 backend does, including the conditional puts.
 *
 * Layout
 * ------
 *
 *   ROOT/BUCKET/                    the bucket: must exist (else NoSuchBucket,
 *                                   STORE_PERMANENT); never created here
 *   ROOT/BUCKET/.lock               flock'd around every namespace change
 *   ROOT/BUCKET/PREFIX+KEY          one object; each '/' in PREFIX+KEY is a
 *                                   directory, created on demand
 *   ROOT/BUCKET/DIRS/.tmp-PID-N     an object being written (see put)
 *
 * Names.  PREFIX+KEY must be 1 to 1024 bytes of '/'-separated segments, each
 * 1 to 255 bytes long and NOT STARTING WITH '.'.  That one rule keeps keys
 * inside the bucket ("." and ".." are not segments; no leading '/', no empty
 * segment) and reserves every name starting with '.' for the store itself,
 * so that the lock file and temporary files can never collide with a key and
 * are never listed.  Anything else is rejected as STORE_PERMANENT "invalid
 * key".  Unlike S3, one key cannot be both an object and a directory of
 * another key ("a" and "a/b"): the second put fails with STORE_PERMANENT.
 * s3cow's own layout never does that.
 *
 * Object files.  The content follows a fixed 64-byte text header:
 *
 *   offset 0   "S3COWDIR1 "                   magic and format version
 *   offset 10  ETAG: 32 lowercase hex digits
 *   offset 42  spaces up to offset 63, then '\n'
 *   offset 64  the object's bytes
 *
 * Etag.  The first 16 bytes of the SHA-256 of the content, in hex, computed
 * once by put and written in the header.  Why: it changes whenever the content
 * changes and is the same in every process (it is in the file); it is written
 * by the same rename that makes the content visible, so the two can never
 * disagree (a sidecar file could; xattrs are missing on some filesystems);
 * and head and list read 64 bytes instead of hashing the object, so they stay
 * cheap for 4 MiB chunks and for listings of many thousands of objects.  Like
 * S3's MD5 etag, equal content gives an equal etag, which is harmless for
 * compare-and-swap.  The price: files are not plain copies of the objects
 * (tail -c +65 FILE gives the content).
 *
 * Put: atomic and durable.
 *   1. Write header + content to DIR/.tmp-PID-N (O_EXCL) and fsync it.
 *   2. Take the bucket lock; for a conditional put, compare the current
 *      object with the condition; rename the temporary file over the object;
 *      release the lock.
 *   3. fsync DIR, so the rename is durable before put returns.
 * Directories created on the way are fsync'd into their parents.  Readers
 * open the object without any lock: rename is atomic, so they see the old
 * file or the new one, whole, and an open file never changes under them.
 * A crash between 1 and 2 leaves a .tmp- file, which is never listed.
 *
 * Locking.  This file keeps no mutable state in memory, so there is no mutex.
 * The only lock is an exclusive flock on ROOT/BUCKET/.lock (a new open file
 * description per call, so it also excludes the other threads of this
 * process).  It protects the object namespace of the bucket: the compare and
 * the rename of a conditional put, and the rename of a plain put and the
 * unlink of a delete (so that neither can slip between another put's compare
 * and rename, which would break compare-and-swap).  It is never held while
 * writing or reading data or calling fsync, and nothing else is taken while
 * it is held.  flock works between processes on a local filesystem; on NFS
 * Linux emulates it with POSIX byte-range locks, which also work.
 *
 * Errors: local I/O errors are STORE_PERMANENT, logged with the path and
 * strerror.  A missing file is STORE_NOT_FOUND and is not logged.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cleanup.h"
#include "hash.h"
#include "log.h"
#include "store.h"

#define HDR_SIZE 64
#define HDR_MAGIC "S3COWDIR1 "
#define HDR_MAGIC_LEN 10
#define ETAG_LEN 32     /* hex digits: 16 bytes of SHA-256 */
#define KEY_MAX 1024    /* as S3 */
#define SEGMENT_MAX 255 /* NAME_MAX on Linux */

struct dir_store {
  struct store base; /* must be first: store.c sees only this */
  char *bucket;      /* for messages */
  char *bucket_dir;  /* ROOT/BUCKET, no trailing '/' */
  char *lock_path;   /* ROOT/BUCKET/.lock */
  char *prefix;      /* "" or the key prefix */
};
/* None of the fields changes after store_dir_open: no mutex is needed. */

/* Numbers the temporary files of this process.  Atomic: no lock. */
static atomic_ulong tmp_counter;

/* Is name (prefix + key) valid?  See "Names" above. */
static bool
valid_name (const char *name)
{
  size_t len = strlen (name);
  const char *p = name;

  if (len == 0 || len > KEY_MAX)
    return false;
  for (;;) {
    size_t seg = strcspn (p, "/");
    if (seg == 0 || seg > SEGMENT_MAX || p[0] == '.')
      return false;
    if (p[seg] == '\0')
      return true;
    p += seg + 1;
  }
}

/* Build the path of key's object into *path (malloc'd).  Returns STORE_OK,
 * or STORE_PERMANENT after logging an invalid key.
 */
static int
object_path (struct dir_store *s, const char *key, char **path)
{
  CLEANUP_FREE char *name = NULL;

  if (asprintf (&name, "%s%s", s->prefix, key) == -1) {
    s3cow_log_error ("key %s: asprintf: %s", key, strerror (errno));
    return STORE_PERMANENT;
  }
  if (!valid_name (name)) {
    s3cow_log_error ("invalid key \"%s\" (directory store: '/'-separated "
                     "segments of 1 to %d bytes, none starting with '.', "
                     "at most %d bytes in all)",
                     name, SEGMENT_MAX, KEY_MAX);
    return STORE_PERMANENT;
  }
  if (asprintf (path, "%s/%s", s->bucket_dir, name) == -1) {
    s3cow_log_error ("key %s: asprintf: %s", key, strerror (errno));
    return STORE_PERMANENT;
  }
  return STORE_OK;
}

/* The bucket directory must exist, as S3's bucket must.  STORE_OK or
 * STORE_PERMANENT after logging.
 */
static int
check_bucket (struct dir_store *s)
{
  struct stat st;

  if (stat (s->bucket_dir, &st) == -1) {
    int err = errno;
    if (err == ENOENT)
      s3cow_log_error ("bucket %s does not exist (NoSuchBucket): "
                       "no directory %s",
                       s->bucket, s->bucket_dir);
    else
      s3cow_log_error ("bucket %s: %s: %s", s->bucket, s->bucket_dir,
                       strerror (err));
    return STORE_PERMANENT;
  }
  if (!S_ISDIR (st.st_mode)) {
    s3cow_log_error ("bucket %s: %s is not a directory", s->bucket,
                     s->bucket_dir);
    return STORE_PERMANENT;
  }
  return STORE_OK;
}

/* Read up to count bytes at offset, stopping early only at the end of the
 * file.  Returns the number of bytes read, or -1 with errno set.
 */
static ssize_t
read_full (int fd, void *buf, size_t count, off_t offset)
{
  size_t done = 0;

  while (done < count) {
    ssize_t r = pread (fd, (char *)buf + done, count - done, offset + done);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0)
      break;
    done += r;
  }
  return done;
}

/* Write all of buf.  Returns 0, or -1 with errno set. */
static int
write_full (int fd, const void *buf, size_t count)
{
  size_t done = 0;

  while (done < count) {
    ssize_t r = write (fd, (const char *)buf + done, count - done);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    done += r;
  }
  return 0;
}

/* fsync a directory, so that the names created or renamed in it are
 * durable.  STORE_OK or STORE_PERMANENT after logging.
 */
static int
fsync_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd == -1) {
    s3cow_log_error ("open %s: %s", dir, strerror (errno));
    return STORE_PERMANENT;
  }
  if (fsync (fd) == -1) {
    s3cow_log_error ("fsync %s: %s", dir, strerror (errno));
    close (fd);
    return STORE_PERMANENT;
  }
  if (close (fd) == -1) {
    s3cow_log_error ("close %s: %s", dir, strerror (errno));
    return STORE_PERMANENT;
  }
  return STORE_OK;
}

/* Open key's object file at path and check its header.  On STORE_OK:
 * *size, *mtime and etag (room for ETAG_LEN + 1) are filled where not NULL,
 * and *fdp is the open file (the caller closes it) or, with fdp NULL, the
 * file is closed.  STORE_NOT_FOUND when there is no object (missing file or
 * directory, or a directory where the file would be).  Otherwise
 * STORE_PERMANENT after logging.
 */
static int
open_object (const char *key, const char *path, int *fdp, uint64_t *size,
             time_t *mtime, char *etag)
{
  char hdr[HDR_SIZE];
  struct stat st;
  ssize_t r;
  int fd, i;

  /* O_NONBLOCK: a FIFO put there by hand must not hang us. */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd == -1) {
    if (errno == ENOENT || errno == ENOTDIR)
      return STORE_NOT_FOUND;
    s3cow_log_error ("key %s: open %s: %s", key, path, strerror (errno));
    return STORE_PERMANENT;
  }
  if (fstat (fd, &st) == -1) {
    s3cow_log_error ("key %s: fstat %s: %s", key, path, strerror (errno));
    goto permanent;
  }
  if (S_ISDIR (st.st_mode)) {
    /* Only longer keys ("KEY/...") exist: KEY itself does not. */
    close (fd);
    return STORE_NOT_FOUND;
  }
  if (!S_ISREG (st.st_mode)) {
    s3cow_log_error ("key %s: %s is not a regular file", key, path);
    goto permanent;
  }
  r = read_full (fd, hdr, HDR_SIZE, 0);
  if (r == -1) {
    s3cow_log_error ("key %s: read %s: %s", key, path, strerror (errno));
    goto permanent;
  }
  if (r != HDR_SIZE || memcmp (hdr, HDR_MAGIC, HDR_MAGIC_LEN) != 0
      || hdr[HDR_SIZE - 1] != '\n')
    goto bad_header;
  for (i = 0; i < ETAG_LEN; i++) {
    char c = hdr[HDR_MAGIC_LEN + i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      goto bad_header;
  }

  if (size)
    *size = st.st_size - HDR_SIZE;
  if (mtime)
    *mtime = st.st_mtim.tv_sec;
  if (etag) {
    memcpy (etag, hdr + HDR_MAGIC_LEN, ETAG_LEN);
    etag[ETAG_LEN] = '\0';
  }
  if (fdp)
    *fdp = fd;
  else
    close (fd);
  return STORE_OK;

bad_header:
  s3cow_log_error ("key %s: %s is not an object of the s3cow directory "
                   "store (bad header)",
                   key, path);
permanent:
  close (fd);
  return STORE_PERMANENT;
}

/* Take the bucket lock (see "Locking" above).  Returns the lock's fd, to be
 * given to unlock_bucket, or -1 after logging.
 */
static int
lock_bucket (struct dir_store *s)
{
  int fd = open (s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);

  if (fd == -1) {
    int err = errno;
    if (err == ENOENT)
      s3cow_log_error ("bucket %s does not exist (NoSuchBucket): "
                       "no directory %s",
                       s->bucket, s->bucket_dir);
    else
      s3cow_log_error ("open %s: %s", s->lock_path, strerror (err));
    return -1;
  }
  while (flock (fd, LOCK_EX) == -1) {
    if (errno == EINTR)
      continue;
    s3cow_log_error ("flock %s: %s", s->lock_path, strerror (errno));
    close (fd);
    return -1;
  }
  return fd;
}

static void
unlock_bucket (int fd)
{
  /* Closing the only descriptor of the open file releases the flock.  Its
   * error does not matter: nothing was written through it.
   */
  close (fd);
}

/* Strip surrounding double quotes from a caller's etag (S3 etags are quoted
 * on the wire; store.h passes them without).  Returns the length to compare.
 */
static size_t
unquote (const char **etag)
{
  size_t len = strlen (*etag);

  if (len >= 2 && (*etag)[0] == '"' && (*etag)[len - 1] == '"') {
    (*etag)++;
    return len - 2;
  }
  return len;
}

/* Does the object at path satisfy the put's condition right now?
 * STORE_OK when it does (or when there is no condition), else
 * STORE_PRECONDITION, STORE_NOT_FOUND (if_match and no object) or
 * STORE_PERMANENT after logging.  Called once without the bucket lock, to fail
 * fast before writing any data, and again under the lock, where it counts.
 */
static int
check_condition (const char *key, const char *path, const char *if_match,
                 bool if_absent)
{
  char current[ETAG_LEN + 1];
  const char *want = if_match;
  size_t want_len;
  int r;

  if (!if_match && !if_absent)
    return STORE_OK;
  r = open_object (key, path, NULL, NULL, NULL, current);
  if (if_absent) {
    if (r == STORE_OK)
      return STORE_PRECONDITION;
    if (r == STORE_NOT_FOUND)
      return STORE_OK;
    return r;
  }
  if (r != STORE_OK)
    return r;
  want_len = unquote (&want);
  if (want_len != ETAG_LEN || memcmp (want, current, ETAG_LEN) != 0)
    return STORE_PRECONDITION;
  return STORE_OK;
}

/* Create the directories above path (below the bucket directory) that do
 * not exist yet, fsync'ing each new one into its parent.  STORE_OK or
 * STORE_PERMANENT after logging.
 */
static int
make_parents (struct dir_store *s, const char *key, const char *path)
{
  CLEANUP_FREE char *p = strdup (path);
  char *slash;

  if (p == NULL) {
    s3cow_log_error ("key %s: strdup: %s", key, strerror (errno));
    return STORE_PERMANENT;
  }
  /* Skip ROOT/BUCKET/: it exists (check_bucket). */
  slash = p + strlen (s->bucket_dir);
  while ((slash = strchr (slash + 1, '/')) != NULL) {
    *slash = '\0';
    if (mkdir (p, 0777) == 0) {
      char *up = strrchr (p, '/');
      int r;
      *up = '\0';
      r = fsync_dir (p);
      *up = '/';
      if (r != STORE_OK)
        return r;
    } else if (errno != EEXIST) {
      int err = errno;
      s3cow_log_error ("key %s: mkdir %s: %s%s", key, p, strerror (err),
                       err == ENOTDIR ? " (in the directory store a key "
                                        "cannot also be the directory of "
                                        "other keys)"
                                      : "");
      return STORE_PERMANENT;
    }
    *slash = '/';
  }
  return STORE_OK;
}

/* Write header + data to a new temporary file in dir and fsync it.  On
 * STORE_OK *tmp is its path (malloc'd); otherwise nothing is left behind and
 * the error is logged.
 */
static int
write_temp (const char *key, const char *dir, const char *hdr, const void *data,
            size_t len, char **tmp)
{
  int fd;

  for (;;) {
    unsigned long n = atomic_fetch_add (&tmp_counter, 1);
    if (asprintf (tmp, "%s/.tmp-%ld-%lu", dir, (long)getpid (), n) == -1) {
      s3cow_log_error ("key %s: asprintf: %s", key, strerror (errno));
      return STORE_PERMANENT;
    }
    fd = open (*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0)
      break;
    if (errno != EEXIST) {
      s3cow_log_error ("key %s: create %s: %s", key, *tmp, strerror (errno));
      free (*tmp);
      return STORE_PERMANENT;
    }
    /* Left by a crashed process that had our pid: take the next number. */
    free (*tmp);
  }

  if (write_full (fd, hdr, HDR_SIZE) == -1
      || write_full (fd, data, len) == -1) {
    s3cow_log_error ("key %s: write %s: %s", key, *tmp, strerror (errno));
    goto fail;
  }
  if (fsync (fd) == -1) {
    s3cow_log_error ("key %s: fsync %s: %s", key, *tmp, strerror (errno));
    goto fail;
  }
  if (close (fd) == -1) {
    fd = -1;
    s3cow_log_error ("key %s: close %s: %s", key, *tmp, strerror (errno));
    goto fail;
  }
  return STORE_OK;

fail:
  if (fd >= 0)
    close (fd);
  unlink (*tmp);
  free (*tmp);
  return STORE_PERMANENT;
}

/* The etag of data: hex of the first 16 bytes of its SHA-256.  If the caller
 * gave sha256_hex, it must be the right one (S3 checks it too).
 */
static int
compute_etag (const char *key, const void *data, size_t len,
              const char *sha256_hex, char *etag)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[HASH_SHA256_LEN];
  char full[2 * HASH_SHA256_LEN + 1];
  unsigned int md_len = HASH_SHA256_LEN, i;

  hash_sha256 (data, len, md);
  for (i = 0; i < md_len; i++) {
    full[2 * i] = hex[md[i] >> 4];
    full[2 * i + 1] = hex[md[i] & 15];
  }
  full[2 * md_len] = '\0';
  if (sha256_hex && strcmp (sha256_hex, full) != 0) {
    s3cow_log_error ("key %s: the content's SHA-256 is %s, not %s as the "
                     "caller said (XAmzContentSHA256Mismatch)",
                     key, full, sha256_hex);
    return STORE_PERMANENT;
  }
  memcpy (etag, full, ETAG_LEN);
  etag[ETAG_LEN] = '\0';
  return STORE_OK;
}

static int
dir_put (struct store *store, const char *key, const void *data, size_t len,
         const char *sha256_hex, const char *if_match, bool if_absent,
         char *etag)
{
  struct dir_store *s = (struct dir_store *)store;
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *dir = NULL;
  CLEANUP_FREE char *tmp = NULL;
  char new_etag[ETAG_LEN + 1];
  char hdr[HDR_SIZE];
  int r, lock_fd;

  r = object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = check_bucket (s);
  if (r != STORE_OK)
    return r;
  r = compute_etag (key, data, len, sha256_hex, new_etag);
  if (r != STORE_OK)
    return r;
  memset (hdr, ' ', HDR_SIZE);
  memcpy (hdr, HDR_MAGIC, HDR_MAGIC_LEN);
  memcpy (hdr + HDR_MAGIC_LEN, new_etag, ETAG_LEN);
  hdr[HDR_SIZE - 1] = '\n';

  /* Fail fast, before writing anything: the usual loser of a race. */
  r = check_condition (key, path, if_match, if_absent);
  if (r != STORE_OK)
    return r;

  dir = strndup (path, strrchr (path, '/') - path);
  if (dir == NULL) {
    s3cow_log_error ("key %s: strndup: %s", key, strerror (errno));
    return STORE_PERMANENT;
  }
  r = make_parents (s, key, path);
  if (r != STORE_OK)
    return r;

  /* 1. Write and fsync the new content, outside the lock. */
  r = write_temp (key, dir, hdr, data, len, &tmp);
  if (r != STORE_OK)
    return r;

  /* 2. Compare and rename under the bucket lock. */
  lock_fd = lock_bucket (s);
  if (lock_fd == -1) {
    r = STORE_PERMANENT;
    goto fail;
  }
  r = check_condition (key, path, if_match, if_absent);
  if (r == STORE_OK && rename (tmp, path) == -1) {
    int err = errno;
    s3cow_log_error ("key %s: rename %s to %s: %s%s", key, tmp, path,
                     strerror (err),
                     err == EISDIR || err == ENOTEMPTY || err == EEXIST
                         ? " (in the directory store a key cannot also be the "
                           "directory of other keys)"
                         : "");
    r = STORE_PERMANENT;
  }
  unlock_bucket (lock_fd);
  if (r != STORE_OK)
    goto fail;

  /* 3. Make the rename durable. */
  r = fsync_dir (dir);
  if (r != STORE_OK)
    return r;

  if (etag)
    memcpy (etag, new_etag, ETAG_LEN + 1);
  return STORE_OK;

fail:
  if (unlink (tmp) == -1 && errno != ENOENT)
    s3cow_log_error ("key %s: unlink %s: %s", key, tmp, strerror (errno));
  return r;
}

static int
dir_get (struct store *store, const char *key, uint64_t offset, size_t count,
         bool whole, void *buf, size_t cap, size_t *len, char *etag,
         store_check_fn check, void *check_opaque)
{
  struct dir_store *s = (struct dir_store *)store;
  CLEANUP_FREE char *path = NULL;
  uint64_t size;
  size_t want;
  ssize_t got;
  int r, fd;

  /* Local files are not damaged on the way: the caller checks the body. */
  (void)check;
  (void)check_opaque;
  r = object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = check_bucket (s);
  if (r != STORE_OK)
    return r;
  r = open_object (key, path, &fd, &size, NULL, etag);
  if (r != STORE_OK)
    return r;

  if (whole) {
    if (size > cap) {
      s3cow_log_error ("key %s: the object is %" PRIu64 " bytes, more than "
                       "the %zu the caller allows",
                       key, size, cap);
      close (fd);
      return STORE_PERMANENT;
    }
    offset = 0;
    want = size;
  } else if (offset >= size)
    want = 0;
  else
    want = size - offset < count ? size - offset : count;

  got = read_full (fd, buf, want, HDR_SIZE + offset);
  if (got == -1) {
    s3cow_log_error ("key %s: read %s: %s", key, path, strerror (errno));
    close (fd);
    return STORE_PERMANENT;
  }
  close (fd);
  if ((size_t)got != want) {
    /* Objects are replaced by rename, never changed in place. */
    s3cow_log_error ("key %s: %s: short read (%zd of %zu bytes): the file "
                     "was truncated behind the store's back",
                     key, path, got, want);
    return STORE_PERMANENT;
  }
  *len = want;
  return STORE_OK;
}

static int
dir_get_alloc (struct store *store, const char *key, size_t max, void **data,
               size_t *len, char *etag)
{
  struct dir_store *s = (struct dir_store *)store;
  CLEANUP_FREE char *path = NULL;
  uint64_t size;
  ssize_t got;
  void *buf;
  int r, fd;

  r = object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = check_bucket (s);
  if (r != STORE_OK)
    return r;
  r = open_object (key, path, &fd, &size, NULL, etag);
  if (r != STORE_OK)
    return r;
  if (size > max) {
    s3cow_log_error ("key %s: the object is %" PRIu64 " bytes, more than "
                     "the %zu the caller allows",
                     key, size, max);
    close (fd);
    return STORE_PERMANENT;
  }
  buf = malloc (size ? size : 1);
  if (buf == NULL) {
    s3cow_log_error ("key %s: malloc %" PRIu64 ": %s", key, size,
                     strerror (errno));
    close (fd);
    return STORE_PERMANENT;
  }
  got = read_full (fd, buf, size, HDR_SIZE);
  if (got == -1) {
    s3cow_log_error ("key %s: read %s: %s", key, path, strerror (errno));
    goto fail;
  }
  if ((uint64_t)got != size) {
    s3cow_log_error ("key %s: %s: short read (%zd of %" PRIu64 " bytes): "
                     "the file was truncated behind the store's back",
                     key, path, got, size);
    goto fail;
  }
  close (fd);
  *data = buf;
  *len = size;
  return STORE_OK;

fail:
  close (fd);
  free (buf);
  return STORE_PERMANENT;
}

static int
dir_head (struct store *store, const char *key, uint64_t *size, char *etag,
          time_t *mtime)
{
  struct dir_store *s = (struct dir_store *)store;
  CLEANUP_FREE char *path = NULL;
  int r;

  r = object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = check_bucket (s);
  if (r != STORE_OK)
    return r;
  return open_object (key, path, NULL, size, mtime, etag);
}

static int
dir_delete (struct store *store, const char *key)
{
  struct dir_store *s = (struct dir_store *)store;
  CLEANUP_FREE char *path = NULL;
  int r, lock_fd, err = 0;
  char *slash;

  r = object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = check_bucket (s);
  if (r != STORE_OK)
    return r;

  lock_fd = lock_bucket (s);
  if (lock_fd == -1)
    return STORE_PERMANENT;
  if (unlink (path) == -1)
    err = errno;
  unlock_bucket (lock_fd);

  /* Nothing there, or only longer keys (a directory, EISDIR on Linux): the
   * key is deleted, as S3 says.  Empty parent directories are left: removing
   * them would race with puts creating files in them.
   */
  if (err == ENOENT || err == ENOTDIR || err == EISDIR)
    return STORE_OK;
  if (err) {
    s3cow_log_error ("key %s: unlink %s: %s", key, path, strerror (err));
    return STORE_PERMANENT;
  }
  slash = strrchr (path, '/');
  *slash = '\0';
  return fsync_dir (path);
}

/* A growing array of names, for list. */
struct names {
  char **v;
  size_t n, cap;
};

static void
names_free (struct names *names)
{
  size_t i;

  for (i = 0; i < names->n; i++)
    free (names->v[i]);
  free (names->v);
}

static int
names_add (struct names *names, char *name)
{
  if (names->n == names->cap) {
    size_t cap = names->cap ? 2 * names->cap : 256;
    char **v = realloc (names->v, cap * sizeof *v);
    if (v == NULL)
      return -1;
    names->v = v;
    names->cap = cap;
  }
  names->v[names->n++] = name;
  return 0;
}

static int
compare_names (const void *a, const void *b)
{
  /* strcmp compares as unsigned char: S3's byte order. */
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Collect into names every object below directory dirpath whose name in the
 * directory starts with filter (in subdirectories: every object).  rel is
 * dirpath relative to the bucket, "" or ending in '/'.  Names starting with
 * '.' are the store's own (lock, temporary files) and are skipped.  A missing
 * directory holds no objects.  STORE_OK or STORE_PERMANENT after logging.
 */
static int
walk (const char *dirpath, const char *rel, const char *filter,
      struct names *names)
{
  size_t filter_len = strlen (filter);
  struct dirent *d;
  int r = STORE_OK;
  DIR *dir;

  dir = opendir (dirpath);
  if (dir == NULL) {
    if (errno == ENOENT || errno == ENOTDIR)
      return STORE_OK;
    s3cow_log_error ("list: opendir %s: %s", dirpath, strerror (errno));
    return STORE_PERMANENT;
  }
  for (;;) {
    unsigned char type;
    char *name;

    errno = 0;
    d = readdir (dir);
    if (d == NULL) {
      if (errno != 0) {
        s3cow_log_error ("list: readdir %s: %s", dirpath, strerror (errno));
        r = STORE_PERMANENT;
      }
      break;
    }
    if (d->d_name[0] == '.' || strncmp (d->d_name, filter, filter_len) != 0)
      continue;

    type = d->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat (dirfd (dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
        if (errno == ENOENT)
          continue; /* deleted meanwhile */
        s3cow_log_error ("list: stat %s/%s: %s", dirpath, d->d_name,
                         strerror (errno));
        r = STORE_PERMANENT;
        break;
      }
      type = S_ISDIR (st.st_mode) ? DT_DIR : S_ISREG (st.st_mode) ? DT_REG : 0;
    }

    if (type == DT_DIR) {
      CLEANUP_FREE char *subpath = NULL;
      CLEANUP_FREE char *subrel = NULL;
      if (asprintf (&subpath, "%s/%s", dirpath, d->d_name) == -1
          || asprintf (&subrel, "%s%s/", rel, d->d_name) == -1) {
        s3cow_log_error ("list: asprintf: %s", strerror (errno));
        r = STORE_PERMANENT;
        break;
      }
      r = walk (subpath, subrel, "", names);
      if (r != STORE_OK)
        break;
    } else if (type == DT_REG) {
      if (asprintf (&name, "%s%s", rel, d->d_name) == -1) {
        s3cow_log_error ("list: asprintf: %s", strerror (errno));
        r = STORE_PERMANENT;
        break;
      }
      if (names_add (names, name) == -1) {
        s3cow_log_error ("list: realloc: %s", strerror (errno));
        free (name);
        r = STORE_PERMANENT;
        break;
      }
    }
    /* Anything else (symlinks, ...) is not an object. */
  }
  closedir (dir);
  return r;
}

static int
dir_list (struct store *store, const char *key_prefix, store_list_fn fn,
          void *opaque)
{
  struct dir_store *s = (struct dir_store *)store;
  struct names names = { 0 };
  CLEANUP_FREE char *full = NULL;
  CLEANUP_FREE char *rel = NULL;
  CLEANUP_FREE char *dirpath = NULL;
  size_t prefix_len = strlen (s->prefix);
  const char *filter;
  size_t i;
  int r;

  r = check_bucket (s);
  if (r != STORE_OK)
    return r;
  if (asprintf (&full, "%s%s", s->prefix, key_prefix) == -1) {
    s3cow_log_error ("list: asprintf: %s", strerror (errno));
    return STORE_PERMANENT;
  }

  /* Start in the directory named by full up to its last '/'; the rest
   * filters the names in that directory.  If that directory part is not a
   * valid name, no key can start with full.
   */
  filter = strrchr (full, '/');
  if (filter) {
    rel = strndup (full, filter + 1 - full);
    if (rel == NULL) {
      s3cow_log_error ("list: strndup: %s", strerror (errno));
      return STORE_PERMANENT;
    }
    rel[filter - full] = '\0';
    if (!valid_name (rel))
      return STORE_OK;
    rel[filter - full] = '/';
    filter++;
  } else {
    rel = strdup ("");
    if (rel == NULL) {
      s3cow_log_error ("list: strdup: %s", strerror (errno));
      return STORE_PERMANENT;
    }
    filter = full;
  }
  if (asprintf (&dirpath, "%s/%s", s->bucket_dir, rel) == -1) {
    s3cow_log_error ("list: asprintf: %s", strerror (errno));
    return STORE_PERMANENT;
  }

  r = walk (dirpath, rel, filter, &names);
  if (r == STORE_OK && names.n > 0)
    qsort (names.v, names.n, sizeof names.v[0], compare_names);

  for (i = 0; r == STORE_OK && i < names.n; i++) {
    CLEANUP_FREE char *path = NULL;
    char etag[ETAG_LEN + 1];
    struct store_entry entry;

    if (asprintf (&path, "%s/%s", s->bucket_dir, names.v[i]) == -1) {
      s3cow_log_error ("list: asprintf: %s", strerror (errno));
      r = STORE_PERMANENT;
      break;
    }
    r = open_object (names.v[i], path, NULL, &entry.size, &entry.mtime, etag);
    if (r == STORE_NOT_FOUND) {
      r = STORE_OK; /* deleted since the walk */
      continue;
    }
    if (r != STORE_OK)
      break;
    entry.key = names.v[i] + prefix_len;
    entry.etag = etag;
    r = fn (opaque, &entry);
  }
  names_free (&names);
  return r;
}

static void
dir_close (struct store *store)
{
  struct dir_store *s = (struct dir_store *)store;

  free (s->bucket);
  free (s->bucket_dir);
  free (s->lock_path);
  free (s->prefix);
  free (s);
}

static const struct store_ops dir_ops = {
  .name = "dir",
  .close = dir_close,
  .get = dir_get,
  .get_alloc = dir_get_alloc,
  .put = dir_put,
  .delete = dir_delete,
  .head = dir_head,
  .list = dir_list,
};

struct store *
store_dir_open (const struct store_config *config, const char *root)
{
  const char *bucket = config->bucket;
  const char *prefix = config->prefix ? config->prefix : "";
  CLEANUP_FREE char *check = NULL;
  struct dir_store *s;
  size_t root_len = strlen (root);

  /* store.c checked that bucket is set and root is absolute. */
  if (strchr (bucket, '/') || bucket[0] == '.'
      || strlen (bucket) > SEGMENT_MAX) {
    s3cow_log_error ("invalid bucket name \"%s\" for the directory store "
                     "(a directory name: no '/', not starting with '.')",
                     bucket);
    return NULL;
  }
  /* The prefix is valid if a key after it can be. */
  if (asprintf (&check, "%sx", prefix) == -1) {
    s3cow_log_error ("asprintf: %s", strerror (errno));
    return NULL;
  }
  if (!valid_name (check)) {
    s3cow_log_error ("invalid prefix \"%s\" for the directory store "
                     "('/'-separated segments, none empty or starting "
                     "with '.', not starting with '/')",
                     prefix);
    return NULL;
  }

  s = calloc (1, sizeof *s);
  if (s == NULL) {
    s3cow_log_error ("calloc: %s", strerror (errno));
    return NULL;
  }
  s->base.ops = &dir_ops;
  while (root_len > 1 && root[root_len - 1] == '/')
    root_len--;
  if (root_len == 1)
    root_len = 0; /* root is "/": avoid "//bucket" */
  s->bucket = strdup (bucket);
  s->prefix = strdup (prefix);
  if (s->bucket == NULL || s->prefix == NULL) {
    s3cow_log_error ("strdup: %s", strerror (errno));
    goto fail;
  }
  if (asprintf (&s->bucket_dir, "%.*s/%s", (int)root_len, root, bucket) == -1) {
    s->bucket_dir = NULL; /* undefined after a failure */
    s3cow_log_error ("asprintf: %s", strerror (errno));
    goto fail;
  }
  if (asprintf (&s->lock_path, "%s/.lock", s->bucket_dir) == -1) {
    s->lock_path = NULL;
    s3cow_log_error ("asprintf: %s", strerror (errno));
    goto fail;
  }
  return &s->base;

fail:
  dir_close (&s->base);
  return NULL;
}
