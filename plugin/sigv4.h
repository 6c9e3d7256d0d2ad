/* s3cow: AWS Signature Version 4, as pure functions.
 *
 * No I/O, no globals, no clock: the caller passes the time.  Every function
 * is thread-safe.  Strings these functions return are malloc'd and owned by
 * the caller; NULL means out of memory (errno ENOMEM) or, where said, an
 * invalid argument (errno EINVAL).
 *
 * The signature for one request is built in four steps (AWS's terms):
 *
 *   canonical request   METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n HASH
 *          |  sha256
 *          v
 *   string to sign      AWS4-HMAC-SHA256 \n DATE \n SCOPE \n hex(sha256(CR))
 *          |  hmac with
 *          v
 *   signing key         HMAC(HMAC(HMAC(HMAC("AWS4"+secret, day), region),
 *                                        service), "aws4_request")
 *          |
 *          v
 *   Authorization:      AWS4-HMAC-SHA256 Credential=AK/SCOPE,
 *                       SignedHeaders=..., Signature=hex(HMAC(key, STS))
 *
 * sigv4_authorization does all of it; the steps are exposed for the tests.
 * Nothing here logs: never print the secret, the signing key or the
 * signature.
 */
#ifndef S3COW_SIGV4_H
#define S3COW_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Lowercase hex SHA-256 of the empty string: the payload hash of a GET. */
#define SIGV4_EMPTY_SHA256                                                     \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One request header.  name in any case (it is lowercased for signing),
 * value as sent (leading and trailing blanks are trimmed and inner runs of
 * blanks collapsed for signing).
 */
struct sigv4_header {
  const char *name;
  const char *value;
};

/* One query parameter, NOT encoded (sigv4 encodes it).  value may be "" (a
 * bare "?lifecycle" is { "lifecycle", "" }); NULL is taken as "".
 */
struct sigv4_param {
  const char *name;
  const char *value;
};

/* What is signed.  path is the decoded absolute path ("/bucket/my key"):
 * each segment between slashes is URI-encoded, slashes are kept.  headers
 * must contain every header that is to be signed, host and x-amz-date
 * included; all of them are signed.  payload_sha256 is the lowercase hex
 * SHA-256 of the body (SIGV4_EMPTY_SHA256 for none) or "UNSIGNED-PAYLOAD".
 */
struct sigv4_request {
  const char *method;
  const char *path;
  const struct sigv4_param *params;
  size_t n_params;
  const struct sigv4_header *headers;
  size_t n_headers;
  const char *payload_sha256;
};

/* Who signs, where, and when.  amz_date is the x-amz-date value
 * ("20130524T000000Z", see sigv4_format_date); the scope's day is its first
 * 8 characters.
 */
struct sigv4_signer {
  const char *access_key;
  const char *secret_key;
  const char *region;  /* "us-east-1" */
  const char *service; /* "s3" */
  const char *amz_date;
};

/* SHA-256 of len bytes at data as 64 lowercase hex digits plus NUL in out.
 * Returns 0, or -1 (errno EIO) if OpenSSL fails.
 */
int sigv4_sha256_hex (const void *data, size_t len, char out[65]);

/* t as an x-amz-date value, "YYYYMMDDTHHMMSSZ" (UTC), into out.
 * Returns 0, or -1 (errno EINVAL) if t cannot be represented.
 */
int sigv4_format_date (time_t t, char out[17]);

/* URI-encode s as AWS wants: A-Z a-z 0-9 - . _ ~ stay, every other byte
 * becomes %XX (uppercase hex).  '/' stays when keep_slash is true (for a
 * path), else it becomes %2F (for a query name or value).  Returns a new
 * string.
 */
char *sigv4_uri_encode (const char *s, bool keep_slash);

/* The canonical query string of params: names and values URI-encoded,
 * sorted by encoded name then value, joined with '&' ("" when n is 0).  The
 * same string is what goes into the URL after '?', so that what is sent is
 * what was signed.  Returns a new string.
 */
char *sigv4_canonical_query (const struct sigv4_param *params, size_t n);

/* The canonical request of req.  If signed_headers is not NULL, it gets the
 * new string "host;range;x-amz-date" (sorted lowercase names, ';').
 * Returns a new string, or NULL with errno EINVAL if req is malformed (no
 * method, a path not starting with '/', a header name that is empty or has
 * characters outside a token, a header value with CR or LF).
 */
char *sigv4_canonical_request (const struct sigv4_request *req,
                               char **signed_headers);

/* The string to sign for canonical_request.  Returns a new string, or NULL
 * with errno EINVAL if signer->amz_date is malformed.
 */
char *sigv4_string_to_sign (const struct sigv4_signer *signer,
                            const char *canonical_request);

/* The signing key (32 bytes) of secret_key for one day ("20130524"),
 * region and service.  Returns 0, or -1 (errno EIO) if OpenSSL fails.
 * key is a secret: wipe it when done (OPENSSL_cleanse).
 */
int sigv4_signing_key (const char *secret_key, const char *day,
                       const char *region, const char *service,
                       unsigned char key[32]);

/* The whole value of the Authorization header for req signed by signer:
 * "AWS4-HMAC-SHA256 Credential=AK/DAY/REGION/SERVICE/aws4_request,
 * SignedHeaders=..., Signature=...".  Returns a new string (which holds
 * the signature: never log it), or NULL (errno EINVAL for a malformed
 * request or signer, ENOMEM, EIO).
 */
char *sigv4_authorization (const struct sigv4_signer *signer,
                           const struct sigv4_request *req);

#endif /* S3COW_SIGV4_H */
