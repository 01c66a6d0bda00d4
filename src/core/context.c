/* context.c: invocations, the context object and the completion
   procedures.  This file records outcomes; it never runs the loop. */
#include "core/context.h"
#include "core/boundary.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static SCM context_type;

uint64_t
gl_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The invocation's deadline and timeout.  The platform's deadline is
   wall-clock time, and the watchdog's clock monotonic; the timeout it
   implies is Lambda's, a whole number of seconds, less the time the
   event took to get here. */
static void
invocation_deadline_set (struct gl_invocation *inv,
                         const struct gl_function *fn,
                         const struct gl_request *req)
{
  struct timespec ts;
  int64_t left_ms;

  inv->timeout_s = fn->timeout_s;
  inv->deadline_ns = inv->start_ns + (uint64_t) (fn->timeout_s * 1e9);
  if (req->deadline_epoch_ms <= 0)
    return;
  clock_gettime (CLOCK_REALTIME, &ts);
  left_ms = req->deadline_epoch_ms - ((int64_t) ts.tv_sec * 1000
                                      + ts.tv_nsec / 1000000);
  if (left_ms < 0)
    left_ms = 0;
  inv->deadline_ns = inv->start_ns + (uint64_t) left_ms * 1000000u;
  inv->timeout_s = left_ms < 1000 ? 1 : (double) ((left_ms + 500) / 1000);
}

struct gl_invocation *
gl_invocation_new (const struct gl_function *fn, const struct gl_request *req,
                   SCM event, int with_callback)
{
  struct gl_invocation *inv = scm_gc_malloc (sizeof *inv, "invocation");

  memset (inv, 0, sizeof *inv);
  inv->req = *req;
  inv->fn = fn;
  inv->invoked_arn = req->invoked_arn ? req->invoked_arn : fn->arn;
  inv->event = event;
  inv->start_ns = gl_now_ns ();
  invocation_deadline_set (inv, fn, req);
  inv->waits_for_empty_loop = 1;
  inv->callback_value = SCM_BOOL_F;
  inv->outcome = GL_PENDING;
  inv->context = scm_c_make_structv (context_type, 0, 0, NULL);
  SCM_STRUCT_DATA_SET (inv->context, 0, (scm_t_bits) inv);
  inv->callback = with_callback
    ? gl_boundary_call (GL_HOOK_MAKE_CALLBACK, scm_list_1 (inv->context),
                        SCM_BOOL_F)
    : SCM_BOOL_F;
  return inv;
}

static void
completion_ignored (struct gl_invocation *inv, const char *by)
{
  gl_log_printf (GL_LOG_WARN, "%s for request %s ignored: the invocation "
                 "already completed by %s", by, inv->req.request_id,
                 inv->completed_by);
}

/* A success that waits for the empty loop already counts as the first
   completion (DESIGN.md §3 rule 4). */
static int
completed_p (const struct gl_invocation *inv)
{
  return inv->outcome != GL_PENDING || inv->callback_called;
}

static void
complete (struct gl_invocation *inv, enum gl_outcome outcome, char *json,
          const char *by)
{
  inv->outcome = outcome;
  inv->result_json = json;
  inv->completed_by = by;
}

static char *
buf_to_gc_string (struct gl_buf *b)
{
  char *s = scm_gc_strdup (b->data ? b->data : "", "result");
  gl_buf_free (b);
  return s;
}

static void
complete_error (struct gl_invocation *inv, const char *type,
                const char *message, const char *by)
{
  struct gl_buf b;

  gl_buf_init (&b);
  gl_json_error (&b, type, message);
  complete (inv, strcmp (type, "Sandbox.Timedout") ? GL_FAILED : GL_TIMED_OUT,
            buf_to_gc_string (&b), by);
}

/* The runtime's own failures (timeout, uncaught exception) override a
   success that is still waiting for the loop, not a reported one. */
void
gl_invocation_fail_with (struct gl_invocation *inv, const char *type,
                         const char *message, const char *by)
{
  if (inv->outcome != GL_PENDING)
    return completion_ignored (inv, by);
  complete_error (inv, type, message, by);
}

/* Complete INV with VALUE, as JSON; what gl_json_encode returns, with
   the reason in ERR, if it is not JSON data. */
static int
complete_encoded (struct gl_invocation *inv, enum gl_outcome outcome,
                  SCM value, const char *by, char *err, size_t errlen)
{
  struct gl_buf b;
  int r;

  gl_buf_init (&b);
  if ((r = gl_json_encode (value, &b, err, errlen)) != 0)
    {
      gl_buf_free (&b);
      return r;
    }
  complete (inv, outcome, buf_to_gc_string (&b), by);
  return 0;
}

static void
succeed (struct gl_invocation *inv, SCM value, const char *by)
{
  char err[512];
  int r;

  if (SCM_UNBNDP (value) || scm_is_eq (value, SCM_UNSPECIFIED))
    value = scm_from_utf8_symbol ("null");
  r = complete_encoded (inv, GL_SUCCEEDED, value, by, err, sizeof err);
  if (r == 0)
    return;
  gl_log_printf (GL_LOG_ERROR, "the result cannot be encoded as JSON: %s", err);
  /* Node's message; a list meant as an array is the usual slip here. */
  complete_error (inv, "Runtime.MarshalError",
                  r == GL_JSON_ENCODE_LIST
                  ? "Unable to stringify response body: a list is JSON only "
                    "as an object, an alist ((key . value) ...); for a JSON "
                    "array use a vector, #(1 2 3) or (list->vector LIST)"
                  : "Unable to stringify response body", by);
}

void
gl_invocation_succeed (struct gl_invocation *inv, SCM value, const char *by)
{
  if (completed_p (inv))
    return completion_ignored (inv, by);
  succeed (inv, value, by);
}

void
gl_invocation_settle (struct gl_invocation *inv)
{
  if (inv->outcome != GL_PENDING)
    return;
  if (inv->callback_called)
    succeed (inv, inv->callback_value, "callback");
  else
    succeed (inv, SCM_UNSPECIFIED, "empty event loop");
}

/* As the Node runtime says of an error whose message, name or stack
   cannot be read. */
static SCM
error_undescribable (void)
{
  return gl_error_object ("handled", "callback called with Error argument, "
                          "but there was a problem while retrieving one or "
                          "more of its message, name, and stack");
}

static void
fail (struct gl_invocation *inv, SCM error, const char *by)
{
  SCM alist = gl_boundary_call (GL_HOOK_ERROR_TO_ALIST, scm_list_1 (error),
                                SCM_UNDEFINED);
  char err[512];

  if (SCM_UNBNDP (alist))
    alist = error_undescribable ();
  if (complete_encoded (inv, GL_FAILED, alist, by, err, sizeof err) != 0)
    complete_error (inv, "Runtime.MarshalError", err, by);
}

void
gl_invocation_fail (struct gl_invocation *inv, SCM error, const char *by)
{
  if (completed_p (inv))
    return completion_ignored (inv, by);
  fail (inv, error, by);
}

void
gl_invocation_abort (struct gl_invocation *inv, SCM error, const char *by)
{
  if (inv->outcome != GL_PENDING)
    return completion_ignored (inv, by);
  fail (inv, error, by);
}

/* The Scheme side. */

static int
context_object_p (SCM obj)
{
  return SCM_STRUCTP (obj) && scm_is_eq (SCM_STRUCT_VTABLE (obj), context_type);
}

static struct gl_invocation *
context_ref (SCM ctx, const char *subr)
{
  SCM_ASSERT_TYPE (context_object_p (ctx), ctx, 1, subr, "context");
  return (struct gl_invocation *) SCM_STRUCT_DATA_REF (ctx, 0);
}

struct gl_invocation *
gl_context_invocation (SCM ctx, const char *subr)
{
  return context_ref (ctx, subr);
}

static SCM
string_or_false (const char *s)
{
  return s ? scm_from_utf8_string (s) : SCM_BOOL_F;
}

static SCM
context_write (SCM obj, SCM port)
{
  scm_puts ("#<context ", port);
  scm_display (scm_number_to_string (scm_from_uintptr_t (SCM_UNPACK (obj)),
                                     scm_from_int (16)), port);
  scm_putc ('>', port);
  return SCM_UNSPECIFIED;
}

static SCM
context_p (SCM obj)
{
  return scm_from_bool (context_object_p (obj));
}

static SCM
context_function_name (SCM ctx)
{
  return string_or_false (context_ref (ctx, "context-function-name")->fn->name);
}

static SCM
context_function_version (SCM ctx)
{
  return string_or_false
    (context_ref (ctx, "context-function-version")->fn->version);
}

static SCM
context_invoked_function_arn (SCM ctx)
{
  return string_or_false
    (context_ref (ctx, "context-invoked-function-arn")->invoked_arn);
}

static SCM
context_memory_limit_in_mb (SCM ctx)
{
  return scm_from_int
    (context_ref (ctx, "context-memory-limit-in-mb")->fn->memory_mb);
}

static SCM
context_aws_request_id (SCM ctx)
{
  return scm_from_utf8_string
    (context_ref (ctx, "context-aws-request-id")->req.request_id);
}

static SCM
context_log_group_name (SCM ctx)
{
  return string_or_false
    (context_ref (ctx, "context-log-group-name")->fn->log_group);
}

static SCM
context_log_stream_name (SCM ctx)
{
  return string_or_false
    (context_ref (ctx, "context-log-stream-name")->fn->log_stream);
}

static SCM
context_identity (SCM ctx)
{
  return context_ref (ctx, "context-identity")->req.identity;
}

static SCM
context_client_context (SCM ctx)
{
  return context_ref (ctx, "context-client-context")->req.client_context;
}

static SCM
context_tenant_id (SCM ctx)
{
  return context_ref (ctx, "context-tenant-id")->req.tenant_id;
}

static SCM
context_event (SCM ctx)
{
  return context_ref (ctx, "context-event")->event;
}

static SCM
context_remaining_time_in_millis (SCM ctx)
{
  struct gl_invocation *inv;
  uint64_t now = gl_now_ns ();

  inv = context_ref (ctx, "context-remaining-time-in-millis");
  if (now >= inv->deadline_ns)
    return scm_from_int (0);
  return scm_from_uint64 ((inv->deadline_ns - now) / 1000000u);
}

static SCM
context_waits_p (SCM ctx)
{
  return scm_from_bool
    (context_ref (ctx, "context-callback-waits-for-empty-event-loop?")
     ->waits_for_empty_loop);
}

static SCM
set_context_waits_x (SCM ctx, SCM flag)
{
  context_ref (ctx, "set-context-callback-waits-for-empty-event-loop!")
    ->waits_for_empty_loop = scm_is_true (flag);
  return SCM_UNSPECIFIED;
}

/* (callback err result), rules 1, 2 and 4 of DESIGN.md §3.  The flag is
   read now, at the call, as the Node runtime does. */
static SCM
context_callback (SCM ctx, SCM err, SCM value)
{
  struct gl_invocation *inv = context_ref (ctx, "callback");

  if (completed_p (inv))
    completion_ignored (inv, "callback");
  else if (!SCM_UNBNDP (err) && scm_is_true (err))
    gl_invocation_fail (inv, err, "callback");
  else if (!inv->waits_for_empty_loop)
    gl_invocation_succeed (inv, value, "callback");
  else
    {
      inv->callback_called = 1;
      inv->completed_by = "callback";
      inv->callback_ns = gl_now_ns ();
      inv->callback_value = SCM_UNBNDP (value) ? SCM_UNSPECIFIED : value;
    }
  return SCM_UNSPECIFIED;
}

static SCM
context_succeed (SCM ctx, SCM value)
{
  gl_invocation_succeed (context_ref (ctx, "context-succeed"), value,
                         "context-succeed");
  return SCM_UNSPECIFIED;
}

/* (context-fail context [err]): as the Node runtime's fail(), which
   turns a missing error (fail(null), fail()) into the string "handled":
   the invocation fails all the same. */
static SCM
context_fail (SCM ctx, SCM err)
{
  struct gl_invocation *inv = context_ref (ctx, "context-fail");

  if (SCM_UNBNDP (err) || scm_is_false (err))
    err = scm_from_utf8_string ("handled");
  gl_invocation_fail (inv, err, "context-fail");
  return SCM_UNSPECIFIED;
}

static SCM
context_done (SCM ctx, SCM err, SCM value)
{
  struct gl_invocation *inv = context_ref (ctx, "context-done");

  if (!SCM_UNBNDP (err) && scm_is_true (err))
    gl_invocation_fail (inv, err, "context-done");
  else
    gl_invocation_succeed (inv, value, "context-done");
  return SCM_UNSPECIFIED;
}

void
gl_context_init (void)
{
  /* A struct with its own vtable, as handles are (handles.c): one raw
     word, the invocation. */
  context_type = scm_make_vtable
    (scm_from_utf8_string ("uw"),
     scm_c_make_gsubr ("%context-write", 2, 0, 0, context_write));
  scm_c_define ("<context>", context_type);
  scm_c_define_gsubr ("context?", 1, 0, 0, context_p);
  scm_c_define_gsubr ("context-function-name", 1, 0, 0, context_function_name);
  scm_c_define_gsubr ("context-function-version", 1, 0, 0,
                      context_function_version);
  scm_c_define_gsubr ("context-invoked-function-arn", 1, 0, 0,
                      context_invoked_function_arn);
  scm_c_define_gsubr ("context-memory-limit-in-mb", 1, 0, 0,
                      context_memory_limit_in_mb);
  scm_c_define_gsubr ("context-aws-request-id", 1, 0, 0,
                      context_aws_request_id);
  scm_c_define_gsubr ("context-log-group-name", 1, 0, 0,
                      context_log_group_name);
  scm_c_define_gsubr ("context-log-stream-name", 1, 0, 0,
                      context_log_stream_name);
  scm_c_define_gsubr ("context-identity", 1, 0, 0, context_identity);
  scm_c_define_gsubr ("context-client-context", 1, 0, 0,
                      context_client_context);
  scm_c_define_gsubr ("context-tenant-id", 1, 0, 0, context_tenant_id);
  scm_c_define_gsubr ("context-event", 1, 0, 0, context_event);
  scm_c_define_gsubr ("context-remaining-time-in-millis", 1, 0, 0,
                      context_remaining_time_in_millis);
  scm_c_define_gsubr ("context-callback-waits-for-empty-event-loop?", 1, 0, 0,
                      context_waits_p);
  scm_c_define_gsubr ("set-context-callback-waits-for-empty-event-loop!",
                      2, 0, 0, set_context_waits_x);
  scm_c_define_gsubr ("%context-callback", 1, 2, 0, context_callback);
  scm_c_define_gsubr ("context-succeed", 1, 1, 0, context_succeed);
  scm_c_define_gsubr ("context-fail", 1, 1, 0, context_fail);
  scm_c_define_gsubr ("context-done", 1, 2, 0, context_done);
}
