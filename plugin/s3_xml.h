/* s3cow: the few things we read from S3's XML responses.
 *
 * Callers: s3_http.c (error bodies) and store_s3.c (listings).
 *
 * A thin layer over libexpat for the two documents S3 sends us: an error
 * body (<Error><Code>..</Code><Message>..</Message></Error>) and a
 * ListObjectsV2 result.  libexpat checks that the document is well-formed
 * XML and decodes the text (entities, character references, CDATA,
 * declared encodings); this layer picks the fields we use and refuses what
 * it cannot make sense of instead of guessing: a truncated listing must
 * never look like a complete one.
 *
 * Refused, with a reason: a document that is not well-formed (truncated,
 * unclosed or mismatched elements, an undefined entity, a NUL character,
 * content after the root element), any DOCTYPE (so no entity is ever
 * declared or expanded: no "billion laughs", no external entity), nesting
 * deeper than S3_XML_DEPTH_MAX, an element text longer than
 * S3_XML_TEXT_MAX, a key longer than S3_XML_KEY_MAX, more than
 * S3_XML_OBJECTS_MAX entries, a document longer than S3_XML_DOC_MAX.
 * Namespace prefixes on element names are ignored.
 *
 * Input is read within [xml, xml + len) only; no NUL terminator needed.
 * Thread-safe (a parser per call), no logging.
 */
#ifndef S3COW_S3_XML_H
#define S3COW_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define S3_XML_CODE_MAX 64     /* room for an error Code, NUL included */
#define S3_XML_MESSAGE_MAX 256 /* room for an error Message */
#define S3_XML_REGION_MAX 64   /* room for an error's Region */
#define S3_XML_WHY_MAX 160     /* room for the reason a document is refused */

#define S3_XML_DOC_MAX ((size_t)16 * 1024 * 1024) /* longest document */
#define S3_XML_DEPTH_MAX 16                       /* deepest nesting */
#define S3_XML_TEXT_MAX 65536 /* longest element text, bytes */
#define S3_XML_KEY_MAX 1024   /* longest key, bytes of UTF-8 (S3's own limit) */
#define S3_XML_OBJECTS_MAX 10000 /* entries of one page (S3 sends <= 1000) */

/* Code, Message and Region of an S3 error body, truncated to fit, "" when
 * absent. Printable ASCII only (anything else becomes '?', blanks a space):
 * they came from the network and go to logs and terminals.
 */
struct s3_xml_error {
  char code[S3_XML_CODE_MAX];
  char message[S3_XML_MESSAGE_MAX];
  /* The bucket's region, which AWS names in an AuthorizationHeaderMalformed
   * or PermanentRedirect answer to a request signed for another one.
   */
  char region[S3_XML_REGION_MAX];
};

/* Read an <Error> document.  Returns 0 when it is one and has a Code, else
 * -1 with errno EINVAL (not XML, another document, no Code) or ENOMEM; err
 * is filled as far as it could be in both cases ("" for what is missing).
 */
int s3_xml_parse_error (const char *xml, size_t len, struct s3_xml_error *err);

/* One <Contents> entry of a listing.  Strings are malloc'd. */
struct s3_xml_object {
  char *key; /* non-empty, no NUL, at most S3_XML_KEY_MAX bytes */
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
  /* Why the page was refused ("" when it was not): for the log. */
  char why[S3_XML_WHY_MAX];
};

/* Parse one page.  Returns 0, or -1 with errno EINVAL (malformed: not a
 * ListBucketResult, an entry without Key, Size or a valid LastModified, a
 * truncated document, a limit above exceeded, ...; list->why says which)
 * or ENOMEM; the list then holds no entry and no token.  Free list with
 * s3_xml_list_free in both cases.
 */
int s3_xml_parse_list (const char *xml, size_t len, struct s3_xml_list *list);
void s3_xml_list_free (struct s3_xml_list *list);

/* The text of the first element named name (namespace prefix ignored), at
 * any depth, in a small document such as an STS answer.  Returns 1 with
 * *text (free it), 0 when there is no such element, -1 with errno when
 * the document is refused (as above) or the element holds an element.
 */
int s3_xml_text (const char *xml, size_t len, const char *name, char **text);

/* "2009-10-12T17:50:30.000Z" (ISO 8601, UTC, fraction optional) to *t.
 * Returns 0, or -1 with errno EINVAL.
 */
int s3_xml_parse_time (const char *s, time_t *t);

#endif /* S3COW_S3_XML_H */
