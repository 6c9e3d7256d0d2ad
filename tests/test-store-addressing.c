/* s3cow test: how S3 requests name the bucket (store_s3_open builds the
 * Host header and the path; nothing is sent).
 *
 * Without virtual-host= (STORE_ADDRESSING_AUTO): virtual-hosted style
 * (BUCKET.s3.REGION.amazonaws.com) on AWS's endpoints, the default one or
 * one given under amazonaws.com; path style on any other endpoint, and for
 * a bucket name that cannot be one host name label (dots, capitals).
 * virtual-host=true or false forces either.
 *
 * Each failure prints the case, the actual and the expected value.
 */
#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_s3-internal.h"

static int failures;

static void
check (const char *endpoint, const char *bucket,
       enum store_addressing addressing, const char *want_host,
       const char *want_bucket_path)
{
  struct store_config config = {
    .endpoint = endpoint,
    .bucket = bucket,
    .region = "eu-west-1",
    .access_key = "AKIAEXAMPLE",
    .secret_key = "secret",
    .tls_verify = true,
    .addressing = addressing,
  };
  struct store *st = store_open (&config);
  struct s3_store *s = (struct s3_store *)st;

  if (st == NULL) {
    fprintf (stderr, "FAIL: store_open (endpoint %s, bucket %s) failed\n",
             endpoint ? endpoint : "(AWS)", bucket);
    failures++;
    return;
  }
  if (strcmp (s->host, want_host) != 0
      || strcmp (s->bucket_path, want_bucket_path) != 0) {
    fprintf (stderr,
             "FAIL: endpoint %s, bucket %s, addressing %d: host \"%s\", "
             "path \"%s\"; expected host \"%s\", path \"%s\"\n",
             endpoint ? endpoint : "(AWS)", bucket, (int)addressing, s->host,
             s->bucket_path, want_host, want_bucket_path);
    failures++;
  }
  store_close (st);
}

int
main (void)
{
  const enum store_addressing aut = STORE_ADDRESSING_AUTO;

  /* AWS: virtual-hosted by default. */
  check (NULL, "my-bucket", aut, "my-bucket.s3.eu-west-1.amazonaws.com", "");
  check ("https://s3.us-west-2.amazonaws.com", "my-bucket", aut,
         "my-bucket.s3.us-west-2.amazonaws.com", "");
  /* ... but path style for names that are not one host name label. */
  check (NULL, "my.bucket", aut, "s3.eu-west-1.amazonaws.com", "/my.bucket");
  check (NULL, "My_Bucket", aut, "s3.eu-west-1.amazonaws.com", "/My_Bucket");
  /* Other endpoints: path style by default. */
  check ("http://127.0.0.1:9000", "my-bucket", aut, "127.0.0.1:9000",
         "/my-bucket");
  check ("https://minio.example.com", "my-bucket", aut, "minio.example.com",
         "/my-bucket");
  /* virtual-host=false and =true. */
  check (NULL, "my-bucket", STORE_ADDRESSING_PATH, "s3.eu-west-1.amazonaws.com",
         "/my-bucket");
  check ("https://minio.example.com", "my-bucket", STORE_ADDRESSING_VIRTUAL,
         "my-bucket.minio.example.com", "");

  if (failures) {
    fprintf (stderr, "test-store-addressing: %d failures\n", failures);
    return 1;
  }
  return 0;
}
