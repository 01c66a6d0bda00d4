/* bootstrap.h: `guile-lambda bootstrap`, the engine behind the Lambda
   Runtime API 2018-06-01, as a custom runtime (DESIGN.md §8). */
#ifndef GL_BOOTSTRAP_H
#define GL_BOOTSTRAP_H

#include "core/context.h"

/* Serve invocations of HANDLER from the Runtime API at API ("host:port",
   as AWS_LAMBDA_RUNTIME_API gives it) until the API fails.  The engine
   is configured.  Returns the exit status: 1 after an init error (as
   Lambda asks of a runtime), or when the API cannot be reached. */
int gl_bootstrap_run (const char *api);

#endif
