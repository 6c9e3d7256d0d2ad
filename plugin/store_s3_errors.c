/* s3cow: an S3 answer -> a store status and one message a user can act on.
 *
 * Status mapping (see store.h): 404 -> STORE_NOT_FOUND except NoSuchBucket
 * (STORE_PERMANENT, "bucket X does not exist"); 412 and 409
 * ConditionalRequestConflict -> STORE_PRECONDITION; 403 and every other
 * 3xx/4xx -> STORE_PERMANENT with the S3 Code and Message; retries
 * exhausted -> STORE_TRANSIENT.
 */
#include <config.h>

#include <string.h>

#include "log.h"
#include "s3_http.h"
#include "store_s3-internal.h"

/* A hint for a 403 or 400 Code, or "". */
static const char *
hint_of (const char *code)
{
  if (strcmp (code, "SignatureDoesNotMatch") == 0)
    return " (check the secret key)";
  if (strcmp (code, "InvalidAccessKeyId") == 0)
    return " (check the access key)";
  if (strcmp (code, "RequestTimeTooSkewed") == 0)
    return " (the system clock is off)";
  if (strcmp (code, "AuthorizationHeaderMalformed") == 0
      || strcmp (code, "PermanentRedirect") == 0
      || strcmp (code, "IllegalLocationConstraintException") == 0)
    return " (check the region)";
  if (strcmp (code, "ExpiredToken") == 0)
    return " (the session token has expired)";
  return "";
}

int
store_s3_status (const struct s3_store *s, const char *method, const char *what,
                 int r, const struct s3_http_response *resp)
{
  const char *code = resp->error.code;
  const char *msg = resp->error.message;

  if (what == NULL) /* out of memory in store_s3_perform */
    what = "(object)";
  if (r == S3_HTTP_TRANSIENT) {
    s3cow_log_error ("%s %s: %s", method, what, resp->errmsg);
    return STORE_TRANSIENT;
  }
  if (r == S3_HTTP_PERMANENT) {
    s3cow_log_error ("%s %s: %s", method, what, resp->errmsg);
    return STORE_PERMANENT;
  }
  if (resp->status >= 200 && resp->status <= 299)
    return STORE_OK;

  switch (resp->status) {
  case 404:
    if (strcmp (code, "NoSuchBucket") == 0) {
      s3cow_log_error ("%s %s: bucket %s does not exist at %s "
                       "(HTTP 404 NoSuchBucket)",
                       method, what, s->bucket, s->endpoint);
      return STORE_PERMANENT;
    }
    return STORE_NOT_FOUND;
  case 412:
    return STORE_PRECONDITION;
  case 409:
    if (strcmp (code, "ConditionalRequestConflict") == 0)
      return STORE_PRECONDITION;
    break;
  case 403:
    if (code[0])
      s3cow_log_error ("%s %s: access denied: HTTP 403 %s%s%s%s", method, what,
                       code, msg[0] ? ": " : "", msg, hint_of (code));
    else
      s3cow_log_error ("%s %s: access denied: HTTP 403 (check the access "
                       "key, the secret key and the bucket's policy)",
                       method, what);
    return STORE_PERMANENT;
  }
  if (code[0])
    s3cow_log_error ("%s %s: HTTP %ld %s%s%s%s", method, what, resp->status,
                     code, msg[0] ? ": " : "", msg, hint_of (code));
  else
    s3cow_log_error ("%s %s: HTTP %ld", method, what, resp->status);
  return STORE_PERMANENT;
}
