/* handles.h: the registry of every libuv handle and request that Scheme
   code created (DESIGN.md §4), and what every binding shares: the
   handle object Scheme sees, origins, running callbacks, error values.
   The engine reads the registry for its empty-loop test and its
   timeout report. */
#ifndef GL_HANDLES_H
#define GL_HANDLES_H

#include <libguile.h>
#include <uv.h>
#include "core/buf.h"

struct gl_origin {
  char *file;                   /* NULL when the call site is unknown */
  int line;                     /* 1-based */
  int column;                   /* 1-based */
  char request_id[64];          /* the request being run then */
};

enum gl_kind {
  GL_KIND_HANDLE,               /* lives until closed */
  GL_KIND_REQUEST               /* lives until its callback has run */
};

struct gl_handle;

/* What a binding tells the registry about its own type. */
struct gl_handle_class {
  const char *type;             /* "timer", "tcp", "fs", ... */
  enum gl_kind kind;
  /* Type-specific details for logs; must not touch Scheme objects. */
  void (*describe) (const struct gl_handle *h, struct gl_buf *out);
  /* The same details as an alist for handle-details. */
  SCM (*details) (const struct gl_handle *h);
  /* Called in the close callback (handles) or when the request is
     finished, before the memory goes; may be NULL. */
  void (*release) (struct gl_handle *h);
  /* Requests: whether one in flight keeps the loop alive; NULL: it
     does. */
  int (*alive) (const struct gl_handle *h);
};

struct gl_handle {
  struct gl_handle *prev;
  struct gl_handle *next;
  unsigned long id;
  const struct gl_handle_class *class;
  struct gl_origin origin;
  SCM object;                   /* Scheme side; protected until released */
  SCM callback;                 /* protected until released */
  SCM extra;                    /* a binding's own Scheme data, protected */
  int closing;                  /* handles: uv_close was called */
  int in_flight;                /* requests: the callback is still due */
  uint64_t repeat;              /* timers: 0 for a one-shot */
  char *text;                   /* a binding's own C data (paths, addresses) */
  void *data;                   /* a binding's own C data */
  union {
    uv_handle_t handle;
    uv_timer_t timer;
    uv_check_t check;
    uv_tcp_t tcp;
    uv_udp_t udp;
    uv_pipe_t pipe;
    uv_process_t process;
    uv_signal_t signal;
    uv_req_t req;
    uv_fs_t fs;
    uv_getaddrinfo_t getaddrinfo;
    uv_connect_t connect;
    uv_write_t write;
    uv_shutdown_t shutdown;
    uv_udp_send_t udp_send;
  } u;
};

/* How a callback from the loop is run: the engine decides what an
   uncaught exception in it means for the invocation. */
typedef void (*gl_callback_runner) (struct gl_handle *h, SCM proc, SCM args);

void gl_handles_init (uv_loop_t *loop, gl_callback_runner run);
uv_loop_t *gl_handles_loop (void);

/* A new handle or request of CLASS, created by the Scheme call at
   ORIGIN (what the origin-recording macros pass) with callback PROC,
   and registered.  The binding then initialises h->u. */
struct gl_handle *gl_handle_new (const struct gl_handle_class *class,
                                 SCM origin, SCM proc);
/* Handles: uv_close it; the memory goes in the close callback. */
void gl_handle_close (struct gl_handle *h);
/* Requests: the request completed; unregister and free it.  Call after
   taking what the callback needs out of it. */
void gl_request_finish (struct gl_handle *r);
/* A request whose start failed: never in flight, finish it now. */
void gl_request_abandon (struct gl_handle *r);
/* Run PROC with ARGS as a callback of H, through the engine. */
void gl_callback_run (struct gl_handle *h, SCM proc, SCM args);
struct gl_handle *gl_handle_from_scm (SCM obj, int pos, const char *subr);

/* The error value callbacks receive for libuv status STATUS: an
   exception of type &uv-error, with libuv's error name (code) and
   message.  SYSCALL says what failed, TARGET (may be NULL) on what. */
SCM gl_uv_error (int status, const char *syscall, const char *target);
/* Raise it. */
void gl_uv_raise (int status, const char *syscall, const char *target)
  __attribute__ ((noreturn));

/* libuv's buffers take an unsigned int length.  BYTES, LEN bytes
   long, as pieces of at most GL_UV_BUF_MAX bytes in BUFS (room for N):
   returns how many pieces there are (at least one, empty when LEN is
   0), which may be more than N. */
#define GL_UV_BUF_MAX (1u << 30)
size_t gl_uv_bufs_split (char *bytes, size_t len, uv_buf_t *bufs, size_t n);
/* uv_write of LEN bytes, however many. */
int gl_stream_write (uv_write_t *req, uv_stream_t *stream, char *bytes,
                     size_t len, uv_write_cb cb);

/* Handles and requests that keep the loop alive: active and ref'd
   handles, and requests in flight. */
size_t gl_registry_alive_count (void);
int gl_registry_empty (void);
/* One line per live handle or request, for logs.  Touches no Scheme
   object, so the watchdog can call it while the loop thread is stuck. */
void gl_registry_describe (struct gl_buf *out, const char *prefix);
/* "timer #3 (created at f.scm:4:2 during request ID)", if H is still
   registered (any thread); 0 if it is not. */
int gl_registry_describe_one (const struct gl_handle *h, struct gl_buf *out);
void gl_origin_describe (const struct gl_origin *o, struct gl_buf *out);
/* What that line says of H, as a Scheme string. */
SCM gl_handle_describe_scm (const struct gl_handle *h);
/* Close everything Scheme created: a container reset. */
void gl_registry_close_all (void);

void gl_timers_init (void);

#endif
