/* s3cow command: a disk's lease object, for people to read.
 *
 * The lease format belongs to the plugin (lease.c, format.h).  The command
 * shows it as text and needs to know one thing only: whether a server says
 * it holds the lease (a "state=released" line says it does not).  It does
 * not judge whether a held lease has expired: that would compare clocks
 * across machines (see DESIGN.md, Lease lock).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "log.h"
#include "names.h"

#define LEASE_VIEW_MAX 4096

/* Has t a line "state=released"? */
static bool
says_released (const char *t)
{
  const char *line = t;

  while (line) {
    size_t len = strcspn (line, "\n");

    if (len == 14 && memcmp (line, "state=released", 14) == 0)
      return true;
    line = strchr (line, '\n');
    if (line)
      line++;
  }
  return false;
}

int
lease_view (struct store *store, const char *disk, char **text, bool *held)
{
  CLEANUP_FREE void *data = NULL;
  char key[KEY_MAX_LEN], *t;
  size_t len, i;
  int r;

  key_lease (key, disk);
  r = store_get_alloc (store, key, LEASE_VIEW_MAX, &data, &len, NULL);
  if (r != STORE_OK)
    return r;
  t = malloc (len + 1);
  if (t == NULL) {
    s3cow_log_error ("malloc: %m");
    return STORE_PERMANENT;
  }
  /* Printable ASCII and newlines only: it came from the network. */
  for (i = 0; i < len; i++) {
    unsigned char c = ((const unsigned char *)data)[i];
    t[i] = c == '\n' || (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  while (len > 0 && t[len - 1] == '\n')
    len--;
  t[len] = '\0';
  *held = !says_released (t);
  *text = t;
  return STORE_OK;
}
