/* extension.c: the entry point that (guile-lambda core) loads.  Each
   component defines its own primitives; the order follows the
   dependencies, bindings before the engine before the front ends. */
#include "boundary.h"
#include "cli.h"
#include "context.h"
#include "engine.h"
#include "json.h"
#include "log.h"

void gl_extension_init (void);

void
gl_extension_init (void)
{
  static int done;

  /* A module compiled with eval-when may load the extension twice. */
  if (done)
    return;
  done = 1;
  gl_boundary_init ();
  gl_json_init ();
  gl_log_init ();
  gl_context_init ();
  gl_engine_init ();
  gl_cli_init ();
}
