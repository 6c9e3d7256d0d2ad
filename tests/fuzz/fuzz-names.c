/* s3cow fuzzing: export names and the bucket keys built from them
 * (names.h), the only way from a client's export name to a key.
 *
 * The input is an export name (cut at its first NUL, as NBD names have
 * none).  Checked besides memory safety: a refused name logs why; an
 * accepted one splits into valid names, and every key built from it starts
 * with disks/DISK/, ends as it should (no truncation), has no segment "."
 * or ".." nor an empty one, no byte outside [A-Za-z0-9._/-]; a head naming
 * the disk's own map key is accepted by head_decode (bug
 * "dotdot-name": a disk whose name holds ".." can be created and written,
 * but its first commit's head is then refused); name_valid agrees with
 * name_parse_export for names without '@'; DISK@TIME (name_parse_ref)
 * prints back as given.
 */
#include <config.h>

#include <stdbool.h>
#include <string.h>

#include "format.h"
#include "fuzz.h"
#include "names.h"

static void
check_key (const char *key, const char *disk, const char *suffix)
{
  size_t dl = strlen (KEY_DISKS_PREFIX), n = strlen (key), sl;
  const char *p;

  FUZZ_ASSERT (n < KEY_MAX_LEN - 1); /* never cut by snprintf */
  FUZZ_ASSERT (strncmp (key, KEY_DISKS_PREFIX, dl) == 0);
  FUZZ_ASSERT (strncmp (key + dl, disk, strlen (disk)) == 0);
  FUZZ_ASSERT (key[dl + strlen (disk)] == '/');
  sl = strlen (suffix);
  FUZZ_ASSERT (n >= sl && strcmp (key + n - sl, suffix) == 0);
  for (p = key; *p;) {
    size_t seg = strcspn (p, "/");

    FUZZ_ASSERT (seg > 0);
    FUZZ_ASSERT (!(seg == 1 && p[0] == '.'));
    FUZZ_ASSERT (!(seg == 2 && p[0] == '.' && p[1] == '.'));
    p += seg;
    if (*p == '/')
      p++;
  }
  for (p = key; *p; p++)
    FUZZ_ASSERT ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                 || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'
                 || *p == '-' || *p == '/');
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char disk[NAME_MAX_LEN + 1], snap[NAME_MAX_LEN + 1];
  char key[KEY_MAX_LEN], suffix[KEY_MAX_LEN];
  char *name = strndup ((const char *)data, size);
  unsigned long errors = fuzz_log_errors;
  int r;

  FUZZ_ASSERT (name != NULL);
  /* DISK@TIME: an accepted time is printed back exactly as given, and
   * its disk's kept heads' keys stay under disks/DISK/history/.
   */
  {
    struct name_ref ref;
    char label[NAME_REF_MAX_LEN];

    if (name_parse_ref (name, &ref) == 0 && ref.at_time) {
      FUZZ_ASSERT (name_valid (ref.disk) && ref.snap[0] == '\0');
      name_ref_label (&ref, label);
      FUZZ_ASSERT (strcmp (label, name) == 0);
      key_history (key, ref.disk, UINT64_MAX, (uint64_t)ref.time);
      snprintf (suffix, sizeof suffix, "/history/ffffffffffffffff-%012lld",
                (long long)ref.time);
      check_key (key, ref.disk, suffix);
    }
  }
  r = name_parse_export (name, disk, snap);
  if (strchr (name, '@') == NULL)
    FUZZ_ASSERT ((r == 0) == name_valid (name));
  if (r == -1) {
    FUZZ_ASSERT (fuzz_log_errors > errors);
    free (name);
    return 0;
  }
  FUZZ_ASSERT (name_valid (disk));
  FUZZ_ASSERT (snap[0] == '\0' || name_valid (snap));
  FUZZ_ASSERT (strlen (disk) + (snap[0] ? 1 + strlen (snap) : 0)
               == strlen (name));

  key_head (key, disk);
  check_key (key, disk, "/head");
  key_lease (key, disk);
  check_key (key, disk, "/lease");
  key_map (key, disk, UINT64_MAX, "0123456789abcdef");
  check_key (key, disk, "/maps/ffffffffffffffff-0123456789abcdef");

  /* What a commit writes, the next open must read. */
  {
    struct head h = { .size = 1 << 20, .chunk_size = 1 << 20, .nmaps = 1 };
    void *obj;
    size_t len;

    memcpy (h.maps[0], key, strlen (key) + 1);
    snprintf (h.parent, sizeof h.parent, "%s", name);
    FUZZ_ASSERT (head_encode (&h, NULL, NULL, &obj, &len) == 0);
    FUZZ_ASSERT (head_decode ("disks/fuzz/head", obj, len, &h) == 0);
    free (obj);
  }
  if (snap[0]) {
    key_snap (key, disk, snap);
    snprintf (suffix, sizeof suffix, "/snaps/%s", snap);
    check_key (key, disk, suffix);
  }
  free (name);
  return 0;
}
