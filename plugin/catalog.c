/* s3cow: what the bucket holds, read-only (see catalog.h). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "chunkmap.h"
#include "cleanup.h"
#include "log.h"

/* Copy [s, s + n) into dst (room for cap) if it fits and is a valid name. */
static bool
take_name (char *dst, size_t cap, const char *s, size_t n)
{
  if (n == 0 || n >= cap)
    return false;
  memcpy (dst, s, n);
  dst[n] = '\0';
  return name_valid (dst);
}

enum catalog_kind
catalog_parse_key (const char *key, struct catalog_key *out)
{
  const size_t plen = strlen (KEY_DISKS_PREFIX);
  const char *name, *slash, *rest;

  memset (out, 0, sizeof *out);
  out->kind = CATALOG_OTHER;
  if (strncmp (key, KEY_DISKS_PREFIX, plen) != 0)
    return CATALOG_OTHER;
  name = key + plen;
  slash = strchr (name, '/');
  if (slash == NULL
      || !take_name (out->disk, sizeof out->disk, name, slash - name))
    goto other;
  rest = slash + 1;
  if (strcmp (rest, "head") == 0)
    out->kind = CATALOG_HEAD;
  else if (strcmp (rest, "lease") == 0)
    out->kind = CATALOG_LEASE;
  else if (strncmp (rest, "snaps/", 6) == 0) {
    if (!take_name (out->name, sizeof out->name, rest + 6, strlen (rest + 6)))
      goto other;
    out->kind = CATALOG_SNAP;
  } else if (strncmp (rest, "maps/", 5) == 0) {
    if (!take_name (out->name, sizeof out->name, rest + 5, strlen (rest + 5)))
      goto other;
    out->kind = CATALOG_MAP;
  } else if (strncmp (rest, KEY_HINTS_DIR, strlen (KEY_HINTS_DIR)) == 0) {
    rest += strlen (KEY_HINTS_DIR);
    if (!take_name (out->name, sizeof out->name, rest, strlen (rest)))
      goto other;
    out->kind = CATALOG_HINTS;
  } else if (strncmp (rest, KEY_HISTORY_DIR, strlen (KEY_HISTORY_DIR)) == 0) {
    rest += strlen (KEY_HISTORY_DIR);
    if (!key_history_parse (rest, &out->generation, &out->committed))
      goto other;
    snprintf (out->name, sizeof out->name, "%s", rest);
    out->kind = CATALOG_HISTORY;
  } else
    goto other;
  return out->kind;

other:
  memset (out, 0, sizeof *out);
  out->kind = CATALOG_OTHER;
  return CATALOG_OTHER;
}

struct list_ctx {
  unsigned kinds;
  catalog_key_fn fn;
  void *opaque;
};

static int
list_one (void *opaque, const struct store_entry *entry)
{
  struct list_ctx *ctx = opaque;
  struct catalog_key key;

  if (!(CATALOG_MASK (catalog_parse_key (entry->key, &key)) & ctx->kinds))
    return 0;
  return ctx->fn (ctx->opaque, &key, entry);
}

int
catalog_list (struct store *store, const char *disk, unsigned kinds,
              catalog_key_fn fn, void *opaque)
{
  struct list_ctx ctx = { .kinds = kinds, .fn = fn, .opaque = opaque };
  char prefix[KEY_MAX_LEN];
  const char *sub = "";

  /* Narrow the listing where the kind allows it. */
  if (disk && kinds == CATALOG_MASK (CATALOG_SNAP))
    sub = "snaps/";
  else if (disk && kinds == CATALOG_MASK (CATALOG_MAP))
    sub = "maps/";
  else if (disk && kinds == CATALOG_MASK (CATALOG_HISTORY))
    sub = KEY_HISTORY_DIR;
  if (disk)
    snprintf (prefix, sizeof prefix, KEY_DISKS_PREFIX "%s/%s", disk, sub);
  else
    snprintf (prefix, sizeof prefix, KEY_DISKS_PREFIX);
  return store_list (store, prefix, list_one, &ctx);
}

void
catalog_label (char *label, const char *disk, const char *snap)
{
  snprintf (label, 2 * NAME_MAX_LEN + 2, "%s%s%s", disk,
            snap && snap[0] ? "@" : "", snap ? snap : "");
}

int
catalog_read_head (struct store *store, const char *disk, const char *snap,
                   struct head *head, char *etag, void **raw, size_t *raw_len)
{
  char key[KEY_MAX_LEN];

  if (snap && snap[0])
    key_snap (key, disk, snap);
  else
    key_head (key, disk);
  return catalog_read_key (store, key, head, etag, raw, raw_len);
}

int
catalog_read_key (struct store *store, const char *key, struct head *head,
                  char *etag, void **raw, size_t *raw_len)
{
  CLEANUP_FREE void *data = NULL;
  size_t len;
  int r;

  r = store_get_alloc (store, key, HEAD_MAX_SIZE, &data, &len, etag);
  if (r != STORE_OK)
    return r;
  if (head_decode (key, data, len, head) == -1)
    return STORE_PERMANENT;
  if (raw) {
    *raw = data;
    *raw_len = len;
    data = NULL;
  }
  return STORE_OK;
}

int
catalog_read_map (struct store *store, const struct head *head, const char *key,
                  const struct crypto *c, struct map_entry **entries, size_t *n)
{
  CLEANUP_FREE void *data = NULL;
  uint64_t nchunks = head_nchunks (head);
  size_t len;
  bool full;
  int r;

  *entries = NULL;
  *n = 0;
  r = store_get_alloc (store, key, map_max_size (nchunks, head->encrypted),
                       &data, &len, NULL);
  if (r != STORE_OK)
    return r;
  if (map_decode (key, data, len, head->chunk_size, nchunks, entries, n, &full)
      == -1)
    return STORE_PERMANENT;
  if (c && object_check_mac (c, key, data, len) == -1) {
    free (*entries);
    *entries = NULL;
    *n = 0;
    return STORE_PERMANENT;
  }
  return STORE_OK;
}

/* Merge b over a (both sorted by idx, b wins) into a new array; zero
 * entries are kept until the end (a later map may set them again).
 */
static int
merge (const struct map_entry *a, size_t na, const struct map_entry *b,
       size_t nb, struct map_entry **out, size_t *nout)
{
  struct map_entry *m = malloc ((na + nb ? na + nb : 1) * sizeof *m);
  size_t i = 0, j = 0, k = 0;

  if (m == NULL)
    return -1;
  while (i < na || j < nb) {
    if (j == nb || (i < na && a[i].idx < b[j].idx))
      m[k++] = a[i++];
    else {
      if (i < na && a[i].idx == b[j].idx)
        i++;
      m[k++] = b[j++];
    }
  }
  *out = m;
  *nout = k;
  return 0;
}

int
catalog_resolve (struct store *store, const struct head *head,
                 const struct crypto *c, struct map_entry **entries, size_t *n,
                 char *bad_map)
{
  struct map_entry *acc = NULL;
  size_t nacc = 0, i, k;
  uint32_t m;
  int r;

  *entries = NULL;
  *n = 0;
  for (m = 0; m < head->nmaps; m++) {
    CLEANUP_FREE struct map_entry *next = NULL;
    struct map_entry *merged;
    size_t nnext, nmerged;

    r = catalog_read_map (store, head, head->maps[m], c, &next, &nnext);
    if (r != STORE_OK) {
      if (bad_map)
        snprintf (bad_map, KEY_MAX_LEN, "%s", head->maps[m]);
      free (acc);
      return r;
    }
    if (m == 0) {
      acc = next;
      nacc = nnext;
      next = NULL;
      continue;
    }
    if (merge (acc, nacc, next, nnext, &merged, &nmerged) == -1) {
      s3cow_log_error ("%s: out of memory resolving the chunk map",
                       head->maps[m]);
      free (acc);
      return STORE_PERMANENT;
    }
    free (acc);
    acc = merged;
    nacc = nmerged;
  }

  /* Drop the zero chunks. */
  for (i = k = 0; i < nacc; i++)
    if (!hash_is_zero (acc[i].hash))
      acc[k++] = acc[i];
  if (acc == NULL) {
    acc = malloc (sizeof *acc);
    if (acc == NULL) {
      s3cow_log_error ("malloc: %m");
      return STORE_PERMANENT;
    }
  }
  *entries = acc;
  *n = k;
  return STORE_OK;
}

bool
catalog_head_names_map (const struct head *head, const char *key)
{
  uint32_t i;

  for (i = 0; i < head->nmaps; i++)
    if (strcmp (head->maps[i], key) == 0)
      return true;
  return false;
}

/* ---- a lease, as text ---- */

#define LEASE_VIEW_MAX 4096

/* Has t a line "state=released"? */
static bool
says_released (const char *t)
{
  const char *line = t;

  while (line) {
    size_t len = strcspn (line, "\n");

    if (len == 14 && memcmp (line, "state=released", 14) == 0)
      return true;
    line = strchr (line, '\n');
    if (line)
      line++;
  }
  return false;
}

int
catalog_lease_view (struct store *store, const char *disk, char **text,
                    bool *held)
{
  CLEANUP_FREE void *data = NULL;
  char key[KEY_MAX_LEN], *t;
  size_t len, i;
  int r;

  key_lease (key, disk);
  r = store_get_alloc (store, key, LEASE_VIEW_MAX, &data, &len, NULL);
  if (r != STORE_OK)
    return r;
  t = malloc (len + 1);
  if (t == NULL) {
    s3cow_log_error ("malloc: %m");
    return STORE_PERMANENT;
  }
  /* Printable ASCII and newlines only: it came from the network. */
  for (i = 0; i < len; i++) {
    unsigned char c = ((const unsigned char *)data)[i];
    t[i] = c == '\n' || (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  while (len > 0 && t[len - 1] == '\n')
    len--;
  t[len] = '\0';
  *held = !says_released (t);
  *text = t;
  return STORE_OK;
}
