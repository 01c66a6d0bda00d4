/* main.c: the guile-lambda command.  It only boots Guile and hands the
   command line to the extension, so that the binary and a plain `guile`
   share one copy of the C core. */
#include <stdlib.h>
#include <libguile.h>

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
  exit (scm_to_int (scm_call_1 (main_proc, scm_program_arguments ())));
}

int
main (int argc, char **argv)
{
  scm_boot_guile (argc, argv, inner_main, NULL);
  return 0;
}
