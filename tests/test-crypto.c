/* Unit tests of the key domain of encrypted disks (plugin/crypto.c):
 * known answers of HKDF (RFC 5869), HMAC-SHA256 (RFC 4231) and
 * AES-256-GCM (McGrew and Viega, test case 16); s3cow's own derivation
 * against values computed independently (Python's hmac and the
 * cryptography package); round trips; and every kind of tampering
 * refused.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_seal.h"
#include "crypto.h"

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);      \
      failures++;                                                              \
    }                                                                          \
  } while (0)

/* Hex into one of 4 static buffers, in turn: at most 256 bytes. */
static const uint8_t *
unhex (const char *hex, size_t *len)
{
  static uint8_t buf[4][256];
  static int which;
  uint8_t *b = buf[which++ % 4];
  size_t i, n = strlen (hex) / 2;

  for (i = 0; i < n; i++)
    sscanf (hex + 2 * i, "%2hhx", &b[i]);
  if (len)
    *len = n;
  return b;
}

static void
check_bytes (const char *what, const void *got, const char *hex)
{
  uint8_t want[256] = { 0 };
  size_t n = strlen (hex) / 2, i;

  for (i = 0; i < n; i++)
    sscanf (hex + 2 * i, "%2hhx", &want[i]);

  if (memcmp (got, want, n) != 0) {
    fprintf (stderr, "FAILED: %s is ", what);
    for (i = 0; i < n; i++)
      fprintf (stderr, "%02x", ((const uint8_t *)got)[i]);
    fprintf (stderr, ", expected %s\n", hex);
    failures++;
  }
}

static void
test_primitives (void)
{
  uint8_t out[256], back[256];
  size_t klen, nlen, alen, plen;
  const uint8_t *k, *n, *a, *p;

  /* RFC 5869, test case 1. */
  memset (out, 0, sizeof out);
  k = unhex ("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", &klen);
  n = unhex ("000102030405060708090a0b0c", &nlen);
  a = unhex ("f0f1f2f3f4f5f6f7f8f9", &alen);
  CHECK (crypto_hkdf_sha256 (k, klen, n, nlen, a, alen, out, 42) == 0);
  check_bytes ("HKDF", out,
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5"
               "bf34007208d5b887185865");

  /* RFC 4231, test case 2. */
  CHECK (crypto_hmac_sha256 ("Jefe", 4, "what do ya want for nothing?", 28, out)
         == 0);
  check_bytes ("HMAC", out,
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec38"
               "43");

  /* The Galois/Counter Mode of Operation, test case 16 (AES-256). */
  k = unhex ("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
             &klen);
  n = unhex ("cafebabefacedbaddecaf888", &nlen);
  a = unhex ("feedfacedeadbeeffeedfacedeadbeefabaddad2", &alen);
  p = unhex ("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
             "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
             &plen);
  CHECK (klen == CRYPTO_KEY_LEN && nlen == CRYPTO_NONCE_LEN);
  CHECK (crypto_aes256gcm_seal (k, n, a, alen, p, plen, out) == 0);
  check_bytes ("AES-256-GCM", out,
               "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1"
               "aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
               "76fc6ece0f4e1768cddf8853bb2d551b");
  CHECK (crypto_aes256gcm_open (k, n, a, alen, out, plen + CRYPTO_TAG_LEN, back)
         == 0);
  CHECK (memcmp (back, p, plen) == 0);
  out[plen] ^= 1; /* the tag */
  errno = 0;
  CHECK (crypto_aes256gcm_open (k, n, a, alen, out, plen + CRYPTO_TAG_LEN, back)
             == -1
         && errno == EBADMSG);
}

static void
test_key_parse (void)
{
  const char *good
      = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
  uint8_t key[CRYPTO_KEY_LEN];
  char buf[100];
  size_t i;

  CHECK (crypto_key_parse (good, key) == 0);
  for (i = 0; i < CRYPTO_KEY_LEN; i++)
    CHECK (key[i] == i);
  snprintf (buf, sizeof buf, "%s\n", good);
  CHECK (crypto_key_parse (buf, key) == 0);
  snprintf (buf, sizeof buf, "%s\r\n", good);
  CHECK (crypto_key_parse (buf, key) == 0);
  snprintf (buf, sizeof buf, "%s\n\n", good);
  CHECK (crypto_key_parse (buf, key) == -1 && errno == EINVAL);
  snprintf (buf, sizeof buf, "%s0", good);
  CHECK (crypto_key_parse (buf, key) == -1);
  snprintf (buf, sizeof buf, "%.63s", good);
  CHECK (crypto_key_parse (buf, key) == -1);
  CHECK (crypto_key_parse ("", key) == -1);
  snprintf (buf, sizeof buf, "%.62sxx", good);
  CHECK (crypto_key_parse (buf, key) == -1);
  snprintf (buf, sizeof buf, " %.63s", good);
  CHECK (crypto_key_parse (buf, key) == -1);

  /* From text: the text is wiped either way. */
  {
    struct crypto *c;

    snprintf (buf, sizeof buf, "%s\n", good);
    c = crypto_new_from_text (buf);
    CHECK (c != NULL && buf[0] == '\0' && buf[64] == '\0');
    crypto_free (c);
    snprintf (buf, sizeof buf, "%.63s", good);
    errno = 0;
    c = crypto_new_from_text (buf);
    CHECK (c == NULL && errno == EINVAL && buf[0] == '\0');
  }
}

/* The domain of the master key 00 01 .. 1f, against values computed
 * independently: a change here breaks every encrypted disk.
 */
static void
test_domain (void)
{
  uint8_t master[CRYPTO_KEY_LEN], other_master[CRYPTO_KEY_LEN];
  uint8_t id[CRYPTO_ID_LEN], id2[CRYPTO_ID_LEN], mac[CRYPTO_MAC_LEN];
  uint8_t sealed[65 + CRYPTO_TAG_LEN], again[sizeof sealed], plain[65];
  char data[66], fp[CRYPTO_FINGERPRINT_HEX_LEN + 1];
  struct crypto *c, *other;
  size_t i;

  for (i = 0; i < CRYPTO_KEY_LEN; i++) {
    master[i] = i;
    other_master[i] = i + 1;
  }
  c = crypto_new (master);
  other = crypto_new (other_master);
  CHECK (c != NULL && other != NULL);
  if (c == NULL || other == NULL)
    exit (EXIT_FAILURE);

  crypto_fingerprint_hex (crypto_fingerprint (c), fp);
  CHECK (strcmp (fp, "28640be6cede7aa5efe681c6f58a0442") == 0);
  CHECK (memcmp (crypto_fingerprint (c), crypto_fingerprint (other),
                 CRYPTO_FINGERPRINT_LEN)
         != 0);

  for (i = 0; i < 13; i++)
    memcpy (data + 5 * i, "s3cow", 5);
  CHECK (crypto_chunk_id (c, data, 65, id) == 0);
  check_bytes ("chunk id", id,
               "f97d0be0bf0603ffc862e4d15f95625e8553ace0c419a8c65ace0cda4f040c"
               "8f");
  CHECK (crypto_chunk_id (other, data, 65, id2) == 0);
  CHECK (memcmp (id, id2, CRYPTO_ID_LEN) != 0);

  /* Deterministic: the same plaintext seals to the same object. */
  CHECK (crypto_seal (c, id, "hdr", 3, data, 65, sealed) == 0);
  check_bytes ("sealed chunk", sealed,
               "7eb90ef1bfd45a76c57e09b97914b5e35d696b5ef284acae4beb3457ac7a59"
               "65c2d7bee815b2df8c40163ad55071a159cd6520c0229575effc5d22aaf470"
               "758b85e37869f153a4e813b247934e52420c6c");
  CHECK (crypto_seal (c, id, "hdr", 3, data, 65, again) == 0);
  CHECK (memcmp (sealed, again, sizeof sealed) == 0);
  CHECK (crypto_open (c, id, "hdr", 3, sealed, sizeof sealed, plain) == 0);
  CHECK (memcmp (plain, data, 65) == 0);

  /* Refused: another id (a moved object), another header, another key,
   * a flipped bit anywhere, a truncated or empty object.
   */
  errno = 0;
  CHECK (crypto_open (c, id2, "hdr", 3, sealed, sizeof sealed, plain) == -1
         && errno == EBADMSG);
  CHECK (crypto_open (c, id, "hdR", 3, sealed, sizeof sealed, plain) == -1
         && errno == EBADMSG);
  CHECK (crypto_open (c, id, "hdr", 2, sealed, sizeof sealed, plain) == -1);
  CHECK (crypto_open (other, id, "hdr", 3, sealed, sizeof sealed, plain) == -1
         && errno == EBADMSG);
  for (i = 0; i < sizeof sealed; i++) {
    memcpy (again, sealed, sizeof sealed);
    again[i] ^= 0x80;
    CHECK (crypto_open (c, id, "hdr", 3, again, sizeof sealed, plain) == -1
           && errno == EBADMSG);
  }
  CHECK (crypto_open (c, id, "hdr", 3, sealed, sizeof sealed - 1, plain) == -1
         && errno == EBADMSG);
  CHECK (crypto_open (c, id, "hdr", 3, sealed, 3, plain) == -1
         && errno == EBADMSG);
  CHECK (crypto_open (c, id, "hdr", 3, sealed, 0, plain) == -1
         && errno == EBADMSG);

  /* An empty payload still has a tag, and round-trips. */
  CHECK (crypto_seal (c, id, NULL, 0, "", 0, again) == 0);
  CHECK (crypto_open (c, id, NULL, 0, again, CRYPTO_TAG_LEN, plain) == 0);

  /* Object MACs: bound to the key, the bytes and the domain. */
  CHECK (crypto_object_mac (c, "disks/d/head", "body", 4, mac) == 0);
  check_bytes ("object MAC", mac,
               "ff2daec67da5261ae00e806cb4acf9356a5b39162a32fee6615befc664c98e"
               "13");
  CHECK (crypto_object_mac_ok (c, "disks/d/head", "body", 4, mac));
  CHECK (!crypto_object_mac_ok (c, "disks/e/head", "body", 4, mac));
  CHECK (!crypto_object_mac_ok (c, "disks/d/head", "bodY", 4, mac));
  CHECK (!crypto_object_mac_ok (c, "disks/d/head", "body", 3, mac));
  CHECK (!crypto_object_mac_ok (other, "disks/d/head", "body", 4, mac));

  crypto_free (c);
  crypto_free (other);
}

/* Sealed chunk objects (chunk_seal.c): a round trip per codec; refused:
 * a raw object, an unencrypted frame, a changed header or payload,
 * another id, another key.
 */
static void
test_chunk_seal (void)
{
  enum { CS = 65536 };
  static const struct chunk_compression codecs[] = {
    { .codec = CHUNK_CODEC_NONE },
    { .codec = CHUNK_CODEC_LZ4 },
    { .codec = CHUNK_CODEC_ZSTD, .level = 3 },
  };
  size_t cap = chunk_object_max_len (CS), len, flen, i, k;
  uint8_t *plain = malloc (CS), *back = malloc (CS), *obj = malloc (cap);
  uint8_t *bad = malloc (cap), *scratch = malloc (cap);
  uint8_t master[CRYPTO_KEY_LEN] = { 1 }, id[CRYPTO_ID_LEN], id2[CRYPTO_ID_LEN];
  struct crypto *c = crypto_new (master), *other;
  const char *why;

  master[0] = 2;
  other = crypto_new (master);
  if (!plain || !back || !obj || !bad || !scratch || !c || !other)
    exit (EXIT_FAILURE);
  for (i = 0; i < CS; i++)
    plain[i] = (i / 100) % 7 == 0 ? (uint8_t)(i * 31) : 'a';
  CHECK (crypto_chunk_id (c, plain, CS, id) == 0);
  memcpy (id2, id, sizeof id2);
  id2[5] ^= 1;

  for (k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
    CHECK (chunk_seal_encode (c, id, &codecs[k], plain, CS, obj, &len, scratch,
                              &why)
           == 0);
    CHECK (len != CS && obj[9] == codecs[k].codec
           && (obj[10] & CHUNK_FRAME_ENCRYPTED));
    CHECK (k == 0 ? len == CS + 32 + CRYPTO_TAG_LEN : len < CS / 2);
    memset (back, 0, CS);
    CHECK (chunk_seal_decode (c, id, obj, len, CS, back, scratch, &why) == 0);
    CHECK (memcmp (back, plain, CS) == 0);
    CHECK (chunk_seal_decode (c, id2, obj, len, CS, back, scratch, &why) == -1);
    CHECK (chunk_seal_decode (other, id, obj, len, CS, back, scratch, &why)
           == -1);
    CHECK (chunk_seal_decode (c, id, obj, len - 1, CS, back, scratch, &why)
           == -1);
    /* Every header byte, and bytes of the payload and the tag. */
    for (i = 0; i < len; i += i < 32 ? 1 : 997) {
      memcpy (bad, obj, len);
      bad[i] ^= 0x10;
      CHECK (chunk_seal_decode (c, id, bad, len, CS, back, scratch, &why)
             == -1);
    }
    memcpy (bad, obj, len);
    bad[len - 1] ^= 1;
    CHECK (chunk_seal_decode (c, id, bad, len, CS, back, scratch, &why) == -1);
  }

  /* What an unencrypted disk stores is refused in an encrypted one. */
  CHECK (chunk_seal_decode (c, id, plain, CS, CS, back, scratch, &why) == -1);
  CHECK (chunk_codec_encode (&codecs[2], plain, CS, obj, &flen, &why) == 1);
  CHECK (chunk_seal_decode (c, id, obj, flen, CS, back, scratch, &why) == -1);

  crypto_free (c);
  crypto_free (other);
  free (plain);
  free (back);
  free (obj);
  free (bad);
  free (scratch);
}

int
main (void)
{
  test_primitives ();
  test_key_parse ();
  test_domain ();
  test_chunk_seal ();
  if (failures) {
    fprintf (stderr, "%d checks failed\n", failures);
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
