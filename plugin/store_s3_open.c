/* s3cow: opening the S3 store: the endpoint, the bucket name, the
 * region, the credentials.  store_s3_open checks them all but does not
 * contact the server.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "credentials.h"
#include "log.h"
#include "s3_http.h"
#include "store.h"
#include "store_s3-internal.h"

void
store_s3_free (struct s3_store *s)
{
  s3_http_free (s->http);
  free (s->endpoint);
  free (s->base_url);
  free (s->host);
  free (s->bucket);
  free (s->prefix);
  free (s->bucket_path);
  free (s->region);
  free (s->anonymous_why);
  free (s->sse);
  free (s->sse_kms_key_id);
  free (s->storage_class);
  creds_unref (s->creds);
  free (s);
}

/* Split "http[s]://host[:port][/]" into scheme and authority.  Returns 0,
 * or -1 after logging one message saying what is wrong.
 */
static int
parse_endpoint (const char *endpoint, bool *https, const char **host,
                size_t *host_len, const char **port, size_t *port_len)
{
  const char *p, *auth, *end;

  if (strncasecmp (endpoint, "http://", 7) == 0) {
    *https = false;
    auth = endpoint + 7;
  } else if (strncasecmp (endpoint, "https://", 8) == 0) {
    *https = true;
    auth = endpoint + 8;
  } else {
    s3cow_log_error ("endpoint %s: must start with http:// or https:// "
                     "(or file:// for a directory)",
                     endpoint);
    return -1;
  }
  end = auth + strcspn (auth, "/?#");
  if (*end != '\0' && strcmp (end, "/") != 0) {
    s3cow_log_error ("endpoint %s: must be only scheme://host[:port], with "
                     "no path or query (give the bucket with bucket=)",
                     endpoint);
    return -1;
  }
  if (memchr (auth, '@', end - auth)) {
    /* Not printed: it holds a secret. */
    s3cow_log_error ("endpoint: must not hold a user name or password "
                     "(give the keys with access-key= and secret-key=)");
    return -1;
  }

  *host = auth;
  if (*auth == '[') {
    p = memchr (auth, ']', end - auth);
    if (p == NULL || p == auth + 1) {
      s3cow_log_error ("endpoint %s: bad IPv6 address", endpoint);
      return -1;
    }
    for (const char *q = auth + 1; q < p; q++)
      if (strchr ("0123456789abcdefABCDEF:.", *q) == NULL) {
        s3cow_log_error ("endpoint %s: bad IPv6 address", endpoint);
        return -1;
      }
    p++;
  } else {
    for (p = auth; p < end && *p != ':'; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
            || *p == '_')) {
        s3cow_log_error ("endpoint %s: bad character '%c' in the host name",
                         endpoint, *p);
        return -1;
      }
  }
  *host_len = p - auth;
  if (*host_len == 0) {
    s3cow_log_error ("endpoint %s: no host name", endpoint);
    return -1;
  }

  *port = NULL;
  *port_len = 0;
  if (p < end) {
    unsigned long v = 0;
    const char *q;

    if (*p != ':' || p + 1 == end) {
      s3cow_log_error ("endpoint %s: bad port", endpoint);
      return -1;
    }
    for (q = p + 1; q < end; q++) {
      if (*q < '0' || *q > '9' || v > 65535) {
        s3cow_log_error ("endpoint %s: bad port", endpoint);
        return -1;
      }
      v = v * 10 + (*q - '0');
    }
    if (v == 0 || v > 65535) {
      s3cow_log_error ("endpoint %s: bad port (1 to 65535)", endpoint);
      return -1;
    }
    *port = p + 1;
    *port_len = end - (p + 1);
  }
  return 0;
}

/* Is [h, h + n) an IP address (so it cannot take a bucket. in front)? */
static bool
is_ip_literal (const char *h, size_t n)
{
  size_t i;

  if (n > 0 && h[0] == '[')
    return true;
  for (i = 0; i < n; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || h[i] == '.'))
      return false;
  return true;
}

static bool
empty (const char *s)
{
  return s == NULL || s[0] == '\0';
}

/* Say in s->anonymous_why that no credentials were found and what the
 * chain tried; imds is why instance metadata gave none (NULL: it was
 * disabled).  Returns 0, or -1 after logging.
 */
static int
set_anonymous_why (struct s3_store *s, const char *imds)
{
  if (asprintf (&s->anonymous_why,
                "no credentials found, so the request went unsigned: set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, give "
                "access-key= and secret-key= or a profile (AWS_PROFILE), or "
                "run on an instance role; tried: parameters, the "
                "environment, web identity (AWS_WEB_IDENTITY_TOKEN_FILE), "
                "the profile in ~/.aws/credentials and ~/.aws/config, "
                "container credentials (AWS_CONTAINER_CREDENTIALS_*), "
                "instance metadata (%s)",
                imds ? imds : "disabled by AWS_EC2_METADATA_DISABLED")
      == -1) {
    s->anonymous_why = NULL;
    s3cow_log_error ("out of memory");
    return -1;
  }
  return 0;
}

/* Take the provider of config and get a first set now, so that a source
 * that does not work is known at once.  Instance metadata is the chain's
 * last resort: when it does not answer, requests are anonymous, as when
 * no credentials are found anywhere.  Returns 0 or -1 after logging.
 */
static int
open_credentials (struct s3_store *s, const struct store_config *config)
{
  struct creds_set *set = NULL;
  char errmsg[300];

  if (creds_get (config->credentials, &set, errmsg, sizeof errmsg) == 0) {
    creds_set_unref (set);
    s->creds = creds_ref (config->credentials);
    return 0;
  }
  if (creds_is_imds (config->credentials)) {
    s3cow_debug (http, "no credentials found (%s): anonymous requests", errmsg);
    return set_anonymous_why (s, errmsg);
  }
  s3cow_log_error ("%s", errmsg);
  return -1;
}

/* Is host (n bytes) one of AWS's S3 endpoints? */
static bool
is_aws_host (const char *host, size_t n)
{
  static const char *const suffixes[]
      = { ".amazonaws.com", ".amazonaws.com.cn" };
  size_t i, len;

  for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    len = strlen (suffixes[i]);
    if (n > len && strncasecmp (host + n - len, suffixes[i], len) == 0)
      return true;
  }
  return false;
}

/* Can bucket be one label of a host name: 3 to 63 of a-z 0-9 -, not
 * starting or ending with '-'?
 */
static bool
is_host_label (const char *bucket)
{
  size_t n = strlen (bucket);

  if (n < 3 || n > 63 || bucket[0] == '-' || bucket[n - 1] == '-')
    return false;
  return strspn (bucket, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Make s->host and s->base_url from s->endpoint (the AWS endpoint of
 * s->region when none was given), s->bucket and s->addressing, which
 * sets s->virtual_host.  *https tells the scheme.  Returns 0, or -1 after
 * logging.
 */
static int
set_addresses (struct s3_store *s, bool *https)
{
  const char *host, *port;
  size_t host_len, port_len;
  char *endpoint = NULL, *host_hdr = NULL, *base_url = NULL;

  if (!s->endpoint_given) {
    if (asprintf (&endpoint, "https://s3.%s.amazonaws.com", s->region) == -1)
      goto oom;
    free (s->endpoint);
    s->endpoint = endpoint;
  }
  if (parse_endpoint (s->endpoint, https, &host, &host_len, &port, &port_len)
      == -1)
    return -1;
  if (s->addressing == STORE_ADDRESSING_AUTO)
    s->virtual_host = is_aws_host (host, host_len) && is_host_label (s->bucket);
  else
    s->virtual_host = s->addressing == STORE_ADDRESSING_VIRTUAL;
  if (s->virtual_host && is_ip_literal (host, host_len)) {
    s3cow_log_error ("endpoint %s: virtual-hosted style needs a host name, "
                     "not an IP address",
                     s->endpoint);
    return -1;
  }
  if (asprintf (&host_hdr, "%s%s%.*s%s%.*s", s->virtual_host ? s->bucket : "",
                s->virtual_host ? "." : "", (int)host_len, host,
                port ? ":" : "", (int)port_len, port ? port : "")
      == -1)
    goto oom;
  if (asprintf (&base_url, "%s://%s", *https ? "https" : "http", host_hdr)
      == -1) {
    free (host_hdr);
    goto oom;
  }
  free (s->host);
  free (s->base_url);
  s->host = host_hdr;
  s->base_url = base_url;
  return 0;

oom:
  s3cow_log_error ("out of memory");
  return -1;
}

int
store_s3_set_region (struct s3_store *s, const char *region)
{
  char *copy = strdup (region);
  bool https;

  if (copy == NULL) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  free (s->region);
  s->region = copy;
  return set_addresses (s, &https);
}

/* Does s hold only characters a header value may have, and some? */
static bool
header_value_ok (const char *v)
{
  size_t i;

  for (i = 0; v[i]; i++)
    if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
      return false;
  return i > 0 && i < 2048;
}

/* Check and copy the encryption and storage class settings.  Returns 0,
 * or -1 after logging one message.
 */
static int
set_put_options (struct s3_store *s, const struct store_config *config)
{
  const char *sc = config->storage_class;
  size_t i;

  if (!empty (config->sse) && strcmp (config->sse, "AES256") != 0
      && strcmp (config->sse, "aws:kms") != 0) {
    s3cow_log_error ("sse=%s: must be AES256 (SSE-S3) or aws:kms (SSE-KMS)",
                     config->sse);
    return -1;
  }
  if (!empty (config->sse_kms_key_id)
      && (empty (config->sse) || strcmp (config->sse, "aws:kms") != 0)) {
    s3cow_log_error ("sse-kms-key-id= needs sse=aws:kms");
    return -1;
  }
  if (!empty (config->sse_kms_key_id)
      && !header_value_ok (config->sse_kms_key_id)) {
    s3cow_log_error ("sse-kms-key-id=: not a key id, alias or ARN");
    return -1;
  }
  if (!empty (sc)) {
    for (i = 0; sc[i]; i++)
      if (!((sc[i] >= 'A' && sc[i] <= 'Z') || sc[i] == '_'))
        break;
    if (sc[i] != '\0' || i > 64) {
      s3cow_log_error ("storage-class=%s: not a storage class (STANDARD, "
                       "STANDARD_IA, INTELLIGENT_TIERING, ONEZONE_IA, "
                       "GLACIER_IR, ...)",
                       sc);
      return -1;
    }
    if (strcmp (sc, "GLACIER") == 0 || strcmp (sc, "DEEP_ARCHIVE") == 0) {
      s3cow_log_error ("storage-class=%s: its objects cannot be read "
                       "without a restore first, so neither could the "
                       "disk (GLACIER_IR can be read at once)",
                       sc);
      return -1;
    }
  }
  if ((!empty (config->sse) && (s->sse = strdup (config->sse)) == NULL)
      || (!empty (config->sse_kms_key_id)
          && (s->sse_kms_key_id = strdup (config->sse_kms_key_id)) == NULL)
      || (!empty (sc) && (s->storage_class = strdup (sc)) == NULL)) {
    s3cow_log_error ("out of memory");
    return -1;
  }
  return 0;
}

struct store *
store_s3_open (const struct store_config *config)
{
  struct s3_store *s;
  size_t i;
  bool https;
  struct s3_http_config hc;
  const char *region = empty (config->region) ? "us-east-1" : config->region;

  if (empty (config->bucket)) {
    s3cow_log_error ("no bucket given (bucket=NAME)");
    return NULL;
  }
  for (i = 0; config->bucket[i]; i++)
    if (config->bucket[i] == '/' || (unsigned char)config->bucket[i] < 0x20
        || (config->addressing == STORE_ADDRESSING_VIRTUAL
            && strchr ("abcdefghijklmnopqrstuvwxyz0123456789.-",
                       config->bucket[i])
                   == NULL)) {
      s3cow_log_error ("bucket \"%s\": not a valid bucket name%s",
                       config->bucket,
                       config->addressing == STORE_ADDRESSING_VIRTUAL
                           ? " for virtual-hosted style (a-z 0-9 . -)"
                           : "");
      return NULL;
    }
  if (i > 255) {
    s3cow_log_error ("bucket name too long");
    return NULL;
  }
  if (empty (config->access_key) != empty (config->secret_key)) {
    s3cow_log_error ("%s given without %s: give both keys, or neither for "
                     "anonymous access",
                     empty (config->access_key) ? "secret key" : "access key",
                     empty (config->access_key) ? "access key" : "secret key");
    return NULL;
  }
  for (i = 0; region[i]; i++)
    if (strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "0123456789-_",
                region[i])
        == NULL) {
      s3cow_log_error ("region \"%s\": not a valid region name", region);
      return NULL;
    }

  s = calloc (1, sizeof *s);
  if (s == NULL) {
    s3cow_log_error ("calloc: %m");
    return NULL;
  }
  s->base.ops = &store_s3_ops;

  s->endpoint_given = !empty (config->endpoint);
  s->addressing = config->addressing;
  s->region_guessed = config->region_guessed || empty (config->region);
  s->bucket = strdup (config->bucket);
  s->region = strdup (region);
  if (s->bucket == NULL || s->region == NULL)
    goto oom;
  if (s->endpoint_given && (s->endpoint = strdup (config->endpoint)) == NULL)
    goto oom;
  if (set_addresses (s, &https) == -1 || set_put_options (s, config) == -1)
    goto fail;
  if (s->virtual_host)
    s->bucket_path = strdup ("");
  else if (asprintf (&s->bucket_path, "/%s", config->bucket) == -1)
    s->bucket_path = NULL;
  s->prefix = strdup (config->prefix ? config->prefix : "");
  if (s->bucket_path == NULL || s->prefix == NULL)
    goto oom;
  if (!empty (config->access_key)) {
    if (strpbrk (config->access_key, "/, \r\n") != NULL) {
      s3cow_log_error ("the access key has a character that cannot be in "
                       "one ('/', ',', a blank or a line break)");
      goto fail;
    }
    if (config->session_token && strpbrk (config->session_token, "\r\n")) {
      s3cow_log_error ("the session token has a line break");
      goto fail;
    }
    s->creds = creds_new_static (
        config->credentials_source ? config->credentials_source : "parameters",
        config->access_key, config->secret_key, config->session_token);
    if (s->creds == NULL)
      goto fail;
  } else if (config->credentials) {
    if (open_credentials (s, config) == -1)
      goto fail;
  } else if (config->credentials_tried && set_anonymous_why (s, NULL) == -1)
    goto fail;

  hc = (struct s3_http_config){
    .timeout = config->timeout,
    .retry_time = config->retry_time,
    .connections = config->connections,
    .tls_verify = config->tls_verify,
    .ca_file = config->ca_file,
  };
  s->http = s3_http_new (&hc);
  if (s->http == NULL)
    goto fail;
  if (!config->tls_verify && https)
    s3cow_log_warning ("endpoint %s: TLS certificate verification is OFF "
                       "(tls-verify=false): anyone on the network path can "
                       "read and change the data",
                       s->endpoint);
  s3cow_debug (http,
               "s3 store: %s, bucket %s, prefix \"%s\", region %s, "
               "%s style, %s, encryption %s, storage class %s",
               s->endpoint, s->bucket, s->prefix, s->region,
               s->virtual_host ? "virtual-hosted" : "path",
               s->creds ? "signed" : "anonymous",
               s->sse ? s->sse : "the bucket's default",
               s->storage_class ? s->storage_class : "the bucket's default");
  return &s->base;

oom:
  s3cow_log_error ("out of memory");
fail:
  store_s3_free (s);
  return NULL;
}
