/* main.c: the guile-lambda command.  It only boots Guile and hands the
   command line to the extension, so that the binary and a plain `guile`
   share one copy of the C core. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <libguile.h>

static int exit_status;

/* Registered first, so it runs last among the exit handlers: it ends the
   process before library destructors run, one of which (libuv's) joins
   thread-pool threads that may be blocked for ever in a request a reset
   abandoned, such as opening a FIFO nobody writes to. */
static void
exit_now (void)
{
  fflush (NULL);
  _exit (exit_status);
}

/* An installed binary finds its modules where `make install` put them,
   after anything GUILE_LOAD_PATH names; ./pre-inst-env uses the tree. */
static void
load_path_extend (void)
{
  if (getenv ("GUILE_LAMBDA_UNINSTALLED"))
    return;
  scm_c_eval_string ("(set! %load-path (append %load-path (list \""
                     GL_MODDIR "\")))");
  scm_c_eval_string ("(set! %load-compiled-path (append %load-compiled-path"
                     " (list \"" GL_GODIR "\")))");
}

static void
inner_main (void *closure, int argc, char **argv)
{
  SCM main_proc;

  scm_c_eval_string ("(set! %load-should-auto-compile #f)");
  load_path_extend ();
  main_proc = scm_c_public_ref ("guile-lambda core", "%guile-lambda-main");
  exit_status = scm_to_int (scm_call_1 (main_proc, scm_program_arguments ()));
  exit (exit_status);
}

int
main (int argc, char **argv)
{
  /* As the guile command does: text conversions follow the locale. */
  setlocale (LC_ALL, "");
  atexit (exit_now);
  scm_boot_guile (argc, argv, inner_main, NULL);
  return 0;
}
