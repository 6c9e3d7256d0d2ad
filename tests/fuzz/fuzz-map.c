/* s3cow fuzzing: map_decode (disks/D/maps/GEN-INSTANCE).
 *
 * Input: byte 0 picks the disk's chunk size (64K << (b0 % 11)), bytes 1-2
 * its chunk count (1 to 2048: small, so that the size limit matters), the
 * rest is the object.  Checked besides memory safety: a refused map logs
 * why; an accepted one has strictly ascending entries below the disk's
 * chunk count, as many as its size says, and re-encodes to the same bytes
 * (when its reserved field is 0, which the decoder does not check, and
 * it is not authenticated: that needs its disk's key).
 */
#include <config.h>

#include <string.h>

#include "format.h"
#include "fuzz.h"

static uint64_t
le64 (const uint8_t *p)
{
  uint64_t v = 0;
  int i;

  for (i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct map_entry *e;
  size_t n, i, again_len;
  bool full;
  uint32_t chunk_size;
  uint64_t nchunks;
  unsigned long errors = fuzz_log_errors;
  void *again;

  if (size < 3)
    return 0;
  chunk_size = (uint32_t)CHUNK_SIZE_MIN << (data[0] % 11);
  nchunks = 1 + (data[1] | (uint64_t)data[2] << 8) % 2048;
  data += 3;
  size -= 3;

  if (map_decode ("disks/fuzz/maps/0000000000000001-fuzz", data, size,
                  chunk_size, nchunks, &e, &n, &full)
      == -1) {
    FUZZ_ASSERT (fuzz_log_errors > errors);
    FUZZ_ASSERT (e == NULL && n == 0);
    return 0;
  }
  FUZZ_ASSERT (fuzz_log_errors == errors);
  FUZZ_ASSERT (e != NULL);
  FUZZ_ASSERT (size <= map_max_size (nchunks, true));
  FUZZ_ASSERT (size == 40 + n * (8 + HASH_LEN) + 32
               || size == 40 + n * (8 + HASH_LEN) + 64);
  for (i = 0; i < n; i++) {
    FUZZ_ASSERT (e[i].idx < nchunks);
    FUZZ_ASSERT (i == 0 || e[i].idx > e[i - 1].idx);
  }

  /* Header: magic 8, version 4, flags 4 (at 12; bit 1: a MAC), chunk
   * size 4, reserved 4 (at 20), chunk count 8 (at 24), entry count 8.
   */
  if (le64 (data + 16) >> 32 == 0 && (le64 (data + 8) >> 32 & 2) == 0) {
    FUZZ_ASSERT (map_encode (e, n, full, chunk_size, le64 (data + 24), NULL,
                             NULL, &again, &again_len)
                 == 0);
    FUZZ_ASSERT (again_len == size);
    FUZZ_ASSERT (memcmp (again, data, size) == 0);
    free (again);
  }
  free (e);
  return 0;
}
