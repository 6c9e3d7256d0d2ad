/* s3cow: the sources of credentials, and fetching a new set from one
 * (creds_fetch, for the renewal in credentials.c).
 *
 * Each source is a fetch function that makes a new credential set:
 *
 *   SRC_STATIC     the keys given (no renewal)
 *   SRC_WEB_ID     POST AssumeRoleWithWebIdentity to STS with the token
 *                  file's content (re-read each time: it is rotated)
 *   SRC_PROCESS    /bin/sh -c COMMAND, its stdout (JSON) within 30 s
 *   SRC_CONTAINER  GET the container endpoint, Authorization from the
 *                  token file (re-read each time) or the variable
 *   SRC_IMDS       PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-
 *                  seconds), GET .../iam/security-credentials/ (the role),
 *                  GET .../iam/security-credentials/ROLE, with the token
 *                  (without one if the PUT fails and IMDSv1 is allowed)
 *   SRC_ASSUME_ROLE  POST AssumeRole to STS, signed (SigV4) with the source
 *                  profile's credentials
 *
 * Every HTTP exchange is one libcurl easy request, bounded in time (a
 * connect timeout, a total timeout) and in size (BODY_MAX).  The answers
 * are parsed by creds_parse_sts and creds_parse_json (credentials.h).
 *
 * No lock is taken here: a fetch runs without creds.lock and reads only
 * the provider's fixed fields (credentials-internal.h).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cleanup.h"
#include "credentials-internal.h"
#include "credentials.h"
#include "log.h"
#include "s3_xml.h"
#include "sigv4.h"

extern char **environ;

#define BODY_MAX ((size_t)64 * 1024) /* any answer of a credential source */
#define TOKEN_FILE_MAX                                                         \
  ((size_t)16 * 1024)      /* a web identity or container token */
#define PROCESS_SECONDS 30 /* credential_process time limit */
#define IMDS_TOKEN_TTL "21600"

/* ISO 8601 in UTC or with an offset: 2026-01-02T03:04:05[.fff](Z|+hh:mm). */
static int
parse_time (const char *s, time_t *t)
{
  struct tm tm = { 0 };
  int n = 0, oh = 0, om = 0;
  char sign;

  if (sscanf (s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n)
          != 6
      || n != 19)
    return -1;
  s += n;
  if (*s == '.') {
    s++;
    while (*s >= '0' && *s <= '9')
      s++;
  }
  sign = *s;
  if (!(sign == 'Z' && s[1] == '\0')
      && !((sign == '+' || sign == '-')
           && sscanf (s + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && n == 5
           && s[6] == '\0' && oh < 24 && om < 60))
    return -1;
  if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1
      || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *t = timegm (&tm);
  if (*t == (time_t)-1)
    return -1;
  if (sign == '+')
    *t -= oh * 3600 + om * 60;
  else if (sign == '-')
    *t += oh * 3600 + om * 60;
  return 0;
}

/* --- Parsers ------------------------------------------------------------ */

int
creds_parse_sts (const char *xml, size_t len, struct creds_set **set,
                 char *errmsg, size_t errmsg_size)
{
  char *ak = NULL, *sk = NULL, *token = NULL, *exp = NULL;
  time_t t = 0;
  int ret = -1;

  *set = NULL;
  if (s3_xml_text (xml, len, "AccessKeyId", &ak) != 1
      || s3_xml_text (xml, len, "SecretAccessKey", &sk) != 1
      || s3_xml_text (xml, len, "SessionToken", &token) == -1
      || s3_xml_text (xml, len, "Expiration", &exp) != 1) {
    char *code = NULL, *msg = NULL;

    if (s3_xml_text (xml, len, "Code", &code) == 1) {
      if (s3_xml_text (xml, len, "Message", &msg) != 1)
        msg = NULL;
      snprintf (errmsg, errmsg_size, "STS error %.64s%s%.160s", code,
                msg ? ": " : "", msg ? msg : "");
    } else
      snprintf (errmsg, errmsg_size,
                "not an AssumeRoleWithWebIdentity "
                "answer with Credentials");
    free (code);
    free (msg);
    goto out;
  }
  if (parse_time (exp, &t) == -1) {
    snprintf (errmsg, errmsg_size, "bad Expiration \"%.40s\"", exp);
    goto out;
  }
  *set = creds_set_new (ak, sk, token, t, errmsg, errmsg_size);
  if (*set)
    ret = 0;

out:
  free (ak);
  free_secret (sk);
  free_secret (token);
  free (exp);
  return ret;
}

/* A string member of obj, or NULL. */
static const char *
json_str (struct json_object *obj, const char *key)
{
  struct json_object *v;

  if (!json_object_object_get_ex (obj, key, &v)
      || !json_object_is_type (v, json_type_string))
    return NULL;
  return json_object_get_string (v);
}

int
creds_parse_json (const char *json, size_t len, bool process,
                  struct creds_set **set, char *errmsg, size_t errmsg_size)
{
  struct json_tokener *tok;
  struct json_object *obj = NULL, *v;
  const char *code, *exp;
  time_t t = 0;
  int ret = -1;

  *set = NULL;
  tok = json_tokener_new_ex (16);
  if (tok == NULL) {
    snprintf (errmsg, errmsg_size, "out of memory");
    return -1;
  }
  if (len <= (size_t)0x7fffffff)
    obj = json_tokener_parse_ex (tok, json, (int)len);
  if (obj == NULL || json_tokener_get_error (tok) != json_tokener_success
      || !json_object_is_type (obj, json_type_object)) {
    snprintf (errmsg, errmsg_size, "the answer is not a JSON object");
    goto out;
  }
  if (process
      && (!json_object_object_get_ex (obj, "Version", &v)
          || !json_object_is_type (v, json_type_int)
          || json_object_get_int (v) != 1)) {
    snprintf (errmsg, errmsg_size, "the output lacks \"Version\": 1");
    goto out;
  }
  code = json_str (obj, "Code");
  if (code && strcmp (code, "Success") != 0) {
    const char *m = json_str (obj, "Message");

    snprintf (errmsg, errmsg_size, "the answer says %.64s%s%.120s", code,
              m ? ": " : "", m ? m : "");
    goto out;
  }
  exp = json_str (obj, "Expiration");
  if (exp && parse_time (exp, &t) == -1) {
    snprintf (errmsg, errmsg_size, "bad Expiration \"%.40s\"", exp);
    goto out;
  }
  if (!process && exp == NULL) {
    snprintf (errmsg, errmsg_size, "the answer lacks Expiration");
    goto out;
  }
  *set = creds_set_new (json_str (obj, "AccessKeyId"),
                        json_str (obj, "SecretAccessKey"),
                        json_str (obj, process ? "SessionToken" : "Token"), t,
                        errmsg, errmsg_size);
  if (*set)
    ret = 0;

out:
  if (obj) {
    /* Wipe the secrets json-c copied. */
    const char *sk = json_str (obj, "SecretAccessKey");
    const char *tk = json_str (obj, process ? "SessionToken" : "Token");

    if (sk)
      explicit_bzero ((char *)sk, strlen (sk));
    if (tk)
      explicit_bzero ((char *)tk, strlen (tk));
    json_object_put (obj);
  }
  json_tokener_free (tok);
  return ret;
}

/* --- HTTP --------------------------------------------------------------- */

struct body {
  char data[BODY_MAX + 1];
  size_t len;
  bool too_big;
};

static size_t
body_write (char *ptr, size_t size, size_t nmemb, void *opaque)
{
  struct body *b = opaque;
  size_t n = size * nmemb;

  if (n > BODY_MAX - b->len) {
    b->too_big = true;
    return 0;
  }
  memcpy (b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

/* One request.  Returns the HTTP status (b holds the body), or -1 with
 * errmsg.  post: a form body (POST), or NULL (method as given).
 */
static long
http_call (const char *method, const char *url, struct curl_slist *headers,
           const char *post, long connect_ms, long total_ms, struct body *b,
           char *errmsg, size_t errmsg_size)
{
  CURL *h = curl_easy_init ();
  char curl_err[CURL_ERROR_SIZE] = "";
  long status = -1;
  CURLcode rc;

  b->len = 0;
  b->data[0] = '\0';
  b->too_big = false;
  if (h == NULL) {
    snprintf (errmsg, errmsg_size, "cannot make a curl handle");
    return -1;
  }
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, total_ms);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, curl_err);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, body_write);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, b);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, headers);
  if (post)
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, post);
  else if (strcmp (method, "PUT") == 0) {
    curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt (h, CURLOPT_POSTFIELDS, "");
  }
  rc = curl_easy_perform (h);
  if (rc == CURLE_OK)
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
  else if (b->too_big)
    snprintf (errmsg, errmsg_size, "answer larger than %zu bytes", BODY_MAX);
  else
    snprintf (errmsg, errmsg_size, "%s",
              curl_err[0] ? curl_err : curl_easy_strerror (rc));
  curl_easy_cleanup (h);
  return status;
}

/* A whole small file (a token), without trailing blanks.  NULL with errmsg. */
static char *
read_token_file (const char *file, char *errmsg, size_t errmsg_size)
{
  FILE *fp = fopen (file, "re");
  char *buf;
  size_t n;

  if (fp == NULL) {
    snprintf (errmsg, errmsg_size, "%s: %s", file, strerror (errno));
    return NULL;
  }
  buf = malloc (TOKEN_FILE_MAX + 1);
  if (buf == NULL) {
    fclose (fp);
    snprintf (errmsg, errmsg_size, "out of memory");
    return NULL;
  }
  n = fread (buf, 1, TOKEN_FILE_MAX + 1, fp);
  if (ferror (fp) || n > TOKEN_FILE_MAX || n == 0) {
    snprintf (errmsg, errmsg_size, "%s: %s", file,
              ferror (fp) ? "read error"
              : n == 0    ? "empty"
                          : "larger than 16 KiB");
    fclose (fp);
    explicit_bzero (buf, TOKEN_FILE_MAX + 1);
    free (buf);
    return NULL;
  }
  fclose (fp);
  while (n > 0 && strchr (" \t\r\n", buf[n - 1]))
    n--;
  buf[n] = '\0';
  return buf;
}

/* --- Sources ------------------------------------------------------------ */

/* POST form to STS at url; its answer's credentials, or NULL with errmsg. */
static struct creds_set *
post_sts (const char *url, struct curl_slist *hdrs, const char *form,
          struct body *b, char *errmsg, size_t errmsg_size)
{
  struct creds_set *set = NULL;
  long status;

  status = http_call ("POST", url, hdrs, form, 5000, 15000, b, errmsg,
                      errmsg_size);
  if (status == -1)
    return NULL;
  if (creds_parse_sts (b->data, b->len, &set, errmsg, errmsg_size) == -1) {
    if (status != 200) {
      char why[200];

      snprintf (why, sizeof why, "%s", errmsg);
      snprintf (errmsg, errmsg_size, "HTTP %ld: %s", status, why);
    }
    return NULL;
  }
  return set;
}

/* c->a role ARN, c->b token file, c->c STS endpoint. */
static struct creds_set *
fetch_web_identity (struct creds *c, struct body *b, char *errmsg,
                    size_t errmsg_size)
{
  CURL *h = curl_easy_init ();
  char *token = NULL, *e_token = NULL, *e_arn = NULL, *e_name = NULL;
  char *form = NULL, *name = NULL;
  struct curl_slist *hdrs = NULL;
  struct creds_set *set = NULL;

  if (h == NULL) {
    snprintf (errmsg, errmsg_size, "out of memory");
    goto out;
  }
  token = read_token_file (c->b, errmsg, errmsg_size);
  if (token == NULL)
    goto out;
  name = strdup (env ("AWS_ROLE_SESSION_NAME") ? env ("AWS_ROLE_SESSION_NAME")
                                               : "s3cow");
  e_token = curl_easy_escape (h, token, 0);
  e_arn = curl_easy_escape (h, c->a, 0);
  e_name = name ? curl_easy_escape (h, name, 0) : NULL;
  if (e_token == NULL || e_arn == NULL || e_name == NULL
      || asprintf (&form,
                   "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                   "&RoleArn=%s&RoleSessionName=%s&WebIdentityToken=%s",
                   e_arn, e_name, e_token)
             == -1) {
    form = NULL;
    snprintf (errmsg, errmsg_size, "out of memory");
    goto out;
  }
  hdrs = curl_slist_append (NULL, "Accept: application/xml");
  set = post_sts (c->c, hdrs, form, b, errmsg, errmsg_size);

out:
  curl_slist_free_all (hdrs);
  if (e_token) {
    explicit_bzero (e_token, strlen (e_token));
    curl_free (e_token);
  }
  curl_free (e_arn);
  curl_free (e_name);
  free (name);
  free_secret (form);
  free_secret (token);
  if (h)
    curl_easy_cleanup (h);
  return set;
}

/* c->a the command. */
static struct creds_set *
fetch_process (struct creds *c, struct body *b, char *errmsg,
               size_t errmsg_size)
{
  char *argv[] = { (char *)"sh", (char *)"-c", c->a, NULL };
  posix_spawn_file_actions_t fa;
  struct creds_set *set = NULL;
  int fds[2], status = 0, err;
  pid_t pid;
  time_t deadline = time (NULL) + PROCESS_SECONDS;
  bool timed_out = false;

  if (pipe2 (fds, O_CLOEXEC) == -1) {
    snprintf (errmsg, errmsg_size, "pipe: %s", strerror (errno));
    return NULL;
  }
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, fds[1], 1);
  err = posix_spawn (&pid, "/bin/sh", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (fds[1]);
  if (err != 0) {
    close (fds[0]);
    snprintf (errmsg, errmsg_size, "cannot run /bin/sh: %s", strerror (err));
    return NULL;
  }
  for (;;) {
    struct pollfd p = { .fd = fds[0], .events = POLLIN };
    time_t left = deadline - time (NULL);
    ssize_t n;

    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (poll (&p, 1, (int)left * 1000) <= 0) {
      if (errno == EINTR)
        continue;
      timed_out = true;
      break;
    }
    n = read (fds[0], b->data + b->len, BODY_MAX - b->len);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    b->len += (size_t)n;
    if (b->len == BODY_MAX) {
      b->too_big = true;
      break;
    }
  }
  close (fds[0]);
  if (timed_out || b->too_big)
    kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
    ;
  if (timed_out)
    snprintf (errmsg, errmsg_size, "credential_process did not finish in %d s",
              PROCESS_SECONDS);
  else if (b->too_big)
    snprintf (errmsg, errmsg_size,
              "credential_process printed more than %zu bytes", BODY_MAX);
  else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    snprintf (errmsg, errmsg_size, "credential_process failed (%s %d)",
              WIFEXITED (status) ? "exit status" : "signal",
              WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
  else if (creds_parse_json (b->data, b->len, true, &set, errmsg, errmsg_size)
           == -1)
    set = NULL;
  explicit_bzero (b->data, b->len);
  return set;
}

/* c->a the URL, c->b token file or NULL, c->c token or NULL. */
static struct creds_set *
fetch_container (struct creds *c, struct body *b, char *errmsg,
                 size_t errmsg_size)
{
  struct curl_slist *hdrs = NULL;
  struct creds_set *set = NULL;
  char *token = NULL, *auth = NULL;
  long status;

  if (c->b) {
    token = read_token_file (c->b, errmsg, errmsg_size);
    if (token == NULL)
      return NULL;
  }
  if (token || c->c) {
    const char *t = token ? token : c->c;

    if (strpbrk (t, "\r\n")) {
      snprintf (errmsg, errmsg_size,
                "the authorization token has a line "
                "break");
      goto out;
    }
    if (asprintf (&auth, "Authorization: %s", t) == -1) {
      auth = NULL;
      snprintf (errmsg, errmsg_size, "out of memory");
      goto out;
    }
    hdrs = curl_slist_append (NULL, auth);
  }
  status
      = http_call ("GET", c->a, hdrs, NULL, 2000, 5000, b, errmsg, errmsg_size);
  if (status == -1)
    goto out;
  if (status != 200) {
    snprintf (errmsg, errmsg_size, "HTTP %ld", status);
    goto out;
  }
  if (creds_parse_json (b->data, b->len, false, &set, errmsg, errmsg_size)
      == -1)
    set = NULL;

out:
  if (hdrs) {
    /* The header copy holds the token. */
    explicit_bzero (hdrs->data, strlen (hdrs->data));
    curl_slist_free_all (hdrs);
  }
  free_secret (auth);
  free_secret (token);
  return set;
}

/* c->a the base URL ("http://169.254.169.254"); c->b non-NULL: IMDSv1 is
 * allowed, for an instance whose token PUT fails (IMDSv2 answers lost
 * beyond the hop limit, in a container), and only then.
 */
static struct creds_set *
fetch_imds (struct creds *c, struct body *b, char *errmsg, size_t errmsg_size)
{
  CLEANUP_FREE char *url = NULL;
  CLEANUP_FREE char *role = NULL;
  struct curl_slist *hdrs = NULL;
  struct creds_set *set = NULL;
  char *hdr = NULL;
  long status;
  size_t n;

  /* 1. A session token. */
  if (asprintf (&url, "%s/latest/api/token", c->a) == -1) {
    url = NULL;
    goto oom;
  }
  hdrs = curl_slist_append (
      NULL, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL);
  status
      = http_call ("PUT", url, hdrs, NULL, 1000, 5000, b, errmsg, errmsg_size);
  curl_slist_free_all (hdrs);
  hdrs = NULL;
  if (status == -1 && c->b == NULL)
    return NULL;
  if (status != 200 || b->len == 0 || strpbrk (b->data, "\r\n")) {
    if (c->b == NULL) {
      snprintf (errmsg, errmsg_size, "token: HTTP %ld%s", status,
                status == 200 ? " with a bad token" : "");
      goto out;
    }
    s3cow_debug (http,
                 "credentials: no IMDSv2 token (%s): IMDSv1, as "
                 "AWS_EC2_METADATA_V1_DISABLED=false allows",
                 status == -1 ? errmsg : "an HTTP error");
  } else {
    if (asprintf (&hdr, "X-aws-ec2-metadata-token: %s", b->data) == -1) {
      hdr = NULL;
      goto oom;
    }
    hdrs = curl_slist_append (NULL, hdr);
    if (hdrs == NULL)
      goto oom;
  }

  /* 2. The role. */
  free (url);
  if (asprintf (&url, "%s/latest/meta-data/iam/security-credentials/", c->a)
      == -1) {
    url = NULL;
    goto oom;
  }
  status
      = http_call ("GET", url, hdrs, NULL, 1000, 5000, b, errmsg, errmsg_size);
  if (status == -1)
    goto out;
  n = strcspn (b->data, "\r\n");
  if (status != 200 || n == 0 || strchr (b->data, '/') || n > 128) {
    if (status == 200)
      snprintf (errmsg, errmsg_size, "no IAM role on this instance");
    else
      snprintf (errmsg, errmsg_size, "role: HTTP %ld%s", status,
                status == 404 ? " (no IAM role on this instance)" : "");
    goto out;
  }
  role = strndup (b->data, n);
  if (role == NULL)
    goto oom;

  /* 3. Its credentials. */
  free (url);
  if (asprintf (&url, "%s/latest/meta-data/iam/security-credentials/%s", c->a,
                role)
      == -1) {
    url = NULL;
    goto oom;
  }
  status
      = http_call ("GET", url, hdrs, NULL, 1000, 5000, b, errmsg, errmsg_size);
  if (status == -1)
    goto out;
  if (status != 200) {
    snprintf (errmsg, errmsg_size, "role %s: HTTP %ld", role, status);
    goto out;
  }
  if (creds_parse_json (b->data, b->len, false, &set, errmsg, errmsg_size)
      == -1)
    set = NULL;
  goto out;

oom:
  snprintf (errmsg, errmsg_size, "out of memory");
out:
  if (hdrs) {
    explicit_bzero (hdrs->data, strlen (hdrs->data));
    curl_slist_free_all (hdrs);
  }
  free_secret (hdr);
  explicit_bzero (b->data, b->len);
  return set;
}

/* c->a role ARN, c->b STS endpoint, c->c the region to sign for,
 * c->inner the source profile's credentials, which sign the request.
 */
static struct creds_set *
fetch_assume_role (struct creds *c, struct body *b, char *errmsg,
                   size_t errmsg_size)
{
  CURL *h = curl_easy_init ();
  struct creds_set *inner = NULL, *set = NULL;
  char *e_arn = NULL, *e_name = NULL, *form = NULL, *auth = NULL;
  char *host = NULL, *hdr = NULL;
  const char *name
      = env ("AWS_ROLE_SESSION_NAME") ? env ("AWS_ROLE_SESSION_NAME") : "s3cow";
  const char *start, *path;
  char amz_date[17], payload[65];
  struct sigv4_header sh[5];
  size_t n = 0;
  struct curl_slist *hdrs = NULL;

  if (h == NULL) {
    snprintf (errmsg, errmsg_size, "out of memory");
    goto out;
  }
  if (creds_get (c->inner, &inner, errmsg, errmsg_size) == -1)
    goto out;
  /* The Host header and the path, from "http[s]://HOST[:PORT][/PATH]". */
  start = strstr (c->b, "://");
  start = start ? start + 3 : c->b;
  path = strchr (start, '/');
  host = path ? strndup (start, path - start) : strdup (start);
  e_arn = curl_easy_escape (h, c->a, 0);
  e_name = curl_easy_escape (h, name, 0);
  if (host == NULL || e_arn == NULL || e_name == NULL
      || asprintf (&form,
                   "Action=AssumeRole&Version=2011-06-15&RoleArn=%s"
                   "&RoleSessionName=%s",
                   e_arn, e_name)
             == -1) {
    form = NULL;
    snprintf (errmsg, errmsg_size, "out of memory");
    goto out;
  }
  if (sigv4_format_date (time (NULL), amz_date) == -1
      || sigv4_sha256_hex (form, strlen (form), payload) == -1) {
    snprintf (errmsg, errmsg_size, "cannot sign the STS request");
    goto out;
  }
  sh[n++] = (struct sigv4_header){ "Host", host };
  sh[n++] = (struct sigv4_header){ "Content-Type",
                                   "application/x-www-form-urlencoded" };
  sh[n++] = (struct sigv4_header){ "x-amz-date", amz_date };
  if (inner->session_token)
    sh[n++]
        = (struct sigv4_header){ "x-amz-security-token", inner->session_token };
  auth = sigv4_authorization (
      &(struct sigv4_signer){ .access_key = inner->access_key,
                              .secret_key = inner->secret_key,
                              .region = c->c,
                              .service = "sts",
                              .amz_date = amz_date },
      &(struct sigv4_request){ .method = "POST",
                               .path = path ? path : "/",
                               .headers = sh,
                               .n_headers = n,
                               .payload_sha256 = payload });
  if (auth == NULL) {
    snprintf (errmsg, errmsg_size, "cannot sign the STS request");
    goto out;
  }
  hdrs = curl_slist_append (NULL, "Accept: application/xml");
  for (size_t i = 1; i < n && hdrs; i++) { /* Host: curl sends it */
    free_secret (hdr);
    hdr = NULL;
    if (asprintf (&hdr, "%s: %s", sh[i].name, sh[i].value) == -1) {
      hdr = NULL;
      break;
    }
    hdrs = curl_slist_append (hdrs, hdr);
  }
  free_secret (hdr);
  hdr = NULL;
  if (hdrs == NULL || asprintf (&hdr, "Authorization: %s", auth) == -1
      || (hdrs = curl_slist_append (hdrs, hdr)) == NULL) {
    snprintf (errmsg, errmsg_size, "out of memory");
    goto out;
  }
  set = post_sts (c->b, hdrs, form, b, errmsg, errmsg_size);

out:
  if (hdrs) {
    struct curl_slist *l;

    for (l = hdrs; l; l = l->next)
      explicit_bzero (l->data, strlen (l->data));
    curl_slist_free_all (hdrs);
  }
  free_secret (hdr);
  free_secret (auth);
  free (host);
  curl_free (e_arn);
  curl_free (e_name);
  free (form);
  creds_set_unref (inner);
  if (h)
    curl_easy_cleanup (h);
  return set;
}

struct creds_set *
creds_fetch (struct creds *c, char *errmsg, size_t errmsg_size)
{
  struct body *b = malloc (sizeof *b);
  struct creds_set *set = NULL;

  if (b == NULL) {
    snprintf (errmsg, errmsg_size, "out of memory");
    return NULL;
  }
  b->len = 0;
  b->too_big = false;
  switch (c->kind) {
  case SRC_WEB_ID:
    set = fetch_web_identity (c, b, errmsg, errmsg_size);
    break;
  case SRC_PROCESS:
    set = fetch_process (c, b, errmsg, errmsg_size);
    break;
  case SRC_CONTAINER:
    set = fetch_container (c, b, errmsg, errmsg_size);
    break;
  case SRC_IMDS:
    set = fetch_imds (c, b, errmsg, errmsg_size);
    break;
  case SRC_ASSUME_ROLE:
    set = fetch_assume_role (c, b, errmsg, errmsg_size);
    break;
  case SRC_STATIC:
    snprintf (errmsg, errmsg_size, "fixed keys cannot be renewed");
    break;
  }
  /* The body may hold a secret. */
  explicit_bzero (b, sizeof *b);
  free (b);
  return set;
}
