/* bindings.h: the async I/O bindings on the engine's loop.  Each file
   defines its primitives (named %NAME, taking the caller's origin first
   and a completion procedure last) in (guile-lambda core); the Scheme
   module of the same name wraps them in origin-recording macros. */
#ifndef GL_BINDINGS_H
#define GL_BINDINGS_H

#include "core/handles.h"

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

/* Sockets and data (tcp.c), shared with udp.c: a numeric HOST and PORT
   as a socket address (a libuv status); an address as an alist
   ((address . "127.0.0.1") (port . N) (family . ipv4)) or as text;
   strings (UTF-8) or bytevectors as bytes; arguments checked as ports
   and host names, raising with SUBR and the caller's position POS. */
int gl_sockaddr_parse (const char *host, int port,
                       struct sockaddr_storage *out);
void gl_sockaddr_from_scm (SCM host, int pos, int port, const char *subr,
                           const char *what, struct sockaddr_storage *out,
                           char *target, size_t size);
SCM gl_sockaddr_to_scm (const struct sockaddr *sa);
void gl_sockaddr_format (const struct sockaddr *sa, struct gl_buf *out);
char *gl_bytes_from_scm (SCM data, size_t *len, int pos, const char *subr);
SCM gl_bytevector_from_bytes (const char *bytes, size_t len);
int gl_port_from_scm (SCM port, int pos, const char *subr);
char *gl_host_from_scm (SCM host, int pos, const char *subr);

#endif
