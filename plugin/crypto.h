/* s3cow: the cryptography of encrypted disks, through OpenSSL 3's EVP
 * (HKDF, HMAC-SHA256, AES-256-GCM).  No primitive of our own.
 *
 * One master key (256 bits, given as 64 hex characters) makes a key
 * domain.  HKDF-SHA256 derives from it separate subkeys, one per use:
 *
 *   id      chunk ids: HMAC-SHA256 (id key, plaintext chunk), so that the
 *           bucket holds no plaintext hash, while identical chunks of the
 *           domain still have one id (dedup);
 *   chunk   AES-256-GCM of chunk payloads;
 *   nonce   the GCM nonce of a chunk: the first 12 bytes of
 *           HMAC-SHA256 (nonce key, chunk id).  The id is a function of
 *           the plaintext, so a nonce only ever serves one plaintext (the
 *           same plaintext sealed twice is the same object), and the id
 *           is also the AAD: a chunk object under another id, or of
 *           another domain, fails to open;
 *   mac     HMAC-SHA256 of heads and maps, bound to their object key;
 *
 * and a fingerprint (16 bytes) that names the key without revealing it:
 * safe to store in a head and to print.
 *
 * Pure functions: no I/O, no logging (callers log), no shared mutable
 * state.  A struct crypto is read-only once made: thread-safe.
 */
#ifndef S3COW_CRYPTO_H
#define S3COW_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_KEY_HEX_LEN 64
#define CRYPTO_ID_LEN 32 /* a chunk id: HMAC-SHA256 */
#define CRYPTO_MAC_LEN 32
#define CRYPTO_TAG_LEN 16
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_FINGERPRINT_LEN 16
#define CRYPTO_FINGERPRINT_HEX_LEN 32 /* 2 * CRYPTO_FINGERPRINT_LEN */

struct crypto;

/* Parse a master key: exactly 64 hex characters, optionally followed by
 * one newline ("\n" or "\r\n", as a key file has).  0, or -1 (errno
 * EINVAL).  Says nothing about text: it is a secret.
 */
int crypto_key_parse (const char *text, uint8_t key[CRYPTO_KEY_LEN]);

/* The key domain of master.  NULL (errno ENOMEM or EIO: OpenSSL failed). */
struct crypto *crypto_new (const uint8_t master[CRYPTO_KEY_LEN]);

/* The key domain of a key written as text (crypto_key_parse), which is
 * then wiped (the whole string).  NULL with errno EINVAL (not a key), or
 * as crypto_new.
 */
struct crypto *crypto_new_from_text (char *text);
void crypto_free (struct crypto *c);

/* The fingerprint of the domain, as bytes and as lowercase hex. */
const uint8_t *crypto_fingerprint (const struct crypto *c);
void crypto_fingerprint_hex (const uint8_t fp[CRYPTO_FINGERPRINT_LEN],
                             char hex[CRYPTO_FINGERPRINT_HEX_LEN + 1]);

/* id = the keyed id of len bytes of plaintext.  0, or -1 (errno). */
int crypto_chunk_id (const struct crypto *c, const void *data, size_t len,
                     uint8_t id[CRYPTO_ID_LEN]);

/* Seal len bytes of plain into out (len + CRYPTO_TAG_LEN bytes: the
 * ciphertext, then the tag), for chunk id, authenticating aad (aad_len
 * bytes, may be 0) besides the id.  0, or -1 (errno).
 */
int crypto_seal (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
                 const void *aad, size_t aad_len, const void *plain, size_t len,
                 void *out);

/* Open sealed (len bytes, tag included) into out (len - CRYPTO_TAG_LEN
 * bytes).  0, or -1: errno EBADMSG when the object is not what the key
 * sealed for this id and aad (tampered, moved, truncated, other key),
 * another errno when OpenSSL failed.  out may hold garbage after EBADMSG.
 */
int crypto_open (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
                 const void *aad, size_t aad_len, const void *sealed,
                 size_t len, void *out);

/* mac = HMAC-SHA256 (mac key, u16le (strlen (key)) || key || data): the
 * MAC of a stored object's bytes, bound to its object key.  0, or -1.
 */
int crypto_object_mac (const struct crypto *c, const char *key,
                       const void *data, size_t len,
                       uint8_t mac[CRYPTO_MAC_LEN]);

/* Does mac authenticate data under key?  (Constant time.) */
bool crypto_object_mac_ok (const struct crypto *c, const char *key,
                           const void *data, size_t len,
                           const uint8_t mac[CRYPTO_MAC_LEN]);

/* The primitives, exposed for known-answer tests.  0, or -1 (errno). */
int crypto_hkdf_sha256 (const void *ikm, size_t ikm_len, const void *salt,
                        size_t salt_len, const void *info, size_t info_len,
                        void *out, size_t out_len);
int crypto_hmac_sha256 (const void *key, size_t key_len, const void *data,
                        size_t len, uint8_t mac[32]);
int crypto_aes256gcm_seal (const uint8_t key[CRYPTO_KEY_LEN],
                           const uint8_t nonce[CRYPTO_NONCE_LEN],
                           const void *aad, size_t aad_len, const void *plain,
                           size_t len, void *out);
int crypto_aes256gcm_open (const uint8_t key[CRYPTO_KEY_LEN],
                           const uint8_t nonce[CRYPTO_NONCE_LEN],
                           const void *aad, size_t aad_len, const void *sealed,
                           size_t len, void *out);

#endif /* S3COW_CRYPTO_H */
