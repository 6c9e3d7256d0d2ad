/* s3cow: HTTP transport on libcurl (see s3_http.h).
 *
 * The pool:
 *
 *   idle[]   handles not in use, each with its kept-alive connection(s)
 *   n_handles  handles that exist (idle + borrowed) <= max
 *
 *   borrow:  take from idle[], else make one if n_handles < max, else wait
 *   give back: push onto idle[] (the most recently used is reused first,
 *            so its connection is the warmest) and wake one waiter
 *
 * One call (s3_http_perform) borrows one handle for all its attempts:
 *
 *   deadline = start + retry_time
 *   borrow a handle, waiting for one at most until the deadline
 *   loop:
 *     curl_easy_reset, set options, headers_fn (fresh signature), perform
 *     final?      -> return it
 *     transient?  -> if now >= deadline: give up (S3_HTTP_TRANSIENT)
 *                    sleep min(backoff with jitter, deadline - now); again
 *
 * The backoff doubles from 100 ms up to 5 s; each sleep is half of it plus
 * a random part of up to the other half, so that threads that failed
 * together do not retry together.  An attempt that starts before the
 * deadline runs to its own timeout, so a call lasts at most about
 * retry_time + timeout.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"
#include "s3_http.h"
#include "stats.h"
#include "timedwait.h"

#define BACKOFF_FIRST 0.1 /* seconds */
#define BACKOFF_MAX 5.0
#define ERROR_BODY_MAX 16384 /* bytes of a non-2xx body that we keep */

struct s3_http {
  double timeout, retry_time;
  bool tls_verify;
  char *ca_file;
  unsigned max;

  pthread_mutex_t lock;    /* protects idle, n_idle, n_handles */
  pthread_cond_t returned; /* signalled when a handle is given back */
  CURL **idle;             /* room for max handles */
  unsigned n_idle;
  unsigned n_handles;
  /* Has any attempt had an answer?  Until then a host name that does not
   * resolve is a typo to report at once, not an outage to wait out.
   */
  atomic_bool answered;
};

struct s3_http *
s3_http_new (const struct s3_http_config *config)
{
  struct s3_http *http;
  CURLcode cr;
  int err;

  cr = curl_global_init (CURL_GLOBAL_DEFAULT);
  if (cr != CURLE_OK) {
    s3cow_log_error ("libcurl initialisation failed: %s",
                     curl_easy_strerror (cr));
    return NULL;
  }
  http = calloc (1, sizeof *http);
  if (http == NULL) {
    s3cow_log_error ("calloc: %m");
    curl_global_cleanup ();
    return NULL;
  }
  http->timeout = config->timeout > 0 ? config->timeout : 30;
  http->retry_time = config->retry_time > 0 ? config->retry_time : 60;
  http->max = config->connections > 0 ? config->connections : 16;
  http->tls_verify = config->tls_verify;
  if (config->ca_file) {
    http->ca_file = strdup (config->ca_file);
    if (http->ca_file == NULL) {
      s3cow_log_error ("strdup: %m");
      goto fail;
    }
  }
  http->idle = calloc (http->max, sizeof *http->idle);
  if (http->idle == NULL) {
    s3cow_log_error ("calloc: %m");
    goto fail;
  }
  err = pthread_mutex_init (&http->lock, NULL);
  if (err) {
    errno = err;
    s3cow_log_error ("pthread_mutex_init: %m");
    goto fail;
  }
  err = cond_init_monotonic (&http->returned);
  if (err) {
    errno = err;
    s3cow_log_error ("pthread_cond_init: %m");
    pthread_mutex_destroy (&http->lock);
    goto fail;
  }
  return http;

fail:
  free (http->idle);
  free (http->ca_file);
  free (http);
  curl_global_cleanup ();
  return NULL;
}

void
s3_http_free (struct s3_http *http)
{
  unsigned i;

  if (http == NULL)
    return;
  for (i = 0; i < http->n_idle; i++)
    curl_easy_cleanup (http->idle[i]);
  pthread_cond_destroy (&http->returned);
  pthread_mutex_destroy (&http->lock);
  free (http->idle);
  free (http->ca_file);
  free (http);
  curl_global_cleanup ();
}

/* Borrow a handle into *h, waiting while all max are in use, but not past
 * deadline (the call's retry time: the wait counts in it, so that no
 * attempt starts after it).  S3_HTTP_OK, else S3_HTTP_TRANSIENT (none
 * free in time) or S3_HTTP_PERMANENT (out of memory) with resp->errmsg.
 */
static int
pool_borrow (struct s3_http *http, double deadline, CURL **h,
             struct s3_http_response *resp)
{
  {
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&http->lock);
    while (http->n_idle == 0 && http->n_handles >= http->max) {
      double left = deadline - monotonic_now ();

      if (left <= 0) {
        snprintf (resp->errmsg, sizeof resp->errmsg,
                  "no free connection within the retry time (all %u in "
                  "use)",
                  http->max);
        return S3_HTTP_TRANSIENT;
      }
      cond_wait_seconds (&http->returned, &http->lock, left);
    }
    if (http->n_idle > 0) {
      *h = http->idle[--http->n_idle];
      return S3_HTTP_OK;
    }
    http->n_handles++;
  }

  *h = curl_easy_init ();
  if (*h == NULL) {
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&http->lock);
    http->n_handles--;
    pthread_cond_signal (&http->returned);
    snprintf (resp->errmsg, sizeof resp->errmsg,
              "cannot make a libcurl handle");
    return S3_HTTP_PERMANENT;
  }
  return S3_HTTP_OK;
}

static void
pool_return (struct s3_http *http, CURL *h)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&http->lock);
  http->idle[http->n_idle++] = h;
  pthread_cond_signal (&http->returned);
}

static void
sleep_seconds (double s)
{
  struct timespec ts;

  if (s <= 0)
    return;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
  while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
    ;
}

/* A random number in [0, 1): jitter only, not for anything secret.  Each
 * thread has its own state, so no lock is needed.
 */
static double
jitter (void)
{
  static __thread uint64_t state;

  if (state == 0) {
    struct timespec ts;

    clock_gettime (CLOCK_REALTIME, &ts);
    state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec
            ^ (uint64_t)(uintptr_t)&state;
    if (state == 0)
      state = 1;
  }
  /* xorshift64 */
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return (state >> 11) / 9007199254740992.0; /* 2^53 */
}

/* State of one attempt, shared with the curl callbacks. */
struct attempt {
  const struct s3_http_request *req;
  struct s3_http_response *resp;
  size_t upload_pos; /* PUT: bytes of req->body sent */
  bool in_body;      /* headers of the final response are done */
  bool too_large;    /* the body exceeded what the sink allows */
  bool out_of_memory;
  bool range_whole; /* 200 to a range request: drop and cut */
  char *errbody;    /* non-2xx body, up to ERROR_BODY_MAX */
  size_t errbody_len;
  size_t alloc_cap; /* S3_HTTP_ALLOC: size of resp->data */
};

static bool
is_2xx (long status)
{
  return status >= 200 && status <= 299;
}

/* The limit of the sink (BUFFER: cap, ALLOC: max). */
static size_t
sink_limit (const struct s3_http_request *req)
{
  return req->sink == S3_HTTP_ALLOC ? req->max : req->cap;
}

static size_t
read_cb (char *ptr, size_t size, size_t nmemb, void *opaque)
{
  struct attempt *a = opaque;
  size_t n = size * nmemb;
  size_t left = a->req->body_len - a->upload_pos;

  if (n > left)
    n = left;
  if (n > 0)
    memcpy (ptr, (const char *)a->req->body + a->upload_pos, n);
  a->upload_pos += n;
  return n;
}

static int
seek_cb (void *opaque, curl_off_t offset, int origin)
{
  struct attempt *a = opaque;

  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > a->req->body_len)
    return CURL_SEEKFUNC_FAIL;
  a->upload_pos = offset;
  return CURL_SEEKFUNC_OK;
}

/* Does the header line [p, p + n) have this name?  Then *value, *vlen is
 * its value, blanks trimmed.
 */
static bool
header_is (const char *p, size_t n, const char *name, const char **value,
           size_t *vlen)
{
  size_t nl = strlen (name);

  if (n <= nl || strncasecmp (p, name, nl) != 0 || p[nl] != ':')
    return false;
  p += nl + 1;
  n -= nl + 1;
  while (n > 0 && (*p == ' ' || *p == '\t')) {
    p++;
    n--;
  }
  while (n > 0
         && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '
             || p[n - 1] == '\t'))
    n--;
  *value = p;
  *vlen = n;
  return true;
}

static void
copy_value (char *dst, size_t size, const char *v, size_t n)
{
  if (n >= size)
    n = size - 1;
  memcpy (dst, v, n);
  dst[n] = '\0';
}

/* The headers of the final response are all in: check the size. */
static bool
headers_done (struct attempt *a)
{
  const struct s3_http_request *req = a->req;
  struct s3_http_response *resp = a->resp;

  a->in_body = true;
  if (!is_2xx (resp->status) || req->sink == S3_HTTP_DISCARD
      || strcmp (req->method, "HEAD") == 0)
    return true;
  a->range_whole = req->range && resp->status == 200;
  if (a->range_whole || !resp->has_length)
    return true;
  if (resp->content_length > sink_limit (req)) {
    a->too_large = true;
    return false; /* abort now: nothing is read or allocated */
  }
  if (req->sink == S3_HTTP_ALLOC && resp->content_length > 0) {
    resp->data = malloc (resp->content_length);
    if (resp->data == NULL) {
      a->out_of_memory = true;
      return false;
    }
    a->alloc_cap = resp->content_length;
  }
  return true;
}

static size_t
header_cb (char *p, size_t size, size_t nitems, void *opaque)
{
  struct attempt *a = opaque;
  struct s3_http_response *resp = a->resp;
  size_t n = size * nitems;
  const char *v;
  size_t vlen;

  if (n >= 5 && strncmp (p, "HTTP/", 5) == 0) {
    /* A status line: a new response (after a 100 Continue, say). */
    const char *sp = memchr (p, ' ', n);

    resp->status = 0;
    if (sp && (size_t)(sp - p) + 4 <= n && sp[1] >= '1' && sp[1] <= '5'
        && sp[2] >= '0' && sp[2] <= '9' && sp[3] >= '0' && sp[3] <= '9')
      resp->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    resp->has_length = false;
    resp->content_length = 0;
    resp->etag[0] = resp->last_modified[0] = resp->content_range[0] = '\0';
    resp->date[0] = resp->bucket_region[0] = '\0';
    resp->etag_too_long = false;
    a->in_body = false;
    return n;
  }
  if (n <= 2 && (n == 0 || p[0] == '\r' || p[0] == '\n')) {
    if (resp->status >= 200 && !headers_done (a))
      return 0;
    return n;
  }
  if (header_is (p, n, "content-length", &v, &vlen)) {
    uint64_t len = 0;
    size_t i;

    for (i = 0; i < vlen; i++) {
      if (v[i] < '0' || v[i] > '9' || len > (UINT64_MAX - 9) / 10)
        break;
      len = len * 10 + (v[i] - '0');
    }
    if (vlen > 0 && i == vlen) {
      resp->has_length = true;
      resp->content_length = len;
    }
  } else if (header_is (p, n, "etag", &v, &vlen)) {
    if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
      v++;
      vlen -= 2;
    }
    resp->etag_too_long = vlen >= sizeof resp->etag;
    copy_value (resp->etag, sizeof resp->etag, v, vlen);
  } else if (header_is (p, n, "last-modified", &v, &vlen))
    copy_value (resp->last_modified, sizeof resp->last_modified, v, vlen);
  else if (header_is (p, n, "content-range", &v, &vlen))
    copy_value (resp->content_range, sizeof resp->content_range, v, vlen);
  else if (header_is (p, n, "date", &v, &vlen))
    copy_value (resp->date, sizeof resp->date, v, vlen);
  else if (header_is (p, n, "x-amz-bucket-region", &v, &vlen))
    copy_value (resp->bucket_region, sizeof resp->bucket_region, v, vlen);
  return n;
}

static size_t
write_cb (char *p, size_t size, size_t nmemb, void *opaque)
{
  struct attempt *a = opaque;
  const struct s3_http_request *req = a->req;
  struct s3_http_response *resp = a->resp;
  size_t n = size * nmemb;
  size_t take = n;
  const char *src = p;

  resp->received += n;

  if (!is_2xx (resp->status)) {
    /* An error body: keep the start of it for Code and Message. */
    size_t room = ERROR_BODY_MAX - a->errbody_len;

    if (a->errbody == NULL) {
      a->errbody = malloc (ERROR_BODY_MAX);
      if (a->errbody == NULL)
        return n; /* no details, but not a failure of the transfer */
    }
    if (take > room)
      take = room;
    memcpy (a->errbody + a->errbody_len, p, take);
    a->errbody_len += take;
    return n;
  }

  switch (req->sink) {
  case S3_HTTP_DISCARD:
    return n;

  case S3_HTTP_BUFFER:
    if (a->range_whole) {
      /* Whole object for a range request: drop up to range_offset, cut
       * at cap.
       */
      uint64_t before = resp->received - n;

      if (before < req->range_offset) {
        uint64_t drop = req->range_offset - before;

        if (drop >= n)
          return n;
        src += drop;
        take -= drop;
      }
      if (take > req->cap - resp->len)
        take = req->cap - resp->len;
      memcpy ((char *)req->buf + resp->len, src, take);
      resp->len += take;
      return n;
    }
    if (take > req->cap - resp->len) {
      a->too_large = true;
      return 0;
    }
    memcpy ((char *)req->buf + resp->len, src, take);
    resp->len += take;
    return n;

  case S3_HTTP_ALLOC:
    if (take > req->max - resp->len) {
      a->too_large = true;
      return 0;
    }
    if (resp->len + take > a->alloc_cap) {
      size_t cap = a->alloc_cap ? a->alloc_cap : 16384;

      if (cap > req->max)
        cap = req->max;
      void *d;

      while (cap < resp->len + take)
        cap = cap > req->max / 2 ? req->max : cap * 2;
      d = realloc (resp->data, cap);
      if (d == NULL) {
        a->out_of_memory = true;
        return 0;
      }
      resp->data = d;
      a->alloc_cap = cap;
    }
    memcpy ((char *)resp->data + resp->len, src, take);
    resp->len += take;
    return n;
  }
  return 0;
}

/* Set the options of one attempt on a freshly reset handle. */
static CURLcode
set_options (struct s3_http *http, CURL *h, struct attempt *a,
             struct curl_slist *headers, char *curl_err)
{
  const struct s3_http_request *req = a->req;
  long timeout_ms = (long)(http->timeout * 1000);
  long low_speed_time = http->timeout < 10 ? (long)http->timeout : 10;
  CURLcode r = CURLE_OK;

  if (low_speed_time < 1)
    low_speed_time = 1;

#define SET(opt, val)                                                          \
  do {                                                                         \
    if (r == CURLE_OK)                                                         \
      r = curl_easy_setopt (h, opt, val);                                      \
  } while (0)

  SET (CURLOPT_URL, req->url);
  SET (CURLOPT_PATH_AS_IS, 1L);     /* keys may hold "/./": send them as is */
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 */
  SET (CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SET (CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET (CURLOPT_NOSIGNAL, 1L);
  SET (CURLOPT_ERRORBUFFER, curl_err);
  SET (CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
  SET (CURLOPT_TCP_NODELAY, 1L);
  SET (CURLOPT_TCP_KEEPALIVE, 1L);
  SET (CURLOPT_TCP_KEEPIDLE, 30L);
  SET (CURLOPT_TCP_KEEPINTVL, 15L);
  SET (CURLOPT_TIMEOUT_MS, timeout_ms);
  SET (CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  SET (CURLOPT_LOW_SPEED_LIMIT, 1024L);
  SET (CURLOPT_LOW_SPEED_TIME, low_speed_time);
  SET (CURLOPT_SSL_VERIFYPEER, http->tls_verify ? 1L : 0L);
  SET (CURLOPT_SSL_VERIFYHOST, http->tls_verify ? 2L : 0L);
  if (http->ca_file)
    SET (CURLOPT_CAINFO, http->ca_file);
  SET (CURLOPT_FOLLOWLOCATION, 0L);
  SET (CURLOPT_HTTPHEADER, headers);
  SET (CURLOPT_HEADERFUNCTION, header_cb);
  SET (CURLOPT_HEADERDATA, a);
  SET (CURLOPT_WRITEFUNCTION, write_cb);
  SET (CURLOPT_WRITEDATA, a);

  if (strcmp (req->method, "GET") == 0)
    SET (CURLOPT_HTTPGET, 1L);
  else if (strcmp (req->method, "HEAD") == 0)
    SET (CURLOPT_NOBODY, 1L);
  else if (strcmp (req->method, "PUT") == 0) {
    SET (CURLOPT_UPLOAD, 1L);
    SET (CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    SET (CURLOPT_READFUNCTION, read_cb);
    SET (CURLOPT_READDATA, a);
    SET (CURLOPT_SEEKFUNCTION, seek_cb);
    SET (CURLOPT_SEEKDATA, a);
  } else
    SET (CURLOPT_CUSTOMREQUEST, req->method);
#undef SET
  return r;
}

/* Curl errors worth retrying: the network or the server may get better. */
static bool
curl_transient (CURLcode c)
{
  switch (c) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_PARTIAL_FILE:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_HTTP3:
  case CURLE_QUIC_CONNECT_ERROR:
    return true;
  default:
    return false;
  }
}

/* Curl errors after which the request surely did not reach the server. */
static bool
curl_not_sent (CURLcode c)
{
  return c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_CONNECT;
}

static bool
status_transient (const struct s3_http_response *resp)
{
  long s = resp->status;

  if (s >= 500 && s != 501 && s != 505)
    return true;
  if (s == 408 || s == 429)
    return true;
  return s == 400 && strcmp (resp->error.code, "RequestTimeout") == 0;
}

/* Run one attempt on h.  Returns S3_HTTP_OK when there is an HTTP response
 * to judge (resp->status), S3_HTTP_TRANSIENT or S3_HTTP_PERMANENT with
 * resp->errmsg set.  *not_sent tells if the request surely did not reach
 * the server.
 */
static int
attempt_once (struct s3_http *http, CURL *h, const struct s3_http_request *req,
              struct s3_http_response *resp, bool *not_sent)
{
  struct attempt a = { .req = req, .resp = resp };
  struct curl_slist *headers = NULL;
  char curl_err[CURL_ERROR_SIZE] = "";
  CURLcode c;
  int ret = S3_HTTP_OK;

  *not_sent = false;
  /* Forget the previous attempt's response. */
  free (resp->data);
  resp->data = NULL;
  resp->len = 0;
  resp->received = 0;
  resp->status = 0;
  resp->has_length = false;
  resp->content_length = 0;
  resp->etag[0] = resp->last_modified[0] = resp->content_range[0] = '\0';
  resp->date[0] = resp->bucket_region[0] = '\0';
  resp->etag_too_long = false;
  resp->error.code[0] = resp->error.message[0] = resp->error.region[0] = '\0';
  resp->errmsg[0] = '\0';

  curl_easy_reset (h);
  if (req->headers_fn
      && req->headers_fn (req->opaque, &headers, resp->errmsg,
                          sizeof resp->errmsg)
             == -1) {
    curl_slist_free_all (headers);
    *not_sent = true;
    return S3_HTTP_PERMANENT;
  }
  if (strcmp (req->method, "PUT") == 0) {
    /* No "Expect: 100-continue": it costs a round trip per PUT. */
    struct curl_slist *l = curl_slist_append (headers, "Expect:");

    if (l == NULL) {
      curl_slist_free_all (headers);
      snprintf (resp->errmsg, sizeof resp->errmsg, "out of memory");
      *not_sent = true;
      return S3_HTTP_PERMANENT;
    }
    headers = l;
  }
  c = set_options (http, h, &a, headers, curl_err);
  if (c != CURLE_OK) {
    curl_slist_free_all (headers);
    snprintf (resp->errmsg, sizeof resp->errmsg, "setting up libcurl: %s",
              curl_easy_strerror (c));
    *not_sent = true;
    return S3_HTTP_PERMANENT;
  }

  c = curl_easy_perform (h);
  curl_slist_free_all (headers);
  if (resp->status != 0 && !atomic_load (&http->answered))
    atomic_store (&http->answered, true);

  if (a.errbody) {
    s3_xml_parse_error (a.errbody, a.errbody_len, &resp->error);
    free (a.errbody);
  }

  if (a.too_large) {
    snprintf (resp->errmsg, sizeof resp->errmsg, "object larger than %zu bytes",
              sink_limit (req));
    ret = S3_HTTP_PERMANENT;
  } else if (a.out_of_memory) {
    snprintf (resp->errmsg, sizeof resp->errmsg, "out of memory");
    ret = S3_HTTP_PERMANENT;
  } else if (c != CURLE_OK) {
    snprintf (resp->errmsg, sizeof resp->errmsg, "%s",
              curl_err[0] ? curl_err : curl_easy_strerror (c));
    *not_sent = curl_not_sent (c);
    ret = curl_transient (c) ? S3_HTTP_TRANSIENT : S3_HTTP_PERMANENT;
    if (c == CURLE_COULDNT_RESOLVE_HOST && !atomic_load (&http->answered))
      ret = S3_HTTP_PERMANENT;
  } else if (is_2xx (resp->status) && resp->has_length
             && strcmp (req->method, "HEAD") != 0
             && resp->received < resp->content_length) {
    snprintf (resp->errmsg, sizeof resp->errmsg,
              "short body: %" PRIu64 " of %" PRIu64 " bytes", resp->received,
              resp->content_length);
    ret = S3_HTTP_TRANSIENT;
  } else if (is_2xx (resp->status) && req->check_fn
             && strcmp (req->method, "HEAD") != 0
             && req->check_fn (req->check_opaque, resp,
                               req->sink == S3_HTTP_ALLOC ? resp->data
                                                          : req->buf,
                               resp->len, resp->errmsg, sizeof resp->errmsg)
                    == -1) {
    ret = S3_HTTP_TRANSIENT;
  } else if (status_transient (resp)) {
    if (resp->error.code[0])
      snprintf (resp->errmsg, sizeof resp->errmsg, "HTTP %ld %.63s: %.160s",
                resp->status, resp->error.code, resp->error.message);
    else
      snprintf (resp->errmsg, sizeof resp->errmsg, "HTTP %ld", resp->status);
    *not_sent = resp->status == 429 || resp->status == 503;
    ret = S3_HTTP_TRANSIENT;
  }
  if (ret != S3_HTTP_OK) {
    free (resp->data);
    resp->data = NULL;
  }
  return ret;
}

int
s3_http_perform (struct s3_http *http, const struct s3_http_request *req,
                 struct s3_http_response *resp)
{
  double start = monotonic_now ();
  double deadline = start + http->retry_time;
  double backoff = BACKOFF_FIRST;
  CURL *h;
  int r;

  memset (resp, 0, sizeof *resp);
  r = pool_borrow (http, deadline, &h, resp);
  if (r != S3_HTTP_OK) {
    resp->seconds = monotonic_now () - start;
    s3cow_debug (http, "%s %s: %s", req->method, req->what, resp->errmsg);
    return r;
  }

  for (;;) {
    double t0 = monotonic_now (), t1, sleep;
    bool not_sent;

    resp->attempts++;
    r = attempt_once (http, h, req, resp, &not_sent);
    t1 = monotonic_now ();
    resp->seconds = t1 - start;
    s3cow_debug (http, "%s %s -> %ld%s%s, %" PRIu64 " bytes, %.1f ms%s%s",
                 req->method, req->what, resp->status,
                 resp->error.code[0] ? " " : "", resp->error.code,
                 resp->received, (t1 - t0) * 1000, r == S3_HTTP_OK ? "" : ": ",
                 r == S3_HTTP_OK ? "" : resp->errmsg);
    if (r != S3_HTTP_TRANSIENT)
      break;
    if (!not_sent)
      resp->maybe_applied = true;
    if (t1 >= deadline)
      break;

    sleep = backoff / 2 + jitter () * backoff / 2;
    if (sleep > deadline - t1)
      sleep = deadline - t1;
    stats_inc (STAT_HTTP_RETRIES);
    s3cow_debug (http, "%s %s: retrying in %.0f ms (attempt %u failed: %s)",
                 req->method, req->what, sleep * 1000, resp->attempts,
                 resp->errmsg);
    sleep_seconds (sleep);
    backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
  }

  pool_return (http, h);
  resp->seconds = monotonic_now () - start;
  if (r == S3_HTTP_TRANSIENT) {
    char last[sizeof resp->errmsg];

    memcpy (last, resp->errmsg, sizeof last);
    snprintf (resp->errmsg, sizeof resp->errmsg,
              "%.180s (still failing after %u attempts in %.1f s)", last,
              resp->attempts, resp->seconds);
  }
  return r;
}

void
s3_http_response_free (struct s3_http_response *resp)
{
  free (resp->data);
  resp->data = NULL;
}
