/* s3cow: the few things we read from S3's XML responses.
 *
 * A minimal, non-validating reader for the documents S3 sends: an error
 * body (<Error><Code>..</Code><Message>..</Message></Error>) and a
 * ListObjectsV2 result.  It never reads outside [xml, xml + len), never
 * needs a NUL terminator, and refuses what it cannot make sense of (an
 * unclosed or mismatched element, a bad entity, a truncated document, an
 * element text longer than 64 KiB) instead of guessing: a truncated listing
 * must never look like a complete one.
 *
 * Text is decoded: the five predefined entities (&amp; &lt; &gt; &quot;
 * &apos;), numeric references (&#65; &#x41;, emitted as UTF-8) and CDATA
 * sections.  Namespace prefixes on element names are ignored.  Comments,
 * processing instructions and a DOCTYPE are skipped (no entity of a DOCTYPE
 * is ever expanded).
 *
 * Pure functions, thread-safe, no logging.
 */
#ifndef S3COW_S3_XML_H
#define S3COW_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define S3_XML_CODE_MAX 64     /* room for an error Code, NUL included */
#define S3_XML_MESSAGE_MAX 256 /* room for an error Message */

/* Code and Message of an S3 error body, truncated to fit, "" when absent. */
struct s3_xml_error {
  char code[S3_XML_CODE_MAX];
  char message[S3_XML_MESSAGE_MAX];
};

/* Read an <Error> document.  Returns 0 when it is one and has a Code, else
 * -1 (not XML, another document, no Code); err is filled as far as it
 * could be in both cases ("" for what is missing).
 */
int s3_xml_parse_error (const char *xml, size_t len, struct s3_xml_error *err);

/* One <Contents> entry of a listing.  Strings are malloc'd. */
struct s3_xml_object {
  char *key;
  uint64_t size;
  time_t mtime; /* LastModified, UTC */
  char *etag;   /* without quotes; "" if none was sent */
};

/* One page of ListObjectsV2 (<ListBucketResult>). */
struct s3_xml_list {
  struct s3_xml_object *objects;
  size_t n;
  bool truncated;   /* IsTruncated: more pages follow */
  char *next_token; /* NextContinuationToken, NULL if none */
};

/* Parse one page.  Returns 0, or -1 with errno EINVAL (malformed: not a
 * ListBucketResult, an entry without Key, Size or a valid LastModified, a
 * truncated document, ...) or ENOMEM; list is then empty.  Free list with
 * s3_xml_list_free in both cases.
 */
int s3_xml_parse_list (const char *xml, size_t len, struct s3_xml_list *list);
void s3_xml_list_free (struct s3_xml_list *list);

/* Decode the character data in [s, s + len) (entities and numeric
 * references; no markup allowed) into a new NUL-terminated string, *out.
 * Returns 0, or -1 with errno EINVAL (a bad reference, a '<') or ENOMEM.
 * *outlen (may be NULL) gets the decoded length; the result holds no NUL
 * byte (&#0; is refused).
 */
int s3_xml_decode (const char *s, size_t len, char **out, size_t *outlen);

/* "2009-10-12T17:50:30.000Z" (ISO 8601, UTC, fraction optional) to *t.
 * Returns 0, or -1 with errno EINVAL.
 */
int s3_xml_parse_time (const char *s, time_t *t);

#endif /* S3COW_S3_XML_H */
