/* s3cow: the directory store's private header, shared by store_dir.c
 * (layout, names, reading objects, open), store_dir_write.c (put, delete)
 * and store_dir_list.c (list).  See store_dir.c for the layout.
 */
#ifndef S3COW_STORE_DIR_INTERNAL_H
#define S3COW_STORE_DIR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

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

/* store_dir.c */
bool dir_valid_name (const char *name);
int dir_object_path (struct dir_store *s, const char *key, char **path);
int dir_check_bucket (struct dir_store *s);
ssize_t dir_read_full (int fd, void *buf, size_t count, off_t offset);
int dir_fsync (const char *dir);
int dir_open_object (const char *key, const char *path, int *fdp,
                     uint64_t *size, time_t *mtime, char *etag);

/* store_dir_write.c */
int dir_put (struct store *store, const char *key, const void *data, size_t len,
             const char *sha256_hex, const char *if_match, bool if_absent,
             char *etag);
int dir_delete (struct store *store, const char *key);

/* store_dir_list.c */
int dir_list (struct store *store, const char *key_prefix, store_list_fn fn,
              void *opaque);

#endif /* S3COW_STORE_DIR_INTERNAL_H */
