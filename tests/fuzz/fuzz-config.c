/* s3cow fuzzing: the S3 connection settings, as the plugin and the s3cow
 * command take them.
 *
 * Input: byte 0 picks (mod 2)
 *   0  store_s3_open: the rest is endpoint, bucket, prefix, region, access
 *      key, secret key, session token and a flags byte (bit 0 virtual-host,
 *      bit 1 tls-verify, bit 2 the automatic choice of addressing when bit
 *      0 is clear), separated by NUL bytes.  The endpoint parser, the
 *      bucket, region and key checks run; nothing is sent (no request is
 *      made by store_s3_open).
 *   1  store_config_resolve with the rest as the shared credentials file
 *      (AWS_SHARED_CREDENTIALS_FILE, in a memfd), after a known first
 *      profile that holds a secret.
 * Checked besides memory safety: no log message contains the secret key or
 * the session token, and resolved credentials come as a set.
 */
#include <config.h>

#include <stdio.h>

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fuzz.h"
#include "store.h"

#define KNOWN_SECRET "FuzzKnownSecret/0123456789abcdefXYZ"

int LLVMFuzzerInitialize (int *argc, char ***argv);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* Once, so that s3_http_new's init and cleanup are cheap (refcounted). */
  curl_global_init (CURL_GLOBAL_DEFAULT);
  unsetenv ("AWS_ACCESS_KEY_ID");
  unsetenv ("AWS_SECRET_ACCESS_KEY");
  unsetenv ("AWS_SESSION_TOKEN");
  unsetenv ("AWS_PROFILE");
  unsetenv ("AWS_ENDPOINT_URL");
  unsetenv ("AWS_REGION");
  unsetenv ("AWS_DEFAULT_REGION");
  return 0;
}

/* Next NUL-separated field of [*p, end) (a copy), or NULL when none. */
static char *
field (const uint8_t **p, const uint8_t *end)
{
  const uint8_t *nul;
  char *f;

  if (*p >= end)
    return NULL;
  nul = memchr (*p, '\0', end - *p);
  f = strndup ((const char *)*p, (nul ? nul : end) - *p);
  *p = nul ? nul + 1 : end;
  return f;
}

/* Secrets are given a marker in front (the code treats them as opaque
 * strings, only testing them for emptiness and line breaks), so that a
 * message that holds a secret is told from one whose own text happens to
 * match the fuzzer's secret ("file://", ...).
 */
#define SECRET_MARK "\001s3cow-fuzz-secret:"
#define TOKEN_MARK "\001s3cow-fuzz-token:"

static char *
marked (const char *mark, char *s)
{
  char *m;

  if (s == NULL || s[0] == '\0')
    return s;
  if (asprintf (&m, "%s%s", mark, s) == -1)
    abort ();
  free (s);
  return m;
}

/* Does any of the n fields spell a marker, even in part (then a message
 * naming that field could end with the marker's ':')?
 */
static bool
in_fields (char **f, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (f[i] && strstr (f[i], "s3cow-fuzz"))
      return true;
  return false;
}

static void
fuzz_open (const uint8_t *p, const uint8_t *end)
{
  char *f[7];
  struct store_config c = { 0 };
  struct store *s;
  size_t i;
  uint8_t flags = 0;

  for (i = 0; i < 7; i++)
    f[i] = field (&p, end);
  if (p < end)
    flags = *p;
  f[5] = marked (SECRET_MARK, f[5]);
  f[6] = marked (TOKEN_MARK, f[6]);
  c.endpoint = f[0];
  c.bucket = f[1];
  c.prefix = f[2];
  c.region = f[3];
  c.access_key = f[4];
  c.secret_key = f[5];
  c.session_token = f[6];
  c.addressing = flags & 1   ? STORE_ADDRESSING_VIRTUAL
                 : flags & 4 ? STORE_ADDRESSING_AUTO
                             : STORE_ADDRESSING_PATH;
  c.tls_verify = flags & 2;
  if (c.endpoint && strncmp (c.endpoint, "file:", 5) == 0)
    c.endpoint = NULL; /* the directory store touches the filesystem */

  fuzz_log_forbidden[0] = in_fields (f, 5) ? NULL : SECRET_MARK;
  fuzz_log_forbidden[1] = in_fields (f, 5) ? NULL : TOKEN_MARK;
  s = store_s3_open (&c);
  if (s)
    store_close (s);
  fuzz_log_forbidden[0] = fuzz_log_forbidden[1] = NULL;
  for (i = 0; i < 7; i++)
    free (f[i]);
}

static void
fuzz_credentials (const uint8_t *p, const uint8_t *end)
{
  static const char first[] = "[known]\naws_access_key_id = AKIAKNOWN\n"
                              "aws_secret_access_key = " KNOWN_SECRET "\n";
  struct store_config c = { .endpoint = "http://127.0.0.1:1", .bucket = "b" };
  struct store_config_owned owned;
  char path[64];
  int fd;

  fd = memfd_create ("credentials", 0);
  FUZZ_ASSERT (fd >= 0);
  FUZZ_ASSERT (write (fd, first, sizeof first - 1) == sizeof first - 1);
  if (end > p)
    FUZZ_ASSERT (write (fd, p, end - p) == end - p);
  snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  setenv ("AWS_SHARED_CREDENTIALS_FILE", path, 1);

  fuzz_log_forbidden[0] = KNOWN_SECRET;
  if (store_config_resolve (&c, &owned) == 0) {
    FUZZ_ASSERT ((c.access_key == NULL) == (c.secret_key == NULL));
    FUZZ_ASSERT (c.access_key == NULL || c.access_key[0] != '\0');
    FUZZ_ASSERT (c.secret_key == NULL || c.secret_key[0] != '\0');
    store_config_free_owned (&owned);
  }
  fuzz_log_forbidden[0] = NULL;
  close (fd);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  if (data[0] % 2 == 0)
    fuzz_open (data + 1, data + size);
  else
    fuzz_credentials (data + 1, data + size);
  return 0;
}
