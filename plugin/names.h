/* s3cow: disk and snapshot names, and the bucket layout built from them.
 *
 * Bucket keys are built here and only here, and only from names that
 * name_valid accepted, so that no export name can reach outside
 * disks/NAME/ (no "/", no "..", bounded length).
 *
 *   chunks/<sha256-hex>                  immutable chunk data
 *   disks/<disk>/head                    the disk's only mutable object
 *   disks/<disk>/maps/<gen>-<instance>   immutable chunk-map objects
 *   disks/<disk>/snaps/<snap>            immutable snapshot heads
 *   disks/<disk>/hints/<snap>            working-set hint of the snapshot
 *   disks/<disk>/lease                   lease lock
 *   disks/<disk>/history/<gen>-<time>    kept heads: the disk's history
 *   gc/grace                             the servers' gc-grace (volume.c)
 *   gc/clock                             gc's reading of the store's clock
 */
#ifndef S3COW_NAMES_H
#define S3COW_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_LEN 96
#define HASH_LEN 32 /* SHA-256 */
#define HASH_HEX_LEN 64
#define KEY_MAX_LEN 256 /* any key built here fits, NUL included */

/* A disk or snapshot name: 1 to NAME_MAX_LEN of [A-Za-z0-9._-], not
 * starting with '.' or '-', without "..".
 */
bool name_valid (const char *name);

/* "DISK" or "DISK@SNAP", each part name_valid (a head's parent, a lease's
 * export).  Logs nothing.
 */
bool name_valid_label (const char *label);

/* Printable ASCII only (0x20 to 0x7e), and non-empty: for stored text that
 * is not a name (a lease's host) but reaches logs and terminals.
 */
bool name_valid_text (const char *text);

/* Split "DISK" or "DISK@SNAP" into its parts (written to disk and snap, each
 * with room for NAME_MAX_LEN + 1; snap is "" when absent).  Returns 0, or -1
 * after logging what is wrong with the name.
 */
int name_parse_export (const char *export, char *disk, char *snap);

/* What a disk, snapshot or point in time is called on a command line or
 * as an export: "DISK", "DISK@SNAP" or "DISK@TIME".  TIME is ISO 8601 in
 * UTC, YYYY-MM-DDTHH:MM:SSZ: it always holds ':', which no snapshot name
 * may, so the two never collide.
 */
struct name_ref {
  char disk[NAME_MAX_LEN + 1];
  char snap[NAME_MAX_LEN + 1]; /* "" unless DISK@SNAP */
  bool at_time;                /* DISK@TIME */
  int64_t time;                /* unix seconds, when at_time */
};

/* Does ref look like DISK@TIME (a ':' after its '@'), whether or not it
 * is a valid one?  For commands that take no time to say so.
 */
bool name_is_time_ref (const char *ref);

/* Parse ref into *out.  Returns 0, or -1 after logging what is wrong. */
int name_parse_ref (const char *ref, struct name_ref *out);

/* Parse an ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SSZ) into *t.  Returns 0,
 * or -1 (nothing logged).
 */
int name_parse_time (const char *s, int64_t *t);

/* Format t as YYYY-MM-DDTHH:MM:SSZ into buf (room for NAME_TIME_LEN). */
#define NAME_TIME_LEN 32
void name_format_time (int64_t t, char *buf);

/* The label of a ref for messages and exports: "DISK", "DISK@SNAP" or
 * "DISK@TIME", into label (room for NAME_REF_MAX_LEN).
 */
#define NAME_REF_MAX_LEN (2 * NAME_MAX_LEN + 2)
void name_ref_label (const struct name_ref *ref, char *label);

/* A printable copy of untrusted text (a client's export name) for log
 * lines: bytes other than printable ASCII become '?', and it is cut to fit
 * out[size].
 */
void name_printable (const char *text, char *out, size_t size);

/* Key builders: write the key into key[KEY_MAX_LEN]. */
void key_chunk (char *key, const uint8_t hash[HASH_LEN]);
void key_head (char *key, const char *disk);
void key_map (char *key, const char *disk, uint64_t generation,
              const char *instance);
void key_snap (char *key, const char *disk, const char *snap);
void key_lease (char *key, const char *disk);
void key_hints (char *key, const char *disk, const char *snap);
#define KEY_HINTS_DIR "hints/"
/* The kept copy of the head of disk at generation, committed at committed
 * (unix seconds, the writer's clock): both zero-padded, so that a listing
 * returns a disk's kept heads in the order of their generations.
 */
void key_history (char *key, const char *disk, uint64_t generation,
                  uint64_t committed);
#define KEY_HISTORY_DIR "history/"
/* Parse the name part of a kept head's key (after ".../history/").
 * Returns true and fills *generation and *committed if it is one.
 */
bool key_history_parse (const char *name, uint64_t *generation,
                        uint64_t *committed);
#define KEY_DISKS_PREFIX "disks/"

/* Is key a map key as key_map builds them: "disks/DISK/maps/NAME" with DISK
 * and NAME name_valid?  Logs nothing.
 */
bool key_map_valid (const char *key);
#define KEY_CHUNKS_PREFIX "chunks/"

/* Is key a chunk key as key_chunk builds them ("chunks/" and 64 lowercase
 * hex digits)?  If so, its hash is written to hash.  Logs nothing.
 */
bool key_parse_chunk (const char *key, uint8_t hash[HASH_LEN]);
#define KEY_GC_GRACE "gc/grace"
#define KEY_GC_CLOCK "gc/clock"

/* Hex encoding of a hash: hex has room for HASH_HEX_LEN + 1. */
void hash_to_hex (const uint8_t hash[HASH_LEN], char *hex);

#endif /* S3COW_NAMES_H */
