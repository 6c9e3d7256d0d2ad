/* s3cow: resize a disk (see volume.h).
 *
 * A resize is a commit made without a server: a new head, compare-and-swap
 * (If-Match) on the etag of the head it was computed from, with a new op
 * id (volume_commit_head, which also keeps the old head's copy for the
 * history window).  A server that opened the disk meanwhile
 * and commits first makes the resize fail; a resize that lands first
 * fences that server's commits (disk_commit.c: its head CAS fails).  Either way
 * one of them fails and nothing is half done.  Before that, a held lease
 * refuses the resize: a server serves the size it read at open, and a
 * client that saw one size must reconnect to see another.
 *
 * Growing changes the size alone: the maps stay (a map of fewer chunks
 * than its head is fine, format.h), and the new chunks read as zeros.
 *
 * Shrinking writes one full map of the chunks below the new end, so that
 * the dropped chunks are named by no map of the head any more (gc can take
 * them, unless a snapshot or fork names them) and a later grow reads zeros
 * there.  When the new end falls inside a chunk, that chunk's bytes past
 * the end are zeroed in a new chunk object: every chunk object of a disk
 * holds zeros past the end of the disk (disk.c writes it so), and a later
 * grow must read zeros there, not the old data.  Chunks are addressed by
 * content, so the old object stays for whoever else names it.
 *
 * The new map and tail chunk are written just before the head that names
 * them, well within any gc grace period.
 *
 * An encrypted disk is resized with its key: the new head and map are
 * authenticated with it, and the new tail chunk is sealed under a keyed
 * id like any chunk of the disk.  Without it the disk is left alone.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "chunk_codec.h"
#include "chunkmap.h"
#include "chunks.h"
#include "cleanup.h"
#include "history.h"
#include "log.h"
#include "volume.h"

/* The entry of chunk idx in entries (sorted by idx), or NULL. */
static struct map_entry *
find_entry (struct map_entry *entries, size_t n, uint64_t idx)
{
  size_t lo = 0, hi = n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (entries[mid].idx == idx)
      return &entries[mid];
    if (entries[mid].idx < idx)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* Zero the bytes of chunk e past end_in_chunk into a new chunk object,
 * and point e at it (an all-zero hash if nothing else is left).
 */
static int
zero_tail (struct store *store, const struct head *h, const char *disk,
           const struct crypto *c, struct map_entry *e, uint32_t end_in_chunk)
{
  const struct chunk_compression compression = CHUNK_COMPRESSION_DEFAULT;
  uint8_t hash[HASH_LEN], *buf = NULL, *scratch = NULL;
  struct chunks *ch;
  int r = -1;

  ch = chunks_new (store, h->chunk_size, &compression, c);
  if (ch == NULL)
    return -1;
  buf = malloc (h->chunk_size);
  scratch = malloc (chunks_scratch_len (ch));
  if (buf == NULL || scratch == NULL) {
    s3cow_log_error ("malloc: %m");
    goto out;
  }
  if (chunks_fetch (ch, e->hash, buf, scratch, disk, e->idx) == -1) {
    s3cow_log_error ("disk %s: cannot read chunk %" PRIu64 ", which the new "
                     "end cuts: nothing was resized",
                     disk, e->idx);
    goto out;
  }
  memset (buf + end_in_chunk, 0, h->chunk_size - end_in_chunk);
  if (chunks_persist (ch, buf, e->hash, hash, scratch) == -1) {
    s3cow_log_error ("disk %s: cannot write chunk %" PRIu64 ": nothing was "
                     "resized",
                     disk, e->idx);
    goto out;
  }
  memcpy (e->hash, hash, HASH_LEN);
  r = 0;

out:
  free (buf);
  free (scratch);
  chunks_free (ch);
  return r;
}

/* Make h, the head to be written, hold only the chunks below its new size
 * (see the top): one full map, written now.
 */
static int
cut_maps (struct store *store, const struct head *old, struct head *h,
          const char *disk, const struct crypto *c)
{
  CLEANUP_FREE struct map_entry *entries = NULL;
  CLEANUP_FREE void *map = NULL;
  const uint64_t nchunks = head_nchunks (h);
  const uint32_t end_in_chunk = h->size % h->chunk_size;
  char key[KEY_MAX_LEN], bad[KEY_MAX_LEN];
  struct map_entry *tail;
  size_t n, kept, i, map_len;
  int r;

  r = catalog_resolve (store, old, c, &entries, &n, bad);
  if (r != STORE_OK) {
    s3cow_log_error ("disk %s: cannot read its map %s: nothing was resized",
                     disk, bad);
    return -1;
  }
  for (kept = 0; kept < n && entries[kept].idx < nchunks; kept++)
    ;
  tail = end_in_chunk ? find_entry (entries, kept, nchunks - 1) : NULL;
  if (tail && zero_tail (store, h, disk, c, tail, end_in_chunk) == -1)
    return -1;
  /* The tail may have become zeros: a full map lists no zero chunk. */
  for (i = n = 0; i < kept; i++)
    if (!hash_is_zero (entries[i].hash))
      entries[n++] = entries[i];

  volume_new_map_key (key, disk, h->generation);
  if (map_encode (entries, n, true, h->chunk_size, nchunks, c, key, &map,
                  &map_len)
      == -1) {
    s3cow_log_error ("disk %s: cannot encode its new map: %m", disk);
    return -1;
  }
  if (store_put (store, key, map, map_len, NULL, NULL) != STORE_OK) {
    s3cow_log_error ("disk %s: cannot write its new map: nothing was resized",
                     disk);
    return -1;
  }
  s3cow_debug (commit, "%s: shrunk to %" PRIu64 " chunks, %zu of them kept",
               disk, nchunks, n);
  h->nmaps = 1;
  strcpy (h->maps[0], key);
  return 0;
}

/* Refuse while a server holds the disk's lease. */
static int
check_lease (struct store *store, const char *disk)
{
  CLEANUP_FREE char *lease = NULL;
  bool held = false;
  int r;

  r = catalog_lease_view (store, disk, &lease, &held);
  if (r == STORE_NOT_FOUND || (r == STORE_OK && !held))
    return 0;
  if (r != STORE_OK) {
    s3cow_log_error ("cannot read the lease of disk %s: not resizing it", disk);
    return -1;
  }
  s3cow_log_error ("disk %s is in use: a server holds its lease:\n%s\nstop "
                   "that server first (a server serves the size it opened "
                   "the disk with), resize, then start it again; if no "
                   "server runs any more, break the lease with s3cow unlock "
                   "%s --force",
                   disk, lease, disk);
  return -1;
}

int
volume_resize (struct store *store, const char *disk, uint64_t size,
               bool shrink, const struct crypto *c, uint64_t *old_size)
{
  CLEANUP_FREE struct volume_head *vh = calloc (1, sizeof *vh);
  CLEANUP_FREE void *raw = NULL;
  struct head h;
  size_t raw_len;
  int r;

  if (vh == NULL) {
    s3cow_log_error ("calloc: %m");
    return -1;
  }
  key_head (vh->key, disk);
  vh->crypto = c;
  r = catalog_read_head (store, disk, "", &vh->head, vh->etag, &raw, &raw_len);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("disk %s does not exist", disk);
  else if (r != STORE_OK)
    s3cow_log_error ("cannot read disk %s", disk);
  if (r != STORE_OK)
    return -1;
  if (vh->head.encrypted && c == NULL) {
    s3cow_log_error ("disk %s is encrypted: resizing it needs its key "
                     "(--encryption-key-file): nothing was resized",
                     disk);
    return -1;
  }
  if (history_check_head (vh->key, disk, c, &vh->head, raw, raw_len)
      != STORE_OK)
    return -1;
  *old_size = vh->head.size;
  if (size == vh->head.size)
    return 0;
  if (size < vh->head.size && !shrink) {
    s3cow_log_error ("disk %s: %" PRIu64 " bytes is smaller than its size, "
                     "%" PRIu64 ": give --shrink to drop the data past the "
                     "new end (shrink the filesystem and partitions first)",
                     disk, size, vh->head.size);
    return -1;
  }
  if (check_lease (store, disk) == -1)
    return -1;

  h = vh->head;
  h.size = size;
  h.generation++;
  h.committed = time (NULL);
  if (size < vh->head.size && cut_maps (store, &vh->head, &h, disk, c) == -1)
    return -1;
  /* A commit of no data: the head's kept copy (history) comes with it. */
  r = volume_commit_head (store, vh, &h);
  volume_head_clear (vh);
  if (r == VOLUME_CHANGED) {
    s3cow_log_error ("disk %s changed while it was being resized (a server "
                     "committed to it, or another command changed it): "
                     "nothing was resized; try again",
                     disk);
    return -1;
  }
  if (r != 0) {
    s3cow_log_error ("cannot write the head of disk %s: it may or may not "
                     "be resized (s3cow info %s shows its size)",
                     disk, disk);
    return -1;
  }
  return 0;
}
