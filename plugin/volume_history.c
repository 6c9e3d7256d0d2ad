/* s3cow: the write side of a disk's history (see history.h, volume.h).
 *
 * Cost: a commit of a disk whose window is not 0 writes one more small
 * object, the kept copy of the head it wrote (the head's size: a few
 * hundred bytes); the first commit of a server's session (or a claim)
 * writes the kept copy of the head it replaces too, in case the server
 * that committed that head stopped before it could.  Listing, reading
 * and deleting kept heads is s3cow log's, DISK@TIME's and gc's.
 *
 * Changing the window writes the head: it takes the disk's lease for that
 * moment, so it is refused while a server writes the disk, and a server
 * that opens the disk afterwards reads the new window.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "cleanup.h"
#include "history.h"
#include "lease.h"
#include "log.h"
#include "stats.h"
#include "volume.h"

/* Tries of the window's head write against a head that changed after we
 * took the lease (a previous holder's last commit landing).
 */
#define SET_MAX_TRIES 5

/* The lease taken to change a disk's settings: as short as a server's. */
#define SET_LEASE_DURATION 30

int
volume_keep_head (struct store *store, const char *disk,
                  const struct head *head, const struct crypto *c)
{
  CLEANUP_FREE void *data = NULL;
  char key[KEY_MAX_LEN], mac_key[KEY_MAX_LEN];
  size_t len;
  int r;

  if (head->encrypted && c == NULL) {
    s3cow_log_error ("%s: the kept head of an encrypted disk needs its key",
                     disk);
    return -1;
  }
  key_history (key, disk, head->generation, head->committed);
  history_mac_key (key, mac_key);
  if (head_encode (head, c, mac_key, &data, &len) == -1) {
    s3cow_log_error ("%s: cannot encode the kept head: %m", disk);
    return -1;
  }
  /* A plain PUT: every writer of this key writes the same head. */
  r = store_put (store, key, data, len, NULL, NULL);
  stats_inc (STAT_HISTORY_KEEPS);
  if (r != STORE_OK) {
    s3cow_log_error ("%s: cannot keep the head of generation %" PRIu64 " (%s)",
                     disk, head->generation, key);
    return -1;
  }
  return 0;
}

int
volume_set_history (struct store *store, const char *disk, uint64_t seconds,
                    const struct crypto *c)
{
  CLEANUP_FREE struct volume_head *vh = calloc (1, sizeof *vh);
  CLEANUP_FREE void *raw = NULL;
  char instance[2 * HEAD_ID_LEN + 1];
  uint8_t id[HEAD_ID_LEN];
  struct lease *lease;
  size_t raw_len;
  int tries, r, i;

  if (vh == NULL) {
    s3cow_log_error ("calloc: %m");
    return -1;
  }
  key_head (vh->key, disk);
  vh->crypto = c;
  r = catalog_read_key (store, vh->key, &vh->head, NULL, &raw, &raw_len);
  if (r == STORE_NOT_FOUND)
    s3cow_log_error ("disk %s does not exist", disk);
  if (r != STORE_OK)
    return -1;
  if (vh->head.encrypted && c == NULL) {
    s3cow_log_error ("disk %s is encrypted: changing its history window "
                     "needs its key (--encryption-key-file)",
                     disk);
    return -1;
  }
  if (history_check_head (vh->key, disk, c, &vh->head, raw, raw_len)
      != STORE_OK)
    return -1;
  volume_new_id (id);
  for (i = 0; i < HEAD_ID_LEN; i++)
    sprintf (instance + 2 * i, "%02x", id[i]);
  lease = lease_acquire (store,
                         &(struct lease_config){ .disk = disk,
                                                 .instance = instance,
                                                 .duration = SET_LEASE_DURATION,
                                                 .wait = 0 });
  if (lease == NULL) {
    s3cow_log_error ("cannot change the history window of disk %s: stop the "
                     "server that writes it first",
                     disk);
    return -1;
  }

  /* Under the lease, a head write like a server's claim: If-Match on the
   * head read now, so that a previous holder's commit cannot land after.
   */
  r = -1;
  for (tries = 0; tries < SET_MAX_TRIES; tries++) {
    struct head next;
    int st;

    st = history_read_key (store, vh->key, disk, c, &vh->head, vh->etag);
    if (st != STORE_OK) {
      s3cow_log_error ("cannot read disk %s", disk);
      break;
    }
    next = vh->head;
    next.has_history = true;
    next.history = seconds;
    next.generation++;
    next.committed = time (NULL);
    st = volume_commit_head (store, vh, &next);
    if (st == 0) {
      r = 0;
      break;
    }
    if (st != VOLUME_CHANGED)
      break;
  }
  if (r == -1)
    s3cow_log_error ("the history window of disk %s was not changed", disk);
  /* A head write whose outcome is unknown may land yet: let the lease
   * expire, so that the next server claims the head.
   */
  if (vh->stray)
    lease_drop (lease);
  else
    lease_release (lease);
  volume_head_clear (vh);
  return r;
}
