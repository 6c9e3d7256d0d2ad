/* s3cow: the credentials' private header, shared by their three files:
 *
 *   credentials.c         credential sets, providers and their renewal,
 *                         and the chain (creds_chain_new: which source,
 *                         from the environment and the profile)
 *   credential_profile.c  the AWS shared config and credentials files:
 *                         a profile's keys read (creds_profile_load)
 *   credential_sources.c  where a new set comes from: the parsers of the
 *                         sources' answers, a bounded HTTP exchange, and a
 *                         fetch function per source
 *
 * Nothing else includes it: the rest of s3cow sees credentials.h only.
 *
 * Locking: creds.lock guards cur, refresh_at, retry_at, fails, refreshing,
 * have_thread, thread, last_error.  It is never held across a fetch:
 * whoever sets refreshing does the fetch without the lock, then installs
 * the result under it and broadcasts done.  A fetch reads only kind, a, b
 * and c, which never change once the provider is made.
 */
#ifndef S3COW_CREDENTIALS_INTERNAL_H
#define S3COW_CREDENTIALS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "credentials.h"

enum source {
  SRC_STATIC,
  SRC_WEB_ID,
  SRC_PROCESS,
  SRC_CONTAINER,
  SRC_IMDS,
  SRC_ASSUME_ROLE,
};

struct creds {
  atomic_uint refs;
  enum source kind;
  char *source;    /* for messages: "instance metadata at http://...", ... */
  char *a, *b, *c; /* per source: see its fetch_* (credential_sources.c) */
  struct creds *inner; /* SRC_ASSUME_ROLE: the source profile's keys */

  pthread_mutex_t lock; /* guards the fields below */
  pthread_cond_t done;  /* a renewal ended */
  struct creds_set *cur;
  time_t refresh_at; /* start a background renewal then (0: never) */
  time_t retry_at;   /* not before then after a failure */
  unsigned fails;    /* renewals failed in a row */
  bool refreshing;   /* a fetch is under way */
  pid_t refresh_pid; /* ... in this process (a fork loses the thread) */
  bool have_thread;  /* thread is joinable */
  pthread_t thread;
  char last_error[256];
};

/* Small helpers of all three files. */

static inline bool
empty (const char *s)
{
  return s == NULL || s[0] == '\0';
}

static inline const char *
env (const char *name)
{
  const char *v = getenv (name);

  return empty (v) ? NULL : v;
}

static inline void
free_secret (char *s)
{
  if (s) {
    explicit_bzero (s, strlen (s));
    free (s);
  }
}

/* The keys of a profile s3cow reads: v[K_...] below, the values (NULL:
 * not set), secrets among them (free with creds_profile_free).
 */
enum profile_key {
  K_AK,
  K_SK,
  K_TOKEN,
  K_PROCESS,
  K_REGION,
  K_ENDPOINT,
  K_ROLE,
  K_SOURCE,
  K_N
};

/* Read profile *name (NULL: AWS_PROFILE, else "default") from both files
 * into v (all NULL before); *name is then the profile read.  Returns 1
 * found, 0 not (v all NULL), -1 after logging (v freed).  In
 * credential_profile.c.
 */
int creds_profile_load (char *v[K_N], const char **name);

/* Free v's values (secrets wiped) and set them NULL.  In
 * credential_profile.c.
 */
void creds_profile_free (char *v[K_N]);

/* A new set with copies of the strings (token may be NULL or "").
 * Returns it, or NULL with errmsg (a key missing, a character that cannot
 * be in it, out of memory).  In credentials.c.
 */
struct creds_set *creds_set_new (const char *ak, const char *sk,
                                 const char *token, time_t expiration,
                                 char *errmsg, size_t errmsg_size);

/* Fetch a new set from c's source, bounded in time and size.  Called
 * without c->lock (see above).  Returns the set (a new reference), or
 * NULL with errmsg (always for SRC_STATIC: fixed keys are not renewed).
 * In credential_sources.c.
 */
struct creds_set *creds_fetch (struct creds *c, char *errmsg,
                               size_t errmsg_size);

#endif /* S3COW_CREDENTIALS_INTERNAL_H */
