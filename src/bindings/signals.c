/* signals.c: signal watchers (uv_signal_t): signal-watch calls its
   procedure at every delivery until closed, signal-once completes once
   and closes itself.  Each is a handle "signal" in the registry, and
   keeps the loop alive while it watches, as process.on('SIGUSR1') does
   in Node.  Signals the process itself depends on are refused. */
#include "bindings/bindings.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From libgc.  gc.h declares them only under GC_THREADS, which would
   also redirect this file's pthread calls. */
extern int GC_get_suspend_signal (void);
extern int GC_get_thr_restart_signal (void);

struct signal_name {
  const char *name;
  int signum;
};

static const struct signal_name signal_names[] = {
  { "SIGHUP", SIGHUP }, { "SIGINT", SIGINT }, { "SIGQUIT", SIGQUIT },
  { "SIGILL", SIGILL }, { "SIGTRAP", SIGTRAP }, { "SIGABRT", SIGABRT },
  { "SIGBUS", SIGBUS }, { "SIGFPE", SIGFPE }, { "SIGKILL", SIGKILL },
  { "SIGUSR1", SIGUSR1 }, { "SIGSEGV", SIGSEGV }, { "SIGUSR2", SIGUSR2 },
  { "SIGPIPE", SIGPIPE }, { "SIGALRM", SIGALRM }, { "SIGTERM", SIGTERM },
#ifdef SIGSTKFLT
  { "SIGSTKFLT", SIGSTKFLT },
#endif
  { "SIGCHLD", SIGCHLD }, { "SIGCONT", SIGCONT }, { "SIGSTOP", SIGSTOP },
  { "SIGTSTP", SIGTSTP }, { "SIGTTIN", SIGTTIN }, { "SIGTTOU", SIGTTOU },
  { "SIGURG", SIGURG }, { "SIGXCPU", SIGXCPU }, { "SIGXFSZ", SIGXFSZ },
  { "SIGVTALRM", SIGVTALRM }, { "SIGPROF", SIGPROF },
  { "SIGWINCH", SIGWINCH }, { "SIGIO", SIGIO },
#ifdef SIGPWR
  { "SIGPWR", SIGPWR },
#endif
  { "SIGSYS", SIGSYS },
};

#define N_SIGNAL_NAMES (sizeof signal_names / sizeof signal_names[0])

/* Per signal number: how many of our watchers have started, and whether
   it was ignored before the first did.  libuv leaves a signal at SIG_DFL
   when its last watcher stops; an ignored signal (SIGPIPE, typically)
   must go back to being ignored, or it would kill the process. */
static unsigned int watchers[NSIG];
static unsigned char was_ignored[NSIG];

int
gl_signal_name (int signum, char *out, size_t size)
{
  size_t i;

  for (i = 0; i < N_SIGNAL_NAMES; i++)
    if (signal_names[i].signum == signum)
      return snprintf (out, size, "%s", signal_names[i].name);
  if (signum >= SIGRTMIN && signum <= SIGRTMAX)
    return snprintf (out, size, "SIGRTMIN+%d", signum - SIGRTMIN);
  return -1;
}

int
gl_signal_number (const char *name)
{
  size_t i;
  char *end;
  long n;

  for (i = 0; i < N_SIGNAL_NAMES; i++)
    if (strcmp (signal_names[i].name, name) == 0)
      return signal_names[i].signum;
  if (strncmp (name, "SIGRTMIN+", 9) == 0 && name[9] >= '0' && name[9] <= '9')
    {
      n = strtol (name + 9, &end, 10);
      if (*end == '\0' && n <= SIGRTMAX - SIGRTMIN)
        return SIGRTMIN + (int) n;
    }
  return 0;
}

/* Why SIGNUM may not be watched, or NULL if it may. */
static const char *
signal_refusal (int signum)
{
  if (signum == SIGKILL || signum == SIGSTOP)
    return "it cannot be caught";
  if (signum == SIGURG)
    return "guile-lambda uses it to interrupt a handler at its timeout";
  if (signum == GC_get_suspend_signal ()
      || signum == GC_get_thr_restart_signal ())
    return "Guile's garbage collector uses it to stop and restart threads";
  /* A real fault returns to the faulting instruction once the handler
     has run, so a watcher would hang the container instead of letting
     it crash. */
  if (signum == SIGSEGV || signum == SIGBUS || signum == SIGFPE
      || signum == SIGILL)
    return "it reports a fault, after which the process cannot go on";
  if (signum > 31 && signum < SIGRTMIN)
    return "the C library reserves it";
  return NULL;
}

/* SIG (a symbol or string such as SIGUSR1, or a number) as a signal
   number that may be watched; NAME gets its name. */
static int
signal_from_scm (SCM sig, char *name, size_t size, const char *subr)
{
  const char *why;
  char *s;
  int signum;

  if (scm_is_integer (sig))
    {
      signum = scm_is_signed_integer (sig, 1, NSIG - 1) ? scm_to_int (sig) : 0;
      if (signum == 0 || gl_signal_name (signum, name, size) < 0)
        scm_misc_error (subr, "~s is not a signal number", scm_list_1 (sig));
    }
  else
    {
      SCM_ASSERT_TYPE (scm_is_symbol (sig) || scm_is_string (sig), sig, 1,
                       subr, "signal name (such as SIGUSR1) or number");
      s = scm_to_utf8_string (scm_is_symbol (sig) ? scm_symbol_to_string (sig)
                                                  : sig);
      signum = gl_signal_number (s);
      free (s);
      if (signum == 0)
        scm_misc_error (subr, "unknown signal name ~s: expected a name such "
                        "as SIGUSR1, SIGUSR2, SIGHUP or SIGTERM, or a "
                        "signal number", scm_list_1 (sig));
      gl_signal_name (signum, name, size);
    }
  why = signal_refusal (signum);
  if (why)
    scm_misc_error (subr, "~a cannot be watched: ~a",
                    scm_list_2 (scm_from_utf8_string (name),
                                scm_from_utf8_string (why)));
  return signum;
}

/* A watcher's own state, in h->data; its signal's name is h->text.
   libuv forgets the number when the watcher stops, and the release
   needs it after that. */
struct signal_state {
  int signum;
  int once;                     /* signal-once: complete, then close */
  int started;                  /* counted in watchers[] */
};

static struct signal_state *
signal_state (const struct gl_handle *h)
{
  return h->data;
}

static void
signal_describe (const struct gl_handle *h, struct gl_buf *out)
{
  gl_buf_printf (out, " (%s%s)", h->text,
                 signal_state (h)->once ? ", once" : "");
}

static SCM
signal_details (const struct gl_handle *h)
{
  const struct signal_state *st = signal_state (h);

  return scm_list_3
    (scm_cons (scm_from_utf8_symbol ("signal"),
               scm_from_utf8_symbol (h->text)),
     scm_cons (scm_from_utf8_symbol ("number"), scm_from_int (st->signum)),
     scm_cons (scm_from_utf8_symbol ("once"), scm_from_bool (st->once)));
}

/* In the close callback: libuv has stopped watching by now. */
static void
signal_release (struct gl_handle *h)
{
  struct signal_state *st = signal_state (h);
  struct sigaction sa;
  int signum = st->signum;

  if (st->started && --watchers[signum] == 0 && was_ignored[signum])
    {
      memset (&sa, 0, sizeof sa);
      sa.sa_handler = SIG_IGN;
      sigemptyset (&sa.sa_mask);
      sigaction (signum, &sa, NULL);
    }
  free (st);
}

static const struct gl_handle_class signal_class = {
  "signal", GL_KIND_HANDLE, signal_describe, signal_details, signal_release
};

static void
signal_on_signal (uv_signal_t *s, int signum)
{
  struct gl_handle *h = s->data;
  SCM proc = h->callback;
  SCM name = scm_from_utf8_symbol (h->text);

  if (signal_state (h)->once)
    {
      /* Closed first, so that the callback sees it gone, as a timer. */
      gl_handle_close (h);
      gl_callback_run (h, proc, scm_list_2 (SCM_BOOL_F, name));
    }
  else
    gl_callback_run (h, proc, scm_list_1 (name));
  scm_remember_upto_here_1 (proc);
}

/* Not uv_signal_start_oneshot for ONCE: it resets the signal to its
   default action at the first delivery, and a second one arriving
   before the loop has run the callback would then kill the process. */
static SCM
signal_start (SCM origin, SCM sig, SCM proc, int once, const char *subr)
{
  struct signal_state *st;
  struct gl_handle *h;
  struct sigaction old;
  char name[32];
  int signum, r;

  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (proc)), proc, 2, subr,
                   once ? "completion procedure" : "procedure");
  signum = signal_from_scm (sig, name, sizeof name, subr);
  st = calloc (1, sizeof *st);
  if (st == NULL)
    scm_report_out_of_memory ();
  st->signum = signum;
  st->once = once;
  h = gl_handle_new (&signal_class, origin, proc);
  h->text = strdup (name);
  h->data = st;
  r = uv_signal_init (gl_handles_loop (), &h->u.signal);
  if (r < 0)
    {
      /* Never initialised, so never to be uv_close'd: free it now. */
      gl_request_abandon (h);
      gl_uv_raise (r, "uv_signal_init", name);
    }
  h->u.signal.data = h;
  sigaction (signum, NULL, &old);
  r = uv_signal_start (&h->u.signal, signal_on_signal, signum);
  if (r < 0)
    {
      gl_handle_close (h);
      gl_uv_raise (r, "uv_signal_start", name);
    }
  st->started = 1;
  if (watchers[signum]++ == 0)
    was_ignored[signum] = old.sa_handler == SIG_IGN;
  return h->object;
}

static SCM
signal_watch (SCM origin, SCM sig, SCM proc)
{
  return signal_start (origin, sig, proc, 0, "signal-watch");
}

static SCM
signal_once (SCM origin, SCM sig, SCM proc)
{
  return signal_start (origin, sig, proc, 1, "signal-once");
}

void
gl_signals_init (void)
{
  scm_c_define_gsubr ("%signal-watch", 3, 0, 0, signal_watch);
  scm_c_define_gsubr ("%signal-once", 3, 0, 0, signal_once);
}
