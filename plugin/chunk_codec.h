/* s3cow: the encoding of a chunk object's bytes: pure functions, no I/O.
 *
 * A chunk object is either
 *
 *   raw:     exactly chunk_size bytes, the chunk as it is (every chunk
 *            object written before frames existed, and every chunk that
 *            would not shrink); or
 *   framed:  a CHUNK_FRAME_HEADER_LEN-byte header, then the payload:
 *
 *     offset size field (integers little-endian)
 *      0      8   magic "s3cowCK\0"
 *      8      1   frame version (1)
 *      9      1   codec of the payload (enum chunk_codec)
 *     10      2   flags: CHUNK_FRAME_ENCRYPTED; every other bit 0
 *     12      4   plaintext length (the chunk size)
 *     16      4   stored length: payload bytes after the header
 *     20     12   reserved (0)
 *     32      -   payload
 *
 * The length of the object tells them apart: a framed object is never
 * exactly chunk_size bytes long.  The encoder keeps a frame only when it
 * is at most CHUNK_FRAME_MAX_PERCENT percent of the chunk size (else the
 * chunk is stored raw), and a frame that does not shrink (an encrypted
 * payload) is longer than the chunk.  An object of any other length that
 * is not a valid frame is corrupt.
 *
 * Thread-safe: the compressors' contexts are per thread.
 */
#ifndef S3COW_CHUNK_CODEC_H
#define S3COW_CHUNK_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNK_FRAME_MAGIC "s3cowCK" /* 8 bytes with its NUL */
#define CHUNK_FRAME_VERSION 1
#define CHUNK_FRAME_HEADER_LEN 32
#define CHUNK_FRAME_ENCRYPTED 0x0001 /* the payload is encrypted */
#define CHUNK_FRAME_KNOWN_FLAGS 0x0001
#define CHUNK_FRAME_MAX_PERCENT 97

enum chunk_codec {
  CHUNK_CODEC_NONE = 0,
  CHUNK_CODEC_LZ4 = 1,
  CHUNK_CODEC_ZSTD = 2,
};

/* How a server writes new chunks (compression=). */
struct chunk_compression {
  enum chunk_codec codec;
  int level; /* zstd's level; 0 for the others */
};

#define CHUNK_ZSTD_DEFAULT_LEVEL 1
/* zstd's levels above 19 ("ultra") need windows of up to 128 MiB, for
 * every thread that compresses: not worth it for chunks of a few MiB.
 */
#define CHUNK_ZSTD_MAX_LEVEL 19
#define CHUNK_COMPRESSION_DEFAULT                                              \
  ((struct chunk_compression){ .codec = CHUNK_CODEC_ZSTD,                      \
                               .level = CHUNK_ZSTD_DEFAULT_LEVEL })

/* Parse "none", "lz4", "zstd" or "zstd:LEVEL" (LEVEL from 1 to
 * CHUNK_ZSTD_MAX_LEVEL) into *out.  0, or -1 with *why a static
 * message.
 */
int chunk_compression_parse (const char *value, struct chunk_compression *out,
                             const char **why);

/* The name of a codec ("none", "lz4", "zstd"; "unknown" otherwise). */
const char *chunk_codec_name (unsigned codec);

/* A frame's header fields, as chunk_frame_parse found them. */
struct chunk_frame {
  unsigned version;
  unsigned codec;
  unsigned flags;
  uint32_t plain_len;
  uint32_t stored_len;
  const uint8_t *payload; /* stored_len bytes, inside the object */
};

/* The longest chunk object of a chunk of chunk_size bytes that a reader
 * accepts: the chunk, a header and CHUNK_FRAME_MAX_OVERHEAD bytes (room for
 * what an encrypted payload adds).  Room enough for chunk_codec_encode.
 */
#define CHUNK_FRAME_MAX_OVERHEAD 224
static inline size_t
chunk_object_max_len (uint32_t chunk_size)
{
  return (size_t)chunk_size + CHUNK_FRAME_HEADER_LEN + CHUNK_FRAME_MAX_OVERHEAD;
}

/* Encode plain (chunk_size bytes) with c into out (room for chunk_size
 * bytes: a frame is at most CHUNK_FRAME_MAX_PERCENT percent of it).
 * Returns 1 with *out_len the length of a frame written to out; 0 when
 * the chunk is to be stored raw (plain as it is: codec none, or the frame
 * would be over CHUNK_FRAME_MAX_PERCENT of the chunk); -1 with *why a
 * static message when the compressor failed (out of memory).
 */
int chunk_codec_encode (const struct chunk_compression *c, const void *plain,
                        uint32_t chunk_size, void *out, size_t *out_len,
                        const char **why);

/* The codec step alone, for a caller that frames the payload itself (an
 * encrypted frame: compress, encrypt, then the header with
 * CHUNK_FRAME_ENCRYPTED).  Compress plain (chunk_size bytes) with c into
 * out (cap bytes).  Returns 1 with *len the payload's length; 0 when it
 * does not fit in cap or c is codec none; -1 with *why (out of memory).
 */
int chunk_codec_compress (const struct chunk_compression *c, const void *plain,
                          uint32_t chunk_size, void *out, size_t cap,
                          size_t *len, const char **why);

/* Decompress a payload (len bytes) of codec into plain (chunk_size
 * bytes): it must give exactly chunk_size bytes.  0, or -1 with *why.
 */
int chunk_codec_decompress (unsigned codec, const void *payload, size_t len,
                            uint32_t chunk_size, void *plain, const char **why);

/* Write a frame header for a payload of stored_len bytes to out. */
void chunk_frame_write_header (void *out, unsigned codec, unsigned flags,
                               uint32_t plain_len, uint32_t stored_len);

/* Whether an object of len bytes of a chunk of chunk_size bytes is raw. */
static inline bool
chunk_object_is_raw (size_t len, uint32_t chunk_size)
{
  return len == chunk_size;
}

/* Parse the header of a framed object (obj, len bytes; not raw) of a
 * chunk of chunk_size bytes: magic, version, known codec and flags,
 * reserved bytes zero, plaintext length equal to chunk_size, stored
 * length equal to what follows the header.  0, or -1 with *why a static
 * message.
 */
int chunk_frame_parse (const void *obj, size_t len, uint32_t chunk_size,
                       struct chunk_frame *f, const char **why);

/* Decode a chunk object (obj, len bytes) of a chunk of chunk_size bytes
 * into plain (chunk_size bytes; may not overlap obj).  A raw object is
 * copied; a frame is parsed and decompressed, and must give exactly
 * chunk_size bytes.  Encrypted frames are refused here.  0, or -1 with
 * *why a static message (never a crash, whatever the bytes).  The caller
 * still checks plain against the chunk's address.
 */
int chunk_codec_decode (const void *obj, size_t len, uint32_t chunk_size,
                        void *plain, const char **why);

#endif /* S3COW_CHUNK_CODEC_H */
