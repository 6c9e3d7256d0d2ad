/* s3cow: the directory store (store_dir.c): list.  A walk of the
 * directories below the prefix's, names sorted in S3's byte order, each
 * object's size, mtime and etag read from its header (64 bytes).
 */
#include <config.h>

#include <dirent.h>
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

int
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

  r = dir_check_bucket (s);
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
    if (!dir_valid_name (rel))
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
    r = dir_open_object (names.v[i], path, NULL, &entry.size, &entry.mtime,
                         etag);
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
