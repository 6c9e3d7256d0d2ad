/* s3cow fuzzing: the chunk objects of an encrypted disk
 * (chunk_seal_decode: frame, AES-256-GCM open, decompression), under a
 * fixed key, for 64 KiB chunks.
 *
 * Input: 32 bytes of chunk id, then the object.  Checked besides memory
 * safety: an object that decodes is a frame with the encrypted flag whose
 * payload opens under that id and header (no other bytes are accepted:
 * the fuzzer cannot forge a tag, so only the seeds decode), and the
 * decoded chunk seals again, with the frame's codec, to an object that
 * decodes to the same chunk.
 */
#include <config.h>

#include <string.h>

#include "chunk_seal.h"
#include "fuzz.h"

#define CS 65536

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct crypto *c;
  static uint8_t plain[CS], again[CS], obj[CS + 256], scratch[CS + 256];
  const char *why;
  size_t len;

  if (c == NULL) {
    uint8_t master[CRYPTO_KEY_LEN];
    size_t i;
    for (i = 0; i < CRYPTO_KEY_LEN; i++)
      master[i] = i;
    c = crypto_new (master);
    FUZZ_ASSERT (c != NULL);
  }
  FUZZ_ASSERT (chunk_object_max_len (CS) <= sizeof obj);
  if (size < CRYPTO_ID_LEN)
    return 0;
  if (chunk_seal_decode (c, data, data + CRYPTO_ID_LEN, size - CRYPTO_ID_LEN,
                         CS, plain, scratch, &why)
      == -1) {
    FUZZ_ASSERT (why != NULL);
    return 0;
  }
  FUZZ_ASSERT (size - CRYPTO_ID_LEN > CHUNK_FRAME_HEADER_LEN + CRYPTO_TAG_LEN);
  FUZZ_ASSERT (data[CRYPTO_ID_LEN + 10] & CHUNK_FRAME_ENCRYPTED);
  {
    struct chunk_compression comp
        = { .codec = data[CRYPTO_ID_LEN + 9], .level = 1 };

    FUZZ_ASSERT (
        chunk_seal_encode (c, data, &comp, plain, CS, obj, &len, scratch, &why)
        == 0);
    FUZZ_ASSERT (chunk_seal_decode (c, data, obj, len, CS, again, scratch, &why)
                 == 0);
    FUZZ_ASSERT (memcmp (plain, again, CS) == 0);
  }
  return 0;
}
