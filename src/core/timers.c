/* timers.c: set-timeout, set-interval and set-immediate.  One libuv
   handle per timer, so that each has its own origin in the registry. */
#include "core/handles.h"
#include "core/log.h"

#include <math.h>
#include <stdlib.h>

static void
timer_describe (const struct gl_handle *h, struct gl_buf *out)
{
  if (h->repeat)
    gl_buf_printf (out, " (interval %llu ms, next in %llu ms)",
                   (unsigned long long) h->repeat,
                   (unsigned long long) uv_timer_get_due_in (&h->u.timer));
  else
    gl_buf_printf (out, " (timeout, due in %llu ms)",
                   (unsigned long long) uv_timer_get_due_in (&h->u.timer));
}

static SCM
timer_details (const struct gl_handle *h)
{
  return scm_list_2
    (scm_cons (scm_from_utf8_symbol ("due-in"),
               scm_from_uint64 (uv_timer_get_due_in (&h->u.timer))),
     scm_cons (scm_from_utf8_symbol ("repeat"), scm_from_uint64 (h->repeat)));
}

static const struct gl_handle_class timer_class = {
  "timer", GL_KIND_HANDLE, timer_describe, timer_details, NULL
};

static void
timer_on_fire (uv_timer_t *t)
{
  struct gl_handle *h = t->data;
  SCM proc = h->callback;

  /* A one-shot timer is done once it fires, as in Node; close it first
     so that the callback sees it gone from (active-handles). */
  if (h->repeat == 0)
    gl_handle_close (h);
  gl_callback_run (h, proc, SCM_EOL);
  scm_remember_upto_here_1 (proc);
}

/* Node's TIMEOUT_MAX: the largest delay a timer takes, 2^31-1 ms. */
#define TIMER_DELAY_MAX 2147483647.0

/* The delay asked for; NaN when none or not a number, as Node's
   coercion gives. */
static double
timer_delay_requested (SCM ms)
{
  return !SCM_UNBNDP (ms) && scm_is_real (ms) ? scm_to_double (ms) : NAN;
}

static void
timer_overflow_warn (const struct gl_handle *h, SCM ms, const char *subr)
{
  struct gl_buf b;
  char *text = scm_to_utf8_string (scm_number_to_string (ms, SCM_UNDEFINED));

  gl_buf_init (&b);
  gl_origin_describe (&h->origin, &b);
  gl_log_printf (GL_LOG_WARN, "TimeoutOverflowWarning: %s does not fit into "
                 "a 32-bit signed integer. Timeout duration was set to 1. "
                 "(%s, %s)", text, subr, b.data);
  gl_buf_free (&b);
  free (text);
}

static SCM
timer_start (SCM origin, SCM proc, SCM ms, int repeating, const char *subr)
{
  struct gl_handle *h;
  double requested = timer_delay_requested (ms);
  uint64_t timeout;
  int r;

  /* Positions as the caller sees them, without the origin. */
  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (proc)), proc, 1, subr,
                   "procedure");
  /* Node's rule (lib/internal/timers.js): anything but a delay from 1
     to TIMER_DELAY_MAX ms (NaN, below 1, infinite or too large) is 1 ms,
     and too large a one is warned about.  A fraction waits for the next
     whole millisecond, as Node's timer lists do. */
  if (requested >= 1 && requested <= TIMER_DELAY_MAX)
    timeout = (uint64_t) ceil (requested);
  else
    timeout = 1;
  h = gl_handle_new (&timer_class, origin, proc);
  if (requested > TIMER_DELAY_MAX)
    timer_overflow_warn (h, ms, subr);
  h->repeat = repeating ? timeout : 0;
  r = uv_timer_init (gl_handles_loop (), &h->u.timer);
  h->u.timer.data = h;
  if (r == 0)
    r = uv_timer_start (&h->u.timer, timer_on_fire, timeout, h->repeat);
  if (r != 0)
    {
      gl_handle_close (h);
      gl_uv_raise (r, "uv_timer_start", NULL);
    }
  return h->object;
}

static SCM
set_timeout (SCM origin, SCM proc, SCM ms)
{
  return timer_start (origin, proc, ms, 0, "set-timeout");
}

static SCM
set_interval (SCM origin, SCM proc, SCM ms)
{
  return timer_start (origin, proc, ms, 1, "set-interval");
}

/* Immediates run once, after the I/O of the current turn of the loop,
   as Node's setImmediate does: a check handle each.  While any is
   pending, one idle handle of the host's (unref'd: it never keeps the
   loop alive) stops the poll from blocking. */
static uv_idle_t immediate_idle;
static size_t immediates_pending;

static void
immediate_idle_on_idle (uv_idle_t *idle)
{
}

static void
immediate_release (struct gl_handle *h)
{
  if (--immediates_pending == 0)
    uv_idle_stop (&immediate_idle);
}

static const struct gl_handle_class immediate_class = {
  "immediate", GL_KIND_HANDLE, NULL, NULL, immediate_release
};

static void
immediate_on_check (uv_check_t *c)
{
  struct gl_handle *h = c->data;
  SCM proc = h->callback;

  gl_handle_close (h);
  gl_callback_run (h, proc, SCM_EOL);
  scm_remember_upto_here_1 (proc);
}

static SCM
set_immediate (SCM origin, SCM proc)
{
  struct gl_handle *h;
  int r;

  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (proc)), proc, 1,
                   "set-immediate", "procedure");
  h = gl_handle_new (&immediate_class, origin, proc);
  if (immediates_pending++ == 0)
    uv_idle_start (&immediate_idle, immediate_idle_on_idle);
  r = uv_check_init (gl_handles_loop (), &h->u.check);
  h->u.check.data = h;
  if (r == 0)
    r = uv_check_start (&h->u.check, immediate_on_check);
  if (r != 0)
    {
      gl_handle_close (h);
      gl_uv_raise (r, "uv_check_start", NULL);
    }
  return h->object;
}

void
gl_timers_init (void)
{
  scm_c_define_gsubr ("%set-timeout", 2, 1, 0, set_timeout);
  scm_c_define_gsubr ("%set-interval", 2, 1, 0, set_interval);
  scm_c_define_gsubr ("%set-immediate", 2, 0, 0, set_immediate);
  uv_idle_init (gl_handles_loop (), &immediate_idle);
  uv_unref ((uv_handle_t *) &immediate_idle);
}
