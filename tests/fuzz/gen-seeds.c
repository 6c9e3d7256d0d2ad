/* s3cow fuzzing: write the seed corpora (tests/fuzz/corpus-TARGET/) with
 * the real encoders, so that the fuzzers start from valid objects.
 *
 *   gen-seeds DIR      writes DIR/corpus-head/..., DIR/corpus-map/..., ...
 *
 * The seeds are kept in the source tree; run this again (make fuzz-seeds)
 * after a format change.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chunk_codec.h"
#include "chunk_seal.h"
#include "crypto.h"
#include "format.h"
#include "names.h"

static const char *dir;

static void
put (const char *target, const char *name, const void *data, size_t len)
{
  char path[4096];
  FILE *fp;

  snprintf (path, sizeof path, "%s/corpus-%s", dir, target);
  if (mkdir (path, 0755) == -1 && errno != EEXIST) {
    perror (path);
    exit (1);
  }
  snprintf (path, sizeof path, "%s/corpus-%s/%s", dir, target, name);
  fp = fopen (path, "wb");
  if (fp == NULL || fwrite (data, 1, len, fp) != len || fclose (fp) != 0) {
    perror (path);
    exit (1);
  }
}

static void
put_str (const char *target, const char *name, const char *s)
{
  put (target, name, s, strlen (s));
}

/* mode byte + text */
static void
put_mode (const char *target, const char *name, char mode, const char *s)
{
  size_t n = strlen (s);
  char *b = malloc (n + 1);

  b[0] = mode;
  memcpy (b + 1, s, n);
  put (target, name, b, n + 1);
  free (b);
}

/* NUL-separated fields after a mode byte (fuzz-config). */
static void
put_fields (const char *name, char mode, const char *const *f, size_t n,
            unsigned char flags)
{
  char b[2048];
  size_t len = 0, i;

  b[len++] = mode;
  for (i = 0; i < n; i++) {
    size_t l = strlen (f[i]);
    memcpy (b + len, f[i], l + 1);
    len += l + 1;
  }
  b[len++] = flags;
  put ("config", name, b, len);
}

static void
heads (void)
{
  struct head h;
  void *data;
  size_t len;
  uint32_t i;

  memset (&h, 0, sizeof h);
  h.size = 1 << 30;
  h.chunk_size = 1 << 20;
  h.generation = 0;
  h.created = h.committed = 1700000000;
  head_encode (&h, NULL, NULL, &data, &len);
  put ("head", "new-disk", data, len);
  free (data);

  h.generation = 42;
  h.nmaps = 3;
  snprintf (h.parent, sizeof h.parent, "web1@snap1");
  key_map (h.maps[0], "web1", 7, "0123456789abcdef");
  key_map (h.maps[1], "web1-test", 40, "fedcba9876543210");
  key_map (h.maps[2], "web1-test", 42, "fedcba9876543210");
  head_encode (&h, NULL, NULL, &data, &len);
  put ("head", "fork-three-maps", data, len);
  free (data);

  h.nmaps = HEAD_MAX_MAPS;
  h.size = DISK_SIZE_MAX;
  h.chunk_size = CHUNK_SIZE_MAX;
  for (i = 0; i < h.nmaps; i++)
    key_map (h.maps[i], "a-disk-name-of-some-length", i, "0011223344556677");
  head_encode (&h, NULL, NULL, &data, &len);
  put ("head", "max-maps", data, len);
  free (data);

  /* An encrypted disk's head (ids, fingerprint, MAC). */
  {
    static const uint8_t master[CRYPTO_KEY_LEN] = { 3 };
    struct crypto *c = crypto_new (master);

    if (c == NULL)
      exit (1);
    h.nmaps = 1;
    h.size = 1 << 30;
    h.chunk_size = 1 << 20;
    memset (h.op_id, 1, sizeof h.op_id);
    memset (h.disk_id, 2, sizeof h.disk_id);
    h.has_history = true; /* as every commit writes it */
    h.history = 86400;
    h.encrypted = true;
    memcpy (h.key_fingerprint, crypto_fingerprint (c), CRYPTO_FINGERPRINT_LEN);
    if (head_encode (&h, c, "disks/fuzz/head", &data, &len) == -1)
      exit (1);
    put ("head", "encrypted", data, len);
    free (data);
    crypto_free (c);
  }
}

static void
maps (void)
{
  struct map_entry e[5];
  void *data;
  size_t len, i;
  uint8_t *b;
  /* Prefix: chunk size 1M (64K << 4), 16 chunks. */
  const uint8_t prefix[3] = { 4, 16, 0 };

  for (i = 0; i < 5; i++) {
    e[i].idx = i * 3;
    memset (e[i].hash, 0x11 * (i + 1), HASH_LEN);
  }
  memset (e[2].hash, 0, HASH_LEN); /* a zero chunk */
  for (i = 0; i < 3; i++) {
    size_t n = i == 0 ? 5 : i == 1 ? 2 : 0;
    bool full = i == 0;
    const char *name = i == 0 ? "full" : i == 1 ? "delta" : "empty";

    map_encode (e, n, full, 1 << 20, 16, NULL, NULL, &data, &len);
    b = malloc (len + 3);
    memcpy (b, prefix, 3);
    memcpy (b + 3, data, len);
    put ("map", name, b, len + 3);
    free (b);
    free (data);
  }

  /* An encrypted disk's map (with a MAC). */
  {
    static const uint8_t master[CRYPTO_KEY_LEN] = { 3 };
    struct crypto *c = crypto_new (master);

    if (c == NULL
        || map_encode (e, 5, true, 1 << 20, 16, c,
                       "disks/fuzz/maps/0000000000000001-fuzz", &data, &len)
               == -1)
      exit (1);
    b = malloc (len + 3);
    memcpy (b, prefix, 3);
    memcpy (b + 3, data, len);
    put ("map", "authenticated", b, len + 3);
    free (b);
    free (data);
    crypto_free (c);
  }
}

static void
leases (void)
{
  struct lease_info l;
  char buf[LEASE_MAX_SIZE];
  size_t len;

  memset (&l, 0, sizeof l);
  snprintf (l.host, sizeof l.host, "host1.example.com");
  l.pid = 12345;
  snprintf (l.instance, sizeof l.instance, "0123456789abcdef");
  snprintf (l.export, sizeof l.export, "web1");
  l.taken = 1700000000;
  l.renewed = 1700000020;
  l.duration = 30;
  len = lease_encode (&l, buf);
  put ("lease", "held", buf, len);
  l.released = true;
  l.duration = 3600;
  len = lease_encode (&l, buf);
  put ("lease", "released", buf, len);
}

static void
xml (void)
{
  put_mode ("xml", "error-nosuchkey", 0,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
            "NoSuchKey</Code><Message></Message><BucketName>b</BucketName>"
            "<RequestId>tx0001</RequestId><HostId>1-default</HostId></Error>");
  put_mode ("xml", "error-aws", 0,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>"
            "SignatureDoesNotMatch</Code>\n  <Message>The request signature "
            "we calculated does not match &amp; &lt;so&gt; &#65;&#x42;"
            "</Message>\n  <StringToSign><![CDATA[AWS4-HMAC-SHA256\n]]>"
            "</StringToSign>\n</Error>\n");
  put_mode ("xml", "list-two", 1,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
            "<Prefix>disks/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000"
            "</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>"
            "disks/a/head</Key><LastModified>2024-01-02T03:04:05.678Z"
            "</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328"
            "&quot;</ETag><Size>90</Size><StorageClass>STANDARD"
            "</StorageClass></Contents><Contents><Key>disks/b/lease</Key>"
            "<LastModified>2024-01-02T03:04:06Z</LastModified><ETag>"
            "\"abc\"</ETag><Size>300</Size></Contents></ListBucketResult>");
  put_mode ("xml", "list-truncated", 1,
            "<ListBucketResult><IsTruncated>true</IsTruncated>"
            "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/"
            "wm36Hy4vbOwM=</NextContinuationToken><Contents><Key>chunks/"
            "00ff</Key><LastModified>2024-01-02T03:04:05Z</LastModified>"
            "<Size>1048576</Size></Contents></ListBucketResult>");
  put_mode ("xml", "list-empty", 1,
            "<?xml version=\"1.0\"?><!-- c --><ListBucketResult/>");
  put_mode ("xml", "text", 2, "a &amp; b &#x10FFFF; &#233; &quot;x&apos;");
  put_mode ("xml", "key-cdata", 2, "disks/<![CDATA[a<b>&c]]>/head");
  put_mode ("xml", "doctype-entities", 1,
            "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaa\">"
            "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><ListBucketResult>"
            "<Contents><Key>&b;</Key><Size>1</Size><LastModified>"
            "2024-01-02T03:04:05Z</LastModified></Contents>"
            "</ListBucketResult>");
  put_mode ("xml", "time", 3, "2009-10-12T17:50:30.000Z");
}

static void
names (void)
{
  char n96[NAME_MAX_LEN + 1];

  put_str ("names", "disk", "web1");
  put_str ("names", "snapshot", "web1@before-upgrade");
  put_str ("names", "chars", "A.b_c-9");
  memset (n96, 'x', NAME_MAX_LEN);
  n96[NAME_MAX_LEN] = '\0';
  put_str ("names", "longest", n96);
  put_str ("names", "traversal", "../x");
}

static void
config (void)
{
  const char *aws[] = { "",
                        "my-bucket",
                        "",
                        "eu-west-1",
                        "AKIAIOSFODNN7EXAMPLE",
                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        "" };
  const char *rgw[] = { "http://127.0.0.1:7480",
                        "vms",
                        "tenant1/",
                        "us-east-1",
                        "s3cowtest",
                        "s3cowtestsecret0123456789",
                        "FwoGZXIvYXdzEXAMPLETOKEN" };
  const char *v6[] = { "https://[::1]:9000/", "b.example", "", "", "", "", "" };
  const char *vh[] = { "https://s3.example.com",
                       "my.bucket-1",
                       "p/",
                       "auto",
                       "AK",
                       "SECRETSECRET",
                       "" };

  put_fields ("aws", 0, aws, 7, 2);
  put_fields ("rgw-token", 0, rgw, 7, 2);
  put_fields ("ipv6-anonymous", 0, v6, 7, 0);
  put_fields ("virtual-host", 0, vh, 7, 3);
  put_mode ("config", "credentials", 1,
            "# comment\n[default]\naws_access_key_id = AKIAEXAMPLE\n"
            "aws_secret_access_key=secretexample\n; other\n"
            "[profile other]\naws_session_token = tok\n");
}

static void
params (void)
{
  put_str ("params", "minimal", "vms");
  put_str ("params", "full",
           "bucket=vms\nexport=web1\nsize=20G\nchunk-size=4M\n"
           "cache-size=1G\nendpoint=http://127.0.0.1:9000\nregion=us-east-1\n"
           "prefix=p/\naccess-key=AK\nsecret-key=SECRETVALUE\n"
           "session-token=TOKENVALUE\nca-file=/etc/ca.pem\ntls-verify=false\n"
           "virtual-host=true\ntimeout=30\nretry-time=60\nconnections=16\n"
           "upload-threads=8\ncommit-interval=5\nlease=30\nlease-wait=10\n"
           "compression=zstd:3\n"
           "stats=/tmp/stats");
  put_str ("params", "snapshot", "bucket=vms\nexport=web1@snap\nlease=3600");
  put_str ("params", "bad-size", "bucket=vms\nsize=1000\nchunk-size=3M");
}

/* Chunk objects of a 64 KiB chunk (size byte 0), one per codec; the
 * frames of compressible text.
 */
static void
chunks (void)
{
  static const struct {
    const char *name;
    struct chunk_compression c;
  } codecs[] = {
    { "lz4", { .codec = CHUNK_CODEC_LZ4 } },
    { "zstd-1", { .codec = CHUNK_CODEC_ZSTD, .level = 1 } },
    { "zstd-19", { .codec = CHUNK_CODEC_ZSTD, .level = 19 } },
  };
  uint32_t cs = 65536;
  char *plain = calloc (1, cs);
  uint8_t *b = malloc (1 + chunk_object_max_len (cs));
  const char *why;
  size_t i, len;

  for (i = 0; i + 40 < cs; i += 40)
    snprintf (plain + i, 41, "line %08zu of a compressible chunk....\n", i);
  for (i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
    b[0] = 0;
    if (chunk_codec_encode (&codecs[i].c, plain, cs, b + 1, &len, &why) != 1) {
      fprintf (stderr, "chunk_codec_encode %s: failed\n", codecs[i].name);
      exit (1);
    }
    put ("chunk", codecs[i].name, b, len + 1);
  }
  free (plain);
  free (b);
}

/* fuzz-seal: a chunk id, then the sealed object of a 64 KiB chunk under
 * the fuzzer's key (00 01 .. 1f), one per codec.
 */
static void
seals (void)
{
  static const struct chunk_compression codecs[] = {
    { .codec = CHUNK_CODEC_NONE },
    { .codec = CHUNK_CODEC_LZ4 },
    { .codec = CHUNK_CODEC_ZSTD, .level = 1 },
  };
  static const char *names[] = { "none", "lz4", "zstd" };
  uint32_t cs = 65536;
  uint8_t master[CRYPTO_KEY_LEN];
  char *plain = calloc (1, cs);
  uint8_t *b = malloc (CRYPTO_ID_LEN + chunk_object_max_len (cs));
  uint8_t *scratch = malloc (chunk_object_max_len (cs));
  const char *why;
  struct crypto *c;
  size_t i, len;

  for (i = 0; i < CRYPTO_KEY_LEN; i++)
    master[i] = i;
  c = crypto_new (master);
  if (c == NULL || plain == NULL || b == NULL || scratch == NULL)
    exit (1);
  for (i = 0; i + 40 < cs; i += 40)
    snprintf (plain + i, 41, "line %08zu of a compressible chunk....\n", i);
  if (crypto_chunk_id (c, plain, cs, b) == -1)
    exit (1);
  for (i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
    if (chunk_seal_encode (c, b, &codecs[i], plain, cs, b + CRYPTO_ID_LEN, &len,
                           scratch, &why)
        == -1) {
      fprintf (stderr, "chunk_seal_encode %s: %s\n", names[i], why);
      exit (1);
    }
    put ("seal", names[i], b, CRYPTO_ID_LEN + len);
  }
  crypto_free (c);
  free (plain);
  free (b);
  free (scratch);
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: gen-seeds DIR\n");
    return 2;
  }
  dir = argv[1];
  heads ();
  maps ();
  leases ();
  xml ();
  names ();
  config ();
  params ();
  chunks ();
  seals ();
  return 0;
}
