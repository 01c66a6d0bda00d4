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
  /* The last GL_SERVICE_TAIL_MAX bytes of its log (START to REPORT),
     if it was submitted with `tail'; else NULL and 0. */
  const char *log_tail;
  size_t log_tail_len;
};

/* As Lambda's X-Amz-Log-Result: the last 4 KB. */
#define GL_SERVICE_TAIL_MAX 4096

typedef void (*gl_outcome_cb) (const struct gl_service_outcome *o, void *data);

struct gl_service_config {
  const struct gl_function *fn;
  const char *handler;          /* _HANDLER for the containers */
  const char *task_root;        /* LAMBDA_TASK_ROOT */
  const char *runtime_command;  /* a shell command, or NULL: bootstrap */
  const char *program;          /* this program, to run bootstrap */
  int concurrency;              /* containers, at least 1 */
  /* KEY=VALUE entries for the containers' environment, over this
     process's own; NULL-terminated, or NULL. */
  char *const *env;
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

/* What else may come with an event, as Lambda's Invoke API has it. */
struct gl_service_extra {
  /* Its request id (36 characters), or NULL: one is made. */
  const char *request_id;
  /* JSON for the runtime's Lambda-Runtime-Client-Context, or NULL. */
  const char *client_context;
  /* Keep the tail of its log for the outcome. */
  int tail;
};
void gl_service_submit_extra (struct gl_service *svc, unsigned long seq,
                              const char *event, size_t len,
                              const struct gl_service_extra *extra);
/* Stop every container and the servers; CB runs once all is closed
   and SVC is freed. */
void gl_service_close (struct gl_service *svc, void (*cb) (void *data),
                       void *data);

#endif
