/* invoke.h: the Lambda Invoke API (DESIGN.md §8), what `guile-lambda
   serve' runs: AWS's HTTP API for invoking functions, as SDKs, the AWS
   CLI and the Runtime Interface Emulator's clients speak it, served on
   one loop in front of a supervisor (service.h) per function.

   POST /2015-03-31/functions/NAME/invocations runs an event
   (X-Amz-Invocation-Type RequestResponse, Event or DryRun), GET
   /2015-03-31/functions/NAME describes a function; errors carry
   Lambda's status codes, X-Amzn-ErrorType and bodies.  Signatures are
   not checked. */
#ifndef GL_INVOKE_H
#define GL_INVOKE_H

#include <uv.h>
#include "service/service.h"

/* One function: the settings of its pool (on_outcome and data are the
   API's own) and how many of its events may wait for a container
   before an invocation is refused with 429. */
struct gl_invoke_function {
  struct gl_service_config service;
  int queue_max;
};

struct gl_invoke_config {
  const char *host;             /* numeric address, or "localhost" */
  int port;                     /* 0: the kernel chooses */
  const struct gl_invoke_function *functions;
  int nfunctions;               /* at least 1; the first answers to the
                                   RIE's name `function' too */
};

struct gl_invoke_api;

/* Start the pools and listen; NULL with a message on stderr if the
   address cannot be had. */
struct gl_invoke_api *gl_invoke_api_start (uv_loop_t *loop,
                                           const struct gl_invoke_config *cfg);
/* The port it listens on. */
int gl_invoke_api_port (const struct gl_invoke_api *api);
/* Invocations accepted whose outcome is not in yet, queued or running. */
unsigned long gl_invoke_api_pending (const struct gl_invoke_api *api);
/* Graceful: accept nothing more, finish every invocation accepted
   (Event ones too), answer them, then close everything; CB runs once
   all is closed and API is freed. */
void gl_invoke_api_drain (struct gl_invoke_api *api, void (*cb) (void *),
                          void *data);
/* At once: waiting clients are disconnected, containers killed, queued
   events dropped.  CB as for gl_invoke_api_drain.  May follow a drain
   that has not finished. */
void gl_invoke_api_close (struct gl_invoke_api *api, void (*cb) (void *),
                          void *data);

#endif
