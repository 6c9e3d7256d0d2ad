/* Unit tests of the stored formats (heads, maps), names and the chunk map:
 * round trips, and every kind of damage refused with a clear error.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkmap.h"
#include "crypto.h"
#include "format.h"
#include "hash.h"
#include "names.h"

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);      \
      failures++;                                                              \
    }                                                                          \
  } while (0)

#define CHECK_EQ_U64(actual, expected)                                         \
  do {                                                                         \
    uint64_t a_ = (actual), e_ = (expected);                                   \
    if (a_ != e_) {                                                            \
      fprintf (stderr,                                                         \
               "%s:%d: FAILED: %s is %" PRIu64 ", expected %" PRIu64 "\n",     \
               __FILE__, __LINE__, #actual, a_, e_);                           \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static void
test_names (void)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  char long_name[NAME_MAX_LEN + 2], key[KEY_MAX_LEN];
  uint8_t hash[HASH_LEN] = { 0xab, 0x01 };

  CHECK (name_valid ("web1"));
  CHECK (name_valid ("a.b_c-D9"));
  CHECK (!name_valid (""));
  CHECK (!name_valid ("."));
  CHECK (!name_valid (".."));
  CHECK (!name_valid ("-x"));
  CHECK (!name_valid ("a/b"));
  CHECK (!name_valid ("a@b"));
  CHECK (!name_valid ("a b"));
  CHECK (!name_valid ("v1..2"));
  memset (long_name, 'x', NAME_MAX_LEN + 1);
  long_name[NAME_MAX_LEN + 1] = '\0';
  CHECK (!name_valid (long_name));
  long_name[NAME_MAX_LEN] = '\0';
  CHECK (name_valid (long_name));

  CHECK (name_parse_export ("web1", disk, snap) == 0);
  CHECK (strcmp (disk, "web1") == 0 && snap[0] == '\0');
  CHECK (name_parse_export ("web1@monday", disk, snap) == 0);
  CHECK (strcmp (disk, "web1") == 0 && strcmp (snap, "monday") == 0);
  CHECK (name_parse_export ("../x", disk, snap) == -1);
  CHECK (name_parse_export ("web1@", disk, snap) == -1);
  CHECK (name_parse_export ("web1@a@b", disk, snap) == -1);
  CHECK (name_parse_export ("", disk, snap) == -1);

  key_head (key, "web1");
  CHECK (strcmp (key, "disks/web1/head") == 0);
  key_map (key, "web1", 0x2a, "0011223344556677");
  CHECK (strcmp (key, "disks/web1/maps/000000000000002a-0011223344556677")
         == 0);
  key_chunk (key, hash);
  CHECK (strncmp (key, "chunks/ab01000000", 17) == 0 && strlen (key) == 71);

  /* What stored objects may hold, since the commands print it. */
  CHECK (name_valid_label ("web1"));
  CHECK (name_valid_label ("web1@v1"));
  CHECK (!name_valid_label (""));
  CHECK (!name_valid_label ("web1@"));
  CHECK (!name_valid_label ("@v1"));
  CHECK (!name_valid_label ("a@b@c"));
  CHECK (!name_valid_label ("web1\x1b[2J"));
  CHECK (!name_valid_label ("web1\nFORGED"));
  CHECK (name_valid_text ("host-1.example.com"));
  CHECK (!name_valid_text (""));
  CHECK (!name_valid_text ("host\x1b]0;x\x07"));
  CHECK (!name_valid_text ("h\xc3\xa9"));
  CHECK (key_map_valid ("disks/web1/maps/000000000000002a-0011223344556677"));
  CHECK (!key_map_valid ("disks/web1/maps/"));
  CHECK (!key_map_valid ("disks/web1/maps/a/b"));
  CHECK (!key_map_valid ("disks/web1/head"));
  CHECK (!key_map_valid ("disks/../maps/x"));
  CHECK (!key_map_valid ("disks/web1/maps/x\x1b[2J"));
  CHECK (!key_map_valid ("chunks/x"));
}

static struct head
sample_head (void)
{
  struct head h = { 0 };

  h.size = UINT64_C (1) << 30;
  h.chunk_size = 1 << 20;
  h.generation = 7;
  h.created = 1700000000;
  h.committed = 1700000100;
  strcpy (h.parent, "golden@v1");
  h.nmaps = 2;
  strcpy (h.maps[0], "disks/golden/maps/0000000000000003-aa");
  strcpy (h.maps[1], "disks/web1/maps/0000000000000007-bb");
  return h;
}

/* A head over the writers' limit of maps (from an older s3cow) still
 * decodes, so that its disk opens and compacts, and gc, fsck and info go
 * on; past what a head can hold it is refused, never written past.
 */
static void
test_head_many_maps (void)
{
  struct head *h = calloc (1, sizeof *h), *d = calloc (1, sizeof *d);
  uint8_t *data;
  size_t len;
  uint32_t i;

  if (h == NULL || d == NULL) {
    perror ("calloc");
    exit (EXIT_FAILURE);
  }
  *h = sample_head ();
  for (i = 0; i < HEAD_MAX_MAPS + 1; i++)
    snprintf (h->maps[i], KEY_MAX_LEN, "disks/web1/maps/%016" PRIx32 "-bb", i);
  h->nmaps = HEAD_MAX_MAPS + 1;
  CHECK (head_encode (h, NULL, NULL, (void **)&data, &len) == 0);
  CHECK (head_decode ("k", data, len, d) == 0);
  CHECK_EQ_U64 (d->nmaps, HEAD_MAX_MAPS + 1);
  CHECK (strcmp (d->maps[HEAD_MAX_MAPS], h->maps[HEAD_MAX_MAPS]) == 0);
  free (data);

  h->nmaps = HEAD_READ_MAX_MAPS + 1;
  CHECK (head_encode (h, NULL, NULL, (void **)&data, &len) == -1);
  free (h);
  free (d);
}

static void
test_head (void)
{
  struct head h = sample_head (), d;
  uint8_t *data, *copy;
  size_t len, i;

  CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
  CHECK (head_decode ("k", data, len, &d) == 0);
  CHECK_EQ_U64 (d.size, h.size);
  CHECK_EQ_U64 (d.chunk_size, h.chunk_size);
  CHECK_EQ_U64 (d.generation, 7);
  CHECK_EQ_U64 (d.nmaps, 2);
  CHECK (strcmp (d.parent, "golden@v1") == 0);
  CHECK (strcmp (d.maps[1], h.maps[1]) == 0);

  /* Every truncation and every single flipped bit is refused. */
  for (i = 0; i < len; i++)
    CHECK (head_decode ("k", data, i, &d) == -1);
  copy = malloc (len);
  for (i = 0; i < len * 8; i++) {
    memcpy (copy, data, len);
    copy[i / 8] ^= 1 << (i % 8);
    CHECK (head_decode ("k", copy, len, &d) == -1);
  }
  /* A map object is not a head. */
  CHECK (head_decode ("k", "s3cowMP", 8, &d) == -1);
  free (copy);
  free (data);

  /* Invalid contents with a valid checksum. */
  h = sample_head ();
  h.chunk_size = 3 << 20;
  CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
  CHECK (head_decode ("k", data, len, &d) == -1);
  free (data);
  h = sample_head ();
  strcpy (h.maps[0], "chunks/../../etc");
  CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
  CHECK (head_decode ("k", data, len, &d) == -1);
  free (data);
  /* The parent and the map keys are printed by s3cow ls and info: a name
   * s3cow could have written, or the head is refused.
   */
  {
    static const char *const bad_parents[] = {
      "golden\x1b[31mFORGED",
      "golden\nweb2 1G",
      "a@b@c",
      "@v1",
      "golden@",
      "../x",
      "a b",
    };
    static const char *const bad_maps[] = {
      "disks/golden/maps/x\x1b[2J", "disks/golden/maps/a/b",
      "disks/golden/head",          "disks/gol\nden/maps/x",
      "disks/golden/maps/",
    };

    for (i = 0; i < sizeof bad_parents / sizeof *bad_parents; i++) {
      h = sample_head ();
      strcpy (h.parent, bad_parents[i]);
      CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
      CHECK (head_decode ("k", data, len, &d) == -1);
      free (data);
    }
    for (i = 0; i < sizeof bad_maps / sizeof *bad_maps; i++) {
      h = sample_head ();
      strcpy (h.maps[1], bad_maps[i]);
      CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
      CHECK (head_decode ("k", data, len, &d) == -1);
      free (data);
    }
    h = sample_head ();
    h.parent[0] = '\0';
    CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
    CHECK (head_decode ("k", data, len, &d) == 0 && d.parent[0] == '\0');
    free (data);
  }
}

/* The op id and disk id: stored only when set (flags bit 0), so a head
 * without them encodes as before they existed, and both kinds decode.
 */
/* DISK, DISK@SNAP and DISK@TIME; times strictly ISO 8601 UTC; the kept
 * heads' keys sort by generation and parse back.
 */
static void
test_refs (void)
{
  static const char *const bad[] = {
    "d@2026-12-07T15:00:00",     "d@2026-12-07 15:00:00Z",
    "d@2026-02-30T00:00:00Z",    "d@2026-12-07T25:00:00Z",
    "d@+026-12-07T15:00:00Z",    "d@2026-12-07T15:00Z",
    "@2026-12-07T15:00:00Z",     "d@x:y",
    "../d@2026-12-07T15:00:00Z",
  };
  struct name_ref ref;
  char key[KEY_MAX_LEN], label[NAME_REF_MAX_LEN];
  uint64_t gen, t;
  size_t i;

  CHECK (name_parse_ref ("d@2026-12-07T15:00:00Z", &ref) == 0);
  CHECK (ref.at_time && ref.time == 1796655600 && strcmp (ref.disk, "d") == 0);
  name_ref_label (&ref, label);
  CHECK (strcmp (label, "d@2026-12-07T15:00:00Z") == 0);
  CHECK (name_parse_ref ("d@monday", &ref) == 0);
  CHECK (!ref.at_time && strcmp (ref.snap, "monday") == 0);
  CHECK (name_parse_ref ("d", &ref) == 0 && !ref.at_time && !ref.snap[0]);
  CHECK (name_is_time_ref ("d@2026-12-07T15:00:00Z"));
  CHECK (name_is_time_ref ("d@12:00")); /* not a valid time, but a time */
  CHECK (!name_is_time_ref ("d@monday") && !name_is_time_ref ("d:1"));
  for (i = 0; i < sizeof bad / sizeof *bad; i++)
    CHECK (name_parse_ref (bad[i], &ref) == -1);

  key_history (key, "web1", 0x2a, 1796655600);
  CHECK (strcmp (key, "disks/web1/history/000000000000002a-001796655600") == 0);
  CHECK (key_history_parse ("000000000000002a-001796655600", &gen, &t));
  CHECK (gen == 0x2a && t == 1796655600);
  CHECK (!key_history_parse ("000000000000002A-001796655600", &gen, &t));
  CHECK (!key_history_parse ("000000000000002a-1796655600", &gen, &t));
}

/* The history window: stored (flags bit 1) when set, the default when
 * not, and out of range refused.
 */
static void
test_head_history (void)
{
  struct head h = sample_head (), d;
  uint8_t *data;
  size_t len;

  CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
  CHECK (head_decode ("k", data, len, &d) == 0);
  CHECK (!d.has_history && head_history (&d) == HEAD_HISTORY_DEFAULT);
  free (data);
  h.has_history = true;
  h.history = 0;
  CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
  CHECK (data[12] == 2);
  CHECK (head_decode ("k", data, len, &d) == 0);
  CHECK (d.has_history && head_history (&d) == 0);
  free (data);
  h.history = HEAD_HISTORY_MAX + 1;
  CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
  CHECK (head_decode ("k", data, len, &d) == -1);
  free (data);
}

static void
test_head_ids (void)
{
  struct head h = sample_head (), d;
  uint8_t *data, *with;
  size_t len, with_len, i;

  CHECK (head_encode (&h, NULL, NULL, (void **)&data, &len) == 0);
  CHECK (data[12] == 0); /* flags */
  CHECK (head_decode ("k", data, len, &d) == 0);
  for (i = 0; i < HEAD_ID_LEN; i++)
    CHECK (d.op_id[i] == 0 && d.disk_id[i] == 0);
  memset (h.op_id, 0xa5, HEAD_ID_LEN);
  memset (h.disk_id, 0x5a, HEAD_ID_LEN);
  CHECK (head_encode (&h, NULL, NULL, (void **)&with, &with_len) == 0);
  CHECK_EQ_U64 (with_len, len + 2 * HEAD_ID_LEN);
  CHECK (with[12] == 1);
  CHECK (head_decode ("k", with, with_len, &d) == 0);
  CHECK (memcmp (d.op_id, h.op_id, HEAD_ID_LEN) == 0);
  CHECK (memcmp (d.disk_id, h.disk_id, HEAD_ID_LEN) == 0);
  CHECK (strcmp (d.maps[1], h.maps[1]) == 0);
  for (i = 0; i < with_len; i++)
    CHECK (head_decode ("k", with, i, &d) == -1);
  free (with);
  free (data);
}

static void
test_grace (void)
{
  uint8_t *data;
  uint64_t v;
  size_t len, i;

  CHECK (grace_encode (7200, (void **)&data, &len) == 0);
  CHECK (grace_decode ("g", data, len, &v) == 0);
  CHECK_EQ_U64 (v, 7200);
  for (i = 0; i < len; i++)
    CHECK (grace_decode ("g", data, i, &v) == -1);
  data[20] ^= 1;
  CHECK (grace_decode ("g", data, len, &v) == -1);
  free (data);
}

static void
test_map (void)
{
  struct map_entry in[3] = { { .idx = 0 }, { .idx = 5 }, { .idx = 99 } };
  struct map_entry *out;
  uint8_t *data;
  size_t len, n, i;
  bool full;

  for (i = 0; i < 3; i++)
    memset (in[i].hash, (int)i + 1, HASH_LEN);
  CHECK (
      map_encode (in, 3, true, 1 << 20, 100, NULL, NULL, (void **)&data, &len)
      == 0);
  CHECK (len <= map_max_size (100, false));
  CHECK (map_decode ("m", data, len, 1 << 20, 100, &out, &n, &full) == 0);
  CHECK_EQ_U64 (n, 3);
  CHECK (full);
  CHECK (memcmp (out, in, sizeof in) == 0);
  free (out);
  /* Wrong disk geometry. */
  CHECK (map_decode ("m", data, len, 1 << 16, 100, &out, &n, &full) == -1);
  CHECK (map_decode ("m", data, len, 1 << 20, 50, &out, &n, &full) == -1);
  for (i = 0; i < len; i++)
    CHECK (map_decode ("m", data, i, 1 << 20, 100, &out, &n, &full) == -1);
  free (data);

  /* Out of order or out of range entries. */
  in[1].idx = 0;
  CHECK (
      map_encode (in, 3, false, 1 << 20, 100, NULL, NULL, (void **)&data, &len)
      == 0);
  CHECK (map_decode ("m", data, len, 1 << 20, 100, &out, &n, &full) == -1);
  free (data);
  in[1].idx = 5;
  in[2].idx = 100;
  CHECK (
      map_encode (in, 3, false, 1 << 20, 101, NULL, NULL, (void **)&data, &len)
      == 0);
  CHECK (map_decode ("m", data, len, 1 << 20, 100, &out, &n, &full) == -1);
  free (data);

  /* An empty delta. */
  CHECK (map_encode (NULL, 0, false, 1 << 20, 100, NULL, NULL, (void **)&data,
                     &len)
         == 0);
  CHECK (map_decode ("m", data, len, 1 << 20, 100, &out, &n, &full) == 0);
  CHECK_EQ_U64 (n, 0);
  CHECK (!full);
  free (out);
  free (data);
}

static void
test_chunkmap (void)
{
  struct chunkmap *m = chunkmap_new (1000);
  struct map_entry *e;
  uint8_t h[HASH_LEN], got[HASH_LEN];
  size_t n;
  double oldest;

  CHECK (m != NULL);
  CHECK (chunkmap_is_zero (m, 999));
  memset (h, 7, HASH_LEN);
  chunkmap_set (m, 3, h, 5);
  chunkmap_set (m, 700, h, 2);
  chunkmap_set (m, 700, h, 1); /* unchanged: marked once, time kept */
  CHECK (chunkmap_oldest (m) == 2);
  CHECK_EQ_U64 (chunkmap_changed (m), 2);
  CHECK_EQ_U64 (chunkmap_nonzero (m), 2);
  chunkmap_get (m, 700, got);
  CHECK (memcmp (got, h, HASH_LEN) == 0);

  CHECK (chunkmap_take (m, false, &e, &n, &oldest) == 0);
  CHECK_EQ_U64 (n, 2);
  CHECK_EQ_U64 (e[0].idx, 3);
  CHECK_EQ_U64 (e[1].idx, 700);
  CHECK_EQ_U64 (chunkmap_changed (m), 0);
  CHECK (oldest == 2 && chunkmap_oldest (m) == 0);
  chunkmap_untake (m, e, n, oldest); /* a failed commit */
  CHECK_EQ_U64 (chunkmap_changed (m), 2);
  CHECK (chunkmap_oldest (m) == 2);
  free (e);

  memset (h, 0, HASH_LEN); /* trim chunk 3: no object, no time */
  chunkmap_set (m, 3, h, 1);
  CHECK (chunkmap_oldest (m) == 2);
  CHECK_EQ_U64 (chunkmap_nonzero (m), 1);
  CHECK (chunkmap_take (m, true, &e, &n, &oldest) == 0);
  /* A full map holds the non-zero chunks, and the changed zero ones, so
   * that a failed commit marks them again.
   */
  CHECK_EQ_U64 (n, 2);
  CHECK_EQ_U64 (e[0].idx, 3);
  CHECK (hash_is_zero (e[0].hash));
  CHECK_EQ_U64 (e[1].idx, 700);
  CHECK_EQ_U64 (chunkmap_changed (m), 0);
  chunkmap_untake (m, e, n, oldest); /* a failed commit */
  free (e);
  CHECK (chunkmap_take (m, false, &e, &n, &oldest) == 0);
  CHECK_EQ_U64 (n, 2); /* the delta after it has the zeroed chunk */
  CHECK_EQ_U64 (e[0].idx, 3);
  free (e);
  CHECK (chunkmap_take (m, true, &e, &n, &oldest) == 0);
  CHECK_EQ_U64 (n, 1); /* nothing changed: only the non-zero chunk */
  CHECK_EQ_U64 (e[0].idx, 700);
  free (e);
  chunkmap_free (m);
}

static void
test_lease (void)
{
  struct lease_info in = { 0 }, out;
  char buf[LEASE_MAX_SIZE];
  size_t len, i;

  strcpy (in.host, "host1");
  in.pid = 4242;
  strcpy (in.instance, "00ff");
  strcpy (in.export, "web1");
  in.taken = 1700000000;
  in.renewed = 1700000010;
  in.duration = 30;
  len = lease_encode (&in, buf);
  CHECK (lease_decode ("l", buf, len, &out) == 0);
  CHECK (!out.released);
  CHECK (strcmp (out.host, "host1") == 0);
  CHECK_EQ_U64 (out.pid, 4242);
  CHECK_EQ_U64 (out.renewed, 1700000010);
  CHECK_EQ_U64 (out.duration, 30);
  for (i = 0; i < len; i++)
    CHECK (lease_decode ("l", buf, i, &out) == -1);
  buf[20] ^= 1;
  CHECK (lease_decode ("l", buf, len, &out) == -1);
  in.released = true;
  len = lease_encode (&in, buf);
  CHECK (lease_decode ("l", buf, len, &out) == 0 && out.released);

  /* Its fields reach messages ("held by HOST ..."): control bytes and
   * names s3cow does not write are refused, checksum or not.
   */
  in.released = false;
  strcpy (in.host, "host\x1b[2J");
  len = lease_encode (&in, buf);
  CHECK (lease_decode ("l", buf, len, &out) == -1);
  strcpy (in.host, "host1");
  strcpy (in.export, "../web1");
  len = lease_encode (&in, buf);
  CHECK (lease_decode ("l", buf, len, &out) == -1);
  strcpy (in.export, "web1");
  strcpy (in.instance, "00\tff");
  len = lease_encode (&in, buf);
  CHECK (lease_decode ("l", buf, len, &out) == -1);
}

/* Recompute the public checksum of an object, as a writer of the bucket
 * can: then only the MAC can tell.
 */
static void
fix_checksum (uint8_t *data, size_t len)
{
  hash_sha256 (data, len - 32, data + len - 32);
}

/* An encrypted disk's head and map: they round-trip, decode without the
 * key, authenticate with it under their own key name only, and every
 * change (checksum recomputed) fails the MAC.
 */
static void
test_encrypted (void)
{
  uint8_t master[CRYPTO_KEY_LEN] = { 7 };
  struct crypto *c = crypto_new (master), *other;
  struct head h = sample_head (), d;
  struct map_entry in[2]
      = { { .idx = 1, .hash = { 1 } }, { .idx = 5, .hash = { 5 } } };
  struct map_entry *out;
  uint8_t *data, *plain;
  size_t len, plain_len, n, i;
  bool full;

  master[0] = 8;
  other = crypto_new (master);
  if (c == NULL || other == NULL)
    exit (EXIT_FAILURE);

  /* Heads: no key, another key: not encoded. */
  h.encrypted = true;
  memcpy (h.key_fingerprint, crypto_fingerprint (c), CRYPTO_FINGERPRINT_LEN);
  CHECK (head_encode (&h, NULL, "disks/web1/head", (void **)&data, &len) == -1);
  CHECK (head_encode (&h, other, "disks/web1/head", (void **)&data, &len)
         == -1);
  h.encrypted = false;
  CHECK (head_encode (&h, NULL, NULL, (void **)&plain, &plain_len) == 0);
  h.encrypted = true;
  CHECK (head_encode (&h, c, "disks/web1/head", (void **)&data, &len) == 0);
  CHECK_EQ_U64 (len, plain_len + CRYPTO_FINGERPRINT_LEN + CRYPTO_MAC_LEN);
  CHECK (head_decode ("disks/web1/head", data, len, &d) == 0);
  CHECK (d.encrypted);
  CHECK (
      memcmp (d.key_fingerprint, crypto_fingerprint (c), CRYPTO_FINGERPRINT_LEN)
      == 0);
  CHECK (head_check_key ("web1", &d, c) == 0);
  CHECK (head_check_key ("web1", &d, NULL) == -1);
  CHECK (head_check_key ("web1", &d, other) == -1);
  /* Flags bit 2 (4); the history window (bit 1) comes before the
   * fingerprint, the MAC covers it.
   */
  CHECK ((data[12] & 4) != 0);
  free (data);
  h.has_history = true;
  h.history = 3600;
  CHECK (head_encode (&h, c, "disks/web1/head", (void **)&data, &len) == 0);
  CHECK ((data[12] & 6) == 6);
  CHECK (head_decode ("disks/web1/head", data, len, &d) == 0);
  CHECK (d.encrypted && d.has_history && d.history == 3600);
  CHECK (object_check_mac (c, "disks/web1/head", data, len) == 0);
  memcpy (data + len - 32 - CRYPTO_MAC_LEN - CRYPTO_FINGERPRINT_LEN - 8,
          "\x01\x02\0\0\0\0\0\0", 8);
  fix_checksum (data, len);
  CHECK (head_decode ("disks/web1/head", data, len, &d) == 0);
  CHECK (d.history == 0x201);
  CHECK (object_check_mac (c, "disks/web1/head", data, len) == -1);
  free (data);
  h.has_history = false;
  CHECK (head_encode (&h, c, "disks/web1/head", (void **)&data, &len) == 0);
  CHECK (head_decode ("disks/web1/head", data, len, &d) == 0);
  CHECK (object_check_mac (c, "disks/web1/head", data, len) == 0);
  CHECK (object_check_mac (c, "disks/web2/head", data, len) == -1);
  CHECK (object_check_mac (c, "disks/web1/snaps/s", data, len) == -1);
  CHECK (object_check_mac (other, "disks/web1/head", data, len) == -1);
  for (i = 0; i < len - 32; i += 7) {
    data[i] ^= 4;
    fix_checksum (data, len);
    CHECK (object_check_mac (c, "disks/web1/head", data, len) == -1);
    data[i] ^= 4;
  }
  fix_checksum (data, len);
  CHECK (object_check_mac (c, "disks/web1/head", data, len) == 0);
  /* A kept copy read from elsewhere is checked as a copy of the head. */
  CHECK (object_check_mac_bound (c, "disks/web1/history/1-2", "disks/web1/head",
                                 data, len)
         == 0);
  CHECK (object_check_mac_bound (c, "disks/web1/history/1-2", "disks/web2/head",
                                 data, len)
         == -1);
  /* A head that is not encrypted fails an encrypted disk's check. */
  CHECK (head_decode ("k", plain, plain_len, &d) == 0 && !d.encrypted);
  CHECK (head_check_key ("web1", &d, c) == -1);
  CHECK (object_check_mac (c, "disks/web1/head", plain, plain_len) == -1);
  free (data);
  free (plain);

  /* Maps. */
  CHECK (map_encode (in, 2, true, 1 << 20, 100, c, "disks/web1/maps/1-a",
                     (void **)&data, &len)
         == 0);
  CHECK_EQ_U64 (len, 40 + 2 * 40 + 64);
  CHECK (len <= map_max_size (2, true) && len > map_max_size (2, false));
  CHECK (map_decode ("disks/web1/maps/1-a", data, len, 1 << 20, 100, &out, &n,
                     &full)
         == 0);
  CHECK (n == 2 && full && out[1].idx == 5 && out[1].hash[0] == 5);
  free (out);
  CHECK (object_check_mac (c, "disks/web1/maps/1-a", data, len) == 0);
  CHECK (object_check_mac (c, "disks/web2/maps/1-a", data, len) == -1);
  /* Its entry count from its size alone, and its kind from its start. */
  {
    uint64_t entries = 99;

    CHECK (map_entries_from_size (len, &entries) && entries == 2);
    CHECK (map_peek_full ("m", data, MAP_PEEK_LEN, &full) == 0 && full);
    CHECK (map_entries_from_size (40 + 3 * 40 + 32, &entries) && entries == 3);
    CHECK (map_entries_from_size (40 + 64, &entries) && entries == 0);
    CHECK (!map_entries_from_size (40 + 40 + 31, &entries));
  }
  CHECK (object_check_mac (c, "disks/web1/maps/2-a", data, len) == -1);
  /* Two entries' addresses swapped. */
  memcpy (data + 48, in[1].hash, HASH_LEN);
  memcpy (data + 88, in[0].hash, HASH_LEN);
  fix_checksum (data, len);
  CHECK (map_decode ("m", data, len, 1 << 20, 100, &out, &n, &full) == 0);
  free (out);
  CHECK (object_check_mac (c, "disks/web1/maps/1-a", data, len) == -1);
  free (data);
  CHECK (
      map_encode (in, 2, true, 1 << 20, 100, NULL, NULL, (void **)&data, &len)
      == 0);
  CHECK (object_check_mac (c, "disks/web1/maps/1-a", data, len) == -1);
  free (data);

  crypto_free (c);
  crypto_free (other);
}

int
main (void)
{
  test_encrypted ();
  test_names ();
  test_head ();
  test_head_many_maps ();
  test_map ();
  test_chunkmap ();
  test_lease ();
  test_head_ids ();
  test_refs ();
  test_head_history ();
  test_grace ();
  if (failures) {
    fprintf (stderr, "test-format: %d checks failed\n", failures);
    return 1;
  }
  printf ("test-format: all checks passed\n");
  return 0;
}
