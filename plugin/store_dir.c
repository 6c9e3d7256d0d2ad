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
 *   ROOT/BUCKET/DIRS/.tmp-PID-N     an object being written (store_dir_write.c)
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
 * Put and delete, with the locking (store_dir_write.c), and list
 * (store_dir_list.c) have their own files, over store_dir-internal.h;
 * this one checks names, reads objects and opens the store.
 *
 * Errors: local I/O errors are STORE_PERMANENT, logged with the path and
 * strerror.  A missing file is STORE_NOT_FOUND and is not logged.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "store.h"
#include "store_dir-internal.h"

/* Is name (prefix + key) valid?  See "Names" above. */
bool
dir_valid_name (const char *name)
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
int
dir_object_path (struct dir_store *s, const char *key, char **path)
{
  CLEANUP_FREE char *name = NULL;

  if (asprintf (&name, "%s%s", s->prefix, key) == -1) {
    s3cow_log_error ("key %s: asprintf: %s", key, strerror (errno));
    return STORE_PERMANENT;
  }
  if (!dir_valid_name (name)) {
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
int
dir_check_bucket (struct dir_store *s)
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
ssize_t
dir_read_full (int fd, void *buf, size_t count, off_t offset)
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

/* fsync a directory, so that the names created or renamed in it are
 * durable.  STORE_OK or STORE_PERMANENT after logging.
 */
int
dir_fsync (const char *dir)
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
int
dir_open_object (const char *key, const char *path, int *fdp, uint64_t *size,
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
  r = dir_read_full (fd, hdr, HDR_SIZE, 0);
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
  r = dir_object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = dir_check_bucket (s);
  if (r != STORE_OK)
    return r;
  r = dir_open_object (key, path, &fd, &size, NULL, etag);
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

  got = dir_read_full (fd, buf, want, HDR_SIZE + offset);
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

  r = dir_object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = dir_check_bucket (s);
  if (r != STORE_OK)
    return r;
  r = dir_open_object (key, path, &fd, &size, NULL, etag);
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
  got = dir_read_full (fd, buf, size, HDR_SIZE);
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

  r = dir_object_path (s, key, &path);
  if (r != STORE_OK)
    return r;
  r = dir_check_bucket (s);
  if (r != STORE_OK)
    return r;
  return dir_open_object (key, path, NULL, size, mtime, etag);
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
  if (!dir_valid_name (check)) {
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
