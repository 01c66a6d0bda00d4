/* engine.c: the container.  It owns the libuv loop, the handler's
   module, the invocation in progress and the completion rules of
   DESIGN.md §3; the watchdog thread and the registry of user handles
   serve it.  The loop runs only while an invocation does: between
   invocations the container is frozen and pending handles wait. */
#include "core/engine.h"
#include "core/boundary.h"
#include "core/fatal.h"
#include "core/handles.h"
#include "core/json.h"
#include "core/watchdog.h"

#include <ctype.h>
#include <libguile/loader.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <uv.h>

/* Lambda's limit on the init phase. */
#define INIT_TIMEOUT_S 10.0
/* How long a called callback may wait for the empty loop unexplained. */
#define WAIT_REPORT_NS 1000000000u

enum {
  ROOT_MODULE, ROOT_PROC, ROOT_CONTEXT, ROOT_TIMEOUT_THUNK, ROOT_TRACE,
  ROOT_COUNT
};

static struct {
  uv_loop_t loop;
  uv_async_t wake;              /* the watchdog's way into uv_run */
  uv_timer_t wait_report;       /* explains a long wait for the empty loop */
  int wait_report_armed;
  struct gl_function fn;
  char *handler;
  SCM roots;                    /* a protected vector: see ROOT_* */
  int arity;                    /* how many of event, context, callback */
  enum gl_container_state state;
  double init_ms;               /* how long the last init phase took */
  int init_pending;             /* the next REPORT carries init_ms */
  double report_init_ms;        /* < 0: this invocation had no init */
  int tracing;                  /* record the callbacks a step runs */
  uint64_t paused_ns;           /* REPL: when the clock stopped, or 0 */
  struct gl_invocation *inv;
  atomic_int expired;           /* the deadline has passed */
  SCM user_code;                /* fluid: #t inside guarded-apply's catch */
  int interrupted;              /* the timeout unwound running code */
  struct gl_handle *running;    /* the loop callback running, or NULL */
  char interrupted_in[1024];    /* what the timeout interrupted */
  SCM loop_thread;
  pthread_t loop_pthread;
  char *init_error_json;
} eng;

static SCM sym_ok, sym_error, sym_exit, sym_timeout_key;

static SCM
root_ref (int i)
{
  return SCM_SIMPLE_VECTOR_REF (eng.roots, i);
}

static void
root_set (int i, SCM v)
{
  SCM_SIMPLE_VECTOR_SET (eng.roots, i, v);
}

void
gl_request_id_generate (char out[37])
{
  static const char hex[] = "0123456789abcdef";
  static unsigned char pool[4096];
  static size_t pool_left;
  unsigned char *b;
  size_t i, o = 0;

  if (pool_left < 16)
    {
      if (getrandom (pool, sizeof pool, 0) != (ssize_t) sizeof pool)
        for (i = 0; i < sizeof pool; i++)
          pool[i] = (unsigned char) rand ();
      pool_left = sizeof pool;
    }
  b = pool + sizeof pool - pool_left;
  pool_left -= 16;
  b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);     /* version 4 */
  b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
  for (i = 0; i < 16; i++)
    {
      if (i == 4 || i == 6 || i == 8 || i == 10)
        out[o++] = '-';
      out[o++] = hex[b[i] >> 4];
      out[o++] = hex[b[i] & 15];
    }
  out[o] = '\0';
}

/* ERROR, an error object, with WHERE before its message. */
static SCM
error_prefix (SCM error, const char *where)
{
  return gl_boundary_call (GL_HOOK_ERROR_PREFIX,
                           scm_list_2 (error, scm_from_utf8_string (where)),
                           error);
}

/* Timeouts. */

/* The registry's live handles and requests, one log line each, under
   HEADING. */
static void
registry_log (enum gl_log_level level, const char *heading)
{
  struct gl_buf b;
  size_t start, i;

  gl_buf_init (&b);
  gl_registry_describe (&b, "  ");
  if (b.len == 0)
    gl_log_printf (level, "No handle or request was alive in the event loop.");
  else
    {
      gl_log_printf (level, "%s", heading);
      for (start = i = 0; i < b.len; i++)
        if (b.data[i] == '\n')
          {
            gl_log_line (level, b.data + start, i - start);
            start = i + 1;
          }
    }
  gl_buf_free (&b);
}

static void
timeout_log (struct gl_invocation *inv, const char *why)
{
  gl_log_printf (GL_LOG_ERROR, "Task timed out after %.2f seconds",
                 inv->timeout_s);
  if (why)
    gl_log_printf (GL_LOG_ERROR, "%s", why);
  registry_log (GL_LOG_ERROR, "Still alive in the event loop:");
}

/* A callback-style invocation whose callback was called with the flag
   #t waits for the empty loop.  If that takes more than a second, say
   what it waits for: the hang the article could not see. */
static void
wait_report_on_timer (uv_timer_t *timer)
{
  struct gl_invocation *inv = eng.inv;

  if (inv == NULL || inv->outcome != GL_PENDING || !inv->callback_called)
    return;
  uv_update_time (&eng.loop);
  gl_log_printf (GL_LOG_WARN, "The callback was called %.1f s ago, but the "
                 "context's callback-waits-for-empty-event-loop flag was #t, "
                 "so the invocation waits until the event loop is empty.",
                 (double) (gl_now_ns () - inv->callback_ns) / 1e9);
  registry_log (GL_LOG_WARN, "It is kept open by:");
  gl_log_printf (GL_LOG_WARN, "Close or unref them, or set the flag to #f "
                 "before calling the callback.");
}

static void
wait_report_arm (struct gl_invocation *inv)
{
  uint64_t due = inv->callback_ns + WAIT_REPORT_NS, now = gl_now_ns ();

  if (eng.wait_report_armed)
    return;
  eng.wait_report_armed = 1;
  uv_timer_start (&eng.wait_report, wait_report_on_timer,
                  due > now ? (due - now) / 1000000u : 0, 0);
}

static const char waits_text[] = "The callback was called, but the "
  "context's callback-waits-for-empty-event-loop flag was #t, so the "
  "invocation waited for the event loop to become empty";

static void
timeout_complete (struct gl_invocation *inv)
{
  char msg[96], why[2048];

  if (inv->outcome != GL_PENDING)
    return;
  /* A partial line the interrupted code printed is its own, and comes
     before the verdict. */
  gl_log_flush_ports ();
  uv_update_time (&eng.loop);
  if (eng.interrupted && inv->callback_called)
    snprintf (why, sizeof why, "%s; %s was still running when time ran out, "
              "and was interrupted.", waits_text, eng.interrupted_in);
  else if (eng.interrupted)
    snprintf (why, sizeof why, "%c%s was still running (computing or blocked "
              "in a system call) when time ran out, and was interrupted.",
              toupper ((unsigned char) eng.interrupted_in[0]),
              eng.interrupted_in + 1);
  else if (inv->callback_called)
    snprintf (why, sizeof why, "%s, and it never did.", waits_text);
  else
    snprintf (why, sizeof why, "The event loop never became empty and "
              "nothing completed the invocation.");
  timeout_log (inv, why);
  snprintf (msg, sizeof msg, "Task timed out after %.2f seconds",
            inv->timeout_s);
  gl_invocation_fail_with (inv, "Sandbox.Timedout", msg, "timeout");
  inv->reset = 1;
}

/* The watchdog thread, at the deadline and again every few milliseconds
   until the loop thread answers (an async that arrives outside user
   code is dropped, so it is offered again).  It holds the watchdog's
   lock, with the arming current: the invocation has not ended, and
   cannot end before this returns. */
static void
engine_expire (void)
{
  atomic_store (&eng.expired, 1);
  uv_async_send (&eng.wake);
  scm_system_async_mark_for_thread (root_ref (ROOT_TIMEOUT_THUNK),
                                    eng.loop_thread);
  /* Knock the loop thread out of a blocking system call: Guile retries
     it after running pending asyncs, and ours unwinds the handler.
     Every blocking read of our own retries EINTR. */
  pthread_kill (eng.loop_pthread, SIGURG);
}

/* What is running now, for the timeout's explanation; the watchdog's
   hard stop asks too, while the loop thread is stuck. */
static void
running_describe (char *out, size_t size)
{
  struct gl_buf b;

  gl_buf_init (&b);
  gl_buf_puts (&b, "the callback of ");
  if (eng.running && gl_registry_describe_one (eng.running, &b))
    snprintf (out, size, "%s", b.data);
  else
    snprintf (out, size, "the handler");
  gl_buf_free (&b);
}

static SCM
timeout_thunk (void)
{
  /* Unwind only code that guarded-apply will catch. */
  if (atomic_load (&eng.expired)
      && scm_is_true (scm_fluid_ref (eng.user_code)))
    {
      eng.interrupted = 1;
      running_describe (eng.interrupted_in, sizeof eng.interrupted_in);
      scm_throw (sym_timeout_key, SCM_EOL);
    }
  return SCM_UNSPECIFIED;
}

static void
report_fill (struct gl_invocation *inv, struct gl_report *r)
{
  r->request_id = inv->req.request_id;
  r->duration_ms = (double) (gl_now_ns () - inv->start_ns) / 1e6;
  r->billed_ms = gl_report_billed_ms (r->duration_ms);
  r->memory_mb = eng.fn.memory_mb;
  r->max_memory_mb = gl_memory_used_mb ();
  r->init_ms = eng.report_init_ms;
  r->status = inv->outcome == GL_TIMED_OUT ? "timeout" : NULL;
}

/* The watchdog thread, when the loop thread never came back: it is
   stuck in C code, so it changes nothing the hard stop reads here but
   the registry, which is read under the registry's lock.  The event's
   report goes through fatal.c, which decides between this thread and
   the loop thread. */
static void
engine_hard_stop (void)
{
  char msg[128], why[2048];

  if (eng.state == GL_CONTAINER_RUNNING)
    {
      snprintf (msg, sizeof msg, "Task timed out after %.2f seconds",
                eng.inv ? eng.inv->timeout_s : eng.fn.timeout_s);
      running_describe (why, sizeof why);
    }
  else
    {
      snprintf (msg, sizeof msg, "The init phase timed out after %.0f "
                "seconds", INIT_TIMEOUT_S);
      snprintf (why, sizeof why, "the init phase");
    }
  gl_log_printf (GL_LOG_ERROR, "%s", msg);
  gl_log_printf (GL_LOG_ERROR, "%c%s is stuck in C code that cannot be "
                 "interrupted; the container is stopped from outside.",
                 toupper ((unsigned char) why[0]), why + 1);
  registry_log (GL_LOG_ERROR, "Still alive in the event loop:");
  gl_fatal_timeout (msg);
}

/* Loop callbacks: rule 7.  An uncaught exception fails the invocation
   that is running, or the one being thawed into, and resets the
   container. */
static void
engine_run_callback (struct gl_handle *h, SCM proc, SCM args)
{
  struct gl_invocation *inv = eng.inv;
  struct gl_buf where;
  SCM r, error;

  /* Time ran out before it could start: on Lambda it would never run,
     and the timeout must not say it interrupted it.  The invocation
     ends at the end of this turn; the reset closes its handle. */
  if (inv != NULL && atomic_load (&eng.expired))
    return;
  if (eng.tracing)
    root_set (ROOT_TRACE, scm_cons (gl_handle_describe_scm (h),
                                    root_ref (ROOT_TRACE)));
  gl_log_set_origin_request_id (h->origin.request_id);
  eng.running = h;
  r = gl_boundary_apply (proc, args);
  eng.running = NULL;
  /* A partial line is the callback's too: it must not wait for a later
     line to carry another request's id. */
  gl_log_flush_ports ();
  gl_log_set_origin_request_id (NULL);
  if (!scm_is_eq (scm_car (r), sym_error) && !scm_is_eq (scm_car (r), sym_exit))
    return;
  if (inv == NULL)
    return;
  /* The message names the callback's origin; made only when needed. */
  gl_buf_init (&where);
  gl_buf_printf (&where, "Uncaught exception in the callback of %s #%lu ",
                 h->class->type, h->id);
  gl_origin_describe (&h->origin, &where);
  error = error_prefix (scm_cdr (r), where.data);
  gl_buf_free (&where);
  gl_invocation_abort (inv, error, "an uncaught exception");
  if (inv->outcome == GL_FAILED && inv->result_json)
    gl_log_error_object ("Uncaught Exception", inv->result_json);
  inv->reset = 1;
}

/* Init phase. */

int
gl_engine_load (const char **error_json)
{
  uint64_t t0 = gl_now_ns ();
  SCM r;

  gl_log_set_request_id (NULL);
  atomic_store (&eng.expired, 0);
  eng.interrupted = 0;
  gl_watchdog_arm (t0 + (uint64_t) (INIT_TIMEOUT_S * 1e9));
  r = gl_boundary_call (GL_HOOK_LOAD_HANDLER,
                        scm_list_1 (eng.handler
                                    ? scm_from_utf8_string (eng.handler)
                                    : SCM_BOOL_F),
                        scm_cons (sym_error, gl_error_object
                                  ("Runtime.Unknown", "loading the handler "
                                   "failed, and the failure could not be "
                                   "described")));
  gl_watchdog_disarm ();
  gl_log_flush_ports ();
  eng.init_ms = (double) (gl_now_ns () - t0) / 1e6;
  eng.init_pending = 1;
  free (eng.init_error_json);
  eng.init_error_json = NULL;
  if (scm_is_eq (scm_car (r), sym_ok))
    {
      root_set (ROOT_MODULE, scm_cadr (r));
      root_set (ROOT_PROC, scm_caddr (r));
      eng.arity = scm_to_int (scm_cadddr (r));
      eng.state = GL_CONTAINER_WARM;
      return 0;
    }
  else
    {
      struct gl_buf b;
      char err[256];

      gl_buf_init (&b);
      if (gl_json_encode (scm_cdr (r), &b, err, sizeof err) != 0)
        gl_buf_puts (&b, "{\"errorType\":\"Runtime.Unknown\","
                     "\"errorMessage\":\"the init error cannot be encoded\"}");
      eng.init_error_json = b.data;
      if (error_json)
        *error_json = eng.init_error_json;
      gl_log_error_object ("Init Error", b.data);
      return -1;
    }
}

/* Invocations. */

/* What the handler's code came back with: R is guarded-apply's answer.
   A return-style handler's value is its result, unless it is suspended
   in await. */
static void
handler_result (struct gl_invocation *inv, SCM r, int return_style)
{
  char where[128];

  /* Rule 5: a raise after the callback was called is a later
     completion, ignored. */
  if (scm_is_eq (scm_car (r), sym_error))
    gl_invocation_fail (inv, scm_cdr (r), "the handler raising an exception");
  else if (scm_is_eq (scm_car (r), sym_exit))
    {
      /* The process would be gone on Lambda, and its platform would
         say so: this container is gone. */
      snprintf (where, sizeof where, "RequestId: %s Error",
                inv->req.request_id);
      gl_invocation_abort (inv, error_prefix (scm_cdr (r), where),
                           "the handler exiting");
      inv->reset = 1;
    }
  else if (scm_is_eq (scm_car (r), sym_ok) && return_style
           && !scm_is_eq (scm_cdr (r), gl_hook_ref (GL_HOOK_SUSPENDED)))
    gl_invocation_succeed (inv, scm_cdr (r), "return");
}

static void
handler_call (struct gl_invocation *inv)
{
  SCM args;

  switch (eng.arity)
    {
    case 3:
      args = scm_list_3 (inv->event, inv->context, inv->callback);
      return handler_result (inv, gl_boundary_apply (root_ref (ROOT_PROC),
                                                     args), 0);
    case 2:
      args = scm_list_2 (inv->event, inv->context);
      break;
    case 1:
      args = scm_list_1 (inv->event);
      break;
    default:
      args = SCM_EOL;
    }
  /* Return style runs under await's prompt. */
  args = scm_list_3 (root_ref (ROOT_PROC), args, inv->context);
  handler_result (inv, gl_boundary_apply (gl_hook_ref (GL_HOOK_CALL_HANDLER),
                                          args), 1);
}

/* (%invocation-suspend! CONTEXT WHAT): the handler awaits WHAT. */
static SCM
invocation_suspend_x (SCM ctx, SCM what)
{
  struct gl_invocation *inv = gl_context_invocation (ctx, "%invocation-suspend!");
  char *s = scm_to_utf8_string (what);

  inv->awaiting = scm_gc_strdup (s, "await");
  free (s);
  return SCM_UNSPECIFIED;
}

/* (%invocation-resume CONTEXT THUNK): continue the handler suspended in
   await, from a loop callback; what it comes back with goes to its own
   invocation, not to the callback that resumed it. */
static SCM
invocation_resume (SCM ctx, SCM thunk)
{
  struct gl_invocation *inv = gl_context_invocation (ctx, "%invocation-resume");

  if (inv != eng.inv || inv->outcome != GL_PENDING)
    {
      gl_log_printf (GL_LOG_WARN, "an await of request %s was resumed after "
                     "its invocation ended; ignored", inv->req.request_id);
      return SCM_UNSPECIFIED;
    }
  inv->awaiting = NULL;
  handler_result (inv, gl_boundary_apply (thunk, SCM_EOL), 1);
  return SCM_UNSPECIFIED;
}

/* Overdue callbacks from earlier invocations run before the handler is
   called, as when Lambda thaws a Node process.  Unref'd timers count
   too: on Lambda the runtime's own request keeps the loop turning. */
static void
engine_thaw (void)
{
  /* Nothing to thaw; timers made by the handler still need the
     loop's clock to be current. */
  if (gl_registry_empty ())
    {
      uv_update_time (&eng.loop);
      return;
    }
  uv_ref ((uv_handle_t *) &eng.wake);
  uv_run (&eng.loop, UV_RUN_NOWAIT);
  uv_unref ((uv_handle_t *) &eng.wake);
}

struct gl_invocation *
gl_engine_start (const struct gl_request *req, SCM event)
{
  struct gl_invocation *inv;
  int init_failed = 0;

  if (eng.state == GL_CONTAINER_RUNNING)
    scm_misc_error ("gl_engine_start", "an invocation is already running",
                    SCM_EOL);
  /* From here on a death of the process reports this event. */
  gl_inflight_publish (req->request_id, eng.fn.memory_mb,
                       eng.fn.platform_lines);
  /* What the log holds goes out before user code runs: a process it
     starts writes to the descriptor itself. */
  if (eng.state == GL_CONTAINER_COLD)
    {
      gl_log_release ();
      init_failed = gl_engine_load (NULL) != 0;
    }
  gl_inflight_init_done ();
  /* The init phase may have run before, at a REPL's start or reset. */
  eng.report_init_ms = eng.init_pending ? eng.init_ms : -1;
  eng.init_pending = 0;
  inv = gl_invocation_new (&eng.fn, req, event,
                           !init_failed && eng.arity == 3);
  root_set (ROOT_CONTEXT, inv->context);
  eng.inv = inv;
  eng.state = GL_CONTAINER_RUNNING;
  atomic_store (&eng.expired, 0);
  eng.interrupted = 0;
  if (eng.fn.platform_lines)
    gl_log_start (req->request_id);
  gl_log_release ();
  gl_inflight_started ();
  if (init_failed)
    {
      inv->outcome = GL_FAILED;
      inv->result_json = eng.init_error_json;
      inv->completed_by = "init";
      inv->init_failed = 1;
      return inv;
    }
  gl_watchdog_arm (inv->deadline_ns);
  engine_thaw ();
  if (inv->outcome == GL_PENDING)
    {
      gl_log_set_request_id (req->request_id);
      handler_call (inv);
    }
  return inv;
}

int
gl_engine_completed (void)
{
  struct gl_invocation *inv = eng.inv;

  if (inv == NULL || inv->outcome != GL_PENDING)
    return 1;
  if (atomic_load (&eng.expired) || gl_now_ns () >= inv->deadline_ns)
    {
      timeout_complete (inv);
      return 1;
    }
  if (gl_registry_alive_count () == 0)
    {
      if (inv->awaiting)
        {
          char msg[1024];

          snprintf (msg, sizeof msg, "The handler is suspended in %s, but "
                    "the event loop is empty: nothing is left that could "
                    "resume it.", inv->awaiting);
          gl_invocation_fail_with (inv, "Runtime.AwaitNeverResumed", msg,
                                   "empty event loop");
        }
      else
        gl_invocation_settle (inv);
      return 1;
    }
  return 0;
}

/* One turn of the loop, as Node's: timers, I/O, immediates, each once.
   libuv's UV_RUN_ONCE runs the timers a second time after the poll,
   which would be a later turn inside this one (a callback could still
   run after an uncaught exception failed the invocation); so the turn
   waits for the loop's backend itself, then runs once without waiting.
   The watchdog's wake-up is one of the backend's descriptors. */
static void
loop_turn (void)
{
  struct pollfd backend = { uv_backend_fd (&eng.loop), POLLIN, 0 };
  int timeout;

  if (eng.inv->callback_called)
    wait_report_arm (eng.inv);
  uv_update_time (&eng.loop);
  timeout = uv_backend_timeout (&eng.loop);
  if (timeout != 0)
    poll (&backend, 1, timeout);
  uv_run (&eng.loop, UV_RUN_NOWAIT);
}

int
gl_engine_step (void)
{
  if (gl_engine_completed ())
    return 1;
  loop_turn ();
  return gl_engine_completed ();
}

void
gl_engine_reset (void)
{
  gl_registry_close_all ();
  /* One turn runs the close callbacks, where handles' memory goes.
     Requests still in flight (a read of a FIFO nobody writes, a slow
     DNS lookup) are not waited for: they finish in some later turn, and
     their callbacks are dropped. */
  uv_run (&eng.loop, UV_RUN_NOWAIT);
  /* On Lambda the sandbox goes, and every process in it. */
  gl_descendants_kill ();
  root_set (ROOT_MODULE, SCM_BOOL_F);
  root_set (ROOT_PROC, SCM_BOOL_F);
  eng.state = GL_CONTAINER_COLD;
}

void
gl_engine_finish (struct gl_report *report)
{
  struct gl_invocation *inv = eng.inv;
  struct gl_report own;

  if (inv == NULL)
    return;
  gl_watchdog_disarm ();
  /* If the process is dying on another thread, it reports this
     invocation: this thread waits there to be ended with it. */
  gl_inflight_claim ();
  eng.paused_ns = 0;
  uv_timer_stop (&eng.wait_report);
  eng.wait_report_armed = 0;
  gl_log_flush_ports ();
  if (inv->outcome == GL_FAILED && !inv->init_failed
      && strcmp (inv->completed_by, "an uncaught exception") != 0)
    gl_log_error_object ("Invoke Error", inv->result_json);
  /* Measuring memory costs a system call: made only for a report that
     is read or written. */
  if (report == NULL && eng.fn.platform_lines)
    report = &own;
  if (report != NULL)
    report_fill (inv, report);
  if (eng.fn.platform_lines)
    gl_log_report (report);
  eng.inv = NULL;
  root_set (ROOT_CONTEXT, SCM_BOOL_F);
  if (inv->reset || inv->init_failed)
    gl_engine_reset ();
  else
    eng.state = GL_CONTAINER_WARM;
}

struct gl_invocation *
gl_engine_invoke (const struct gl_request *req, SCM event,
                  struct gl_report *report)
{
  struct gl_invocation *inv = gl_engine_start (req, event);

  while (!gl_engine_step ())
    ;
  gl_engine_finish (report);
  return inv;
}

/* The engine's operations for the REPL, which steps through them.  They
   run on the loop thread only, the one that configured the engine: the
   loop is not thread-safe, and that thread is the one the watchdog
   interrupts.  The REPL server (scm/guile-lambda/repl-server.scm) runs
   every REPL there; a call from any other thread is refused. */

static void
engine_thread_check (const char *who)
{
  if (!pthread_equal (pthread_self (), eng.loop_pthread))
    scm_misc_error (who, "the engine runs on the thread that started it, "
                    "and this is another thread", SCM_EOL);
}

static SCM
engine_state_scm (void)
{
  static const char *names[] = { "cold", "warm", "running" };

  engine_thread_check ("%engine-state");
  return scm_from_utf8_symbol (names[eng.state]);
}

/* (%engine-load!): the init phase; #t, or the init error as JSON. */
static SCM
engine_load_x (void)
{
  const char *error = NULL;

  engine_thread_check ("%engine-load!");
  if (eng.state == GL_CONTAINER_RUNNING)
    scm_misc_error ("%engine-load!", "an invocation is running", SCM_EOL);
  if (gl_engine_load (&error) != 0)
    return scm_from_utf8_string (error);
  return SCM_BOOL_T;
}

static SCM
engine_reset_x (void)
{
  engine_thread_check ("%engine-reset!");
  if (eng.state == GL_CONTAINER_RUNNING)
    scm_misc_error ("%engine-reset!", "an invocation is running: ,continue "
                    "it first", SCM_EOL);
  gl_engine_reset ();
  return SCM_UNSPECIFIED;
}

static SCM
engine_module (void)
{
  engine_thread_check ("%engine-module");
  return root_ref (ROOT_MODULE);
}

/* (%engine-start! EVENT [REQUEST-ID]): thaw and call the handler. */
static SCM
engine_start_x (SCM event, SCM request_id)
{
  struct gl_request req;
  char *id;

  engine_thread_check ("%engine-start!");
  memset (&req, 0, sizeof req);
  if (SCM_UNBNDP (request_id) || scm_is_false (request_id))
    gl_request_id_generate (req.request_id);
  else
    {
      id = scm_to_utf8_string (request_id);
      snprintf (req.request_id, sizeof req.request_id, "%s", id);
      free (id);
    }
  req.identity = req.client_context = req.tenant_id = SCM_BOOL_F;
  gl_engine_start (&req, event);
  return scm_from_utf8_string (eng.inv->req.request_id);
}

/* (%engine-step!): one turn of the loop; the descriptions of the
   callbacks it ran, oldest first. */
static SCM
engine_step_x (void)
{
  SCM ran;

  engine_thread_check ("%engine-step!");
  if (eng.inv == NULL)
    scm_misc_error ("%engine-step!", "no invocation is running", SCM_EOL);
  root_set (ROOT_TRACE, SCM_EOL);
  eng.tracing = 1;
  /* A turn may run only the engine's own handles (the watchdog's
     wake-up): a step is a turn in which user code ran, or the end. */
  while (!gl_engine_completed ())
    {
      loop_turn ();
      if (!scm_is_null (root_ref (ROOT_TRACE)))
        break;
    }
  eng.tracing = 0;
  ran = scm_reverse (root_ref (ROOT_TRACE));
  root_set (ROOT_TRACE, SCM_EOL);
  return ran;
}

static SCM
engine_completed_p (void)
{
  engine_thread_check ("%engine-completed?");
  return scm_from_bool (eng.inv == NULL || gl_engine_completed ());
}

/* (%engine-finish!): freeze; what the REPORT said, as an alist. */
static SCM
engine_finish_x (void)
{
  struct gl_invocation *inv = eng.inv;
  struct gl_report r;
  SCM status;

  engine_thread_check ("%engine-finish!");
  if (inv == NULL)
    scm_misc_error ("%engine-finish!", "no invocation is running", SCM_EOL);
  gl_engine_finish (&r);
  gl_inflight_clear ();
  status = scm_from_utf8_symbol (inv->outcome == GL_SUCCEEDED ? "success"
                                 : inv->outcome == GL_TIMED_OUT ? "timeout"
                                 : "error");
  return scm_list_n
    (scm_cons (scm_from_utf8_symbol ("request-id"),
               scm_from_utf8_string (inv->req.request_id)),
     scm_cons (scm_from_utf8_symbol ("status"), status),
     scm_cons (scm_from_utf8_symbol ("json"),
               scm_from_utf8_string (inv->result_json)),
     scm_cons (scm_from_utf8_symbol ("completed-by"),
               scm_from_utf8_string (inv->completed_by ? inv->completed_by
                                     : "")),
     scm_cons (scm_from_utf8_symbol ("duration-ms"),
               scm_from_double (r.duration_ms)),
     scm_cons (scm_from_utf8_symbol ("init-ms"),
               r.init_ms >= 0 ? scm_from_double (r.init_ms) : SCM_BOOL_F),
     scm_cons (scm_from_utf8_symbol ("max-memory-mb"),
               scm_from_long (r.max_memory_mb)),
     scm_cons (scm_from_utf8_symbol ("context"), inv->context),
     SCM_UNDEFINED);
}

/* (%engine-status): what ,status shows. */
static SCM
engine_status (void)
{
  struct gl_invocation *inv = eng.inv;
  SCM sym = SCM_BOOL_F;

  engine_thread_check ("%engine-status");
  if (inv == NULL)
    return scm_list_1 (scm_cons (scm_from_utf8_symbol ("state"),
                                 engine_state_scm ()));
  sym = scm_from_utf8_symbol (inv->outcome == GL_PENDING ? "pending"
                              : inv->outcome == GL_SUCCEEDED ? "success"
                              : inv->outcome == GL_TIMED_OUT ? "timeout"
                              : "error");
  return scm_list_n
    (scm_cons (scm_from_utf8_symbol ("state"), engine_state_scm ()),
     scm_cons (scm_from_utf8_symbol ("request-id"),
               scm_from_utf8_string (inv->req.request_id)),
     scm_cons (scm_from_utf8_symbol ("context"), inv->context),
     scm_cons (scm_from_utf8_symbol ("outcome"), sym),
     scm_cons (scm_from_utf8_symbol ("completed-by"),
               inv->completed_by ? scm_from_utf8_string (inv->completed_by)
                                 : SCM_BOOL_F),
     scm_cons (scm_from_utf8_symbol ("callback-called"),
               scm_from_bool (inv->callback_called)),
     scm_cons (scm_from_utf8_symbol ("awaiting"),
               inv->awaiting ? scm_from_utf8_string (inv->awaiting)
                             : SCM_BOOL_F),
     SCM_UNDEFINED);
}

/* While a person types at the REPL between steps, the invocation's clock
   stops: the container is frozen mid-invocation, and its deadline moves
   by the time it spent so.  The loop's clock must stop too, or a timer
   would come due at the prompt and run at once on the next step, with a
   repeating one run twice in that step; libuv's clock cannot be set, so
   the timers are moved instead. */

struct timer_left {
  uv_timer_t *timer;
  uint64_t left;                /* ms from the pause to its due time */
  size_t order;                 /* keeps ties in their order */
};

struct timers_paused {
  struct timer_left *v;
  size_t n, cap;
};

static void
timer_left_collect (uv_handle_t *h, void *arg)
{
  struct timers_paused *t = arg;

  if (h->type != UV_TIMER || !uv_is_active (h))
    return;
  if (t->v != NULL && t->n < t->cap)
    {
      t->v[t->n].timer = (uv_timer_t *) h;
      t->v[t->n].left = uv_timer_get_due_in ((uv_timer_t *) h);
      t->v[t->n].order = t->n;
    }
  t->n++;
}

static int
timer_left_compare (const void *a, const void *b)
{
  const struct timer_left *x = a, *y = b;

  if (x->left != y->left)
    return x->left < y->left ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* Move every timer of the loop by the time the clock was paused: each
   gets, from now, what it had left when the clock stopped.  The loop's
   time has not been updated since (engine_clock_pause_x did last), so
   uv_timer_get_due_in still answers as of the pause.  Timers already
   due then stay due; the others start again in the order they were due
   in, so that libuv's order for equal due times holds. */
static void
loop_timers_shift (void)
{
  struct timers_paused t = { NULL, 0, 0 };
  uint64_t repeat;
  size_t i;

  uv_walk (&eng.loop, timer_left_collect, &t);
  t.cap = t.n;
  t.n = 0;
  if (t.cap > 0)
    t.v = malloc (t.cap * sizeof *t.v);
  if (t.v != NULL)
    uv_walk (&eng.loop, timer_left_collect, &t);
  if (t.n > t.cap)
    t.n = t.cap;
  uv_update_time (&eng.loop);
  if (t.v == NULL)
    return;
  qsort (t.v, t.n, sizeof *t.v, timer_left_compare);
  for (i = 0; i < t.n; i++)
    if (t.v[i].left > 0)
      {
        /* uv_timer_again restarts a timer after its repeat: the one way
           to restart it without knowing its callback. */
        repeat = uv_timer_get_repeat (t.v[i].timer);
        uv_timer_set_repeat (t.v[i].timer, t.v[i].left);
        uv_timer_again (t.v[i].timer);
        uv_timer_set_repeat (t.v[i].timer, repeat);
      }
  free (t.v);
}

static SCM
engine_clock_pause_x (void)
{
  engine_thread_check ("%engine-clock-pause!");
  if (eng.inv && eng.paused_ns == 0)
    {
      gl_watchdog_disarm ();
      eng.paused_ns = gl_now_ns ();
      /* Timers made while paused count from here. */
      uv_update_time (&eng.loop);
    }
  return SCM_UNSPECIFIED;
}

static SCM
engine_clock_resume_x (void)
{
  uint64_t paused;

  engine_thread_check ("%engine-clock-resume!");
  if (eng.inv && eng.paused_ns != 0)
    {
      paused = gl_now_ns () - eng.paused_ns;
      eng.paused_ns = 0;
      eng.inv->start_ns += paused;
      eng.inv->deadline_ns += paused;
      if (eng.inv->callback_called)
        eng.inv->callback_ns += paused;
      loop_timers_shift ();
      if (eng.inv->outcome == GL_PENDING)
        gl_watchdog_arm (eng.inv->deadline_ns);
    }
  return SCM_UNSPECIFIED;
}

static SCM
engine_timeout_set_x (SCM seconds)
{
  double s = scm_to_double (seconds);

  engine_thread_check ("%engine-timeout-set!");
  if (!(s > 0 && s <= 900))
    scm_misc_error ("%engine-timeout-set!", "a timeout is more than 0 and at "
                    "most 900 seconds, not ~a", scm_list_1 (seconds));
  eng.fn.timeout_s = s;
  return SCM_UNSPECIFIED;
}

static SCM
engine_timeout (void)
{
  engine_thread_check ("%engine-timeout");
  return scm_from_double (eng.fn.timeout_s);
}

/* (%stack-limit): how many words of stack user code may use, a quarter
   of the function's memory, so that a recursion without end fails as
   in Node instead of eating the container. */
static SCM
stack_limit (void)
{
  size_t mb = eng.fn.memory_mb > 0 ? (size_t) eng.fn.memory_mb : 128;

  return scm_from_size_t (mb * 1024 * 1024 / 4 / sizeof (SCM));
}

static void
engine_scheme_define (void)
{
  scm_c_define_gsubr ("%stack-limit", 0, 0, 0, stack_limit);
  /* (%bytecode-load BYTEVECTOR): the thunk of compiled code, as
     load-thunk-from-memory, whose module would cost a cold start the
     milliseconds of a load-extension. */
  scm_c_define_gsubr ("%bytecode-load", 1, 0, 0, scm_load_thunk_from_memory);
  scm_c_define_gsubr ("%engine-state", 0, 0, 0, engine_state_scm);
  scm_c_define_gsubr ("%engine-load!", 0, 0, 0, engine_load_x);
  scm_c_define_gsubr ("%engine-reset!", 0, 0, 0, engine_reset_x);
  scm_c_define_gsubr ("%engine-module", 0, 0, 0, engine_module);
  scm_c_define_gsubr ("%engine-start!", 1, 1, 0, engine_start_x);
  scm_c_define_gsubr ("%engine-step!", 0, 0, 0, engine_step_x);
  scm_c_define_gsubr ("%engine-completed?", 0, 0, 0, engine_completed_p);
  scm_c_define_gsubr ("%engine-finish!", 0, 0, 0, engine_finish_x);
  scm_c_define_gsubr ("%engine-status", 0, 0, 0, engine_status);
  scm_c_define_gsubr ("%engine-timeout-set!", 1, 0, 0, engine_timeout_set_x);
  scm_c_define_gsubr ("%engine-timeout", 0, 0, 0, engine_timeout);
  scm_c_define_gsubr ("%engine-clock-pause!", 0, 0, 0, engine_clock_pause_x);
  scm_c_define_gsubr ("%engine-clock-resume!", 0, 0, 0,
                      engine_clock_resume_x);
}

/* Set-up. */

static void
wake_on_async (uv_async_t *handle)
{
  /* Nothing to do: returning from uv_run is the point. */
}

static void
signal_ignore (int sig)
{
}

int
gl_engine_configure (const struct gl_function *fn, const char *handler)
{
  static const struct gl_watchdog_ops ops = { engine_expire,
                                              engine_hard_stop };
  struct sigaction sa;

  eng.fn = *fn;
  eng.handler = handler ? strdup (handler) : NULL;
  eng.loop_thread = scm_current_thread ();
  eng.loop_pthread = pthread_self ();
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = signal_ignore;  /* no SA_RESTART: EINTR is the point */
  sigemptyset (&sa.sa_mask);
  sigaction (SIGURG, &sa, NULL);
  /* Writing to a peer or a child that stopped reading is an EPIPE for
     the binding to report, not the end of the container, as in Node. */
  signal (SIGPIPE, SIG_IGN);
  return gl_watchdog_start (&ops);
}

void
gl_engine_init (void)
{
  int r;

  sym_ok = scm_from_utf8_symbol ("ok");
  sym_error = scm_from_utf8_symbol ("error");
  sym_exit = scm_from_utf8_symbol ("exit");
  sym_timeout_key = scm_from_utf8_symbol ("guile-lambda-timeout");
  eng.user_code = scm_make_fluid_with_default (SCM_BOOL_F);
  scm_c_define ("%user-code?", eng.user_code);
  eng.roots = scm_gc_protect_object (scm_c_make_vector (ROOT_COUNT,
                                                         SCM_BOOL_F));
  root_set (ROOT_TIMEOUT_THUNK,
            scm_c_make_gsubr ("%timeout-interrupt", 0, 0, 0, timeout_thunk));
  eng.state = GL_CONTAINER_COLD;
  r = uv_loop_init (&eng.loop);
  if (r == 0)
    r = uv_async_init (&eng.loop, &eng.wake, wake_on_async);
  if (r != 0)
    {
      fprintf (stderr, "guile-lambda: cannot set up the event loop: %s\n",
               uv_strerror (r));
      exit (70);
    }
  uv_unref ((uv_handle_t *) &eng.wake);
  uv_timer_init (&eng.loop, &eng.wait_report);
  uv_unref ((uv_handle_t *) &eng.wait_report);
  gl_handles_init (&eng.loop, engine_run_callback);
  gl_timers_init ();
  scm_c_define_gsubr ("%invocation-suspend!", 2, 0, 0, invocation_suspend_x);
  scm_c_define_gsubr ("%invocation-resume", 2, 0, 0, invocation_resume);
  engine_scheme_define ();
}
