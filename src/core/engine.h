/* engine.h: one container: a Guile VM, one libuv loop, the handler's
   module, and invocations run by the completion rules of DESIGN.md §3.
   Starting an invocation, running one turn of the loop and asking
   whether it completed are separate operations, so that a REPL can
   step through them and a Runtime API client can drive them. */
#ifndef GL_ENGINE_H
#define GL_ENGINE_H

#include <libguile.h>
#include "core/context.h"
#include "core/log.h"

enum gl_container_state {
  GL_CONTAINER_COLD,            /* no handler loaded */
  GL_CONTAINER_WARM,            /* loaded, frozen between invocations */
  GL_CONTAINER_RUNNING          /* an invocation is in progress */
};

/* Once per process, after the Scheme modules are loaded. */
int gl_engine_configure (const struct gl_function *fn, const char *handler);

/* The init phase: load the handler into a fresh module.  Returns 0, or
   -1 with the error object (JSON text) in *ERROR_JSON. */
int gl_engine_load (const char **error_json);

/* Thaw and call the handler.  A cold container is initialised first;
   if that fails the invocation fails with the init error. */
struct gl_invocation *gl_engine_start (const struct gl_request *req,
                                       SCM event);
/* Run one turn of the loop.  Returns 1 once the invocation completed. */
int gl_engine_step (void);
/* Has the current invocation completed?  Applies the empty-loop and
   timeout rules without running the loop. */
int gl_engine_completed (void);
/* Freeze: stop the clock, write END and REPORT, reset the container if
   the invocation asked for it.  Fills REPORT, which may be NULL when
   nothing reads it. */
void gl_engine_finish (struct gl_report *report);
/* gl_engine_start, steps until completion, gl_engine_finish. */
struct gl_invocation *gl_engine_invoke (const struct gl_request *req,
                                        SCM event, struct gl_report *report);
/* Close every user handle and forget the handler: the next invocation
   is a cold start. */
void gl_engine_reset (void);

/* Extension set-up: the loop, the registry and the Scheme primitives. */
void gl_engine_init (void);

void gl_request_id_generate (char out[37]);

#endif
