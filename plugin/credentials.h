/* s3cow: where S3 credentials come from, and keeping them fresh.
 *
 * The AWS SDKs' chain, first found wins (store_config.c walks it):
 *
 *   1. parameters (access-key=, secret-key=, session-token=)
 *   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 *      (+ AWS_SESSION_TOKEN)
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      (+ AWS_ROLE_SESSION_NAME) through STS AssumeRoleWithWebIdentity,
 *      at AWS_ENDPOINT_URL_STS or https://sts.REGION.amazonaws.com
 *   4. the profile (AWS_PROFILE or "default") of the shared credentials
 *      file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) and of the
 *      config file (AWS_CONFIG_FILE or ~/.aws/config): keys, or a
 *      credential_process command printing JSON (Version 1)
 *   5. container credentials (ECS, EKS Pod Identity):
 *      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN
 *   6. EC2 instance metadata, IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT,
 *      AWS_EC2_METADATA_DISABLED)
 *
 * A provider (struct creds) holds the current credential set.  Sets are
 * immutable and reference-counted: a request signs with the set it took
 * (creds_get), so that a renewal never changes a request in flight.
 *
 * Renewal of temporary credentials (those with an Expiration):
 *   - creds_get starts a background renewal once the set is within its
 *     margin of expiring: a quarter of its life or 5 minutes, whichever
 *     is more, but at most half its life (so that a short-lived set is
 *     used for half its life before it is renewed);
 *   - creds_get never returns a set past its Expiration: if the current
 *     one has expired, it renews in the caller (or waits for the renewal
 *     under way) and fails with the reason if that fails too;
 *   - a failed background renewal is retried with backoff (5 s doubling up
 *     to 60 s) while the current set is still valid;
 *   - creds_rejected: after S3 answered ExpiredToken or InvalidAccessKeyId
 *     to a request signed with a set, renew once, now.
 *
 * Thread-safe.  The renewal thread is started on demand (so a fork before
 * it, as nbdkit's, loses nothing) and joined when the provider is freed.
 * Secrets never appear in a message.
 */
#ifndef S3COW_CREDENTIALS_H
#define S3COW_CREDENTIALS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One set of keys.  Read-only once made; free with creds_set_unref. */
struct creds_set {
  atomic_uint refs;
  char *access_key;
  char *secret_key;
  char *session_token; /* NULL: none */
  time_t expiration;   /* 0: never (static keys) */
};

struct creds;

/* A provider of fixed keys (parameters, environment, a profile's keys).
 * source names it in debug lines ("parameters", ...).  NULL after logging.
 */
struct creds *creds_new_static (const char *source, const char *access_key,
                                const char *secret_key,
                                const char *session_token);

/* Steps 3 to 6 of the chain, for a region (the STS endpoint's).  Looks at
 * the environment and the files only: nothing is fetched before the first
 * creds_get.  Returns 0 with *out a provider, or NULL when no source is
 * configured (then requests are anonymous); -1 after logging (an
 * unreadable file, a profile asked for that does not exist, ...).
 */
int creds_chain_new (const char *region, struct creds **out);

/* Is this the instance metadata provider, the chain's last resort? */
bool creds_is_imds (const struct creds *c);

/* A new reference. */
struct creds *creds_ref (struct creds *c);
/* Drop a reference; the last one joins the renewal thread and frees. */
void creds_unref (struct creds *c);

/* The current set (a new reference), valid now.  Returns 0, or -1 with
 * errmsg saying why there is none (expired and the renewal failed).
 */
int creds_get (struct creds *c, struct creds_set **set, char *errmsg,
               size_t errmsg_size);

/* S3 rejected a request signed with used as expired or unknown: renew now
 * (once per set), unless that was done already.  Returns true when a set
 * other than used is now current (retry the request), false when not
 * (fixed keys, or the renewal failed: logged).
 */
bool creds_rejected (struct creds *c, const struct creds_set *used);

void creds_set_unref (struct creds_set *set);

/* The value of key (e.g. "region") in the profile of the config file, as
 * the chain reads it.  Returns 1 with *value (malloc'd), 0 when not set,
 * -1 after logging.
 */
int creds_profile_value (const char *key, char **value);

/* Parse an STS AssumeRoleWithWebIdentity answer (or its ErrorResponse:
 * then -1 with its Code and Message in errmsg).  Bounded: never reads
 * outside [xml, xml + len).  Returns 0 with *set, or -1.
 */
int creds_parse_sts (const char *xml, size_t len, struct creds_set **set,
                     char *errmsg, size_t errmsg_size);

/* Parse a credentials JSON document: the container endpoint's and
 * instance metadata's (AccessKeyId, SecretAccessKey, Token, Expiration) or
 * credential_process's (Version 1, SessionToken).  Returns 0 or -1.
 */
int creds_parse_json (const char *json, size_t len, bool process,
                      struct creds_set **set, char *errmsg, size_t errmsg_size);

#endif /* S3COW_CREDENTIALS_H */
