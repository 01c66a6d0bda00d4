/* fatal.h: how a container dies (DESIGN.md §2, "Nothing lost, nothing
   hidden").  When the process ends while an event is in flight, whether
   by exit from any thread, a fatal signal or the watchdog's hard stop,
   the event still gets its record, from what the loop thread published
   when the invocation started; and the container's child processes and
   all their descendants die with it. */
#ifndef GL_FATAL_H
#define GL_FATAL_H

#include <stdint.h>
#include "core/log.h"

/* What the front end is told when the process dies. */
struct gl_fatal {
  const char *request_id;       /* NULL: no event was in flight */
  int init;                     /* it died in the event's init phase */
  int timeout;                  /* the hard stop: the deadline passed */
  const char *error_json;       /* the event's error object */
  struct gl_report report;
  const char *why;              /* "exited with status 9", ... */
  int exit_status;              /* what exit() was given, or -1 */
};

/* Write what can be written of F (a record, a line on stderr naming the
   event) and return the exit status.  Runs on any thread, possibly in a
   signal handler: it must not touch Scheme. */
typedef int (*gl_fatal_fn) (const struct gl_fatal *f, void *data);

/* Once per process: catch exit and fatal signals, become the reaper of
   the container's orphans.  FN may be NULL (no records to write). */
void gl_fatal_install (gl_fatal_fn fn, void *data, int signals);

/* The loop thread, as an event starts (before a cold start's init):
   from now on a death reports this event, with START, END and REPORT
   lines if PLATFORM_LINES. */
void gl_inflight_publish (const char *request_id, int memory_mb,
                          int platform_lines);
/* The init phase is over: a death now is the handler's. */
void gl_inflight_init_done (void);
/* The event's START line is out. */
void gl_inflight_started (void);
/* The loop thread, before it reports the event itself.  If a death on
   another thread has taken the report over, it waits there for the end
   of the process, so that the event is never reported twice. */
void gl_inflight_claim (void);
/* The event's record is out: a death now reports nothing for it. */
void gl_inflight_clear (void);

/* The front end has finished: an exit from now on is the program's
   own, not a container's death. */
void gl_fatal_disarm (void);

/* The hard stop (watchdog thread): report the event in flight as timed
   out, with MESSAGE, and end the process.  Returns -1 only if the loop
   thread has reported the event itself meanwhile. */
int gl_fatal_timeout (const char *message);

/* Lambda's words for a runtime that ended with exit STATUS, or by
   signal SIGNUM if it is not 0 ("Runtime exited with error: signal:
   segmentation fault", as Go prints it). */
void gl_exit_describe (int status, int signum, char *out, size_t size);

/* Kill every descendant process of this one (a container reset or its
   end).  Async-signal-safe. */
void gl_descendants_kill (void);

#endif
