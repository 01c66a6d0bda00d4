/* handles.c: the registry of user handles and requests, and the handle
   object Scheme sees for either.  A handle's memory belongs to libuv
   while it is open and is freed only in its close callback; a request's
   once its callback has run.  The Scheme object may be collected
   earlier: the handle goes on working (as in Node), because the
   registry keeps its procedures alive. */
#include "core/handles.h"
#include "core/boundary.h"
#include "core/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t *loop;
static gl_callback_runner run_callback;
static SCM handle_type;
static struct gl_handle registry;   /* list head; never a real handle */
/* The loop thread changes the list; the watchdog's hard stop reads it
   while the loop thread is stuck, so the list's links are changed and
   walked under this lock. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long next_id = 1;

#define HANDLE_OF(ptr) \
  ((struct gl_handle *) ((char *) (ptr) - offsetof (struct gl_handle, u)))

uv_loop_t *
gl_handles_loop (void)
{
  return loop;
}

static void
registry_add (struct gl_handle *h)
{
  pthread_mutex_lock (&registry_lock);
  h->next = &registry;
  h->prev = registry.prev;
  registry.prev->next = h;
  registry.prev = h;
  pthread_mutex_unlock (&registry_lock);
}

static void
registry_remove (struct gl_handle *h)
{
  pthread_mutex_lock (&registry_lock);
  h->prev->next = h->next;
  h->next->prev = h->prev;
  h->prev = h->next = h;
  pthread_mutex_unlock (&registry_lock);
}

static int
is_request (const struct gl_handle *h)
{
  return h->class->kind == GL_KIND_REQUEST;
}

/* Live: what (active-handles) and (active-requests) list. */
static int
handle_live (const struct gl_handle *h)
{
  if (h->closing)
    return 0;
  return is_request (h) ? h->in_flight : uv_is_active (&h->u.handle);
}

static int
handle_alive (const struct gl_handle *h)
{
  if (!handle_live (h))
    return 0;
  if (is_request (h))
    return h->class->alive == NULL || h->class->alive (h);
  return uv_has_ref (&h->u.handle);
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

int
gl_registry_empty (void)
{
  return registry.next == &registry;
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

/* Type and id: all that is left to say of a handle once it is gone. */
static void
handle_name_describe (const struct gl_handle_class *class, unsigned long id,
                      struct gl_buf *out)
{
  gl_buf_printf (out, "%s #%lu", class->type, id);
}

static void
handle_state_describe (const struct gl_handle *h, struct gl_buf *out)
{
  if (is_request (h))
    gl_buf_puts (out, h->closing ? " cancelled"
                 : h->in_flight ? " in flight" : " done");
  else if (h->closing)
    gl_buf_puts (out, " closing");
  else
    gl_buf_printf (out, " %s %s",
                   uv_is_active (&h->u.handle) ? "active" : "inactive",
                   uv_has_ref (&h->u.handle) ? "ref'd" : "unref'd");
}

/* Type, id, details and origin; WITH_STATE, also whether it is active,
   ref'd, closing or in flight.  Logs list live handles only: there,
   only an unref'd one needs saying so. */
static void
handle_describe (const struct gl_handle *h, struct gl_buf *out,
                 int with_state)
{
  handle_name_describe (h->class, h->id, out);
  if (with_state)
    handle_state_describe (h, out);
  /* What a closing handle was doing is over (a cleared timer is due
     no more); the trace of a callback still says what fired. */
  if (h->class->describe && !(with_state && h->closing))
    h->class->describe (h, out);
  if (!with_state && !is_request (h) && !uv_has_ref (&h->u.handle))
    gl_buf_puts (out, " unref'd");
  gl_buf_puts (out, ", ");
  gl_origin_describe (&h->origin, out);
}

void
gl_registry_describe (struct gl_buf *out, const char *prefix)
{
  struct gl_handle *h;

  pthread_mutex_lock (&registry_lock);
  for (h = registry.next; h != &registry; h = h->next)
    if (handle_live (h))
      {
        gl_buf_puts (out, prefix);
        handle_describe (h, out, 0);
        gl_buf_putc (out, '\n');
      }
  pthread_mutex_unlock (&registry_lock);
}

int
gl_registry_describe_one (const struct gl_handle *h, struct gl_buf *out)
{
  struct gl_handle *p;
  int found = 0;

  pthread_mutex_lock (&registry_lock);
  for (p = registry.next; p != &registry && !found; p = p->next)
    if (p == h)
      {
        gl_buf_printf (out, "%s #%lu (", h->class->type, h->id);
        gl_origin_describe (&h->origin, out);
        gl_buf_putc (out, ')');
        found = 1;
      }
  pthread_mutex_unlock (&registry_lock);
  return found;
}

static void
handle_release (struct gl_handle *h)
{
  registry_remove (h);
  if (h->class->release)
    h->class->release (h);
  SCM_STRUCT_DATA_SET (h->object, 0, 0);
  scm_gc_unprotect_object (h->object);
  scm_gc_unprotect_object (h->callback);
  scm_gc_unprotect_object (h->extra);
  free (h->origin.file);
  free (h->text);
  free (h);
}

static void
handle_on_close (uv_handle_t *uvh)
{
  handle_release (HANDLE_OF (uvh));
}

void
gl_handle_close (struct gl_handle *h)
{
  if (h->closing)
    return;
  h->closing = 1;
  uv_close (&h->u.handle, handle_on_close);
}

void
gl_request_finish (struct gl_handle *r)
{
  r->in_flight = 0;
  handle_release (r);
}

void
gl_request_abandon (struct gl_handle *r)
{
  gl_request_finish (r);
}

/* A reset closes every handle.  Requests cannot all be cancelled, so
   those in flight are marked: their callbacks are dropped when they
   arrive, and they stop counting at once. */
void
gl_registry_close_all (void)
{
  struct gl_handle *h, *next;

  for (h = registry.next; h != &registry; h = next)
    {
      next = h->next;
      if (!is_request (h))
        gl_handle_close (h);
      else if (!h->closing)
        {
          h->closing = 1;
          uv_cancel (&h->u.req);
        }
    }
}

void
gl_callback_run (struct gl_handle *h, SCM proc, SCM args)
{
  /* A request of a container that was reset since: drop it. */
  if (h->closing && is_request (h))
    return;
  run_callback (h, proc, args);
}

/* ORIGIN is what the Scheme macros pass: an alist with filename, line
   (0-based, as syntax-source gives it) and column, or #f. */
static void
origin_init (struct gl_origin *o, SCM origin)
{
  SCM file = SCM_BOOL_F, line = SCM_BOOL_F, column = SCM_BOOL_F;

  if (scm_is_pair (origin))
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

struct gl_handle *
gl_handle_new (const struct gl_handle_class *class, SCM origin, SCM proc)
{
  struct gl_handle *h = calloc (1, sizeof *h);

  if (h == NULL)
    scm_report_out_of_memory ();
  h->id = next_id++;
  h->class = class;
  origin_init (&h->origin, origin);
  h->callback = scm_gc_protect_object (proc);
  h->extra = scm_gc_protect_object (SCM_BOOL_F);
  /* The class and id outlive the handle: a closed one still prints as
     what it was. */
  h->object = scm_gc_protect_object (scm_c_make_structv (handle_type, 0, 0, NULL));
  SCM_STRUCT_DATA_SET (h->object, 0, (scm_t_bits) h);
  SCM_STRUCT_DATA_SET (h->object, 1, (scm_t_bits) class);
  SCM_STRUCT_DATA_SET (h->object, 2, (scm_t_bits) h->id);
  h->in_flight = class->kind == GL_KIND_REQUEST;
  registry_add (h);
  return h;
}

static int
handle_object_p (SCM obj)
{
  return SCM_STRUCTP (obj) && scm_is_eq (SCM_STRUCT_VTABLE (obj), handle_type);
}

struct gl_handle *
gl_handle_from_scm (SCM obj, int pos, const char *subr)
{
  SCM_ASSERT_TYPE (handle_object_p (obj), obj, pos, subr, "handle");
  return (struct gl_handle *) SCM_STRUCT_DATA_REF (obj, 0);
}

SCM
gl_uv_error (int status, const char *syscall, const char *target)
{
  char message[512];

  if (target)
    snprintf (message, sizeof message, "%s %s %s: %s", syscall,
              uv_err_name (status), target, uv_strerror (status));
  else
    snprintf (message, sizeof message, "%s %s: %s", syscall,
              uv_err_name (status), uv_strerror (status));
  /* Often called inside a libuv callback, where nothing may unwind: if
     the error cannot be made, the callback gets its message. */
  return gl_boundary_call (GL_HOOK_MAKE_UV_ERROR,
                           scm_list_3 (scm_from_utf8_string
                                       (uv_err_name (status)),
                                       scm_from_utf8_string (syscall),
                                       scm_from_utf8_string (message)),
                           scm_from_utf8_string (message));
}

/* libguile 3.0.8 does not export scm_raise_exception: go through
   Scheme's raise-exception, a hook.  Primitives raise into the Scheme
   code that called them: no C frame of the loop is below. */
void
gl_uv_raise (int status, const char *syscall, const char *target)
{
  scm_call_1 (gl_hook_ref (GL_HOOK_RAISE),
              gl_uv_error (status, syscall, target));
  abort ();                     /* raise-exception does not return */
}

size_t
gl_uv_bufs_split (char *bytes, size_t len, uv_buf_t *bufs, size_t n)
{
  size_t count = len == 0 ? 1 : (len - 1) / GL_UV_BUF_MAX + 1;
  size_t i, done;

  for (i = 0; i < count && i < n; i++)
    {
      done = i * GL_UV_BUF_MAX;
      bufs[i] = uv_buf_init (bytes + done, len - done > GL_UV_BUF_MAX
                             ? GL_UV_BUF_MAX : (unsigned int) (len - done));
    }
  return count;
}

int
gl_stream_write (uv_write_t *req, uv_stream_t *stream, char *bytes,
                 size_t len, uv_write_cb cb)
{
  uv_buf_t small[4], *bufs = small;
  size_t n = gl_uv_bufs_split (bytes, len, small, 4);
  int r;

  if (n > 4)
    {
      bufs = malloc (n * sizeof *bufs);
      if (bufs == NULL)
        return UV_ENOMEM;
      gl_uv_bufs_split (bytes, len, bufs, n);
    }
  /* uv_write copies the array. */
  r = uv_write (req, stream, bufs, (unsigned int) n, cb);
  if (bufs != small)
    free (bufs);
  return r;
}

/* The Scheme side. */

/* Closing an already closed handle is a no-op, as clearTimeout is. */
static SCM
handle_close_x (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-close!");

  if (h && !is_request (h))
    gl_handle_close (h);
  return SCM_UNSPECIFIED;
}

static SCM
handle_ref_x (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-ref!");

  if (h && !h->closing && !is_request (h))
    uv_ref (&h->u.handle);
  return obj;
}

static SCM
handle_unref_x (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-unref!");

  if (h && !h->closing && !is_request (h))
    uv_unref (&h->u.handle);
  return obj;
}

static SCM
handle_p (SCM obj)
{
  return scm_from_bool (handle_object_p (obj));
}

static SCM
request_p (SCM obj)
{
  struct gl_handle *h;

  if (!handle_object_p (obj))
    return SCM_BOOL_F;
  h = (struct gl_handle *) SCM_STRUCT_DATA_REF (obj, 0);
  return scm_from_bool (h && is_request (h));
}

static SCM
handle_closed_p (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-closed?");
  return scm_from_bool (h == NULL || h->closing);
}

static SCM
handle_active_p (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-active?");
  return scm_from_bool (h && handle_live (h));
}

static SCM
handle_ref_p (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-ref?");
  return scm_from_bool (h && handle_alive (h));
}

static SCM
handle_type_of (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-type");
  return h ? scm_from_utf8_symbol (h->class->type) : SCM_BOOL_F;
}

static SCM
handle_id (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-id");
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
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-origin");
  return h ? origin_to_scm (&h->origin) : SCM_BOOL_F;
}

static SCM
handle_details (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-details");

  if (h == NULL || h->closing || h->class->details == NULL)
    return SCM_EOL;
  return h->class->details (h);
}

SCM
gl_handle_describe_scm (const struct gl_handle *h)
{
  struct gl_buf b;
  SCM s;

  gl_buf_init (&b);
  handle_describe (h, &b, 0);
  s = scm_from_utf8_stringn (b.data, b.len);
  gl_buf_free (&b);
  return s;
}

static SCM
handle_describe_scm (SCM obj)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "handle-describe");

  if (h == NULL)
    return scm_from_utf8_string ("closed handle");
  return gl_handle_describe_scm (h);
}

/* (%handle-write OBJ PORT): how a handle or request prints, with its
   description: #<handle timer #3 active ref'd (...), created at ...>. */
static SCM
handle_write (SCM obj, SCM port)
{
  struct gl_handle *h = gl_handle_from_scm (obj, 1, "%handle-write");
  const struct gl_handle_class *class
    = (const struct gl_handle_class *) SCM_STRUCT_DATA_REF (obj, 1);
  struct gl_buf b;

  gl_buf_init (&b);
  gl_buf_puts (&b, class->kind == GL_KIND_REQUEST ? "#<request " : "#<handle ");
  if (h)
    handle_describe (h, &b, 1);
  else
    {
      handle_name_describe (class, (uintptr_t) SCM_STRUCT_DATA_REF (obj, 2),
                            &b);
      gl_buf_puts (&b, class->kind == GL_KIND_REQUEST ? " done" : " closed");
    }
  gl_buf_putc (&b, '>');
  scm_display (scm_from_utf8_stringn (b.data, b.len), port);
  gl_buf_free (&b);
  return SCM_UNSPECIFIED;
}

/* Live handles or requests in creation order; handles ref'd or not,
   like Node's process._getActiveHandles() and _getActiveRequests(). */
static SCM
registry_list (enum gl_kind kind)
{
  struct gl_handle *h;
  SCM out = SCM_EOL;

  for (h = registry.prev; h != &registry; h = h->prev)
    if (h->class->kind == kind && handle_live (h))
      out = scm_cons (h->object, out);
  return out;
}

static SCM
active_handles (void)
{
  return registry_list (GL_KIND_HANDLE);
}

static SCM
active_requests (void)
{
  return registry_list (GL_KIND_REQUEST);
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
  /* A struct with its own vtable rather than a foreign object type,
     which would load GOOPS at every start: three raw words (the handle,
     its class and its id) and the printer below. */
  handle_type = scm_make_vtable
    (scm_from_utf8_string ("uwuwuw"),
     scm_c_make_gsubr ("%handle-write", 2, 0, 0, handle_write));
  scm_c_define ("<handle>", handle_type);
  scm_c_define_gsubr ("handle-close!", 1, 0, 0, handle_close_x);
  scm_c_define_gsubr ("handle-ref!", 1, 0, 0, handle_ref_x);
  scm_c_define_gsubr ("handle-unref!", 1, 0, 0, handle_unref_x);
  scm_c_define_gsubr ("handle?", 1, 0, 0, handle_p);
  scm_c_define_gsubr ("request?", 1, 0, 0, request_p);
  scm_c_define_gsubr ("handle-closed?", 1, 0, 0, handle_closed_p);
  scm_c_define_gsubr ("handle-active?", 1, 0, 0, handle_active_p);
  scm_c_define_gsubr ("handle-ref?", 1, 0, 0, handle_ref_p);
  scm_c_define_gsubr ("handle-type", 1, 0, 0, handle_type_of);
  scm_c_define_gsubr ("handle-id", 1, 0, 0, handle_id);
  scm_c_define_gsubr ("handle-origin", 1, 0, 0, handle_origin);
  scm_c_define_gsubr ("handle-details", 1, 0, 0, handle_details);
  scm_c_define_gsubr ("handle-describe", 1, 0, 0, handle_describe_scm);
  scm_c_define_gsubr ("%handle-write", 2, 0, 0, handle_write);
  scm_c_define_gsubr ("active-handles", 0, 0, 0, active_handles);
  scm_c_define_gsubr ("active-requests", 0, 0, 0, active_requests);
  scm_c_define_gsubr ("loop-alive?", 0, 0, 0, loop_alive_p);
}
