/* s3cow: a disk's history, read-only (see history.h). */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "cleanup.h"
#include "history.h"
#include "hashset.h"
#include "log.h"

static int
add_entry (void *opaque, const struct catalog_key *key,
           const struct store_entry *entry)
{
  struct history_list *l = opaque;
  struct history_entry *e;

  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    void *p = realloc (l->v, cap * sizeof *l->v);
    if (p == NULL) {
      s3cow_log_error ("realloc: %m");
      return STORE_PERMANENT;
    }
    l->v = p;
    l->cap = cap;
  }
  e = &l->v[l->n++];
  e->generation = key->generation;
  e->committed = key->committed;
  e->mtime = entry->mtime;
  snprintf (e->key, sizeof e->key, "%s", entry->key);
  return 0;
}

int
history_list (struct store *store, const char *disk, struct history_list *out)
{
  int r;

  memset (out, 0, sizeof *out);
  r = catalog_list (store, disk, CATALOG_MASK (CATALOG_HISTORY), add_entry,
                    out);
  if (r != STORE_OK) {
    s3cow_log_error ("cannot list the history of disk %s", disk);
    history_list_free (out);
  }
  return r;
}

void
history_list_free (struct history_list *list)
{
  free (list->v);
  memset (list, 0, sizeof *list);
}

/* Does l hold a kept head of generation g?  Its index, or -1. */
static ssize_t
find_generation (const struct history_list *l, uint64_t g)
{
  size_t i;

  for (i = 0; i < l->n; i++)
    if (l->v[i].generation == g)
      return i;
  return -1;
}

void
history_mac_key (const char *key, char *mac_key)
{
  struct catalog_key k;

  if (catalog_parse_key (key, &k) == CATALOG_HISTORY)
    key_head (mac_key, k.disk);
  else
    snprintf (mac_key, KEY_MAX_LEN, "%s", key);
}

int
history_check_head (const char *key, const char *label, const struct crypto *c,
                    const struct head *head, const void *raw, size_t len)
{
  char mac_key[KEY_MAX_LEN];

  if (head_check_key (label, head, c) == -1)
    return STORE_PERMANENT;
  if (c == NULL)
    return STORE_OK;
  history_mac_key (key, mac_key);
  return object_check_mac_bound (c, key, mac_key, raw, len) == 0
             ? STORE_OK
             : STORE_PERMANENT;
}

int
history_read_key (struct store *store, const char *key, const char *label,
                  const struct crypto *c, struct head *head, char *etag)
{
  CLEANUP_FREE void *data = NULL;
  size_t len;
  int r;

  r = catalog_read_key (store, key, head, etag, &data, &len);
  if (r != STORE_OK)
    return r;
  return history_check_head (key, label, c, head, data, len);
}

/* DISK@TIME: see history.h.  The candidates are the kept heads and the
 * disk's head; the answer is the one of highest generation committed at
 * or before the time, and the commit after it must be known (kept, or
 * the head), else a commit between the two is missing and the state at
 * the time cannot be told.
 */
static int
read_at_time (struct store *store, const struct name_ref *ref, bool keyed,
              const struct crypto *c, struct head *head, char *key)
{
  char label[NAME_REF_MAX_LEN], when[NAME_TIME_LEN];
  CLEANUP_FREE void *cur_raw = NULL;
  struct history_list l;
  struct head cur;
  uint64_t best_gen = 0, t = ref->time;
  bool found = false;
  size_t cur_len;
  ssize_t i;
  int r;

  name_ref_label (ref, label);
  r = catalog_read_head (store, ref->disk, "", &cur, NULL, &cur_raw, &cur_len);
  if (r != STORE_OK)
    return r;
  if (ref->time > (int64_t)time (NULL)) {
    s3cow_log_error ("%s: the time is in the future", label);
    return STORE_PERMANENT;
  }
  if (t < cur.created) {
    name_format_time (cur.created, when);
    s3cow_log_error ("%s: disk %s did not exist yet (created %s)", label,
                     ref->disk, when);
    return STORE_PERMANENT;
  }
  r = history_list (store, ref->disk, &l);
  if (r != STORE_OK)
    return r;
  if (cur.committed <= t) {
    best_gen = cur.generation;
    found = true;
  }
  for (i = 0; i < (ssize_t)l.n; i++)
    if (l.v[i].committed <= t && l.v[i].generation <= cur.generation
        && (!found || l.v[i].generation > best_gen)) {
      best_gen = l.v[i].generation;
      found = true;
    }
  if (!found) {
    if (l.n == 0)
      s3cow_log_error ("%s: disk %s keeps no commit that old (history "
                       "window %" PRIu64 " s, and no kept heads)",
                       label, ref->disk, head_history (&cur));
    else {
      name_format_time (l.v[0].committed, when);
      s3cow_log_error ("%s: the time is before the history window of disk "
                       "%s: its oldest kept commit is generation %" PRIu64
                       " at %s",
                       label, ref->disk, l.v[0].generation, when);
    }
    r = STORE_PERMANENT;
    goto out;
  }
  if (best_gen != cur.generation && best_gen + 1 != cur.generation
      && find_generation (&l, best_gen + 1) < 0) {
    s3cow_log_error ("%s: generation %" PRIu64 " of disk %s was not kept: "
                     "the state at that time is not known",
                     label, best_gen + 1, ref->disk);
    r = STORE_PERMANENT;
    goto out;
  }
  i = find_generation (&l, best_gen);
  if (i < 0) {
    /* The head's own commit, not kept yet (or history is off). */
    *head = cur;
    key_head (key, ref->disk);
    r = keyed ? history_check_head (key, label, c, head, cur_raw, cur_len)
              : STORE_OK;
    goto out;
  }
  snprintf (key, KEY_MAX_LEN, "%s", l.v[i].key);
  r = keyed ? history_read_key (store, key, label, c, head, NULL)
            : catalog_read_key (store, key, head, NULL, NULL, NULL);
  if (r == STORE_NOT_FOUND) {
    s3cow_log_error ("%s: kept head %s was removed (by gc?) while being "
                     "read",
                     label, key);
    r = STORE_PERMANENT;
  }
  if (r != STORE_OK)
    goto out;
  if (head->generation != best_gen
      || memcmp (head->disk_id, cur.disk_id, HEAD_ID_LEN) != 0
      || head->created != cur.created) {
    s3cow_log_error ("%s: kept head %s is not of this disk (left over from "
                     "a removed disk of the same name?)",
                     label, key);
    r = STORE_PERMANENT;
  }

out:
  history_list_free (&l);
  return r;
}

int
history_read_ref (struct store *store, const struct name_ref *ref, bool keyed,
                  const struct crypto *c, struct head *head, char *key)
{
  char label[NAME_REF_MAX_LEN];

  if (ref->at_time)
    return read_at_time (store, ref, keyed, c, head, key);
  if (ref->snap[0])
    key_snap (key, ref->disk, ref->snap);
  else
    key_head (key, ref->disk);
  if (!keyed)
    return catalog_read_key (store, key, head, NULL, NULL, NULL);
  name_ref_label (ref, label);
  return history_read_key (store, key, label, c, head, NULL);
}

int
history_read_ref_logged (struct store *store, const struct name_ref *ref,
                         bool keyed, const struct crypto *c, struct head *head,
                         char *key)
{
  const char *what = ref->snap[0] ? "snapshot" : "disk";
  char label[NAME_REF_MAX_LEN];
  int r;

  name_ref_label (ref, label);
  r = history_read_ref (store, ref, keyed, c, head, key);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("%s %s does not exist", what,
                     ref->snap[0] ? label : ref->disk);
  else if (r != STORE_OK && r != STORE_PERMANENT && !ref->at_time)
    s3cow_log_error ("cannot read %s %s", what, label);
  return r == STORE_OK ? 0 : -1;
}

/* The sizes of disk's maps, by the hash of their keys, from one listing
 * (sorted, then searched).
 */
struct map_size {
  uint8_t hash[HASH_LEN];
  uint64_t size;
};
struct map_sizes {
  struct map_size *v;
  size_t n, cap;
};

static int
compare_map_size (const void *a, const void *b)
{
  return memcmp (a, b, HASH_LEN);
}

static int
add_map_size (void *opaque, const struct catalog_key *key,
              const struct store_entry *entry)
{
  struct map_sizes *m = opaque;

  (void)key;
  if (m->n == m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 64;
    void *p = realloc (m->v, cap * sizeof *m->v);
    if (p == NULL) {
      s3cow_log_error ("realloc: %m");
      return STORE_PERMANENT;
    }
    m->v = p;
    m->cap = cap;
  }
  hashset_key_hash (entry->key, m->v[m->n].hash);
  m->v[m->n++].size = entry->size;
  return 0;
}

/* The listed size of map key, or false if it was not listed. */
static bool
map_size (const struct map_sizes *m, const char *key, uint64_t *size)
{
  struct map_size want = { 0 };
  const struct map_size *found;

  if (m->n == 0)
    return false;
  hashset_key_hash (key, want.hash);
  found = bsearch (&want, m->v, m->n, sizeof *m->v, compare_map_size);
  if (found)
    *size = found->size;
  return found != NULL;
}

/* What commit c (whose head is h) wrote. */
static int
describe (struct store *store, const struct map_sizes *sizes,
          const struct head *h, struct history_commit *c)
{
  const char *last;
  uint8_t buf[MAP_PEEK_LEN];
  uint64_t size;
  size_t len;
  char prefix[KEY_MAX_LEN];
  int r;

  c->generation = h->generation;
  c->committed = h->committed;
  if (h->nmaps == 0)
    return 0;
  /* A commit writes its map under its own generation (names.h). */
  last = h->maps[h->nmaps - 1];
  key_map (prefix, "", h->generation, "");
  if (strstr (last, prefix + strlen (KEY_DISKS_PREFIX)) == NULL)
    return 0;
  if (!map_size (sizes, last, &size)
      || !map_entries_from_size (size, &c->entries)) {
    s3cow_log_error ("map %s is missing or is not a map", last);
    return -1;
  }
  c->wrote_map = true;
  if (h->nmaps > 1)
    return 0;
  r = store_get_range (store, last, 0, sizeof buf, buf, &len);
  if (r != STORE_OK)
    return -1;
  return map_peek_full (last, buf, len, &c->full);
}

int
history_commits (struct store *store, const char *disk, struct head *cur,
                 struct history_commit **out, size_t *n)
{
  struct history_list l = { 0 };
  struct map_sizes sizes = { 0 };
  struct history_commit *v = NULL;
  size_t i, k = 0;
  bool head_kept = false;
  int r;

  *out = NULL;
  *n = 0;
  r = catalog_read_head (store, disk, "", cur, NULL, NULL, NULL);
  if (r != STORE_OK)
    return r;
  r = history_list (store, disk, &l);
  if (r != STORE_OK)
    return r;
  r = catalog_list (store, disk, CATALOG_MASK (CATALOG_MAP), add_map_size,
                    &sizes);
  if (r != STORE_OK) {
    s3cow_log_error ("cannot list the maps of disk %s", disk);
    goto out;
  }
  if (sizes.n)
    qsort (sizes.v, sizes.n, sizeof *sizes.v, compare_map_size);
  v = calloc (l.n + 1, sizeof *v);
  if (v == NULL) {
    s3cow_log_error ("calloc: %m");
    r = STORE_PERMANENT;
    goto out;
  }
  for (i = 0; i < l.n; i++) {
    struct head h;

    if (l.v[i].generation > cur->generation)
      continue; /* of an earlier disk of the same name */
    r = catalog_read_key (store, l.v[i].key, &h, NULL, NULL, NULL);
    if (r == STORE_NOT_FOUND)
      continue; /* deleted by gc meanwhile */
    if (r != STORE_OK)
      goto out;
    if (memcmp (h.disk_id, cur->disk_id, HEAD_ID_LEN) != 0
        || h.created != cur->created)
      continue;
    v[k].kept = true;
    if (h.generation == cur->generation) {
      v[k].head = true;
      head_kept = true;
    }
    if (describe (store, &sizes, &h, &v[k]) == -1) {
      r = STORE_PERMANENT;
      goto out;
    }
    k++;
  }
  if (!head_kept) {
    v[k].head = true;
    if (describe (store, &sizes, cur, &v[k]) == -1) {
      r = STORE_PERMANENT;
      goto out;
    }
    k++;
  }
  *out = v;
  *n = k;
  v = NULL;
  r = STORE_OK;

out:
  free (v);
  free (sizes.v);
  history_list_free (&l);
  return r;
}
