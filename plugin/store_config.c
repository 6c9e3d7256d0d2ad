/* s3cow: where the S3 connection settings come from (see store.h).
 *
 * Order, first found wins, for each group:
 *
 *   endpoint     explicit, AWS_ENDPOINT_URL, (NULL: AWS)
 *   region       explicit, AWS_REGION, AWS_DEFAULT_REGION, us-east-1
 *   credentials  explicit, AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *                (+ AWS_SESSION_TOKEN), the shared credentials file
 *                (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
 *                profile AWS_PROFILE or "default"), else anonymous
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

/* [s, s + strlen) without blanks at both ends, in place. */
static char *
trim (char *s)
{
  size_t n;

  while (*s == ' ' || *s == '\t')
    s++;
  n = strlen (s);
  while (n > 0
         && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'
             || s[n - 1] == '\n'))
    s[--n] = '\0';
  return s;
}

/* Read the keys of one profile from an INI credentials file:
 *
 *   [default]
 *   aws_access_key_id = AKIA...
 *   aws_secret_access_key = ...
 *   aws_session_token = ...      (optional)
 *
 * Returns 1 if the profile was found (owned filled), 0 if the file or the
 * profile does not exist and that is allowed, -1 after logging.
 */
static int
read_credentials_file (const char *file, bool file_explicit,
                       const char *profile, bool profile_explicit,
                       struct store_config_owned *owned)
{
  FILE *fp;
  char *line = NULL;
  size_t size = 0;
  ssize_t n;
  bool in_profile = false, found = false;
  unsigned lineno = 0;
  int ret = -1;

  fp = fopen (file, "r");
  if (fp == NULL) {
    if (errno == ENOENT && !file_explicit && !profile_explicit)
      return 0;
    s3cow_log_error ("credentials file %s: %m", file);
    return -1;
  }

  while ((n = getline (&line, &size, fp)) != -1) {
    char *l = trim (line), *eq, *key, *value;

    lineno++;
    if (l[0] == '\0' || l[0] == '#' || l[0] == ';')
      continue;
    if (l[0] == '[') {
      char *end = strchr (l, ']');
      char *name;

      if (end == NULL) {
        s3cow_log_error ("credentials file %s:%u: a section without ']'", file,
                         lineno);
        goto out;
      }
      *end = '\0';
      name = trim (l + 1);
      if (strncmp (name, "profile ", 8) == 0)
        name = trim (name + 8);
      in_profile = strcmp (name, profile) == 0;
      found |= in_profile;
      continue;
    }
    if (!in_profile)
      continue;
    eq = strchr (l, '=');
    if (eq == NULL) {
      /* Do not echo the line: it may hold a secret. */
      s3cow_log_error ("credentials file %s:%u: not \"key = value\"", file,
                       lineno);
      goto out;
    }
    *eq = '\0';
    key = trim (l);
    value = trim (eq + 1);
    if (strcasecmp (key, "aws_access_key_id") == 0) {
      free_secret (&owned->access_key);
      if (set_owned (&owned->access_key, value) == -1)
        goto out;
    } else if (strcasecmp (key, "aws_secret_access_key") == 0) {
      free_secret (&owned->secret_key);
      if (set_owned (&owned->secret_key, value) == -1)
        goto out;
    } else if (strcasecmp (key, "aws_session_token") == 0) {
      free_secret (&owned->session_token);
      if (set_owned (&owned->session_token, value) == -1)
        goto out;
    }
  }
  if (ferror (fp)) {
    s3cow_log_error ("credentials file %s: read: %m", file);
    goto out;
  }

  if (!found) {
    if (profile_explicit) {
      s3cow_log_error ("credentials file %s: no profile [%s] (AWS_PROFILE)",
                       file, profile);
      goto out;
    }
    ret = 0;
    goto out;
  }
  if (empty (owned->access_key) || empty (owned->secret_key)) {
    s3cow_log_error ("credentials file %s: profile [%s] lacks %s", file,
                     profile,
                     empty (owned->access_key) ? "aws_access_key_id"
                                               : "aws_secret_access_key");
    goto out;
  }
  ret = 1;

out:
  if (line) {
    explicit_bzero (line, size);
    free (line);
  }
  fclose (fp);
  if (ret != 1) {
    free_secret (&owned->access_key);
    free_secret (&owned->secret_key);
    free_secret (&owned->session_token);
  }
  return ret;
}

static int
resolve_credentials (struct store_config *config,
                     struct store_config_owned *owned)
{
  const char *file = env ("AWS_SHARED_CREDENTIALS_FILE");
  const char *profile = env ("AWS_PROFILE");
  CLEANUP_FREE char *default_file = NULL;
  int r;

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
    goto done;
  }

  /* 3. The shared credentials file. */
  if (file == NULL) {
    const char *home = env ("HOME");

    if (home == NULL) {
      if (profile == NULL)
        return 0; /* no file to look at: anonymous */
      s3cow_log_error ("AWS_PROFILE is set but there is no credentials "
                       "file (HOME and AWS_SHARED_CREDENTIALS_FILE unset)");
      return -1;
    }
    if (asprintf (&default_file, "%s/.aws/credentials", home) == -1) {
      default_file = NULL;
      s3cow_log_error ("asprintf: %m");
      return -1;
    }
  }
  r = read_credentials_file (file ? file : default_file, file != NULL,
                             profile ? profile : "default", profile != NULL,
                             owned);
  if (r <= 0)
    return r;
  if (config->session_token != NULL)
    free_secret (&owned->session_token); /* the explicit one wins */

done:
  config->access_key = owned->access_key;
  config->secret_key = owned->secret_key;
  if (owned->session_token)
    config->session_token = owned->session_token;
  return 0;
}

int
store_config_resolve (struct store_config *config,
                      struct store_config_owned *owned)
{
  memset (owned, 0, sizeof *owned);

  if (config->endpoint == NULL && env ("AWS_ENDPOINT_URL")) {
    if (set_owned (&owned->endpoint, env ("AWS_ENDPOINT_URL")) == -1)
      goto fail;
    config->endpoint = owned->endpoint;
  }

  if (config->region == NULL) {
    const char *r = env ("AWS_REGION");

    if (r == NULL)
      r = env ("AWS_DEFAULT_REGION");
    if (set_owned (&owned->region, r ? r : "us-east-1") == -1)
      goto fail;
    config->region = owned->region;
  }

  /* A directory store needs no credentials. */
  if (config->endpoint && strncmp (config->endpoint, "file://", 7) == 0)
    return 0;

  if (resolve_credentials (config, owned) == -1)
    goto fail;
  return 0;

fail:
  /* Leave no pointer into what is freed. */
  if (config->endpoint == owned->endpoint)
    config->endpoint = NULL;
  if (config->region == owned->region)
    config->region = NULL;
  store_config_free_owned (owned);
  return -1;
}
