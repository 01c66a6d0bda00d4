/* handles.h: the registry of every libuv handle and request that Scheme
   code created (DESIGN.md §4), and the timer bindings.  The engine
   reads the registry for its empty-loop test and its timeout report. */
#ifndef GL_HANDLES_H
#define GL_HANDLES_H

#include <libguile.h>
#include <uv.h>
#include "buf.h"

struct gl_origin {
  char *file;                   /* NULL when the call site is unknown */
  int line;                     /* 1-based */
  int column;                   /* 1-based */
  char request_id[64];          /* the request being run then */
};

struct gl_handle {
  struct gl_handle *prev;
  struct gl_handle *next;
  unsigned long id;
  const char *type;             /* "timer", ... */
  struct gl_origin origin;
  SCM object;                   /* Scheme side; protected until closed */
  SCM callback;                 /* protected until closed */
  int closing;
  uint64_t repeat;              /* timers: 0 for a one-shot */
  union {
    uv_handle_t handle;
    uv_timer_t timer;
  } u;
};

/* How a callback from the loop is run: the engine decides what an
   uncaught exception in it means for the invocation. */
typedef void (*gl_callback_runner) (struct gl_handle *h, SCM proc);

void gl_handles_init (uv_loop_t *loop, gl_callback_runner run);

/* Handles and requests that keep the loop alive: active and ref'd. */
size_t gl_registry_alive_count (void);
int gl_registry_empty (void);
/* One line per live handle or request, for logs.  Touches no Scheme
   object, so the watchdog can call it while the loop thread is stuck. */
void gl_registry_describe (struct gl_buf *out, const char *prefix);
void gl_origin_describe (const struct gl_origin *o, struct gl_buf *out);
/* Close everything Scheme created: a container reset. */
void gl_registry_close_all (void);

#endif
