/* s3cow: the stored objects that s3cow parses, and their (de)serialisation.
 *
 * Pure functions: no I/O, no locks.  Every decoder checks the magic, the
 * format version, every length against the object size and against fixed
 * limits, and the SHA-256 checksum trailer, so that a corrupt, truncated,
 * foreign or oversized object is refused with a message naming the key and
 * never half-read or used to size a huge allocation.  docs/format.md
 * describes the layouts byte by byte.
 */
#ifndef S3COW_FORMAT_H
#define S3COW_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "names.h"

#define FORMAT_VERSION 1
/* A commit never writes a head listing more than HEAD_MAX_MAPS maps: it
 * compacts well before (disk_commit.c).  Decoders take up to
 * HEAD_READ_MAX_MAPS, so that a head over the writers' limit (written by
 * an older s3cow) still opens, compacts on its next commit, and does not
 * stop gc, fsck or info for the rest of the bucket.  struct head holds
 * that many.
 */
#define HEAD_MAX_MAPS 64
#define HEAD_READ_MAX_MAPS 128
#define HEAD_MAX_SIZE 65536 /* bytes: bounds any head we read */
#define HEAD_ID_LEN 16      /* bytes: op_id and disk_id */
#define CHUNK_SIZE_MIN (64 * 1024)
#define CHUNK_SIZE_MAX (64 * 1024 * 1024)
#define DISK_SIZE_MAX (UINT64_C (1) << 50) /* 1 PiB */
/* The history window of a disk whose head does not say (written before
 * windows existed), and of a new disk unless told: seconds.
 */
#define HEAD_HISTORY_DEFAULT (UINT64_C (24) * 60 * 60)
#define HEAD_HISTORY_MAX (UINT64_C (3650) * 24 * 60 * 60) /* ten years */

/* A disk head (disks/D/head) or snapshot (disks/D/snaps/S): everything needed
 * to rebuild the disk's chunk map.  The maps are applied in order onto an
 * all-zero disk; maps[0] is usually a full map (a base), the rest deltas.
 */
struct head {
  /* Both all zero in objects written before they existed (then not
   * stored: flags bit 0 clear).  op_id: random, new for every write of a
   * head or snapshot by volume.c, so that a writer knows its own bytes
   * from anyone else's.  disk_id: random, set when the disk is created or
   * forked and kept by its commits and snapshots: tells one incarnation of
   * a disk name from a later one.
   */
  uint8_t op_id[HEAD_ID_LEN];
  uint8_t disk_id[HEAD_ID_LEN];
  /* The history window: for how long each commit's head is kept
   * (disks/D/history/), in seconds; 0: not kept.  has_history false in
   * objects written before windows existed (flags bit 1 clear): the
   * window is then HEAD_HISTORY_DEFAULT (head_history).  Every head a
   * commit writes stores it, so that an s3cow that does not know the
   * field refuses the disk (unknown flag) instead of letting its gc
   * collect what the kept heads name.
   */
  bool has_history;
  uint64_t history;
  /* An encrypted disk (flags bit 2): its chunks are sealed and its heads
   * and maps authenticated under the key whose fingerprint this is
   * (crypto.h).  Forks and snapshots keep both.
   */
  bool encrypted;
  uint8_t key_fingerprint[CRYPTO_FINGERPRINT_LEN];
  uint64_t size;                     /* bytes */
  uint32_t chunk_size;               /* bytes, power of two */
  uint64_t generation;               /* commits so far */
  uint64_t created;                  /* unix seconds */
  uint64_t committed;                /* unix seconds of the last commit */
  char parent[2 * NAME_MAX_LEN + 2]; /* "" or DISK or DISK@SNAP forked from */
  uint32_t nmaps;
  char maps[HEAD_READ_MAX_MAPS][KEY_MAX_LEN];
};

/* One chunk-map entry: chunk idx has content hash (all zero bytes: a chunk
 * of zeros, which has no object).
 */
struct map_entry {
  uint64_t idx;
  uint8_t hash[HASH_LEN];
};

/* Encode a head, to be stored under key, into a new malloc'd buffer.  An
 * encrypted head is authenticated with c, whose fingerprint must be the
 * head's (c is not used otherwise; may be NULL).  Returns 0, or -1
 * (ENOMEM; EINVAL if it lists more than HEAD_READ_MAX_MAPS maps, or is
 * encrypted and c is not its key).
 */
int head_encode (const struct head *head, const struct crypto *c,
                 const char *key, void **data, size_t *len);

/* Decode and check a head read from key.  Returns 0, or -1 after logging
 * what is wrong (naming key).  This checks the structure and the
 * checksum, not the MAC of an encrypted head, which needs the key:
 * head_check_key and object_check_mac do.
 */
int head_decode (const char *key, const void *data, size_t len,
                 struct head *head);

/* The history window of a head, seconds (0: off). */
static inline uint64_t
head_history (const struct head *head)
{
  return head->has_history ? head->history : HEAD_HISTORY_DEFAULT;
}

/* The chunk count of a disk. */
static inline uint64_t
head_nchunks (const struct head *head)
{
  return (head->size + head->chunk_size - 1) / head->chunk_size;
}

/* Encode n map entries (sorted by idx, strictly ascending), to be stored
 * under key, into a new malloc'd buffer.  full says the map holds every
 * non-zero chunk (a base).  With c (the disk is encrypted) the map is
 * authenticated; c NULL: not (key is not used; may be NULL).
 */
int map_encode (const struct map_entry *entries, size_t n, bool full,
                uint32_t chunk_size, uint64_t nchunks, const struct crypto *c,
                const char *key, void **data, size_t *len);

/* From a map object's size alone (authenticated or not): its entry
 * count.  false if the size cannot be a map's.
 */
bool map_entries_from_size (uint64_t size, uint64_t *entries);

/* Read the first MAP_PEEK_LEN bytes of a map object (key): is it full?
 * 0, or -1 after logging a bad object.
 */
#define MAP_PEEK_LEN 16
int map_peek_full (const char *key, const void *data, size_t len, bool *full);

/* The largest map object a disk of nchunks chunks can have (encrypted:
 * its maps carry a MAC).
 */
size_t map_max_size (uint64_t nchunks, bool encrypted);

/* Decode and check a map read from key, for a disk with this chunk size and
 * chunk count (an entry beyond nchunks is an error).  On success *entries is
 * a new malloc'd array of *n entries pointing nowhere into data.  As for
 * heads, the MAC of an authenticated map is object_check_mac's to check.
 */
int map_decode (const char *key, const void *data, size_t len,
                uint32_t chunk_size, uint64_t nchunks,
                struct map_entry **entries, size_t *n, bool *full);

/* May a disk whose head is head (read from label) be opened with the key c
 * (NULL: none given)?  An encrypted disk needs its key; a disk that is
 * not encrypted takes none.  0, or -1 after logging why, naming the
 * disk's key by its fingerprint.
 */
int head_check_key (const char *label, const struct head *head,
                    const struct crypto *c);

/* Check the MAC of an encrypted head or authenticated map read from key
 * (decoded already: a head_decode or map_decode succeeded on data), with
 * its disk's key.  0, or -1 after logging (naming key): the object was
 * not written with this key under this key name (changed, moved from
 * another disk or name, or never authenticated).
 */
int object_check_mac (const struct crypto *c, const char *key, const void *data,
                      size_t len);

/* object_check_mac for an object read from key whose MAC is bound to
 * another name, mac_key: a kept head's, to its disk's head (history.h,
 * history_mac_key).  The message names key, the object read, as not
 * being a copy of mac_key.
 */
int object_check_mac_bound (const struct crypto *c, const char *key,
                            const char *mac_key, const void *data, size_t len);

/* A lease object (disks/D/lease): who holds the disk's write lock.  Text,
 * so that people can read it:
 *
 *   s3cow-lease 1
 *   state=held|released
 *   host=HOST
 *   pid=PID
 *   instance=HEX
 *   export=DISK
 *   taken=UNIX-SECONDS
 *   renewed=UNIX-SECONDS
 *   duration=SECONDS
 *   sha256=HEX of every byte before this line
 */
#define LEASE_MAX_SIZE 4096
#define LEASE_FIELD_MAX 256

struct lease_info {
  bool released;
  char host[LEASE_FIELD_MAX];
  uint64_t pid;
  char instance[LEASE_FIELD_MAX];
  char export[LEASE_FIELD_MAX];
  uint64_t taken;    /* holder's clock */
  uint64_t renewed;  /* holder's clock */
  uint32_t duration; /* seconds */
};

/* Encode into buf (room for LEASE_MAX_SIZE).  Returns the length. */
size_t lease_encode (const struct lease_info *info, char *buf);

/* Decode and check a lease read from key.  0, or -1 after logging. */
int lease_decode (const char *key, const void *data, size_t len,
                  struct lease_info *info);

/* The gc grace record (gc/grace): the longest gc-grace= of any server that
 * opened a disk of the bucket read-write, in seconds.  s3cow gc refuses a
 * shorter --grace without --force (see volume.h).
 */
#define GRACE_MAX_SIZE 4096

/* Encode into a new malloc'd buffer.  0, or -1 (ENOMEM). */
int grace_encode (uint64_t seconds, void **data, size_t *len);

/* Decode and check a grace record read from key.  0, or -1 after logging. */
int grace_decode (const char *key, const void *data, size_t len,
                  uint64_t *seconds);

#endif /* S3COW_FORMAT_H */
