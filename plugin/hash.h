/* s3cow: SHA-256, the one hash of the code base (OpenSSL's EVP).
 *
 * Chunk addresses, object checksums, lease checksums, SigV4 payload
 * hashes and the directory store's etags all come from here, so that the
 * algorithm and the library calls live in one place.
 *
 * Thread-safe: no shared state.
 */
#ifndef S3COW_HASH_H
#define S3COW_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SHA256_LEN 32

/* out = SHA-256 of len bytes at data.  It cannot fail but for OpenSSL
 * failing to allocate a few bytes of context: then it logs and aborts
 * (a wrong hash would name the wrong chunk).
 */
void hash_sha256 (const void *data, size_t len, uint8_t out[HASH_SHA256_LEN]);

/* The same, in pieces.  hash_begin returns NULL (errno ENOMEM) on failure;
 * hash_update returns 0 or -1 (errno EIO); hash_end writes the hash,
 * frees the state and returns 0 or -1 (errno EIO; freed either way);
 * hash_abort frees a state not ended (NULL: nothing).  Nothing is logged.
 */
struct hash_state;
struct hash_state *hash_begin (void);
int hash_update (struct hash_state *h, const void *data, size_t len);
int hash_end (struct hash_state *h, uint8_t out[HASH_SHA256_LEN]);
void hash_abort (struct hash_state *h);

#endif /* S3COW_HASH_H */
