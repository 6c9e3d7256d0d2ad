/* s3cow: the AWS shared config and credentials files (see credentials.h).
 *
 * A profile is read from both files: the credentials file
 * (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), whose sections are
 * "[NAME]", first, then the config file (AWS_CONFIG_FILE or
 * ~/.aws/config), whose sections are "[profile NAME]" (but "[default]");
 * a key set in the first wins.  Which profile: the name asked for (a
 * source_profile), else AWS_PROFILE, else "default".  Only the keys s3cow
 * uses are kept (enum profile_key); what the chain makes of them
 * (credentials.c) is not decided here.  Lines are not echoed in errors:
 * they may hold secrets.
 */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "credentials-internal.h"
#include "credentials.h"
#include "log.h"

/* The names of the keys, by enum profile_key. */
static const char *const profile_keys[K_N] = {
  "aws_access_key_id",
  "aws_secret_access_key",
  "aws_session_token",
  "credential_process",
  "region",
  "endpoint_url",
  "role_arn",
  "source_profile",
};

static char *
trim (char *s)
{
  size_t n;

  while (*s == ' ' || *s == '\t')
    s++;
  n = strlen (s);
  while (n > 0 && strchr (" \t\r\n", s[n - 1]))
    s[--n] = '\0';
  return s;
}

/* Read the profile's keys from an INI file into v[] (values already set
 * are kept: the credentials file is read first and wins).  config: the
 * config file, whose sections are "[profile NAME]" (but "[default]").
 * Returns 1 if the profile is there, 0 if not (or no file), -1 after
 * logging.
 */
static int
read_profile (const char *file, bool file_explicit, bool config,
              const char *profile, char *v[K_N])
{
  FILE *fp = fopen (file, "re");
  char *line = NULL;
  size_t size = 0;
  bool in = false, found = false;
  unsigned lineno = 0;
  int ret = -1, k;

  if (fp == NULL) {
    if (errno == ENOENT && !file_explicit)
      return 0;
    s3cow_log_error ("%s: %m", file);
    return -1;
  }
  while (getline (&line, &size, fp) != -1) {
    char *l = trim (line), *eq, *key;

    lineno++;
    if (l[0] == '\0' || l[0] == '#' || l[0] == ';')
      continue;
    if (l[0] == '[') {
      char *end = strchr (l, ']'), *name;

      if (end == NULL) {
        s3cow_log_error ("%s:%u: a section without ']'", file, lineno);
        goto out;
      }
      *end = '\0';
      name = trim (l + 1);
      if (strncmp (name, "profile ", 8) == 0)
        name = trim (name + 8);
      else if (config && strcmp (name, "default") != 0)
        name = NULL; /* "[NAME]" in the config file is not a profile */
      in = name && strcmp (name, profile) == 0;
      found |= in;
      continue;
    }
    if (!in)
      continue;
    eq = strchr (l, '=');
    if (eq == NULL) {
      if (l[0] == ' ' || l[0] == '\t' || line[0] == ' ' || line[0] == '\t')
        continue; /* a nested value (s3 = ...) */
      /* Do not echo the line: it may hold a secret. */
      s3cow_log_error ("%s:%u: not \"key = value\"", file, lineno);
      goto out;
    }
    *eq = '\0';
    key = trim (l);
    for (k = 0; k < K_N; k++)
      if (strcasecmp (key, profile_keys[k]) == 0 && v[k] == NULL) {
        const char *val = trim (eq + 1);

        if (val[0] && (v[k] = strdup (val)) == NULL) {
          s3cow_log_error ("strdup: %m");
          goto out;
        }
      }
  }
  if (ferror (fp)) {
    s3cow_log_error ("%s: read: %m", file);
    goto out;
  }
  ret = found;

out:
  if (line) {
    explicit_bzero (line, size);
    free (line);
  }
  fclose (fp);
  return ret;
}

void
creds_profile_free (char *v[K_N])
{
  int k;

  for (k = 0; k < K_N; k++) {
    free_secret (v[k]);
    v[k] = NULL;
  }
}

int
creds_profile_load (char *v[K_N], const char **name)
{
  const char *cfile = env ("AWS_SHARED_CREDENTIALS_FILE");
  const char *ofile = env ("AWS_CONFIG_FILE");
  const char *home = env ("HOME");
  const char *profile = *name ? *name : env ("AWS_PROFILE");
  CLEANUP_FREE char *dc = NULL;
  CLEANUP_FREE char *dof = NULL;
  int r1 = 0, r2 = 0;

  *name = profile ? profile : "default";
  if (cfile == NULL && home
      && asprintf (&dc, "%s/.aws/credentials", home) == -1)
    dc = NULL;
  if (ofile == NULL && home && asprintf (&dof, "%s/.aws/config", home) == -1)
    dof = NULL;
  if (cfile || dc)
    r1 = read_profile (cfile ? cfile : dc, cfile != NULL, false, *name, v);
  if (r1 >= 0 && (ofile || dof))
    r2 = read_profile (ofile ? ofile : dof, ofile != NULL, true, *name, v);
  if (r1 < 0 || r2 < 0) {
    creds_profile_free (v);
    return -1;
  }
  return r1 || r2;
}

int
creds_profile_value (const char *key, char **value)
{
  char *v[K_N] = { NULL };
  const char *name = NULL;
  int k, r;

  *value = NULL;
  for (k = 0; k < K_N; k++)
    if (strcmp (profile_keys[k], key) == 0)
      break;
  if (k == K_N)
    return 0;
  r = creds_profile_load (v, &name);
  if (r <= 0)
    return r;
  *value = v[k];
  v[k] = NULL;
  creds_profile_free (v);
  return *value != NULL;
}
