/* s3cow: the encoding of a chunk object's bytes (see chunk_codec.h).
 *
 * zstd's contexts are kept per thread (a pthread key frees them when the
 * thread ends): making one per chunk would cost an allocation of several
 * hundred kilobytes on every write.  lz4 keeps its state on the stack.
 * Decoding is single-pass into the caller's buffer, so a hostile frame
 * cannot make zstd allocate a window: the output is bounded by the chunk.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "chunk_codec.h"

static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static pthread_key_t cctx_key, dctx_key;
static int keys_err;
static bool keys_made; /* both keys exist */

static void
free_cctx (void *p)
{
  ZSTD_freeCCtx (p);
}

static void
free_dctx (void *p)
{
  ZSTD_freeDCtx (p);
}

static void
make_keys (void)
{
  keys_err = pthread_key_create (&cctx_key, free_cctx);
  if (keys_err == 0) {
    keys_err = pthread_key_create (&dctx_key, free_dctx);
    if (keys_err != 0)
      pthread_key_delete (cctx_key);
  }
  keys_made = keys_err == 0;
}

/* When nbdkit unloads the plugin, no thread that ends later may call the
 * destructors above, which are unloaded with it.
 */
__attribute__ ((destructor)) static void
delete_keys (void)
{
  if (keys_made) {
    pthread_key_delete (cctx_key);
    pthread_key_delete (dctx_key);
  }
}

/* This thread's compression context, or NULL (out of memory). */
static ZSTD_CCtx *
thread_cctx (void)
{
  ZSTD_CCtx *c;

  if (pthread_once (&keys_once, make_keys) != 0 || keys_err != 0)
    return NULL;
  c = pthread_getspecific (cctx_key);
  if (c == NULL) {
    c = ZSTD_createCCtx ();
    if (c && pthread_setspecific (cctx_key, c) != 0) {
      ZSTD_freeCCtx (c);
      c = NULL;
    }
  }
  return c;
}

static ZSTD_DCtx *
thread_dctx (void)
{
  ZSTD_DCtx *d;

  if (pthread_once (&keys_once, make_keys) != 0 || keys_err != 0)
    return NULL;
  d = pthread_getspecific (dctx_key);
  if (d == NULL) {
    d = ZSTD_createDCtx ();
    if (d && pthread_setspecific (dctx_key, d) != 0) {
      ZSTD_freeDCtx (d);
      d = NULL;
    }
  }
  return d;
}

const char *
chunk_codec_name (unsigned codec)
{
  switch (codec) {
  case CHUNK_CODEC_NONE:
    return "none";
  case CHUNK_CODEC_LZ4:
    return "lz4";
  case CHUNK_CODEC_ZSTD:
    return "zstd";
  default:
    return "unknown";
  }
}

int
chunk_compression_parse (const char *value, struct chunk_compression *out,
                         const char **why)
{
  const char *level;
  char *end;
  long n;

  if (strcmp (value, "none") == 0) {
    *out = (struct chunk_compression){ .codec = CHUNK_CODEC_NONE };
    return 0;
  }
  if (strcmp (value, "lz4") == 0) {
    *out = (struct chunk_compression){ .codec = CHUNK_CODEC_LZ4 };
    return 0;
  }
  if (strcmp (value, "zstd") == 0) {
    *out = (struct chunk_compression){ .codec = CHUNK_CODEC_ZSTD,
                                       .level = CHUNK_ZSTD_DEFAULT_LEVEL };
    return 0;
  }
  if (strncmp (value, "zstd:", 5) != 0) {
    *why = "must be none, lz4, zstd or zstd:LEVEL";
    return -1;
  }
  level = value + 5;
  errno = 0;
  n = strtol (level, &end, 10);
  if (*level < '0' || *level > '9' || *end != '\0' || errno != 0 || n < 1
      || n > CHUNK_ZSTD_MAX_LEVEL) {
    *why = "the zstd level must be a number from 1 to 19";
    return -1;
  }
  *out = (struct chunk_compression){ .codec = CHUNK_CODEC_ZSTD,
                                     .level = (int)n };
  return 0;
}

static void
put_le16 (uint8_t *p, uint16_t v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
put_le32 (uint8_t *p, uint32_t v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = v >> 24;
}

static uint32_t
get_le32 (const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
         | (uint32_t)p[3] << 24;
}

void
chunk_frame_write_header (void *out, unsigned codec, unsigned flags,
                          uint32_t plain_len, uint32_t stored_len)
{
  uint8_t *p = out;

  memset (p, 0, CHUNK_FRAME_HEADER_LEN);
  memcpy (p, CHUNK_FRAME_MAGIC, 8);
  p[8] = CHUNK_FRAME_VERSION;
  p[9] = codec;
  put_le16 (p + 10, flags);
  put_le32 (p + 12, plain_len);
  put_le32 (p + 16, stored_len);
}

int
chunk_codec_compress (const struct chunk_compression *c, const void *plain,
                      uint32_t chunk_size, void *out, size_t cap, size_t *len,
                      const char **why)
{
  switch (c->codec) {
  case CHUNK_CODEC_LZ4: {
    int r = LZ4_compress_default (plain, out, (int)chunk_size, (int)cap);

    if (r <= 0)
      return 0; /* does not fit in cap */
    *len = r;
    return 1;
  }
  case CHUNK_CODEC_ZSTD: {
    ZSTD_CCtx *cctx = thread_cctx ();
    size_t n;

    if (cctx == NULL) {
      *why = "cannot make a zstd context (out of memory)";
      return -1;
    }
    n = ZSTD_compressCCtx (cctx, out, cap, plain, chunk_size, c->level);
    if (ZSTD_isError (n)) {
      if (ZSTD_getErrorCode (n) == ZSTD_error_dstSize_tooSmall)
        return 0;
      *why = "zstd failed (out of memory)";
      return -1;
    }
    *len = n;
    return 1;
  }
  default:
    return 0;
  }
}

int
chunk_codec_encode (const struct chunk_compression *c, const void *plain,
                    uint32_t chunk_size, void *out, size_t *out_len,
                    const char **why)
{
  size_t max_frame = (uint64_t)chunk_size * CHUNK_FRAME_MAX_PERCENT / 100;
  size_t n;
  int r;

  r = chunk_codec_compress (c, plain, chunk_size,
                            (uint8_t *)out + CHUNK_FRAME_HEADER_LEN,
                            max_frame - CHUNK_FRAME_HEADER_LEN, &n, why);
  if (r != 1)
    return r; /* 0: raw */
  chunk_frame_write_header (out, c->codec, 0, chunk_size, n);
  *out_len = CHUNK_FRAME_HEADER_LEN + n;
  return 1;
}

int
chunk_frame_parse (const void *obj, size_t len, uint32_t chunk_size,
                   struct chunk_frame *f, const char **why)
{
  static const uint8_t zeros[12];
  const uint8_t *p = obj;

  if (len < CHUNK_FRAME_HEADER_LEN) {
    *why = "neither the chunk size nor a frame (too short)";
    return -1;
  }
  if (memcmp (p, CHUNK_FRAME_MAGIC, 8) != 0) {
    *why = "neither the chunk size nor a frame (bad magic)";
    return -1;
  }
  f->version = p[8];
  f->codec = p[9];
  f->flags = p[10] | (unsigned)p[11] << 8;
  f->plain_len = get_le32 (p + 12);
  f->stored_len = get_le32 (p + 16);
  f->payload = p + CHUNK_FRAME_HEADER_LEN;
  if (f->version != CHUNK_FRAME_VERSION) {
    *why = "unknown frame version";
    return -1;
  }
  if (f->codec > CHUNK_CODEC_ZSTD) {
    *why = "unknown codec";
    return -1;
  }
  if (f->flags & ~CHUNK_FRAME_KNOWN_FLAGS) {
    *why = "unknown frame flags";
    return -1;
  }
  if (memcmp (p + 20, zeros, sizeof zeros) != 0) {
    *why = "reserved frame bytes are not zero";
    return -1;
  }
  if (f->plain_len != chunk_size) {
    *why = "the frame's plaintext length is not the chunk size";
    return -1;
  }
  if (f->stored_len != len - CHUNK_FRAME_HEADER_LEN) {
    *why = "the frame's stored length is not the object's";
    return -1;
  }
  return 0;
}

int
chunk_codec_decompress (unsigned codec, const void *payload, size_t len,
                        uint32_t chunk_size, void *plain, const char **why)
{
  switch (codec) {
  case CHUNK_CODEC_NONE:
    if (len != chunk_size) {
      *why = "an unencoded payload is not the chunk size";
      return -1;
    }
    memcpy (plain, payload, chunk_size);
    return 0;
  case CHUNK_CODEC_LZ4: {
    int r;

    if (len > INT_MAX) {
      *why = "the lz4 payload is too long";
      return -1;
    }
    r = LZ4_decompress_safe (payload, plain, (int)len, (int)chunk_size);
    if (r < 0 || (uint32_t)r != chunk_size) {
      *why = "the lz4 payload does not decode to the chunk size";
      return -1;
    }
    return 0;
  }
  case CHUNK_CODEC_ZSTD: {
    ZSTD_DCtx *dctx = thread_dctx ();
    size_t n;

    if (dctx == NULL) {
      *why = "cannot make a zstd context (out of memory)";
      return -1;
    }
    n = ZSTD_decompressDCtx (dctx, plain, chunk_size, payload, len);
    if (ZSTD_isError (n) || n != chunk_size) {
      *why = "the zstd payload does not decode to the chunk size";
      return -1;
    }
    return 0;
  }
  default:
    *why = "unknown codec";
    return -1;
  }
}

int
chunk_codec_decode (const void *obj, size_t len, uint32_t chunk_size,
                    void *plain, const char **why)
{
  struct chunk_frame f;

  if (chunk_object_is_raw (len, chunk_size)) {
    memcpy (plain, obj, chunk_size);
    return 0;
  }
  if (len > chunk_object_max_len (chunk_size)) {
    *why = "longer than any chunk object";
    return -1;
  }
  if (chunk_frame_parse (obj, len, chunk_size, &f, why) == -1)
    return -1;
  if (f.flags & CHUNK_FRAME_ENCRYPTED) {
    *why = "the chunk is encrypted";
    return -1;
  }
  return chunk_codec_decompress (f.codec, f.payload, f.stored_len, chunk_size,
                                 plain, why);
}
