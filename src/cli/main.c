/* main.c: the guile-lambda command.  It only boots Guile and hands the
   command line to the extension, so that the binary and a plain `guile`
   share one copy of the C core. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <libguile.h>

/* Registered first, so it runs last among the exit handlers, with the
   status exit() was given, whoever called it: it ends the process before
   library destructors run, one of which (libuv's) joins thread-pool
   threads that may be blocked for ever in a request a reset abandoned,
   such as opening a FIFO nobody writes to. */
static void
exit_now (int status, void *unused)
{
  fflush (NULL);
  _exit (status);
}

/* VAR, a list, gets DIR at its end. */
static void
path_append (const char *var, const char *dir)
{
  SCM v = scm_c_lookup (var);

  scm_variable_set_x (v, scm_append (scm_list_2 (scm_variable_ref (v),
                                                 scm_list_1 (scm_from_utf8_string (dir)))));
}

/* An installed binary finds its modules where `make install` put them,
   after anything GUILE_LOAD_PATH names; ./pre-inst-env uses the tree.
   (Set from C: scm_c_eval_string would load the evaluator's language
   modules, which a cold start does not need.) */
static void
load_path_extend (void)
{
  if (getenv ("GUILE_LAMBDA_UNINSTALLED"))
    return;
  path_append ("%load-path", GL_MODDIR);
  path_append ("%load-compiled-path", GL_GODIR);
}

static void
inner_main (void *closure, int argc, char **argv)
{
  SCM main_proc;

  scm_variable_set_x (scm_c_lookup ("%load-should-auto-compile"), SCM_BOOL_F);
  load_path_extend ();
  main_proc = scm_c_public_ref ("guile-lambda core", "%guile-lambda-main");
  exit (scm_to_int (scm_call_1 (main_proc, scm_program_arguments ())));
}

/* A closed standard descriptor would be taken by the first file the
   program opens.  Standard input and error get /dev/null; standard
   output gets a pipe nobody reads, so that writing a result fails and
   is reported, never lost in silence. */
static void
std_fds_hold (void)
{
  int fd, pipe_fds[2];

  for (fd = 0; fd <= 2; fd++)
    {
      if (fcntl (fd, F_GETFD) >= 0 || errno != EBADF)
        continue;
      if (fd != STDOUT_FILENO)
        open ("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
      else if (pipe (pipe_fds) == 0)
        {
          /* The read end may be 1 itself: dup2 then closes it. */
          if (pipe_fds[0] != STDOUT_FILENO)
            close (pipe_fds[0]);
          dup2 (pipe_fds[1], STDOUT_FILENO);
          close (pipe_fds[1]);
        }
    }
}

int
main (int argc, char **argv)
{
  std_fds_hold ();
  /* As the guile command does: text conversions follow the locale. */
  setlocale (LC_ALL, "");
  on_exit (exit_now, NULL);
  scm_boot_guile (argc, argv, inner_main, NULL);
  return 0;
}
