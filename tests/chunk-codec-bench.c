/* chunk-codec-bench FILE CHUNK_SIZE CODEC...: what each compression=
 * value makes of FILE (a disk image), chunk by chunk as the plugin
 * stores it (chunks of zeros have no object and are skipped).  A CODEC
 * ending in +enc is that compression= on an encrypted disk (the chunk
 * sealed after compression, under a fixed key).  One line per codec:
 *
 *   CODEC STORED LOGICAL RATIO ENCODE_CPU DECODE_CPU
 *
 * STORED is the bytes of the chunk objects, LOGICAL those of the chunks,
 * RATIO = STORED / LOGICAL; the CPU columns are seconds of this thread's
 * CPU per GiB of chunks, to encode and to decode (the SHA-256 or HMAC
 * of the address, which every codec pays, not included).  Used by
 * scripts/bench.sh.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk_codec.h"
#include "chunk_seal.h"

static double
cpu_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool
all_zero (const uint8_t *p, size_t n)
{
  return p[0] == 0 && memcmp (p, p + 1, n - 1) == 0;
}

int
main (int argc, char **argv)
{
  static const uint8_t master[CRYPTO_KEY_LEN] = { 1 };
  struct crypto *key = crypto_new (master);
  uint8_t id[CRYPTO_ID_LEN];
  uint32_t cs;
  uint8_t *plain, *frame, *back, *scratch;
  const char *why;
  int i;

  if (argc < 4) {
    fprintf (stderr, "usage: chunk-codec-bench FILE CHUNK_SIZE CODEC...\n");
    return 2;
  }
  cs = strtoul (argv[2], NULL, 0);
  if (cs < 4096 || cs > 64 << 20) {
    fprintf (stderr, "chunk-codec-bench: bad chunk size %s\n", argv[2]);
    return 2;
  }
  plain = malloc (cs);
  frame = malloc (chunk_object_max_len (cs));
  back = malloc (cs);
  scratch = malloc (chunk_object_max_len (cs));
  if (plain == NULL || frame == NULL || back == NULL || scratch == NULL
      || key == NULL) {
    perror ("malloc");
    return 1;
  }
  for (i = 3; i < argc; i++) {
    struct chunk_compression c;
    uint64_t stored = 0, logical = 0;
    double enc = 0, dec = 0, t;
    FILE *fp = fopen (argv[1], "rb");
    char name[64];
    size_t n, len;
    bool sealed;
    int r;

    snprintf (name, sizeof name, "%s", argv[i]);
    n = strlen (name);
    sealed = n > 4 && strcmp (name + n - 4, "+enc") == 0;
    if (sealed)
      name[n - 4] = '\0';
    if (chunk_compression_parse (name, &c, &why) == -1) {
      fprintf (stderr, "chunk-codec-bench: %s: %s\n", argv[i], why);
      return 2;
    }
    if (fp == NULL) {
      perror (argv[1]);
      return 1;
    }
    while ((n = fread (plain, 1, cs, fp)) > 0) {
      memset (plain + n, 0, cs - n);
      if (all_zero (plain, cs))
        continue;
      if (sealed) {
        if (crypto_chunk_id (key, plain, cs, id) == -1) {
          fprintf (stderr, "chunk-codec-bench: HMAC failed\n");
          return 1;
        }
        t = cpu_now ();
        r = chunk_seal_encode (key, id, &c, plain, cs, frame, &len, scratch,
                               &why);
        enc += cpu_now () - t;
        t = cpu_now ();
        r = r == 0 ? chunk_seal_decode (key, id, frame, len, cs, back, scratch,
                                        &why)
                   : r;
        dec += cpu_now () - t;
        if (r == -1 || memcmp (back, plain, cs) != 0) {
          fprintf (stderr, "chunk-codec-bench: %s: round trip failed\n",
                   argv[i]);
          return 1;
        }
        stored += len;
        logical += cs;
        continue;
      }
      t = cpu_now ();
      r = chunk_codec_encode (&c, plain, cs, frame, &len, &why);
      enc += cpu_now () - t;
      if (r == -1) {
        fprintf (stderr, "chunk-codec-bench: %s\n", why);
        return 1;
      }
      if (r == 0) {
        memcpy (frame, plain, cs);
        len = cs;
      }
      t = cpu_now ();
      r = chunk_codec_decode (frame, len, cs, back, &why);
      dec += cpu_now () - t;
      if (r == -1 || memcmp (back, plain, cs) != 0) {
        fprintf (stderr, "chunk-codec-bench: %s: round trip failed\n", argv[i]);
        return 1;
      }
      stored += len;
      logical += cs;
    }
    fclose (fp);
    printf ("%s %llu %llu %.4f %.3f %.3f\n", argv[i],
            (unsigned long long)stored, (unsigned long long)logical,
            logical ? (double)stored / logical : 0,
            logical ? enc / (logical / 1073741824.0) : 0,
            logical ? dec / (logical / 1073741824.0) : 0);
  }
  free (plain);
  free (frame);
  free (back);
  free (scratch);
  crypto_free (key);
  return 0;
}
