/* boundary.c: the hooks Scheme hands the core, and the one way C calls
   them.  Each call runs under a continuation barrier (no continuation
   captured outside may be reinstated inside, and none captured inside
   escapes) and a catch of every exception, so that a call from C comes
   back to C exactly once, whatever the Scheme side did. */
#include "core/boundary.h"

#include <stdlib.h>
#include <string.h>
#include <gc/gc.h>

static const char *hook_names[GL_HOOK_COUNT] = {
  "guarded-apply", "error->alist", "error-message-prefix", "load-handler",
  "call-handler", "suspended", "make-callback", "make-uv-error", "raise",
  "event-template", "run-repl"
};

static SCM hooks;               /* a protected vector, by enum gl_hook */

SCM
gl_hook_ref (enum gl_hook hook)
{
  SCM proc = SCM_SIMPLE_VECTOR_REF (hooks, hook);

  if (scm_is_false (proc))
    scm_misc_error ("gl_hook_ref", "the hook ~a was never set: the module "
                    "that defines it was not loaded",
                    scm_list_1 (scm_from_utf8_string (hook_names[hook])));
  return proc;
}

/* (%hook-set! NAME PROC): called by each module as it loads. */
static SCM
hook_set_x (SCM name, SCM proc)
{
  char *s;
  int i;

  SCM_ASSERT_TYPE (scm_is_symbol (name), name, 1, "%hook-set!", "symbol");
  s = scm_to_utf8_string (scm_symbol_to_string (name));
  for (i = 0; i < GL_HOOK_COUNT; i++)
    if (strcmp (s, hook_names[i]) == 0)
      break;
  free (s);
  if (i == GL_HOOK_COUNT)
    scm_misc_error ("%hook-set!", "no hook is called ~a", scm_list_1 (name));
  SCM_SIMPLE_VECTOR_SET (hooks, i, proc);
  return SCM_UNSPECIFIED;
}

struct call {
  SCM (*body) (void *data);
  SCM proc;
  SCM args;
  SCM result;
  SCM key;                      /* what escaped, if anything did */
  int failed;
};

static SCM
apply_body (void *data)
{
  struct call *c = data;

  return scm_apply_0 (c->proc, c->args);
}

static SCM
write_body (void *data)
{
  struct call *c = data;

  return scm_object_to_string (c->proc, SCM_UNDEFINED);
}

static SCM
call_caught (void *data, SCM key, SCM args)
{
  struct call *c = data;

  c->failed = 1;
  c->key = key;
  return SCM_BOOL_F;
}

static void *
call_in_barrier (void *data)
{
  struct call *c = data;

  c->result = scm_internal_catch (SCM_BOOL_T, c->body, c, call_caught, c);
  return c;
}

static SCM
finalize_body (void *data)
{
  scm_run_finalizers ();
  return SCM_BOOL_T;
}

/* The guile-lambda command turns Guile's finalizer thread off
   (cli/main.c): what the collector found to finalize runs here, on the
   thread that calls into Scheme, after each call.  A finalizer may run
   Scheme (a custom port's close), so it is guarded as a call is; what
   it raises is dropped, for it belongs to no invocation. */
static void
finalizers_run (void)
{
  struct call c = { finalize_body, SCM_BOOL_F, SCM_EOL, SCM_BOOL_F,
                    SCM_BOOL_F, 0 };

  if (GC_should_invoke_finalizers ())
    scm_c_with_continuation_barrier (call_in_barrier, &c);
}

/* BODY's value, or SCM_UNDEFINED if it did not return one; then *KEY
   is the key of what escaped, or #f. */
static SCM
call_run (SCM (*body) (void *), SCM proc, SCM args, SCM *key)
{
  struct call c = { body, proc, args, SCM_BOOL_F, SCM_BOOL_F, 0 };
  void *returned = scm_c_with_continuation_barrier (call_in_barrier, &c);

  finalizers_run ();
  /* The barrier returns NULL when something escaped it anyway. */
  if (returned == NULL || c.failed)
    {
      if (key)
        *key = c.key;
      return SCM_UNDEFINED;
    }
  return c.result;
}

SCM
gl_boundary_call (enum gl_hook hook, SCM args, SCM fallback)
{
  SCM r = call_run (apply_body, gl_hook_ref (hook), args, NULL);

  return SCM_UNBNDP (r) ? fallback : r;
}

SCM
gl_boundary_write (SCM obj)
{
  SCM r = call_run (write_body, obj, SCM_EOL, NULL);

  return SCM_UNBNDP (r) ? scm_from_utf8_string ("#<an object whose printer "
                                                "failed>") : r;
}

SCM
gl_error_object (const char *type, const char *message)
{
  SCM key = scm_from_utf8_string ("errorType");
  SCM msg = scm_from_utf8_string ("errorMessage");
  SCM trace = scm_from_utf8_string ("stackTrace");

  return scm_list_3 (scm_cons (key, scm_from_utf8_string (type)),
                     scm_cons (msg, scm_from_utf8_string (message)),
                     scm_cons (trace, scm_c_make_vector (0, SCM_BOOL_F)));
}

SCM
gl_boundary_apply (SCM proc, SCM args)
{
  SCM key = SCM_BOOL_F;
  SCM r = call_run (apply_body, gl_hook_ref (GL_HOOK_GUARDED_APPLY),
                    scm_list_2 (proc, args), &key);

  if (!SCM_UNBNDP (r))
    return r;
  /* Guile unwinds past every handler when memory runs out; on Lambda
     the container would be gone. */
  if (scm_is_eq (key, scm_from_utf8_symbol ("out-of-memory")))
    return scm_cons (scm_from_utf8_symbol ("exit"),
                     gl_error_object ("Runtime.OutOfMemory", "Runtime ran "
                                      "out of memory; the container is "
                                      "reset"));
  /* guarded-apply catches what user code raises; this is what escaped
     it anyway. */
  return scm_cons (scm_from_utf8_symbol ("error"),
                   gl_error_object ("Runtime.Unknown", "the handler failed, "
                                    "and the failure could not be "
                                    "described"));
}

void
gl_boundary_init (void)
{
  hooks = scm_gc_protect_object (scm_c_make_vector (GL_HOOK_COUNT,
                                                     SCM_BOOL_F));
  scm_c_define_gsubr ("%hook-set!", 2, 0, 0, hook_set_x);
}
