/* s3cow: the chunk objects of an encrypted disk: pure functions, no I/O.
 *
 * An encrypted disk's chunk object is always a frame (chunk_codec.h) with
 * the CHUNK_FRAME_ENCRYPTED flag, never raw:
 *
 *   header (32 bytes): codec of the inner payload, flags ENCRYPTED,
 *                      plaintext length (the chunk size), stored length
 *                      (inner length + CRYPTO_TAG_LEN)
 *   payload:           AES-256-GCM (crypto_seal) of the inner payload,
 *                      then its 16-byte tag
 *
 * The inner payload is what an unencrypted frame of the same codec would
 * hold: the chunk compressed, or the chunk as it is (codec none).  The
 * chunk's id (crypto_chunk_id: a keyed hash of the plaintext, also the
 * object's key) fixes the nonce, and the id and the whole header are the
 * AAD, so that a header changed, or an object under another id or of
 * another key domain, fails to open.  The tag is the read check: no hash
 * of the plaintext is computed on reading.
 */
#ifndef S3COW_CHUNK_SEAL_H
#define S3COW_CHUNK_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "chunk_codec.h"
#include "crypto.h"

/* Encode plain (chunk_size bytes), whose id is id, into out (room for
 * chunk_object_max_len bytes): compressed with comp when that shrinks it
 * (as chunk_codec_encode decides), then sealed.  scratch: room for
 * chunk_object_max_len bytes.  0 with *out_len set, or -1 with *why a
 * static message (out of memory, OpenSSL failed).
 */
int chunk_seal_encode (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
                       const struct chunk_compression *comp, const void *plain,
                       uint32_t chunk_size, void *out, size_t *out_len,
                       void *scratch, const char **why);

/* Decode the object (obj, len bytes) of the chunk whose id is id into
 * plain (chunk_size bytes), through scratch (chunk_object_max_len bytes;
 * neither may overlap obj).  Only a sealed frame that opens under c for
 * this id is accepted: 0, or -1 with *why a static message.
 */
int chunk_seal_decode (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
                       const void *obj, size_t len, uint32_t chunk_size,
                       void *plain, void *scratch, const char **why);

#endif /* S3COW_CHUNK_SEAL_H */
