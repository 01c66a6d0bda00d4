/* invoke.c: the Lambda Invoke API (see invoke.h) in front of one
   supervisor per function.

   Who owns what: everything runs on the loop's thread.  The API owns
   its HTTP server, its functions and their services, and one `call'
   per invocation accepted, from the request until the service gives
   its outcome (a client that goes away meanwhile only loses its
   answer: the invocation runs on and is logged).  Closing counts the
   server, the services and the deferral timer; the API is freed when
   the last of them has closed. */
#include "service/invoke.h"
#include "core/buf.h"
#include "core/engine.h"
#include "core/json.h"
#include "core/log.h"
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATH_PREFIX "/2015-03-31/functions/"
/* Lambda's longest function name, as an ARN with a qualifier. */
#define NAME_MAX_LEN 256
/* An SDK sends its head in one write: a head that takes longer than
   this is a slow client holding a connection, not a slow network. */
#define HEADER_TIMEOUT_MS 10000
#define BODY_TIMEOUT_MS 10000

static const char *program = "guile-lambda";

struct call {
  struct call *prev, *next;
  struct function *fn;
  unsigned long seq;
  gl_http_request_t *req;       /* NULL: Event, or its client left */
  char request_id[37];
};

struct function {
  struct gl_invoke_api *api;
  struct gl_invoke_function cfg;
  struct gl_service *svc;
  struct call *calls;           /* accepted, no outcome yet */
  unsigned long next_seq;
  unsigned long pending;
};

struct gl_invoke_api {
  uv_loop_t *loop;
  gl_http_server_t server;
  struct function *functions;
  int nfunctions;
  uv_timer_t later;             /* the end of a drain, off the stack */
  char last_modified[40];       /* GetFunction's, the start time */
  unsigned long pending;
  int server_open;               /* initialised, to be closed */
  int draining;
  int closing;
  int open;                     /* server, services, timer not closed */
  void (*close_cb) (void *);
  void *close_data;
};

/* Text. */

static void
base64_encode (struct gl_buf *out, const unsigned char *s, size_t n)
{
  static const char digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;

  for (i = 0; i + 2 < n; i += 3)
    {
      unsigned v = (unsigned) s[i] << 16 | (unsigned) s[i + 1] << 8 | s[i + 2];
      gl_buf_putc (out, digits[v >> 18 & 63]);
      gl_buf_putc (out, digits[v >> 12 & 63]);
      gl_buf_putc (out, digits[v >> 6 & 63]);
      gl_buf_putc (out, digits[v & 63]);
    }
  if (i < n)
    {
      unsigned v = (unsigned) s[i] << 16
        | (i + 1 < n ? (unsigned) s[i + 1] << 8 : 0);
      gl_buf_putc (out, digits[v >> 18 & 63]);
      gl_buf_putc (out, digits[v >> 12 & 63]);
      gl_buf_putc (out, i + 1 < n ? digits[v >> 6 & 63] : '=');
      gl_buf_putc (out, '=');
    }
}

static int
base64_digit (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 with its padding; -1 if S is not that. */
static int
base64_decode (const char *s, struct gl_buf *out)
{
  size_t n = strlen (s), i, pad = 0;
  unsigned v = 0;
  int bits = 0, d;

  if (n % 4 != 0)
    return -1;
  while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
    pad++;
  for (i = 0; i < n - pad; i++)
    {
      if ((d = base64_digit (s[i])) < 0)
        return -1;
      v = v << 6 | (unsigned) d;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          gl_buf_putc (out, (char) (v >> bits & 0xff));
        }
    }
  return 0;
}

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* N bytes of S, percent-decoded, into OUT (SIZE bytes); -1 if it is
   malformed or too long. */
static int
url_decode (const char *s, size_t n, char *out, size_t size)
{
  size_t i, j = 0;

  for (i = 0; i < n; i++)
    {
      char c = s[i];

      if (c == '%')
        {
          int hi, lo;

          if (i + 2 >= n || (hi = hex_digit (s[i + 1])) < 0
              || (lo = hex_digit (s[i + 2])) < 0)
            return -1;
          c = (char) (hi << 4 | lo);
          i += 2;
        }
      if (c == '\0' || j + 1 >= size)
        return -1;
      out[j++] = c;
    }
  out[j] = '\0';
  return 0;
}

/* The value of KEY in QUERY (what follows `?'), decoded into OUT; 0 if
   it is there, 1 if not, -1 if malformed. */
static int
query_param (const char *query, const char *key, char *out, size_t size)
{
  size_t klen = strlen (key);
  const char *p = query;

  while (p && *p)
    {
      const char *end = strchr (p, '&');
      size_t n = end ? (size_t) (end - p) : strlen (p);

      if (n > klen && strncmp (p, key, klen) == 0 && p[klen] == '=')
        return url_decode (p + klen + 1, n - klen - 1, out, size);
      p = end ? end + 1 : NULL;
    }
  return 1;
}

/* Answers. */

static void
answer (gl_http_request_t *req, int status, const gl_http_header_t *headers,
        size_t n, const char *body, size_t len)
{
  int r = gl_http_request_respond (req, status, headers, n, body, len);

  if (r != 0)
    gl_log_notice ("%s: cannot answer %s %s: %s\n", program, req->method,
                   req->target, gl_http_strerror (r));
}

/* Lambda's error: its type in X-Amzn-ErrorType (which SDKs read), and
   in the body as Lambda writes it.  REASON, if any, for a 429. */
static void
answer_error (gl_http_request_t *req, int status, const char *type,
              const char *message, const char *reason)
{
  gl_http_header_t headers[4];
  char id[37];
  struct gl_buf b;
  size_t n = 0;

  gl_request_id_generate (id);
  headers[n++] = (gl_http_header_t) { "Content-Type", "application/json" };
  headers[n++] = (gl_http_header_t) { "X-Amzn-ErrorType", type };
  headers[n++] = (gl_http_header_t) { "X-Amzn-RequestId", id };
  if (status == 429)
    headers[n++] = (gl_http_header_t) { "Retry-After", "1" };
  gl_buf_init (&b);
  gl_buf_printf (&b, "{\"Type\":\"%s\",\"Message\":",
                 status >= 500 ? "Service" : "User");
  gl_json_escape (&b, message, strlen (message));
  if (reason)
    gl_buf_printf (&b, ",\"Reason\":\"%s\"", reason);
  gl_buf_putc (&b, '}');
  answer (req, status, headers, n, b.data, b.len);
  gl_buf_free (&b);
}

/* Functions. */

static struct function *
function_find (struct gl_invoke_api *api, const char *name)
{
  int i;

  for (i = 0; i < api->nfunctions; i++)
    if (strcmp (api->functions[i].cfg.service.fn->name, name) == 0)
      return &api->functions[i];
  /* The Runtime Interface Emulator's one function is `function'. */
  if (strcmp (name, "function") == 0)
    return &api->functions[0];
  return NULL;
}

/* NAME is a function's name, not an ARN: the message gives its ARN, in
   the region of the functions served, as Lambda's does. */
static void
answer_not_found (struct gl_invoke_api *api, gl_http_request_t *req,
                  const char *name, const char *qualifier)
{
  char message[NAME_MAX_LEN * 2 + 128];

  snprintf (message, sizeof message, "Function not found: "
            "arn:aws:lambda:%s:000000000000:function:%s%s%s",
            api->functions[0].cfg.service.fn->region, name,
            qualifier ? ":" : "", qualifier ? qualifier : "");
  answer_error (req, 404, "ResourceNotFoundException", message, NULL);
}

/* Which function and version REQ names: the path's NAME (a name, a
   partial ARN or an ARN, each with a qualifier or not) and the
   Qualifier parameter.  NULL once REQ is answered with an error. */
static struct function *
function_of (struct gl_invoke_api *api, gl_http_request_t *req,
             const char *name_start, size_t name_len, const char *query)
{
  char raw[NAME_MAX_LEN], param[NAME_MAX_LEN];
  char *name = raw, *colon, *arn, *qualifier = NULL;
  struct function *fn;
  int q;

  if (url_decode (name_start, name_len, raw, sizeof raw) != 0
      || raw[0] == '\0')
    {
      answer_error (req, 400, "ValidationException", "The function name in "
                    "the path is empty, too long or not well encoded.", NULL);
      return NULL;
    }
  /* arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], or the
     partial ARN ACCOUNT:function:NAME[:QUALIFIER]. */
  if ((arn = strstr (name, ":function:")) != NULL)
    name = arn + strlen (":function:");
  if ((colon = strchr (name, ':')) != NULL)
    {
      *colon = '\0';
      qualifier = colon + 1;
    }
  q = query ? query_param (query, "Qualifier", param, sizeof param) : 1;
  if (q < 0)
    {
      answer_error (req, 400, "ValidationException", "The Qualifier "
                    "parameter is not well encoded.", NULL);
      return NULL;
    }
  if (q == 0)
    qualifier = param;
  fn = function_find (api, name);
  if (fn == NULL
      || (qualifier && strcmp (qualifier, "$LATEST") != 0
          && strcmp (qualifier, fn->cfg.service.fn->version) != 0))
    {
      answer_not_found (api, req, name, qualifier);
      return NULL;
    }
  return fn;
}

/* GetFunction: what a client needs to see that the function is there. */
static void
function_describe (struct function *fn, gl_http_request_t *req)
{
  static const gl_http_header_t headers[] = {
    { "Content-Type", "application/json" }
  };
  const struct gl_function *f = fn->cfg.service.fn;
  const char *handler = fn->cfg.service.handler;
  struct gl_buf b;

  gl_buf_init (&b);
  gl_buf_puts (&b, "{\"Configuration\":{\"FunctionName\":");
  gl_json_escape (&b, f->name, strlen (f->name));
  gl_buf_puts (&b, ",\"FunctionArn\":");
  gl_json_escape (&b, f->arn, strlen (f->arn));
  gl_buf_puts (&b, ",\"Runtime\":\"provided.al2023\",\"Handler\":");
  gl_json_escape (&b, handler ? handler : "", handler ? strlen (handler) : 0);
  gl_buf_printf (&b, ",\"Timeout\":%g,\"MemorySize\":%d,\"Version\":",
                 f->timeout_s, f->memory_mb);
  gl_json_escape (&b, f->version, strlen (f->version));
  gl_buf_printf (&b, ",\"LastModified\":\"%s\",\"CodeSize\":0,"
                 "\"Description\":\"\",\"Role\":\"arn:aws:iam::000000000000:"
                 "role/guile-lambda\",\"State\":\"Active\","
                 "\"LastUpdateStatus\":\"Successful\",\"PackageType\":\"Zip\","
                 "\"Architectures\":[\"x86_64\"]},"
                 "\"Code\":{\"RepositoryType\":\"S3\",\"Location\":\"\"}}",
                 fn->api->last_modified);
  answer (req, 200, headers, 1, b.data, b.len);
  gl_buf_free (&b);
}

/* Calls. */

static struct call *
call_new (struct function *fn)
{
  struct call *call = calloc (1, sizeof *call);

  call->fn = fn;
  call->seq = fn->next_seq++;
  gl_request_id_generate (call->request_id);
  call->next = fn->calls;
  if (fn->calls)
    fn->calls->prev = call;
  fn->calls = call;
  fn->pending++;
  fn->api->pending++;
  return call;
}

static void
call_free (struct call *call)
{
  struct function *fn = call->fn;

  if (call->prev)
    call->prev->next = call->next;
  else
    fn->calls = call->next;
  if (call->next)
    call->next->prev = call->prev;
  fn->pending--;
  fn->api->pending--;
  free (call);
}

static void api_drained (struct gl_invoke_api *api);

/* The outcome of a RequestResponse invocation, as Lambda answers it:
   200, and a function error is said in X-Amz-Function-Error. */
static void
call_answer (struct call *call, const struct gl_service_outcome *o)
{
  gl_http_header_t headers[6];
  struct gl_buf tail;
  size_t n = 0;

  gl_buf_init (&tail);
  headers[n++] = (gl_http_header_t) { "Content-Type", "application/json" };
  headers[n++] = (gl_http_header_t) { "X-Amzn-RequestId", o->request_id };
  headers[n++] = (gl_http_header_t) { "X-Amz-Executed-Version",
                                      call->fn->cfg.service.fn->version };
  if (strcmp (o->status, "success") != 0)
    headers[n++] = (gl_http_header_t) { "X-Amz-Function-Error", "Unhandled" };
  if (o->log_tail)
    {
      base64_encode (&tail, (const unsigned char *) o->log_tail,
                     o->log_tail_len);
      headers[n++] = (gl_http_header_t) { "X-Amz-Log-Result",
                                          tail.data ? tail.data : "" };
    }
  answer (call->req, 200, headers, n, o->json, strlen (o->json));
  gl_buf_free (&tail);
}

static void
function_on_outcome (const struct gl_service_outcome *o, void *data)
{
  struct function *fn = data;
  struct call *call;

  for (call = fn->calls; call && call->seq != o->seq; call = call->next)
    ;
  if (call == NULL)
    return;
  if (call->req)
    call_answer (call, o);
  call_free (call);
  if (fn->api->draining && fn->api->pending == 0)
    api_drained (fn->api);
}

/* Invoke. */

/* The X-Amz-Client-Context header, base64 of a JSON object, decoded
   into OUT; -1 after answering REQ with the error. */
static int
client_context_read (gl_http_request_t *req, struct gl_buf *out)
{
  const char *v = gl_http_header_find (req->headers, req->nheaders,
                                       "X-Amz-Client-Context");
  char err[256];
  SCM obj;

  if (v == NULL || *v == '\0')
    return 0;
  if (base64_decode (v, out) == 0 && out->len > 0)
    {
      obj = gl_json_decode (out->data, out->len, err, sizeof err);
      if (!SCM_UNBNDP (obj) && (scm_is_null (obj) || scm_is_pair (obj)))
        return 0;
    }
  answer_error (req, 400, "InvalidRequestContentException", "Client context "
                "must be a valid Base64-encoded JSON object.", NULL);
  return -1;
}

/* A header whose value must be one of CHOICES (NULL-terminated), the
   first being the default; its index, or -1 after answering REQ. */
static int
header_choice (gl_http_request_t *req, const char *name, const char *param,
               const char *const *choices)
{
  const char *v = gl_http_header_find (req->headers, req->nheaders, name);
  char message[512];
  int i;

  if (v == NULL || *v == '\0')
    return 0;
  for (i = 0; choices[i]; i++)
    if (strcmp (v, choices[i]) == 0)
      return i;
  snprintf (message, sizeof message, "1 validation error detected: Value "
            "'%.200s' at '%s' failed to satisfy constraint: Member must "
            "satisfy enum value set: [%s, %s%s%s]", v, param, choices[0],
            choices[1], choices[2] ? ", " : "", choices[2] ? choices[2] : "");
  answer_error (req, 400, "ValidationException", message, NULL);
  return -1;
}

enum { INVOKE_SYNC, INVOKE_EVENT, INVOKE_DRY_RUN };

static void
function_invoke (struct function *fn, gl_http_request_t *req)
{
  static const char *const types[] = {
    "RequestResponse", "Event", "DryRun", NULL
  };
  static const char *const log_types[] = { "None", "Tail", NULL };
  struct gl_service_extra extra;
  struct gl_buf context;
  const char *event = req->body;
  size_t len = req->body_len;
  char err[256], message[512], id[37];
  struct call *call;
  int type, log_type;

  if ((type = header_choice (req, "X-Amz-Invocation-Type", "invocationType",
                             types)) < 0
      || (log_type = header_choice (req, "X-Amz-Log-Type", "logType",
                                    log_types)) < 0)
    return;
  if (fn->api->draining)
    return answer_error (req, 503, "ServiceException", "The server is "
                         "shutting down: it finishes the invocations it "
                         "accepted and takes no more.", NULL);
  /* No payload is an empty object, as on Lambda. */
  if (len == 0)
    event = "{}", len = 2;
  else if (gl_json_check (event, len, err, sizeof err) != 0)
    {
      snprintf (message, sizeof message, "Could not parse request body "
                "into json: %s", err);
      return answer_error (req, 400, "InvalidRequestContentException",
                           message, NULL);
    }
  gl_buf_init (&context);
  if (client_context_read (req, &context) != 0)
    return gl_buf_free (&context);
  if (type == INVOKE_DRY_RUN)
    {
      gl_buf_free (&context);
      return answer (req, 204, NULL, 0, NULL, 0);
    }
  if (fn->pending >= (unsigned long) (fn->cfg.service.concurrency
                                      + fn->cfg.queue_max))
    {
      gl_buf_free (&context);
      return answer_error (req, 429, "TooManyRequestsException",
                           "Rate Exceeded.",
                           "ReservedFunctionConcurrentInvocationLimitExceeded");
    }
  call = call_new (fn);
  memset (&extra, 0, sizeof extra);
  extra.request_id = call->request_id;
  extra.client_context = context.len ? context.data : NULL;
  extra.tail = type == INVOKE_SYNC && log_type == 1;
  if (type == INVOKE_SYNC)
    {
      call->req = req;
      req->data = call;
    }
  /* Submitted before the answer, which frees the body; the outcome may
     come at once (a container that cannot start), and free CALL. */
  memcpy (id, call->request_id, sizeof id);
  gl_service_submit_extra (fn->svc, call->seq, event, len, &extra);
  gl_buf_free (&context);
  if (type == INVOKE_EVENT)
    {
      gl_http_header_t headers[] = { { "X-Amzn-RequestId", id } };
      answer (req, 202, headers, 1, NULL, 0);
    }
}

/* Routing. */

static void
api_on_request (gl_http_request_t *req)
{
  struct gl_invoke_api *api = req->server->data;
  const char *t = req->target, *query, *name, *rest;
  size_t plen = strlen (PATH_PREFIX), path_len;
  struct function *fn;

  req->data = NULL;
  query = strchr (t, '?');
  path_len = query ? (size_t) (query - t) : strlen (t);
  if (query)
    query++;
  if (path_len <= plen || strncmp (t, PATH_PREFIX, plen) != 0)
    return answer_error (req, 404, "UnknownOperationException",
                         "Unknown operation: this server answers Lambda's "
                         "Invoke and GetFunction.", NULL);
  name = t + plen;
  rest = memchr (name, '/', path_len - plen);
  if (rest == NULL && strcmp (req->method, "GET") == 0)
    {
      if ((fn = function_of (api, req, name, path_len - plen, query)))
        function_describe (fn, req);
      return;
    }
  if (rest && (size_t) (t + path_len - rest) == strlen ("/invocations")
      && strncmp (rest, "/invocations", strlen ("/invocations")) == 0
      && strcmp (req->method, "POST") == 0)
    {
      if ((fn = function_of (api, req, name, (size_t) (rest - name), query)))
        function_invoke (fn, req);
      return;
    }
  answer_error (req, 404, "UnknownOperationException", "Unknown operation: "
                "this server answers POST .../functions/NAME/invocations "
                "and GET .../functions/NAME.", NULL);
}

/* The client left before its answer: the invocation goes on, and its
   log says how it ended. */
static void
api_on_abort (gl_http_request_t *req, int err)
{
  struct call *call = req->data;

  if (call == NULL)
    return;
  call->req = NULL;
  if (err != UV_ECANCELED)
    gl_log_notice ("%s: request %s: the client went away (%s); the "
                   "invocation goes on, and its log says how it ended\n",
                   program, call->request_id, gl_http_err_name (err));
}

/* A body over 6 MB is Lambda's RequestTooLargeException; the server
   sets no header here, so the type goes in the body too, where SDKs
   look next. */
static void
api_on_reject (gl_http_server_t *server, gl_http_reject_t *rej)
{
  static const char too_large[] =
    "{\"__type\":\"RequestTooLargeException\",\"Type\":\"User\","
    "\"Message\":\"Request must be smaller than 6291456 bytes for the "
    "InvokeFunction operation\"}";

  if (rej->status != 413)
    return;
  rej->content_type = "application/json";
  rej->body = too_large;
  rej->body_len = sizeof too_large - 1;
}

/* Closing. */

static void
api_part_closed (struct gl_invoke_api *api)
{
  void (*cb) (void *) = api->close_cb;
  void *data = api->close_data;
  int i;

  if (--api->open > 0)
    return;
  for (i = 0; i < api->nfunctions; i++)
    while (api->functions[i].calls)
      call_free (api->functions[i].calls);
  free (api->functions);
  free (api);
  if (cb)
    cb (data);
}

static void
server_on_close (gl_http_server_t *server)
{
  api_part_closed (server->data);
}

static void
service_on_close (void *data)
{
  api_part_closed (data);
}

static void
later_on_close (uv_handle_t *h)
{
  api_part_closed (h->data);
}

static void
api_close_all (struct gl_invoke_api *api)
{
  int i;

  if (api->closing)
    return;
  api->closing = 1;
  uv_close ((uv_handle_t *) &api->later, later_on_close);
  if (api->server_open)
    gl_http_server_close (&api->server, server_on_close);
  for (i = 0; i < api->nfunctions; i++)
    if (api->functions[i].svc)
      gl_service_close (api->functions[i].svc, service_on_close, api);
}

static void
later_on_timer (uv_timer_t *t)
{
  api_close_all (t->data);
}

/* Every invocation accepted is answered: close once the loop is off
   the stack of the last outcome (a service must not close inside its
   own callback). */
static void
api_drained (struct gl_invoke_api *api)
{
  if (!api->closing)
    uv_timer_start (&api->later, later_on_timer, 0, 0);
}

void
gl_invoke_api_drain (struct gl_invoke_api *api, void (*cb) (void *),
                     void *data)
{
  if (api->closing || api->draining)
    return;
  api->draining = 1;
  api->close_cb = cb;
  api->close_data = data;
  gl_http_server_stop (&api->server);
  if (api->pending == 0)
    api_drained (api);
}

void
gl_invoke_api_close (struct gl_invoke_api *api, void (*cb) (void *),
                     void *data)
{
  api->close_cb = cb;
  api->close_data = data;
  api_close_all (api);
}

/* Starting. */

static int
api_listen (struct gl_invoke_api *api, const struct gl_invoke_config *cfg)
{
  gl_http_limits_t limits;
  int r;

  gl_http_limits_init (&limits);
  limits.body_max = GL_HTTP_BODY_MAX;
  limits.header_timeout = HEADER_TIMEOUT_MS;
  limits.body_timeout = BODY_TIMEOUT_MS;
  r = gl_http_server_init (api->loop, &api->server, &limits);
  if (r != 0)
    return r;
  api->server_open = 1;
  api->open++;
  api->server.data = api;
  gl_http_server_on_reject (&api->server, api_on_reject);
  return gl_http_server_listen (&api->server, cfg->host, cfg->port,
                                api_on_request, api_on_abort);
}

struct gl_invoke_api *
gl_invoke_api_start (uv_loop_t *loop, const struct gl_invoke_config *cfg)
{
  struct gl_invoke_api *api = calloc (1, sizeof *api);
  time_t now = time (NULL);
  struct tm tm;
  int i, r;

  api->loop = loop;
  gmtime_r (&now, &tm);
  strftime (api->last_modified, sizeof api->last_modified,
            "%Y-%m-%dT%H:%M:%S.000+0000", &tm);
  uv_timer_init (loop, &api->later);
  api->later.data = api;
  api->open = 1;
  api->nfunctions = cfg->nfunctions;
  api->functions = calloc ((size_t) cfg->nfunctions, sizeof *api->functions);
  r = api_listen (api, cfg);
  if (r != 0)
    {
      fprintf (stderr, "%s: cannot serve the Invoke API on %s port %d: %s\n",
               program, cfg->host, cfg->port, gl_http_strerror (r));
      gl_invoke_api_close (api, NULL, NULL);
      return NULL;
    }
  for (i = 0; i < cfg->nfunctions; i++)
    {
      struct function *fn = &api->functions[i];

      fn->api = api;
      fn->cfg = cfg->functions[i];
      fn->cfg.service.on_outcome = function_on_outcome;
      fn->cfg.service.data = fn;
      fn->svc = gl_service_start (loop, &fn->cfg.service);
      if (fn->svc == NULL)
        {
          gl_invoke_api_close (api, NULL, NULL);
          return NULL;
        }
      api->open++;
    }
  return api;
}

int
gl_invoke_api_port (const struct gl_invoke_api *api)
{
  return gl_http_server_port (&api->server);
}

unsigned long
gl_invoke_api_pending (const struct gl_invoke_api *api)
{
  return api->pending;
}
