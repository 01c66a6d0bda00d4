/* extension.c: the entry point that (guile-lambda core) loads, and the
   one place that knows every component.  Each defines its own
   primitives; the order follows the dependencies: the core (the engine
   sets up the loop and the registry), then the I/O bindings, which
   register their handles with the core, then the front ends. */
#include "bindings/bindings.h"
#include "core/boundary.h"
#include "cli/cli.h"
#include "core/context.h"
#include "core/engine.h"
#include "core/json.h"
#include "core/log.h"

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
  gl_fs_init ();
  gl_tcp_init ();
  gl_udp_init ();
  gl_process_init ();
  gl_dns_init ();
  gl_signals_init ();
  gl_cli_init ();
}
