/* boundary.h: the one guarded boundary between C and Scheme (DESIGN.md
   §1).  C never looks Scheme procedures up: each Scheme module hands
   the core its hooks when it loads, with (%hook-set! NAME PROC).  Every
   call from C into Scheme goes through this file, so that nothing user
   code does (raise, exit, a non-local exit, a continuation captured
   elsewhere) can unwind across the C frames of the engine or libuv. */
#ifndef GL_BOUNDARY_H
#define GL_BOUNDARY_H

#include <libguile.h>

enum gl_hook {
  GL_HOOK_GUARDED_APPLY,        /* (guarded-apply proc args) */
  GL_HOOK_ERROR_TO_ALIST,       /* (error->alist err) */
  GL_HOOK_ERROR_PREFIX,         /* (error-message-prefix error where) */
  GL_HOOK_LOAD_HANDLER,         /* (load-handler spec) */
  GL_HOOK_CALL_HANDLER,         /* (call-handler proc args context) */
  GL_HOOK_SUSPENDED,            /* what a handler suspended in await returns */
  GL_HOOK_MAKE_CALLBACK,        /* (make-callback context) */
  GL_HOOK_MAKE_UV_ERROR,        /* (make-uv-error code syscall message) */
  GL_HOOK_RAISE,                /* (raise-exception obj) */
  GL_HOOK_EVENT_TEMPLATE,       /* (event-template kind) */
  GL_HOOK_RUN_REPL,             /* (run-repl listen-port) */
  GL_HOOK_COUNT
};

/* The hook's value; a missing hook is a bug in the module wiring, and
   says so. */
SCM gl_hook_ref (enum gl_hook hook);

/* Apply user code PROC to ARGS.  Returns (ok . VALUE),
   (error . ERROR-OBJECT), (exit . ERROR-OBJECT) or (timeout). */
SCM gl_boundary_apply (SCM proc, SCM args);

/* Call our own Scheme hook HOOK with ARGS; if it raises anyway (it runs
   user printers, or memory ran out), FALLBACK. */
SCM gl_boundary_call (enum gl_hook hook, SCM args, SCM fallback);

/* OBJ as `write' shows it; its printer may be user code. */
SCM gl_boundary_write (SCM obj);

/* An error object {errorType, errorMessage, stackTrace: []} made in C. */
SCM gl_error_object (const char *type, const char *message);

void gl_boundary_init (void);

#endif
