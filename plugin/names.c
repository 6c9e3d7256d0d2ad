/* s3cow: names and bucket keys (see names.h). */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "names.h"

bool
name_valid (const char *name)
{
  size_t i, len = strlen (name);

  if (len == 0 || len > NAME_MAX_LEN || name[0] == '.' || name[0] == '-'
      || strstr (name, "..") != NULL)
    return false;
  for (i = 0; i < len; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

bool
name_valid_label (const char *label)
{
  char part[NAME_MAX_LEN + 1];
  const char *at = strchr (label, '@');
  size_t len = at ? (size_t)(at - label) : strlen (label);

  if (len > NAME_MAX_LEN)
    return false;
  memcpy (part, label, len);
  part[len] = '\0';
  return name_valid (part) && (at == NULL || name_valid (at + 1));
}

bool
name_valid_text (const char *text)
{
  size_t i;

  for (i = 0; text[i]; i++)
    if (text[i] < 0x20 || text[i] >= 0x7f)
      return false;
  return i > 0;
}

void
name_printable (const char *text, char *out, size_t size)
{
  size_t i;

  for (i = 0; text[i] && i + 1 < size; i++)
    out[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
  out[i] = '\0';
}

int
name_parse_export (const char *export, char *disk, char *snap)
{
  char shown[2 * NAME_MAX_LEN + 2];

  const char *at = strchr (export, '@');
  size_t disk_len = at ? (size_t)(at - export) : strlen (export);

  if (disk_len > NAME_MAX_LEN || (at && strlen (at + 1) > NAME_MAX_LEN)) {
    s3cow_log_error ("disk name too long (at most %d characters per part)",
                     NAME_MAX_LEN);
    return -1;
  }
  memcpy (disk, export, disk_len);
  disk[disk_len] = '\0';
  strcpy (snap, at ? at + 1 : "");
  if (!name_valid (disk) || (at && !name_valid (snap))) {
    name_printable (export, shown, sizeof shown);
    s3cow_log_error ("invalid disk name '%s': use 1 to %d of A-Z a-z 0-9 . _ -"
                     " (not first . or -, no ..), and DISK@SNAPSHOT for a "
                     "snapshot",
                     shown, NAME_MAX_LEN);
    return -1;
  }
  return 0;
}

void
hash_to_hex (const uint8_t hash[HASH_LEN], char *hex)
{
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < HASH_LEN; i++) {
    hex[2 * i] = digits[hash[i] >> 4];
    hex[2 * i + 1] = digits[hash[i] & 15];
  }
  hex[HASH_HEX_LEN] = '\0';
}

void
key_chunk (char *key, const uint8_t hash[HASH_LEN])
{
  char hex[HASH_HEX_LEN + 1];

  hash_to_hex (hash, hex);
  snprintf (key, KEY_MAX_LEN, KEY_CHUNKS_PREFIX "%s", hex);
}

/* The value of a lowercase hex digit, or -1. */
static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

bool
key_parse_chunk (const char *key, uint8_t hash[HASH_LEN])
{
  const char *hex = key + strlen (KEY_CHUNKS_PREFIX);
  size_t i;

  if (strncmp (key, KEY_CHUNKS_PREFIX, strlen (KEY_CHUNKS_PREFIX)) != 0
      || strlen (hex) != HASH_HEX_LEN)
    return false;
  for (i = 0; i < HASH_LEN; i++) {
    int hi = hex_digit (hex[2 * i]), lo = hex_digit (hex[2 * i + 1]);

    if (hi < 0 || lo < 0)
      return false;
    hash[i] = hi << 4 | lo;
  }
  return true;
}

void
key_head (char *key, const char *disk)
{
  snprintf (key, KEY_MAX_LEN, KEY_DISKS_PREFIX "%s/head", disk);
}

void
key_map (char *key, const char *disk, uint64_t generation, const char *instance)
{
  snprintf (key, KEY_MAX_LEN, KEY_DISKS_PREFIX "%s/maps/%016" PRIx64 "-%s",
            disk, generation, instance);
}

void
key_snap (char *key, const char *disk, const char *snap)
{
  snprintf (key, KEY_MAX_LEN, KEY_DISKS_PREFIX "%s/snaps/%s", disk, snap);
}

bool
key_map_valid (const char *key)
{
  const size_t plen = strlen (KEY_DISKS_PREFIX);
  char disk[NAME_MAX_LEN + 1];
  const char *name, *slash;

  if (strncmp (key, KEY_DISKS_PREFIX, plen) != 0)
    return false;
  name = key + plen;
  slash = strchr (name, '/');
  if (slash == NULL || (size_t)(slash - name) > NAME_MAX_LEN)
    return false;
  memcpy (disk, name, slash - name);
  disk[slash - name] = '\0';
  return name_valid (disk) && strncmp (slash, "/maps/", 6) == 0
         && name_valid (slash + 6);
}

void
key_lease (char *key, const char *disk)
{
  snprintf (key, KEY_MAX_LEN, KEY_DISKS_PREFIX "%s/lease", disk);
}
