/* process.c: child processes.  A running child is a "process" handle in
   the registry; each of its stdio streams that we make a pipe for is a
   "pipe" handle of its own, so that a timeout report names the output
   of a child that exited but whose descendants keep the pipe open.  The
   completion procedure runs once the child has exited and its captured
   streams have reached end of file, as Node's 'close' event does.

   A child still running when its process handle is closed (a container
   reset, or handle-close!) is killed with SIGKILL and reaped: on Lambda
   the whole sandbox goes with the container.  The same goes for one
   still running when the container's process exits. */
#define _GNU_SOURCE             /* close_range */
#include "bindings/bindings.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { STREAM_STDIN, STREAM_STDOUT, STREAM_STDERR, STREAM_COUNT };

static const char *const stream_names[STREAM_COUNT] = {
  "stdin", "stdout", "stderr"
};

/* What one child needs beyond its uv_process_t: the process handle's
   h->data, freed when that handle is released. */
struct child {
  struct child *prev, *next;    /* every child not yet released */
  struct gl_handle *process;
  struct gl_handle *pipes[STREAM_COUNT];  /* open pipes, NULL once closed */
  struct gl_buf output[STREAM_COUNT];     /* what stdout and stderr said */
  int captured[STREAM_COUNT];
  int pid;                      /* 0 if the spawn failed */
  int spawn_error;              /* libuv status of a failed spawn */
  int exited;
  int64_t exit_status;
  int term_signal;
};

/* A pipe handle's h->data.  CHILD is cut when either side goes. */
struct pipe_end {
  struct child *child;
  int stream;
  int pid;
  uv_write_t write;             /* stdin: the one write of its bytes */
  char *bytes;
  size_t len;
};

static struct child children;   /* list head; never a real child */
static pid_t owner_pid;         /* the process whose children these are */

static SCM sym_env, sym_cwd, sym_stdin, sym_stdout, sym_stderr;
static SCM sym_pipe, sym_ignore, sym_inherit;

#define SYM(s) scm_from_utf8_symbol (s)

/* Scheme speaks 'SIGTERM, the kernel 15. */
static SCM
signal_to_scm (int number)
{
  char name[32];

  if (gl_signal_name (number, name, sizeof name) < 0)
    return scm_from_int (number);
  return SYM (name);
}

/* -1 if NAME is no signal we know. */
static int
signal_from_scm (SCM name)
{
  char *s;
  int number;

  if (scm_is_integer (name))
    return scm_to_int (name);
  s = scm_to_utf8_string (scm_symbol_to_string (name));
  number = gl_signal_number (s);
  free (s);
  return number ? number : -1;
}

/* The registry. */

static void
process_describe (const struct gl_handle *h, struct gl_buf *out)
{
  const struct child *c = h->data;

  if (c == NULL)
    return;
  if (c->spawn_error)
    gl_buf_printf (out, " (spawn failed: %s, command %s)",
                   uv_err_name (c->spawn_error), h->text);
  else
    gl_buf_printf (out, " (pid %d, command %s)", c->pid, h->text);
}

static SCM
process_details (const struct gl_handle *h)
{
  const struct child *c = h->data;

  if (c == NULL)
    return SCM_EOL;
  return scm_list_2
    (scm_cons (SYM ("pid"), c->pid ? scm_from_int (c->pid) : SCM_BOOL_F),
     scm_cons (SYM ("command"), scm_from_utf8_string (h->text)));
}

static void process_release (struct gl_handle *h);

static const struct gl_handle_class process_class = {
  "process", GL_KIND_HANDLE, process_describe, process_details,
  process_release
};

static void
pipe_describe (const struct gl_handle *h, struct gl_buf *out)
{
  const struct pipe_end *end = h->data;

  if (end->pid)
    gl_buf_printf (out, " (%s of pid %d)", stream_names[end->stream],
                   end->pid);
  else
    gl_buf_printf (out, " (%s of a child being spawned)",
                   stream_names[end->stream]);
}

static SCM
pipe_details (const struct gl_handle *h)
{
  const struct pipe_end *end = h->data;

  return scm_list_2
    (scm_cons (SYM ("stream"), SYM (stream_names[end->stream])),
     scm_cons (SYM ("pid"), end->pid ? scm_from_int (end->pid) : SCM_BOOL_F));
}

static void pipe_release (struct gl_handle *h);

static const struct gl_handle_class pipe_class = {
  "pipe", GL_KIND_HANDLE, pipe_describe, pipe_details, pipe_release
};

/* Completion. */

static SCM
output_to_scm (const struct child *c, int stream)
{
  const struct gl_buf *b = &c->output[stream];

  if (!c->captured[stream])
    return SCM_BOOL_F;
  /* A child may write anything: bytes that are not UTF-8 become '?'
     rather than an exception in the loop. */
  return scm_from_stringn (b->len ? b->data : "", b->len, "UTF-8",
                           SCM_FAILED_CONVERSION_QUESTION_MARK);
}

static SCM
child_result (const struct child *c)
{
  int signaled = c->term_signal != 0;

  return scm_list_5
    (scm_cons (SYM ("exit-status"),
               signaled ? SCM_BOOL_F : scm_from_int64 (c->exit_status)),
     scm_cons (SYM ("term-signal"),
               signaled ? signal_to_scm (c->term_signal) : SCM_BOOL_F),
     scm_cons (SYM ("stdout"), output_to_scm (c, STREAM_STDOUT)),
     scm_cons (SYM ("stderr"), output_to_scm (c, STREAM_STDERR)),
     scm_cons (SYM ("pid"), scm_from_int (c->pid)));
}

/* Call the completion procedure once the child has exited and its
   output has all been read. */
static void
child_settle (struct child *c)
{
  struct gl_handle *h = c->process;
  SCM proc = h->callback, args;

  if (h->closing || !c->exited || c->pipes[STREAM_STDOUT]
      || c->pipes[STREAM_STDERR])
    return;
  args = scm_list_2 (SCM_BOOL_F, child_result (c));
  /* Close first, so that the callback sees the process gone from
     (active-handles); H lives until its close callback. */
  gl_handle_close (h);
  gl_callback_run (h, proc, args);
  scm_remember_upto_here_2 (proc, args);
}

/* Pipes. */

static void
pipe_detach (struct gl_handle *ph)
{
  struct pipe_end *end = ph->data;

  if (end->child)
    end->child->pipes[end->stream] = NULL;
  end->child = NULL;
}

static void
pipe_finish (struct gl_handle *ph)
{
  pipe_detach (ph);
  gl_handle_close (ph);
}

/* The user closed a pipe with handle-close!: the child may still exit
   and report. */
static void
pipe_release (struct gl_handle *ph)
{
  struct pipe_end *end = ph->data;
  struct child *c = end->child;

  pipe_detach (ph);
  if (c)
    child_settle (c);
  free (end->bytes);
  free (end);
}

static void
pipe_on_alloc (uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
  /* One read at a time on this thread: one buffer serves them all. */
  static char space[65536];

  buf->base = space;
  buf->len = sizeof space;
}

static void
pipe_on_read (uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
  struct gl_handle *ph = stream->data;
  struct pipe_end *end = ph->data;
  struct child *c = end->child;

  if (nread > 0 && c)
    gl_buf_append (&c->output[end->stream], buf->base, (size_t) nread);
  else if (nread < 0)
    {
      /* End of file, or a read error: either way nothing more comes. */
      pipe_finish (ph);
      if (c)
        child_settle (c);
    }
}

static void
stdin_on_written (uv_write_t *w, int status)
{
  struct gl_handle *ph = w->data;

  /* Closing flushes pending writes; the pipe is already going. */
  if (ph->closing)
    return;
  /* Written or not (EPIPE: the child did not read it all), closing our
     end is what tells the child its input is over. */
  pipe_finish (ph);
}

static void
stdin_start (struct gl_handle *ph)
{
  struct pipe_end *end = ph->data;

  end->write.data = ph;
  if (end->len == 0
      || gl_stream_write (&end->write, (uv_stream_t *) &ph->u.pipe,
                          end->bytes, end->len, stdin_on_written) != 0)
    pipe_finish (ph);
}

static struct gl_handle *
pipe_new (SCM origin, struct child *c, int stream)
{
  struct gl_handle *ph = gl_handle_new (&pipe_class, origin, SCM_BOOL_F);
  struct pipe_end *end = calloc (1, sizeof *end);

  if (end == NULL)
    scm_report_out_of_memory ();
  end->child = c;
  end->stream = stream;
  ph->data = end;
  c->pipes[stream] = ph;
  c->captured[stream] = stream != STREAM_STDIN;
  /* uv_pipe_init cannot fail for a pipe without IPC. */
  uv_pipe_init (gl_handles_loop (), &ph->u.pipe, 0);
  ph->u.pipe.data = ph;
  return ph;
}

/* The child. */

/* A child that outlives its handle: reap it if it is already dead,
   otherwise kill and reap it.  Never signal a pid that may have been
   reaped already, and so reused. */
static void
child_kill (pid_t pid)
{
  pid_t r;

  do
    r = waitpid (pid, NULL, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r != 0)
    return;
  kill (pid, SIGKILL);
  /* SIGKILL cannot be caught: the wait is short. */
  do
    r = waitpid (pid, NULL, 0);
  while (r < 0 && errno == EINTR);
}

static void
child_free (struct child *c)
{
  int i;

  c->prev->next = c->next;
  c->next->prev = c->prev;
  for (i = 0; i < STREAM_COUNT; i++)
    gl_buf_free (&c->output[i]);
  free (c);
}

static void
process_release (struct gl_handle *h)
{
  struct child *c = h->data;
  int i;

  if (c == NULL)
    return;
  for (i = 0; i < STREAM_COUNT; i++)
    if (c->pipes[i])
      pipe_finish (c->pipes[i]);
  if (c->pid && !c->exited)
    child_kill (c->pid);
  child_free (c);
}

static void
children_kill_at_exit (void)
{
  struct child *c;

  if (getpid () != owner_pid)
    return;
  for (c = children.next; c != &children; c = c->next)
    if (c->pid && !c->exited)
      child_kill (c->pid);
}

static void
process_on_exit (uv_process_t *p, int64_t exit_status, int term_signal)
{
  struct gl_handle *h = p->data;
  struct child *c = h->data;

  c->exited = 1;
  c->exit_status = exit_status;
  c->term_signal = term_signal;
  /* Input nobody will read any more. */
  if (c->pipes[STREAM_STDIN])
    pipe_finish (c->pipes[STREAM_STDIN]);
  child_settle (c);
}

static void
spawn_failure_on_timer (uv_timer_t *t)
{
  struct gl_handle *h = t->data;
  struct child *c = h->data;
  SCM proc = h->callback;
  SCM args = scm_list_2 (gl_uv_error (c->spawn_error, "spawn", h->text),
                         SCM_BOOL_F);

  gl_handle_close (h);
  gl_callback_run (h, proc, args);
  scm_remember_upto_here_2 (proc, args);
}

/* The spawn of H failed with STATUS.  As in Node, that is reported to
   the completion procedure from the loop, not raised: H is closed and a
   handle of the same type takes its place, live until it has reported,
   so that an await on it sees a loop that is not empty. */
static struct gl_handle *
spawn_failed (struct gl_handle *h, int status, SCM origin)
{
  struct child *c = h->data;
  struct gl_handle *n;
  int i;

  for (i = 0; i < STREAM_COUNT; i++)
    if (c->pipes[i])
      pipe_finish (c->pipes[i]);
  c->spawn_error = status;
  c->pid = 0;
  n = gl_handle_new (&process_class, origin, h->callback);
  n->text = h->text;
  n->data = c;
  c->process = n;
  h->text = NULL;
  h->data = NULL;
  gl_handle_close (h);
  uv_timer_init (gl_handles_loop (), &n->u.timer);
  n->u.timer.data = n;
  uv_timer_start (&n->u.timer, spawn_failure_on_timer, 0, 0);
  return n;
}

/* Arguments. */

/* The spawn's options, checked and converted to C.  Everything that may
   raise happens in spawn_options_check, before any allocation. */
struct spawn_options {
  SCM env, cwd, input;
  SCM streams[STREAM_COUNT];    /* 'pipe, 'ignore or 'inherit */
};

static int
string_list_p (SCM list)
{
  if (scm_is_false (scm_list_p (list)))
    return 0;
  for (; scm_is_pair (list); list = scm_cdr (list))
    if (!scm_is_string (scm_car (list)))
      return 0;
  return 1;
}

static void
spawn_options_check (SCM options, struct spawn_options *o)
{
  static const char subr[] = "process-spawn";
  SCM rest, key, value;

  o->env = o->cwd = SCM_BOOL_F;
  o->input = sym_ignore;
  o->streams[STREAM_STDIN] = sym_ignore;
  o->streams[STREAM_STDOUT] = o->streams[STREAM_STDERR] = sym_pipe;
  SCM_ASSERT_TYPE (scm_is_true (scm_list_p (options)), options, 3, subr,
                   "alist of options (env, cwd, stdin, stdout, stderr)");
  for (rest = options; scm_is_pair (rest); rest = scm_cdr (rest))
    {
      SCM_ASSERT_TYPE (scm_is_pair (scm_car (rest)), options, 3, subr,
                       "alist of options (env, cwd, stdin, stdout, stderr)");
      key = scm_caar (rest);
      value = scm_cdar (rest);
      if (scm_is_eq (key, sym_env))
        {
          SCM_ASSERT_TYPE (string_list_p (value), value, 3, subr,
                           "list of \"KEY=VALUE\" strings for option env");
          o->env = value;
        }
      else if (scm_is_eq (key, sym_cwd))
        {
          SCM_ASSERT_TYPE (scm_is_string (value), value, 3, subr,
                           "directory name (a string) for option cwd");
          o->cwd = value;
        }
      else if (scm_is_eq (key, sym_stdin))
        {
          SCM_ASSERT_TYPE (scm_is_string (value) || scm_is_bytevector (value)
                           || scm_is_eq (value, sym_ignore), value, 3, subr,
                           "string, bytevector or 'ignore for option stdin");
          o->input = value;
          o->streams[STREAM_STDIN] = scm_is_eq (value, sym_ignore)
            ? sym_ignore : sym_pipe;
        }
      else if (scm_is_eq (key, sym_stdout) || scm_is_eq (key, sym_stderr))
        {
          SCM_ASSERT_TYPE (scm_is_eq (value, sym_pipe)
                           || scm_is_eq (value, sym_ignore)
                           || scm_is_eq (value, sym_inherit), value, 3, subr,
                           "'pipe, 'ignore or 'inherit for option stdout or "
                           "stderr");
          o->streams[scm_is_eq (key, sym_stdout) ? STREAM_STDOUT
                     : STREAM_STDERR] = value;
        }
      else
        scm_misc_error (subr, "unknown option ~s: the options are env, cwd, "
                        "stdin, stdout and stderr", scm_list_1 (key));
    }
}

/* A NULL-terminated vector of the strings of HEAD followed by LIST,
   freed with strv_free. */
static char **
strv_from_scm (SCM head, SCM list)
{
  size_t n = scm_to_size_t (scm_length (list)) + 1, i = 0;
  char **v = calloc (n + 1, sizeof *v);

  if (v == NULL)
    scm_report_out_of_memory ();
  if (scm_is_string (head))
    v[i++] = scm_to_utf8_string (head);
  for (; scm_is_pair (list); list = scm_cdr (list))
    v[i++] = scm_to_utf8_string (scm_car (list));
  return v;
}

static void
strv_free (char **v)
{
  size_t i;

  if (v == NULL)
    return;
  for (i = 0; v[i]; i++)
    free (v[i]);
  free (v);
}

static int
word_plain_p (const char *s)
{
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if (!strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "0123456789_./=:,+-@%", *s))
      return 0;
  return 1;
}

/* The command line as a shell would read it, for logs. */
static char *
command_line (char **argv)
{
  struct gl_buf b;
  const char *s;
  size_t i;

  gl_buf_init (&b);
  for (i = 0; argv[i]; i++)
    {
      if (i > 0)
        gl_buf_putc (&b, ' ');
      if (word_plain_p (argv[i]))
        gl_buf_puts (&b, argv[i]);
      else
        {
          gl_buf_putc (&b, '\'');
          for (s = argv[i]; *s; s++)
            if (*s == '\'')
              gl_buf_puts (&b, "'\\''");
            else
              gl_buf_putc (&b, *s);
          gl_buf_putc (&b, '\'');
        }
    }
  return b.data;
}

static void
stdio_set (uv_stdio_container_t *stdio, int fd, SCM how,
           struct gl_handle *ph)
{
  if (scm_is_eq (how, sym_pipe))
    {
      stdio->flags = UV_CREATE_PIPE
        | (fd == STREAM_STDIN ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
      stdio->data.stream = (uv_stream_t *) &ph->u.pipe;
    }
  else if (scm_is_eq (how, sym_inherit))
    {
      stdio->flags = UV_INHERIT_FD;
      stdio->data.fd = fd;
    }
  else
    stdio->flags = UV_IGNORE;
}

/* The bytes to write to the child's stdin, in PH. */
static void
stdin_bytes_set (struct gl_handle *ph, SCM input)
{
  struct pipe_end *end = ph->data;
  size_t len;

  if (scm_is_bytevector (input))
    {
      len = SCM_BYTEVECTOR_LENGTH (input);
      end->bytes = malloc (len ? len : 1);
      if (end->bytes == NULL)
        scm_report_out_of_memory ();
      memcpy (end->bytes, SCM_BYTEVECTOR_CONTENTS (input), len);
    }
  else
    end->bytes = scm_to_utf8_stringn (input, &len);
  end->len = len;
}

static void
child_started (struct child *c)
{
  int i;

  c->pid = c->process->u.process.pid;
  c->prev = children.prev;
  c->next = &children;
  children.prev->next = c;
  children.prev = c;
  for (i = 0; i < STREAM_COUNT; i++)
    if (c->pipes[i])
      ((struct pipe_end *) c->pipes[i]->data)->pid = c->pid;
  if (c->pipes[STREAM_STDIN])
    stdin_start (c->pipes[STREAM_STDIN]);
  for (i = STREAM_STDOUT; i < STREAM_COUNT; i++)
    if (c->pipes[i]
        && uv_read_start ((uv_stream_t *) &c->pipes[i]->u.pipe,
                          pipe_on_alloc, pipe_on_read) != 0)
      pipe_finish (c->pipes[i]);
}

/* A child gets its stdio and nothing else, as in Node, where every
   descriptor is close-on-exec: not the front end's result stream, not
   Guile's own pipes, not the handler's open files.  A child holding the
   result stream would keep whoever reads it waiting for its end. */
static void
descriptors_cloexec (void)
{
  DIR *dir;
  struct dirent *e;

#ifdef CLOSE_RANGE_CLOEXEC
  if (close_range (3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return;
#endif
  dir = opendir ("/proc/self/fd");
  if (dir == NULL)
    return;
  while ((e = readdir (dir)) != NULL)
    {
      int fd = atoi (e->d_name);

      if (fd > 2)
        fcntl (fd, F_SETFD, fcntl (fd, F_GETFD) | FD_CLOEXEC);
    }
  closedir (dir);
}

/* (%process-spawn ORIGIN PROGRAM ARGS OPTIONS ON-EXIT) */
static SCM
process_spawn (SCM origin, SCM program, SCM args, SCM options, SCM on_exit)
{
  static const char subr[] = "process-spawn";
  struct spawn_options o;
  uv_process_options_t uo;
  uv_stdio_container_t stdio[STREAM_COUNT];
  struct gl_handle *h;
  struct child *c;
  char **argv, **envv, *cwd;
  int i, r;

  SCM_ASSERT_TYPE (scm_is_string (program), program, 1, subr,
                   "program name (a string)");
  SCM_ASSERT_TYPE (string_list_p (args), args, 2, subr,
                   "list of argument strings");
  spawn_options_check (options, &o);
  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (on_exit)), on_exit, 4, subr,
                   "procedure (err result)");

  c = calloc (1, sizeof *c);
  if (c == NULL)
    scm_report_out_of_memory ();
  c->prev = c->next = c;
  h = gl_handle_new (&process_class, origin, on_exit);
  h->data = c;
  c->process = h;
  argv = strv_from_scm (program, args);
  envv = scm_is_true (o.env) ? strv_from_scm (SCM_BOOL_F, o.env) : NULL;
  cwd = scm_is_true (o.cwd) ? scm_to_utf8_string (o.cwd) : NULL;
  h->text = command_line (argv);
  for (i = 0; i < STREAM_COUNT; i++)
    stdio_set (&stdio[i], i, o.streams[i],
               scm_is_eq (o.streams[i], sym_pipe) ? pipe_new (origin, c, i)
               : NULL);
  if (c->pipes[STREAM_STDIN])
    stdin_bytes_set (c->pipes[STREAM_STDIN], o.input);

  memset (&uo, 0, sizeof uo);
  uo.exit_cb = process_on_exit;
  uo.file = argv[0];
  uo.args = argv;
  uo.env = envv;
  uo.cwd = cwd;
  uo.stdio_count = STREAM_COUNT;
  uo.stdio = stdio;
  descriptors_cloexec ();
  r = uv_spawn (gl_handles_loop (), &h->u.process, &uo);
  h->u.process.data = h;
  strv_free (argv);
  strv_free (envv);
  free (cwd);
  if (r != 0)
    h = spawn_failed (h, r, origin);
  else
    child_started (c);
  return h->object;
}

/* (%process-kill ORIGIN PROC SIGNAL) */
static SCM
process_kill (SCM origin, SCM proc, SCM signal)
{
  static const char subr[] = "process-kill";
  struct gl_handle *h = gl_handle_from_scm (proc, 1, subr);
  struct child *c;
  char target[32];
  int signum, r;

  SCM_ASSERT_TYPE (h == NULL || h->class == &process_class, proc, 1, subr,
                   "process handle");
  SCM_ASSERT_TYPE (scm_is_integer (signal) || scm_is_symbol (signal),
                   signal, 2, subr, "signal name (a symbol such as SIGTERM) "
                   "or number");
  signum = signal_from_scm (signal);
  if (signum < 0)
    scm_misc_error (subr, "unknown signal ~s: use a name such as SIGTERM or "
                    "SIGKILL, or a number", scm_list_1 (signal));
  c = h ? h->data : NULL;
  /* After the exit the pid may belong to another process already. */
  if (c == NULL || h->closing || c->exited || c->pid == 0)
    gl_uv_raise (UV_ESRCH, "kill", "(the process has exited)");
  snprintf (target, sizeof target, "pid %d", c->pid);
  r = uv_process_kill (&h->u.process, signum);
  if (r != 0)
    gl_uv_raise (r, "kill", target);
  return SCM_UNSPECIFIED;
}

/* (%process-pid ORIGIN PROC): #f once the handle is closed (by then the
   pid may be another process's), or if the spawn failed. */
static SCM
process_pid (SCM origin, SCM proc)
{
  struct gl_handle *h = gl_handle_from_scm (proc, 1, "process-pid");
  struct child *c;

  SCM_ASSERT_TYPE (h == NULL || h->class == &process_class, proc, 1,
                   "process-pid", "process handle");
  c = h ? h->data : NULL;
  return c && c->pid && !h->closing ? scm_from_int (c->pid) : SCM_BOOL_F;
}

void
gl_process_init (void)
{
  sym_env = SYM ("env");
  sym_cwd = SYM ("cwd");
  sym_stdin = SYM ("stdin");
  sym_stdout = SYM ("stdout");
  sym_stderr = SYM ("stderr");
  sym_pipe = SYM ("pipe");
  sym_ignore = SYM ("ignore");
  sym_inherit = SYM ("inherit");
  children.prev = children.next = &children;
  owner_pid = getpid ();
  atexit (children_kill_at_exit);
  scm_c_define_gsubr ("%process-spawn", 5, 0, 0, process_spawn);
  scm_c_define_gsubr ("%process-kill", 3, 0, 0, process_kill);
  scm_c_define_gsubr ("%process-pid", 2, 0, 0, process_pid);
}
