/* s3cow: an S3 answer -> a store status and one message a user can act on.
 *
 * Status mapping (see store.h): 404 -> STORE_NOT_FOUND except NoSuchBucket
 * (STORE_PERMANENT, "bucket X does not exist"); 412 and 409
 * ConditionalRequestConflict -> STORE_PRECONDITION; 403 and every other
 * 3xx/4xx -> STORE_PERMANENT with the S3 Code and Message; retries
 * exhausted -> STORE_TRANSIENT.
 *
 * The message says what the answer means for this request and what to
 * change, naming what the user can check: the access key id (never the
 * secret), the action and the object, the clock's offset from the
 * server's Date, the bucket's region.  store_s3_explain writes it into
 * resp->errmsg while the request's own facts (the key id that signed it)
 * are at hand; store_s3_status prints it.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"
#include "s3_http.h"
#include "store_s3-internal.h"

static bool
is (const char *code, const char *name)
{
  return strcmp (code, name) == 0;
}

/* The IAM action a call needs, for AccessDenied. */
static const char *
action_of (const struct s3_call *call)
{
  if (call->key == NULL)
    return "s3:ListBucket";
  if (strcmp (call->method, "PUT") == 0)
    return "s3:PutObject";
  if (strcmp (call->method, "DELETE") == 0)
    return "s3:DeleteObject";
  return "s3:GetObject";
}

bool
store_s3_region_ok (const char *region)
{
  size_t i;

  if (region == NULL || region[0] == '\0')
    return false;
  for (i = 0; region[i]; i++)
    if (strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "0123456789-_",
                region[i])
        == NULL)
      return false;
  return i < 64;
}

const char *
store_s3_bucket_region (const struct s3_http_response *resp)
{
  if (resp->status < 300 || resp->status > 499)
    return NULL;
  if (store_s3_region_ok (resp->error.region))
    return resp->error.region;
  if (store_s3_region_ok (resp->bucket_region))
    return resp->bucket_region;
  return NULL;
}

bool
store_s3_wrong_region (const struct s3_store *s,
                       const struct s3_http_response *resp)
{
  const char *code = resp->error.code;
  const char *region = store_s3_bucket_region (resp);

  if (region == NULL || strcmp (region, s->region) == 0)
    return false;
  /* A HEAD has no body: its 301 or 400 says it with the header only. */
  return is (code, "AuthorizationHeaderMalformed")
         || is (code, "PermanentRedirect")
         || is (code, "IllegalLocationConstraintException")
         || (code[0] == '\0'
             && (resp->status == 301 || resp->status == 400
                 || resp->status == 403));
}

/* The local clock minus the server's, from the Date of the answer, in
 * *skew.  Returns false without a Date.
 */
static bool
skew_of (const struct s3_http_response *resp, long long *skew)
{
  time_t server;

  if (resp->date[0] == '\0')
    return false;
  server = curl_getdate (resp->date, NULL);
  if (server == -1)
    return false;
  /* time (), as the signature's date (store_s3_request.c). */
  *skew = (long long)time (NULL) - (long long)server;
  return true;
}

/* "930 s ahead of" into buf; "" without a Date. */
static void
describe_skew (const struct s3_http_response *resp, char *buf, size_t size)
{
  long long d;

  buf[0] = '\0';
  if (skew_of (resp, &d))
    snprintf (buf, size, "%lld s %s", d < 0 ? -d : d,
              d >= 0 ? "ahead of" : "behind");
}

/* The access key id as `aws configure list` shows it, enough to tell
 * which key signed ("AKIA...WXYZ": the first four say a long-term or a
 * temporary AWS key), without the whole id, which the logs keep out as
 * they keep the secret.
 */
static void
shown_key_id (const char *key_id, char *buf, size_t size)
{
  size_t n = key_id ? strlen (key_id) : 0;

  if (n == 0)
    snprintf (buf, size, "(none)");
  else if (n >= 16)
    snprintf (buf, size, "%.4s...%s", key_id, key_id + n - 4);
  else if (n > 4)
    snprintf (buf, size, "...%s", key_id + n - 4);
  else
    snprintf (buf, size, "...");
}

void
store_s3_explain (const struct s3_store *s, const struct s3_call *call,
                  const char *key_id, struct s3_http_response *resp)
{
  const char *code = resp->error.code;
  const char *region = store_s3_bucket_region (resp);
  char *m = resp->errmsg;
  size_t n = sizeof resp->errmsg;
  char skew[96], key[16];
  long long d;

  m[0] = '\0';
  if (resp->status < 300 || resp->status == 404 || resp->status == 409
      || resp->status == 412 || resp->status == 416)
    return;
  describe_skew (resp, skew, sizeof skew);
  shown_key_id (key_id, key, sizeof key);

  if (store_s3_wrong_region (s, resp))
    snprintf (m, n, "bucket %s is in region %s, not %s: give region=%s",
              s->bucket, region, s->region, region);
  else if (key_id == NULL && (resp->status == 403 || resp->status == 401))
    snprintf (m, n, "%s",
              s->anonymous_why ? s->anonymous_why
                               : "the request was sent without credentials");
  else if (is (code, "InvalidAccessKeyId"))
    snprintf (m, n,
              "the server does not know access key id %s: check the access "
              "key (access-key=, AWS_ACCESS_KEY_ID, the profile) and that "
              "%s is the right endpoint",
              key, s->endpoint);
  else if (is (code, "SignatureDoesNotMatch") && skew_of (resp, &d) && d > -60
           && d < 60)
    snprintf (m, n,
              "the signature made with access key id %s does not match: "
              "check its secret key (the system clock is within a minute "
              "of the server's)",
              key);
  else if (is (code, "SignatureDoesNotMatch"))
    snprintf (m, n,
              "the signature made with access key id %s does not match: "
              "check its secret key, or the system clock%s%s%s",
              key, skew[0] ? ", " : "", skew, skew[0] ? " the server's" : "");
  else if (is (code, "RequestTimeTooSkewed"))
    snprintf (m, n,
              "the system clock is %s%s, more than the 15 minutes S3 "
              "allows: set it right (NTP, chrony)",
              skew[0] ? skew : "off", skew[0] ? " the server's" : "");
  else if (call->sse
           && (is (code, "InvalidRequest") || is (code, "InvalidArgument")
               || is (code, "NotImplemented")))
    snprintf (m, n,
              "the server refused the encryption asked for (sse=%s): it "
              "may not offer it, or not over plain HTTP",
              call->sse);
  else if (call->storage_class && is (code, "InvalidStorageClass"))
    snprintf (m, n, "the server has no storage class %s", call->storage_class);
  else if (is (code, "ExpiredToken"))
    snprintf (m, n, "the session token of access key id %s has expired", key);
  else if (is (code, "AccessDenied") || resp->status == 403)
    snprintf (m, n,
              "access key id %s may not %s %s%s%s: check the key's policy "
              "and the bucket's%s",
              key, action_of (call), s->bucket, call->key ? "/" : "",
              call->key ? call->key : "",
              s->sse && strcmp (s->sse, "aws:kms") == 0
                  ? ", and kms:GenerateDataKey and kms:Decrypt on the KMS key"
                  : "");
}

int
store_s3_status (const struct s3_store *s, const char *method, const char *what,
                 int r, const struct s3_http_response *resp)
{
  const char *code = resp->error.code;
  const char *msg = resp->error.message;
  const char *hint = resp->errmsg;

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
    s3cow_log_error ("%s %s: access denied: HTTP 403%s%s%s%s%s%s%s", method,
                     what, code[0] ? " " : "", code, msg[0] ? ": " : "", msg,
                     hint[0] ? " (" : "", hint, hint[0] ? ")" : "");
    return STORE_PERMANENT;
  }
  s3cow_log_error ("%s %s: HTTP %ld%s%s%s%s%s%s%s", method, what, resp->status,
                   code[0] ? " " : "", code, msg[0] ? ": " : "", msg,
                   hint[0] ? " (" : "", hint, hint[0] ? ")" : "");
  return STORE_PERMANENT;
}
