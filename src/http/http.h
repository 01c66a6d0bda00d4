/* http.h: HTTP/1.1 on a libuv loop, over http-parser 2.9: a server
   (keep-alive, answers that may come much later, limits with clear 4xx
   answers) and a client (one keep-alive connection, requests in turn).
   Plain C over libuv: nothing here knows Lambda, Guile or the engine.

   Conventions, as libuv's: the caller allocates a server or client and
   keeps it until its close callback has run; every call is made on the
   thread that runs its loop; nothing is global, so a client can live
   on a private loop that its caller runs until the answer is in.
   Functions return 0 or a negative error: libuv's (UV_EINVAL,
   UV_ECONNREFUSED, ...) or the parser's, GL_HTTP_EPARSE (HPE_...);
   gl_http_err_name and gl_http_strerror name and describe both.
   A write to a peer that has gone raises SIGPIPE, as any libuv write
   does: the program must ignore that signal (the engine does). */
#ifndef GL_HTTP_H
#define GL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Errors. */

/* http-parser's enum http_errno E as an error code of this layer; it
   stays clear of libuv's codes. */
#define GL_HTTP_EPARSE_BASE (-5000)
#define GL_HTTP_EPARSE(e) (GL_HTTP_EPARSE_BASE - (int) (e))

/* "ECONNRESET", "HPE_INVALID_CHUNK_SIZE", ... */
const char *gl_http_err_name (int err);
/* "connection reset by peer", "invalid character in chunk size header" */
const char *gl_http_strerror (int err);

/* Headers. */

typedef struct gl_http_header {
  const char *name;
  const char *value;
} gl_http_header_t;

/* The value of the first header called NAME (compared without regard
   to case) among the N in HEADERS, or NULL. */
const char *gl_http_header_find (const gl_http_header_t *headers, size_t n,
                                 const char *name);

/* Limits: each is a named setting with its own answer.  0 turns one
   off, except that http-parser never accepts a head over 80 KiB. */

typedef struct gl_http_limits {
  size_t header_max;        /* request line and headers, bytes: 431 */
  size_t body_max;          /* body, once de-chunked, bytes: 413 */
  uint64_t header_timeout;  /* ms from a request's first byte until its
                               headers are in: 408 */
  uint64_t body_timeout;    /* ms of silence while a body arrives: 408 */
  uint64_t idle_timeout;    /* ms a kept-alive connection may wait for
                               its next request: closed, no answer */
  uint64_t linger_timeout;  /* ms after a closing answer during which
                               what the client still sends is read and
                               dropped, so that it sees the answer
                               instead of a reset */
} gl_http_limits_t;

#define GL_HTTP_HEADER_MAX 16384         /* as Node's */
#define GL_HTTP_BODY_MAX 6291456         /* 6 MB, as Lambda's payloads */
#define GL_HTTP_HEADER_TIMEOUT 60000     /* as nginx's */
#define GL_HTTP_BODY_TIMEOUT 60000       /* as nginx's */
#define GL_HTTP_IDLE_TIMEOUT 75000       /* as nginx's */
#define GL_HTTP_LINGER_TIMEOUT 5000      /* as nginx's */

/* A Runtime API server of ours sends it with each `next': it reads a
   response and the next `next' sent together (HTTP/1.1 pipelining).
   Other servers (@vercel/fun's) take up the `next' before they are done
   with the response, so a runtime pipelines only when told it may. */
#define GL_HTTP_PIPELINING_HEADER "Guile-Lambda-Pipelining"

/* Fill LIMITS with the defaults above. */
void gl_http_limits_init (gl_http_limits_t *limits);

/* Server.

   Each request whose head and body were read whole is handed to the
   request callback.  The owner answers it with gl_http_request_respond,
   then or any time later (a long poll): while it waits no timeout runs
   on its connection, and the next request on that connection is not
   read until it is answered, so that answers go out in order.  If the
   connection goes (the peer closes or resets it, or the server is
   closed) before the answer, the abort callback tells the owner, and
   the request is freed when it returns.

   Malformed or oversized traffic never reaches the owner: the server
   answers it (400 malformed, 408 too slow, 413 body too large, 431
   head too large), then closes the connection.  The reject callback,
   if set, sees each such answer first and may give its body. */

typedef struct gl_http_server gl_http_server_t;
typedef struct gl_http_request gl_http_request_t;
typedef struct gl_http_reject gl_http_reject_t;

typedef void (*gl_http_request_cb) (gl_http_request_t *req);
/* ERR says how the connection went: UV_EOF, UV_ECONNRESET,
   UV_ECANCELED (the server is closing), ... */
typedef void (*gl_http_abort_cb) (gl_http_request_t *req, int err);
typedef void (*gl_http_reject_cb) (gl_http_server_t *server,
                                   gl_http_reject_t *rej);
typedef void (*gl_http_server_close_cb) (gl_http_server_t *server);
typedef void (*gl_http_flush_cb) (gl_http_server_t *server);

struct gl_http_request {
  void *data;                       /* the owner's */
  gl_http_server_t *server;
  const char *method;               /* "GET" */
  const char *target;               /* "/path?query" as sent */
  int http_major;
  int http_minor;
  const gl_http_header_t *headers;  /* as sent, names' case kept */
  size_t nheaders;
  const char *body;                 /* de-chunked; NUL-terminated */
  size_t body_len;
};

struct gl_http_reject {
  int status;                       /* 400, 408, 413 or 431 */
  const char *detail;               /* why, in words, for a log */
  /* The request, when its head was read whole (always for a 413);
     NULL and 0 otherwise. */
  const char *method;
  const char *target;
  const gl_http_header_t *headers;
  size_t nheaders;
  /* The answer's body, which the callback may replace; what it points
     to must last until the callback returns.  By default the detail,
     as text/plain. */
  const char *content_type;
  const char *body;
  size_t body_len;
};

struct gl_http_server {
  void *data;                       /* the owner's */
  uv_loop_t *loop;
  gl_http_limits_t limits;
  /* private */
  uv_tcp_t tcp;
  char *read_buf;
  gl_http_request_cb on_request;
  gl_http_abort_cb on_abort;
  gl_http_reject_cb on_reject;
  gl_http_flush_cb on_flush;
  gl_http_server_close_cb on_close;
  struct gl_http__conn *conns;
  int tcp_open;
  int stopping;
  int closing;
};

/* Set up SERVER on LOOP with LIMITS (NULL: the defaults).  From then
   on it must be closed with gl_http_server_close. */
int gl_http_server_init (uv_loop_t *loop, gl_http_server_t *server,
                         const gl_http_limits_t *limits);
/* Optional, before listening. */
void gl_http_server_on_reject (gl_http_server_t *server,
                               gl_http_reject_cb cb);
/* Optional, before listening: CB runs after the requests of each read
   were handed over and the answers given meanwhile written, before
   the loop reads anything else.  An owner that answers pipelined
   requests may do there what need not delay the answers. */
void gl_http_server_on_flush (gl_http_server_t *server, gl_http_flush_cb cb);
/* Listen on HOST (numeric IPv4 or IPv6, or "localhost", which is
   127.0.0.1) and PORT (0: the kernel chooses; see
   gl_http_server_port).  ON_ABORT may be NULL only if every request
   is answered inside ON_REQUEST. */
int gl_http_server_listen (gl_http_server_t *server, const char *host,
                           int port, gl_http_request_cb on_request,
                           gl_http_abort_cb on_abort);
/* The port SERVER listens on, or a negative error. */
int gl_http_server_port (const gl_http_server_t *server);
/* Stop accepting, for a graceful shutdown: the listener closes, idle
   kept-alive connections are closed (once what was written to them is
   out), and each request read or being read is still handed over and
   may be answered, with Connection: close.  The server must still be
   closed with gl_http_server_close once the owner is done. */
void gl_http_server_stop (gl_http_server_t *server);
/* Stop accepting; every waiting request is aborted (UV_ECANCELED) and
   every connection closed once the answers already given are written.
   CB runs when all memory is freed; SERVER may then be freed. */
void gl_http_server_close (gl_http_server_t *server,
                           gl_http_server_close_cb cb);

/* Answer REQ with STATUS (200 to 599), HEADERS and BODY (LEN bytes;
   none for HEAD requests or 204 and 304).  The server writes
   Content-Length and Connection itself: passing them, or
   Transfer-Encoding, or a name or value that is not a valid field,
   is UV_EINVAL and REQ stays unanswered.  Everything is copied; on 0
   REQ is freed and must not be used again. */
int gl_http_request_respond (gl_http_request_t *req, int status,
                             const gl_http_header_t *headers,
                             size_t nheaders, const char *body, size_t len);
/* The address of REQ's peer. */
int gl_http_request_peer (const gl_http_request_t *req,
                          struct sockaddr_storage *addr);

/* Client.

   One connection to one host and port, opened on the first request,
   kept alive, and opened again when the server has closed it.
   Requests are queued and sent one at a time (or pipelined: see
   gl_http_client_set_pipeline); each gets exactly one call of its
   callback.  A request that finds its reused connection
   closed by the server before any byte of the answer came is sent
   once more on a fresh connection, as curl does.  There is no timeout
   unless one is set.  While no request is in flight the connection
   does not keep the loop alive, so uv_run (loop, UV_RUN_DEFAULT)
   returns once every answer is in. */

typedef struct gl_http_client gl_http_client_t;
typedef struct gl_http_response gl_http_response_t;

struct gl_http_response {
  int status;
  int http_major;
  int http_minor;
  const char *reason;
  const gl_http_header_t *headers;
  size_t nheaders;
  const char *body;                 /* de-chunked; NUL-terminated */
  size_t body_len;
};

/* ERR is 0 and RES the response, valid until the callback returns; or
   ERR is an error and RES is NULL. */
typedef void (*gl_http_response_cb) (gl_http_client_t *client, int err,
                                     const gl_http_response_t *res,
                                     void *arg);
typedef void (*gl_http_client_close_cb) (gl_http_client_t *client);

struct gl_http_client {
  void *data;                       /* the owner's */
  uv_loop_t *loop;
  /* private */
  struct sockaddr_storage addr;
  char authority[64];               /* the Host header */
  uint64_t timeout;
  int pipeline;
  int held;
  uv_timer_t timer;
  char *read_buf;
  struct gl_http__cconn *conn;
  struct gl_http__creq *head;
  struct gl_http__creq *tail;
  unsigned handles;
  int closing;
  gl_http_client_close_cb on_close;
};

/* Set up CLIENT on LOOP for HOST (numeric IPv4 or IPv6, or
   "localhost") and PORT.  From then on it must be closed with
   gl_http_client_close. */
int gl_http_client_init (uv_loop_t *loop, gl_http_client_t *client,
                         const char *host, int port);
/* Each request from now on fails with UV_ETIMEDOUT if its answer has
   not come MS milliseconds after it was started (once the requests
   before it were answered; connecting counts); 0, the default: no
   timeout, as a long poll needs. */
void gl_http_client_set_timeout (gl_http_client_t *client, uint64_t ms);
/* ON: from now on each request is written as soon as it is queued, on
   the connection of the requests before it, without waiting for their
   answers (HTTP/1.1 pipelining, RFC 9112 §9.3.2), and the answers are
   read in turn.  A request whose connection closes before its answer
   came is sent again on a fresh one, so only requests that are safe to
   repeat should follow one still unanswered. */
void gl_http_client_set_pipeline (gl_http_client_t *client, int on);
/* ON: requests queued from now on wait; OFF: they go, in one write when
   the client pipelines (a response and the next request, say). */
void gl_http_client_hold (gl_http_client_t *client, int on);
/* Queue a request.  The client writes Host (unless given) and
   Content-Length itself; HEADERS are checked as by
   gl_http_request_respond (no Content-Length, Transfer-Encoding or
   Connection).  Everything is copied.  CB gets ARG. */
int gl_http_client_request (gl_http_client_t *client, const char *method,
                            const char *target,
                            const gl_http_header_t *headers,
                            size_t nheaders, const char *body, size_t len,
                            gl_http_response_cb cb, void *arg);
/* Fail every queued request with UV_ECANCELED (their callbacks run
   before this returns), close the connection; CB runs when all memory
   is freed, and CLIENT may then be freed. */
void gl_http_client_close (gl_http_client_t *client,
                           gl_http_client_close_cb cb);

#endif
