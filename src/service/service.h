/* service.h: the supervisor (DESIGN.md §8).  A pool of containers, each
   a worker process in its own process group running a Runtime API
   client (`guile-lambda bootstrap', or any other command), each served
   its own Runtime API on loopback.  Events are queued and dispatched to
   free containers; the supervisor enforces the deadline and the memory
   limit from outside, freezes idle containers for real, reports a dead
   container as Lambda does, respawns, and writes START, END and REPORT
   from what it measured.  Every event submitted gets exactly one
   outcome. */
#ifndef GL_SERVICE_H
#define GL_SERVICE_H

#include <uv.h>
#include "core/context.h"
#include "core/log.h"

/* What became of one event. */
struct gl_service_outcome {
  unsigned long seq;            /* as submitted */
  const char *request_id;
  const char *status;           /* "success", "error" or "timeout" */
  const char *json;             /* the result, or the error object */
  const struct gl_report *report;
  int init;                     /* it failed in the container's init */
};

typedef void (*gl_outcome_cb) (const struct gl_service_outcome *o, void *data);

struct gl_service_config {
  const struct gl_function *fn;
  const char *handler;          /* _HANDLER for the containers */
  const char *task_root;        /* LAMBDA_TASK_ROOT */
  const char *runtime_command;  /* a shell command, or NULL: bootstrap */
  const char *program;          /* this program, to run bootstrap */
  int concurrency;              /* containers, at least 1 */
  gl_outcome_cb on_outcome;
  void *data;
};

struct gl_service;

/* Start a service on LOOP; NULL with a message on stderr if it cannot
   (no loopback port, say). */
struct gl_service *gl_service_start (uv_loop_t *loop,
                                     const struct gl_service_config *cfg);
/* Queue EVENT (JSON text, LEN bytes) as event SEQ.  It is run when a
   container is free; its outcome comes through the config's callback. */
void gl_service_submit (struct gl_service *svc, unsigned long seq,
                        const char *event, size_t len);
/* Stop every container and the servers; CB runs once all is closed
   and SVC is freed. */
void gl_service_close (struct gl_service *svc, void (*cb) (void *data),
                       void *data);

#endif
