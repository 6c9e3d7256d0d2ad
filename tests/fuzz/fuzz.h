/* s3cow fuzzing: what the fuzz targets share (see fuzz_log.c). */
#ifndef S3COW_FUZZ_H
#define S3COW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A log message containing one of these strings aborts (NULL: none). */
extern const char *fuzz_log_forbidden[2];
/* Errors logged so far. */
extern unsigned long fuzz_log_errors;

/* Abort with a message when an invariant does not hold: libFuzzer then
 * saves the input as a crash.
 */
#define FUZZ_ASSERT(cond)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,    \
               #cond);                                                         \
      abort ();                                                                \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#endif /* S3COW_FUZZ_H */
