/* s3cow fuzzing: lease_decode (disks/D/lease, a small text object).
 *
 * The input is the object.  Checked besides memory safety: a refused
 * lease logs why; an accepted one has NUL-terminated fields of printable
 * ASCII and a duration within limits, and survives encode + decode
 * unchanged.
 */
#include <config.h>

#include <string.h>

#include "format.h"
#include "fuzz.h"

/* Fields are shown in messages ("held by HOST pid ..."): printable ASCII
 * only, so no control bytes from the bucket reach a log or a terminal.
 */
static void
check_field (const char *f)
{
  size_t i;

  FUZZ_ASSERT (memchr (f, '\0', LEASE_FIELD_MAX) != NULL);
  for (i = 0; f[i]; i++)
    FUZZ_ASSERT (f[i] >= 0x20 && f[i] < 0x7f);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct lease_info info, again;
  unsigned long errors = fuzz_log_errors;
  char *buf;
  size_t len;

  if (lease_decode ("disks/fuzz/lease", data, size, &info) == -1) {
    FUZZ_ASSERT (fuzz_log_errors > errors);
    return 0;
  }
  FUZZ_ASSERT (fuzz_log_errors == errors);
  FUZZ_ASSERT (size <= LEASE_MAX_SIZE);
  FUZZ_ASSERT (info.duration >= 1 && info.duration <= 86400);
  check_field (info.host);
  check_field (info.instance);
  check_field (info.export);

  buf = malloc (LEASE_MAX_SIZE);
  FUZZ_ASSERT (buf != NULL);
  len = lease_encode (&info, buf);
  FUZZ_ASSERT (len <= LEASE_MAX_SIZE);
  FUZZ_ASSERT (lease_decode ("disks/fuzz/lease", buf, len, &again) == 0);
  FUZZ_ASSERT (again.released == info.released);
  FUZZ_ASSERT (again.pid == info.pid);
  FUZZ_ASSERT (again.taken == info.taken);
  FUZZ_ASSERT (again.renewed == info.renewed);
  FUZZ_ASSERT (again.duration == info.duration);
  FUZZ_ASSERT (strcmp (again.host, info.host) == 0);
  FUZZ_ASSERT (strcmp (again.instance, info.instance) == 0);
  FUZZ_ASSERT (strcmp (again.export, info.export) == 0);
  free (buf);
  return 0;
}
