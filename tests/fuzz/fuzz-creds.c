/* s3cow fuzzing: the parsers of credential answers (credentials.h).
 *
 * Input: byte 0 picks the parser (mod 3): 0 an STS
 * AssumeRoleWithWebIdentity answer (creds_parse_sts), 1 a container or
 * instance metadata JSON document, 2 credential_process output
 * (creds_parse_json); the rest is the document, passed without a copy or
 * a NUL, so that any read past its end is caught.  Checked besides memory
 * safety: an accepted answer gives both keys non-empty, an access key
 * with no '/', ',' or blank, no line break in any of them, and a failure
 * says why.
 */
#include <config.h>

#include <string.h>

#include "credentials.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct creds_set *set = NULL;
  char errmsg[256];
  int r;

  if (size < 1)
    return 0;
  errmsg[0] = '\0';
  if (data[0] % 3 == 0)
    r = creds_parse_sts ((const char *)data + 1, size - 1, &set, errmsg,
                         sizeof errmsg);
  else
    r = creds_parse_json ((const char *)data + 1, size - 1, data[0] % 3 == 2,
                          &set, errmsg, sizeof errmsg);
  if (r == 0) {
    FUZZ_ASSERT (set != NULL);
    FUZZ_ASSERT (set->access_key[0] != '\0' && set->secret_key[0] != '\0');
    FUZZ_ASSERT (strpbrk (set->access_key, "/, \r\n") == NULL);
    FUZZ_ASSERT (strpbrk (set->secret_key, "\r\n") == NULL);
    FUZZ_ASSERT (set->session_token == NULL
                 || (set->session_token[0] != '\0'
                     && strpbrk (set->session_token, "\r\n") == NULL));
    creds_set_unref (set);
  } else {
    FUZZ_ASSERT (set == NULL);
    FUZZ_ASSERT (errmsg[0] != '\0');
  }
  return 0;
}
