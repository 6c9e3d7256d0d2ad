/* s3cow: what the bucket holds, read-only: disks, snapshots, heads, maps.
 *
 * The plugin opens one disk at a time (disk.c); the s3cow command and any
 * tool that looks at the whole bucket (ls, info, gc, fsck) use this instead.
 * Nothing here keeps state between calls or takes a lock: every function may
 * be called from any thread.  Memory is bounded by the objects read (a
 * resolved map costs 40 bytes per chunk that is not zero), never by the size
 * of a disk.
 *
 * Keys under disks/ are classified by catalog_parse_key:
 *
 *   disks/D/head        CATALOG_HEAD   (disk D)
 *   disks/D/snaps/S     CATALOG_SNAP   (disk D, name S)
 *   disks/D/maps/M      CATALOG_MAP    (disk D, name M)
 *   disks/D/lease       CATALOG_LEASE  (disk D)
 *   disks/D/history/H   CATALOG_HISTORY (disk D, name H: key_history_parse)
 *   disks/D/hints/S     CATALOG_HINTS  (disk D, name S: the snapshot)
 *   anything else       CATALOG_OTHER  (not written by s3cow: left alone)
 */
#ifndef S3COW_CATALOG_H
#define S3COW_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "names.h"
#include "store.h"

enum catalog_kind {
  CATALOG_OTHER,
  CATALOG_HEAD,
  CATALOG_SNAP,
  CATALOG_MAP,
  CATALOG_LEASE,
  CATALOG_HISTORY,
  CATALOG_HINTS,
};

struct catalog_key {
  enum catalog_kind kind;
  char disk[NAME_MAX_LEN + 1];    /* every kind but CATALOG_OTHER */
  char name[KEY_MAX_LEN];         /* the snapshot, map or kept head's name */
  uint64_t generation, committed; /* CATALOG_HISTORY: from the name */
};

/* Classify key (relative to the prefix) into *out and return its kind.
 * Disk, snapshot and map names must pass name_valid (as everything s3cow
 * writes does: no control bytes reach a terminal through gc or fsck);
 * anything else is CATALOG_OTHER.
 */
enum catalog_kind catalog_parse_key (const char *key, struct catalog_key *out);

/* Call fn for every key under disks/ whose kind is in kinds (a mask of
 * CATALOG_MASK (kind): CATALOG_HEAD for every disk, CATALOG_SNAP for every
 * snapshot, ...), in byte order, streaming the listing.  With disk non-NULL
 * only that disk's keys are listed.  fn returns 0 to go on; anything else
 * stops the listing and is returned.  Returns STORE_OK or a store status
 * (logged).
 */
#define CATALOG_MASK(kind) (1u << (kind))
typedef int (*catalog_key_fn) (void *opaque, const struct catalog_key *key,
                               const struct store_entry *entry);
int catalog_list (struct store *store, const char *disk, unsigned kinds,
                  catalog_key_fn fn, void *opaque);

/* Read and decode the head of disk (snap "" or NULL) or of the snapshot
 * disk@snap.  raw/raw_len (may be NULL): the object's bytes, a new malloc'd
 * buffer.  etag may be NULL.  Returns STORE_OK; STORE_NOT_FOUND (not
 * logged); STORE_PERMANENT for an object that does not decode (logged,
 * naming the key); or another store status (logged).
 */
int catalog_read_head (struct store *store, const char *disk, const char *snap,
                       struct head *head, char *etag, void **raw,
                       size_t *raw_len);

/* Read and decode the head object at key (a disk's head, a snapshot or a
 * kept head).  raw, raw_len, etag and the result as catalog_read_head.
 */
int catalog_read_key (struct store *store, const char *key, struct head *head,
                      char *etag, void **raw, size_t *raw_len);

/* Read and decode map key, which a head of this size and chunk size names.
 * With c (the key of an encrypted head; NULL: none) its MAC is checked
 * too.  *entries: a new malloc'd array.  Returns STORE_OK;
 * STORE_NOT_FOUND (not logged); STORE_PERMANENT when it does not decode
 * or authenticate (logged); or another store status (logged).
 */
int catalog_read_map (struct store *store, const struct head *head,
                      const char *key, const struct crypto *c,
                      struct map_entry **entries, size_t *n);

/* The chunk map a head describes: its maps applied in order onto an
 * all-zero disk, as the plugin does when it opens the disk.  *entries (a new
 * malloc'd array, sorted by idx) holds only the chunks that are not zero.
 * When a map fails, *bad_map (if not NULL, room for KEY_MAX_LEN) names it.
 * Returns as catalog_read_map.
 */
int catalog_resolve (struct store *store, const struct head *head,
                     const struct crypto *c, struct map_entry **entries,
                     size_t *n, char *bad_map);

/* Does head name map key? */
bool catalog_head_names_map (const struct head *head, const char *key);

/* The label of a head for messages: "DISK" or "DISK@SNAP", into label
 * (room for 2 * NAME_MAX_LEN + 2).
 */
void catalog_label (char *label, const char *disk, const char *snap);

/* Read disk's lease object for display.  The lease format belongs to the
 * plugin (lease.c, format.h); this needs to know one thing only: whether a
 * server says it holds the lease (a "state=released" line says it does
 * not).  It does not judge whether a held lease has expired: that would
 * compare clocks across machines.  Returns STORE_OK with *text (a new
 * string of printable ASCII and newlines) and *held, STORE_NOT_FOUND (no
 * lease; not logged), or another store status (logged).
 */
int catalog_lease_view (struct store *store, const char *disk, char **text,
                        bool *held);

#endif /* S3COW_CATALOG_H */
