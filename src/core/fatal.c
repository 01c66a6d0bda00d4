/* fatal.c: the container's last words.

   Who owns what: the loop thread publishes the event in flight
   (gl_inflight_publish) and, when it completes, claims its report
   (gl_inflight_claim) before writing END, REPORT and the record, and
   clears it afterwards.  A death can start on any thread: exit() called
   by handler code or a thread it made (the on_exit hook), a fatal
   signal (its handler; the loop thread's runs on a stack of its own),
   or the watchdog's hard stop.  One atomic, `state', says who has the
   event: the loop thread (RUNNING, REPORTING) or a death (DYING).  Each
   side moves it by compare and swap, so an event is reported exactly
   once, and the first death owns the rest of the process: any other
   thread that gets there later waits to be ended with it.  Nothing here
   touches Scheme: the loop thread may be stuck anywhere in it. */
#define _GNU_SOURCE
#include "core/fatal.h"
#include "core/context.h"
#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { INFLIGHT_NONE, INFLIGHT_RUNNING, INFLIGHT_REPORTING, INFLIGHT_DYING };

static struct {
  gl_fatal_fn fn;
  void *data;
  atomic_int state;
  atomic_int init;
  atomic_int started;           /* its START line is out */
  char request_id[64];
  uint64_t start_ns;
  int memory_mb;
  int platform_lines;
  pthread_t loop_thread;
} fatal;

/* Lambda's words for a runtime that died (as Go's os.ProcessState
   prints them, which is what the Runtime Interface Emulator reports). */
static const struct {
  int signum;
  const char *name;
} signal_names[] = {
  { SIGSEGV, "segmentation fault" }, { SIGBUS, "bus error" },
  { SIGILL, "illegal instruction" }, { SIGFPE, "floating point exception" },
  { SIGABRT, "aborted" }, { SIGTERM, "terminated" }, { SIGINT, "interrupt" },
  { SIGHUP, "hangup" }, { SIGQUIT, "quit" }, { SIGKILL, "killed" }
};

static void
park (void)
{
  for (;;)
    pause ();
}

/* Move the state from what it is to TO, unless a death has it. */
static void
state_move (int to)
{
  int s = atomic_load (&fatal.state);

  do
    if (s == INFLIGHT_DYING)
      park ();
  while (!atomic_compare_exchange_weak (&fatal.state, &s, to));
}

void
gl_inflight_publish (const char *request_id, int memory_mb,
                     int platform_lines)
{
  snprintf (fatal.request_id, sizeof fatal.request_id, "%s", request_id);
  fatal.start_ns = gl_now_ns ();
  fatal.memory_mb = memory_mb;
  fatal.platform_lines = platform_lines;
  atomic_store (&fatal.init, 1);
  atomic_store (&fatal.started, 0);
  state_move (INFLIGHT_RUNNING);
}

void
gl_inflight_init_done (void)
{
  atomic_store (&fatal.init, 0);
}

void
gl_inflight_started (void)
{
  atomic_store (&fatal.started, 1);
}

void
gl_inflight_claim (void)
{
  state_move (INFLIGHT_REPORTING);
}

void
gl_inflight_clear (void)
{
  int expected = INFLIGHT_REPORTING;

  atomic_compare_exchange_strong (&fatal.state, &expected, INFLIGHT_NONE);
}

/* Descendants. */

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

#define PROCS_MAX 4096

/* The live processes: pids and parents, at most PROCS_MAX. */
static size_t
procs_scan (pid_t *pids, pid_t *parents)
{
  char buf[8192];
  size_t n = 0;
  long got, off;
  int fd = open ("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return 0;
  while ((got = syscall (SYS_getdents64, fd, buf, sizeof buf)) > 0)
    for (off = 0; off < got;)
      {
        struct linux_dirent64 *d = (struct linux_dirent64 *) (buf + off);
        struct gl_proc_stat st;

        off += d->d_reclen;
        if (d->d_name[0] < '1' || d->d_name[0] > '9' || n == PROCS_MAX)
          continue;
        if (gl_proc_stat (d->d_name, &st) != 0
            || st.state == 'Z' || st.state == 'X')
          continue;
        pids[n] = (pid_t) strtol (d->d_name, NULL, 10);
        parents[n++] = st.parent;
      }
  close (fd);
  return n;
}

static int
pid_in (pid_t pid, const pid_t *set, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (set[i] == pid)
      return 1;
  return 0;
}

/* Kill the descendants seen in one scan; how many there were. */
static size_t
descendants_kill_once (void)
{
  static pid_t pids[PROCS_MAX], parents[PROCS_MAX], tree[PROCS_MAX + 1];
  static atomic_flag busy = ATOMIC_FLAG_INIT;
  size_t n, i, count = 1, killed = 0;
  pid_t self = getpid ();
  int grew = 1;

  /* The arrays are too big for a signal stack; one caller at a time. */
  while (atomic_flag_test_and_set (&busy))
    sched_yield ();
  n = procs_scan (pids, parents);
  tree[0] = self;
  while (grew)
    for (grew = 0, i = 0; i < n; i++)
      if (!pid_in (pids[i], tree, count) && pid_in (parents[i], tree, count))
        tree[count++] = pids[i], grew = 1;
  for (i = 1; i < count; i++)
    if (kill (tree[i], SIGKILL) == 0)
      killed++;
  /* Those that were ours to wait for are reaped, so that the next scan
     does not find them again. */
  for (i = 1; i < count; i++)
    while (waitpid (tree[i], NULL, __WALL) < 0 && errno == EINTR)
      ;
  atomic_flag_clear (&busy);
  return killed;
}

/* Whether this process surely has no descendant: it is a subreaper, so
   an orphan of its tree would be its own child, and it has no child.
   Cheaper by far than the scan of /proc (hundreds of system calls),
   which every exit and every reset would otherwise pay. */
static int
descendants_none (void)
{
  int subreaper = 0;
  siginfo_t info;

  if (prctl (PR_GET_CHILD_SUBREAPER, &subreaper) != 0 || !subreaper)
    return 0;
  memset (&info, 0, sizeof info);
  return waitid (P_ALL, 0, &info, WEXITED | WSTOPPED | WCONTINUED | WNOHANG
                 | WNOWAIT | __WALL) != 0 && errno == ECHILD;
}

void
gl_descendants_kill (void)
{
  int round;

  /* Killing a parent hands its children to us (we are their reaper):
     scan again until nothing is left, a few times at most. */
  for (round = 0; round < 8; round++)
    if (descendants_none () || descendants_kill_once () == 0)
      break;
}

/* Death. */

static void
report_fill (struct gl_report *r)
{
  r->request_id = fatal.request_id;
  r->duration_ms = (double) (gl_now_ns () - fatal.start_ns) / 1e6;
  r->billed_ms = gl_report_billed_ms (r->duration_ms);
  r->memory_mb = fatal.memory_mb;
  r->max_memory_mb = gl_memory_used_mb ();
  r->init_ms = -1;
}

/* A death takes the process: 1 if it takes the event's report from the
   loop thread too.  While the loop thread writes a record, a death on
   another thread lets it finish (for a second at most). */
static int
death_begin (void)
{
  struct timespec pause_ts = { 0, 10000000 };
  int s, waited = 0;

  for (;;)
    {
      s = atomic_load (&fatal.state);
      if (s == INFLIGHT_DYING)
        park ();
      if (s == INFLIGHT_REPORTING && waited++ < 100
          && !pthread_equal (pthread_self (), fatal.loop_thread))
        {
          nanosleep (&pause_ts, NULL);
          continue;
        }
      if (atomic_compare_exchange_strong (&fatal.state, &s, INFLIGHT_DYING))
        return s == INFLIGHT_RUNNING;
    }
}

/* The process is dying for WHY: report the event in flight, if this
   death takes its report, as failed with TYPE and MESSAGE; return the
   exit status the front end chose. */
static int
fatal_report (int taken, const char *type, const char *message,
              int timeout, const char *why, int exit_status)
{
  struct gl_fatal f;
  char error[1024];
  int status = 1;

  memset (&f, 0, sizeof f);
  f.why = why;
  f.exit_status = exit_status;
  gl_log_hold_stop ();
  if (taken)
    {
      /* A timeout's message is Lambda's own; an exit names the
         request, as Lambda's platform does. */
      snprintf (error, sizeof error, "{\"errorType\":\"%s\",\"errorMessage\":"
                "\"%s%s%s%s\",\"stackTrace\":[]}", type,
                timeout ? "" : "RequestId: ", timeout ? "" : fatal.request_id,
                timeout ? "" : " Error: ", message);
      f.request_id = fatal.request_id;
      f.init = atomic_load (&fatal.init);
      f.timeout = timeout;
      f.error_json = error;
      report_fill (&f.report);
      f.report.status = timeout ? "timeout" : "error";
      /* START comes after the init phase, which may be what died. */
      if (fatal.platform_lines && !atomic_load (&fatal.started))
        gl_log_start (fatal.request_id);
      if (fatal.platform_lines)
        gl_log_report (&f.report);
    }
  if (fatal.fn)
    status = fatal.fn (&f, fatal.data);
  else if (f.request_id)
    fprintf (stderr, "guile-lambda: the container %s during request %s\n",
             why, f.request_id);
  gl_descendants_kill ();
  return status;
}

static volatile sig_atomic_t disarmed;

static void
exit_hook (int status, void *unused)
{
  char message[128], why[64];

  /* The REPL, which has no records to write, reports only an exit in
     the middle of an invocation. */
  if (disarmed || (fatal.fn == NULL
                   && atomic_load (&fatal.state) != INFLIGHT_RUNNING))
    {
      gl_descendants_kill ();
      /* Nothing else need run: libguile's own exit handlers can
         deadlock on a lock that an exhausted heap left taken. */
      fflush (NULL);
      _exit (status);
    }
  gl_exit_describe (status, 0, message, sizeof message);
  snprintf (why, sizeof why, "exited with status %d", status);
  status = fatal_report (death_begin (), "Runtime.ExitError", message, 0,
                         why, status);
  _exit (status);
}

static const char *
signal_name (int signum)
{
  size_t i;

  for (i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (signal_names[i].signum == signum)
      return signal_names[i].name;
  return NULL;
}

void
gl_exit_describe (int status, int signum, char *out, size_t size)
{
  const char *name = signum ? signal_name (signum) : NULL;

  if (signum && name)
    snprintf (out, size, "Runtime exited with error: signal: %s", name);
  else if (signum)
    snprintf (out, size, "Runtime exited with error: signal: signal %d",
              signum);
  else if (status == 0)
    snprintf (out, size, "Runtime exited without providing a reason");
  else
    snprintf (out, size, "Runtime exited with error: exit status %d",
              status);
}

static void
signal_hook (int signum)
{
  char message[128], why[64];
  int saved = errno;

  if (!disarmed)
    {
      gl_exit_describe (0, signum, message, sizeof message);
      snprintf (why, sizeof why, "was killed by signal %d (%s)", signum,
                strrchr (message, ':') + 2);
      fatal_report (death_begin (), "Runtime.ExitError", message, 0, why,
                    -1);
    }
  else
    gl_descendants_kill ();
  /* The handler was reset on entry: die of the signal itself, so that
     whoever waits for this process sees what happened. */
  errno = saved;
  raise (signum);
}

int
gl_fatal_timeout (const char *message)
{
  int s = atomic_load (&fatal.state);

  /* The loop thread came back in time after all: it reports. */
  if (s == INFLIGHT_REPORTING
      || !atomic_compare_exchange_strong (&fatal.state, &s, INFLIGHT_DYING))
    {
      if (s == INFLIGHT_DYING)
        park ();
      return -1;
    }
  _exit (fatal_report (s == INFLIGHT_RUNNING, "Sandbox.Timedout", message, 1,
                       "is stuck in C code past its timeout", -1));
}

/* The loop thread's signal handlers run on a stack of their own: a
   fault may be a C stack overflow. */
static void
altstack_install (void)
{
  stack_t ss;

  ss.ss_size = 256 * 1024;
  ss.ss_sp = malloc (ss.ss_size);
  ss.ss_flags = 0;
  if (ss.ss_sp == NULL || sigaltstack (&ss, NULL) != 0)
    free (ss.ss_sp);
}

static void
signals_install (void)
{
  static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
                                       SIGABRT, SIGTERM, SIGINT, SIGHUP,
                                       SIGQUIT };
  struct sigaction sa;
  size_t i;

  altstack_install ();
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = signal_hook;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset (&sa.sa_mask);
  for (i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
    sigaction (fatal_signals[i], &sa, NULL);
}

void
gl_fatal_install (gl_fatal_fn fn, void *data, int signals)
{
  fatal.fn = fn;
  fatal.data = data;
  fatal.loop_thread = pthread_self ();
  /* Orphans of the container's processes come to us, not to init, so
     that they can be found and killed with it. */
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  on_exit (exit_hook, NULL);
  if (signals)
    signals_install ();
}

void
gl_fatal_disarm (void)
{
  disarmed = 1;
}
