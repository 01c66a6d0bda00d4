/* log.h: log lines as Lambda writes them (DESIGN.md §6), to stderr. */
#ifndef GL_LOG_H
#define GL_LOG_H

#include <stddef.h>
#include <libguile.h>

enum gl_log_level {
  GL_LOG_TRACE, GL_LOG_DEBUG, GL_LOG_INFO, GL_LOG_WARN, GL_LOG_ERROR,
  GL_LOG_FATAL
};

/* Read AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL. */
void gl_log_configure (void);

/* The request id that application log lines carry: the latest
   invocation whose handler has been called ("undefined" before). */
void gl_log_set_request_id (const char *id);
const char *gl_log_request_id (void);
/* While a loop callback runs, the request that created it. */
void gl_log_set_origin_request_id (const char *id);

/* One application log line.  MSG need not be NUL-terminated. */
void gl_log_line (enum gl_log_level level, const char *msg, size_t len);
void gl_log_printf (enum gl_log_level level, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* The line of an error that ends an invocation or the init phase, as
   the Node runtime writes it: LABEL ("Invoke Error"), a tab and
   ERROR_JSON, its "stackTrace" renamed "stack", in text; in the JSON
   format a line whose message is the error object itself. */
void gl_log_error_object (const char *label, const char *error_json);

/* Whole lines (a container's) as they are, to the log. */
void gl_log_raw (const char *s, size_t n);
/* Between these (they nest), what gl_log_raw, gl_log_start and
   gl_log_report are given is held until gl_log_release, which a
   supervisor calls after each turn of its loop and the engine before
   user code runs; the program's own messages go through gl_log_notice,
   which releases first. */
void gl_log_hold_begin (void);
void gl_log_hold_end (void);
void gl_log_release (void);
/* The process is dying: what is held goes out, and nothing more is
   held. */
void gl_log_hold_stop (void);
/* A message of the program's own (a warning, an error it reports) on
   stderr, after what the log holds. */
void gl_log_notice (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
/* A line kept at the bottom of a terminal, below the log (batch's
   progress); NULL or "" removes it. */
void gl_log_status (const char *text);

/* Platform lines: START, then END and REPORT together (one write). */
void gl_log_start (const char *request_id);
struct gl_report {
  const char *request_id;
  double duration_ms;
  long billed_ms;
  int memory_mb;
  long max_memory_mb;
  double init_ms;            /* < 0: warm start */
  const char *status;        /* NULL on success; "timeout", "error" ... */
};
void gl_log_report (const struct gl_report *r);
/* The same lines appended to B instead, for a log of one's own (the
   Invoke API's tail of an invocation's log). */
struct gl_buf;
void gl_log_start_format (struct gl_buf *b, const char *request_id);
void gl_log_report_format (struct gl_buf *b, const struct gl_report *r);
long gl_report_billed_ms (double duration_ms);
long gl_memory_used_mb (void);

/* Ports for the handler's current output and error ports: each line
   written becomes one log line (INFO and ERROR, as console.log and
   console.error).  Define the Scheme side of logging. */
void gl_log_init (void);
SCM gl_log_port (enum gl_log_level level);
void gl_log_flush_ports (void);

#endif
