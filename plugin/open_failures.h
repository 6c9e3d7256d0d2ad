/* s3cow: why the last open of an export failed, for the export list.
 *
 * nbdkit 1.32 answers an NBD client whose open failed (NBD_OPT_GO or
 * NBD_OPT_INFO) with NBD_REP_ERR_UNKNOWN and no message, whatever the
 * plugin said and whatever errno it set: nbdinfo then reports "No such
 * file or directory", qemu "Requested export not available".  The
 * reason is in the server's log; these notes also put it in the
 * export's description, which NBD_OPT_LIST carries to the client
 * (nbdinfo --list, which nbdinfo suggests after such a failure).
 *
 * A bounded table (the oldest note goes first); thread-safe (its own
 * lock, never held across anything but the table).
 */
#ifndef S3COW_OPEN_FAILURES_H
#define S3COW_OPEN_FAILURES_H

/* Remember why export could not be opened (why: one line, no secret);
 * why NULL or "" forgets the export's note (it opened).
 */
void open_failure_note (const char *export, const char *why);

/* "could not be opened at HH:MM:SS UTC: WHY" for export, malloc'd, or
 * NULL if there is no note (or out of memory).
 */
char *open_failure_describe (const char *export);

#endif /* S3COW_OPEN_FAILURES_H */
