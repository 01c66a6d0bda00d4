/* bindings.h: the async I/O bindings on the engine's loop.  Each file
   defines its primitives (named %NAME, taking the caller's origin first
   and a completion procedure last) in (guile-lambda core); the Scheme
   module of the same name wraps them in origin-recording macros. */
#ifndef GL_BINDINGS_H
#define GL_BINDINGS_H

#include "handles.h"

void gl_fs_init (void);
void gl_tcp_init (void);
void gl_udp_init (void);
void gl_process_init (void);
void gl_dns_init (void);
void gl_signals_init (void);

/* Signal names, both ways (signals.c): SIGNUM's name written to OUT,
   from the usual names or as SIGRTMIN+N, or -1 if it has none; the
   number of the signal called NAME, or 0. */
int gl_signal_name (int signum, char *out, size_t size);
int gl_signal_number (const char *name);

#endif
