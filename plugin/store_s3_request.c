/* s3cow: one S3 call: its URL, the signing of each attempt.
 *
 * The URL path is the signed canonical URI byte for byte (each segment
 * URI-encoded, see sigv4_uri_encode) and the URL query is the signed
 * canonical query (sorted), so that what is sent is what was signed.
 * Every attempt (retries included) is signed anew with the current time,
 * with the credential set current when it starts.  Secrets are never put
 * in a message, and the Authorization line is wiped once handed to curl.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cleanup.h"
#include "credentials.h"
#include "s3_http.h"
#include "sigv4.h"
#include "store_s3-internal.h"

/* What headers_fn needs to sign an attempt. */
struct sign_ctx {
  const struct s3_store *s;
  const struct s3_call *call;
  const char *path;       /* decoded path: "/bucket/prefixkey" */
  struct creds_set *used; /* the credentials of the last attempt, or NULL */
};

/* Build one "Name: value" line onto *headers.  Returns 0 or -1. */
static int
add_header (struct curl_slist **headers, const char *name, const char *value)
{
  CLEANUP_FREE char *line = NULL;
  struct curl_slist *l;

  if (asprintf (&line, "%s: %s", name, value) == -1) {
    line = NULL;
    return -1;
  }
  l = curl_slist_append (*headers, line);
  if (line[0] == 'A' && strncmp (line, "Authorization", 13) == 0)
    OPENSSL_cleanse (line, strlen (line));
  if (l == NULL)
    return -1;
  *headers = l;
  return 0;
}

/* s3_http_headers_fn: the headers of one attempt, signed now. */
static int
sign_headers (void *opaque, struct curl_slist **headers, char *errmsg,
              size_t errmsg_size)
{
  struct sign_ctx *ctx = opaque;
  const struct s3_store *s = ctx->s;
  const struct s3_call *call = ctx->call;
  const char *payload
      = call->payload_sha256 ? call->payload_sha256 : SIGV4_EMPTY_SHA256;
  struct sigv4_header h[12];
  size_t n = 0, i;
  char amz_date[17];
  char *auth = NULL;

  if (s->creds) {
    creds_set_unref (ctx->used);
    ctx->used = NULL;
    if (creds_get (s->creds, &ctx->used, errmsg, errmsg_size) == -1)
      return -1;
  }
  if (sigv4_format_date (time (NULL), amz_date) == -1) {
    snprintf (errmsg, errmsg_size, "the system clock is out of range");
    return -1;
  }
  h[n++] = (struct sigv4_header){ "Host", s->host };
  h[n++] = (struct sigv4_header){ "x-amz-date", amz_date };
  h[n++] = (struct sigv4_header){ "x-amz-content-sha256", payload };
  if (ctx->used && ctx->used->session_token)
    h[n++] = (struct sigv4_header){ "x-amz-security-token",
                                    ctx->used->session_token };
  if (call->range)
    h[n++] = (struct sigv4_header){ "Range", call->range };
  if (call->if_match)
    h[n++] = (struct sigv4_header){ "If-Match", call->if_match };
  if (call->if_none_match)
    h[n++] = (struct sigv4_header){ "If-None-Match", call->if_none_match };
  /* Signed like the others, so that no one on the way can drop them. */
  if (call->sse)
    h[n++] = (struct sigv4_header){ "x-amz-server-side-encryption", call->sse };
  if (call->sse_kms_key_id)
    h[n++]
        = (struct sigv4_header){ "x-amz-server-side-encryption-aws-kms-key-id",
                                 call->sse_kms_key_id };
  if (call->storage_class)
    h[n++]
        = (struct sigv4_header){ "x-amz-storage-class", call->storage_class };
  assert (n <= sizeof h / sizeof h[0]);

  if (ctx->used) {
    const struct sigv4_signer signer = {
      .access_key = ctx->used->access_key,
      .secret_key = ctx->used->secret_key,
      .region = s->region,
      .service = "s3",
      .amz_date = amz_date,
    };
    const struct sigv4_request req = {
      .method = call->method,
      .path = ctx->path,
      .params = call->params,
      .n_params = call->n_params,
      .headers = h,
      .n_headers = n,
      .payload_sha256 = payload,
    };

    auth = sigv4_authorization (&signer, &req);
    if (auth == NULL) {
      snprintf (errmsg, errmsg_size, "cannot sign the request: %s",
                strerror (errno));
      return -1;
    }
  }

  for (i = 0; i < n; i++)
    if (add_header (headers, h[i].name, h[i].value) == -1)
      goto oom;
  if (auth && add_header (headers, "Authorization", auth) == -1)
    goto oom;
  if (auth) {
    OPENSSL_cleanse (auth, strlen (auth));
    free (auth);
  }
  return 0;

oom:
  if (auth) {
    OPENSSL_cleanse (auth, strlen (auth));
    free (auth);
  }
  snprintf (errmsg, errmsg_size, "out of memory");
  return -1;
}

/* "s3://bucket/prefixkey" for messages (NULL if out of memory). */
static char *
what_of (const struct s3_store *s, const char *key)
{
  char *what;

  if (asprintf (&what, "s3://%s/%s%s", s->bucket, s->prefix, key ? key : "")
      == -1)
    return NULL;
  return what;
}

int
store_s3_perform (const struct s3_store *s, const struct s3_call *call,
                  struct s3_http_request *hreq, struct s3_http_response *resp,
                  char **what)
{
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *enc_path = NULL;
  CLEANUP_FREE char *query = NULL;
  CLEANUP_FREE char *url = NULL;
  struct sign_ctx ctx;
  int r;

  memset (resp, 0, sizeof *resp);
  *what = what_of (s, call->key);
  if (call->key)
    r = asprintf (&path, "%s/%s%s", s->bucket_path, s->prefix, call->key);
  else
    r = asprintf (&path, "%s", s->bucket_path[0] ? s->bucket_path : "/");
  if (r == -1) {
    path = NULL;
    goto oom;
  }
  enc_path = sigv4_uri_encode (path, true);
  query = sigv4_canonical_query (call->params, call->n_params);
  if (*what == NULL || enc_path == NULL || query == NULL)
    goto oom;
  if (asprintf (&url, "%s%s%s%s", s->base_url, enc_path, query[0] ? "?" : "",
                query)
      == -1) {
    url = NULL;
    goto oom;
  }

  ctx = (struct sign_ctx){ .s = s, .call = call, .path = path };
  hreq->method = call->method;
  hreq->url = url;
  hreq->what = *what;
  hreq->headers_fn = sign_headers;
  /* ctx outlives the request: s3_http_perform returns before we do. */
  // cppcheck-suppress autoVariables
  hreq->opaque = &ctx;
  r = s3_http_perform (s->http, hreq, resp);
  /* Temporary credentials that S3 calls expired or unknown (revoked
   * early, say): renew them once and try again.
   */
  if (r == S3_HTTP_OK && ctx.used
      && (resp->status == 400 || resp->status == 403)
      && (strcmp (resp->error.code, "ExpiredToken") == 0
          || strcmp (resp->error.code, "InvalidAccessKeyId") == 0
          || strcmp (resp->error.code, "InvalidToken") == 0)
      && creds_rejected (s->creds, ctx.used)) {
    s3_http_response_free (resp);
    memset (resp, 0, sizeof *resp);
    r = s3_http_perform (s->http, hreq, resp);
  }
  if (r == S3_HTTP_OK)
    store_s3_explain (s, call, ctx.used ? ctx.used->access_key : NULL, resp);
  creds_set_unref (ctx.used);
  return r;

oom:
  snprintf (resp->errmsg, sizeof resp->errmsg, "out of memory");
  return S3_HTTP_PERMANENT;
}
