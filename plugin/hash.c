/* s3cow: SHA-256 through OpenSSL's EVP (see hash.h).  No locks. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "hash.h"
#include "log.h"

void
hash_sha256 (const void *data, size_t len, uint8_t out[HASH_SHA256_LEN])
{
  unsigned int n = 0;

  if (!EVP_Digest (data, len, out, &n, EVP_sha256 (), NULL)
      || n != HASH_SHA256_LEN) {
    s3cow_log_error ("SHA-256 failed (OpenSSL out of memory?): aborting");
    abort ();
  }
}

struct hash_state *
hash_begin (void)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();

  if (ctx == NULL || !EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL)) {
    EVP_MD_CTX_free (ctx);
    errno = ENOMEM;
    return NULL;
  }
  return (struct hash_state *)ctx;
}

int
hash_update (struct hash_state *h, const void *data, size_t len)
{
  if (!EVP_DigestUpdate ((EVP_MD_CTX *)h, data, len)) {
    errno = EIO;
    return -1;
  }
  return 0;
}

int
hash_end (struct hash_state *h, uint8_t out[HASH_SHA256_LEN])
{
  unsigned int n = 0;
  int ok = EVP_DigestFinal_ex ((EVP_MD_CTX *)h, out, &n);

  EVP_MD_CTX_free ((EVP_MD_CTX *)h);
  if (!ok || n != HASH_SHA256_LEN) {
    errno = EIO;
    return -1;
  }
  return 0;
}

void
hash_abort (struct hash_state *h)
{
  EVP_MD_CTX_free ((EVP_MD_CTX *)h);
}
