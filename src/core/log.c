/* log.c: log lines as Lambda writes them, and the output ports that
   turn what handler code prints into such lines.  Every line leaves in
   one write(2) so that lines from the watchdog thread never interleave
   with the loop's. */
#define _GNU_SOURCE             /* RUSAGE_THREAD */
#include "core/log.h"
#include "core/buf.h"
#include "core/json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *level_names[] = {
  "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"
};

static int log_json;
static enum gl_log_level log_min_level = GL_LOG_TRACE;
static char request_id[64] = "undefined";
static char origin_request_id[64];

void
gl_log_configure (void)
{
  const char *format = getenv ("AWS_LAMBDA_LOG_FORMAT");
  const char *level = getenv ("AWS_LAMBDA_LOG_LEVEL");
  size_t i;

  log_json = format != NULL && strcasecmp (format, "JSON") == 0;
  log_min_level = GL_LOG_TRACE;
  /* As on Lambda, the application log level filters JSON logs only. */
  if (log_json && level != NULL)
    for (i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
      if (strcasecmp (level, level_names[i]) == 0)
        log_min_level = (enum gl_log_level) i;
}

void
gl_log_set_request_id (const char *id)
{
  snprintf (request_id, sizeof request_id, "%s", id ? id : "undefined");
}

const char *
gl_log_request_id (void)
{
  return request_id;
}

void
gl_log_set_origin_request_id (const char *id)
{
  snprintf (origin_request_id, sizeof origin_request_id, "%s", id ? id : "");
}

static void
fd_write (int fd, const char *s, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, s, n);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return;
        }
      s += w;
      n -= (size_t) w;
    }
}

/* A status line at the bottom of a terminal (batch's progress): each
   log line is written above it, and it is drawn again below.  Only the
   loop thread of a supervisor sets one. */
static char status_line[256];

static void
write_out (int fd, const char *s, size_t n)
{
  if (status_line[0] == '\0' || fd != STDERR_FILENO)
    return fd_write (fd, s, n);
  fd_write (fd, "\r\033[K", 4);
  fd_write (fd, s, n);
  fd_write (fd, status_line, strlen (status_line));
}

/* What the log holds (gl_log_hold_begin) goes before anything else. */
static void
write_all (int fd, const char *s, size_t n)
{
  if (fd == STDERR_FILENO)
    gl_log_release ();
  write_out (fd, s, n);
}

void
gl_log_status (const char *text)
{
  gl_log_release ();
  if (text == NULL || *text == '\0')
    {
      if (status_line[0])
        fd_write (STDERR_FILENO, "\r\033[K", 4);
      status_line[0] = '\0';
      return;
    }
  snprintf (status_line, sizeof status_line, "%s", text);
  fd_write (STDERR_FILENO, "\r\033[K", 4);
  fd_write (STDERR_FILENO, status_line, strlen (status_line));
}

/* While a supervisor's loop holds the log (gl_log_hold_begin), what it
   logs in a turn of the loop leaves in one write at the end of the
   turn: otherwise each event would cost a write for START and one for
   END and REPORT, and each write to a pipe or a terminal wakes its
   reader, on the cores the containers are waiting for.  Held text is
   whole lines, and only the loop thread logs in a supervisor. */
#define HELD_MAX (64 * 1024)

static struct gl_buf held;
static int holders;

void
gl_log_hold_begin (void)
{
  static int at_exit;

  /* A supervisor that exits from inside its loop has its last lines
     held. */
  if (!at_exit)
    at_exit = atexit (gl_log_release) == 0;
  holders++;
}

void
gl_log_hold_end (void)
{
  if (holders > 0 && --holders == 0)
    gl_log_release ();
}

void
gl_log_hold_stop (void)
{
  holders = 0;
  gl_log_release ();
}

void
gl_log_release (void)
{
  if (held.len == 0)
    return;
  write_out (STDERR_FILENO, held.data, held.len);
  gl_buf_reset (&held);
}

void
gl_log_notice (const char *fmt, ...)
{
  va_list ap;

  gl_log_release ();
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
}

void
gl_log_raw (const char *s, size_t n)
{
  if (holders == 0)
    return write_all (STDERR_FILENO, s, n);
  gl_buf_append (&held, s, n);
  if (held.len >= HELD_MAX)
    gl_log_release ();
}

static void
timestamp_append (struct gl_buf *b)
{
  struct timespec ts;
  struct tm tm;

  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  gl_buf_printf (b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* MSG is text, or when MSG_IS_JSON a JSON value that becomes the JSON
   line's message as it is (the text line shows it as it is too). */
static void
log_line_write (enum gl_log_level level, const char *msg, size_t len,
                int msg_is_json)
{
  struct gl_buf b;

  if (log_json && level < log_min_level)
    return;
  gl_buf_init (&b);
  if (log_json)
    {
      gl_buf_puts (&b, "{\"timestamp\":\"");
      timestamp_append (&b);
      gl_buf_printf (&b, "\",\"level\":\"%s\",\"requestId\":",
                     level_names[level]);
      gl_json_escape (&b, request_id, strlen (request_id));
      /* A line from a callback that an earlier invocation created. */
      if (origin_request_id[0] && strcmp (origin_request_id, request_id))
        {
          gl_buf_puts (&b, ",\"originRequestId\":");
          gl_json_escape (&b, origin_request_id, strlen (origin_request_id));
        }
      gl_buf_puts (&b, ",\"message\":");
      if (msg_is_json)
        gl_buf_append (&b, msg, len);
      else
        gl_json_escape (&b, msg, len);
      gl_buf_puts (&b, "}\n");
    }
  else
    {
      timestamp_append (&b);
      gl_buf_printf (&b, "\t%s\t%s\t", request_id, level_names[level]);
      gl_buf_append (&b, msg, len);
      gl_buf_putc (&b, '\n');
    }
  write_all (STDERR_FILENO, b.data, b.len);
  gl_buf_free (&b);
}

void
gl_log_line (enum gl_log_level level, const char *msg, size_t len)
{
  log_line_write (level, msg, len, 0);
}

/* Append ERROR_JSON, the compact JSON of an error object, with its
   member "stackTrace" renamed "stack".  A scan for the key at the top
   level, outside strings, needs no decoding: any thread may log. */
static void
error_with_stack_append (struct gl_buf *out, const char *error_json)
{
  static const char key[] = "\"stackTrace\":";
  const char *p;
  int depth = 0, in_string = 0;

  for (p = error_json; *p; p++)
    {
      if (in_string)
        {
          if (*p == '\\' && p[1])
            p++;
          else if (*p == '"')
            in_string = 0;
        }
      /* A string followed by ':' is a key, never a value. */
      else if (depth == 1 && strncmp (p, key, sizeof key - 1) == 0)
        {
          gl_buf_append (out, error_json, (size_t) (p - error_json));
          gl_buf_puts (out, "\"stack\":");
          gl_buf_puts (out, p + sizeof key - 1);
          return;
        }
      else if (*p == '"')
        in_string = 1;
      else if (*p == '{' || *p == '[')
        depth++;
      else if (*p == '}' || *p == ']')
        depth--;
    }
  gl_buf_puts (out, error_json);
}

void
gl_log_error_object (const char *label, const char *error_json)
{
  struct gl_buf b;

  if (log_json)
    return log_line_write (GL_LOG_ERROR, error_json, strlen (error_json), 1);
  gl_buf_init (&b);
  gl_buf_printf (&b, "%s \t", label);
  error_with_stack_append (&b, error_json);
  log_line_write (GL_LOG_ERROR, b.data, b.len, 0);
  gl_buf_free (&b);
}

void
gl_log_printf (enum gl_log_level level, const char *fmt, ...)
{
  char line[4096];
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;
  gl_log_line (level, line, strlen (line));
}

/* Platform lines in JSON mode follow Lambda's telemetry records. */
static void
platform_json (struct gl_buf *b, const char *type, const char *id,
               const char *extra)
{
  gl_buf_puts (b, "{\"time\":\"");
  timestamp_append (b);
  gl_buf_printf (b, "\",\"type\":\"%s\",\"record\":{\"requestId\":", type);
  gl_json_escape (b, id, strlen (id));
  gl_buf_printf (b, "%s}}\n", extra);
}

void
gl_log_start_format (struct gl_buf *b, const char *id)
{
  if (log_json)
    platform_json (b, "platform.start", id, ",\"version\":\"$LATEST\"");
  else
    gl_buf_printf (b, "START RequestId: %s Version: $LATEST\n", id);
}

void
gl_log_start (const char *id)
{
  struct gl_buf b;

  gl_buf_init (&b);
  gl_log_start_format (&b, id);
  gl_log_raw (b.data, b.len);
  gl_buf_free (&b);
}

void
gl_log_report_format (struct gl_buf *b, const struct gl_report *r)
{
  struct gl_buf extra;

  if (log_json)
    {
      gl_buf_init (&extra);
      gl_buf_printf (&extra, ",\"status\":\"%s\",\"metrics\":{"
                     "\"durationMs\":%.2f,\"billedDurationMs\":%ld,"
                     "\"memorySizeMB\":%d,\"maxMemoryUsedMB\":%ld",
                     r->status ? r->status : "success", r->duration_ms,
                     r->billed_ms, r->memory_mb, r->max_memory_mb);
      if (r->init_ms >= 0)
        gl_buf_printf (&extra, ",\"initDurationMs\":%.2f", r->init_ms);
      gl_buf_putc (&extra, '}');
      platform_json (b, "platform.report", r->request_id, extra.data);
      gl_buf_free (&extra);
      return;
    }
  gl_buf_puts (b, "END RequestId: ");
  gl_buf_puts (b, r->request_id);
  gl_buf_puts (b, "\nREPORT RequestId: ");
  gl_buf_puts (b, r->request_id);
  gl_buf_puts (b, "\tDuration: ");
  gl_buf_put_ms (b, r->duration_ms);
  gl_buf_puts (b, " ms\tBilled Duration: ");
  gl_buf_put_ulong (b, (unsigned long) r->billed_ms);
  gl_buf_puts (b, " ms\tMemory Size: ");
  gl_buf_put_ulong (b, (unsigned long) r->memory_mb);
  gl_buf_puts (b, " MB\tMax Memory Used: ");
  gl_buf_put_ulong (b, (unsigned long) r->max_memory_mb);
  gl_buf_puts (b, " MB");
  if (r->init_ms >= 0)
    {
      gl_buf_puts (b, "\tInit Duration: ");
      gl_buf_put_ms (b, r->init_ms);
      gl_buf_puts (b, " ms");
    }
  if (r->status)
    gl_buf_printf (b, "\tStatus: %s", r->status);
  gl_buf_putc (b, '\n');
}

void
gl_log_report (const struct gl_report *r)
{
  struct gl_buf b;

  gl_buf_init (&b);
  gl_log_report_format (&b, r);
  gl_log_raw (b.data, b.len);
  gl_buf_free (&b);
}

long
gl_report_billed_ms (double duration_ms)
{
  long billed = (long) ceil (duration_ms);
  return billed < 1 ? 1 : billed;
}

/* ru_maxrss outlives execve: a process forked by a bigger one (a test
   runner, an IDE) starts with its parent's peak.  Past the value it had
   when this process started, the peak is this program's own; below, it
   is read as VmHWM, the peak of this image alone, dearer to get. */
static long maxrss_at_start_kb;

static long
rusage_maxrss_kb (void)
{
  struct rusage ru;

  /* ru_maxrss belongs to the whole process either way; asking for the
     thread alone skips summing the other threads' times. */
  if (getrusage (RUSAGE_THREAD, &ru) != 0)
    return 0;
  return ru.ru_maxrss;
}

/* VmHWM from /proc/self/status, in kB, or 0.  With read(2) alone: the
   fatal path calls it from a signal handler. */
static long
image_peak_kb (void)
{
  char buf[4096];
  const char *hwm;
  ssize_t n;
  int fd = open ("/proc/self/status", O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return 0;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  hwm = strstr (buf, "VmHWM:");
  return hwm ? strtol (hwm + 6, NULL, 10) : 0;
}

/* Peak resident memory of this container (process), never the limit. */
long
gl_memory_used_mb (void)
{
  long kb = rusage_maxrss_kb ();

  if (kb <= maxrss_at_start_kb)
    {
      long own = image_peak_kb ();
      if (own > 0)
        kb = own;
    }
  return (kb + 1023) / 1024;
}

/* Output ports.  Guile line-buffers them, so each write usually ends a
   line; a partial line waits in the port's own buffer until the next
   newline or an explicit flush at the end of an invocation. */

struct log_port {
  enum gl_log_level level;
  struct gl_buf pending;
};

static scm_t_port_type *log_port_type;
static SCM log_ports[GL_LOG_FATAL + 1];

static void
log_port_emit_lines (struct log_port *lp, int flush_partial)
{
  size_t start = 0, i;

  for (i = 0; i < lp->pending.len; i++)
    if (lp->pending.data[i] == '\n')
      {
        gl_log_line (lp->level, lp->pending.data + start, i - start);
        start = i + 1;
      }
  if (flush_partial && start < lp->pending.len)
    {
      gl_log_line (lp->level, lp->pending.data + start,
                   lp->pending.len - start);
      start = lp->pending.len;
    }
  memmove (lp->pending.data, lp->pending.data + start,
           lp->pending.len - start);
  lp->pending.len -= start;
  if (lp->pending.data)
    lp->pending.data[lp->pending.len] = '\0';
}

static size_t
log_port_write (SCM port, SCM src, size_t start, size_t count)
{
  struct log_port *lp = (struct log_port *) SCM_STREAM (port);

  gl_buf_append (&lp->pending,
                 (const char *) SCM_BYTEVECTOR_CONTENTS (src) + start, count);
  log_port_emit_lines (lp, 0);
  return count;
}

SCM
gl_log_port (enum gl_log_level level)
{
  return log_ports[level];
}

void
gl_log_flush_ports (void)
{
  size_t i;

  for (i = 0; i <= GL_LOG_FATAL; i++)
    if (scm_is_true (scm_port_p (log_ports[i])))
      {
        scm_force_output (log_ports[i]);
        log_port_emit_lines ((struct log_port *) SCM_STREAM (log_ports[i]), 1);
      }
}

static SCM
log_port_make (enum gl_log_level level)
{
  struct log_port *lp = scm_gc_malloc_pointerless (sizeof *lp, "log port");
  SCM port;

  lp->level = level;
  gl_buf_init (&lp->pending);
  port = scm_c_make_port (log_port_type, SCM_WRTNG, (scm_t_bits) lp);
  scm_set_port_encoding_x (port, scm_from_utf8_string ("UTF-8"));
  scm_set_port_conversion_strategy_x (port,
                                      scm_from_utf8_symbol ("substitute"));
  scm_setvbuf (port, scm_from_utf8_symbol ("line"), SCM_UNDEFINED);
  return port;
}

static int
level_from_symbol (SCM sym, const char *subr)
{
  char *name;
  size_t i;

  SCM_ASSERT_TYPE (scm_is_symbol (sym), sym, 1, subr, "symbol");
  name = scm_to_utf8_string (scm_symbol_to_string (sym));
  for (i = 0; i <= GL_LOG_FATAL; i++)
    if (strcasecmp (name, level_names[i]) == 0)
      break;
  free (name);
  if (i > GL_LOG_FATAL)
    scm_misc_error (subr, "unknown log level ~S: use trace, debug, info, "
                    "warn, error or fatal", scm_list_1 (sym));
  return (int) i;
}

/* (log-message LEVEL STRING): one log line of LEVEL. */
static SCM
log_message (SCM level, SCM msg)
{
  int lvl = level_from_symbol (level, "log-message");
  size_t len;
  char *s;

  SCM_ASSERT_TYPE (scm_is_string (msg), msg, 2, "log-message", "string");
  s = scm_to_utf8_stringn (msg, &len);
  gl_log_line ((enum gl_log_level) lvl, s, len);
  free (s);
  return SCM_UNSPECIFIED;
}

/* (log-port LEVEL): the port whose lines are log lines of LEVEL. */
static SCM
log_port (SCM level)
{
  return log_ports[level_from_symbol (level, "log-port")];
}

void
gl_log_init (void)
{
  size_t i;

  maxrss_at_start_kb = rusage_maxrss_kb ();
  gl_log_configure ();
  log_port_type = scm_make_port_type ("guile-lambda-log", NULL,
                                      log_port_write);
  for (i = 0; i <= GL_LOG_FATAL; i++)
    log_ports[i] = scm_gc_protect_object (log_port_make ((enum gl_log_level) i));
  scm_c_define_gsubr ("log-message", 2, 0, 0, log_message);
  scm_c_define_gsubr ("log-port", 1, 0, 0, log_port);
}
