/* s3cow fuzzing: head_decode (disks/D/head and snapshot heads).
 *
 * The input is the object.  Checked besides memory safety: a refused head
 * logs why; an accepted one has every field within its limits, map keys
 * that stay under disks/ without "..", a parent that is "" or a valid
 * DISK[@SNAP], and re-encodes to the very same bytes (the format has one
 * encoding per head; an encrypted one needs its key for that).
 */
#include <config.h>

#include <string.h>

#include "format.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct head head;
  unsigned long errors = fuzz_log_errors;
  void *again;
  size_t again_len;
  uint32_t i;

  if (head_decode ("disks/fuzz/head", data, size, &head) == -1) {
    FUZZ_ASSERT (fuzz_log_errors > errors);
    return 0;
  }
  FUZZ_ASSERT (fuzz_log_errors == errors);
  FUZZ_ASSERT (size <= HEAD_MAX_SIZE);
  FUZZ_ASSERT (head.chunk_size >= CHUNK_SIZE_MIN);
  FUZZ_ASSERT (head.chunk_size <= CHUNK_SIZE_MAX);
  FUZZ_ASSERT ((head.chunk_size & (head.chunk_size - 1)) == 0);
  FUZZ_ASSERT (head.size > 0 && head.size <= DISK_SIZE_MAX);
  FUZZ_ASSERT (head.size % 512 == 0);
  FUZZ_ASSERT (head.nmaps <= HEAD_READ_MAX_MAPS);
  FUZZ_ASSERT (memchr (head.parent, '\0', sizeof head.parent) != NULL);
  /* The parent and the map keys are shown by s3cow ls and info: "" or
   * DISK[@SNAP] only, map keys as key_map builds them (bug
   * "head-parent-unchecked": any bytes were accepted in the parent, escape
   * sequences and line breaks included).
   */
  {
    char d[NAME_MAX_LEN + 1], s[NAME_MAX_LEN + 1];

    FUZZ_ASSERT (head.parent[0] == '\0'
                 || name_parse_export (head.parent, d, s) == 0);
  }
  for (i = 0; i < head.nmaps; i++) {
    const char *k = head.maps[i];
    size_t j;

    FUZZ_ASSERT (memchr (k, '\0', KEY_MAX_LEN) != NULL);
    FUZZ_ASSERT (strncmp (k, KEY_DISKS_PREFIX, strlen (KEY_DISKS_PREFIX)) == 0);
    FUZZ_ASSERT (strstr (k, "..") == NULL);
    for (j = 0; k[j]; j++)
      FUZZ_ASSERT (k[j] > 0x20 && k[j] < 0x7f);
  }

  /* An encrypted head is authenticated with a key the fuzzer does not
   * have: it cannot be encoded without one.
   */
  if (head.encrypted) {
    FUZZ_ASSERT (head_encode (&head, NULL, NULL, &again, &again_len) == -1);
    return 0;
  }
  FUZZ_ASSERT (head_encode (&head, NULL, NULL, &again, &again_len) == 0);
  FUZZ_ASSERT (again_len == size);
  FUZZ_ASSERT (memcmp (again, data, size) == 0);
  free (again);
  return 0;
}
