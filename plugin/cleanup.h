/* s3cow: scope-based cleanup helpers (nbdkit's common/ is not installed).
 *
 * CLEANUP_FREE char *p = ...;   p is freed when it goes out of scope.
 * ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&mutex);   unlocked at scope exit.
 */
#ifndef S3COW_CLEANUP_H
#define S3COW_CLEANUP_H

#include <pthread.h>
#include <stdlib.h>

static inline void
cleanup_free (void *ptr)
{
  free (*(void **)ptr);
}
#define CLEANUP_FREE __attribute__ ((cleanup (cleanup_free)))

static inline void
cleanup_unlock (pthread_mutex_t **ptr)
{
  pthread_mutex_unlock (*ptr);
}
#define CLEANUP_CAT_(a, b) a##b
#define CLEANUP_CAT(a, b) CLEANUP_CAT_ (a, b)
#define ACQUIRE_LOCK_FOR_CURRENT_SCOPE(mutex)                                  \
  __attribute__ ((cleanup (cleanup_unlock)))                                   \
  pthread_mutex_t *CLEANUP_CAT (_lock_, __LINE__)                              \
      = (mutex);                                                               \
  pthread_mutex_lock (CLEANUP_CAT (_lock_, __LINE__))

#endif /* S3COW_CLEANUP_H */
