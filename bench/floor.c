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

   Usage: floor HANDLER.scm [FILE]     (standard input without FILE) */
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

static void
floor_main (void *closure, int argc, char **argv)
{
  FILE *in = stdin;
  struct gl_buf out;
  char *line = NULL, err[512];
  size_t cap = 0;
  ssize_t n;
  SCM load, handler;

  if (argc < 2 || argc > 3)
    {
      fprintf (stderr, "Usage: %s HANDLER.scm [FILE]\n", argv[0]);
      exit (2);
    }
  if (argc == 3 && (in = fopen (argv[2], "r")) == NULL)
    {
      fprintf (stderr, "floor: cannot read %s: %s\n", argv[2],
               strerror (errno));
      exit (2);
    }
  /* The codec's symbols (null); the primitives it also defines are
     not used. */
  gl_json_init ();
  scm_c_use_module ("system base compile");
  load = scm_c_eval_string (handler_load_scm);
  handler = scm_call_1 (load, scm_from_locale_string (argv[1]));

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
      result = scm_call_2 (handler, event, SCM_BOOL_F);
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
