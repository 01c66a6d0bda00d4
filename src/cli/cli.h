/* cli.h: the front ends (DESIGN.md §2): invoke, batch, serve, repl,
   bootstrap, and what they share: results on standard output, batch
   records, and events read line by line. */
#ifndef GL_CLI_H
#define GL_CLI_H

#include <sys/types.h>
#include "core/buf.h"
#include "core/context.h"
#include "core/log.h"
#include "service/invoke.h"

/* Define %guile-lambda-main, which src/cli/main.c calls with the
   command line and whose answer is the exit status. */
void gl_cli_init (void);

/* Write to the results' descriptor: 0, or -1 with errno set. */
int gl_results_write (const char *s, size_t n);

/* One batch record.  STATUS is success, error or timeout; JSON the
   result or the error object. */
void gl_record_format (struct gl_buf *b, unsigned long line,
                       const char *request_id, const char *status,
                       const char *json, const struct gl_report *report);
/* The record of a line that is not JSON; ERR says why. */
void gl_record_format_invalid (struct gl_buf *b, unsigned long line,
                               const char *err);

/* Lines of any bytes (a NUL included), each read with read(2), which
   the watchdog's signal may interrupt. */
struct gl_line_reader {
  int fd;
  struct gl_buf buf;
  size_t start;                 /* where the next line begins in buf */
  int eof;
};

/* The next line without its newline in *LINE and its length; -1 at the
   end of the input, -2 on a read error (errno says which). */
ssize_t gl_line_next (struct gl_line_reader *r, const char **line);
/* Whether the next line is read already: gl_line_next will not wait. */
int gl_line_ready (const struct gl_line_reader *r);
int gl_line_blank (const char *s, size_t n);
/* A file to read, not a directory: its descriptor, or -1 after a usage
   error naming WHAT. */
int gl_input_open (const char *path, const char *what);

/* batch through the supervisor: each line of FD an event for a pool of
   CONCURRENCY containers; records in input order unless UNORDERED.
   Returns the exit status. */
struct gl_supervised {
  const struct gl_function *fn;
  const char *handler;
  const char *runtime_command;  /* NULL: guile-lambda bootstrap */
  const char *program;
  int fd;
  int concurrency;
  int unordered;
};
int gl_batch_supervised (const struct gl_supervised *s);
/* invoke through one container: EVENT (LEN bytes of JSON) as the
   event; prints the result and returns invoke's exit status. */
int gl_invoke_supervised (const struct gl_supervised *s, const char *event,
                          size_t len);

/* Where the containers run: LAMBDA_TASK_ROOT, or the current directory
   (into CWD, SIZE bytes). */
const char *gl_task_root (char *cwd, size_t size);

/* serve: the Invoke API for the N functions FNS (their settings but
   `on_outcome' and `data') on HOST and PORT, until SIGINT or SIGTERM.
   Returns the exit status: 0 after a graceful stop. */
int gl_serve (const char *host, int port,
              const struct gl_invoke_function *fns, int n);

#endif
