/* s3cow: logging that works inside nbdkit and in the command-line tools.
 *
 * The core (store, cache, disk, ...) logs only through these functions.  The
 * plugin links log_nbdkit.c (nbdkit_error / nbdkit_debug); the s3cow command
 * and the unit tests link log_stderr.c.
 *
 * Never pass a secret (secret key, session token, signature) to these.
 */
#ifndef S3COW_LOG_H
#define S3COW_LOG_H

/* Debug flags: nbdkit sets them with -D s3cow.NAME=1 (the plugin exports
 * them), the s3cow command with --debug.
 */
extern int s3cow_debug_http;   /* every S3 request: method, key, status, time */
extern int s3cow_debug_cache;  /* loads, evictions, write-back */
extern int s3cow_debug_commit; /* flush and commit steps */
extern int s3cow_debug_lease;  /* lease acquire / renew / release */
extern int s3cow_debug_inflight; /* requests kept in flight, as they change */

void s3cow_log_error (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));
void s3cow_log_debug (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));
/* Something the user asked for but should know is unsafe: shown without
 * any debug flag, and not an error.
 */
void s3cow_log_warning (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));

/* The last error this thread logged (s3cow_log_error), "" if none since
 * s3cow_log_forget_error: the plugin hands it to NBD clients as it can
 * (nbdkit 1.32 sends them no message when an open fails).
 */
const char *s3cow_log_last_error (void);
void s3cow_log_forget_error (void);

#define s3cow_debug(flag, fmt, ...)                                            \
  do {                                                                         \
    if (s3cow_debug_##flag)                                                    \
      s3cow_log_debug (fmt, ##__VA_ARGS__);                                    \
  } while (0)

#endif /* S3COW_LOG_H */
