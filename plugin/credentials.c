/* s3cow: the credential chain and renewal (see credentials.h).
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
 *
 * Every HTTP exchange is one libcurl easy request, bounded in time (a
 * connect timeout, a total timeout) and in size (BODY_MAX).
 *
 * Locking: creds.lock guards cur, refresh_at, retry_at, fails, refreshing,
 * have_thread, thread, last_error.  It is never held across a fetch:
 * whoever sets refreshing does the fetch without the lock, then installs
 * the result under it and broadcasts done.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cleanup.h"
#include "credentials.h"
#include "log.h"
#include "s3_xml.h"

extern char **environ;

#define BODY_MAX ((size_t)64 * 1024) /* any answer of a credential source */
#define TOKEN_FILE_MAX                                                         \
  ((size_t)16 * 1024)      /* a web identity or container token */
#define PROCESS_SECONDS 30 /* credential_process time limit */
#define IMDS_TOKEN_TTL "21600"
#define RETRY_MIN 5  /* seconds before retrying a failed renewal */
#define RETRY_MAX 60 /* ... doubling up to this */
#define MARGIN_MIN 300

enum source {
  SRC_STATIC,
  SRC_WEB_ID,
  SRC_PROCESS,
  SRC_CONTAINER,
  SRC_IMDS,
};

struct creds {
  atomic_uint refs;
  enum source kind;
  char *source;    /* for messages: "instance metadata at http://...", ... */
  char *a, *b, *c; /* per source: see the creds_new_* */

  pthread_mutex_t lock; /* guards the fields below */
  pthread_cond_t done;  /* a renewal ended */
  struct creds_set *cur;
  time_t refresh_at; /* start a background renewal then (0: never) */
  time_t retry_at;   /* not before then after a failure */
  unsigned fails;    /* renewals failed in a row */
  bool refreshing;   /* a fetch is under way */
  pid_t refresh_pid; /* ... in this process (a fork loses the thread) */
  bool have_thread;  /* thread is joinable */
  pthread_t thread;
  char last_error[256];
};

static bool
empty (const char *s)
{
  return s == NULL || s[0] == '\0';
}

static const char *
env (const char *name)
{
  const char *v = getenv (name);

  return empty (v) ? NULL : v;
}

static void
free_secret (char *s)
{
  if (s) {
    explicit_bzero (s, strlen (s));
    free (s);
  }
}

void
creds_set_unref (struct creds_set *set)
{
  if (set == NULL || atomic_fetch_sub (&set->refs, 1) != 1)
    return;
  free (set->access_key);
  free_secret (set->secret_key);
  free_secret (set->session_token);
  free (set);
}

/* A new set with copies of the strings (token may be NULL or ""). */
static struct creds_set *
set_new (const char *ak, const char *sk, const char *token, time_t expiration,
         char *errmsg, size_t errmsg_size)
{
  struct creds_set *set;

  if (empty (ak) || empty (sk)) {
    snprintf (errmsg, errmsg_size, "the answer lacks %s",
              empty (ak) ? "the access key id" : "the secret access key");
    return NULL;
  }
  if (strpbrk (ak, "/, \r\n") != NULL) {
    snprintf (errmsg, errmsg_size,
              "the access key id has a character that "
              "cannot be in one");
    return NULL;
  }
  if ((token && strpbrk (token, "\r\n")) || strpbrk (sk, "\r\n")) {
    snprintf (errmsg, errmsg_size, "a key or token has a line break");
    return NULL;
  }
  set = calloc (1, sizeof *set);
  if (set == NULL)
    goto oom;
  atomic_init (&set->refs, 1);
  set->expiration = expiration;
  set->access_key = strdup (ak);
  set->secret_key = strdup (sk);
  if (!empty (token))
    set->session_token = strdup (token);
  if (set->access_key == NULL || set->secret_key == NULL
      || (!empty (token) && set->session_token == NULL)) {
    creds_set_unref (set);
    goto oom;
  }
  return set;

oom:
  snprintf (errmsg, errmsg_size, "out of memory");
  return NULL;
}

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
  *set = set_new (ak, sk, token, t, errmsg, errmsg_size);
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
  *set = set_new (json_str (obj, "AccessKeyId"),
                  json_str (obj, "SecretAccessKey"),
                  json_str (obj, process ? "SessionToken" : "Token"), t, errmsg,
                  errmsg_size);
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
  long status;

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
  status = http_call ("POST", c->c, hdrs, form, 5000, 15000, b, errmsg,
                      errmsg_size);
  if (status == -1)
    goto out;
  if (creds_parse_sts (b->data, b->len, &set, errmsg, errmsg_size) == -1) {
    if (status != 200) {
      char why[200];

      snprintf (why, sizeof why, "%s", errmsg);
      snprintf (errmsg, errmsg_size, "HTTP %ld: %s", status, why);
    }
    set = NULL;
  }

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

/* c->a the base URL ("http://169.254.169.254"). */
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
  if (status == -1)
    return NULL;
  if (status != 200 || b->len == 0 || strpbrk (b->data, "\r\n")) {
    snprintf (errmsg, errmsg_size, "token: HTTP %ld%s", status,
              status == 200 ? " with a bad token" : "");
    goto out;
  }
  if (asprintf (&hdr, "X-aws-ec2-metadata-token: %s", b->data) == -1) {
    hdr = NULL;
    goto oom;
  }
  hdrs = curl_slist_append (NULL, hdr);
  if (hdrs == NULL)
    goto oom;

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

static struct creds_set *
fetch (struct creds *c, char *errmsg, size_t errmsg_size)
{
  struct body *b = malloc (sizeof *b);
  struct creds_set *set = NULL;

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
  case SRC_STATIC:
    snprintf (errmsg, errmsg_size, "fixed keys cannot be renewed");
    break;
  }
  /* The body may hold a secret. */
  explicit_bzero (b, sizeof *b);
  free (b);
  return set;
}

/* --- Providers and renewal ---------------------------------------------- */

static struct creds *
creds_alloc (enum source kind, const char *source)
{
  struct creds *c = calloc (1, sizeof *c);

  if (c == NULL || (c->source = strdup (source)) == NULL) {
    free (c);
    s3cow_log_error ("out of memory");
    return NULL;
  }
  atomic_init (&c->refs, 1);
  c->kind = kind;
  pthread_mutex_init (&c->lock, NULL);
  pthread_cond_init (&c->done, NULL);
  return c;
}

struct creds *
creds_new_static (const char *source, const char *access_key,
                  const char *secret_key, const char *session_token)
{
  struct creds *c = creds_alloc (SRC_STATIC, source);
  char errmsg[200];

  if (c == NULL)
    return NULL;
  c->cur = set_new (access_key, secret_key, session_token, 0, errmsg,
                    sizeof errmsg);
  if (c->cur == NULL) {
    s3cow_log_error ("credentials from %s: %s", source, errmsg);
    creds_unref (c);
    return NULL;
  }
  s3cow_debug (http, "credentials: fixed keys from %s", source);
  return c;
}

bool
creds_is_imds (const struct creds *c)
{
  return c->kind == SRC_IMDS;
}

struct creds *
creds_ref (struct creds *c)
{
  atomic_fetch_add (&c->refs, 1);
  return c;
}

void
creds_unref (struct creds *c)
{
  if (c == NULL || atomic_fetch_sub (&c->refs, 1) != 1)
    return;
  pthread_mutex_lock (&c->lock);
  while (c->refreshing && c->refresh_pid == getpid ())
    pthread_cond_wait (&c->done, &c->lock);
  pthread_mutex_unlock (&c->lock);
  if (c->have_thread && c->refresh_pid == getpid ())
    pthread_join (c->thread, NULL);
  creds_set_unref (c->cur);
  pthread_cond_destroy (&c->done);
  pthread_mutex_destroy (&c->lock);
  free (c->source);
  free (c->a);
  free_secret (c->b);
  free_secret (c->c);
  free (c);
}

/* Is a renewal under way in this process?  Lock held. */
static bool
renewing (const struct creds *c)
{
  return c->refreshing && c->refresh_pid == getpid ();
}

/* Fetch a new set and install it.  Called with refreshing set by the
 * caller, without the lock; returns with refreshing cleared.
 */
static void
renew (struct creds *c)
{
  char errmsg[256] = "";
  struct creds_set *set = fetch (c, errmsg, sizeof errmsg);
  time_t now = time (NULL);
  struct creds_set *old = NULL;

  if (set && set->expiration != 0 && set->expiration <= now) {
    snprintf (errmsg, sizeof errmsg,
              "the credentials it gave expired already (Expiration %lld, "
              "now %lld)",
              (long long)set->expiration, (long long)now);
    creds_set_unref (set);
    set = NULL;
  }

  pthread_mutex_lock (&c->lock);
  if (set) {
    time_t life = set->expiration - now;
    time_t margin = life / 4 > MARGIN_MIN ? life / 4 : MARGIN_MIN;

    if (margin > life / 2)
      margin = life / 2;
    old = c->cur;
    c->cur = set;
    c->fails = 0;
    c->retry_at = 0;
    c->refresh_at = set->expiration - margin;
    if (c->refresh_at < now + 1)
      c->refresh_at = now + 1;
    c->last_error[0] = '\0';
    /* The access key is not logged either: only whether it changed. */
    s3cow_debug (http,
                 "credentials: from %s: %s keys, expire in %lld s, renewed "
                 "in %lld s",
                 c->source,
                 old && strcmp (old->access_key, set->access_key) == 0
                     ? "the same"
                     : "new",
                 (long long)life, (long long)(c->refresh_at - now));
  } else {
    unsigned shift = c->fails < 4 ? c->fails : 4;
    time_t wait = (time_t)RETRY_MIN << shift;

    if (wait > RETRY_MAX)
      wait = RETRY_MAX;
    c->fails++;
    c->retry_at = now + wait;
    snprintf (c->last_error, sizeof c->last_error, "%s", errmsg);
    s3cow_log_error ("credentials from %s: %s%s", c->source, errmsg,
                     c->cur && c->cur->expiration > now
                         ? " (the current ones are still valid: retrying)"
                         : "");
  }
  c->refreshing = false;
  pthread_cond_broadcast (&c->done);
  pthread_mutex_unlock (&c->lock);
  creds_set_unref (old);
}

static void *
renew_thread (void *opaque)
{
  renew (opaque);
  return NULL;
}

/* Start a background renewal.  Lock held.  Falls back to none if the
 * thread cannot be made (the next creds_get tries again).
 */
static void
start_renewal (struct creds *c)
{
  if (c->have_thread && c->refresh_pid == getpid ()) {
    /* The last renewal thread has ended (refreshing is false): reap it. */
    pthread_join (c->thread, NULL);
  }
  c->have_thread = false;
  c->refreshing = true;
  c->refresh_pid = getpid ();
  if (pthread_create (&c->thread, NULL, renew_thread, c) != 0) {
    c->refreshing = false;
    return;
  }
  c->have_thread = true;
}

int
creds_get (struct creds *c, struct creds_set **set, char *errmsg,
           size_t errmsg_size)
{
  bool tried = false;

  *set = NULL;
  pthread_mutex_lock (&c->lock);
  for (;;) {
    time_t now = time (NULL);

    if (c->cur && (c->cur->expiration == 0 || now < c->cur->expiration)) {
      if (c->kind != SRC_STATIC && now >= c->refresh_at && now >= c->retry_at
          && !renewing (c))
        start_renewal (c);
      atomic_fetch_add (&c->cur->refs, 1);
      *set = c->cur;
      pthread_mutex_unlock (&c->lock);
      return 0;
    }
    /* None valid: renew in this thread, or wait for the renewal under
     * way; once.
     */
    if (tried || c->kind == SRC_STATIC)
      break;
    tried = true;
    if (renewing (c)) {
      while (renewing (c))
        pthread_cond_wait (&c->done, &c->lock);
      continue;
    }
    c->refreshing = true;
    c->refresh_pid = getpid ();
    pthread_mutex_unlock (&c->lock);
    renew (c);
    pthread_mutex_lock (&c->lock);
  }
  if (c->cur)
    snprintf (errmsg, errmsg_size,
              "the credentials from %s expired %lld s ago and cannot be "
              "renewed: %s",
              c->source, (long long)(time (NULL) - c->cur->expiration),
              c->last_error[0] ? c->last_error : "unknown error");
  else
    snprintf (errmsg, errmsg_size, "no credentials from %s: %s", c->source,
              c->last_error[0] ? c->last_error : "unknown error");
  pthread_mutex_unlock (&c->lock);
  return -1;
}

bool
creds_rejected (struct creds *c, const struct creds_set *used)
{
  bool ok;

  if (c->kind == SRC_STATIC)
    return false;
  pthread_mutex_lock (&c->lock);
  while (renewing (c))
    pthread_cond_wait (&c->done, &c->lock);
  if (c->cur != used) {
    pthread_mutex_unlock (&c->lock);
    return true; /* renewed since */
  }
  c->refreshing = true;
  c->refresh_pid = getpid ();
  pthread_mutex_unlock (&c->lock);
  s3cow_debug (http, "credentials: S3 rejected the keys from %s: renewing now",
               c->source);
  renew (c);
  pthread_mutex_lock (&c->lock);
  ok = c->cur != used;
  pthread_mutex_unlock (&c->lock);
  return ok;
}

/* --- The chain ---------------------------------------------------------- */

/* The profile's values we read. */
enum { K_AK, K_SK, K_TOKEN, K_PROCESS, K_REGION, K_N };
static const char *const profile_keys[K_N] = {
  "aws_access_key_id",
  "aws_secret_access_key",
  "aws_session_token",
  "credential_process",
  "region",
};

static char *
trim (char *s)
{
  size_t n;

  while (*s == ' ' || *s == '\t')
    s++;
  n = strlen (s);
  while (n > 0 && strchr (" \t\r\n", s[n - 1]))
    s[--n] = '\0';
  return s;
}

/* Read the profile's keys from an INI file into v[] (values already set
 * are kept: the credentials file is read first and wins).  config: the
 * config file, whose sections are "[profile NAME]" (but "[default]").
 * Returns 1 if the profile is there, 0 if not (or no file), -1 after
 * logging.
 */
static int
read_profile (const char *file, bool file_explicit, bool config,
              const char *profile, char *v[K_N])
{
  FILE *fp = fopen (file, "re");
  char *line = NULL;
  size_t size = 0;
  bool in = false, found = false;
  unsigned lineno = 0;
  int ret = -1, k;

  if (fp == NULL) {
    if (errno == ENOENT && !file_explicit)
      return 0;
    s3cow_log_error ("%s: %m", file);
    return -1;
  }
  while (getline (&line, &size, fp) != -1) {
    char *l = trim (line), *eq, *key;

    lineno++;
    if (l[0] == '\0' || l[0] == '#' || l[0] == ';')
      continue;
    if (l[0] == '[') {
      char *end = strchr (l, ']'), *name;

      if (end == NULL) {
        s3cow_log_error ("%s:%u: a section without ']'", file, lineno);
        goto out;
      }
      *end = '\0';
      name = trim (l + 1);
      if (strncmp (name, "profile ", 8) == 0)
        name = trim (name + 8);
      else if (config && strcmp (name, "default") != 0)
        name = NULL; /* "[NAME]" in the config file is not a profile */
      in = name && strcmp (name, profile) == 0;
      found |= in;
      continue;
    }
    if (!in)
      continue;
    eq = strchr (l, '=');
    if (eq == NULL) {
      if (l[0] == ' ' || l[0] == '\t' || line[0] == ' ' || line[0] == '\t')
        continue; /* a nested value (s3 = ...) */
      /* Do not echo the line: it may hold a secret. */
      s3cow_log_error ("%s:%u: not \"key = value\"", file, lineno);
      goto out;
    }
    *eq = '\0';
    key = trim (l);
    for (k = 0; k < K_N; k++)
      if (strcasecmp (key, profile_keys[k]) == 0 && v[k] == NULL) {
        const char *val = trim (eq + 1);

        if (val[0] && (v[k] = strdup (val)) == NULL) {
          s3cow_log_error ("strdup: %m");
          goto out;
        }
      }
  }
  if (ferror (fp)) {
    s3cow_log_error ("%s: read: %m", file);
    goto out;
  }
  ret = found;

out:
  if (line) {
    explicit_bzero (line, size);
    free (line);
  }
  fclose (fp);
  return ret;
}

static void
free_profile (char *v[K_N])
{
  int k;

  for (k = 0; k < K_N; k++) {
    free_secret (v[k]);
    v[k] = NULL;
  }
}

/* Read the profile from both files.  Returns 1 found, 0 not, -1. */
static int
load_profile (char *v[K_N], const char **name)
{
  const char *cfile = env ("AWS_SHARED_CREDENTIALS_FILE");
  const char *ofile = env ("AWS_CONFIG_FILE");
  const char *home = env ("HOME");
  const char *profile = env ("AWS_PROFILE");
  CLEANUP_FREE char *dc = NULL;
  CLEANUP_FREE char *dof = NULL;
  int r1 = 0, r2 = 0;

  *name = profile ? profile : "default";
  if (cfile == NULL && home
      && asprintf (&dc, "%s/.aws/credentials", home) == -1)
    dc = NULL;
  if (ofile == NULL && home && asprintf (&dof, "%s/.aws/config", home) == -1)
    dof = NULL;
  if (cfile || dc)
    r1 = read_profile (cfile ? cfile : dc, cfile != NULL, false, *name, v);
  if (r1 >= 0 && (ofile || dof))
    r2 = read_profile (ofile ? ofile : dof, ofile != NULL, true, *name, v);
  if (r1 < 0 || r2 < 0) {
    free_profile (v);
    return -1;
  }
  return r1 || r2;
}

int
creds_profile_value (const char *key, char **value)
{
  char *v[K_N] = { NULL };
  const char *name;
  int k, r;

  *value = NULL;
  for (k = 0; k < K_N; k++)
    if (strcmp (profile_keys[k], key) == 0)
      break;
  if (k == K_N)
    return 0;
  r = load_profile (v, &name);
  if (r <= 0)
    return r;
  *value = v[k];
  v[k] = NULL;
  free_profile (v);
  return *value != NULL;
}

/* Is url's host one the container endpoint may be on over plain HTTP? */
static bool
container_host_ok (const char *url)
{
  static const char *const ok[] = {
    "http://127.",
    "http://localhost:",
    "http://localhost/",
    "http://[::1]",
    "http://169.254.170.2:",
    "http://169.254.170.2/",
    "http://169.254.170.23:",
    "http://169.254.170.23/",
    "http://[fd00:ec2::23]",
  };
  size_t i;

  if (strncasecmp (url, "https://", 8) == 0)
    return true;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strncasecmp (url, ok[i], strlen (ok[i])) == 0)
      return true;
  return false;
}

/* A provider of kind with its strings (copied; NULL allowed). */
static struct creds *
provider (enum source kind, const char *source, const char *a, const char *b,
          const char *cc)
{
  struct creds *c = creds_alloc (kind, source);

  if (c == NULL)
    return NULL;
  if ((a && (c->a = strdup (a)) == NULL) || (b && (c->b = strdup (b)) == NULL)
      || (cc && (c->c = strdup (cc)) == NULL)) {
    s3cow_log_error ("out of memory");
    creds_unref (c);
    return NULL;
  }
  s3cow_debug (http, "credentials: from %s", source);
  return c;
}

int
creds_chain_new (const char *region, struct creds **out)
{
  char *v[K_N] = { NULL };
  const char *name;
  CLEANUP_FREE char *src = NULL;
  CLEANUP_FREE char *url = NULL;
  int r;

  *out = NULL;

  /* 3. Web identity. */
  if (env ("AWS_WEB_IDENTITY_TOKEN_FILE") || env ("AWS_ROLE_ARN")) {
    const char *sts = env ("AWS_ENDPOINT_URL_STS");

    if (!env ("AWS_WEB_IDENTITY_TOKEN_FILE") || !env ("AWS_ROLE_ARN")) {
      s3cow_log_error ("%s is set but %s is not",
                       env ("AWS_ROLE_ARN") ? "AWS_ROLE_ARN"
                                            : "AWS_WEB_IDENTITY_TOKEN_FILE",
                       env ("AWS_ROLE_ARN") ? "AWS_WEB_IDENTITY_TOKEN_FILE"
                                            : "AWS_ROLE_ARN");
      return -1;
    }
    if (sts == NULL) {
      if (asprintf (&url, "https://sts.%s.amazonaws.com/",
                    region ? region : "us-east-1")
          == -1) {
        url = NULL;
        goto oom;
      }
      sts = url;
    }
    if (asprintf (&src, "web identity (role %s, STS %s)", env ("AWS_ROLE_ARN"),
                  sts)
        == -1) {
      src = NULL;
      goto oom;
    }
    *out = provider (SRC_WEB_ID, src, env ("AWS_ROLE_ARN"),
                     env ("AWS_WEB_IDENTITY_TOKEN_FILE"), sts);
    return *out ? 0 : -1;
  }

  /* 4. The profile. */
  r = load_profile (v, &name);
  if (r < 0)
    return -1;
  if (r == 0 && env ("AWS_PROFILE")) {
    s3cow_log_error ("profile %s (AWS_PROFILE) is in neither the credentials "
                     "nor the config file",
                     name);
    return -1;
  }
  if (v[K_AK] || v[K_SK]) {
    if (v[K_AK] == NULL || v[K_SK] == NULL) {
      s3cow_log_error ("profile %s lacks %s", name,
                       v[K_AK] ? "aws_secret_access_key" : "aws_access_key_id");
      free_profile (v);
      return -1;
    }
    if (asprintf (&src, "profile %s", name) == -1) {
      src = NULL;
      free_profile (v);
      goto oom;
    }
    *out = creds_new_static (src, v[K_AK], v[K_SK], v[K_TOKEN]);
    free_profile (v);
    return *out ? 0 : -1;
  }
  if (v[K_PROCESS]) {
    if (asprintf (&src, "credential_process of profile %s", name) == -1) {
      src = NULL;
      free_profile (v);
      goto oom;
    }
    *out = provider (SRC_PROCESS, src, v[K_PROCESS], NULL, NULL);
    free_profile (v);
    return *out ? 0 : -1;
  }
  free_profile (v);
  if (env ("AWS_PROFILE")) {
    s3cow_log_error ("profile %s (AWS_PROFILE) has no credentials "
                     "(aws_access_key_id or credential_process)",
                     name);
    return -1;
  }

  /* 5. Container credentials. */
  if (env ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
      || env ("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    const char *rel = env ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");

    if (rel) {
      if (asprintf (&url, "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/",
                    rel)
          == -1) {
        url = NULL;
        goto oom;
      }
    } else if ((url = strdup (env ("AWS_CONTAINER_CREDENTIALS_FULL_URI")))
               == NULL)
      goto oom;
    if (!container_host_ok (url)) {
      s3cow_log_error ("AWS_CONTAINER_CREDENTIALS_FULL_URI %s: plain HTTP is "
                       "only allowed to a loopback address or the ECS/EKS "
                       "agent (169.254.170.2, 169.254.170.23)",
                       url);
      return -1;
    }
    if (asprintf (&src, "container endpoint %s", url) == -1) {
      src = NULL;
      goto oom;
    }
    *out = provider (SRC_CONTAINER, src, url,
                     env ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
                     env ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
                         ? NULL
                         : env ("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    return *out ? 0 : -1;
  }

  /* 6. Instance metadata. */
  {
    const char *dis = env ("AWS_EC2_METADATA_DISABLED");
    const char *base = env ("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    size_t n;

    if (dis && strcasecmp (dis, "true") == 0)
      return 0;
    if ((url = strdup (base ? base : "http://169.254.169.254")) == NULL)
      goto oom;
    n = strlen (url);
    while (n > 0 && url[n - 1] == '/')
      url[--n] = '\0';
    if (asprintf (&src, "instance metadata at %s", url) == -1) {
      src = NULL;
      goto oom;
    }
    *out = provider (SRC_IMDS, src, url, NULL, NULL);
    return *out ? 0 : -1;
  }

oom:
  s3cow_log_error ("out of memory");
  return -1;
}
