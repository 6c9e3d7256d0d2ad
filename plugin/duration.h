/* s3cow: durations as users write them: "30", "30s", "500ms", "2m", "1h",
 * "1d".
 *
 * The plugin's parameters (timeout=, retry-time=, commit-interval=,
 * gc-grace=, lease=, lease-wait=) and the s3cow command's options
 * (--timeout, --retry-time, --grace) read them here, so that both take
 * the same forms.  Pure: no logging, no state.
 */
#ifndef S3COW_DURATION_H
#define S3COW_DURATION_H

/* Parse s: a non-negative decimal number, then nothing (seconds) or one
 * unit of ms, s, m, h, d.  *seconds gets the value in seconds.  Returns 0,
 * or -1 (s is not such a duration, or is out of the range of a double).
 */
int duration_parse (const char *s, double *seconds);

#endif /* S3COW_DURATION_H */
