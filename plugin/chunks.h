/* s3cow: content addressing of chunks: how a chunk's bytes become an
 * address (SHA-256), an object key and an object in the store, and back.
 *
 * The cache reaches the store only through this module: chunks_fetch to
 * read a chunk (decoded, and checked against its address) and
 * chunks_persist to store one under its address.  What a chunk object
 * holds (the chunk's bytes, or a frame: chunk_codec.h) is decided here
 * alone, so that an encoding of the object changes this file and not the
 * cache: addresses stay the hash of the chunk's plain bytes (keyed, for
 * an encrypted disk).
 *
 * An all-zero chunk has the all-zero address and no object.
 *
 * Thread-safe: a struct chunks is read-only after chunks_new; the store is
 * thread-safe.  No function takes a lock; fetch and persist do store I/O.
 */
#ifndef S3COW_CHUNKS_H
#define S3COW_CHUNKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk_codec.h"
#include "crypto.h"
#include "names.h"
#include "store.h"

struct chunks;

/* Chunks of chunk_size bytes in store; new objects are written with
 * compression (copied).  With crypto (an encrypted disk's key domain,
 * kept by the caller; NULL: none) addresses are keyed ids and objects
 * sealed frames (chunk_seal.h).  NULL after logging on error.
 */
struct chunks *chunks_new (struct store *store, uint32_t chunk_size,
                           const struct chunk_compression *compression,
                           const struct crypto *crypto);
void chunks_free (struct chunks *ch);

/* hash = the address of data (chunk_size bytes; NULL: zeros).  A chunk of
 * zeros has the all-zero address.
 */
void chunks_address (const struct chunks *ch, const void *data,
                     uint8_t hash[HASH_LEN]);

/* The bytes of scratch memory that chunks_fetch and chunks_persist need:
 * chunk_size for an unencrypted disk, more for an encrypted one.  The
 * caller provides it, so that it can count it with its other buffers
 * (the cache takes it from its memory budget).
 */
size_t chunks_scratch_len (const struct chunks *ch);

/* Read the chunk whose address is hash (not all zeros) into buf
 * (chunk_size bytes), decoded whatever its encoding and checked against
 * the address, through scratch (chunks_scratch_len bytes, not overlapping
 * buf; its content is undefined after).  A raw object of an unencrypted
 * disk is read straight into buf, checked there: buf's content is
 * undefined if this fails.  The check (decode, then hash) runs inside
 * store_get_checked, so the body is hashed once and a body that fails it
 * is read again like any transient failure, for up to retry-time: damage
 * on the way costs a retry, not an error.  The same wrong content twice is
 * what the bucket holds: the store returns it at once and this fails.
 *
 * Returns 0, or -1 with errno ENOENT (no such object) or EIO (corrupt, or
 * the store failed and logged why).  If name is not NULL, a missing or
 * corrupt chunk is logged as chunk idx of disk name (and a corrupt one
 * counted in STAT_CHUNK_CORRUPT); with NULL the caller logs.
 */
int chunks_fetch (struct chunks *ch, const uint8_t hash[HASH_LEN], void *buf,
                  void *scratch, const char *name, uint64_t idx);

/* Store data (chunk_size bytes; NULL: zeros) under its address, written
 * to hash, encoded with the compression given to chunks_new (raw when it
 * does not shrink), through scratch (chunks_scratch_len bytes, not
 * overlapping data).  Nothing is stored when the address is all zeros or equal
 * to prev (the address the chunk had; NULL: none).  Returns 1 if the object was
 * stored, 0 if nothing was to be stored, -1 if the store failed (it logged
 * why).  The caller keeps data unchanged meanwhile.
 */
int chunks_persist (struct chunks *ch, const void *data, const uint8_t *prev,
                    uint8_t hash[HASH_LEN], void *scratch);

#endif /* S3COW_CHUNKS_H */
