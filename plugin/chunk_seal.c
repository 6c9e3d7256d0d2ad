/* s3cow: sealed chunk objects of encrypted disks (see chunk_seal.h).
 * No locks, no state.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "chunk_seal.h"

int
chunk_seal_encode (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
                   const struct chunk_compression *comp, const void *plain,
                   uint32_t chunk_size, void *out, size_t *out_len,
                   void *scratch, const char **why)
{
  const uint8_t *inner = plain;
  size_t inner_len = chunk_size, frame_len;
  unsigned codec = CHUNK_CODEC_NONE;
  int r;

  r = chunk_codec_encode (comp, plain, chunk_size, scratch, &frame_len, why);
  if (r == -1)
    return -1;
  if (r == 1) {
    codec = ((const uint8_t *)scratch)[9];
    inner = (const uint8_t *)scratch + CHUNK_FRAME_HEADER_LEN;
    inner_len = frame_len - CHUNK_FRAME_HEADER_LEN;
  }
  chunk_frame_write_header (out, codec, CHUNK_FRAME_ENCRYPTED, chunk_size,
                            inner_len + CRYPTO_TAG_LEN);
  if (crypto_seal (c, id, out, CHUNK_FRAME_HEADER_LEN, inner, inner_len,
                   (uint8_t *)out + CHUNK_FRAME_HEADER_LEN)
      == -1) {
    *why = "AES-256-GCM failed (OpenSSL out of memory?)";
    return -1;
  }
  *out_len = CHUNK_FRAME_HEADER_LEN + inner_len + CRYPTO_TAG_LEN;
  return 0;
}

int
chunk_seal_decode (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
                   const void *obj, size_t len, uint32_t chunk_size,
                   void *plain, void *scratch, const char **why)
{
  uint8_t *inner = (uint8_t *)scratch + CHUNK_FRAME_HEADER_LEN;
  struct chunk_frame f;
  size_t inner_len;

  if (len > chunk_object_max_len (chunk_size)) {
    *why = "longer than any chunk object";
    return -1;
  }
  /* A raw object would be plaintext that nobody authenticated. */
  if (chunk_object_is_raw (len, chunk_size)) {
    *why = "not encrypted (a raw chunk in an encrypted disk)";
    return -1;
  }
  if (chunk_frame_parse (obj, len, chunk_size, &f, why) == -1)
    return -1;
  if (!(f.flags & CHUNK_FRAME_ENCRYPTED)) {
    *why = "not encrypted (an unencrypted frame in an encrypted disk)";
    return -1;
  }
  if (f.stored_len < CRYPTO_TAG_LEN) {
    *why = "an encrypted payload shorter than its tag";
    return -1;
  }
  inner_len = f.stored_len - CRYPTO_TAG_LEN;
  if (crypto_open (c, id, obj, CHUNK_FRAME_HEADER_LEN, f.payload, f.stored_len,
                   inner)
      == -1) {
    *why = errno == EBADMSG ? "does not open under the disk's key for this "
                              "chunk id (changed, moved, or another key)"
                            : "AES-256-GCM failed (OpenSSL out of memory?)";
    return -1;
  }
  if (f.codec == CHUNK_CODEC_NONE) {
    if (inner_len != chunk_size) {
      *why = "an unencoded payload is not the chunk size";
      return -1;
    }
    memcpy (plain, inner, chunk_size);
    return 0;
  }
  /* The inner payload as an unencrypted frame, for the codec.  A
   * compressed frame is never as long as the chunk (it would read as raw).
   */
  if (CHUNK_FRAME_HEADER_LEN + inner_len >= chunk_size) {
    *why = "a compressed payload as long as the chunk";
    return -1;
  }
  chunk_frame_write_header (scratch, f.codec, 0, chunk_size, inner_len);
  return chunk_codec_decode (scratch, CHUNK_FRAME_HEADER_LEN + inner_len,
                             chunk_size, plain, why);
}
