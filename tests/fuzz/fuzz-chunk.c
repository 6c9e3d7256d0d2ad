/* s3cow fuzzing: chunk_codec_decode (a chunk object: raw or a frame).
 *
 * Input: byte 0 picks the chunk size (64K << (b0 % 2)), the rest is the
 * object.  Checked besides memory safety: a refused object says why; an
 * accepted one parses as a frame (or is raw, and decodes to itself), and
 * what it decodes to round-trips through every codec: encoded, decoded
 * back to the same bytes, each frame within the size the encoder
 * promises and never exactly the chunk size.
 */
#include <config.h>

#include <string.h>

#include "chunk_codec.h"
#include "fuzz.h"

static const struct chunk_compression codecs[] = {
  { .codec = CHUNK_CODEC_LZ4 },
  { .codec = CHUNK_CODEC_ZSTD, .level = 1 },
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint32_t chunk_size;
  uint8_t *plain, *frame, *again;
  struct chunk_frame f;
  const char *why = NULL;
  size_t i, len;
  int r;

  if (size < 1)
    return 0;
  chunk_size = (uint32_t)65536 << (data[0] % 2);
  data++;
  size--;
  plain = malloc (chunk_size);
  frame = malloc (chunk_object_max_len (chunk_size));
  again = malloc (chunk_size);
  FUZZ_ASSERT (plain && frame && again);

  if (chunk_codec_decode (data, size, chunk_size, plain, &why) == -1) {
    FUZZ_ASSERT (why != NULL && why[0] != '\0');
    goto out;
  }
  if (chunk_object_is_raw (size, chunk_size))
    FUZZ_ASSERT (memcmp (plain, data, chunk_size) == 0);
  else
    FUZZ_ASSERT (chunk_frame_parse (data, size, chunk_size, &f, &why) == 0);

  for (i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
    r = chunk_codec_encode (&codecs[i], plain, chunk_size, frame, &len, &why);
    FUZZ_ASSERT (r == 0 || r == 1);
    if (r == 0)
      continue;
    FUZZ_ASSERT (len != chunk_size);
    FUZZ_ASSERT (len <= (uint64_t)chunk_size * CHUNK_FRAME_MAX_PERCENT / 100);
    FUZZ_ASSERT (chunk_codec_decode (frame, len, chunk_size, again, &why) == 0);
    FUZZ_ASSERT (memcmp (again, plain, chunk_size) == 0);
  }
out:
  free (plain);
  free (frame);
  free (again);
  return 0;
}
