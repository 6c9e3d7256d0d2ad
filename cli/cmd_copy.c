/* s3cow command: copy SOURCE s3://BUCKET[/PREFIX]/DISK (or
 * file:///DIR/BUCKET/DISK).
 *
 * Arguments, the destination's store and output only: the copy itself is
 * plugin/volume_copy.c, which says what it writes and in which order.
 *
 * The destination's connection: --to-endpoint (default: the source's
 * endpoint; "aws" for AWS itself), --to-region (default: the source's
 * region, or the profile's), and the credentials of --to-profile (the
 * credential chain run with AWS_PROFILE set to it and without the keys of
 * the environment), else the source's.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "names.h"
#include "volume_copy.h"

/* The parts of the destination operand. */
struct dest {
  char *endpoint; /* file://DIR, or NULL: from the options */
  char *bucket;
  char *prefix; /* "" or "PREFIX/" */
  char disk[NAME_MAX_LEN + 1];
};

static void
dest_free (struct dest *d)
{
  free (d->endpoint);
  free (d->bucket);
  free (d->prefix);
}

/* s3://BUCKET[/PREFIX]/DISK or file:///DIR/BUCKET/DISK.  0 or -1. */
static int
parse_dest (const char *s, struct dest *d)
{
  const char *rest, *slash, *last;
  char snap[NAME_MAX_LEN + 1];
  bool file = strncmp (s, "file:///", 8) == 0;

  memset (d, 0, sizeof *d);
  if (strncmp (s, "s3://", 5) != 0 && !file)
    goto bad;
  last = strrchr (s, '/');
  if (parse_disk_name (last + 1, false, d->disk, snap) == -1)
    return -1;
  if (file) {
    /* file:///DIR/BUCKET/DISK: the bucket is the directory before DISK. */
    const char *b = last;

    while (b > s + 7 && b[-1] != '/')
      b--;
    if (b <= s + 8 || b == last)
      goto bad;
    d->endpoint = strndup (s, b - 1 - s);
    d->bucket = strndup (b, last - b);
    d->prefix = strdup ("");
  } else {
    rest = s + 5;
    slash = strchr (rest, '/');
    if (slash == NULL || slash == rest || slash == last + 1)
      goto bad;
    d->bucket = strndup (rest, slash - rest);
    d->prefix = strndup (slash + 1, last + 1 - (slash + 1));
  }
  if (d->bucket == NULL || d->prefix == NULL || (file && d->endpoint == NULL)) {
    s3cow_log_error ("out of memory");
    dest_free (d);
    return -1;
  }
  return 0;

bad:
  s3cow_log_error ("destination '%s': expected s3://BUCKET/DISK, "
                   "s3://BUCKET/PREFIX/DISK or file:///DIR/BUCKET/DISK",
                   s);
  dest_free (d);
  return -1;
}

/* The environment variables that --to-profile sets aside while the
 * destination's credentials are resolved: the profile is explicit, so the
 * keys and region of the environment (the source's) do not apply.
 */
static const char *const profile_hides[] = {
  "AWS_ACCESS_KEY_ID",           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
  "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",          "AWS_REGION",
  "AWS_DEFAULT_REGION",          "AWS_ENDPOINT_URL",
};
#define NHIDES (sizeof profile_hides / sizeof profile_hides[0])

/* store_config_resolve with AWS_PROFILE=profile and without profile_hides
 * in the environment (restored after).
 */
static int
resolve_with_profile (struct store_config *config,
                      struct store_config_owned *owned, const char *profile)
{
  char *saved[NHIDES + 1] = { NULL };
  const char *names[NHIDES + 1];
  size_t i;
  int r = -1;

  for (i = 0; i < NHIDES; i++)
    names[i] = profile_hides[i];
  names[NHIDES] = "AWS_PROFILE";
  for (i = 0; i <= NHIDES; i++) {
    const char *v = getenv (names[i]);
    if (v && (saved[i] = strdup (v)) == NULL) {
      s3cow_log_error ("out of memory");
      goto restore;
    }
  }
  for (i = 0; i < NHIDES; i++)
    unsetenv (names[i]);
  if (setenv ("AWS_PROFILE", profile, 1) == -1) {
    s3cow_log_error ("setenv: %m");
    goto restore;
  }
  r = store_config_resolve (config, owned);

restore:
  for (i = 0; i <= NHIDES; i++) {
    if (saved[i]) {
      setenv (names[i], saved[i], 1);
      explicit_bzero (saved[i], strlen (saved[i]));
      free (saved[i]);
    } else
      unsetenv (names[i]);
  }
  return r;
}

static bool
same_string (const char *a, const char *b)
{
  return strcmp (a ? a : "", b ? b : "") == 0;
}

static void
copy_progress (void *opaque, const char *phase, uint64_t done, uint64_t total,
               uint64_t bytes)
{
  const struct cli *cli = opaque;
  char h[16];

  if (total)
    progress (cli, "copy: %s %" PRIu64 "/%" PRIu64 " chunks, %s sent", phase,
              done, total, human_size (bytes, h));
  else
    progress (cli, "copy: %s %" PRIu64 " chunks", phase, done);
}

int
cmd_copy (struct cli *cli, int argc, char **argv)
{
  struct store_config_owned owned = { 0 };
  struct store_config dc;
  struct volume_copy_result res;
  struct volume_copy_ops ops = { .opaque = cli, .progress = copy_progress };
  struct copy_source src;
  struct store *store, *dst = NULL;
  struct dest d;
  char h[16];
  int r, status = EXIT_FAIL;

  (void)argc;
  if (parse_dest (argv[2], &d) == -1)
    return EXIT_USAGE;
  if (d.endpoint && cli->to_endpoint) {
    s3cow_log_error ("a file:// destination names its directory: "
                     "--to-endpoint does not apply");
    dest_free (&d);
    return EXIT_USAGE;
  }
  store = cli_store (cli);
  if (store == NULL
      || volume_copy_source (store, argv[1], cli->crypto, &src) == -1)
    goto out;

  /* The destination's connection (see the top). */
  dc = cli->config;
  dc.bucket = d.bucket;
  dc.prefix = d.prefix;
  if (d.endpoint)
    dc.endpoint = d.endpoint;
  else if (cli->to_endpoint)
    dc.endpoint
        = strcmp (cli->to_endpoint, "aws") == 0 ? NULL : cli->to_endpoint;
  if (cli->to_region)
    dc.region = cli->to_region;
  if (cli->to_profile) {
    if (cli->to_region == NULL)
      dc.region = NULL;
    dc.access_key = dc.secret_key = dc.session_token = NULL;
    dc.credentials = NULL;
    dc.credentials_source = NULL;
    r = resolve_with_profile (&dc, &owned, cli->to_profile);
  } else
    r = store_config_resolve (&dc, &owned);
  if (r == -1)
    goto out;
  if (same_string (dc.endpoint, cli->config.endpoint)
      && same_string (dc.bucket, cli->config.bucket)
      && same_string (dc.prefix, cli->config.prefix)
      && strcmp (d.disk, src.disk) == 0) {
    s3cow_log_error ("%s is the source itself", argv[2]);
    goto out;
  }
  dst = store_open (&dc);
  if (dst == NULL)
    goto out;

  r = volume_copy (store, &src, dst, d.disk, cli->jobs, &ops, &res);
  progress_done (cli);
  if (r == -1) {
    if (res.sent > 0)
      s3cow_log_error ("copy of %s to %s failed; the %" PRIu64 " chunks it "
                       "sent stay there: running it again does not send "
                       "them again",
                       src.label, argv[2], res.sent);
    else
      s3cow_log_error ("copy of %s to %s failed", src.label, argv[2]);
    goto out;
  }
  if (cli->json) {
    if (print_json_result (JSON_STR, "source", src.label, JSON_STR,
                           "destination", argv[2], JSON_STR, "key", res.key,
                           JSON_BOOL, "up_to_date", res.up_to_date, JSON_U64,
                           "chunks", res.chunks, JSON_U64, "present",
                           res.present, JSON_U64, "sent", res.sent, JSON_U64,
                           "bytes_sent", res.bytes_sent, JSON_END)
        == 0)
      status = EXIT_OK;
    goto out;
  }
  if (res.up_to_date)
    printf ("%s: up to date (%s holds %s's state already)\n", argv[2], res.key,
            src.label);
  else
    printf ("copied %s to %s (%s): %" PRIu64 " chunks, %" PRIu64
            " already there, sent %" PRIu64 " chunks (%s)\n",
            src.label, argv[2], res.key, res.chunks, res.present, res.sent,
            human_size (res.bytes_sent, h));
  status = EXIT_OK;

out:
  store_close (dst);
  store_config_free_owned (&owned);
  dest_free (&d);
  return status;
}
