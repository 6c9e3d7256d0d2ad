/* s3cow: a set of 32-byte hashes (see hashset.h).
 *
 * A slot whose key is all zeros is empty; the all-zero hash itself, when it
 * is a member, lives outside the table (has_zero, zero_value).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hashset.h"

struct hashset {
  uint8_t (*keys)[HASH_LEN]; /* cap slots; all zeros: empty */
  uint8_t *values;           /* cap values */
  size_t cap;                /* a power of two */
  size_t count;              /* members in the table */
  bool has_zero;
  uint8_t zero_value;
};

#define INITIAL_CAP 1024

static const uint8_t zero_key[HASH_LEN];

static bool
is_zero (const uint8_t hash[HASH_LEN])
{
  return memcmp (hash, zero_key, HASH_LEN) == 0;
}

static size_t
slot_of (const uint8_t hash[HASH_LEN], size_t cap)
{
  uint64_t h;

  memcpy (&h, hash, sizeof h);
  return h & (cap - 1);
}

struct hashset *
hashset_new (void)
{
  struct hashset *set = calloc (1, sizeof *set);

  if (set == NULL)
    return NULL;
  set->cap = INITIAL_CAP;
  set->keys = calloc (set->cap, HASH_LEN);
  set->values = calloc (set->cap, 1);
  if (set->keys == NULL || set->values == NULL) {
    hashset_free (set);
    return NULL;
  }
  return set;
}

void
hashset_free (struct hashset *set)
{
  if (set == NULL)
    return;
  free (set->keys);
  free (set->values);
  free (set);
}

/* The slot holding hash, or the empty slot where it would go. */
static size_t
probe (const struct hashset *set, const uint8_t hash[HASH_LEN])
{
  size_t i = slot_of (hash, set->cap);

  while (!is_zero (set->keys[i]) && memcmp (set->keys[i], hash, HASH_LEN) != 0)
    i = (i + 1) & (set->cap - 1);
  return i;
}

static int
grow (struct hashset *set)
{
  struct hashset bigger = { .cap = set->cap * 2 };
  size_t i, j;

  bigger.keys = calloc (bigger.cap, HASH_LEN);
  bigger.values = calloc (bigger.cap, 1);
  if (bigger.keys == NULL || bigger.values == NULL) {
    free (bigger.keys);
    free (bigger.values);
    return -1;
  }
  for (i = 0; i < set->cap; i++)
    if (!is_zero (set->keys[i])) {
      j = probe (&bigger, set->keys[i]);
      memcpy (bigger.keys[j], set->keys[i], HASH_LEN);
      bigger.values[j] = set->values[i];
    }
  free (set->keys);
  free (set->values);
  set->keys = bigger.keys;
  set->values = bigger.values;
  set->cap = bigger.cap;
  return 0;
}

uint8_t *
hashset_add (struct hashset *set, const uint8_t hash[HASH_LEN], bool *added)
{
  size_t i;

  if (added)
    *added = false;
  if (is_zero (hash)) {
    if (!set->has_zero && added)
      *added = true;
    set->has_zero = true;
    return &set->zero_value;
  }
  if ((set->count + 1) * 10 > set->cap * 7 && grow (set) == -1)
    return NULL;
  i = probe (set, hash);
  if (is_zero (set->keys[i])) {
    memcpy (set->keys[i], hash, HASH_LEN);
    set->values[i] = 0;
    set->count++;
    if (added)
      *added = true;
  }
  return &set->values[i];
}

uint8_t *
hashset_find (struct hashset *set, const uint8_t hash[HASH_LEN])
{
  size_t i;

  if (is_zero (hash))
    return set->has_zero ? &set->zero_value : NULL;
  i = probe (set, hash);
  return is_zero (set->keys[i]) ? NULL : &set->values[i];
}

size_t
hashset_count (const struct hashset *set)
{
  return set->count + set->has_zero;
}

void
hashset_foreach (struct hashset *set, hashset_fn fn, void *opaque)
{
  size_t i;

  if (set->has_zero)
    fn (opaque, zero_key, &set->zero_value);
  for (i = 0; i < set->cap; i++)
    if (!is_zero (set->keys[i]))
      fn (opaque, set->keys[i], &set->values[i]);
}

void
hashset_key_hash (const char *s, uint8_t hash[HASH_LEN])
{
  hash_sha256 (s, strlen (s), hash);
}
