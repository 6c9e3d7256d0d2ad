/* s3cow command: diff.
 *
 * Arguments and output only: plugin/history.c reads the states named
 * (DISK, DISK@SNAP or DISK@TIME), plugin/catalog_diff.c compares their
 * maps.
 *
 *   size OLDSIZE NEWSIZE     (only when the sizes differ)
 *   OFFSET LENGTH            (one line per changed range, in bytes)
 *
 * --json: { "old": ..., "new": ..., "chunk_size": N, "old_size": N,
 * "new_size": N, "changed_bytes": N, "ranges": [ { "offset": N,
 * "length": N }, ... ] }.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "catalog_diff.h"
#include "cleanup.h"
#include "cli.h"
#include "history.h"
#include "log.h"

static void
print_text (const struct head *old, const struct head *new,
            const struct catalog_range *ranges, size_t n)
{
  size_t i;

  if (old->size != new->size)
    printf ("size %" PRIu64 " %" PRIu64 "\n", old->size, new->size);
  for (i = 0; i < n; i++)
    printf ("%" PRIu64 " %" PRIu64 "\n", ranges[i].offset, ranges[i].length);
}

/* Add key: n (a JSON integer) to obj.  0, or -1 on ENOMEM. */
static int
add_u64 (json_object *obj, const char *key, uint64_t n)
{
  json_object *v = json_object_new_uint64 (n);

  return v && json_object_object_add (obj, key, v) == 0 ? 0 : -1;
}

static int
add_string (json_object *obj, const char *key, const char *s)
{
  json_object *v = json_object_new_string (s);

  return v && json_object_object_add (obj, key, v) == 0 ? 0 : -1;
}

static int
print_json (const char *old_label, const struct head *old,
            const char *new_label, const struct head *new,
            const struct catalog_range *ranges, size_t n)
{
  json_object *root = json_object_new_object ();
  json_object *list = json_object_new_array ();
  uint64_t changed = 0;
  size_t i;
  int status = -1;

  if (root == NULL || list == NULL) {
    json_object_put (list);
    goto out;
  }
  for (i = 0; i < n; i++) {
    json_object *r = json_object_new_object ();

    if (r == NULL || json_object_array_add (list, r) != 0) {
      json_object_put (r);
      json_object_put (list);
      goto out;
    }
    if (add_u64 (r, "offset", ranges[i].offset) == -1
        || add_u64 (r, "length", ranges[i].length) == -1) {
      json_object_put (list);
      goto out;
    }
    changed += ranges[i].length;
  }
  if (add_string (root, "old", old_label) == -1
      || add_string (root, "new", new_label) == -1
      || add_u64 (root, "chunk_size", new->chunk_size) == -1
      || add_u64 (root, "old_size", old->size) == -1
      || add_u64 (root, "new_size", new->size) == -1
      || add_u64 (root, "changed_bytes", changed) == -1
      || json_object_object_add (root, "ranges", list) != 0) {
    json_object_put (list);
    goto out;
  }
  printf ("%s\n", json_object_to_json_string_ext (
                      root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
  status = 0;

out:
  json_object_put (root);
  if (status == -1)
    s3cow_log_error ("out of memory");
  return status;
}

int
cmd_diff (struct cli *cli, int argc, char **argv)
{
  CLEANUP_FREE struct catalog_range *ranges = NULL;
  char old_label[NAME_REF_MAX_LEN], new_label[NAME_REF_MAX_LEN];
  char key[KEY_MAX_LEN];
  struct name_ref old_ref, new_ref;
  struct head old, new;
  struct store *store;
  size_t n;

  if (name_parse_ref (argv[1], &old_ref) == -1
      || name_parse_ref (argv[2], &new_ref) == -1)
    return EXIT_USAGE;
  name_ref_label (&old_ref, old_label);
  name_ref_label (&new_ref, new_label);
  store = cli_store (cli);
  if (store == NULL)
    return EXIT_FAIL;
  if (history_read_ref_logged (store, &old_ref, false, NULL, &old, key) == -1
      || history_read_ref_logged (store, &new_ref, false, NULL, &new, key)
             == -1)
    return EXIT_FAIL;
  if (catalog_diff (store, &old, old_label, &new, new_label, &ranges, &n) == -1)
    return EXIT_FAIL;
  if (cli->json)
    return print_json (old_label, &old, new_label, &new, ranges, n) == 0
               ? EXIT_OK
               : EXIT_FAIL;
  print_text (&old, &new, ranges, n);
  return EXIT_OK;
}
