/* s3cow: names and bucket keys (see names.h). */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
name_parse_time (const char *s, int64_t *t)
{
  unsigned y, mo, d, h, mi, sec;
  struct tm tm = { 0 }, back;
  time_t v;
  int n = -1;

  /* Strictly YYYY-MM-DDTHH:MM:SSZ: sscanf alone would take signs and
   * spaces.
   */
  if (strlen (s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T'
      || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
    return -1;
  for (size_t i = 0; i < 19; i++)
    if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16
        && (s[i] < '0' || s[i] > '9'))
      return -1;
  if (sscanf (s, "%4u-%2u-%2uT%2u:%2u:%2uZ%n", &y, &mo, &d, &h, &mi, &sec, &n)
          != 6
      || n != 20 || y < 1970)
    return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  v = timegm (&tm); /* normalises tm */
  /* Refuse what timegm had to normalise (February 30th, 25:00). */
  if (v == (time_t)-1 || gmtime_r (&v, &back) == NULL
      || back.tm_year != (int)y - 1900 || back.tm_mon != (int)mo - 1
      || back.tm_mday != (int)d || back.tm_hour != (int)h
      || back.tm_min != (int)mi || back.tm_sec != (int)sec)
    return -1;
  *t = v;
  return 0;
}

void
name_format_time (int64_t t, char *buf)
{
  time_t v = t;
  struct tm tm;

  if (gmtime_r (&v, &tm) == NULL
      || strftime (buf, NAME_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf (buf, NAME_TIME_LEN, "%" PRId64, t);
}

void
name_ref_label (const struct name_ref *ref, char *label)
{
  char when[NAME_TIME_LEN];

  if (ref->at_time) {
    name_format_time (ref->time, when);
    snprintf (label, NAME_REF_MAX_LEN, "%s@%s", ref->disk, when);
  } else
    snprintf (label, NAME_REF_MAX_LEN, "%s%s%s", ref->disk,
              ref->snap[0] ? "@" : "", ref->snap);
}

bool
name_is_time_ref (const char *ref)
{
  const char *at = strchr (ref, '@');

  return at && strchr (at, ':');
}

int
name_parse_ref (const char *ref, struct name_ref *out)
{
  char shown[NAME_REF_MAX_LEN];
  const char *at = strchr (ref, '@');

  memset (out, 0, sizeof *out);
  /* A time holds ':', which no snapshot name may (name_valid). */
  if (name_is_time_ref (ref)) {
    size_t len = at - ref;

    if (len == 0 || len > NAME_MAX_LEN)
      goto bad_name;
    memcpy (out->disk, ref, len);
    out->disk[len] = '\0';
    if (!name_valid (out->disk))
      goto bad_name;
    if (name_parse_time (at + 1, &out->time) == -1) {
      name_printable (at + 1, shown, sizeof shown);
      s3cow_log_error ("invalid time '%s': use ISO 8601 in UTC, "
                       "YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-12-07T15:00:00Z)",
                       shown);
      return -1;
    }
    out->at_time = true;
    return 0;
  }
  return name_parse_export (ref, out->disk, out->snap);

bad_name:
  name_printable (ref, shown, sizeof shown);
  s3cow_log_error ("invalid disk name in '%s': use 1 to %d of A-Z a-z 0-9 . _"
                   " - (not first . or -, no ..)",
                   shown, NAME_MAX_LEN);
  return -1;
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

void
key_hints (char *key, const char *disk, const char *snap)
{
  snprintf (key, KEY_MAX_LEN, KEY_DISKS_PREFIX "%s/" KEY_HINTS_DIR "%s", disk,
            snap);
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

void
key_history (char *key, const char *disk, uint64_t generation,
             uint64_t committed)
{
  snprintf (key, KEY_MAX_LEN,
            KEY_DISKS_PREFIX "%s/" KEY_HISTORY_DIR "%016" PRIx64 "-%012" PRIu64,
            disk, generation, committed);
}

bool
key_history_parse (const char *name, uint64_t *generation, uint64_t *committed)
{
  size_t i;

  if (strlen (name) != 16 + 1 + 12 || name[16] != '-')
    return false;
  for (i = 0; i < 16; i++)
    if (!((name[i] >= '0' && name[i] <= '9')
          || (name[i] >= 'a' && name[i] <= 'f')))
      return false;
  for (i = 17; i < 29; i++)
    if (name[i] < '0' || name[i] > '9')
      return false;
  *generation = strtoull (name, NULL, 16);
  *committed = strtoull (name + 17, NULL, 10);
  return true;
}
