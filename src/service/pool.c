/* pool.c: the supervisor's containers, the Runtime API each is served,
   and the dispatch of events (see service.h).

   A container's life: COLD (no process) -> STARTING (spawned for an
   event; its init phase runs until it asks for `next') -> BUSY (`next'
   answered with the event, deadline running) -> IDLE (it asked for
   `next' again and there is no event: frozen) -> BUSY ... and back to
   COLD whenever its process ends: it exited or crashed, it was killed
   at its deadline or over its memory, or it posted an init error.  A
   COLD container starts only when an event is given to it, so every
   cold start is measured on the event that caused it, and an init
   error fails each event that meets it, as on Lambda.

   Who owns what: everything here runs on the loop's thread.  A
   container owns its process, its two log pipes, its timer and its
   Runtime API server; the event it holds is its own until its outcome
   is given, exactly once (event_finish, or outcome_hold and then
   container_settle). */
#include "service/service.h"
#include "service/limits.h"
#include "core/buf.h"
#include "core/engine.h"
#include "core/fatal.h"
#include "core/json.h"
#include "core/spin.h"
#include "http/http.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lambda's limit on the init phase. */
#define INIT_LIMIT_MS 10000
/* After the deadline, how long the container's own watchdog has to
   report, with the handles it saw, before the supervisor kills it. */
#define DEADLINE_GRACE_MS 1000
/* How often memory is polled where no cgroup enforces the limit. */
#define POLL_MS 50

#define API_PREFIX "/2018-06-01/runtime"

extern char **environ;

enum container_state { C_COLD, C_STARTING, C_IDLE, C_BUSY };

struct event {
  struct event *next;
  unsigned long seq;
  char request_id[37];
  char *payload;
  size_t len;
  char *client_context;         /* JSON, or NULL */
  int started;                  /* its START line is out */
  int tail;                     /* keep the end of its log in `log' */
  struct gl_buf log;
};

/* An event whose outcome is known, and what REPORT needs of the moment
   it became known. */
struct outcome {
  struct event *event;          /* NULL: none */
  const char *status;           /* "success", "error", "timeout" */
  int platform;                 /* the platform failed it */
  char *json;                   /* owned, when held */
  double duration_ms;
  double init_ms;               /* < 0: not a cold start */
  int init;                     /* it met the init phase */
};

struct log_pipe {
  uv_pipe_t pipe;
  struct gl_buf line;           /* a partial line */
  struct container *c;
};

struct container {
  struct gl_service *svc;
  int index;
  unsigned spawns;
  enum container_state state;
  uv_process_t process;
  int running;                  /* the process has not been reaped */
  int closing;                  /* its process handles still closing */
  int doomed;                   /* killed: no event may go to it */
  struct log_pipe out, err;
  uv_timer_t timer;             /* init limit, then the deadline */
  gl_http_server_t api;
  char api_address[32];
  gl_http_request_t *next;      /* a `next' waiting for an event */
  struct event *event;          /* the one it runs (STARTING, BUSY) */
  struct gl_limits limits;
  uint64_t spawn_ns;
  uint64_t start_ns;            /* when the event was handed over */
  double init_ms;               /* < 0: not a cold start */
  double timeout_s;
  char *init_error;             /* what it posted to /init/error */
  struct outcome held;          /* a response not yet given (outcome_hold) */
};

struct gl_service {
  uv_loop_t *loop;
  struct gl_service_config cfg;
  struct container *containers;
  struct event *queue;          /* waiting for a container */
  struct event *queue_tail;
  uv_timer_t poll;
  /* After an event is handed to a container, or a container spoke,
     the loop polls for its next word rather than block (core/spin.h):
     an active idle handle keeps it from blocking. */
  uv_idle_t spin;
  /* After the I/O of each turn, what the turn logged (core/log.h). */
  uv_check_t log_turn;
  uint64_t spin_until;          /* uv_hrtime */
  struct gl_spin spin_window;
  int closing;
  int open_handles;
  void (*close_cb) (void *data);
  void *close_data;
};

static const char *program = "guile-lambda";

/* Events. */

static void
event_free (struct event *e)
{
  free (e->payload);
  free (e->client_context);
  gl_buf_free (&e->log);
  free (e);
}

/* Keep what the event logs, when its tail is wanted: the end only, so
   that a handler that logs much holds no more than twice the tail. */
static void
event_log (struct event *e, const char *s, size_t n)
{
  struct gl_buf *b = &e->log;

  if (!e->tail)
    return;
  if (n > GL_SERVICE_TAIL_MAX)
    {
      s += n - GL_SERVICE_TAIL_MAX;
      n = GL_SERVICE_TAIL_MAX;
    }
  gl_buf_append (b, s, n);
  if (b->len > 2 * GL_SERVICE_TAIL_MAX)
    {
      memmove (b->data, b->data + b->len - GL_SERVICE_TAIL_MAX,
               GL_SERVICE_TAIL_MAX);
      b->len = GL_SERVICE_TAIL_MAX;
      b->data[b->len] = '\0';
    }
}

/* START, to the log and to the event's own. */
static void
event_log_start (struct event *e)
{
  struct gl_buf b;

  gl_buf_init (&b);
  gl_log_start_format (&b, e->request_id);
  gl_log_raw (b.data, b.len);
  event_log (e, b.data, b.len);
  gl_buf_free (&b);
  e->started = 1;
}

static char *
json_error (const char *type, const char *message)
{
  struct gl_buf b;

  gl_buf_init (&b);
  gl_json_error (&b, type, message);
  return b.data;
}

/* Take C's event, whose outcome is STATUS, into O: from now on C may
   run another.  PLATFORM: the platform failed it (REPORT says "Status:
   error"). */
static void
outcome_take (struct container *c, struct outcome *o, const char *status,
              int platform)
{
  uint64_t now = gl_now_ns ();

  o->event = c->event;
  o->status = status;
  o->platform = platform;
  o->json = NULL;
  o->duration_ms = c->start_ns ? (double) (now - c->start_ns) / 1e6 : 0;
  o->init_ms = c->init_ms;
  o->init = c->state == C_STARTING || c->init_error != NULL;
  c->event = NULL;
  c->init_ms = -1;
}

static void
report_fill (struct container *c, const struct outcome *o,
             struct gl_report *r)
{
  r->request_id = o->event->request_id;
  r->duration_ms = o->duration_ms;
  r->billed_ms = gl_report_billed_ms (r->duration_ms);
  r->memory_mb = c->svc->cfg.fn->memory_mb;
  r->max_memory_mb = (long) ((gl_limits_peak (&c->limits) + (1 << 20) - 1)
                             >> 20);
  r->init_ms = o->init_ms;
  /* What REPORT says after "Status:". */
  r->status = strcmp (o->status, "timeout") == 0 ? "timeout"
              : o->platform ? "error" : NULL;
}

/* The one place an event's outcome is given: END and REPORT, then the
   front end's callback. */
static void
outcome_give (struct container *c, const struct outcome *out,
              const char *json)
{
  struct gl_service *svc = c->svc;
  struct event *e = out->event;
  struct gl_report report;
  struct gl_service_outcome o;

  struct gl_buf lines;

  if (!e->started)
    event_log_start (e);
  report_fill (c, out, &report);
  gl_buf_init (&lines);
  gl_log_report_format (&lines, &report);
  gl_log_raw (lines.data, lines.len);
  event_log (e, lines.data, lines.len);
  gl_buf_free (&lines);
  o.seq = e->seq;
  o.request_id = e->request_id;
  o.status = out->status;
  o.json = json;
  o.report = &report;
  o.init = out->init;
  o.log_tail = NULL;
  o.log_tail_len = 0;
  if (e->tail)
    {
      o.log_tail_len = e->log.len < GL_SERVICE_TAIL_MAX ? e->log.len
        : GL_SERVICE_TAIL_MAX;
      o.log_tail = e->log.len ? e->log.data + e->log.len - o.log_tail_len
        : "";
    }
  svc->cfg.on_outcome (&o, svc->cfg.data);
  event_free (e);
}

static void container_settle (struct container *c);

static void
event_finish_as (struct container *c, const char *status, const char *json,
                 int platform)
{
  struct outcome o;

  container_settle (c);
  if (c->event == NULL)
    return;
  outcome_take (c, &o, status, platform);
  outcome_give (c, &o, json);
}

/* A runtime that pipelines its next `next' after its response (as
   bootstrap does) should get its next event before the supervisor
   spends its time on this one's END, REPORT and record: they cost
   more than the round trip they would delay.  So a response is taken
   now (its duration is measured) and given once the answers to what
   the runtime sent with it are written (api_on_flush), or before
   anything else touches the container (container_settle).  That is
   before the loop reads anything more from the container, so its log
   lines still fall between the right START and END.  Max Memory Used
   is read then: the container's peak so far, which may include the
   first microseconds of its next event, never less than this one used.
   JSON is the held outcome's from now on. */
static void
outcome_hold (struct container *c, char *json)
{
  outcome_take (c, &c->held, "success", 0);
  c->held.json = json;
}

/* Give C's held outcome, if it has one: its END and REPORT, then the
   START of the event C was given since. */
static void
container_settle (struct container *c)
{
  struct outcome o = c->held;

  if (o.event == NULL)
    return;
  c->held.event = NULL;
  outcome_give (c, &o, o.json);
  free (o.json);
  if (c->event && c->state == C_BUSY && !c->event->started)
    event_log_start (c->event);
}

static void
service_settle (struct gl_service *svc)
{
  int i;

  for (i = 0; i < svc->cfg.concurrency; i++)
    container_settle (&svc->containers[i]);
}

static void
event_finish (struct container *c, const char *status, const char *json)
{
  event_finish_as (c, status, json, 0);
}

/* As the platform says it, with the request id first. */
static void
event_fail_platform (struct container *c, const char *type,
                     const char *what)
{
  char message[512];
  char *json;

  snprintf (message, sizeof message, "RequestId: %s Error: %s",
            c->event->request_id, what);
  json = json_error (type, message);
  event_finish_as (c, "error", json, 1);
  free (json);
}

/* Logs: each whole line of a container's output leaves in one write,
   so that lines of concurrent containers never interleave. */

static void
log_lines_emit (struct log_pipe *lp, int all)
{
  struct gl_buf *b = &lp->line;
  size_t start = 0, i;

  struct event *e = lp->c->event;

  for (i = 0; i < b->len; i++)
    if (b->data[i] == '\n')
      {
        gl_log_raw (b->data + start, i + 1 - start);
        if (e)
          event_log (e, b->data + start, i + 1 - start);
        start = i + 1;
      }
  if (all && start < b->len)
    {
      gl_buf_putc (b, '\n');
      gl_log_raw (b->data + start, b->len - start);
      if (e)
        event_log (e, b->data + start, b->len - start);
      start = b->len;
    }
  memmove (b->data, b->data + start, b->len - start);
  b->len -= start;
}

static void
log_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct log_pipe *lp = h->data;

  gl_buf_reserve (&lp->line, 65536);
  *buf = uv_buf_init (lp->line.data + lp->line.len,
                      (unsigned int) (lp->line.cap - lp->line.len - 1));
}

static void
log_on_read (uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct log_pipe *lp = s->data;

  if (n > 0)
    {
      lp->line.len += (size_t) n;
      lp->line.data[lp->line.len] = '\0';
      log_lines_emit (lp, 0);
    }
  else if (n < 0)
    {
      log_lines_emit (lp, 1);
      uv_read_stop (s);
    }
}

/* What the container wrote before it answered is in its pipes by now:
   read it, so that its lines come before END.  One poll asks both pipes
   first, as most events log nothing. */
static void
log_drain (struct log_pipe *lp)
{
  uv_os_fd_t fd;
  ssize_t n;

  if (uv_fileno ((uv_handle_t *) &lp->pipe, &fd) != 0)
    return;
  for (;;)
    {
      gl_buf_reserve (&lp->line, 65536);
      n = read (fd, lp->line.data + lp->line.len,
                lp->line.cap - lp->line.len - 1);
      if (n <= 0)
        break;
      lp->line.len += (size_t) n;
      lp->line.data[lp->line.len] = '\0';
    }
  log_lines_emit (lp, 0);
}

static void
logs_drain (struct container *c)
{
  struct log_pipe *pipes[2] = { &c->out, &c->err }, *which[2];
  struct pollfd pfd[2];
  nfds_t n = 0, i;
  uv_os_fd_t fd;

  for (i = 0; i < 2; i++)
    if (uv_fileno ((uv_handle_t *) &pipes[i]->pipe, &fd) == 0)
      {
        which[n] = pipes[i];
        pfd[n++] = (struct pollfd) { .fd = fd, .events = POLLIN };
      }
  if (n == 0 || poll (pfd, n, 0) <= 0)
    return;
  for (i = 0; i < n; i++)
    if (pfd[i].revents & (POLLIN | POLLHUP))
      log_drain (which[i]);
}

static struct event *queue_pop (struct gl_service *svc);

/* Handles.  The service is freed when its last handle has closed;
   several services may share a loop (serve runs one per function). */

static void
service_handle_done (struct gl_service *svc)
{
  void (*cb) (void *);
  void *data;
  int i;

  if (--svc->open_handles > 0 || !svc->closing)
    return;
  cb = svc->close_cb;
  data = svc->close_data;
  /* Events never run: closing the service dropped them. */
  while (svc->queue)
    event_free (queue_pop (svc));
  for (i = 0; i < svc->cfg.concurrency; i++)
    {
      gl_buf_free (&svc->containers[i].out.line);
      gl_buf_free (&svc->containers[i].err.line);
    }
  free (svc->containers);
  free (svc);
  gl_log_hold_end ();
  if (cb)
    cb (data);
}

static void
log_on_turn (uv_check_t *check)
{
  (void) check;
  gl_log_release ();
}

/* The service's own handles (poll, spin, log_turn) have it as their
   data. */
static void
service_handle_on_close (uv_handle_t *h)
{
  service_handle_done (h->data);
}

static void
timer_on_close (uv_handle_t *h)
{
  service_handle_done (((struct container *) h->data)->svc);
}

/* A container's process and pipes: it is COLD, and may start again,
   only once all three have closed. */
static void dispatch (struct gl_service *svc);

static void
container_handle_on_close (struct container *c)
{
  struct gl_service *svc = c->svc;

  if (--c->closing == 0)
    {
      c->state = C_COLD;
      if (!svc->closing)
        dispatch (svc);
    }
  service_handle_done (svc);
}

static void
pipe_on_close (uv_handle_t *h)
{
  container_handle_on_close (((struct log_pipe *) h->data)->c);
}

static void
process_on_close (uv_handle_t *h)
{
  container_handle_on_close (h->data);
}

static void
pipe_close (struct log_pipe *lp)
{
  if (!uv_is_closing ((uv_handle_t *) &lp->pipe))
    {
      log_drain (lp);
      log_lines_emit (lp, 1);
      lp->c->closing++;
      uv_close ((uv_handle_t *) &lp->pipe, pipe_on_close);
    }
}

/* Spawning. */

static void container_on_exit (uv_process_t *p, int64_t status, int signal);

/* Do the assignments A and B set the same variable? */
static int
env_same_key (const char *a, const char *b)
{
  const char *eq = strchr (b, '=');
  size_t n = eq ? (size_t) (eq - b) : strlen (b);

  return strncmp (a, b, n) == 0 && a[n] == '=';
}

static char **
container_env (struct container *c)
{
  const struct gl_service_config *cfg = &c->svc->cfg;
  const struct gl_function *fn = cfg->fn;
  static const char *ours[] = {
    "AWS_LAMBDA_RUNTIME_API=", "_HANDLER=", "LAMBDA_TASK_ROOT=",
    "AWS_LAMBDA_FUNCTION_NAME=", "AWS_LAMBDA_FUNCTION_VERSION=",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=", "AWS_REGION=",
    "AWS_LAMBDA_LOG_GROUP_NAME=", "AWS_LAMBDA_LOG_STREAM_NAME=", NULL
  };
  size_t n = 0, extra = 0, i, j;
  char **env;
  char buf[1024];

  while (environ[n])
    n++;
  while (cfg->env && cfg->env[extra])
    extra++;
  env = calloc (n + extra + 16, sizeof *env);
  for (i = j = 0; i < n; i++)
    {
      int skip = 0, k;

      for (k = 0; ours[k]; k++)
        skip |= strncmp (environ[i], ours[k], strlen (ours[k])) == 0;
      for (k = 0; (size_t) k < extra; k++)
        skip |= env_same_key (environ[i], cfg->env[k]);
      if (!skip)
        env[j++] = strdup (environ[i]);
    }
  for (i = 0; i < extra; i++)
    env[j++] = strdup (cfg->env[i]);
#define ENV_ADD(...) (snprintf (buf, sizeof buf, __VA_ARGS__), \
                      env[j++] = strdup (buf))
  ENV_ADD ("AWS_LAMBDA_RUNTIME_API=%s", c->api_address);
  ENV_ADD ("_HANDLER=%s", cfg->handler ? cfg->handler : "");
  ENV_ADD ("LAMBDA_TASK_ROOT=%s", cfg->task_root);
  ENV_ADD ("AWS_LAMBDA_FUNCTION_NAME=%s", fn->name);
  ENV_ADD ("AWS_LAMBDA_FUNCTION_VERSION=%s", fn->version);
  ENV_ADD ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", fn->memory_mb);
  ENV_ADD ("AWS_REGION=%s", fn->region);
  ENV_ADD ("AWS_LAMBDA_LOG_GROUP_NAME=%s", fn->log_group);
  ENV_ADD ("AWS_LAMBDA_LOG_STREAM_NAME=%s", fn->log_stream);
#undef ENV_ADD
  env[j] = NULL;
  return env;
}

static void
env_free (char **env)
{
  char **p;

  for (p = env; *p; p++)
    free (*p);
  free (env);
}

static int
container_spawn (struct container *c)
{
  struct gl_service *svc = c->svc;
  uv_process_options_t opt;
  uv_stdio_container_t stdio[3];
  char *args[4], name[64];
  char **env;
  int r;

  memset (&opt, 0, sizeof opt);
  if (svc->cfg.runtime_command)
    {
      args[0] = "/bin/sh", args[1] = "-c";
      args[2] = (char *) svc->cfg.runtime_command, args[3] = NULL;
    }
  else
    {
      args[0] = (char *) svc->cfg.program, args[1] = "bootstrap";
      args[2] = NULL;
    }
  uv_pipe_init (svc->loop, &c->out.pipe, 0);
  uv_pipe_init (svc->loop, &c->err.pipe, 0);
  svc->open_handles += 2;
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *) &c->out.pipe;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *) &c->err.pipe;
  env = container_env (c);
  opt.file = args[0];
  opt.args = args;
  opt.env = env;
  opt.cwd = svc->cfg.task_root;
  opt.stdio = stdio;
  opt.stdio_count = 3;
  /* Its own session and process group: it can be frozen and killed
     whole, children included. */
  opt.flags = UV_PROCESS_DETACHED;
  opt.exit_cb = container_on_exit;
  c->process.data = c;
  r = uv_spawn (svc->loop, &c->process, &opt);
  env_free (env);
  if (r != 0)
    {
      gl_log_notice ("%s: cannot start a container (%s): %s\n", program,
                     args[0], uv_strerror (r));
      svc->open_handles++;
      c->closing++;
      uv_close ((uv_handle_t *) &c->process, process_on_close);
      pipe_close (&c->out);
      pipe_close (&c->err);
      return r;
    }
  svc->open_handles++;
  c->running = 1;
  c->spawns++;
  snprintf (name, sizeof name, "c%d.%u", c->index, c->spawns);
  gl_limits_attach (&c->limits, c->process.pid,
                    (size_t) svc->cfg.fn->memory_mb << 20, name);
  uv_read_start ((uv_stream_t *) &c->out.pipe, log_alloc, log_on_read);
  uv_read_start ((uv_stream_t *) &c->err.pipe, log_alloc, log_on_read);
  c->spawn_ns = gl_now_ns ();
  c->state = C_STARTING;
  c->doomed = 0;
  return 0;
}

static void
container_kill (struct container *c)
{
  if (!c->running)
    return;
  /* Until its exit is seen it may still ask for `next': it gets none. */
  c->doomed = 1;
  gl_limits_kill (&c->limits);
}

/* Deadlines. */

static void
timeout_on_timer (uv_timer_t *t)
{
  struct container *c = t->data;
  char message[128];
  char *json;

  if (c->event == NULL)
    return;
  logs_drain (c);
  snprintf (message, sizeof message, "Task timed out after %.2f seconds",
            c->state == C_STARTING ? INIT_LIMIT_MS / 1000.0 : c->timeout_s);
  gl_log_set_request_id (c->event->request_id);
  gl_log_printf (GL_LOG_ERROR, "%s (the container did not answer; it is "
                 "stopped from outside)", message);
  json = json_error ("Sandbox.Timedout", message);
  container_kill (c);
  event_finish (c, "timeout", json);
  free (json);
}

static void
deadline_start (struct container *c, uint64_t ms)
{
  uv_timer_start (&c->timer, timeout_on_timer, ms, 0);
}

/* The process is gone. */

static void
container_on_exit (uv_process_t *p, int64_t status, int signum)
{
  struct container *c = p->data;
  char what[128];

  c->running = 0;
  uv_timer_stop (&c->timer);
  logs_drain (c);
  container_settle (c);
  if (c->event)
    {
      gl_log_set_request_id (c->event->request_id);
      if (c->state == C_BUSY && gl_now_ns () >= c->start_ns
          + (uint64_t) (c->timeout_s * 1e9))
        {
          /* It died past its deadline: the platform's timeout, whatever
             the runtime did about it. */
          char message[128], *json;

          snprintf (message, sizeof message, "Task timed out after %.2f "
                    "seconds", c->timeout_s);
          json = json_error ("Sandbox.Timedout", message);
          event_finish (c, "timeout", json);
          free (json);
        }
      else if (gl_limits_oom (&c->limits))
        event_fail_platform (c, "Runtime.OutOfMemory",
                             "Runtime exited with error: signal: killed");
      else if (c->init_error)
        event_finish (c, "error", c->init_error);
      else
        {
          gl_exit_describe ((int) status, signum, what, sizeof what);
          event_fail_platform (c, "Runtime.ExitError", what);
        }
    }
  if (c->next)
    {
      gl_http_request_respond (c->next, 500, NULL, 0, NULL, 0);
      c->next = NULL;
    }
  free (c->init_error);
  c->init_error = NULL;
  gl_limits_release (&c->limits);
  pipe_close (&c->out);
  pipe_close (&c->err);
  c->closing++;
  uv_close ((uv_handle_t *) p, process_on_close);
}

/* Dispatch. */

static void
spin_on_idle (uv_idle_t *idle)
{
  struct gl_service *svc = idle->data;

  if (uv_hrtime () < svc->spin_until)
    {
      sched_yield ();
      return;
    }
  gl_spin_miss (&svc->spin_window);
  uv_idle_stop (idle);
}

/* A container's next word is expected soon: poll for it.  HEARD: a
   container spoke, which ends a window still open as a hit. */
static void
spin_start (struct gl_service *svc, int heard)
{
  if (heard && uv_is_active ((uv_handle_t *) &svc->spin))
    gl_spin_hit (&svc->spin_window);
  svc->spin_until = uv_hrtime () + gl_spin_window (&svc->spin_window);
  if (!svc->closing)
    uv_idle_start (&svc->spin, spin_on_idle);
}

static void
next_answer (struct container *c)
{
  struct event *e = c->event;
  char deadline[32];
  gl_http_header_t headers[6];
  size_t n = 4;
  struct timespec ts;
  uint64_t now_ms;

  clock_gettime (CLOCK_REALTIME, &ts);
  now_ms = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
  c->timeout_s = c->svc->cfg.fn->timeout_s;
  snprintf (deadline, sizeof deadline, "%llu", (unsigned long long)
            (now_ms + (uint64_t) (c->timeout_s * 1000)));
  headers[0] = (gl_http_header_t) { "Lambda-Runtime-Aws-Request-Id",
                                    e->request_id };
  headers[1] = (gl_http_header_t) { "Lambda-Runtime-Deadline-Ms", deadline };
  headers[2] = (gl_http_header_t) { "Lambda-Runtime-Invoked-Function-Arn",
                                    c->svc->cfg.fn->arn };
  headers[3] = (gl_http_header_t) { "Content-Type", "application/json" };
  headers[n++] = (gl_http_header_t) { GL_HTTP_PIPELINING_HEADER, "true" };
  if (e->client_context)
    headers[n++] = (gl_http_header_t) { "Lambda-Runtime-Client-Context",
                                        e->client_context };
  gl_limits_thaw (&c->limits);
  c->start_ns = gl_now_ns ();
  c->state = C_BUSY;
  deadline_start (c, (uint64_t) (c->timeout_s * 1000) + DEADLINE_GRACE_MS);
  gl_http_request_respond (c->next, 200, headers, n, e->payload, e->len);
  c->next = NULL;
  /* With an outcome held, its START goes after that one's END and
     REPORT (container_settle). */
  if (c->held.event == NULL)
    event_log_start (e);
  spin_start (c->svc, 0);
}

static struct event *
queue_pop (struct gl_service *svc)
{
  struct event *e = svc->queue;

  if (e)
    {
      svc->queue = e->next;
      if (svc->queue == NULL)
        svc->queue_tail = NULL;
      e->next = NULL;
    }
  return e;
}

static struct container *
container_free (struct gl_service *svc)
{
  struct container *cold = NULL;
  int i;

  /* A warm one first: that is what container reuse means. */
  for (i = 0; i < svc->cfg.concurrency; i++)
    if (svc->containers[i].state == C_IDLE && svc->containers[i].next
        && !svc->containers[i].doomed)
      return &svc->containers[i];
    else if (svc->containers[i].state == C_COLD && !svc->containers[i].running
             && svc->containers[i].closing == 0 && cold == NULL)
      cold = &svc->containers[i];
  return cold;
}

static void
dispatch (struct gl_service *svc)
{
  struct container *c;

  while (svc->queue && !svc->closing && (c = container_free (svc)) != NULL)
    {
      c->event = queue_pop (svc);
      if (c->state == C_IDLE)
        {
          c->init_ms = -1;
          next_answer (c);
        }
      else if (container_spawn (c) == 0)
        deadline_start (c, INIT_LIMIT_MS + DEADLINE_GRACE_MS);
      else
        event_fail_platform (c, "Runtime.ExitError",
                             "Runtime failed to start");
    }
}

/* The Runtime API. */

static void
api_answer (gl_http_request_t *req, int status, const char *type,
            const char *message)
{
  static const gl_http_header_t json[] = {
    { "Content-Type", "application/json" }
  };
  char *body;

  if (type == NULL)
    {
      gl_http_request_respond (req, status, json, 1, "{\"status\":\"OK\"}", 15);
      return;
    }
  body = json_error (type, message);
  gl_http_request_respond (req, status, json, 1, body, strlen (body));
  free (body);
}

static void
api_next (struct container *c, gl_http_request_t *req)
{
  if (c->next)
    return api_answer (req, 400, "InvalidStateTransition",
                       "State transition from Ready to Ready failed: a "
                       "`next' is already waiting");
  c->next = req;
  /* Killed, but its exit not yet seen: a runtime that goes on after
     posting its error asks for more before the signal lands, and an
     event given to it now would die with it. */
  if (c->doomed)
    return;
  if (c->state == C_STARTING)
    {
      /* The init phase is over. */
      uv_timer_stop (&c->timer);
      c->init_ms = (double) (gl_now_ns () - c->spawn_ns) / 1e6;
      if (c->event)
        return next_answer (c);
    }
  if (c->state == C_BUSY && c->event)
    /* It asks for more without answering: the deadline will tell. */
    return;
  c->state = C_IDLE;
  dispatch (c->svc);
  /* Frozen between invocations, unless an event was already waiting
     for it: as on Lambda, a container with work queued is not frozen
     (and a freeze and thaw per event would cost more than the event).
     Nor if the outcome it gives ends the service and kills it: a
     frozen process does not die. */
  if (c->state != C_IDLE)
    return;
  container_settle (c);
  if (c->state == C_IDLE && !c->doomed)
    gl_limits_freeze (&c->limits);
}

/* The JSON text a runtime posted, or, if it is not JSON, that text as a
   JSON string: a record is JSON whatever the runtime sent. */
static char *
posted_json (const char *body, size_t len)
{
  char err[128];
  struct gl_buf b;

  if (len > 0 && gl_json_check (body, len, err, sizeof err) == 0)
    return strndup (body, len);
  gl_buf_init (&b);
  gl_json_escape (&b, body, len);
  return b.data;
}

/* guile-lambda bootstrap says when its engine reset the container: on
   Lambda a reset ends the sandbox, its processes go, and the next event
   is a cold start. */
#define RESET_HEADER "Guile-Lambda-Container-Reset"

static void
api_response (struct container *c, gl_http_request_t *req, const char *id)
{
  char *json;
  int reset;

  if (c->state != C_BUSY || c->event == NULL
      || strcmp (id, c->event->request_id) != 0)
    return api_answer (req, 403, "InvalidRequestID",
                       "Invalid request ID: no invocation with this ID is "
                       "waiting for a response");
  json = posted_json (req->body, req->body_len);
  /* (Read before the answer, which ends REQ.) */
  reset = gl_http_header_find (req->headers, req->nheaders,
                               RESET_HEADER) != NULL;
  api_answer (req, 202, NULL, NULL);
  uv_timer_stop (&c->timer);
  logs_drain (c);
  outcome_hold (c, json);
  /* A callback raised after the invocation had succeeded. */
  if (reset)
    container_kill (c);
}

/* An error object from what was posted: the body if it is one, or the
   type the header gives. */
static char *
posted_error (gl_http_request_t *req)
{
  const char *type = gl_http_header_find (req->headers, req->nheaders,
                                          "Lambda-Runtime-Function-Error-Type");
  char err[128];
  SCM obj;

  if (req->body_len > 0)
    {
      obj = gl_json_decode (req->body, req->body_len, err, sizeof err);
      if (!SCM_UNBNDP (obj) && scm_is_pair (obj)
          && scm_is_true (scm_assoc (scm_from_utf8_string ("errorType"), obj)))
        return strndup (req->body, req->body_len);
    }
  return json_error (type ? type : "Runtime.Unknown",
                     req->body_len ? req->body : "");
}

static int
error_is_timeout (const char *json)
{
  return strstr (json, "\"errorType\":\"Sandbox.Timedout\"") != NULL;
}

static void
api_error (struct container *c, gl_http_request_t *req, const char *id)
{
  char *json;
  int timeout, reset;

  if (c->state != C_BUSY || c->event == NULL
      || strcmp (id, c->event->request_id) != 0)
    return api_answer (req, 403, "InvalidRequestID",
                       "Invalid request ID: no invocation with this ID is "
                       "waiting for a response");
  json = posted_error (req);
  timeout = error_is_timeout (json);
  /* (Read before the answer, which ends REQ.) */
  reset = gl_http_header_find (req->headers, req->nheaders,
                               RESET_HEADER) != NULL;
  api_answer (req, 202, NULL, NULL);
  uv_timer_stop (&c->timer);
  logs_drain (c);
  event_finish (c, timeout ? "timeout" : "error", json);
  free (json);
  /* A timeout is a reset too. */
  if (timeout || reset)
    container_kill (c);
}

static void
api_init_error (struct container *c, gl_http_request_t *req)
{
  if (c->state != C_STARTING)
    return api_answer (req, 403, "InvalidStateTransition",
                       "An init error can be posted only during init");
  free (c->init_error);
  c->init_error = posted_error (req);
  /* The event that met it was a cold start all the same. */
  c->init_ms = (double) (gl_now_ns () - c->spawn_ns) / 1e6;
  api_answer (req, 202, NULL, NULL);
  /* Lambda asks the runtime to exit now; whether it does or not, this
     container is done. */
  container_kill (c);
}

static void
api_on_request (gl_http_request_t *req)
{
  struct container *c = req->server->data;
  const char *t = req->target;
  size_t plen = strlen (API_PREFIX "/invocation/");
  const char *slash;
  char id[64];

  /* A response is followed by the container's next `next'. */
  spin_start (c->svc, 1);
  if (strcmp (t, API_PREFIX "/invocation/next") == 0
      && strcmp (req->method, "GET") == 0)
    return api_next (c, req);
  container_settle (c);
  if (strcmp (t, API_PREFIX "/invocation/next") == 0)
    return api_answer (req, 405, "MethodNotAllowed", "use GET");
  if (strcmp (t, API_PREFIX "/init/error") == 0
      && strcmp (req->method, "POST") == 0)
    return api_init_error (c, req);
  if (strncmp (t, API_PREFIX "/invocation/", plen) == 0
      && (slash = strchr (t + plen, '/')) != NULL
      && (size_t) (slash - (t + plen)) < sizeof id
      && strcmp (req->method, "POST") == 0)
    {
      memcpy (id, t + plen, (size_t) (slash - (t + plen)));
      id[slash - (t + plen)] = '\0';
      if (strcmp (slash, "/response") == 0)
        return api_response (c, req, id);
      if (strcmp (slash, "/error") == 0)
        return api_error (c, req, id);
    }
  api_answer (req, 404, "NotFound", "no such Runtime API path");
}

static void
api_on_flush (gl_http_server_t *server)
{
  container_settle (server->data);
}

static void
api_on_abort (gl_http_request_t *req, int err)
{
  struct container *c = req->server->data;

  if (c->next == req)
    c->next = NULL;
}

/* Lambda refuses a response over 6 MB, and fails its invocation. */
static void
api_on_reject (gl_http_server_t *server, gl_http_reject_t *rej)
{
  struct container *c = server->data;

  if (rej->status != 413 || rej->target == NULL || c->event == NULL
      || strstr (rej->target, c->event->request_id) == NULL)
    return;
  uv_timer_stop (&c->timer);
  event_fail_platform (c, "Function.ResponseSizeTooLarge",
                       "Response payload size exceeded maximum allowed "
                       "payload size (6291456 bytes).");
}

/* Memory. */

static void
poll_on_timer (uv_timer_t *t)
{
  struct gl_service *svc = t->data;
  int i;

  for (i = 0; i < svc->cfg.concurrency; i++)
    {
      struct container *c = &svc->containers[i];

      if (!c->running || c->limits.frozen)
        continue;
      gl_limits_poll (&c->limits);
      if (c->limits.over)
        container_kill (c);
    }
}

/* The service. */

static int
container_init (struct gl_service *svc, struct container *c, int index)
{
  int r;

  memset (c, 0, sizeof *c);
  c->svc = svc;
  c->index = index;
  c->init_ms = -1;
  c->out.c = c->err.c = c;
  c->out.pipe.data = &c->out;
  c->err.pipe.data = &c->err;
  gl_buf_init (&c->out.line);
  gl_buf_init (&c->err.line);
  uv_timer_init (svc->loop, &c->timer);
  c->timer.data = c;
  svc->open_handles++;
  r = gl_http_server_init (svc->loop, &c->api, NULL);
  if (r != 0)
    return r;
  svc->open_handles++;
  c->api.data = c;
  gl_http_server_on_reject (&c->api, api_on_reject);
  gl_http_server_on_flush (&c->api, api_on_flush);
  r = gl_http_server_listen (&c->api, "127.0.0.1", 0, api_on_request,
                             api_on_abort);
  if (r != 0)
    return r;
  snprintf (c->api_address, sizeof c->api_address, "127.0.0.1:%d",
            gl_http_server_port (&c->api));
  return 0;
}

struct gl_service *
gl_service_start (uv_loop_t *loop, const struct gl_service_config *cfg)
{
  struct gl_service *svc = calloc (1, sizeof *svc);
  int i, r;

  svc->loop = loop;
  svc->cfg = *cfg;
  if (svc->cfg.concurrency < 1)
    svc->cfg.concurrency = 1;
  svc->containers = calloc ((size_t) svc->cfg.concurrency,
                            sizeof *svc->containers);
  gl_limits_mode ();
  for (i = 0; i < svc->cfg.concurrency; i++)
    if ((r = container_init (svc, &svc->containers[i], i)) != 0)
      {
        fprintf (stderr, "%s: cannot serve the Runtime API on loopback: %s\n",
                 program, gl_http_strerror (r));
        return NULL;
      }
  uv_timer_init (loop, &svc->poll);
  svc->poll.data = svc;
  svc->open_handles++;
  uv_timer_start (&svc->poll, poll_on_timer, POLL_MS, POLL_MS);
  uv_unref ((uv_handle_t *) &svc->poll);
  uv_idle_init (loop, &svc->spin);
  svc->spin.data = svc;
  svc->open_handles++;
  gl_log_hold_begin ();
  uv_check_init (loop, &svc->log_turn);
  svc->log_turn.data = svc;
  svc->open_handles++;
  uv_check_start (&svc->log_turn, log_on_turn);
  uv_unref ((uv_handle_t *) &svc->log_turn);
  return svc;
}

void
gl_service_submit (struct gl_service *svc, unsigned long seq,
                   const char *event, size_t len)
{
  gl_service_submit_extra (svc, seq, event, len, NULL);
}

void
gl_service_submit_extra (struct gl_service *svc, unsigned long seq,
                         const char *event, size_t len,
                         const struct gl_service_extra *extra)
{
  struct event *e = calloc (1, sizeof *e);

  e->seq = seq;
  gl_buf_init (&e->log);
  if (extra && extra->request_id)
    snprintf (e->request_id, sizeof e->request_id, "%s", extra->request_id);
  else
    gl_request_id_generate (e->request_id);
  if (extra && extra->client_context)
    e->client_context = strdup (extra->client_context);
  e->tail = extra && extra->tail;
  e->payload = malloc (len + 1);
  memcpy (e->payload, event, len);
  e->payload[len] = '\0';
  e->len = len;
  if (svc->queue_tail)
    svc->queue_tail->next = e;
  else
    svc->queue = e;
  svc->queue_tail = e;
  dispatch (svc);
}

static void
server_on_close (gl_http_server_t *server)
{
  service_handle_done (((struct container *) server->data)->svc);
}

void
gl_service_close (struct gl_service *svc, void (*cb) (void *data),
                  void *data)
{
  int i;

  /* What is held is given before the end (a front end that closes from
     its outcome callback finds nothing more held). */
  service_settle (svc);
  svc->closing = 1;
  svc->close_cb = cb;
  svc->close_data = data;
  uv_close ((uv_handle_t *) &svc->poll, service_handle_on_close);
  uv_close ((uv_handle_t *) &svc->spin, service_handle_on_close);
  uv_close ((uv_handle_t *) &svc->log_turn, service_handle_on_close);
  for (i = 0; i < svc->cfg.concurrency; i++)
    {
      struct container *c = &svc->containers[i];

      container_kill (c);
      if (c->next)
        {
          gl_http_request_respond (c->next, 500, NULL, 0, NULL, 0);
          c->next = NULL;
        }
      uv_close ((uv_handle_t *) &c->timer, timer_on_close);
      gl_http_server_close (&c->api, server_on_close);
    }
}
