/* bootstrap.c: `guile-lambda bootstrap`, the engine behind the Lambda
   Runtime API 2018-06-01: the very code path that runs on AWS Lambda as
   a custom runtime.  The init phase first (its error goes to
   /runtime/init/error, and the runtime exits, as Lambda asks); then, for
   ever, `next`, the invocation, and its response or error.  START, END
   and REPORT are the platform's to write, not ours.

   Who owns what: one thread, the engine's.  The Runtime API client has
   a libuv loop of its own, which this file runs only while it waits for
   an answer; the engine's loop does not turn meanwhile, which is the
   freeze between invocations.  So the long-polling `next` is no handle
   of the engine's: it never counts for the empty-loop test, and it has
   no timeout. */
#include "runtime/bootstrap.h"
#include "core/buf.h"
#include "core/engine.h"
#include "core/fatal.h"
#include "core/json.h"
#include "core/log.h"
#include "core/spin.h"
#include "http/http.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_PREFIX "/2018-06-01/runtime"


struct runtime {
  uv_loop_t loop;
  gl_http_client_t client;
  const char *api;
  struct gl_spin spin;
};

/* One answer of the Runtime API, and what `next' says of the event. */
struct answer {
  int done;
  int err;                      /* the client's error, or 0 */
  int status;
  struct gl_buf body;
  struct gl_request req;
  char *arn;
  char *trace_id;
  char *deadline;               /* as the header said it */
  int pipelining;               /* the server reads pipelined requests */
};

static const char *program = "guile-lambda bootstrap";

static char *
header_dup (const gl_http_response_t *res, const char *name)
{
  const char *v = gl_http_header_find (res->headers, res->nheaders, name);

  return v ? strdup (v) : NULL;
}

/* JSON of a header, or #f when it is absent or not JSON. */
static SCM
header_json (const gl_http_response_t *res, const char *name)
{
  const char *v = gl_http_header_find (res->headers, res->nheaders, name);
  char err[256];
  SCM x;

  if (v == NULL || *v == '\0')
    return SCM_BOOL_F;
  x = gl_json_decode (v, strlen (v), err, sizeof err);
  return SCM_UNBNDP (x) ? SCM_BOOL_F : x;
}

/* A deadline is wall-clock time in milliseconds since the epoch.  Some
   local emulators send something else (@vercel/fun sends "5000"): taken
   as a time, it passed long before the handler began, and every
   invocation would time out at once.  A value before 2001-09-09 (10^12
   ms) is no such time, so the invocation gets the function's timeout
   instead (0 says so to the engine), and the log says it once. */
#define DEADLINE_EPOCH_MS_MIN 1000000000000LL

static int64_t
deadline_parse (const char *v)
{
  static int warned;
  long long ms = 0;
  char *end = NULL;

  if (v != NULL)
    {
      errno = 0;
      ms = strtoll (v, &end, 10);
      if (end != v && *end == '\0' && errno == 0
          && ms >= DEADLINE_EPOCH_MS_MIN)
        return ms;
    }
  if (warned)
    return 0;
  warned = 1;
  if (v != NULL)
    fprintf (stderr, "%s: the Runtime API sent Lambda-Runtime-Deadline-Ms "
             "'%s', not a time in milliseconds since the epoch: ", program, v);
  else
    fprintf (stderr, "%s: the Runtime API sent no "
             "Lambda-Runtime-Deadline-Ms: ", program);
  fprintf (stderr, "each invocation gets the function's timeout instead "
           "($AWS_LAMBDA_FUNCTION_TIMEOUT seconds, default 3)\n");
  return 0;
}

/* The context's values come from `next''s headers, as on Lambda. */
static void
answer_request_fill (struct answer *a, const gl_http_response_t *res)
{
  const char *id = gl_http_header_find (res->headers, res->nheaders,
                                        "Lambda-Runtime-Aws-Request-Id");
  const char *tenant = gl_http_header_find (res->headers, res->nheaders,
                                            "Lambda-Runtime-Aws-Tenant-Id");

  snprintf (a->req.request_id, sizeof a->req.request_id, "%s", id ? id : "");
  a->arn = header_dup (res, "Lambda-Runtime-Invoked-Function-Arn");
  a->req.invoked_arn = a->arn;
  a->trace_id = header_dup (res, "Lambda-Runtime-Trace-Id");
  a->deadline = header_dup (res, "Lambda-Runtime-Deadline-Ms");
  a->req.client_context = header_json (res, "Lambda-Runtime-Client-Context");
  a->req.identity = header_json (res, "Lambda-Runtime-Cognito-Identity");
  a->req.tenant_id = tenant ? scm_from_utf8_string (tenant) : SCM_BOOL_F;
  a->pipelining = gl_http_header_find (res->headers, res->nheaders,
                                       GL_HTTP_PIPELINING_HEADER) != NULL;
}

static void
answer_on_response (gl_http_client_t *client, int err,
                    const gl_http_response_t *res, void *arg)
{
  struct answer *a = arg;

  a->done = 1;
  a->err = err;
  if (err != 0)
    return;
  a->status = res->status;
  gl_buf_append (&a->body, res->body, res->body_len);
  answer_request_fill (a, res);
}

static void
answer_init (struct answer *a)
{
  memset (a, 0, sizeof *a);
  gl_buf_init (&a->body);
  a->req.identity = a->req.client_context = a->req.tenant_id = SCM_BOOL_F;
}

static void
answer_free (struct answer *a)
{
  gl_buf_free (&a->body);
  free (a->arn);
  free (a->trace_id);
  free (a->deadline);
}

/* Wait for A, running only the client's loop: polling first (see
   core/spin.h), then blocking.  0, or the client's error. */
static int
answer_wait (struct runtime *rt, struct answer *a)
{
  uint64_t until = uv_hrtime () + gl_spin_window (&rt->spin);

  while (!a->done && uv_hrtime () < until)
    {
      uv_run (&rt->loop, UV_RUN_NOWAIT);
      if (!a->done)
        sched_yield ();
    }
  if (a->done)
    gl_spin_hit (&rt->spin);
  else
    gl_spin_miss (&rt->spin);
  while (!a->done)
    uv_run (&rt->loop, UV_RUN_ONCE);
  return a->err;
}

/* An answer to a post that is not 2xx is logged: the invocation's
   outcome did not land as sent (Lambda answers 413 to a response over
   6 MB, and fails the invocation itself). */
static void
answer_check (const struct answer *a, const char *what)
{
  if (a->status / 100 != 2)
    fprintf (stderr, "%s: the Runtime API answered %d to %s: %s\n", program,
             a->status, what, a->body.data ? a->body.data : "");
}

/* The errorType of an error object in JSON, for the header that carries
   it; "Runtime.Unknown" if it has none. */
static char *
error_type (const char *error_json)
{
  char err[256];
  SCM obj = gl_json_decode (error_json, strlen (error_json), err, sizeof err);
  SCM type = SCM_BOOL_F;

  if (!SCM_UNBNDP (obj) && scm_is_pair (obj))
    type = scm_assoc_ref (obj, scm_from_utf8_string ("errorType"));
  return scm_is_string (type) ? scm_to_utf8_string (type)
                              : strdup ("Runtime.Unknown");
}

/* The engine reset its container after this outcome (a timeout, an
   exit, an uncaught error, memory; also one in a callback after the
   invocation had succeeded): on Lambda its process would be gone.  A
   supervisor of ours that reads this header ends the process, so that
   the next event is a cold start it can measure; any other Runtime API
   server ignores it, and the engine, cold, inits again in place. */
#define RESET_HEADER "Guile-Lambda-Container-Reset"

/* Send an error object to TARGET; its answer goes to A.  0, or the
   client's error. */
static int
error_send (struct runtime *rt, const char *target, const char *error_json,
            int reset, struct answer *a)
{
  char *type = error_type (error_json);
  gl_http_header_t headers[] = {
    { "Content-Type", "application/json" },
    { "Lambda-Runtime-Function-Error-Type", type },
    { RESET_HEADER, "true" }
  };
  size_t n = reset ? 3 : 2;
  int r;

  r = gl_http_client_request (&rt->client, "POST", target, headers, n,
                              error_json, strlen (error_json),
                              answer_on_response, a);
  /* A type the header cannot carry still gets its error reported. */
  if (r == UV_EINVAL)
    {
      headers[1].value = "Runtime.Unknown";
      r = gl_http_client_request (&rt->client, "POST", target, headers, n,
                                  error_json, strlen (error_json),
                                  answer_on_response, a);
    }
  free (type);
  return r;
}

static int
response_send (struct runtime *rt, const char *id, const char *json,
               int reset, struct answer *a)
{
  static const gl_http_header_t headers[] = {
    { "Content-Type", "application/json" },
    { RESET_HEADER, "true" }
  };
  char target[160];

  snprintf (target, sizeof target, API_PREFIX "/invocation/%s/response", id);
  return gl_http_client_request (&rt->client, "POST", target, headers,
                                 reset ? 2 : 1, json, strlen (json),
                                 answer_on_response, a);
}

static void
api_failed (struct runtime *rt, const char *what, int err)
{
  fprintf (stderr, "%s: cannot %s at the Runtime API %s: %s (%s)\n", program,
           what, rt->api, gl_http_strerror (err), gl_http_err_name (err));
}

/* One event: run it and send its outcome, whose answer goes to POSTED
   (the caller waits for it after sending the next `next').  0, or the
   client's error. */
static int
event_run (struct runtime *rt, struct answer *next, struct answer *posted,
           char *what, size_t size)
{
  struct gl_invocation *inv;
  char err[512], target[160];
  const char *id = next->req.request_id;
  SCM event;
  int r;

  next->req.deadline_epoch_ms = deadline_parse (next->deadline);
  if (next->trace_id)
    setenv ("_X_AMZN_TRACE_ID", next->trace_id, 1);
  else
    unsetenv ("_X_AMZN_TRACE_ID");
  snprintf (target, sizeof target, API_PREFIX "/invocation/%s/error", id);
  snprintf (what, size, "the outcome of request %s", id);
  event = gl_json_decode (next->body.data ? next->body.data : "",
                          next->body.len, err, sizeof err);
  if (SCM_UNBNDP (event))
    {
      gl_log_printf (GL_LOG_ERROR, "the event of request %s is not JSON: %s",
                     id, err);
      return error_send (rt, target, "{\"errorType\":"
                         "\"InvalidRequestContentException\",\"errorMessage\":"
                         "\"Could not parse request body into json\","
                         "\"stackTrace\":[]}", 0, posted);
    }
  /* No report: on Lambda the platform writes REPORT, and measures. */
  inv = gl_engine_invoke (&next->req, event, NULL);
  if (inv->outcome == GL_SUCCEEDED)
    r = response_send (rt, id, inv->result_json, inv->reset, posted);
  else
    r = error_send (rt, target, inv->result_json, inv->reset, posted);
  /* A reset (a timeout, an exit, an uncaught error) made the engine
     cold: the next event inits again, in this process, which every
     Runtime API server can live with (a supervisor may kill it). */
  gl_inflight_clear ();
  return r;
}

/* The answer to `next': 0 if it holds an event, or 1 (logged). */
static int
next_check (struct runtime *rt, struct answer *next, int r)
{
  if (r != 0)
    {
      api_failed (rt, "get the next invocation", r);
      return 1;
    }
  if (next->status != 200 || next->req.request_id[0] == '\0')
    {
      fprintf (stderr, "%s: the Runtime API answered %d to next%s: %s\n",
               program, next->status, next->req.request_id[0] ? ""
               : " without a request id", next->body.data
               ? next->body.data : "");
      return 1;
    }
  return 0;
}

/* next -> invocation -> outcome, for ever.  Where the server says it
   may, the next `next' goes out with the outcome, pipelined in the same
   write: one round trip per event instead of two. */
static int
runtime_serve (struct runtime *rt)
{
  struct answer next, posted;
  char what[128];
  int r, pending = 0;

  for (;;)
    {
      answer_init (&next);
      r = gl_http_client_request (&rt->client, "GET",
                                  API_PREFIX "/invocation/next", NULL, 0,
                                  NULL, 0, answer_on_response, &next);
      gl_http_client_hold (&rt->client, 0);
      if (pending)
        {
          int p = answer_wait (rt, &posted);

          if (p != 0)
            api_failed (rt, "post the outcome of an invocation", p);
          else
            answer_check (&posted, what);
          answer_free (&posted);
          pending = 0;
          if (p != 0)
            {
              answer_free (&next);
              return 1;
            }
        }
      if (r == 0)
        r = answer_wait (rt, &next);
      if (next_check (rt, &next, r) != 0)
        {
          answer_free (&next);
          return 1;
        }
      answer_init (&posted);
      gl_http_client_set_pipeline (&rt->client, next.pipelining);
      gl_http_client_hold (&rt->client, 1);
      r = event_run (rt, &next, &posted, what, sizeof what);
      answer_free (&next);
      if (r != 0)
        {
          api_failed (rt, "post the outcome of an invocation", r);
          answer_free (&posted);
          return 1;
        }
      pending = 1;
    }
}

/* The init phase, before the first `next', as on Lambda. */
static int
runtime_init (struct runtime *rt)
{
  const char *error_json = NULL;
  int r;

  struct answer a;

  if (gl_engine_load (&error_json) == 0)
    return 0;
  answer_init (&a);
  r = error_send (rt, API_PREFIX "/init/error", error_json, 0, &a);
  if (r == 0)
    r = answer_wait (rt, &a);
  if (r != 0)
    api_failed (rt, "report the init error", r);
  else
    answer_check (&a, API_PREFIX "/init/error");
  answer_free (&a);
  return -1;
}

/* HOST:PORT, [IPV6]:PORT. */
static int
api_parse (const char *api, char *host, size_t size, int *port)
{
  const char *colon = strrchr (api, ':');
  const char *start = api, *end = colon;
  char *rest;
  long p;

  if (colon == NULL)
    return -1;
  if (*api == '[' && colon > api && colon[-1] == ']')
    start = api + 1, end = colon - 1;
  if ((size_t) (end - start) >= size || end == start)
    return -1;
  memcpy (host, start, (size_t) (end - start));
  host[end - start] = '\0';
  p = strtol (colon + 1, &rest, 10);
  if (*rest != '\0' || p < 1 || p > 65535)
    return -1;
  *port = (int) p;
  return 0;
}

static void
client_on_close (gl_http_client_t *client)
{
}

int
gl_bootstrap_run (const char *api)
{
  struct runtime rt;
  char host[256];
  int port, r;

  memset (&rt, 0, sizeof rt);
  rt.api = api;
  if (api_parse (api, host, sizeof host, &port) != 0)
    {
      fprintf (stderr, "%s: AWS_LAMBDA_RUNTIME_API is '%s', not HOST:PORT\n",
               program, api);
      return 2;
    }
  r = uv_loop_init (&rt.loop);
  if (r == 0)
    r = gl_http_client_init (&rt.loop, &rt.client, host, port);
  if (r != 0)
    {
      fprintf (stderr, "%s: cannot set up the Runtime API client for %s: %s\n",
               program, api, gl_http_strerror (r));
      return 1;
    }
  r = runtime_init (&rt) == 0 ? runtime_serve (&rt) : 1;
  gl_http_client_close (&rt.client, client_on_close);
  uv_run (&rt.loop, UV_RUN_DEFAULT);
  uv_loop_close (&rt.loop);
  return r;
}
