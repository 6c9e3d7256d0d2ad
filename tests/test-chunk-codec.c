/* Unit tests of the chunk object encoding (plugin/chunk_codec.c): every
 * codec round-trips; a chunk that does not shrink is stored raw; a raw
 * object decodes to itself; the compression= values; and truncated,
 * garbled or inconsistent frames are refused with a reason, never a crash.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_codec.h"

static int failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);      \
      failures++;                                                              \
    }                                                                          \
  } while (0)

#define CS 65536

static const struct chunk_compression codecs[] = {
  { .codec = CHUNK_CODEC_LZ4 },
  { .codec = CHUNK_CODEC_ZSTD, .level = 1 },
  { .codec = CHUNK_CODEC_ZSTD, .level = 3 },
  { .codec = CHUNK_CODEC_ZSTD, .level = 19 },
};
#define NCODECS (sizeof codecs / sizeof codecs[0])

static uint8_t text[CS], noise[CS], half[CS], frame[CS + 512], out[CS];

/* A little xorshift: noise that no compressor shrinks. */
static void
fill_noise (uint8_t *p, size_t n, uint64_t seed)
{
  size_t i;

  for (i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    p[i] = seed >> 24;
  }
}

static void
setup (void)
{
  size_t i;

  for (i = 0; i + 48 <= CS; i += 48)
    snprintf ((char *)text + i, 49,
              "%08zu: the quick brown fox jumps over it.\n", i);
  fill_noise (noise, CS, 88172645463325252ULL);
  /* Half noise, half zeros: shrinks to about half. */
  fill_noise (half, CS / 2, 12345);
}

static size_t
encode (const struct chunk_compression *c, const uint8_t *plain, int expect)
{
  const char *why = NULL;
  size_t len = 0;
  int r = chunk_codec_encode (c, plain, CS, frame, &len, &why);

  CHECK (r == expect);
  return r == 1 ? len : 0;
}

static void
test_round_trips (void)
{
  const uint8_t *inputs[] = { text, half };
  struct chunk_frame f;
  const char *why;
  size_t i, k, len;

  for (i = 0; i < NCODECS; i++)
    for (k = 0; k < 2; k++) {
      len = encode (&codecs[i], inputs[k], 1);
      CHECK (len >= CHUNK_FRAME_HEADER_LEN);
      CHECK (len != CS);
      CHECK (len <= CS * CHUNK_FRAME_MAX_PERCENT / 100);
      CHECK (memcmp (frame, "s3cowCK\0", 8) == 0);
      CHECK (chunk_frame_parse (frame, len, CS, &f, &why) == 0);
      CHECK (f.version == 1 && f.codec == codecs[i].codec && f.flags == 0);
      CHECK (f.plain_len == CS && f.stored_len == len - 32);
      memset (out, 0xee, CS);
      CHECK (chunk_codec_decode (frame, len, CS, out, &why) == 0);
      CHECK (memcmp (out, inputs[k], CS) == 0);
    }
  /* Text shrinks a lot; so does a chunk half of zeros, to about half. */
  len = encode (&codecs[1], text, 1);
  CHECK (len < CS / 4);
  len = encode (&codecs[1], half, 1);
  CHECK (len < CS * 6 / 10);
}

static void
test_raw (void)
{
  struct chunk_compression none = { .codec = CHUNK_CODEC_NONE };
  const char *why;
  size_t i;

  /* Incompressible data, and codec none: stored raw. */
  for (i = 0; i < NCODECS; i++)
    encode (&codecs[i], noise, 0);
  encode (&none, text, 0);
  /* A raw object (exactly the chunk size) decodes to itself, even when it
   * starts like a frame.
   */
  CHECK (chunk_codec_decode (noise, CS, CS, out, &why) == 0);
  CHECK (memcmp (out, noise, CS) == 0);
  memcpy (frame, noise, CS);
  chunk_frame_write_header (frame, CHUNK_CODEC_ZSTD, 0, CS, CS - 32);
  CHECK (chunk_codec_decode (frame, CS, CS, out, &why) == 0);
  CHECK (memcmp (out, frame, CS) == 0);
  /* A frame of codec none: header and the chunk. */
  chunk_frame_write_header (frame, CHUNK_CODEC_NONE, 0, CS, CS);
  memcpy (frame + 32, text, CS);
  CHECK (chunk_codec_decode (frame, CS + 32, CS, out, &why) == 0);
  CHECK (memcmp (out, text, CS) == 0);
}

/* obj (len bytes) is refused with a reason. */
static void
refused (const uint8_t *obj, size_t len, const char *what)
{
  const char *why = NULL;

  if (chunk_codec_decode (obj, len, CS, out, &why) != -1) {
    fprintf (stderr, "test-chunk-codec: FAILED: %s was accepted\n", what);
    failures++;
  } else if (why == NULL || why[0] == '\0') {
    fprintf (stderr, "test-chunk-codec: FAILED: %s: no reason\n", what);
    failures++;
  }
}

static void
test_damaged (void)
{
  static uint8_t good[CS + 512], bad[CS + 512];
  size_t i, len, cut;

  for (i = 0; i < NCODECS; i++) {
    len = encode (&codecs[i], text, 1);
    memcpy (good, frame, len);

    /* Every truncation (the header, the payload), and one byte more. */
    for (cut = 0; cut < len; cut += cut < 64 ? 1 : 97)
      refused (good, cut, "a truncated frame");
    memcpy (bad, good, len);
    bad[len] = 0;
    refused (bad, len + 1, "a frame with a byte appended");

    /* Each header field wrong. */
    memcpy (bad, good, len);
    bad[0] ^= 1;
    refused (bad, len, "a bad magic");
    memcpy (bad, good, len);
    bad[8] = 2;
    refused (bad, len, "version 2");
    memcpy (bad, good, len);
    bad[9] = 3;
    refused (bad, len, "codec 3");
    memcpy (bad, good, len);
    bad[9] = bad[9] == CHUNK_CODEC_LZ4 ? CHUNK_CODEC_ZSTD : CHUNK_CODEC_LZ4;
    refused (bad, len, "the other codec");
    memcpy (bad, good, len);
    bad[10] = 2;
    refused (bad, len, "an unknown flag");
    memcpy (bad, good, len);
    bad[10] = CHUNK_FRAME_ENCRYPTED;
    refused (bad, len, "an encrypted frame");
    memcpy (bad, good, len);
    bad[14] ^= 1;
    refused (bad, len, "a wrong plaintext length");
    memcpy (bad, good, len);
    bad[16] ^= 1;
    refused (bad, len, "a wrong stored length");
    memcpy (bad, good, len);
    bad[25] = 1;
    refused (bad, len, "a reserved byte set");

    /* The payload garbled: every byte in turn of the first 64, then a
     * sample, each flipped.  Either refused, or (a flip the codec cannot
     * see) decoded to the chunk's size: the hash check catches it.
     */
    for (cut = 32; cut < len; cut += cut < 96 ? 1 : 61) {
      const char *why;

      memcpy (bad, good, len);
      bad[cut] ^= 0x55;
      (void)chunk_codec_decode (bad, len, CS, out, &why);
    }
    /* The payload replaced by noise. */
    memcpy (bad, good, 32);
    fill_noise (bad + 32, len - 32, i + 1);
    refused (bad, len, "a payload of noise");
  }
  /* Longer than any object. */
  refused (frame, chunk_object_max_len (CS) + 1, "an oversized object");
  refused (frame, 0, "an empty object");
}

static void
test_parse (void)
{
  struct chunk_compression c;
  const char *why;

  CHECK (chunk_compression_parse ("none", &c, &why) == 0
         && c.codec == CHUNK_CODEC_NONE);
  CHECK (chunk_compression_parse ("lz4", &c, &why) == 0
         && c.codec == CHUNK_CODEC_LZ4);
  CHECK (chunk_compression_parse ("zstd", &c, &why) == 0
         && c.codec == CHUNK_CODEC_ZSTD && c.level == CHUNK_ZSTD_DEFAULT_LEVEL);
  CHECK (chunk_compression_parse ("zstd:7", &c, &why) == 0
         && c.codec == CHUNK_CODEC_ZSTD && c.level == 7);
  CHECK (chunk_compression_parse ("zstd:19", &c, &why) == 0 && c.level == 19);
  CHECK (chunk_compression_parse ("zstd:0", &c, &why) == -1);
  CHECK (chunk_compression_parse ("zstd:-1", &c, &why) == -1);
  CHECK (chunk_compression_parse ("zstd:20", &c, &why) == -1);
  CHECK (chunk_compression_parse ("zstd:99", &c, &why) == -1);
  CHECK (chunk_compression_parse ("zstd:", &c, &why) == -1);
  CHECK (chunk_compression_parse ("zstd:3x", &c, &why) == -1);
  CHECK (chunk_compression_parse ("lz4:1", &c, &why) == -1);
  CHECK (chunk_compression_parse ("gzip", &c, &why) == -1);
  CHECK (chunk_compression_parse ("", &c, &why) == -1);
  CHECK (strcmp (chunk_codec_name (CHUNK_CODEC_ZSTD), "zstd") == 0);
  CHECK (strcmp (chunk_codec_name (9), "unknown") == 0);
}

int
main (void)
{
  setup ();
  test_round_trips ();
  test_raw ();
  test_damaged ();
  test_parse ();
  if (failures) {
    fprintf (stderr, "test-chunk-codec: %d checks failed\n", failures);
    return 1;
  }
  printf ("test-chunk-codec: all checks passed\n");
  return 0;
}
