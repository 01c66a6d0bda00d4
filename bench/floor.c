/* floor.c: the floor of the throughput bench (bench/throughput.sh).

   The least a program can do to run a Guile handler over an NDJSON
   stream: boot Guile, compile the handler file form by form as the
   engine does (so the handler runs as bytecode, never in the
   evaluator), then for each line decode the event with our codec, call
   (handler event #f), encode the result and write it with a newline.
   No loop, context, watchdog, logs or error handling: whatever
   `guile-lambda batch' spends beyond this is the engine's overhead.

   Each result is written as soon as it is made, one write(2) per line,
   because batch must stream its records too.

   With --guarded, each call goes through the guards DESIGN.md requires
   of every call into a handler, and nothing else the engine does: a
   continuation barrier and a catch of everything in C, as
   src/core/boundary.c does, around guarded-apply (every error caught,
   a bounded stack) and call-handler (await's prompt).  What batch
   spends beyond the guarded floor is the rest of the engine.

   Usage: floor [--guarded] HANDLER.scm [FILE]   (standard input without FILE) */
#include "core/buf.h"
#include "core/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libguile.h>

/* Compile each top-level form of FILE into a fresh module and return
   its `handler'. */
static const char handler_load_scm[] =
  "(lambda (file)\n"
  "  (let ((module (make-fresh-user-module)))\n"
  "    (call-with-input-file file\n"
  "      (lambda (port)\n"
  "        (let loop ((form (read port)))\n"
  "          (unless (eof-object? form)\n"
  "            (compile form #:env module #:from 'scheme #:to 'value)\n"
  "            (loop (read port))))))\n"
  "    (module-ref module 'handler)))";

static void
floor_write (const char *s, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (STDOUT_FILENO, s, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        {
          perror ("floor: write");
          exit (1);
        }
      s += w;
      n -= (size_t) w;
    }
}

/* The engine's guards, as boundary.c and engine.c stack them for a
   return-style handler. */
struct guarded {
  SCM guarded_apply;            /* (guile-lambda runtime) */
  SCM call_handler;             /* (guile-lambda await) */
  SCM handler;
  SCM ok;                       /* the symbol, looked up once */
  SCM event;
  SCM result;
  int failed;
};

static SCM
guarded_body (void *data)
{
  struct guarded *g = data;
  SCM args = scm_list_3 (g->handler, scm_list_2 (g->event, SCM_BOOL_F),
                         SCM_BOOL_F);

  return scm_call_2 (g->guarded_apply, g->call_handler, args);
}

static SCM
guarded_caught (void *data, SCM key, SCM args)
{
  ((struct guarded *) data)->failed = 1;
  return SCM_BOOL_F;
}

static void *
guarded_in_barrier (void *data)
{
  struct guarded *g = data;

  g->result = scm_internal_catch (SCM_BOOL_T, guarded_body, g,
                                  guarded_caught, g);
  return g;
}

/* The handler's value for EVENT, called through the guards. */
static SCM
guarded_call (struct guarded *g, SCM event)
{
  g->event = event;
  g->failed = 0;
  if (scm_c_with_continuation_barrier (guarded_in_barrier, g) == NULL
      || g->failed || !scm_is_pair (g->result)
      || !scm_is_eq (scm_car (g->result), g->ok))
    {
      fprintf (stderr, "floor: the handler failed\n");
      exit (1);
    }
  return scm_cdr (g->result);
}

static void
floor_main (void *closure, int argc, char **argv)
{
  FILE *in = stdin;
  struct gl_buf out;
  struct guarded g = { SCM_BOOL_F };
  char *line = NULL, err[512];
  size_t cap = 0;
  ssize_t n;
  SCM load, handler;
  int guarded = argc > 1 && strcmp (argv[1], "--guarded") == 0;

  argc -= guarded;
  argv += guarded;
  if (argc < 2 || argc > 3)
    {
      fprintf (stderr, "Usage: floor [--guarded] HANDLER.scm [FILE]\n");
      exit (2);
    }
  if (argc == 3 && (in = fopen (argv[2], "r")) == NULL)
    {
      fprintf (stderr, "floor: cannot read %s: %s\n", argv[2],
               strerror (errno));
      exit (2);
    }
  if (guarded)
    {
      g.guarded_apply = scm_c_public_ref ("guile-lambda runtime",
                                          "guarded-apply");
      g.call_handler = scm_c_public_ref ("guile-lambda await",
                                         "call-handler");
      g.ok = scm_from_utf8_symbol ("ok");
    }
  /* The codec's symbols (null); the primitives it also defines are
     not used. */
  gl_json_init ();
  scm_c_use_module ("system base compile");
  load = scm_c_eval_string (handler_load_scm);
  handler = scm_call_1 (load, scm_from_locale_string (argv[1]));
  g.handler = handler;

  gl_buf_init (&out);
  while ((n = getline (&line, &cap, in)) >= 0)
    {
      SCM event, result;

      if (strspn (line, " \t\r\n") == (size_t) n)
        continue;
      event = gl_json_decode (line, (size_t) n, err, sizeof err);
      if (SCM_UNBNDP (event))
        {
          fprintf (stderr, "floor: bad event: %s\n", err);
          exit (1);
        }
      result = guarded ? guarded_call (&g, event)
                       : scm_call_2 (handler, event, SCM_BOOL_F);
      gl_buf_reset (&out);
      if (gl_json_encode (result, &out, err, sizeof err) != 0)
        {
          fprintf (stderr, "floor: cannot encode the result: %s\n", err);
          exit (1);
        }
      gl_buf_putc (&out, '\n');
      floor_write (out.data, out.len);
    }
  free (line);
  gl_buf_free (&out);
  exit (0);
}

int
main (int argc, char **argv)
{
  scm_boot_guile (argc, argv, floor_main, NULL);
  return 0;
}
