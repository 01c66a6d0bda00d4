/* serve.c: `guile-lambda serve', the Invoke API (service/invoke.h) on
   a loop of its own until a signal: on the first SIGINT or SIGTERM it
   takes no more invocations, finishes those it accepted (queued Event
   ones too) and exits 0; a second stops it at once.

   Who owns what: the loop and the two signal watchers are this file's;
   the API owns the rest.  Everything runs on the loop's thread. */
#include "cli/cli.h"
#include "core/log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

struct serve {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  struct gl_invoke_api *api;
  int signals;                  /* received */
  int status;
};

static const char *program = "guile-lambda";

/* Anyone who can reach the port can run the functions: no signature is
   checked. */
static int
host_is_loopback (const char *host)
{
  return strncmp (host, "127.", 4) == 0 || strcmp (host, "::1") == 0
    || strcmp (host, "localhost") == 0;
}

static void
serve_on_closed (void *data)
{
  struct serve *s = data;

  uv_close ((uv_handle_t *) &s->sigint, NULL);
  uv_close ((uv_handle_t *) &s->sigterm, NULL);
}

static void
serve_on_signal (uv_signal_t *w, int signum)
{
  struct serve *s = w->data;
  const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";

  if (++s->signals == 1)
    {
      gl_log_notice ("%s: %s: no new invocations; finishing the %lu in "
                     "flight or queued, then exiting (a second signal "
                     "stops at once)\n", program, name,
                     gl_invoke_api_pending (s->api));
      gl_invoke_api_drain (s->api, serve_on_closed, s);
      return;
    }
  if (s->signals == 2)
    {
      gl_log_notice ("%s: %s again: stopping at once; %lu invocations in "
                     "flight or queued are dropped\n", program, name,
                     gl_invoke_api_pending (s->api));
      s->status = 128 + signum;
      gl_invoke_api_close (s->api, serve_on_closed, s);
    }
}

static void
signal_watch (struct serve *s, uv_signal_t *w, int signum)
{
  uv_signal_init (&s->loop, w);
  w->data = s;
  uv_signal_start (w, serve_on_signal, signum);
}

static void
functions_describe (const struct gl_invoke_function *fns, int n)
{
  int i;

  for (i = 0; i < n; i++)
    fprintf (stderr, "%s:   %s: %s (%d container%s, timeout %g s, "
             "%d MB)\n", program, fns[i].service.fn->name,
             fns[i].service.runtime_command ? fns[i].service.runtime_command
             : fns[i].service.handler, fns[i].service.concurrency,
             fns[i].service.concurrency == 1 ? "" : "s",
             fns[i].service.fn->timeout_s, fns[i].service.fn->memory_mb);
}

int
gl_serve (const char *host, int port, const struct gl_invoke_function *fns,
          int n)
{
  struct gl_invoke_config cfg;
  struct serve s;
  int bound;

  memset (&s, 0, sizeof s);
  /* A client that leaves, or a container that dies, is an error to
     handle, not the end of the server. */
  signal (SIGPIPE, SIG_IGN);
  uv_loop_init (&s.loop);
  cfg.host = host;
  cfg.port = port;
  cfg.functions = fns;
  cfg.nfunctions = n;
  s.api = gl_invoke_api_start (&s.loop, &cfg);
  if (s.api == NULL)
    return 70;
  signal_watch (&s, &s.sigint, SIGINT);
  signal_watch (&s, &s.sigterm, SIGTERM);
  if (!host_is_loopback (host))
    fprintf (stderr, "%s: warning: listening on %s, not loopback: anyone "
             "who can reach it can run these functions (no signature is "
             "checked)\n", program, host);
  bound = gl_invoke_api_port (s.api);
  fprintf (stderr, "%s: serving the Lambda Invoke API on http://%s%s%s:%d "
           "(POST /2015-03-31/functions/NAME/invocations), %d function%s:\n",
           program, strchr (host, ':') ? "[" : "", host,
           strchr (host, ':') ? "]" : "", bound, n, n == 1 ? "" : "s");
  functions_describe (fns, n);
  uv_run (&s.loop, UV_RUN_DEFAULT);
  if (s.status == 0)
    fprintf (stderr, "%s: every invocation accepted was answered; "
             "stopped\n", program);
  uv_loop_close (&s.loop);
  return s.status;
}
