/* Test sigv4.c against AWS's published Signature Version 4 examples.
 *
 * The S3 examples are those of AWS's "Signature Calculations for the
 * Authorization Header: Transferring Payload in a Single Chunk" (GET object
 * with a Range, PUT object, GET bucket lifecycle, GET bucket (list objects)),
 * signed with the documentation's example key for examplebucket on
 * 2013-05-24 in us-east-1.  The signing key derivation is checked against the
 * example of "Examples of how to derive a signing key for Signature Version
 * 4".  Then the building blocks: URI encoding, query sorting, header
 * canonicalisation and the rejection of malformed input.
 *
 * On a failure it prints the actual and the expected value.
 */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

static int failures;

static void
check_str (const char *what, const char *actual, const char *expected)
{
  if (actual == NULL || strcmp (actual, expected) != 0) {
    fprintf (stderr, "FAIL: %s\n--- actual:\n%s\n--- expected:\n%s\n---\n",
             what, actual ? actual : "(NULL)", expected);
    failures++;
  } else
    printf ("ok: %s\n", what);
}

static void
check_true (const char *what, bool ok)
{
  if (!ok) {
    fprintf (stderr, "FAIL: %s\n", what);
    failures++;
  } else
    printf ("ok: %s\n", what);
}

/* The signature part of an Authorization header value. */
static const char *
signature_of (const char *auth)
{
  const char *p = auth ? strstr (auth, "Signature=") : NULL;

  return p ? p + 10 : NULL;
}

static const struct sigv4_signer example_signer = {
  .access_key = "AKIAIOSFODNN7EXAMPLE",
  .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  .region = "us-east-1",
  .service = "s3",
  .amz_date = "20130524T000000Z",
};

#define EXAMPLE_HOST "examplebucket.s3.amazonaws.com"

/* One AWS example: check the canonical request (when given), the string to
 * sign (when given) and the signature.
 */
static void
check_example (const char *name, const struct sigv4_request *req,
               const char *expected_creq, const char *expected_sts,
               const char *expected_auth_prefix, const char *expected_sig)
{
  char what[256];
  char *creq, *sts, *auth, *signed_headers = NULL;

  creq = sigv4_canonical_request (req, &signed_headers);
  if (expected_creq) {
    snprintf (what, sizeof what, "%s: canonical request", name);
    check_str (what, creq, expected_creq);
  }
  sts = creq ? sigv4_string_to_sign (&example_signer, creq) : NULL;
  if (expected_sts) {
    snprintf (what, sizeof what, "%s: string to sign", name);
    check_str (what, sts, expected_sts);
  }
  auth = sigv4_authorization (&example_signer, req);
  snprintf (what, sizeof what, "%s: signature", name);
  check_str (what, signature_of (auth), expected_sig);
  snprintf (what, sizeof what, "%s: Authorization header", name);
  check_true (what, auth
                        && strncmp (auth, expected_auth_prefix,
                                    strlen (expected_auth_prefix))
                               == 0);
  if (auth
      && strncmp (auth, expected_auth_prefix, strlen (expected_auth_prefix)))
    fprintf (stderr, "--- actual:\n%s\n--- expected prefix:\n%s\n", auth,
             expected_auth_prefix);
  free (creq);
  free (sts);
  free (auth);
  free (signed_headers);
}

static void
test_get_object (void)
{
  const struct sigv4_header headers[] = {
    { "Host", EXAMPLE_HOST },
    { "Range", "bytes=0-9" },
    { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
    { "x-amz-date", "20130524T000000Z" },
  };
  const struct sigv4_request req = {
    .method = "GET",
    .path = "/test.txt",
    .headers = headers,
    .n_headers = 4,
    .payload_sha256 = SIGV4_EMPTY_SHA256,
  };

  check_example (
      "GET object", &req,
      "GET\n"
      "/test.txt\n"
      "\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "range:bytes=0-9\n"
      "x-amz-content-sha256:"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n"
      "\n"
      "host;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "AWS4-HMAC-SHA256\n"
      "20130524T000000Z\n"
      "20130524/us-east-1/s3/aws4_request\n"
      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
      "AWS4-HMAC-SHA256 "
      "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
      "Signature=",
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void
test_put_object (void)
{
  static const char payload[] = "Welcome to Amazon S3.";
  char hash[65];
  const struct sigv4_header headers[] = {
    /* Out of order and mixed case on purpose: sigv4 sorts. */
    { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
    { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
    { "Host", EXAMPLE_HOST },
    { "x-amz-date", "20130524T000000Z" },
    { "X-Amz-Content-Sha256", hash },
  };
  const struct sigv4_request req = {
    .method = "PUT",
    .path = "/test$file.text",
    .headers = headers,
    .n_headers = 5,
    .payload_sha256 = hash,
  };

  if (sigv4_sha256_hex (payload, strlen (payload), hash) == -1) {
    fprintf (stderr, "FAIL: sigv4_sha256_hex: %m\n");
    failures++;
    return;
  }
  check_str (
      "PUT object: payload hash", hash,
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  check_example (
      "PUT object", &req,
      "PUT\n"
      "/test%24file.text\n"
      "\n"
      "date:Fri, 24 May 2013 00:00:00 GMT\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:"
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
      "x-amz-date:20130524T000000Z\n"
      "x-amz-storage-class:REDUCED_REDUNDANCY\n"
      "\n"
      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
      NULL,
      "AWS4-HMAC-SHA256 "
      "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
      "x-amz-storage-class,Signature=",
      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void
test_get_lifecycle (void)
{
  const struct sigv4_param params[] = { { "lifecycle", NULL } };
  const struct sigv4_header headers[] = {
    { "Host", EXAMPLE_HOST },
    { "x-amz-date", "20130524T000000Z" },
    { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
  };
  const struct sigv4_request req = {
    .method = "GET",
    .path = "/",
    .params = params,
    .n_params = 1,
    .headers = headers,
    .n_headers = 3,
    .payload_sha256 = SIGV4_EMPTY_SHA256,
  };

  check_example (
      "GET bucket lifecycle", &req,
      "GET\n"
      "/\n"
      "lifecycle=\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n"
      "\n"
      "host;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      NULL,
      "AWS4-HMAC-SHA256 "
      "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=",
      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void
test_list_objects (void)
{
  /* Given in the wrong order: the canonical query must sort them. */
  const struct sigv4_param params[] = {
    { "prefix", "J" },
    { "max-keys", "2" },
  };
  const struct sigv4_header headers[] = {
    { "Host", EXAMPLE_HOST },
    { "x-amz-date", "20130524T000000Z" },
    { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
  };
  const struct sigv4_request req = {
    .method = "GET",
    .path = "/",
    .params = params,
    .n_params = 2,
    .headers = headers,
    .n_headers = 3,
    .payload_sha256 = SIGV4_EMPTY_SHA256,
  };

  check_example (
      "GET bucket (list objects)", &req,
      "GET\n"
      "/\n"
      "max-keys=2&prefix=J\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n"
      "\n"
      "host;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      NULL,
      "AWS4-HMAC-SHA256 "
      "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=",
      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void
test_signing_key (void)
{
  unsigned char key[32];
  char hex[65];
  int i;

  if (sigv4_signing_key ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                         "us-east-1", "iam", key)
      == -1) {
    fprintf (stderr, "FAIL: sigv4_signing_key: %m\n");
    failures++;
    return;
  }
  for (i = 0; i < 32; i++)
    snprintf (hex + 2 * i, 3, "%02x", key[i]);
  check_str (
      "signing key (AWS example)", hex,
      "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

static void
test_uri_encode (void)
{
  char *s;

  s = sigv4_uri_encode ("a/b c~d-e_f.g$h+i=j&k%l", true);
  check_str ("uri encode a path", s, "a/b%20c~d-e_f.g%24h%2Bi%3Dj%26k%25l");
  free (s);
  s = sigv4_uri_encode ("a/b c", false);
  check_str ("uri encode a query value", s, "a%2Fb%20c");
  free (s);
  s = sigv4_uri_encode ("\xc3\xa9\x01\xff", false);
  check_str ("uri encode UTF-8 and control bytes", s, "%C3%A9%01%FF");
  free (s);
  s = sigv4_uri_encode ("", true);
  check_str ("uri encode the empty string", s, "");
  free (s);
}

static void
test_canonical_query (void)
{
  /* Byte order of the ENCODED names: "continuation-token" < "list-type",
   * "a%20" < "a-" (since '%' < '-'), and repeated names by value.
   */
  const struct sigv4_param params[] = {
    { "list-type", "2" },
    { "prefix", "disks/a b/" },
    { "continuation-token", "1/x+y=" },
    { "a-", "1" },
    { "a ", "2" },
    { "k", "b" },
    { "k", "a" },
  };
  char *q = sigv4_canonical_query (params, 7);

  check_str ("canonical query sorting and encoding", q,
             "a%20=2&a-=1&continuation-token=1%2Fx%2By%3D&k=a&k=b&"
             "list-type=2&prefix=disks%2Fa%20b%2F");
  free (q);
  q = sigv4_canonical_query (NULL, 0);
  check_str ("canonical query of nothing", q, "");
  free (q);
}

static void
test_canonical_headers (void)
{
  const struct sigv4_header headers[] = {
    { "X-Amz-Meta-B", "  two   inner\t spaces  " },
    { "host", "h:7600" },
    { "x-amz-meta-a", "1" },
    { "X-AMZ-META-A", "2" },
  };
  const struct sigv4_request req = {
    .method = "DELETE",
    .path = "/bucket/dir/my key+1",
    .headers = headers,
    .n_headers = 4,
    .payload_sha256 = "UNSIGNED-PAYLOAD",
  };
  char *sh = NULL;
  char *creq = sigv4_canonical_request (&req, &sh);

  check_str ("canonical headers: trim, collapse, join, sort", creq,
             "DELETE\n"
             "/bucket/dir/my%20key%2B1\n"
             "\n"
             "host:h:7600\n"
             "x-amz-meta-a:1,2\n"
             "x-amz-meta-b:two inner spaces\n"
             "\n"
             "host;x-amz-meta-a;x-amz-meta-b\n"
             "UNSIGNED-PAYLOAD");
  check_str ("signed headers list", sh, "host;x-amz-meta-a;x-amz-meta-b");
  free (creq);
  free (sh);
}

static void
test_rejects (void)
{
  const struct sigv4_header bad_value[] = { { "host", "a\r\nx-evil: 1" } };
  const struct sigv4_header bad_name[] = { { "ho st", "a" } };
  struct sigv4_request req = {
    .method = "GET",
    .path = "/x",
    .headers = bad_value,
    .n_headers = 1,
    .payload_sha256 = SIGV4_EMPTY_SHA256,
  };
  struct sigv4_signer signer = example_signer;
  char *s;

  errno = 0;
  s = sigv4_canonical_request (&req, NULL);
  check_true ("header value with CRLF is refused (EINVAL)",
              s == NULL && errno == EINVAL);
  free (s);

  req.headers = bad_name;
  errno = 0;
  s = sigv4_canonical_request (&req, NULL);
  check_true ("header name with a space is refused (EINVAL)",
              s == NULL && errno == EINVAL);
  free (s);

  req.n_headers = 0;
  req.path = "x";
  errno = 0;
  s = sigv4_canonical_request (&req, NULL);
  check_true ("relative path is refused (EINVAL)",
              s == NULL && errno == EINVAL);
  free (s);

  req.path = "/x";
  signer.amz_date = "2013-05-24T00:00:00Z";
  errno = 0;
  s = sigv4_authorization (&signer, &req);
  check_true ("malformed x-amz-date is refused (EINVAL)",
              s == NULL && errno == EINVAL);
  free (s);

  signer = example_signer;
  signer.region = "us-east-1/x";
  errno = 0;
  s = sigv4_authorization (&signer, &req);
  check_true ("region with '/' is refused (EINVAL)",
              s == NULL && errno == EINVAL);
  free (s);

  signer = example_signer;
  s = sigv4_authorization (&signer, &req);
  check_true ("authorization holds no secret",
              s != NULL && strstr (s, signer.secret_key) == NULL);
  free (s);
}

static void
test_format_date (void)
{
  char d[17];

  check_true ("format date 2013-05-24", sigv4_format_date (1369353600, d) == 0);
  check_str ("x-amz-date of 1369353600", d, "20130524T000000Z");
}

int
main (void)
{
  test_get_object ();
  test_put_object ();
  test_get_lifecycle ();
  test_list_objects ();
  test_signing_key ();
  test_uri_encode ();
  test_canonical_query ();
  test_canonical_headers ();
  test_rejects ();
  test_format_date ();

  if (failures) {
    fprintf (stderr, "test-sigv4: %d failure(s)\n", failures);
    return 1;
  }
  printf ("test-sigv4: all passed\n");
  return 0;
}
