/* s3cow: a set of 32-byte hashes (SHA-256), each with one byte of
 * value for the caller's flags.
 *
 * Open addressing with linear probing; the table doubles when it is 70%
 * full, so memory stays within about 33 / 0.35 bytes per member.  The key
 * is used as its own hash (it is already uniformly random).  Not
 * thread-safe: one owner.
 */
#ifndef S3COW_HASHSET_H
#define S3COW_HASHSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "names.h"

struct hashset;

/* An empty set.  NULL on ENOMEM. */
struct hashset *hashset_new (void);
void hashset_free (struct hashset *set);

/* Add hash (if absent, with value 0).  Returns the member's value byte,
 * valid until the next hashset_add, or NULL on ENOMEM (set unchanged).
 * *added (may be NULL) says whether it was new.
 */
uint8_t *hashset_add (struct hashset *set, const uint8_t hash[HASH_LEN],
                      bool *added);

/* The value byte of hash, or NULL if it is not a member. */
uint8_t *hashset_find (struct hashset *set, const uint8_t hash[HASH_LEN]);

size_t hashset_count (const struct hashset *set);

/* Call fn for every member, in no particular order.  fn must not add. */
typedef void (*hashset_fn) (void *opaque, const uint8_t hash[HASH_LEN],
                            uint8_t *value);
void hashset_foreach (struct hashset *set, hashset_fn fn, void *opaque);

/* The SHA-256 of a string (to keep a set of keys as hashes). */
void hashset_key_hash (const char *s, uint8_t hash[HASH_LEN]);

#endif /* S3COW_HASHSET_H */
