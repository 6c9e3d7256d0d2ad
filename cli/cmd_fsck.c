/* s3cow command: fsck [DISK[@SNAP|@TIME]].
 *
 * For every root checked (all disks and snapshots; or DISK and its
 * snapshots; or DISK@SNAP; or DISK@TIME, the kept head it names): its head
 * decodes, every map it names exists and decodes, and every chunk of its
 * resolved chunk map (what a reader of the disk reads) exists, decodes (raw or
 * a frame: chunk_codec.h) and its plain bytes hash to its key.  With a disk,
 * its kept heads (history.h) too: every map they name, read once, and every
 * chunk of those maps.  Every distinct chunk is downloaded once (CHECK_THREADS
 * at a time), whatever number of disks share it; a bad chunk is reported for
 * every disk chunk that uses it, one line each:
 *
 *   missing chunk chunks/<hash> (disk D chunk N)
 *   corrupt chunk chunks/<hash> (disk D chunk N): <why>
 *
 * (why a chunk does not decode goes to stderr, once per chunk)
 *
 * An encrypted disk's chunks are opened with the key given
 * (--encryption-key-file), its head and maps authenticated with it; without
 * its key they are only parsed as sealed frames.
 *   missing map disks/D/maps/<name> (disk D)
 *   corrupt map disks/D/maps/<name> (disk D)
 *   corrupt head disks/D/head (disk D)
 *   missing map disks/D/maps/<name> (kept head disks/D/history/<name>)
 *   corrupt kept head disks/D/history/<name> (disk D)
 *
 * Problems go to stdout (the decoders' details to stderr), then a summary;
 * the exit status is 1 if there was any problem.  --json: one object,
 * written as fsck goes: "problems" (those lines, as strings), then the
 * counts and "completed" (false when fsck stopped on an error).  Memory: one
 * set entry per distinct chunk, plus one root's resolved map at a time.
 */
#include <config.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "chunk_codec.h"
#include "chunkmap.h"
#include "chunk_seal.h"
#include "cleanup.h"
#include "cli.h"
#include "format.h"
#include "hash.h"
#include "hashset.h"
#include "history.h"
#include "log.h"
#include "names.h"

#define CHECK_THREADS 8

/* Values in the set of checked chunks. */
enum chunk_state {
  CHUNK_QUEUED = 1,
  CHUNK_OK,
  CHUNK_MISSING,
  CHUNK_UNDECODABLE,
  CHUNK_WRONG_HASH,
  CHUNK_UNREADABLE,
};

struct fsck {
  struct cli *cli;
  struct store *store;
  struct hashset *checked; /* chunk hash -> enum chunk_state */
  struct hashset *maps;    /* hashes of the keys of maps of kept heads read */
  uint64_t problems, chunks_checked, bytes_checked, roots_checked;
};

/* One batch of chunks to download and hash, shared by the threads. */
struct batch {
  struct store *store;
  uint32_t chunk_size;
  bool encrypted;              /* the disk's chunks are sealed */
  const struct crypto *crypto; /* their key, if given (else: sealed frames
                                * are only parsed) */
  uint8_t (*hashes)[HASH_LEN];
  uint8_t *states;
  size_t n;
  atomic_size_t next; /* the next index to take */
  atomic_size_t done;
};

/* The check of an encrypted disk's chunk object (buf, len bytes): opened
 * with the key when there is one (the AEAD tag checks it: no hash), else
 * only parsed as a sealed frame.
 */
static enum chunk_state
check_sealed (const struct batch *b, const char *key,
              const uint8_t hash[HASH_LEN], const uint8_t *buf, size_t len,
              uint8_t *plain, uint8_t *scratch)
{
  struct chunk_frame f;
  const char *why;

  if (b->crypto) {
    if (chunk_seal_decode (b->crypto, hash, buf, len, b->chunk_size, plain,
                           scratch, &why)
        == -1) {
      s3cow_log_error ("%s: %zu bytes: %s", key, len, why);
      return CHUNK_UNDECODABLE;
    }
    return CHUNK_OK;
  }
  if (chunk_object_is_raw (len, b->chunk_size)
      || chunk_frame_parse (buf, len, b->chunk_size, &f, &why) == -1
      || !(f.flags & CHUNK_FRAME_ENCRYPTED)) {
    s3cow_log_error ("%s: %zu bytes: not a sealed frame", key, len);
    return CHUNK_UNDECODABLE;
  }
  return CHUNK_OK;
}

/* buf: room for chunk_object_max_len + 1 bytes, then chunk_size bytes
 * for the decoded chunk, then (encrypted) chunk_object_max_len bytes.
 */
static enum chunk_state
check_chunk (const struct batch *b, const uint8_t hash[HASH_LEN], uint8_t *buf)
{
  uint32_t chunk_size = b->chunk_size;
  size_t cap = chunk_object_max_len (chunk_size) + 1, len;
  uint8_t sum[HASH_SHA256_LEN], *plain = buf + cap;
  char key[KEY_MAX_LEN];
  const char *why;
  int r;

  key_chunk (key, hash);
  r = store_get_range (b->store, key, 0, cap, buf, &len);
  if (r == STORE_NOT_FOUND)
    return CHUNK_MISSING;
  if (r != STORE_OK)
    return CHUNK_UNREADABLE;
  if (b->encrypted)
    return check_sealed (b, key, hash, buf, len, plain, plain + chunk_size);
  if (chunk_codec_decode (buf, len, chunk_size, plain, &why) == -1) {
    s3cow_log_error ("%s: %zu bytes: %s", key, len, why);
    return CHUNK_UNDECODABLE;
  }
  hash_sha256 (plain, chunk_size, sum);
  return memcmp (sum, hash, HASH_LEN) == 0 ? CHUNK_OK : CHUNK_WRONG_HASH;
}

static void *
check_thread (void *arg)
{
  struct batch *b = arg;
  uint8_t *buf
      = malloc (2 * chunk_object_max_len (b->chunk_size) + 1 + b->chunk_size);
  size_t i;

  while ((i = atomic_fetch_add (&b->next, 1)) < b->n) {
    b->states[i] = buf ? check_chunk (b, b->hashes[i], buf) : CHUNK_UNREADABLE;
    atomic_fetch_add (&b->done, 1);
  }
  free (buf);
  return NULL;
}

/* Download and check the chunks of b with CHECK_THREADS threads. */
static int
run_batch (struct fsck *f, struct batch *b, const char *label)
{
  pthread_t threads[CHECK_THREADS];
  unsigned i, started = 0;
  int err;

  for (i = 0; i < CHECK_THREADS && i < b->n; i++) {
    err = pthread_create (&threads[i], NULL, check_thread, b);
    if (err != 0)
      break;
    started++;
  }
  if (started == 0 && b->n > 0) {
    s3cow_log_error ("cannot start a thread");
    return -1;
  }
  /* Progress from this thread while the others work. */
  while (f->cli->progress && started > 0 && atomic_load (&b->done) < b->n) {
    progress (f->cli, "fsck: %s: chunk %zu/%zu", label, atomic_load (&b->done),
              b->n);
    nanosleep (&(struct timespec){ .tv_nsec = 50000000L }, NULL);
  }
  for (i = 0; i < started; i++)
    pthread_join (threads[i], NULL);
  return 0;
}

static void problem (struct fsck *f, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
problem (struct fsck *f, const char *fmt, ...)
{
  va_list ap;

  progress_done (f->cli);
  va_start (ap, fmt);
  if (f->cli->json) {
    char line[1024];

    vsnprintf (line, sizeof line, fmt, ap);
    printf ("%s\n    ", f->problems ? "," : "");
    json_string (stdout, line);
  } else {
    vprintf (fmt, ap);
    putchar ('\n');
  }
  va_end (ap);
  f->problems++;
}

/* The end of the --json object. */
static void
print_json_counts (const struct fsck *f, bool completed)
{
  printf ("%s],\n"
          "  \"disks_and_snapshots\": %" PRIu64 ",\n"
          "  \"chunks_checked\": %" PRIu64 ",\n"
          "  \"bytes_checked\": %" PRIu64 ",\n"
          "  \"problem_count\": %" PRIu64 ",\n"
          "  \"completed\": %s\n}\n",
          f->problems ? "\n  " : "", f->roots_checked, f->chunks_checked,
          f->bytes_checked, f->problems, completed ? "true" : "false");
}

static const char *
chunk_problem (enum chunk_state s)
{
  switch (s) {
  case CHUNK_MISSING:
    return "missing";
  case CHUNK_UNREADABLE:
    return "unreadable";
  default:
    return "corrupt";
  }
}

static const char *
chunk_why (enum chunk_state s)
{
  switch (s) {
  case CHUNK_UNDECODABLE:
    return ": does not decode";
  case CHUNK_WRONG_HASH:
    return ": content does not match its hash";
  default:
    return "";
  }
}

/* An encrypted disk under the key given (h names it): its key, for
 * everything of it to be authenticated.  NULL for the others.
 */
static const struct crypto *
key_for (const struct fsck *f, const struct head *h)
{
  const struct crypto *c = f->cli->crypto;

  if (!h->encrypted || c == NULL
      || memcmp (h->key_fingerprint, crypto_fingerprint (c),
                 CRYPTO_FINGERPRINT_LEN)
             != 0)
    return NULL;
  return c;
}

/* Check the chunks of entries (zero entries skipped) of a disk whose head
 * is h, with its key c (key_for), not checked yet, downloaded in one
 * parallel batch, and report every use of a bad one, one line each, as
 * (WHAT LABEL chunk N).  0, or -1 after logging.
 */
static int
check_entries (struct fsck *f, const struct map_entry *entries, size_t n,
               const struct head *h, const struct crypto *c, const char *what,
               const char *label)
{
  const uint32_t chunk_size = h->chunk_size;
  struct batch b = { .store = f->store,
                     .chunk_size = chunk_size,
                     .encrypted = h->encrypted,
                     .crypto = c };
  char key[KEY_MAX_LEN];
  size_t i, k;
  int status = -1;

  b.hashes = malloc ((n ? n : 1) * HASH_LEN);
  b.states = calloc (n ? n : 1, 1);
  if (b.hashes == NULL || b.states == NULL)
    goto nomem;
  for (i = 0; i < n; i++) {
    bool added;
    uint8_t *v;

    if (hash_is_zero (entries[i].hash))
      continue;
    v = hashset_add (f->checked, entries[i].hash, &added);
    if (v == NULL)
      goto nomem;
    if (added) {
      *v = CHUNK_QUEUED;
      memcpy (b.hashes[b.n++], entries[i].hash, HASH_LEN);
    }
  }
  if (run_batch (f, &b, label) == -1)
    goto out;
  for (k = 0; k < b.n; k++) {
    *hashset_find (f->checked, b.hashes[k]) = b.states[k];
    f->chunks_checked++;
    f->bytes_checked += chunk_size;
  }
  for (i = 0; i < n; i++) {
    enum chunk_state s;

    if (hash_is_zero (entries[i].hash))
      continue;
    s = *hashset_find (f->checked, entries[i].hash);
    if (s != CHUNK_OK) {
      key_chunk (key, entries[i].hash);
      problem (f, "%s chunk %s (%s %s chunk %" PRIu64 ")%s", chunk_problem (s),
               key, what, label, entries[i].idx, chunk_why (s));
    }
  }
  status = 0;
  goto out;

nomem:
  s3cow_log_error ("out of memory");
out:
  free (b.hashes);
  free (b.states);
  return status;
}

/* The kept heads of disk (its history): each decodes, each map they name
 * (read once however many name it: kept heads share most of theirs)
 * exists and decodes, and every chunk those maps name is sound.  So a
 * time in the disk's window can be served.  0, or -1 after logging.
 */
static int
check_kept (struct fsck *f, const char *disk)
{
  struct history_list l;
  size_t i;
  uint32_t m;
  int status = 0;

  if (history_list (f->store, disk, &l) != STORE_OK)
    return -1;
  for (i = 0; i < l.n && status == 0; i++) {
    CLEANUP_FREE void *raw = NULL;
    char mac_key[KEY_MAX_LEN];
    const struct crypto *c = NULL;
    struct head h;
    size_t raw_len;
    int r = catalog_read_key (f->store, l.v[i].key, &h, NULL, &raw, &raw_len);

    if (r == STORE_NOT_FOUND)
      continue; /* deleted by gc since the listing */
    /* With the key, a kept head is authenticated as a head of its disk. */
    if (r == STORE_OK && (c = key_for (f, &h)) != NULL) {
      history_mac_key (l.v[i].key, mac_key);
      if (object_check_mac_bound (c, l.v[i].key, mac_key, raw, raw_len) == -1)
        r = STORE_PERMANENT;
    }
    if (r != STORE_OK) {
      problem (f, "%s kept head %s (disk %s)",
               r == STORE_PERMANENT ? "corrupt" : "unreadable", l.v[i].key,
               disk);
      continue;
    }
    f->roots_checked++;
    for (m = 0; m < h.nmaps && status == 0; m++) {
      CLEANUP_FREE struct map_entry *entries = NULL;
      uint8_t key_hash[HASH_LEN];
      bool added;
      size_t n;

      hashset_key_hash (h.maps[m], key_hash);
      if (hashset_add (f->maps, key_hash, &added) == NULL) {
        s3cow_log_error ("out of memory");
        status = -1;
        break;
      }
      if (!added)
        continue;
      r = catalog_read_map (f->store, &h, h.maps[m], c, &entries, &n);
      if (r != STORE_OK)
        problem (f, "%s map %s (kept head %s)",
                 r == STORE_NOT_FOUND   ? "missing"
                 : r == STORE_PERMANENT ? "corrupt"
                                        : "unreadable",
                 h.maps[m], l.v[i].key);
      else
        status = check_entries (f, entries, n, &h, c, "kept head", l.v[i].key);
    }
  }
  history_list_free (&l);
  return status;
}

static int
check_root (struct fsck *f, const struct root *root)
{
  CLEANUP_FREE struct map_entry *entries = NULL;
  CLEANUP_FREE void *raw = NULL;
  const struct crypto *c;
  char key[KEY_MAX_LEN], bad_map[KEY_MAX_LEN];
  struct head h;
  size_t n, raw_len;
  int r;

  /* The head. */
  if (root->snap[0])
    key_snap (key, root->disk, root->snap);
  else
    key_head (key, root->disk);
  r = catalog_read_head (f->store, root->disk, root->snap, &h, NULL, &raw,
                         &raw_len);
  if (r == STORE_NOT_FOUND)
    return 0; /* removed since the listing */
  c = r == STORE_OK ? key_for (f, &h) : NULL;
  if (c && object_check_mac (c, key, raw, raw_len) == -1)
    r = STORE_PERMANENT;
  if (r != STORE_OK) {
    problem (f, "%s head %s (%s %s)",
             r == STORE_PERMANENT ? "corrupt" : "unreadable", key,
             root->snap[0] ? "snapshot" : "disk", root->label);
    return 0;
  }
  f->roots_checked++;

  /* Its maps. */
  r = catalog_resolve (f->store, &h, c, &entries, &n, bad_map);
  if (r != STORE_OK) {
    problem (f, "%s map %s (%s %s)",
             r == STORE_NOT_FOUND   ? "missing"
             : r == STORE_PERMANENT ? "corrupt"
                                    : "unreadable",
             bad_map, root->snap[0] ? "snapshot" : "disk", root->label);
    return 0;
  }

  return check_entries (f, entries, n, &h, c,
                        root->snap[0] ? "snapshot" : "disk", root->label);
}

/* fsck DISK@TIME: the one state the time names. */
static int
check_time (struct fsck *f, const struct name_ref *ref)
{
  CLEANUP_FREE struct map_entry *entries = NULL;
  char label[NAME_REF_MAX_LEN], key[KEY_MAX_LEN], bad_map[KEY_MAX_LEN];
  const struct crypto *c;
  struct head h;
  size_t n;
  int r;

  name_ref_label (ref, label);
  if (history_read_ref_logged (f->store, ref, false, NULL, &h, key) == -1)
    return -1;
  /* With the disk's key, the head the time names is authenticated too. */
  c = key_for (f, &h);
  if (c && history_read_ref (f->store, ref, true, c, &h, key) != STORE_OK) {
    problem (f, "corrupt head %s (disk %s)", key, label);
    return 0;
  }
  f->roots_checked++;
  r = catalog_resolve (f->store, &h, c, &entries, &n, bad_map);
  if (r != STORE_OK) {
    problem (f, "%s map %s (disk %s)",
             r == STORE_NOT_FOUND   ? "missing"
             : r == STORE_PERMANENT ? "corrupt"
                                    : "unreadable",
             bad_map, label);
    return 0;
  }
  return check_entries (f, entries, n, &h, c, "disk", label);
}

int
cmd_fsck (struct cli *cli, int argc, char **argv)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  struct fsck f = { .cli = cli };
  struct roots roots = { 0 };
  struct name_ref ref = { 0 };
  struct head h;
  size_t i;
  int status = EXIT_FAIL, r;
  bool completed = false;

  if (argc > 1 && name_parse_ref (argv[1], &ref) == -1)
    return EXIT_USAGE;
  strcpy (disk, ref.disk);
  strcpy (snap, ref.snap);
  f.store = cli_store (cli);
  if (f.store == NULL)
    return EXIT_FAIL;
  f.checked = hashset_new ();
  f.maps = hashset_new ();
  if (f.checked == NULL || f.maps == NULL) {
    s3cow_log_error ("out of memory");
    return EXIT_FAIL;
  }
  if (cli->json)
    printf ("{\n  \"problems\": [");

  if (ref.at_time) {
    if (check_time (&f, &ref) == -1)
      goto out;
    goto summary;
  }
  if (argc > 1) {
    char label[2 * NAME_MAX_LEN + 2];

    catalog_label (label, disk, snap);
    r = catalog_read_head (f.store, disk, snap, &h, NULL, NULL, NULL);
    if (r == STORE_NOT_FOUND) {
      s3cow_log_error ("%s %s does not exist", snap[0] ? "snapshot" : "disk",
                       label);
      goto out;
    }
    if (r != STORE_OK && r != STORE_PERMANENT) {
      s3cow_log_error ("cannot read %s", label);
      goto out;
    }
  }
  if (argc > 1 && snap[0]) {
    roots.v = calloc (1, sizeof *roots.v);
    if (roots.v == NULL) {
      s3cow_log_error ("calloc: %m");
      goto out;
    }
    roots.n = roots.cap = 1;
    strcpy (roots.v[0].disk, disk);
    strcpy (roots.v[0].snap, snap);
    catalog_label (roots.v[0].label, disk, snap);
  } else if (roots_list (f.store, argc > 1 ? disk : NULL,
                         CATALOG_MASK (CATALOG_HEAD)
                             | CATALOG_MASK (CATALOG_SNAP),
                         &roots)
             != STORE_OK)
    goto out;

  for (i = 0; i < roots.n; i++)
    if (check_root (&f, &roots.v[i]) == -1
        || (!roots.v[i].snap[0] && check_kept (&f, roots.v[i].disk) == -1))
      goto out;
summary:
  progress_done (cli);
  status = f.problems ? EXIT_FAIL : EXIT_OK;
  completed = true;
  if (cli->json)
    goto out;
  printf ("fsck: %" PRIu64 " disks and snapshots, %" PRIu64 " chunks (%" PRIu64
          " bytes) checked: ",
          f.roots_checked, f.chunks_checked, f.bytes_checked);
  if (f.problems)
    printf ("%" PRIu64 " problem%s\n", f.problems, f.problems == 1 ? "" : "s");
  else
    printf ("no problems\n");

out:
  progress_done (cli);
  if (cli->json)
    print_json_counts (&f, completed);
  roots_free (&roots);
  hashset_free (f.checked);
  hashset_free (f.maps);
  return status;
}
