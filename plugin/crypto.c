/* s3cow: the key domain of an encrypted disk (see crypto.h).
 *
 * Every primitive is OpenSSL 3's: HKDF through EVP_KDF, HMAC through
 * EVP_MAC, AES-256-GCM through EVP_CIPHER.  No locks: a struct crypto is
 * read-only once made, and each call makes its own OpenSSL context.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto.h"

/* HKDF's salt and infos: changing one changes every key of every domain. */
static const char hkdf_salt[] = "s3cow key domain v1";
static const char info_id[] = "s3cow chunk id";
static const char info_chunk[] = "s3cow chunk encryption";
static const char info_nonce[] = "s3cow chunk nonce";
static const char info_mac[] = "s3cow metadata mac";
static const char info_fingerprint[] = "s3cow key fingerprint";

struct crypto {
  uint8_t id_key[CRYPTO_KEY_LEN];
  uint8_t chunk_key[CRYPTO_KEY_LEN];
  uint8_t nonce_key[CRYPTO_KEY_LEN];
  uint8_t mac_key[CRYPTO_KEY_LEN];
  uint8_t fingerprint[CRYPTO_FINGERPRINT_LEN];
};

static int
hex_value (char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

int
crypto_key_parse (const char *text, uint8_t key[CRYPTO_KEY_LEN])
{
  size_t i;

  for (i = 0; i < CRYPTO_KEY_LEN; i++) {
    int hi = hex_value (text[2 * i]);
    int lo = hi < 0 ? -1 : hex_value (text[2 * i + 1]);
    if (lo < 0)
      goto bad;
    key[i] = (uint8_t)(hi << 4 | lo);
  }
  text += CRYPTO_KEY_HEX_LEN;
  if (strcmp (text, "") == 0 || strcmp (text, "\n") == 0
      || strcmp (text, "\r\n") == 0)
    return 0;
bad:
  OPENSSL_cleanse (key, CRYPTO_KEY_LEN);
  errno = EINVAL;
  return -1;
}

int
crypto_hkdf_sha256 (const void *ikm, size_t ikm_len, const void *salt,
                    size_t salt_len, const void *info, size_t info_len,
                    void *out, size_t out_len)
{
  EVP_KDF *kdf = EVP_KDF_fetch (NULL, "HKDF", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new (kdf) : NULL;
  OSSL_PARAM params[5];
  int ok;

  EVP_KDF_free (kdf);
  if (ctx == NULL) {
    errno = ENOMEM;
    return -1;
  }
  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_KDF_PARAM_DIGEST,
                                                (char *)"SHA256", 0);
  params[1] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_KEY,
                                                 (void *)ikm, ikm_len);
  params[2] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_SALT,
                                                 (void *)salt, salt_len);
  params[3] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_INFO,
                                                 (void *)info, info_len);
  params[4] = OSSL_PARAM_construct_end ();
  ok = EVP_KDF_derive (ctx, out, out_len, params);
  EVP_KDF_CTX_free (ctx);
  if (ok != 1) {
    errno = EIO;
    return -1;
  }
  return 0;
}

/* HMAC-SHA256 of the concatenation of up to three parts (NULL: none). */
static int
hmac3 (const void *key, size_t key_len, const void *a, size_t a_len,
       const void *b, size_t b_len, const void *d, size_t d_len,
       uint8_t mac[32])
{
  EVP_MAC *hmac = EVP_MAC_fetch (NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new (hmac) : NULL;
  OSSL_PARAM params[2];
  size_t n = 0;
  int ok;

  EVP_MAC_free (hmac);
  if (ctx == NULL) {
    errno = ENOMEM;
    return -1;
  }
  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST,
                                                (char *)"SHA256", 0);
  params[1] = OSSL_PARAM_construct_end ();
  ok = EVP_MAC_init (ctx, key, key_len, params)
       && (a_len == 0 || EVP_MAC_update (ctx, a, a_len))
       && (b_len == 0 || EVP_MAC_update (ctx, b, b_len))
       && (d_len == 0 || EVP_MAC_update (ctx, d, d_len))
       && EVP_MAC_final (ctx, mac, &n, 32) && n == 32;
  EVP_MAC_CTX_free (ctx);
  if (!ok) {
    errno = EIO;
    return -1;
  }
  return 0;
}

int
crypto_hmac_sha256 (const void *key, size_t key_len, const void *data,
                    size_t len, uint8_t mac[32])
{
  return hmac3 (key, key_len, data, len, NULL, 0, NULL, 0, mac);
}

/* AES-256-GCM, one shot.  The AAD is aad1 || aad2. */
static int
gcm (bool encrypt, const uint8_t key[CRYPTO_KEY_LEN],
     const uint8_t nonce[CRYPTO_NONCE_LEN], const void *aad1, size_t aad1_len,
     const void *aad2, size_t aad2_len, const void *in, size_t len, void *out,
     uint8_t tag[CRYPTO_TAG_LEN])
{
  EVP_CIPHER *cipher = EVP_CIPHER_fetch (NULL, "AES-256-GCM", NULL);
  EVP_CIPHER_CTX *ctx = cipher ? EVP_CIPHER_CTX_new () : NULL;
  uint8_t *o = out;
  int n, ok, final_ok;

  if (ctx == NULL) {
    EVP_CIPHER_free (cipher);
    errno = ENOMEM;
    return -1;
  }
  if (len > INT_MAX || aad1_len > INT_MAX || aad2_len > INT_MAX) {
    EVP_CIPHER_CTX_free (ctx);
    EVP_CIPHER_free (cipher);
    errno = EINVAL;
    return -1;
  }
  /* The default IV length of GCM is 12 bytes: CRYPTO_NONCE_LEN. */
  ok = EVP_CipherInit_ex2 (ctx, cipher, key, nonce, encrypt, NULL)
       && (aad1_len == 0
           || EVP_CipherUpdate (ctx, NULL, &n, aad1, (int)aad1_len))
       && (aad2_len == 0
           || EVP_CipherUpdate (ctx, NULL, &n, aad2, (int)aad2_len))
       && (len == 0
           || (EVP_CipherUpdate (ctx, o, &n, in, (int)len) && (size_t)n == len))
       && (encrypt
           || EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
                                   tag));
  final_ok = ok && EVP_CipherFinal_ex (ctx, o + len, &n) && n == 0;
  if (final_ok && encrypt)
    final_ok
        = EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag);
  EVP_CIPHER_CTX_free (ctx);
  EVP_CIPHER_free (cipher);
  if (!ok) {
    errno = EIO;
    return -1;
  }
  if (!final_ok) {
    /* On decryption, the tag did not match. */
    errno = encrypt ? EIO : EBADMSG;
    return -1;
  }
  return 0;
}

int
crypto_aes256gcm_seal (const uint8_t key[CRYPTO_KEY_LEN],
                       const uint8_t nonce[CRYPTO_NONCE_LEN], const void *aad,
                       size_t aad_len, const void *plain, size_t len, void *out)
{
  return gcm (true, key, nonce, aad, aad_len, NULL, 0, plain, len, out,
              (uint8_t *)out + len);
}

int
crypto_aes256gcm_open (const uint8_t key[CRYPTO_KEY_LEN],
                       const uint8_t nonce[CRYPTO_NONCE_LEN], const void *aad,
                       size_t aad_len, const void *sealed, size_t len,
                       void *out)
{
  uint8_t tag[CRYPTO_TAG_LEN];

  if (len < CRYPTO_TAG_LEN) {
    errno = EBADMSG;
    return -1;
  }
  memcpy (tag, (const uint8_t *)sealed + len - CRYPTO_TAG_LEN, CRYPTO_TAG_LEN);
  return gcm (false, key, nonce, aad, aad_len, NULL, 0, sealed,
              len - CRYPTO_TAG_LEN, out, tag);
}

static int
derive (const uint8_t master[CRYPTO_KEY_LEN], const char *info, void *out,
        size_t out_len)
{
  return crypto_hkdf_sha256 (master, CRYPTO_KEY_LEN, hkdf_salt,
                             strlen (hkdf_salt), info, strlen (info), out,
                             out_len);
}

struct crypto *
crypto_new (const uint8_t master[CRYPTO_KEY_LEN])
{
  struct crypto *c = malloc (sizeof *c);

  if (c == NULL)
    return NULL;
  if (derive (master, info_id, c->id_key, CRYPTO_KEY_LEN) == -1
      || derive (master, info_chunk, c->chunk_key, CRYPTO_KEY_LEN) == -1
      || derive (master, info_nonce, c->nonce_key, CRYPTO_KEY_LEN) == -1
      || derive (master, info_mac, c->mac_key, CRYPTO_KEY_LEN) == -1
      || derive (master, info_fingerprint, c->fingerprint,
                 CRYPTO_FINGERPRINT_LEN)
             == -1) {
    int e = errno;
    crypto_free (c);
    errno = e;
    return NULL;
  }
  return c;
}

struct crypto *
crypto_new_from_text (char *text)
{
  uint8_t key[CRYPTO_KEY_LEN];
  struct crypto *c = NULL;

  if (crypto_key_parse (text, key) == 0) {
    c = crypto_new (key);
    OPENSSL_cleanse (key, sizeof key);
  }
  OPENSSL_cleanse (text, strlen (text));
  return c;
}

void
crypto_free (struct crypto *c)
{
  if (c) {
    OPENSSL_cleanse (c, sizeof *c);
    free (c);
  }
}

const uint8_t *
crypto_fingerprint (const struct crypto *c)
{
  return c->fingerprint;
}

void
crypto_fingerprint_hex (const uint8_t fp[CRYPTO_FINGERPRINT_LEN],
                        char hex[CRYPTO_FINGERPRINT_HEX_LEN + 1])
{
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < CRYPTO_FINGERPRINT_LEN; i++) {
    hex[2 * i] = digits[fp[i] >> 4];
    hex[2 * i + 1] = digits[fp[i] & 15];
  }
  hex[CRYPTO_FINGERPRINT_HEX_LEN] = '\0';
}

int
crypto_chunk_id (const struct crypto *c, const void *data, size_t len,
                 uint8_t id[CRYPTO_ID_LEN])
{
  return crypto_hmac_sha256 (c->id_key, CRYPTO_KEY_LEN, data, len, id);
}

static int
chunk_nonce (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
             uint8_t nonce[CRYPTO_NONCE_LEN])
{
  uint8_t mac[32];

  if (crypto_hmac_sha256 (c->nonce_key, CRYPTO_KEY_LEN, id, CRYPTO_ID_LEN, mac)
      == -1)
    return -1;
  memcpy (nonce, mac, CRYPTO_NONCE_LEN);
  return 0;
}

int
crypto_seal (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
             const void *aad, size_t aad_len, const void *plain, size_t len,
             void *out)
{
  uint8_t nonce[CRYPTO_NONCE_LEN];

  if (chunk_nonce (c, id, nonce) == -1)
    return -1;
  return gcm (true, c->chunk_key, nonce, id, CRYPTO_ID_LEN, aad, aad_len, plain,
              len, out, (uint8_t *)out + len);
}

int
crypto_open (const struct crypto *c, const uint8_t id[CRYPTO_ID_LEN],
             const void *aad, size_t aad_len, const void *sealed, size_t len,
             void *out)
{
  uint8_t nonce[CRYPTO_NONCE_LEN], tag[CRYPTO_TAG_LEN];

  if (len < CRYPTO_TAG_LEN) {
    errno = EBADMSG;
    return -1;
  }
  if (chunk_nonce (c, id, nonce) == -1)
    return -1;
  memcpy (tag, (const uint8_t *)sealed + len - CRYPTO_TAG_LEN, CRYPTO_TAG_LEN);
  return gcm (false, c->chunk_key, nonce, id, CRYPTO_ID_LEN, aad, aad_len,
              sealed, len - CRYPTO_TAG_LEN, out, tag);
}

int
crypto_object_mac (const struct crypto *c, const char *key, const void *data,
                   size_t len, uint8_t mac[CRYPTO_MAC_LEN])
{
  size_t key_len = strlen (key);
  uint8_t prefix[2] = { (uint8_t)key_len, (uint8_t)(key_len >> 8) };

  if (key_len > 0xffff) {
    errno = EINVAL;
    return -1;
  }
  return hmac3 (c->mac_key, CRYPTO_KEY_LEN, prefix, 2, key, key_len, data, len,
                mac);
}

bool
crypto_object_mac_ok (const struct crypto *c, const char *key, const void *data,
                      size_t len, const uint8_t mac[CRYPTO_MAC_LEN])
{
  uint8_t want[CRYPTO_MAC_LEN];

  return crypto_object_mac (c, key, data, len, want) == 0
         && CRYPTO_memcmp (want, mac, CRYPTO_MAC_LEN) == 0;
}
