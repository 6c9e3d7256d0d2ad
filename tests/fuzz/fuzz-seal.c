/* s3cow fuzzing: opening a sealed chunk payload of an encrypted disk
 * (crypto_open), under a fixed key.
 *
 * Input: 32 bytes of chunk id, 1 byte of AAD length n (at most 32), n
 * bytes of AAD, the sealed object.  Checked besides memory safety: an
 * object that opens is exactly what sealing its plaintext under that id
 * and AAD gives (no other bytes are accepted), and one that does not
 * open says so with EBADMSG.
 */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static struct crypto *c;
  const uint8_t *id, *aad;
  size_t aad_len;
  uint8_t *plain, *again;

  if (c == NULL) {
    uint8_t master[CRYPTO_KEY_LEN];
    size_t i;
    for (i = 0; i < CRYPTO_KEY_LEN; i++)
      master[i] = i;
    c = crypto_new (master);
    FUZZ_ASSERT (c != NULL);
  }
  if (size < CRYPTO_ID_LEN + 1)
    return 0;
  id = data;
  aad_len = data[CRYPTO_ID_LEN] % 33;
  data += CRYPTO_ID_LEN + 1;
  size -= CRYPTO_ID_LEN + 1;
  if (size < aad_len)
    return 0;
  aad = data;
  data += aad_len;
  size -= aad_len;

  plain = malloc (size + 1);
  again = malloc (size + 1);
  FUZZ_ASSERT (plain && again);
  if (crypto_open (c, id, aad, aad_len, data, size, plain) == 0) {
    FUZZ_ASSERT (size >= CRYPTO_TAG_LEN);
    FUZZ_ASSERT (
        crypto_seal (c, id, aad, aad_len, plain, size - CRYPTO_TAG_LEN, again)
        == 0);
    FUZZ_ASSERT (memcmp (again, data, size) == 0);
  } else
    FUZZ_ASSERT (errno == EBADMSG);
  free (plain);
  free (again);
  return 0;
}
