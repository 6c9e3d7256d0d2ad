/* s3cow: the local disk tier (cache-dir=): clean chunks kept in files of a
 * local directory, below the memory cache and above the store.
 *
 * Called only by cache.c.  Chunks are immutable and named by their content
 * (SHA-256), so the tier is a plain cache keyed by hash: one file
 * DIR/<sha256-hex> per chunk, shared by every disk and fork that holds it,
 * verified against its name on every read.  It never makes a request fail:
 * a file that is missing, short or wrong is a miss (logged and deleted when
 * wrong), and a write that fails is logged once per cause and dropped.
 *
 * Thread-safe.  One internal lock protects the index; no file I/O is done
 * while holding it.
 */
#ifndef S3COW_DISKTIER_H
#define S3COW_DISKTIER_H

#include <stdbool.h>
#include <stdint.h>

#include "names.h"

struct disktier;

/* Open the tier in dir (created if missing, one level), holding at most
 * max_bytes of chunk files.  Checks that a file can be created there and
 * rebuilds the index from the files already there (see disktier.c).
 * NULL after logging one line naming dir and the reason.
 */
struct disktier *disktier_open (const char *dir, uint64_t max_bytes);

/* Free the index (the files stay).  No call may be running. */
void disktier_close (struct disktier *dt);

/* True if the index holds a complete file for hash (a hint: the file may
 * still turn out missing or bad when read).
 */
bool disktier_has (struct disktier *dt, const uint8_t *hash);

/* Read the chunk with this hash, size bytes, into buf.  Returns true if buf
 * now holds it, checked against hash; false on a miss (not there, or a
 * file that was missing, short or corrupt: that one is deleted and logged).
 * buf is undefined after a miss.
 */
bool disktier_get (struct disktier *dt, const uint8_t *hash, void *buf,
                   uint32_t size);

/* Store buf (size bytes, whose SHA-256 is hash: the caller vouches for it)
 * as a file of the tier, evicting the least recently used files to stay
 * under max_bytes.  Never fails the caller: errors are logged once per
 * cause; after many in a row the tier stops writing (reads go on).  A
 * file system full before max_bytes (ENOSPC, EDQUOT) is no such error:
 * max_bytes drops to the bytes there, logged, and the write is tried once
 * more after evicting to make room.
 */
void disktier_put (struct disktier *dt, const uint8_t *hash, const void *buf,
                   uint32_t size);

/* Bytes of chunk files the index counts, and max_bytes. */
void disktier_gauges (struct disktier *dt, uint64_t *bytes, uint64_t *limit);

#endif /* S3COW_DISKTIER_H */
