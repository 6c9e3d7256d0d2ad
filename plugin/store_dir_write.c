/* s3cow: the directory store (store_dir.c): put and delete, the calls
 * that change the bucket's namespace.
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
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cleanup.h"
#include "hash.h"
#include "log.h"
#include "store.h"
#include "store_dir-internal.h"

/* Numbers the temporary files of this process.  Atomic: no lock. */
static atomic_ulong tmp_counter;

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
  r = dir_open_object (key, path, NULL, NULL, NULL, current);
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
  /* Skip ROOT/BUCKET/: it exists (dir_check_bucket). */
  slash = p + strlen (s->bucket_dir);
  while ((slash = strchr (slash + 1, '/')) != NULL) {
    *slash = '\0';
    if (mkdir (p, 0777) == 0) {
      char *up = strrchr (p, '/');
      int r;
      *up = '\0';
      r = dir_fsync (p);
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

int
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

  r = dir_object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = dir_check_bucket (s);
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
  r = dir_fsync (dir);
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

int
dir_delete (struct store *store, const char *key)
{
  struct dir_store *s = (struct dir_store *)store;
  CLEANUP_FREE char *path = NULL;
  int r, lock_fd, err = 0;
  char *slash;

  r = dir_object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = dir_check_bucket (s);
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
  return dir_fsync (path);
}
