/* s3cow: where the S3 connection settings come from (see store.h).
 *
 * Order, first found wins, for each group:
 *
 *   endpoint     explicit, AWS_ENDPOINT_URL, (NULL: AWS)
 *   region       explicit, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 *                region (AWS_PROFILE in AWS_CONFIG_FILE or ~/.aws/config),
 *                us-east-1
 *   credentials  explicit, AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *                (+ AWS_SESSION_TOKEN), then the rest of the AWS SDKs'
 *                chain in credentials.c (web identity, the profile, the
 *                container endpoint, instance metadata), else anonymous
 *
 * Credentials are taken as a set from one source: an access key from the
 * command line is never paired with a secret key from a file.  Secrets are
 * wiped from memory when freed and never appear in a message.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "credentials.h"
#include "log.h"
#include "store.h"

static bool
empty (const char *s)
{
  return s == NULL || s[0] == '\0';
}

/* The value of an environment variable, NULL when unset or empty. */
static const char *
env (const char *name)
{
  const char *v = getenv (name);

  return empty (v) ? NULL : v;
}

static void
free_secret (char **p)
{
  if (*p) {
    explicit_bzero (*p, strlen (*p));
    free (*p);
    *p = NULL;
  }
}

void
store_config_free_owned (struct store_config_owned *owned)
{
  free_secret (&owned->access_key);
  free_secret (&owned->secret_key);
  free_secret (&owned->session_token);
  free (owned->region);
  owned->region = NULL;
  free (owned->endpoint);
  owned->endpoint = NULL;
  free (owned->prefix);
  owned->prefix = NULL;
  creds_unref (owned->credentials);
  owned->credentials = NULL;
}

/* *dst = copy of src (dst is a field of owned).  Returns 0 or -1. */
static int
set_owned (char **dst, const char *src)
{
  *dst = strdup (src);
  if (*dst == NULL) {
    s3cow_log_error ("strdup: %m");
    return -1;
  }
  return 0;
}

static int
resolve_credentials (struct store_config *config,
                     struct store_config_owned *owned)
{
  /* 1. Explicit keys: nothing else is looked at. */
  if (!empty (config->access_key) || !empty (config->secret_key))
    return 0;

  /* 2. The environment. */
  if (env ("AWS_ACCESS_KEY_ID") || env ("AWS_SECRET_ACCESS_KEY")) {
    if (!env ("AWS_ACCESS_KEY_ID") || !env ("AWS_SECRET_ACCESS_KEY")) {
      s3cow_log_error ("%s is set but %s is not",
                       env ("AWS_ACCESS_KEY_ID") ? "AWS_ACCESS_KEY_ID"
                                                 : "AWS_SECRET_ACCESS_KEY",
                       env ("AWS_ACCESS_KEY_ID") ? "AWS_SECRET_ACCESS_KEY"
                                                 : "AWS_ACCESS_KEY_ID");
      return -1;
    }
    if (set_owned (&owned->access_key, env ("AWS_ACCESS_KEY_ID")) == -1
        || set_owned (&owned->secret_key, env ("AWS_SECRET_ACCESS_KEY")) == -1)
      return -1;
    if (config->session_token == NULL && env ("AWS_SESSION_TOKEN")
        && set_owned (&owned->session_token, env ("AWS_SESSION_TOKEN")) == -1)
      return -1;
    config->access_key = owned->access_key;
    config->secret_key = owned->secret_key;
    if (owned->session_token)
      config->session_token = owned->session_token;
    config->credentials_source = "the environment";
    return 0;
  }

  /* 3 to 6: web identity, the profile, the container, instance metadata
   * (credentials.c).  None: anonymous.
   */
  if (creds_chain_new (config->region, &owned->credentials) == -1)
    return -1;
  config->credentials = owned->credentials;
  config->credentials_tried = owned->credentials == NULL;
  return 0;
}

int
store_config_resolve (struct store_config *config,
                      struct store_config_owned *owned)
{
  memset (owned, 0, sizeof *owned);

  /* As the AWS SDKs: the S3 one, the global one, then the profile's. */
  if (config->endpoint == NULL) {
    const char *e = env ("AWS_ENDPOINT_URL_S3");

    if (e == NULL)
      e = env ("AWS_ENDPOINT_URL");
    if (e && set_owned (&owned->endpoint, e) == -1)
      goto fail;
    if (e == NULL
        && creds_profile_value ("endpoint_url", &owned->endpoint) == -1)
      goto fail;
    config->endpoint = owned->endpoint;
  }

  /* A prefix names a folder: "team-a" is "team-a/", never "team-adisks/". */
  if (config->prefix && config->prefix[0]
      && config->prefix[strlen (config->prefix) - 1] != '/') {
    if (asprintf (&owned->prefix, "%s/", config->prefix) == -1) {
      owned->prefix = NULL;
      s3cow_log_error ("out of memory");
      goto fail;
    }
    config->prefix = owned->prefix;
  }

  /* A directory store needs no region and no credentials. */
  if (config->endpoint && strncmp (config->endpoint, "file://", 7) == 0)
    return 0;

  if (config->region == NULL) {
    const char *r = env ("AWS_REGION");

    /* Not chosen for this bucket: the bucket's own region may replace it. */
    config->region_guessed = true;
    if (r == NULL)
      r = env ("AWS_DEFAULT_REGION");
    if (r == NULL && creds_profile_value ("region", &owned->region) == -1)
      goto fail;
    if (owned->region == NULL
        && set_owned (&owned->region, r ? r : "us-east-1") == -1)
      goto fail;
    config->region = owned->region;
  }

  if (resolve_credentials (config, owned) == -1)
    goto fail;
  return 0;

fail:
  /* Leave no pointer into what is freed. */
  if (config->endpoint == owned->endpoint)
    config->endpoint = NULL;
  if (owned->prefix && config->prefix == owned->prefix)
    config->prefix = NULL;
  if (config->region == owned->region)
    config->region = NULL;
  if (config->credentials == owned->credentials)
    config->credentials = NULL;
  store_config_free_owned (owned);
  return -1;
}
