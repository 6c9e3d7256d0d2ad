/* s3cow: content addressing of chunks (see chunks.h).
 *
 * A chunk is stored under chunks/<sha256-hex of its plain bytes>, encoded
 * by chunk_codec.c: raw (the chunk's bytes, exactly chunk_size of them,
 * as every object written before frames existed) or a frame (a header and
 * a compressed payload).  The address stays the hash of the plain bytes
 * whatever the encoding, so the same data written by servers with
 * different compression= is one object: whichever PUT lands last stays,
 * and readers decode whatever is there.  The PUT stays unconditional even
 * when the object may exist: it refreshes the object's mtime, which gc's
 * grace relies on (disk_commit.c).  Everything that knows how a chunk
 * becomes an object is in this file.
 *
 * An encrypted disk's chunks (a struct chunks with a key domain) differ in
 * two ways: the address is the keyed id (crypto_chunk_id) instead of the
 * SHA-256, and the object is always a sealed frame (chunk_seal.h), whose
 * AEAD tag is the read check instead of the hash.
 *
 * No locks: a struct chunks is read-only once made.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_codec.h"
#include "chunk_seal.h"
#include "chunkmap.h"
#include "chunks.h"
#include "hash.h"
#include "log.h"
#include "stats.h"

struct chunks {
  struct store *store;
  uint32_t chunk_size;
  struct chunk_compression compression; /* how new objects are written */
  const struct crypto *crypto;          /* NULL: not encrypted */
  uint8_t zero_hash[HASH_LEN];          /* address of a chunk of zeros */
};

/* The address of chunk_size bytes of data (not mapped to zeros). */
static void
address (const struct chunks *ch, const void *data, uint8_t hash[HASH_LEN])
{
  if (ch->crypto == NULL)
    hash_sha256 (data, ch->chunk_size, hash);
  else if (crypto_chunk_id (ch->crypto, data, ch->chunk_size, hash) == -1) {
    /* As hash_sha256: a wrong address would name the wrong chunk. */
    s3cow_log_error ("HMAC-SHA256 failed (OpenSSL out of memory?): aborting");
    abort ();
  }
}

struct chunks *
chunks_new (struct store *store, uint32_t chunk_size,
            const struct chunk_compression *compression,
            const struct crypto *crypto)
{
  struct chunks *ch = calloc (1, sizeof *ch);
  uint8_t *zeros = calloc (1, chunk_size);

  if (ch == NULL || zeros == NULL) {
    s3cow_log_error ("calloc: %m");
    free (zeros);
    free (ch);
    return NULL;
  }
  ch->store = store;
  ch->chunk_size = chunk_size;
  ch->compression = *compression;
  ch->crypto = crypto;
  address (ch, zeros, ch->zero_hash);
  free (zeros);
  return ch;
}

void
chunks_free (struct chunks *ch)
{
  free (ch);
}

void
chunks_address (const struct chunks *ch, const void *data,
                uint8_t hash[HASH_LEN])
{
  memset (hash, 0, HASH_LEN);
  if (data) {
    address (ch, data, hash);
    if (memcmp (hash, ch->zero_hash, HASH_LEN) == 0)
      memset (hash, 0, HASH_LEN);
  }
}

size_t
chunks_scratch_len (const struct chunks *ch)
{
  /* Encrypted: the sealed object, and chunk_seal's scratch. */
  if (ch->crypto)
    return 2 * chunk_object_max_len (ch->chunk_size);
  /* Else a frame: decoded into it, or encoded (at most
   * CHUNK_FRAME_MAX_PERCENT of the chunk).
   */
  return ch->chunk_size;
}

/* The check of a chunk object for store_get_checked: the body is decoded
 * and the plain bytes hashed, once per body, while the store can still
 * retry it.  A body that does not decode is damaged like one whose hash
 * is wrong.
 *
 * An unencrypted disk's object is received into the caller's buffer
 * itself: no valid one is longer than the chunk (a frame is kept only
 * when it shrinks the chunk), so a longer one fails there as too large.
 * A raw object (data that does not compress) is then the chunk, hashed
 * where it is: no copy, no scratch.  A frame is decoded into scratch,
 * and copied into the buffer once checked.  An encrypted disk's object
 * (a sealed frame, longer than the chunk when it does not compress) is
 * received into scratch and opened into the caller's buffer.
 */
struct chunk_check {
  const uint8_t *hash;
  uint32_t size;
  const struct crypto *crypto; /* an encrypted disk's */
  uint8_t *scratch;            /* chunks_scratch_len bytes */
  void *plain;                 /* size bytes: the caller's buffer */
  const char *why;             /* why the last body was refused */
  bool checked, ok;            /* the last body seen, and its verdict */
  bool decoded;                /* its plain bytes are in scratch */
};

static bool
check_chunk (void *opaque, const void *body, size_t len)
{
  struct chunk_check *cc = opaque;
  const void *plain = body; /* raw: the body is in cc->plain already */
  uint8_t sum[HASH_LEN];

  cc->checked = true;
  cc->ok = false;
  cc->decoded = false;
  if (cc->crypto) {
    /* The AEAD tag authenticates the plaintext for this id: no hash. */
    cc->ok = chunk_seal_decode (
                 cc->crypto, cc->hash, body, len, cc->size, cc->plain,
                 cc->scratch + chunk_object_max_len (cc->size), &cc->why)
             == 0;
    return cc->ok;
  }
  if (!chunk_object_is_raw (len, cc->size)) {
    if (chunk_codec_decode (body, len, cc->size, cc->scratch, &cc->why) == -1)
      return false;
    plain = cc->scratch;
    cc->decoded = true;
  }
  hash_sha256 (plain, cc->size, sum);
  cc->ok = memcmp (sum, cc->hash, HASH_LEN) == 0;
  if (!cc->ok)
    cc->why = "content does not match its address";
  return cc->ok;
}

int
chunks_fetch (struct chunks *ch, const uint8_t hash[HASH_LEN], void *buf,
              void *scratch, const char *name, uint64_t idx)
{
  char key[KEY_MAX_LEN];
  struct chunk_check cc = { .hash = hash,
                            .size = ch->chunk_size,
                            .crypto = ch->crypto,
                            .scratch = scratch,
                            .plain = buf };
  void *body = ch->crypto ? scratch : buf;
  size_t cap
      = ch->crypto ? chunk_object_max_len (ch->chunk_size) : ch->chunk_size,
      len;
  int r;

  key_chunk (key, hash);
  r = store_get_checked (ch->store, key, body, cap, &len, check_chunk, &cc);
  if (r == STORE_NOT_FOUND) {
    if (name)
      s3cow_log_error ("%s: chunk %" PRIu64 ": %s is missing from the bucket",
                       name, idx, key);
    errno = ENOENT;
    return -1;
  }
  if (r != STORE_OK) {
    errno = EIO; /* the store retried, and logged why */
    return -1;
  }
  /* A backend that does not run the check (the directory: nothing on the
   * way) returns what it holds, checked here.
   */
  if (!cc.checked)
    check_chunk (&cc, body, len);
  if (cc.ok) {
    if (cc.decoded)
      memcpy (buf, scratch, ch->chunk_size);
    return 0;
  }
  if (name) {
    stats_inc (STAT_CHUNK_CORRUPT);
    s3cow_log_error ("%s: chunk %" PRIu64 ": %s is corrupt (%zu bytes, "
                     "%s%s: damaged in the bucket)",
                     name, idx, key, len, cc.why,
                     cc.checked ? "; the same wrong content twice" : "");
  }
  errno = EIO;
  return -1;
}

/* chunks_persist of an encrypted disk's chunk: the object is sealed into
 * scratch, through the rest of it.
 */
static int
persist_sealed (struct chunks *ch, const void *data,
                const uint8_t hash[HASH_LEN], const char *key, uint8_t *scratch)
{
  size_t cap = chunk_object_max_len (ch->chunk_size), len;
  const char *why;

  if (chunk_seal_encode (ch->crypto, hash, &ch->compression, data,
                         ch->chunk_size, scratch, &len, scratch + cap, &why)
      == -1) {
    s3cow_log_error ("%s: %s", key, why);
    return -1;
  }
  return store_put (ch->store, key, scratch, len, NULL, NULL) == STORE_OK ? 1
                                                                          : -1;
}

int
chunks_persist (struct chunks *ch, const void *data, const uint8_t *prev,
                uint8_t hash[HASH_LEN], void *scratch)
{
  char key[KEY_MAX_LEN], hex[HASH_HEX_LEN + 1];
  const char *why;
  size_t len;
  int r;

  chunks_address (ch, data, hash);
  if (hash_is_zero (hash) || (prev && memcmp (hash, prev, HASH_LEN) == 0))
    return 0;
  key_chunk (key, hash);
  if (ch->crypto)
    return persist_sealed (ch, data, hash, key, scratch);
  if (ch->compression.codec != CHUNK_CODEC_NONE) {
    r = chunk_codec_encode (&ch->compression, data, ch->chunk_size, scratch,
                            &len, &why);
    if (r == -1) {
      s3cow_log_error ("%s: %s", key, why);
      return -1;
    }
    if (r == 1) {
      if (store_put (ch->store, key, scratch, len, NULL, NULL) != STORE_OK)
        return -1;
      stats_add (STAT_CHUNK_UPLOAD_PLAIN_BYTES, ch->chunk_size);
      stats_add (STAT_CHUNK_UPLOAD_STORED_BYTES, len);
      return 1;
    }
  }
  /* Raw: the object's bytes are the chunk's, so the address is also the
   * payload hash of the PUT.
   */
  hash_to_hex (hash, hex);
  if (store_put (ch->store, key, data, ch->chunk_size, hex, NULL) != STORE_OK)
    return -1;
  stats_add (STAT_CHUNK_UPLOAD_PLAIN_BYTES, ch->chunk_size);
  stats_add (STAT_CHUNK_UPLOAD_STORED_BYTES, ch->chunk_size);
  return 1;
}
