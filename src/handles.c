/* handles.c: the registry of user handles and requests, the handle
   object Scheme sees, and timers.  A handle's memory belongs to libuv
   while it is open and is freed only in its close callback; the Scheme
   object may be collected earlier, the handle goes on working (as in
   Node), because the registry keeps its procedures alive. */
#include "handles.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static uv_loop_t *loop;
static gl_callback_runner run_callback;
static SCM handle_type;
static struct gl_handle registry;   /* list head; never a real handle */
static unsigned long next_id = 1;

#define HANDLE_OF(ptr, field) \
  ((struct gl_handle *) ((char *) (ptr) - offsetof (struct gl_handle, field)))

static void
registry_add (struct gl_handle *h)
{
  h->next = &registry;
  h->prev = registry.prev;
  registry.prev->next = h;
  registry.prev = h;
}

static void
registry_remove (struct gl_handle *h)
{
  h->prev->next = h->next;
  h->next->prev = h->prev;
  h->prev = h->next = h;
}

static int
handle_alive (const struct gl_handle *h)
{
  return !h->closing && uv_is_active (&h->u.handle) && uv_has_ref (&h->u.handle);
}

int
gl_registry_empty (void)
{
  return registry.next == &registry;
}

size_t
gl_registry_alive_count (void)
{
  struct gl_handle *h;
  size_t n = 0;

  for (h = registry.next; h != &registry; h = h->next)
    n += handle_alive (h);
  return n;
}

void
gl_origin_describe (const struct gl_origin *o, struct gl_buf *out)
{
  if (o->file)
    gl_buf_printf (out, "created at %s:%d:%d", o->file, o->line, o->column);
  else
    gl_buf_puts (out, "created at an unknown place");
  gl_buf_printf (out, " during request %s", o->request_id);
}

static void
handle_describe (const struct gl_handle *h, struct gl_buf *out)
{
  gl_buf_printf (out, "%s #%lu", h->type, h->id);
  if (h->u.handle.type == UV_TIMER)
    {
      if (h->repeat)
        gl_buf_printf (out, " (interval %llu ms, next in %llu ms)",
                       (unsigned long long) h->repeat,
                       (unsigned long long) uv_timer_get_due_in (&h->u.timer));
      else
        gl_buf_printf (out, " (timeout, due in %llu ms)",
                       (unsigned long long) uv_timer_get_due_in (&h->u.timer));
    }
  if (!uv_has_ref (&h->u.handle))
    gl_buf_puts (out, " unref'd");
  gl_buf_puts (out, ", ");
  gl_origin_describe (&h->origin, out);
}

void
gl_registry_describe (struct gl_buf *out, const char *prefix)
{
  struct gl_handle *h;

  for (h = registry.next; h != &registry; h = h->next)
    if (!h->closing && uv_is_active (&h->u.handle))
      {
        gl_buf_puts (out, prefix);
        handle_describe (h, out);
        gl_buf_putc (out, '\n');
      }
}

static void
handle_on_close (uv_handle_t *uvh)
{
  struct gl_handle *h = HANDLE_OF (uvh, u);

  registry_remove (h);
  if (scm_is_true (h->object))
    {
      scm_foreign_object_set_x (h->object, 0, NULL);
      scm_gc_unprotect_object (h->object);
    }
  scm_gc_unprotect_object (h->callback);
  free (h->origin.file);
  free (h);
}

static void
handle_close (struct gl_handle *h)
{
  if (h->closing)
    return;
  h->closing = 1;
  uv_close (&h->u.handle, handle_on_close);
}

void
gl_registry_close_all (void)
{
  struct gl_handle *h, *next;

  for (h = registry.next; h != &registry; h = next)
    {
      next = h->next;
      handle_close (h);
    }
}

/* ORIGIN is what the Scheme macros pass: an alist with filename, line
   (0-based, as syntax-source gives it) and column, or #f. */
static void
origin_init (struct gl_origin *o, SCM origin)
{
  SCM file = SCM_BOOL_F, line = SCM_BOOL_F, column = SCM_BOOL_F;

  if (scm_is_pair (origin) || scm_is_null (origin))
    {
      file = scm_assq_ref (origin, scm_from_utf8_symbol ("filename"));
      line = scm_assq_ref (origin, scm_from_utf8_symbol ("line"));
      column = scm_assq_ref (origin, scm_from_utf8_symbol ("column"));
    }
  o->file = scm_is_string (file) ? scm_to_utf8_string (file) : NULL;
  o->line = scm_is_integer (line) ? scm_to_int (line) + 1 : 0;
  o->column = scm_is_integer (column) ? scm_to_int (column) + 1 : 0;
  snprintf (o->request_id, sizeof o->request_id, "%s", gl_log_request_id ());
}

static struct gl_handle *
handle_new (const char *type, SCM origin, SCM proc)
{
  struct gl_handle *h = calloc (1, sizeof *h);

  if (h == NULL)
    scm_report_out_of_memory ();
  h->id = next_id++;
  h->type = type;
  origin_init (&h->origin, origin);
  h->callback = scm_gc_protect_object (proc);
  h->object = scm_gc_protect_object (scm_make_foreign_object_1 (handle_type, h));
  registry_add (h);
  return h;
}

static struct gl_handle *
handle_from_scm (SCM obj, int pos, const char *subr)
{
  SCM_ASSERT_TYPE (SCM_IS_A_P (obj, handle_type), obj, pos, subr, "handle");
  return scm_foreign_object_ref (obj, 0);
}

/* Timers. */

static void
timer_on_fire (uv_timer_t *t)
{
  struct gl_handle *h = HANDLE_OF (t, u);
  SCM proc = h->callback;

  /* A one-shot timer is done once it fires, as in Node; close it first
     so that the callback sees it gone from (active-handles). */
  if (h->repeat == 0)
    {
      scm_remember_upto_here_1 (proc);
      handle_close (h);
    }
  run_callback (h, proc);
}

static SCM
timer_start (SCM origin, SCM proc, SCM ms, int repeating, const char *subr)
{
  struct gl_handle *h;
  uint64_t timeout;
  int r;

  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (proc)), proc, 2, subr,
                   "procedure");
  SCM_ASSERT_TYPE (scm_is_real (ms), ms, 3, subr, "number of milliseconds");
  /* Node clamps delays below 1 ms (and non-numbers) to 1 ms. */
  timeout = scm_to_double (ms) >= 1 ? (uint64_t) scm_to_double (ms) : 1;
  h = handle_new ("timer", origin, proc);
  h->repeat = repeating ? timeout : 0;
  r = uv_timer_init (loop, &h->u.timer);
  if (r == 0)
    r = uv_timer_start (&h->u.timer, timer_on_fire, timeout, h->repeat);
  if (r != 0)
    scm_misc_error (subr, "cannot start a timer: ~A",
                    scm_list_1 (scm_from_utf8_string (uv_strerror (r))));
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

/* Closing an already closed handle is a no-op, as clearTimeout is. */
static SCM
handle_close_x (SCM obj)
{
  struct gl_handle *h;

  SCM_ASSERT_TYPE (SCM_IS_A_P (obj, handle_type), obj, 1, "handle-close!",
                   "handle");
  h = scm_foreign_object_ref (obj, 0);
  if (h)
    handle_close (h);
  return SCM_UNSPECIFIED;
}

static SCM
handle_ref_x (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-ref!");

  if (h && !h->closing)
    uv_ref (&h->u.handle);
  return obj;
}

static SCM
handle_unref_x (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-unref!");

  if (h && !h->closing)
    uv_unref (&h->u.handle);
  return obj;
}

static SCM
handle_p (SCM obj)
{
  return scm_from_bool (SCM_IS_A_P (obj, handle_type));
}

static SCM
handle_closed_p (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-closed?");
  return scm_from_bool (h == NULL || h->closing);
}

static SCM
handle_active_p (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-active?");
  return scm_from_bool (h && !h->closing && uv_is_active (&h->u.handle));
}

static SCM
handle_ref_p (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-ref?");
  return scm_from_bool (h && !h->closing && uv_has_ref (&h->u.handle));
}

static SCM
handle_type_of (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-type");
  return h ? scm_from_utf8_symbol (h->type) : SCM_BOOL_F;
}

static SCM
handle_id (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-id");
  return h ? scm_from_ulong (h->id) : SCM_BOOL_F;
}

#define SYM(s) scm_from_utf8_symbol (s)

static SCM
origin_to_scm (const struct gl_origin *o)
{
  return scm_list_4
    (scm_cons (SYM ("file"), o->file ? scm_from_utf8_string (o->file)
                                      : SCM_BOOL_F),
     scm_cons (SYM ("line"), scm_from_int (o->line)),
     scm_cons (SYM ("column"), scm_from_int (o->column)),
     scm_cons (SYM ("request-id"), scm_from_utf8_string (o->request_id)));
}

static SCM
handle_origin (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-origin");
  return h ? origin_to_scm (&h->origin) : SCM_BOOL_F;
}

static SCM
handle_details (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-details");

  if (h == NULL || h->closing)
    return SCM_EOL;
  if (h->u.handle.type == UV_TIMER)
    return scm_list_2
      (scm_cons (SYM ("due-in"),
                 scm_from_uint64 (uv_timer_get_due_in (&h->u.timer))),
       scm_cons (SYM ("repeat"), scm_from_uint64 (h->repeat)));
  return SCM_EOL;
}

static SCM
handle_describe_scm (SCM obj)
{
  struct gl_handle *h = handle_from_scm (obj, 1, "handle-describe");
  struct gl_buf b;
  SCM s;

  if (h == NULL)
    return scm_from_utf8_string ("closed handle");
  gl_buf_init (&b);
  handle_describe (h, &b);
  s = scm_from_utf8_stringn (b.data, b.len);
  gl_buf_free (&b);
  return s;
}

/* Active handles in creation order, ref'd or not, like Node's
   process._getActiveHandles(). */
static SCM
active_handles (void)
{
  struct gl_handle *h;
  SCM out = SCM_EOL;

  for (h = registry.prev; h != &registry; h = h->prev)
    if (!h->closing && uv_is_active (&h->u.handle))
      out = scm_cons (h->object, out);
  return out;
}

/* Requests arrive with the async I/O bindings; none exist yet. */
static SCM
active_requests (void)
{
  return SCM_EOL;
}

static SCM
loop_alive_p (void)
{
  return scm_from_bool (gl_registry_alive_count () > 0);
}

void
gl_handles_init (uv_loop_t *l, gl_callback_runner run)
{
  loop = l;
  run_callback = run;
  registry.next = registry.prev = &registry;
  handle_type = scm_make_foreign_object_type
    (SYM ("handle"), scm_list_1 (SYM ("ptr")), NULL);
  scm_c_define ("<handle>", handle_type);
  scm_c_define_gsubr ("%set-timeout", 3, 0, 0, set_timeout);
  scm_c_define_gsubr ("%set-interval", 3, 0, 0, set_interval);
  scm_c_define_gsubr ("handle-close!", 1, 0, 0, handle_close_x);
  scm_c_define_gsubr ("clear-timer", 1, 0, 0, handle_close_x);
  scm_c_define_gsubr ("handle-ref!", 1, 0, 0, handle_ref_x);
  scm_c_define_gsubr ("handle-unref!", 1, 0, 0, handle_unref_x);
  scm_c_define_gsubr ("handle?", 1, 0, 0, handle_p);
  scm_c_define_gsubr ("handle-closed?", 1, 0, 0, handle_closed_p);
  scm_c_define_gsubr ("handle-active?", 1, 0, 0, handle_active_p);
  scm_c_define_gsubr ("handle-ref?", 1, 0, 0, handle_ref_p);
  scm_c_define_gsubr ("handle-type", 1, 0, 0, handle_type_of);
  scm_c_define_gsubr ("handle-id", 1, 0, 0, handle_id);
  scm_c_define_gsubr ("handle-origin", 1, 0, 0, handle_origin);
  scm_c_define_gsubr ("handle-details", 1, 0, 0, handle_details);
  scm_c_define_gsubr ("handle-describe", 1, 0, 0, handle_describe_scm);
  scm_c_define_gsubr ("active-handles", 0, 0, 0, active_handles);
  scm_c_define_gsubr ("active-requests", 0, 0, 0, active_requests);
  scm_c_define_gsubr ("loop-alive?", 0, 0, 0, loop_alive_p);
}
