/* main.c: the guile-lambda command.  It only boots Guile and hands the
   command line to the extension, so that the binary and a plain `guile`
   share one copy of the C core. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <libguile.h>

#include "cli/usage.h"

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

/* Append DIR to the list in the variable NAME.  Through the C API, not
   scm_c_eval_string: that would load Guile's compiler at every start. */
static void
path_append (const char *name, const char *dir)
{
  SCM var = scm_c_lookup (name);

  scm_variable_set_x (var, scm_append (scm_list_2 (scm_variable_ref (var),
                                                   scm_list_1 (scm_from_utf8_string (dir)))));
}

/* An installed binary finds its modules where `make install' put them,
   after anything GUILE_LOAD_PATH names; ./pre-inst-env uses the tree. */
static void
load_path_extend (void)
{
  if (getenv ("GUILE_LAMBDA_UNINSTALLED"))
    return;
  path_append ("%load-path", GL_MODDIR);
  path_append ("%load-compiled-path", GL_GODIR);
}

/* The collector's settings that this process put in its environment,
   taken out again once Guile has started, so that the handler's child
   processes do not inherit them. */
static const char *gc_env_set[2];

/* The function's memory in MB, as the command line or Lambda's
   environment will give it; its own parser checks it later. */
static long
memory_mb_find (int argc, char **argv)
{
  const char *v = getenv ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
  long mb;
  int i;

  for (i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
    if (strcmp (argv[i], "--memory") == 0 && i + 1 < argc)
      v = argv[i + 1];
    else if (strncmp (argv[i], "--memory=", 9) == 0)
      v = argv[i] + 9;
  mb = v ? strtol (v, NULL, 10) : 0;
  return mb >= 128 && mb <= 10240 ? mb : 128;
}

/* Set NAME to VALUE for libgc, unless the environment already says. */
static void
gc_env_default (const char *name, const char *value)
{
  size_t i;

  if (getenv (name) != NULL)
    return;
  for (i = 0; i < sizeof gc_env_set / sizeof gc_env_set[0]; i++)
    if (gc_env_set[i] == NULL)
      {
        if (setenv (name, value, 1) == 0)
          gc_env_set[i] = name;
        return;
      }
}

/* libgc reads these once, as Guile starts it.  Left at its default, the
   heap starts at a few hundred kilobytes and the start-up alone
   collects again and again (over a third of a cold start's CPU time).
   The first heap is a sixteenth of the function's memory, 8 MB at 128
   MB, and no more than 16 MB: past that a cold start gains nothing, and
   a heap that garbage may fill before the first collection only makes
   the container bigger (tests/scm/memory.scm).  The free-space divisor
   stays libgc's (3): a smaller one, tried for big functions, let the
   resident size grow by a third as garbage waited for collection.
   Lambda gives a function under 1769 MB less than one vCPU: there a
   second marking thread could only contend with the first, and would
   cost its start. */
static void
gc_configure (int argc, char **argv)
{
  long mb = memory_mb_find (argc, argv);
  long heap_mb = mb / 16 < 16 ? mb / 16 : 16;
  char value[32];

  snprintf (value, sizeof value, "%ld", heap_mb * 1024 * 1024);
  gc_env_default ("GC_INITIAL_HEAP_SIZE", value);
  if (mb < 1769)
    gc_env_default ("GC_MARKERS", "1");
}

static void
gc_env_clear (void)
{
  size_t i;

  for (i = 0; i < sizeof gc_env_set / sizeof gc_env_set[0]; i++)
    if (gc_env_set[i])
      unsetenv (gc_env_set[i]);
}

static void
inner_main (void *closure, int argc, char **argv)
{
  SCM main_proc;

  gc_env_clear ();
  scm_variable_set_x (scm_c_lookup ("%load-should-auto-compile"),
                      SCM_BOOL_F);
  load_path_extend ();
  main_proc = scm_c_public_ref ("guile-lambda core", "%guile-lambda-main");
  exit (scm_to_int (scm_call_1 (main_proc, scm_program_arguments ())));
}

/* `guile-lambda --help' or `--version' alone is answered without Guile;
   anything else goes through the command line's own parser. */
static int
usage_answer (int argc, char **argv)
{
  if (argc != 2)
    return 0;
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    gl_help_print ("guile-lambda");
  else if (strcmp (argv[1], "--version") == 0 || strcmp (argv[1], "-V") == 0)
    gl_version_print ();
  else
    return 0;
  return 1;
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
  if (usage_answer (argc, argv))
    return fflush (stdout) == 0 && !ferror (stdout) ? 0 : 1;
  /* As the guile command does: text conversions follow the locale. */
  setlocale (LC_ALL, "");
  on_exit (exit_now, NULL);
  gc_configure (argc, argv);
  /* Guile would run finalizers (closing unreachable ports, clearing
     weak tables) on a thread it starts at the first collection that
     finds some, and a Guile thread needs a pipe as it starts: under
     load that thread could start only after a handler had used up its
     descriptors, and Guile aborts when the pipe fails.  The engine runs
     them on its own thread instead, between calls into Scheme
     (core/boundary.c). */
  scm_set_automatic_finalization_enabled (0);
  scm_boot_guile (argc, argv, inner_main, NULL);
  return 0;
}
