/* s3cow: encoding and decoding of heads and chunk maps (see format.h).
 *
 * All integers are little-endian.  Every object ends with the SHA-256 of all
 * the bytes before it.
 *
 * head:  "s3cowHD\0" u32 version, u32 flags, u64 size, u32 chunk_size,
 *        u32 nmaps, u64 generation, u64 created, u64 committed,
 *        u16 parent_len, parent, nmaps x (u16 key_len, key),
 *        [flags bit 0: op_id[16], disk_id[16]],
 *        [flags bit 1: u64 history window seconds],
 *        [flags bit 2: key_fingerprint[16], mac[32]], sha256
 * grace: "s3cowGR\0" u32 version, u32 flags(0), u64 seconds, sha256
 * map:   "s3cowMP\0" u32 version, u32 flags (bit 0: full, bit 1: mac),
 *        u32 chunk_size, u32 reserved(0), u64 nchunks, u64 nentries,
 *        nentries x (u64 idx, hash[32]), [flags bit 1: mac[32]], sha256
 *
 * The MAC of an encrypted head or authenticated map is crypto_object_mac
 * of every byte before it, under the object's key: it sits right before
 * the checksum, which covers it too (so that tools without the key still
 * tell damage from a good object).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "hash.h"
#include "log.h"

static const char head_magic[8] = "s3cowHD";
static const char map_magic[8] = "s3cowMP";
static const char grace_magic[8] = "s3cowGR";
#define HEAD_FLAG_IDS 1       /* op_id and disk_id follow the map keys */
#define HEAD_FLAG_HISTORY 2   /* the history window follows (the ids) */
#define HEAD_FLAG_ENCRYPTED 4 /* key fingerprint and MAC follow (it) */
#define MAP_HEADER_LEN 40
#define MAP_ENTRY_LEN (8 + HASH_LEN)
#define MAP_FLAG_FULL 1
#define MAP_FLAG_MAC 2
/* From the end of an authenticated object: MAC, then checksum. */
#define MAC_TRAILER_LEN (CRYPTO_MAC_LEN + HASH_SHA256_LEN)

/* A bounded little-endian writer and reader. */
struct writer {
  uint8_t *p, *end;
};
struct reader {
  const uint8_t *p, *end;
  bool short_read; /* set when a read ran past the end */
};

static void
put_bytes (struct writer *w, const void *src, size_t n)
{
  memcpy (w->p, src, n);
  w->p += n;
}

static void
put_le (struct writer *w, uint64_t v, unsigned bytes)
{
  unsigned i;

  for (i = 0; i < bytes; i++)
    *w->p++ = (uint8_t)(v >> (8 * i));
}

static bool
get_bytes (struct reader *r, void *dst, size_t n)
{
  if ((size_t)(r->end - r->p) < n) {
    r->short_read = true;
    return false;
  }
  memcpy (dst, r->p, n);
  r->p += n;
  return true;
}

static uint64_t
get_le (struct reader *r, unsigned bytes)
{
  uint8_t buf[8];
  uint64_t v = 0;
  unsigned i;

  if (!get_bytes (r, buf, bytes))
    return 0;
  for (i = 0; i < bytes; i++)
    v |= (uint64_t)buf[i] << (8 * i);
  return v;
}

/* Check magic, length and checksum common to all objects.  On success
 * r covers the bytes between the magic and the checksum.
 */
static int
check_envelope (const char *what, const char *key, const char magic[8],
                const void *data, size_t len, struct reader *r)
{
  uint8_t sum[HASH_SHA256_LEN];
  uint32_t version;

  if (len < 8 + 4 + HASH_SHA256_LEN || memcmp (data, magic, 8) != 0) {
    s3cow_log_error ("%s: not an s3cow %s object (bad magic or too short: "
                     "%zu bytes)",
                     key, what, len);
    return -1;
  }
  r->p = (const uint8_t *)data + 8;
  r->end = (const uint8_t *)data + len - HASH_SHA256_LEN;
  r->short_read = false;
  version = get_le (r, 4);
  if (version != FORMAT_VERSION) {
    s3cow_log_error ("%s: %s format version %u is not supported (this s3cow "
                     "reads version %d)",
                     key, what, version, FORMAT_VERSION);
    return -1;
  }
  hash_sha256 (data, len - HASH_SHA256_LEN, sum);
  if (memcmp (sum, r->end, HASH_SHA256_LEN) != 0) {
    s3cow_log_error ("%s: %s object is corrupt (checksum mismatch)", key, what);
    return -1;
  }
  return 0;
}

static bool
id_is_zero (const uint8_t id[HEAD_ID_LEN])
{
  size_t i;

  for (i = 0; i < HEAD_ID_LEN; i++)
    if (id[i])
      return false;
  return true;
}

/* The ids are stored only when set: a head without them encodes as it
 * did before they existed.
 */
static uint32_t
head_flags (const struct head *head)
{
  uint32_t flags = 0;

  if (!id_is_zero (head->op_id) || !id_is_zero (head->disk_id))
    flags |= HEAD_FLAG_IDS;
  if (head->has_history)
    flags |= HEAD_FLAG_HISTORY;
  if (head->encrypted)
    flags |= HEAD_FLAG_ENCRYPTED;
  return flags;
}

/* Write the MAC (under key) and the checksum at the end of data, len bytes
 * that end with room for both.  0, or -1 (errno).
 */
static int
seal_trailer (const struct crypto *c, const char *key, uint8_t *data,
              size_t len)
{
  if (crypto_object_mac (c, key, data, len - MAC_TRAILER_LEN,
                         data + len - MAC_TRAILER_LEN)
      == -1)
    return -1;
  hash_sha256 (data, len - HASH_SHA256_LEN, data + len - HASH_SHA256_LEN);
  return 0;
}

static bool
valid_chunk_size (uint64_t chunk_size)
{
  return chunk_size >= CHUNK_SIZE_MIN && chunk_size <= CHUNK_SIZE_MAX
         && (chunk_size & (chunk_size - 1)) == 0;
}

int
head_encode (const struct head *head, const struct crypto *c, const char *key,
             void **data, size_t *len)
{
  size_t parent_len = strlen (head->parent);
  size_t n = 8 + 4 + 4 + 8 + 4 + 4 + 8 + 8 + 8 + 2 + parent_len;
  struct writer w;
  uint32_t i;

  if (head->nmaps > HEAD_READ_MAX_MAPS
      || (head->encrypted
          && (c == NULL
              || memcmp (crypto_fingerprint (c), head->key_fingerprint,
                         CRYPTO_FINGERPRINT_LEN)
                     != 0))) {
    errno = EINVAL;
    return -1;
  }
  for (i = 0; i < head->nmaps; i++)
    n += 2 + strlen (head->maps[i]);
  if (head_flags (head) & HEAD_FLAG_IDS)
    n += 2 * HEAD_ID_LEN;
  if (head_flags (head) & HEAD_FLAG_HISTORY)
    n += 8;
  if (head->encrypted)
    n += CRYPTO_FINGERPRINT_LEN + CRYPTO_MAC_LEN;
  n += HASH_SHA256_LEN;

  *data = malloc (n);
  if (*data == NULL)
    return -1;
  w.p = *data;
  w.end = w.p + n;
  put_bytes (&w, head_magic, 8);
  put_le (&w, FORMAT_VERSION, 4);
  put_le (&w, head_flags (head), 4);
  put_le (&w, head->size, 8);
  put_le (&w, head->chunk_size, 4);
  put_le (&w, head->nmaps, 4);
  put_le (&w, head->generation, 8);
  put_le (&w, head->created, 8);
  put_le (&w, head->committed, 8);
  put_le (&w, parent_len, 2);
  put_bytes (&w, head->parent, parent_len);
  for (i = 0; i < head->nmaps; i++) {
    size_t key_len = strlen (head->maps[i]);
    put_le (&w, key_len, 2);
    put_bytes (&w, head->maps[i], key_len);
  }
  if (head_flags (head) & HEAD_FLAG_IDS) {
    put_bytes (&w, head->op_id, HEAD_ID_LEN);
    put_bytes (&w, head->disk_id, HEAD_ID_LEN);
  }
  if (head_flags (head) & HEAD_FLAG_HISTORY)
    put_le (&w, head->history, 8);
  *len = n;
  if (head->encrypted) {
    put_bytes (&w, head->key_fingerprint, CRYPTO_FINGERPRINT_LEN);
    if (seal_trailer (c, key, *data, n) == -1) {
      free (*data);
      *data = NULL;
      return -1;
    }
    return 0;
  }
  hash_sha256 (*data, n - HASH_SHA256_LEN, w.p);
  return 0;
}

int
head_decode (const char *key, const void *data, size_t len, struct head *head)
{
  struct reader r;
  uint32_t flags, i;
  size_t parent_len;

  if (len > HEAD_MAX_SIZE) {
    s3cow_log_error ("%s: head object too large (%zu bytes, at most %d)", key,
                     len, HEAD_MAX_SIZE);
    return -1;
  }
  if (check_envelope ("head", key, head_magic, data, len, &r) == -1)
    return -1;

  memset (head, 0, sizeof *head);
  flags = get_le (&r, 4);
  head->size = get_le (&r, 8);
  head->chunk_size = get_le (&r, 4);
  head->nmaps = get_le (&r, 4);
  head->generation = get_le (&r, 8);
  head->created = get_le (&r, 8);
  head->committed = get_le (&r, 8);
  parent_len = get_le (&r, 2);
  if (r.short_read)
    goto truncated;
  if ((flags
       & ~(uint32_t)(HEAD_FLAG_IDS | HEAD_FLAG_HISTORY | HEAD_FLAG_ENCRYPTED))
      != 0) {
    s3cow_log_error ("%s: head has unknown flags 0x%x", key, flags);
    return -1;
  }
  if (!valid_chunk_size (head->chunk_size) || head->size == 0
      || head->size > DISK_SIZE_MAX || head->size % 512 != 0) {
    s3cow_log_error ("%s: head has an invalid size %" PRIu64
                     " or chunk size %" PRIu32,
                     key, head->size, head->chunk_size);
    return -1;
  }
  if (head->nmaps > HEAD_READ_MAX_MAPS) {
    s3cow_log_error ("%s: head lists %" PRIu32 " maps (at most %d)", key,
                     head->nmaps, HEAD_READ_MAX_MAPS);
    return -1;
  }
  if (parent_len >= sizeof head->parent) {
    s3cow_log_error ("%s: head has a parent name too long", key);
    return -1;
  }
  if (!get_bytes (&r, head->parent, parent_len))
    goto truncated;
  head->parent[parent_len] = '\0';
  /* Shown by s3cow ls and info, and followed by info: only a name that
   * s3cow could have written (no control bytes from the bucket reach a
   * terminal).
   */
  if (parent_len > 0
      && (strlen (head->parent) != parent_len
          || !name_valid_label (head->parent))) {
    s3cow_log_error ("%s: head has an invalid parent name (not DISK or "
                     "DISK@SNAPSHOT)",
                     key);
    return -1;
  }
  for (i = 0; i < head->nmaps; i++) {
    size_t key_len = get_le (&r, 2);
    if (r.short_read)
      goto truncated;
    if (key_len == 0 || key_len >= KEY_MAX_LEN) {
      s3cow_log_error ("%s: head map key %" PRIu32 " has a bad length %zu", key,
                       i, key_len);
      return -1;
    }
    if (!get_bytes (&r, head->maps[i], key_len))
      goto truncated;
    head->maps[i][key_len] = '\0';
    if (strlen (head->maps[i]) != key_len || !key_map_valid (head->maps[i])) {
      s3cow_log_error ("%s: head map key %" PRIu32 " is not a map key", key, i);
      return -1;
    }
  }
  if ((flags & HEAD_FLAG_IDS)
      && (!get_bytes (&r, head->op_id, HEAD_ID_LEN)
          || !get_bytes (&r, head->disk_id, HEAD_ID_LEN)))
    goto truncated;
  if (flags & HEAD_FLAG_HISTORY) {
    head->has_history = true;
    head->history = get_le (&r, 8);
    if (r.short_read)
      goto truncated;
    if (head->history > HEAD_HISTORY_MAX) {
      s3cow_log_error ("%s: head has a history window of %" PRIu64
                       " seconds (at most %" PRIu64 ")",
                       key, head->history, HEAD_HISTORY_MAX);
      return -1;
    }
  }
  if (flags & HEAD_FLAG_ENCRYPTED) {
    head->encrypted = true;
    if (!get_bytes (&r, head->key_fingerprint, CRYPTO_FINGERPRINT_LEN)
        || (size_t)(r.end - r.p) < CRYPTO_MAC_LEN)
      goto truncated;
    r.p += CRYPTO_MAC_LEN; /* object_check_mac's, with the key */
  }
  if (r.p != r.end) {
    s3cow_log_error ("%s: head has %zu unexpected trailing bytes", key,
                     (size_t)(r.end - r.p));
    return -1;
  }
  return 0;

truncated:
  s3cow_log_error ("%s: head object is truncated", key);
  return -1;
}

/* A map's size is MAP_HEADER_LEN + n * MAP_ENTRY_LEN plus either the
 * checksum or (authenticated) the MAC and the checksum.  The MAC's 32
 * bytes are not a multiple of MAP_ENTRY_LEN (40), so the size tells which.
 */
bool
map_entries_from_size (uint64_t size, uint64_t *entries)
{
  static const uint64_t trailers[] = { HASH_SHA256_LEN, MAC_TRAILER_LEN };
  size_t i;

  for (i = 0; i < sizeof trailers / sizeof trailers[0]; i++)
    if (size >= MAP_HEADER_LEN + trailers[i]
        && (size - MAP_HEADER_LEN - trailers[i]) % MAP_ENTRY_LEN == 0) {
      *entries = (size - MAP_HEADER_LEN - trailers[i]) / MAP_ENTRY_LEN;
      return true;
    }
  return false;
}

int
map_peek_full (const char *key, const void *data, size_t len, bool *full)
{
  struct reader r = { .p = data, .end = (const uint8_t *)data + len };
  uint32_t version, flags;

  if (len < MAP_PEEK_LEN || memcmp (data, map_magic, 8) != 0) {
    s3cow_log_error ("%s: not an s3cow map object", key);
    return -1;
  }
  r.p += 8;
  version = get_le (&r, 4);
  flags = get_le (&r, 4);
  if (version != FORMAT_VERSION
      || (flags & ~(uint32_t)(MAP_FLAG_FULL | MAP_FLAG_MAC)) != 0) {
    s3cow_log_error ("%s: map format version %u, flags 0x%x: not supported",
                     key, version, flags);
    return -1;
  }
  *full = flags & MAP_FLAG_FULL;
  return 0;
}

size_t
map_max_size (uint64_t nchunks, bool encrypted)
{
  return MAP_HEADER_LEN + nchunks * MAP_ENTRY_LEN
         + (encrypted ? MAC_TRAILER_LEN : HASH_SHA256_LEN);
}

int
map_encode (const struct map_entry *entries, size_t n, bool full,
            uint32_t chunk_size, uint64_t nchunks, const struct crypto *c,
            const char *key, void **data, size_t *len)
{
  size_t total = MAP_HEADER_LEN + n * MAP_ENTRY_LEN
                 + (c ? MAC_TRAILER_LEN : HASH_SHA256_LEN);
  struct writer w;
  size_t i;

  *data = malloc (total);
  if (*data == NULL)
    return -1;
  w.p = *data;
  w.end = w.p + total;
  put_bytes (&w, map_magic, 8);
  put_le (&w, FORMAT_VERSION, 4);
  put_le (&w, (full ? MAP_FLAG_FULL : 0) | (c ? MAP_FLAG_MAC : 0), 4);
  put_le (&w, chunk_size, 4);
  put_le (&w, 0, 4);
  put_le (&w, nchunks, 8);
  put_le (&w, n, 8);
  for (i = 0; i < n; i++) {
    put_le (&w, entries[i].idx, 8);
    put_bytes (&w, entries[i].hash, HASH_LEN);
  }
  *len = total;
  if (c) {
    if (seal_trailer (c, key, *data, total) == -1) {
      free (*data);
      *data = NULL;
      return -1;
    }
    return 0;
  }
  hash_sha256 (*data, total - HASH_SHA256_LEN, w.p);
  return 0;
}

int
map_decode (const char *key, const void *data, size_t len, uint32_t chunk_size,
            uint64_t nchunks, struct map_entry **entries, size_t *n, bool *full)
{
  struct reader r;
  uint32_t flags, map_chunk_size;
  uint64_t map_nchunks, count, i;
  struct map_entry *e;

  *entries = NULL;
  *n = 0;
  if (len > map_max_size (nchunks, true)) {
    s3cow_log_error ("%s: map object too large for this disk (%zu bytes)", key,
                     len);
    return -1;
  }
  if (check_envelope ("map", key, map_magic, data, len, &r) == -1)
    return -1;
  flags = get_le (&r, 4);
  map_chunk_size = get_le (&r, 4);
  (void)get_le (&r, 4);
  map_nchunks = get_le (&r, 8);
  count = get_le (&r, 8);
  if (r.short_read) {
    s3cow_log_error ("%s: map object is truncated", key);
    return -1;
  }
  if ((flags & MAP_FLAG_MAC) && (size_t)(r.end - r.p) >= CRYPTO_MAC_LEN)
    r.end -= CRYPTO_MAC_LEN; /* object_check_mac's, with the key */
  else if (flags & MAP_FLAG_MAC) {
    s3cow_log_error ("%s: map object is truncated", key);
    return -1;
  }
  if ((flags & ~(MAP_FLAG_FULL | MAP_FLAG_MAC)) != 0
      || map_chunk_size != chunk_size || map_nchunks > nchunks) {
    s3cow_log_error ("%s: map does not belong to this disk (flags 0x%x, chunk "
                     "size %" PRIu32 ", %" PRIu64 " chunks)",
                     key, flags, map_chunk_size, map_nchunks);
    return -1;
  }
  if (count != (uint64_t)(r.end - r.p) / MAP_ENTRY_LEN
      || (size_t)(r.end - r.p) % MAP_ENTRY_LEN != 0) {
    s3cow_log_error ("%s: map entry count %" PRIu64 " does not match its "
                     "size",
                     key, count);
    return -1;
  }
  e = malloc (count ? count * sizeof *e : 1);
  if (e == NULL) {
    s3cow_log_error ("%s: malloc: %m", key);
    return -1;
  }
  for (i = 0; i < count; i++) {
    e[i].idx = get_le (&r, 8);
    get_bytes (&r, e[i].hash, HASH_LEN);
    if (e[i].idx >= map_nchunks || (i > 0 && e[i].idx <= e[i - 1].idx)) {
      s3cow_log_error ("%s: map entry %" PRIu64 " (chunk %" PRIu64 ") is out "
                       "of order or out of range",
                       key, i, e[i].idx);
      free (e);
      return -1;
    }
  }
  *entries = e;
  *n = count;
  *full = flags & MAP_FLAG_FULL;
  return 0;
}

int
head_check_key (const char *label, const struct head *head,
                const struct crypto *c)
{
  char want[CRYPTO_FINGERPRINT_HEX_LEN + 1],
      have[CRYPTO_FINGERPRINT_HEX_LEN + 1];

  if (!head->encrypted && c == NULL)
    return 0;
  if (!head->encrypted) {
    s3cow_log_error ("%s is not encrypted, but an encryption key was given "
                     "(a disk is encrypted or not from its creation)",
                     label);
    return -1;
  }
  crypto_fingerprint_hex (head->key_fingerprint, want);
  if (c == NULL) {
    s3cow_log_error ("%s is encrypted with the key of fingerprint %s: it "
                     "cannot be opened without that key",
                     label, want);
    return -1;
  }
  crypto_fingerprint_hex (crypto_fingerprint (c), have);
  if (strcmp (want, have) != 0) {
    s3cow_log_error ("%s is encrypted with the key of fingerprint %s, not "
                     "with the key given (fingerprint %s)",
                     label, want, have);
    return -1;
  }
  return 0;
}

int
object_check_mac_bound (const struct crypto *c, const char *key,
                        const char *mac_key, const void *data, size_t len)
{
  const uint8_t *p = data;

  if (len >= MAC_TRAILER_LEN
      && crypto_object_mac_ok (c, mac_key, p, len - MAC_TRAILER_LEN,
                               p + len - MAC_TRAILER_LEN))
    return 0;
  if (strcmp (key, mac_key) == 0)
    s3cow_log_error ("%s: not written with this disk's key under this name "
                     "(its MAC does not match: changed, moved or replaced "
                     "in the bucket)",
                     key);
  else
    s3cow_log_error ("%s: not written with this disk's key as a copy of %s "
                     "(its MAC does not match: changed, moved or replaced "
                     "in the bucket)",
                     key, mac_key);
  return -1;
}

int
object_check_mac (const struct crypto *c, const char *key, const void *data,
                  size_t len)
{
  return object_check_mac_bound (c, key, key, data, len);
}

size_t
lease_encode (const struct lease_info *info, char *buf)
{
  uint8_t sum[HASH_SHA256_LEN];
  char hex[HASH_HEX_LEN + 1];
  int n;

  n = snprintf (buf, LEASE_MAX_SIZE,
                "s3cow-lease %d\nstate=%s\nhost=%s\npid=%" PRIu64
                "\ninstance=%s\nexport=%s\ntaken=%" PRIu64 "\nrenewed=%" PRIu64
                "\nduration=%" PRIu32 "\n",
                FORMAT_VERSION, info->released ? "released" : "held",
                info->host, info->pid, info->instance, info->export,
                info->taken, info->renewed, info->duration);
  hash_sha256 ((const uint8_t *)buf, n, sum);
  hash_to_hex (sum, hex);
  n += snprintf (buf + n, LEASE_MAX_SIZE - n, "sha256=%s\n", hex);
  return n;
}

/* Copy the value of "name=VALUE\n" at *p into out (room for size), advance
 * *p past the line.  false if the line is not that field or too long.
 */
static bool
lease_field (const char **p, const char *end, const char *name, char *out,
             size_t size)
{
  size_t name_len = strlen (name), len;
  const char *nl;

  if ((size_t)(end - *p) <= name_len || strncmp (*p, name, name_len) != 0
      || (*p)[name_len] != '=')
    return false;
  *p += name_len + 1;
  nl = memchr (*p, '\n', end - *p);
  if (nl == NULL || (len = nl - *p) >= size || memchr (*p, '\0', len))
    return false;
  memcpy (out, *p, len);
  out[len] = '\0';
  *p = nl + 1;
  return true;
}

static bool
lease_number (const char **p, const char *end, const char *name, uint64_t *out)
{
  char buf[32], *tail;

  if (!lease_field (p, end, name, buf, sizeof buf) || buf[0] < '0'
      || buf[0] > '9')
    return false;
  errno = 0;
  *out = strtoull (buf, &tail, 10);
  return errno == 0 && *tail == '\0';
}

int
lease_decode (const char *key, const void *data, size_t len,
              struct lease_info *info)
{
  const char *p = data, *end = p + len, *sum_line;
  char header[32], state[16], sum_hex[HASH_HEX_LEN + 1];
  char want[HASH_HEX_LEN + 1];
  uint8_t sum[HASH_SHA256_LEN];
  uint64_t duration;
  const char *nl;

  memset (info, 0, sizeof *info);
  if (len > LEASE_MAX_SIZE || len < 12 || memcmp (p, "s3cow-lease ", 12)) {
    s3cow_log_error ("%s: not an s3cow lease object", key);
    return -1;
  }
  nl = memchr (p, '\n', len);
  if (nl == NULL || (size_t)(nl - p) >= sizeof header) {
    s3cow_log_error ("%s: not an s3cow lease object", key);
    return -1;
  }
  memcpy (header, p, nl - p);
  header[nl - p] = '\0';
  if (strcmp (header + 12, "1") != 0) {
    s3cow_log_error ("%s: lease format version %s is not supported (this "
                     "s3cow reads version %d)",
                     key, header + 12, FORMAT_VERSION);
    return -1;
  }
  p = nl + 1;
  if (!lease_field (&p, end, "state", state, sizeof state)
      || (strcmp (state, "held") != 0 && strcmp (state, "released") != 0)
      || !lease_field (&p, end, "host", info->host, sizeof info->host)
      || !lease_number (&p, end, "pid", &info->pid)
      || !lease_field (&p, end, "instance", info->instance,
                       sizeof info->instance)
      || !lease_field (&p, end, "export", info->export, sizeof info->export)
      || !lease_number (&p, end, "taken", &info->taken)
      || !lease_number (&p, end, "renewed", &info->renewed)
      || !lease_number (&p, end, "duration", &duration) || duration == 0
      || duration > 86400
      /* Shown in messages ("held by HOST pid PID ..."): no control bytes. */
      || !name_valid_text (info->host) || !name_valid (info->instance)
      || !name_valid (info->export))
    goto bad;
  info->duration = duration;
  info->released = strcmp (state, "released") == 0;
  sum_line = p;
  if (!lease_field (&p, end, "sha256", sum_hex, sizeof sum_hex) || p != end)
    goto bad;
  hash_sha256 (data, sum_line - (const char *)data, sum);
  hash_to_hex (sum, want);
  if (strcmp (sum_hex, want) != 0) {
    s3cow_log_error ("%s: lease object is corrupt (checksum mismatch)", key);
    return -1;
  }
  return 0;

bad:
  s3cow_log_error ("%s: lease object is malformed", key);
  return -1;
}

int
grace_encode (uint64_t seconds, void **data, size_t *len)
{
  const size_t n = 8 + 4 + 4 + 8 + HASH_SHA256_LEN;
  struct writer w;

  *data = malloc (n);
  if (*data == NULL)
    return -1;
  w.p = *data;
  w.end = w.p + n;
  put_bytes (&w, grace_magic, 8);
  put_le (&w, FORMAT_VERSION, 4);
  put_le (&w, 0, 4);
  put_le (&w, seconds, 8);
  hash_sha256 (*data, n - HASH_SHA256_LEN, w.p);
  *len = n;
  return 0;
}

int
grace_decode (const char *key, const void *data, size_t len, uint64_t *seconds)
{
  struct reader r;
  uint32_t flags;

  if (len > GRACE_MAX_SIZE) {
    s3cow_log_error ("%s: grace record too large (%zu bytes)", key, len);
    return -1;
  }
  if (check_envelope ("grace record", key, grace_magic, data, len, &r) == -1)
    return -1;
  flags = get_le (&r, 4);
  *seconds = get_le (&r, 8);
  if (r.short_read || r.p != r.end) {
    s3cow_log_error ("%s: grace record has a bad length", key);
    return -1;
  }
  if (flags != 0) {
    s3cow_log_error ("%s: grace record has unknown flags 0x%x", key, flags);
    return -1;
  }
  return 0;
}
