/* s3cow: a disk's history, read-only: its kept heads, and what a ref
 * (DISK, DISK@SNAP or DISK@TIME) names.
 *
 * A commit keeps a copy of the head it wrote under
 * disks/D/history/<generation>-<committed> (names.h) for the disk's
 * history window (the head's history field); gc deletes the kept heads
 * that left the window (volume_gc.c).  Generation and commit time are in
 * the key, so one listing of disks/D/history/ answers "which commit was
 * the last at or before TIME" without reading the objects.
 *
 * The copy is written once the head landed (by a server in the
 * background, off the flush path), and always before that head is
 * replaced (volume_head.c): the disk's head may have no kept copy yet,
 * every head it replaced within the window has one.
 *
 * Times.  committed is the clock of the server that committed, in whole
 * seconds, but never earlier than the commit before it (volume_head.c):
 * the commit times of a disk never go backwards, also across a takeover
 * by a server whose clock is behind.  DISK@TIME names the commit of the
 * highest generation whose committed time is at most TIME.  Such a
 * server's commits carry the time of the last commit before the takeover
 * until its clock catches up, so TIME is only as exact as the servers'
 * clocks are synchronised.
 *
 * Like catalog.h: no state between calls, no locks, any thread.
 */
#ifndef S3COW_HISTORY_H
#define S3COW_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto.h"
#include "format.h"
#include "names.h"
#include "store.h"

/* One kept head, as listed. */
struct history_entry {
  uint64_t generation;
  uint64_t committed; /* unix seconds, the committing server's clock */
  time_t mtime;       /* the store's */
  char key[KEY_MAX_LEN];
};

struct history_list {
  struct history_entry *v; /* ascending by generation */
  size_t n, cap;
};

/* List disk's kept heads into *out (free with history_list_free).
 * Returns STORE_OK, or a store status (logged).
 */
int history_list (struct store *store, const char *disk,
                  struct history_list *out);
void history_list_free (struct history_list *list);

/* The object key that the MAC of an encrypted head stored under key is
 * bound to (room for KEY_MAX_LEN): its own for a disk's head or a
 * snapshot; for a kept head (disks/D/history/H), its disk's head key
 * disks/D/head, so that the copy verifies as "a head of disk D" wherever
 * it is read (it cannot pass for another disk's, nor for a snapshot).
 */
void history_mac_key (const char *key, char *mac_key);

/* Read and decode the head stored under key (a disk's head, a snapshot
 * or a kept head), then check it against the key c given (NULL: none):
 * head_check_key (label names it), and for an encrypted head its MAC
 * (history_mac_key).  etag may be NULL.  Returns as catalog_read_key; a
 * failed check is STORE_PERMANENT (logged).
 */
int history_read_key (struct store *store, const char *key, const char *label,
                      const struct crypto *c, struct head *head, char *etag);

/* The checks of history_read_key on head, decoded from raw (len bytes)
 * read from key.  STORE_OK, or STORE_PERMANENT (logged).
 */
int history_check_head (const char *key, const char *label,
                        const struct crypto *c, const struct head *head,
                        const void *raw, size_t len);

/* Read the head that ref names into *head, and the key it was read from
 * into key (room for KEY_MAX_LEN): the disk's head, a snapshot, or for
 * DISK@TIME the kept head of the last commit at or before the time (or
 * the disk's head itself when that is its last commit and it has no kept
 * copy yet).  keyed: it is checked against c (NULL: no key given) as
 * history_read_key does; else not (c unused), for the commands that need
 * no key (info, diff, and fsck, which checks on its own).  Returns
 * STORE_OK; STORE_NOT_FOUND when the disk or snapshot does not exist (not
 * logged); STORE_PERMANENT after logging why a time cannot be served
 * (before the disk existed, before its history window, in the future, a
 * commit not kept), an object does not decode, or the key does not fit;
 * or another store status (logged).
 */
int history_read_ref (struct store *store, const struct name_ref *ref,
                      bool keyed, const struct crypto *c, struct head *head,
                      char *key);

/* history_read_ref for commands: every failure logged for people ("disk
 * D does not exist" included).  Returns 0, or -1.
 */
int history_read_ref_logged (struct store *store, const struct name_ref *ref,
                             bool keyed, const struct crypto *c,
                             struct head *head, char *key);

/* One commit in a disk's history, for s3cow log. */
struct history_commit {
  uint64_t generation;
  uint64_t committed; /* unix seconds, the committing server's clock */
  bool kept;          /* a kept head (else the disk's head, not kept yet) */
  bool head;          /* the disk's head is this commit */
  bool wrote_map;     /* it wrote a map (else: a lease takeover or a
                       * change of settings, no data changed) */
  bool full;          /* that map is full (a compaction: it holds every
                       * chunk in use, not only the changed ones) */
  uint64_t entries;   /* the map's entries: the chunks changed, unless full */
};

/* The commits of disk that its history holds, and its head, ascending by
 * generation, into *out (a new malloc'd array of *n), and the head into
 * *cur.  Reads each kept head and the sizes of the disk's maps (a
 * listing); never a chunk, and no key is needed: their MACs are not
 * checked.  Returns as history_read_ref.
 */
int history_commits (struct store *store, const char *disk, struct head *cur,
                     struct history_commit **out, size_t *n);

#endif /* S3COW_HISTORY_H */
