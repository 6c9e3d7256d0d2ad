/* s3cow fuzzing: the S3 XML glue over libexpat (s3_xml.h).
 *
 * Input: byte 0 picks the parser (mod 4): 0 an error body, 1 a
 * ListObjectsV2 page, 2 the text of a <Key> (wrapped into a one-entry
 * page, so that entities, references and CDATA reach the key), 3 a
 * timestamp (s3_xml_parse_time, which takes a C string); the rest is the
 * document, passed without a copy or a NUL, so that any read past its end
 * is caught.  Checked besides memory safety: strings come back
 * NUL-terminated and within their arrays, a failed listing is empty and
 * says why, an accepted one has a non-empty key of at most S3_XML_KEY_MAX
 * bytes and an etag for every entry (bug "xml-raw-nul": a raw NUL byte in
 * the input must never reach a key).
 */
#include <config.h>

#include <string.h>

#include "fuzz.h"
#include "s3_xml.h"

/* What s3_xml.h promises of a listing, accepted (r == 0) or not; then
 * free it.
 */
static void
check_list (int r, struct s3_xml_list *list)
{
  size_t i;

  FUZZ_ASSERT (memchr (list->why, '\0', sizeof list->why) != NULL);
  if (r == -1) {
    FUZZ_ASSERT (list->n == 0 && list->objects == NULL);
    FUZZ_ASSERT (list->next_token == NULL);
    FUZZ_ASSERT (list->why[0] != '\0');
  } else {
    FUZZ_ASSERT (list->why[0] == '\0');
    FUZZ_ASSERT (list->n == 0 || list->objects != NULL);
    FUZZ_ASSERT (list->n <= S3_XML_OBJECTS_MAX);
    for (i = 0; i < list->n; i++) {
      FUZZ_ASSERT (list->objects[i].key != NULL);
      FUZZ_ASSERT (list->objects[i].key[0] != '\0');
      FUZZ_ASSERT (strlen (list->objects[i].key) <= S3_XML_KEY_MAX);
      FUZZ_ASSERT (list->objects[i].etag != NULL);
    }
  }
  s3_xml_list_free (list);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *xml;
  size_t len;

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

    check_list (s3_xml_parse_list (xml, len, &list), &list);
    break;
  }
  case 2: {
    static const char pre[] = "<ListBucketResult><Contents><Key>";
    static const char post[]
        = "</Key><Size>1</Size><LastModified>2024-01-02T03:04:05Z"
          "</LastModified></Contents></ListBucketResult>";
    struct s3_xml_list list;
    size_t n = sizeof pre - 1 + len + sizeof post - 1;
    char *doc = malloc (n);
    int r;

    FUZZ_ASSERT (doc != NULL);
    memcpy (doc, pre, sizeof pre - 1);
    memcpy (doc + sizeof pre - 1, xml, len);
    memcpy (doc + sizeof pre - 1 + len, post, sizeof post - 1);
    r = s3_xml_parse_list (doc, n, &list);
    FUZZ_ASSERT (r == -1 || list.n == 1);
    check_list (r, &list);
    free (doc);
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
