/* s3cow fuzzing: the S3 XML reader (s3_xml.h).
 *
 * Input: byte 0 picks the parser (mod 4): 0 an error body, 1 a
 * ListObjectsV2 page, 2 character data (s3_xml_decode), 3 a timestamp
 * (s3_xml_parse_time, which takes a C string); the rest is the document,
 * passed without a copy or a NUL, so that any read past its end is caught.
 * Checked besides memory safety: strings come back NUL-terminated and
 * within their arrays, a failed listing is empty, an accepted one has a
 * non-empty key and an etag for every entry, decoded text has the length
 * it says and no NUL (bug "xml-raw-nul": a raw NUL byte in the
 * input is copied into the result, which s3_xml.h says never holds one).
 */
#include <config.h>

#include <string.h>

#include "fuzz.h"
#include "s3_xml.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *xml;
  size_t len, i;

  if (size < 1)
    return 0;
  xml = (const char *)data + 1;
  len = size - 1;

  switch (data[0] % 4) {
  case 0: {
    struct s3_xml_error err;
    int r;

    /* No NUL to start with: the parser must terminate both strings. */
    memset (&err, 0xff, sizeof err);
    r = s3_xml_parse_error (xml, len, &err);

    FUZZ_ASSERT (memchr (err.code, '\0', sizeof err.code) != NULL);
    FUZZ_ASSERT (memchr (err.message, '\0', sizeof err.message) != NULL);
    FUZZ_ASSERT (r == -1 || err.code[0] != '\0');
    /* Both reach logs and terminals: printable ASCII only. */
    for (const char *p = err.code; *p; p++)
      FUZZ_ASSERT (*p >= 0x20 && *p < 0x7f);
    for (const char *p = err.message; *p; p++)
      FUZZ_ASSERT (*p >= 0x20 && *p < 0x7f);
    break;
  }
  case 1: {
    struct s3_xml_list list;

    if (s3_xml_parse_list (xml, len, &list) == -1) {
      FUZZ_ASSERT (list.n == 0 && list.objects == NULL);
      FUZZ_ASSERT (list.next_token == NULL);
    } else {
      FUZZ_ASSERT (list.n == 0 || list.objects != NULL);
      for (i = 0; i < list.n; i++) {
        FUZZ_ASSERT (list.objects[i].key != NULL);
        FUZZ_ASSERT (list.objects[i].key[0] != '\0');
        FUZZ_ASSERT (list.objects[i].etag != NULL);
      }
    }
    s3_xml_list_free (&list);
    break;
  }
  case 2: {
    char *out;
    size_t outlen;

    if (s3_xml_decode (xml, len, &out, &outlen) == 0) {
      FUZZ_ASSERT (out != NULL);
      FUZZ_ASSERT (strlen (out) == outlen);
      free (out);
    } else
      FUZZ_ASSERT (out == NULL);
    break;
  }
  case 3: {
    char *s = strndup (xml, len < 256 ? len : 256);
    time_t t;

    FUZZ_ASSERT (s != NULL);
    (void)s3_xml_parse_time (s, &t);
    free (s);
    break;
  }
  }
  return 0;
}
