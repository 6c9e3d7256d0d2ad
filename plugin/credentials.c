/* s3cow: the credential chain and renewal (see credentials.h).
 *
 * Credential sets (creds_set_new, creds_set_unref), providers (struct
 * creds) and their renewal (renew, in a background thread or in the
 * caller of creds_get), and the chain that picks a source from the
 * environment and the profile (creds_chain_new).  The profile files are
 * read in credential_profile.c; where a new set comes from, and how it is
 * fetched, is credential_sources.c.
 *
 * Locking: creds.lock guards cur, refresh_at, retry_at, fails, refreshing,
 * have_thread, thread, last_error.  It is never held across a fetch:
 * whoever sets refreshing does the fetch without the lock, then installs
 * the result under it and broadcasts done.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "credentials-internal.h"
#include "credentials.h"
#include "log.h"

#define RETRY_MIN 5  /* seconds before retrying a failed renewal */
#define RETRY_MAX 60 /* ... doubling up to this */
#define MARGIN_MIN 300

/* --- Credential sets ---------------------------------------------------- */

void
creds_set_unref (struct creds_set *set)
{
  if (set == NULL || atomic_fetch_sub (&set->refs, 1) != 1)
    return;
  free (set->access_key);
  free_secret (set->secret_key);
  free_secret (set->session_token);
  free (set);
}

struct creds_set *
creds_set_new (const char *ak, const char *sk, const char *token,
               time_t expiration, char *errmsg, size_t errmsg_size)
{
  struct creds_set *set;

  if (empty (ak) || empty (sk)) {
    snprintf (errmsg, errmsg_size, "the answer lacks %s",
              empty (ak) ? "the access key id" : "the secret access key");
    return NULL;
  }
  if (strpbrk (ak, "/, \r\n") != NULL) {
    snprintf (errmsg, errmsg_size,
              "the access key id has a character that "
              "cannot be in one");
    return NULL;
  }
  if ((token && strpbrk (token, "\r\n")) || strpbrk (sk, "\r\n")) {
    snprintf (errmsg, errmsg_size, "a key or token has a line break");
    return NULL;
  }
  set = calloc (1, sizeof *set);
  if (set == NULL)
    goto oom;
  atomic_init (&set->refs, 1);
  set->expiration = expiration;
  set->access_key = strdup (ak);
  set->secret_key = strdup (sk);
  if (!empty (token))
    set->session_token = strdup (token);
  if (set->access_key == NULL || set->secret_key == NULL
      || (!empty (token) && set->session_token == NULL)) {
    creds_set_unref (set);
    goto oom;
  }
  return set;

oom:
  snprintf (errmsg, errmsg_size, "out of memory");
  return NULL;
}

/* --- Providers and renewal ---------------------------------------------- */

static struct creds *
creds_alloc (enum source kind, const char *source)
{
  struct creds *c = calloc (1, sizeof *c);

  if (c == NULL || (c->source = strdup (source)) == NULL) {
    free (c);
    s3cow_log_error ("out of memory");
    return NULL;
  }
  atomic_init (&c->refs, 1);
  c->kind = kind;
  pthread_mutex_init (&c->lock, NULL);
  pthread_cond_init (&c->done, NULL);
  return c;
}

struct creds *
creds_new_static (const char *source, const char *access_key,
                  const char *secret_key, const char *session_token)
{
  struct creds *c = creds_alloc (SRC_STATIC, source);
  char errmsg[200];

  if (c == NULL)
    return NULL;
  c->cur = creds_set_new (access_key, secret_key, session_token, 0, errmsg,
                          sizeof errmsg);
  if (c->cur == NULL) {
    s3cow_log_error ("credentials from %s: %s", source, errmsg);
    creds_unref (c);
    return NULL;
  }
  s3cow_debug (http, "credentials: fixed keys from %s", source);
  return c;
}

bool
creds_is_imds (const struct creds *c)
{
  return c->kind == SRC_IMDS;
}

struct creds *
creds_ref (struct creds *c)
{
  atomic_fetch_add (&c->refs, 1);
  return c;
}

void
creds_unref (struct creds *c)
{
  if (c == NULL || atomic_fetch_sub (&c->refs, 1) != 1)
    return;
  pthread_mutex_lock (&c->lock);
  while (c->refreshing && c->refresh_pid == getpid ())
    pthread_cond_wait (&c->done, &c->lock);
  pthread_mutex_unlock (&c->lock);
  if (c->have_thread && c->refresh_pid == getpid ())
    pthread_join (c->thread, NULL);
  creds_set_unref (c->cur);
  pthread_cond_destroy (&c->done);
  pthread_mutex_destroy (&c->lock);
  free (c->source);
  free (c->a);
  free_secret (c->b);
  free_secret (c->c);
  creds_unref (c->inner);
  free (c);
}

/* Is a renewal under way in this process?  Lock held. */
static bool
renewing (const struct creds *c)
{
  return c->refreshing && c->refresh_pid == getpid ();
}

/* Fetch a new set and install it.  Called with refreshing set by the
 * caller, without the lock; returns with refreshing cleared.
 */
static void
renew (struct creds *c)
{
  char errmsg[256] = "";
  struct creds_set *set = creds_fetch (c, errmsg, sizeof errmsg);
  time_t now = time (NULL);
  struct creds_set *old = NULL;

  if (set && set->expiration != 0 && set->expiration <= now) {
    snprintf (errmsg, sizeof errmsg,
              "the credentials it gave expired already (Expiration %lld, "
              "now %lld)",
              (long long)set->expiration, (long long)now);
    creds_set_unref (set);
    set = NULL;
  }

  pthread_mutex_lock (&c->lock);
  if (set) {
    time_t life = set->expiration - now;
    time_t margin = life / 4 > MARGIN_MIN ? life / 4 : MARGIN_MIN;

    if (margin > life / 2)
      margin = life / 2;
    old = c->cur;
    c->cur = set;
    c->fails = 0;
    c->retry_at = 0;
    c->refresh_at = set->expiration - margin;
    if (c->refresh_at < now + 1)
      c->refresh_at = now + 1;
    c->last_error[0] = '\0';
    /* The access key is not logged either: only whether it changed. */
    s3cow_debug (http,
                 "credentials: from %s: %s keys, expire in %lld s, renewed "
                 "in %lld s",
                 c->source,
                 old && strcmp (old->access_key, set->access_key) == 0
                     ? "the same"
                     : "new",
                 (long long)life, (long long)(c->refresh_at - now));
  } else {
    unsigned shift = c->fails < 4 ? c->fails : 4;
    time_t wait = (time_t)RETRY_MIN << shift;

    if (wait > RETRY_MAX)
      wait = RETRY_MAX;
    c->fails++;
    c->retry_at = now + wait;
    snprintf (c->last_error, sizeof c->last_error, "%s", errmsg);
    s3cow_log_error ("credentials from %s: %s%s", c->source, errmsg,
                     c->cur && c->cur->expiration > now
                         ? " (the current ones are still valid: retrying)"
                         : "");
  }
  c->refreshing = false;
  pthread_cond_broadcast (&c->done);
  pthread_mutex_unlock (&c->lock);
  creds_set_unref (old);
}

static void *
renew_thread (void *opaque)
{
  renew (opaque);
  return NULL;
}

/* Start a background renewal.  Lock held.  Falls back to none if the
 * thread cannot be made (the next creds_get tries again).
 */
static void
start_renewal (struct creds *c)
{
  if (c->have_thread && c->refresh_pid == getpid ()) {
    /* The last renewal thread has ended (refreshing is false): reap it. */
    pthread_join (c->thread, NULL);
  }
  c->have_thread = false;
  c->refreshing = true;
  c->refresh_pid = getpid ();
  if (pthread_create (&c->thread, NULL, renew_thread, c) != 0) {
    c->refreshing = false;
    return;
  }
  c->have_thread = true;
}

int
creds_get (struct creds *c, struct creds_set **set, char *errmsg,
           size_t errmsg_size)
{
  bool tried = false;

  *set = NULL;
  pthread_mutex_lock (&c->lock);
  for (;;) {
    time_t now = time (NULL);

    if (c->cur && (c->cur->expiration == 0 || now < c->cur->expiration)) {
      if (c->kind != SRC_STATIC && now >= c->refresh_at && now >= c->retry_at
          && !renewing (c))
        start_renewal (c);
      atomic_fetch_add (&c->cur->refs, 1);
      *set = c->cur;
      pthread_mutex_unlock (&c->lock);
      return 0;
    }
    /* None valid: renew in this thread, or wait for the renewal under
     * way; once.
     */
    if (tried || c->kind == SRC_STATIC)
      break;
    tried = true;
    if (renewing (c)) {
      while (renewing (c))
        pthread_cond_wait (&c->done, &c->lock);
      continue;
    }
    c->refreshing = true;
    c->refresh_pid = getpid ();
    pthread_mutex_unlock (&c->lock);
    renew (c);
    pthread_mutex_lock (&c->lock);
  }
  if (c->cur)
    snprintf (errmsg, errmsg_size,
              "the credentials from %s expired %lld s ago and cannot be "
              "renewed: %s",
              c->source, (long long)(time (NULL) - c->cur->expiration),
              c->last_error[0] ? c->last_error : "unknown error");
  else
    snprintf (errmsg, errmsg_size, "no credentials from %s: %s", c->source,
              c->last_error[0] ? c->last_error : "unknown error");
  pthread_mutex_unlock (&c->lock);
  return -1;
}

bool
creds_rejected (struct creds *c, const struct creds_set *used)
{
  bool ok;

  if (c->kind == SRC_STATIC)
    return false;
  pthread_mutex_lock (&c->lock);
  while (renewing (c))
    pthread_cond_wait (&c->done, &c->lock);
  if (c->cur != used) {
    pthread_mutex_unlock (&c->lock);
    return true; /* renewed since */
  }
  c->refreshing = true;
  c->refresh_pid = getpid ();
  pthread_mutex_unlock (&c->lock);
  s3cow_debug (http, "credentials: S3 rejected the keys from %s: renewing now",
               c->source);
  renew (c);
  pthread_mutex_lock (&c->lock);
  ok = c->cur != used;
  pthread_mutex_unlock (&c->lock);
  return ok;
}

/* --- The chain ---------------------------------------------------------- */

/* Is url's host one the container endpoint may be on over plain HTTP? */
static bool
container_host_ok (const char *url)
{
  static const char *const ok[] = {
    "http://127.",
    "http://localhost:",
    "http://localhost/",
    "http://[::1]",
    "http://169.254.170.2:",
    "http://169.254.170.2/",
    "http://169.254.170.23:",
    "http://169.254.170.23/",
    "http://[fd00:ec2::23]",
  };
  size_t i;

  if (strncasecmp (url, "https://", 8) == 0)
    return true;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strncasecmp (url, ok[i], strlen (ok[i])) == 0)
      return true;
  return false;
}

/* A provider of kind with its strings (copied; NULL allowed). */
static struct creds *
provider (enum source kind, const char *source, const char *a, const char *b,
          const char *cc)
{
  struct creds *c = creds_alloc (kind, source);

  if (c == NULL)
    return NULL;
  if ((a && (c->a = strdup (a)) == NULL) || (b && (c->b = strdup (b)) == NULL)
      || (cc && (c->c = strdup (cc)) == NULL)) {
    s3cow_log_error ("out of memory");
    creds_unref (c);
    return NULL;
  }
  s3cow_debug (http, "credentials: from %s", source);
  return c;
}

/* The STS endpoint of region (NULL: us-east-1), malloc'd; NULL if out of
 * memory.
 */
static char *
regional_sts (const char *region)
{
  char *url;

  if (asprintf (&url, "https://sts.%s.amazonaws.com/",
                region ? region : "us-east-1")
      == -1)
    return NULL;
  return url;
}

/* A provider of profile name's keys or credential_process (v: its
 * values).  Returns 1 made, 0 when the profile has neither, -1 after
 * logging.
 */
static int
profile_provider (const char *name, char *v[K_N], struct creds **out)
{
  CLEANUP_FREE char *src = NULL;

  if (v[K_AK] || v[K_SK]) {
    if (v[K_AK] == NULL || v[K_SK] == NULL) {
      s3cow_log_error ("profile %s lacks %s", name,
                       v[K_AK] ? "aws_secret_access_key" : "aws_access_key_id");
      return -1;
    }
    if (asprintf (&src, "profile %s", name) == -1) {
      src = NULL;
      goto oom;
    }
    *out = creds_new_static (src, v[K_AK], v[K_SK], v[K_TOKEN]);
    return *out ? 1 : -1;
  }
  if (v[K_PROCESS]) {
    if (asprintf (&src, "credential_process of profile %s", name) == -1) {
      src = NULL;
      goto oom;
    }
    *out = provider (SRC_PROCESS, src, v[K_PROCESS], NULL, NULL);
    return *out ? 1 : -1;
  }
  return 0;

oom:
  s3cow_log_error ("out of memory");
  return -1;
}

/* A provider of profile name's role_arn: STS AssumeRole, signed with the
 * credentials of its source_profile (keys or credential_process, not a
 * role itself).  Returns 0, or -1 after logging.
 */
static int
assume_role_provider (const char *name, char *v[K_N], const char *region,
                      struct creds **out)
{
  char *sv[K_N] = { NULL };
  const char *source = v[K_SOURCE];
  const char *sts = env ("AWS_ENDPOINT_URL_STS");
  CLEANUP_FREE char *url = NULL;
  CLEANUP_FREE char *src = NULL;
  struct creds *inner = NULL;
  int r;

  if (source == NULL) {
    s3cow_log_error ("profile %s: role_arn without source_profile "
                     "(credential_source is not supported)",
                     name);
    return -1;
  }
  r = creds_profile_load (sv, &source);
  if (r == 0)
    s3cow_log_error ("profile %s: its source_profile %s does not exist", name,
                     source);
  else if (r == 1 && sv[K_ROLE]) {
    s3cow_log_error ("profile %s: its source_profile %s has a role_arn too: "
                     "chains of roles are not supported",
                     name, source);
    r = -1;
  } else if (r == 1) {
    r = profile_provider (source, sv, &inner);
    if (r == 0)
      s3cow_log_error ("profile %s: its source_profile %s has no credentials "
                       "(aws_access_key_id or credential_process)",
                       name, source);
  }
  creds_profile_free (sv);
  if (r != 1)
    return -1;
  if (sts == NULL && (sts = url = regional_sts (region)) == NULL)
    goto oom;
  if (asprintf (&src, "role %s of profile %s (source profile %s, STS %s)",
                v[K_ROLE], name, source, sts)
      == -1) {
    src = NULL;
    goto oom;
  }
  *out = provider (SRC_ASSUME_ROLE, src, v[K_ROLE], sts,
                   region ? region : "us-east-1");
  if (*out == NULL) {
    creds_unref (inner);
    return -1;
  }
  (*out)->inner = inner;
  return 0;

oom:
  creds_unref (inner);
  s3cow_log_error ("out of memory");
  return -1;
}

int
creds_chain_new (const char *region, struct creds **out)
{
  char *v[K_N] = { NULL };
  const char *name = NULL;
  CLEANUP_FREE char *src = NULL;
  CLEANUP_FREE char *url = NULL;
  int r;

  *out = NULL;

  /* 3. Web identity. */
  if (env ("AWS_WEB_IDENTITY_TOKEN_FILE") || env ("AWS_ROLE_ARN")) {
    const char *sts = env ("AWS_ENDPOINT_URL_STS");

    if (!env ("AWS_WEB_IDENTITY_TOKEN_FILE") || !env ("AWS_ROLE_ARN")) {
      s3cow_log_error ("%s is set but %s is not",
                       env ("AWS_ROLE_ARN") ? "AWS_ROLE_ARN"
                                            : "AWS_WEB_IDENTITY_TOKEN_FILE",
                       env ("AWS_ROLE_ARN") ? "AWS_WEB_IDENTITY_TOKEN_FILE"
                                            : "AWS_ROLE_ARN");
      return -1;
    }
    if (sts == NULL && (sts = url = regional_sts (region)) == NULL)
      goto oom;
    if (asprintf (&src, "web identity (role %s, STS %s)", env ("AWS_ROLE_ARN"),
                  sts)
        == -1) {
      src = NULL;
      goto oom;
    }
    *out = provider (SRC_WEB_ID, src, env ("AWS_ROLE_ARN"),
                     env ("AWS_WEB_IDENTITY_TOKEN_FILE"), sts);
    return *out ? 0 : -1;
  }

  /* 4. The profile. */
  r = creds_profile_load (v, &name);
  if (r < 0)
    return -1;
  if (r == 0 && env ("AWS_PROFILE")) {
    s3cow_log_error ("profile %s (AWS_PROFILE) is in neither the credentials "
                     "nor the config file",
                     name);
    return -1;
  }
  if (v[K_ROLE]) {
    r = assume_role_provider (name, v, region, out);
    creds_profile_free (v);
    return r;
  }
  r = profile_provider (name, v, out);
  if (r != 0) {
    creds_profile_free (v);
    return r == 1 ? 0 : -1;
  }
  creds_profile_free (v);
  if (env ("AWS_PROFILE")) {
    s3cow_log_error ("profile %s (AWS_PROFILE) has no credentials "
                     "(aws_access_key_id or credential_process)",
                     name);
    return -1;
  }

  /* 5. Container credentials. */
  if (env ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
      || env ("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    const char *rel = env ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");

    if (rel) {
      if (asprintf (&url, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/",
                    rel)
          == -1) {
        url = NULL;
        goto oom;
      }
    } else if ((url = strdup (env ("AWS_CONTAINER_CREDENTIALS_FULL_URI")))
               == NULL)
      goto oom;
    if (!container_host_ok (url)) {
      s3cow_log_error ("AWS_CONTAINER_CREDENTIALS_FULL_URI %s: plain HTTP is "
                       "only allowed to a loopback address or the ECS/EKS "
                       "agent (169.254.170.2, 169.254.170.23)",
                       url);
      return -1;
    }
    if (asprintf (&src, "container endpoint %s", url) == -1) {
      src = NULL;
      goto oom;
    }
    *out = provider (SRC_CONTAINER, src, url,
                     env ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
                     env ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
                         ? NULL
                         : env ("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    return *out ? 0 : -1;
  }

  /* 6. Instance metadata. */
  {
    const char *dis = env ("AWS_EC2_METADATA_DISABLED");
    const char *base = env ("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    /* IMDSv1 only when asked for: the SDKs fall back to it unless this is
     * true; s3cow only when it is false.
     */
    const char *v1 = env ("AWS_EC2_METADATA_V1_DISABLED");
    bool v1_allowed = v1 && strcasecmp (v1, "false") == 0;
    size_t n;

    if (dis && strcasecmp (dis, "true") == 0)
      return 0;
    if ((url = strdup (base ? base : "http://169.254.169.254")) == NULL)
      goto oom;
    n = strlen (url);
    while (n > 0 && url[n - 1] == '/')
      url[--n] = '\0';
    if (asprintf (&src, "instance metadata at %s%s", url,
                  v1_allowed ? " (IMDSv1 allowed)" : "")
        == -1) {
      src = NULL;
      goto oom;
    }
    *out = provider (SRC_IMDS, src, url, v1_allowed ? "v1" : NULL, NULL);
    return *out ? 0 : -1;
  }

oom:
  s3cow_log_error ("out of memory");
  return -1;
}
