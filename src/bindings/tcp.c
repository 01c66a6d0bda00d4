/* tcp.c: TCP clients and servers on the engine's loop.  A connection
   or a listening server is a "tcp" handle; tcp-connect (which resolves
   a host name first when it is not numeric), tcp-read, tcp-write and
   tcp-shutdown are requests while in flight ("connect", "read",
   "write", "shutdown"), so that the registry can say what a handler is
   waiting for and where it asked.  A connection keeps the loop alive
   while it reads, as a libuv stream does: an idle one, like a paused
   Node socket, does not.  The socket address helpers at the end are
   shared with udp.c. */
#include "bindings/bindings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Node's default. */
#define TCP_BACKLOG 511

/* What a tcp handle carries besides its uv_tcp_t, in h->data.  Its
   h->callback is a server's on-connection procedure, h->extra the
   tcp-on-data procedure while the connection streams, h->text the
   "host:port" being connected to. */
struct tcp_state {
  int listening;
  int eof;                      /* the peer has shut down its side */
  struct gl_handle *connect;    /* the connect request until it completes */
  struct gl_handle *read;       /* a tcp-read waiting for data */
};

/* What a request carries, in r->data. */
struct tcp_req {
  struct gl_handle *conn;       /* NULL once the connection is gone */
  int nvalues;                  /* values after err in its callback */
  char *host;                   /* connect: the name being resolved */
  int port;                     /* connect */
  char *target;                 /* connect: "host:port", for messages */
  char *bytes;                  /* write: a copy of the data */
  size_t len;
  /* A request that fails before libuv has it, or a read past the end
     of the stream, completes on the next turn of the loop, never inside
     the call that made it (Node does the same), so that await and
     callbacks see one order of events. */
  struct gl_handle *due_next;
  int due_status;
  const char *due_syscall;
  const char *due_target;
};

static const struct gl_handle_class tcp_class;

/* The target of errors on a connection that is gone. */
static const char CLOSED[] = "on a closed connection";

/* Requests due to complete on the next turn of the loop; see tcp_req. */
static uv_idle_t due_idle;
static struct gl_handle *due_head, *due_tail;

/* Reads land here, then are copied into a bytevector: one buffer is
   enough, since libuv reads one chunk at a time on this thread. */
static char read_buffer[65536];

#define SYM(s) scm_from_utf8_symbol (s)

/* Requests. */

static struct gl_handle *
request_new (const struct gl_handle_class *class, SCM origin, SCM proc,
             struct gl_handle *conn, int nvalues)
{
  struct gl_handle *r = gl_handle_new (class, origin, proc);
  struct tcp_req *q = calloc (1, sizeof *q);

  if (q == NULL)
    {
      gl_request_abandon (r);
      scm_report_out_of_memory ();
    }
  q->conn = conn;
  q->nvalues = nvalues;
  r->data = q;
  return r;
}

static void
request_release (struct gl_handle *r)
{
  struct tcp_req *q = r->data;

  if (q == NULL)
    return;
  free (q->host);
  free (q->target);
  free (q->bytes);
  free (q);
}

/* R's operation is over: run its callback with ARGS and free it. */
static void
request_complete (struct gl_handle *r, SCM args)
{
  SCM proc = r->callback;

  r->in_flight = 0;
  gl_callback_run (r, proc, args);
  gl_request_finish (r);
  scm_remember_upto_here_1 (proc);
}

/* The callback's arguments for libuv status STATUS: (err #f ...) on an
   error, and for a read at the end of the stream (#f eof). */
static SCM
request_error_args (struct gl_handle *r, int status, const char *syscall,
                    const char *target)
{
  struct tcp_req *q = r->data;
  SCM args = SCM_EOL;
  int i;

  if (status == UV_EOF)
    return scm_list_2 (SCM_BOOL_F, SCM_EOF_VAL);
  for (i = 0; i < q->nvalues; i++)
    args = scm_cons (SCM_BOOL_F, args);
  return scm_cons (gl_uv_error (status, syscall, target), args);
}

static void
request_fail (struct gl_handle *r, int status, const char *syscall,
              const char *target)
{
  request_complete (r, request_error_args (r, status, syscall, target));
}

static void
due_on_idle (uv_idle_t *idle)
{
  struct gl_handle *r = due_head, *next;

  due_head = due_tail = NULL;
  for (; r; r = next)
    {
      struct tcp_req *q = r->data;

      next = q->due_next;
      request_fail (r, q->due_status, q->due_syscall, q->due_target);
    }
  if (due_head == NULL)
    uv_idle_stop (&due_idle);
}

/* Complete R with STATUS on the next turn of the loop.  R must not be
   in libuv's hands.  TARGET must live as long as R. */
static void
request_fail_soon (struct gl_handle *r, int status, const char *syscall,
                   const char *target)
{
  struct tcp_req *q = r->data;

  /* Nothing of libuv's may linger for a reset's uv_cancel to find, and
     the connection, which may be released before R completes, is not
     R's any more. */
  memset (&r->u, 0, sizeof r->u);
  q->conn = NULL;
  q->due_status = status;
  q->due_syscall = syscall;
  q->due_target = target;
  q->due_next = NULL;
  if (due_tail)
    ((struct tcp_req *) due_tail->data)->due_next = r;
  else
    due_head = r;
  due_tail = r;
  /* The idle handle is the host's own: it is ref'd only so that uv_run
     turns while a request is due, and the request counts meanwhile. */
  uv_idle_start (&due_idle, due_on_idle);
}

static void
request_describe (const struct gl_handle *r, struct gl_buf *out)
{
  if (r->text)
    gl_buf_printf (out, " (%s)", r->text);
}

static SCM
request_details (const struct gl_handle *r)
{
  const struct tcp_req *q = r->data;
  SCM out = SCM_EOL;

  if (q->conn)
    out = scm_cons (scm_cons (SYM ("connection"), q->conn->object), out);
  if (q->host)
    out = scm_acons (SYM ("host"), scm_from_utf8_string (q->host),
                     scm_acons (SYM ("port"), scm_from_int (q->port), out));
  if (q->bytes)
    out = scm_acons (SYM ("bytes"), scm_from_size_t (q->len), out);
  return out;
}

static const struct gl_handle_class connect_class = {
  "connect", GL_KIND_REQUEST, request_describe, request_details,
  request_release
};
/* A read is libuv's reading state of its connection, not a request of
   libuv's: it keeps the loop alive only while the connection is ref'd,
   as the reading handle does. */
static int
read_alive (const struct gl_handle *r)
{
  const struct tcp_req *q = r->data;

  return q->conn == NULL || q->conn->closing
         || uv_has_ref (&q->conn->u.handle);
}

static const struct gl_handle_class read_class = {
  "read", GL_KIND_REQUEST, request_describe, request_details,
  request_release, read_alive
};
static const struct gl_handle_class write_class = {
  "write", GL_KIND_REQUEST, request_describe, request_details,
  request_release
};
static const struct gl_handle_class shutdown_class = {
  "shutdown", GL_KIND_REQUEST, request_describe, request_details,
  request_release
};

/* What a request is about, for logs: "on tcp #3", "to host:80 by tcp #5". */
static void
request_text_set (struct gl_handle *r, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static void
request_text_set (struct gl_handle *r, const char *fmt, ...)
{
  char text[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (text, sizeof text, fmt, ap);
  va_end (ap);
  r->text = strdup (text);
}

/* The tcp handle. */

static int
tcp_sockname (const struct gl_handle *h, struct sockaddr_storage *ss)
{
  int len = sizeof *ss;
  return uv_tcp_getsockname (&h->u.tcp, (struct sockaddr *) ss, &len);
}

static int
tcp_peername (const struct gl_handle *h, struct sockaddr_storage *ss)
{
  int len = sizeof *ss;
  return uv_tcp_getpeername (&h->u.tcp, (struct sockaddr *) ss, &len);
}

/* For logs, from the watchdog thread too: system calls only. */
static void
tcp_describe (const struct gl_handle *h, struct gl_buf *out)
{
  const struct tcp_state *s = h->data;
  struct sockaddr_storage local, peer;

  if (s->connect)
    {
      gl_buf_printf (out, " (connecting to %s)", h->text);
      return;
    }
  gl_buf_puts (out, " (");
  if (tcp_sockname (h, &local) == 0)
    {
      if (s->listening)
        gl_buf_puts (out, "listening on ");
      gl_sockaddr_format ((struct sockaddr *) &local, out);
    }
  if (!s->listening && tcp_peername (h, &peer) == 0)
    {
      gl_buf_puts (out, " -> ");
      gl_sockaddr_format ((struct sockaddr *) &peer, out);
    }
  if (s->read)
    gl_buf_puts (out, ", reading: tcp-read");
  else if (uv_is_active (&h->u.handle) && !s->listening)
    gl_buf_puts (out, ", reading: tcp-on-data");
  gl_buf_putc (out, ')');
}

static SCM
tcp_details (const struct gl_handle *h)
{
  const struct tcp_state *s = h->data;
  struct sockaddr_storage ss;
  SCM out = SCM_EOL;

  if (s->connect)
    return scm_list_1 (scm_cons (SYM ("connecting-to"),
                                 scm_from_utf8_string (h->text)));
  if (s->listening)
    out = scm_acons (SYM ("listening"), SCM_BOOL_T, out);
  else
    {
      if (tcp_peername (h, &ss) == 0)
        out = scm_acons (SYM ("peer"),
                         gl_sockaddr_to_scm ((struct sockaddr *) &ss), out);
      out = scm_acons (SYM ("reading"),
                       scm_from_bool (s->read || scm_is_true (h->extra)),
                       out);
    }
  if (tcp_sockname (h, &ss) == 0)
    out = scm_acons (SYM ("local"),
                     gl_sockaddr_to_scm ((struct sockaddr *) &ss), out);
  return out;
}

/* In the close callback.  Requests libuv does not know about learn
   that their connection is gone: a waiting tcp-read completes with
   ECANCELED, as libuv completes pending writes; a connect still
   resolving completes when its lookup does. */
static void
tcp_release (struct gl_handle *h)
{
  struct tcp_state *s = h->data;

  if (s == NULL)
    return;                     /* tcp_handle_new ran out of memory */
  if (s->connect)
    {
      ((struct tcp_req *) s->connect->data)->conn = NULL;
      uv_cancel (&s->connect->u.req);
    }
  if (s->read)
    {
      ((struct tcp_req *) s->read->data)->conn = NULL;
      request_fail_soon (s->read, UV_ECANCELED, "read", CLOSED);
    }
  free (s);
}

static const struct gl_handle_class tcp_class = {
  "tcp", GL_KIND_HANDLE, tcp_describe, tcp_details, tcp_release
};

static struct gl_handle *
tcp_handle_new (SCM origin, SCM proc)
{
  struct gl_handle *h = gl_handle_new (&tcp_class, origin, proc);
  int r;

  h->data = calloc (1, sizeof (struct tcp_state));
  r = uv_tcp_init (gl_handles_loop (), &h->u.tcp);
  h->u.tcp.data = h;
  if (h->data == NULL || r != 0)
    {
      /* uv_tcp_init only fails for bad flags: there is no socket yet. */
      gl_handle_close (h);
      if (h->data == NULL)
        scm_report_out_of_memory ();
      gl_uv_raise (r, "uv_tcp_init", NULL);
    }
  return h;
}

/* OBJ as a tcp handle, or NULL if it was a tcp handle and is closed. */
static struct gl_handle *
tcp_from_scm (SCM obj, int pos, const char *subr)
{
  struct gl_handle *h = gl_handle_from_scm (obj, pos, subr);

  if (h && h->class != &tcp_class)
    scm_wrong_type_arg_msg (subr, pos, obj, "tcp handle");
  return h && !h->closing ? h : NULL;
}

static struct gl_handle *
tcp_open_from_scm (SCM obj, int pos, const char *subr)
{
  struct gl_handle *h = tcp_from_scm (obj, pos, subr);

  if (h == NULL)
    gl_uv_raise (UV_EBADF, subr, "on a closed connection");
  return h;
}

static void
tcp_not_listening (struct gl_handle *h, SCM obj, int pos, const char *subr)
{
  if (h && ((struct tcp_state *) h->data)->listening)
    scm_wrong_type_arg_msg (subr, pos, obj,
                            "connection (not a listening server: use the "
                            "connections it accepts)");
}

static void
procedure_check (SCM proc, int pos, const char *subr)
{
  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (proc)), proc, pos, subr,
                   "procedure");
}

/* Reading.  A connection reads while a tcp-read waits or a tcp-on-data
   procedure is set, and only once connected; this keeps libuv's state
   in step with ours. */

static void
tcp_on_alloc (uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
  *buf = uv_buf_init (read_buffer, sizeof read_buffer);
}

static void tcp_on_read (uv_stream_t *stream, ssize_t nread,
                         const uv_buf_t *buf);

static int
tcp_reading_update (struct gl_handle *h)
{
  struct tcp_state *s = h->data;
  int r;

  if (h->closing || s->connect)
    return 0;
  if (s->read == NULL && scm_is_false (h->extra))
    return uv_read_stop ((uv_stream_t *) &h->u.tcp);
  r = uv_read_start ((uv_stream_t *) &h->u.tcp, tcp_on_alloc, tcp_on_read);
  return r == UV_EALREADY ? 0 : r;
}

static void
tcp_extra_set (struct gl_handle *h, SCM value)
{
  SCM old = h->extra;

  h->extra = scm_gc_protect_object (value);
  scm_gc_unprotect_object (old);
}

static void
tcp_on_read (uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
  struct gl_handle *h = stream->data;
  struct tcp_state *s = h->data;
  struct gl_handle *r = s->read;
  SCM value, err = SCM_BOOL_F, proc = h->extra;

  if (nread == 0)
    return;                     /* EAGAIN: nothing this time */
  if (nread > 0)
    value = gl_bytevector_from_bytes (buf->base, nread);
  else if (nread == UV_EOF)
    value = SCM_EOF_VAL;
  else
    {
      value = SCM_BOOL_F;
      err = gl_uv_error (nread, "read", NULL);
    }
  if (nread == UV_EOF)
    s->eof = 1;
  /* Stop first: the callback may read again at once. */
  if (r)
    {
      s->read = NULL;
      tcp_reading_update (h);
      request_complete (r, scm_list_2 (err, value));
    }
  else if (scm_is_true (proc))
    {
      if (nread < 0)
        {
          tcp_extra_set (h, SCM_BOOL_F);  /* the stream is over */
          tcp_reading_update (h);
        }
      gl_callback_run (h, proc, scm_list_2 (err, value));
    }
  else
    tcp_reading_update (h);
  scm_remember_upto_here_1 (proc);
}

/* (%tcp-read ORIGIN CONN PROC): the next chunk, once. */
static SCM
tcp_read (SCM origin, SCM conn, SCM proc)
{
  static const char subr[] = "tcp-read";
  struct gl_handle *h = tcp_from_scm (conn, 1, subr);
  struct tcp_state *s = h ? h->data : NULL;
  struct gl_handle *r;
  int rc;

  procedure_check (proc, 2, subr);
  tcp_not_listening (h, conn, 1, subr);
  if (s && s->read)
    scm_misc_error (subr, "a tcp-read is already waiting on tcp #~A; wait "
                    "for its callback before reading again",
                    scm_list_1 (scm_from_ulong (h->id)));
  if (h && scm_is_true (h->extra))
    scm_misc_error (subr, "tcp #~A streams to a tcp-on-data procedure; call "
                    "(tcp-on-data conn #f) first to read it chunk by chunk",
                    scm_list_1 (scm_from_ulong (h->id)));
  r = request_new (&read_class, origin, proc, h, 1);
  if (h == NULL)
    {
      request_fail_soon (r, UV_EBADF, "read", CLOSED);
      return SCM_UNSPECIFIED;
    }
  request_text_set (r, "on tcp #%lu", h->id);
  if (s->eof)
    {
      request_fail_soon (r, UV_EOF, "read", NULL);
      return SCM_UNSPECIFIED;
    }
  s->read = r;
  rc = tcp_reading_update (h);
  if (rc != 0)
    {
      s->read = NULL;
      request_fail_soon (r, rc, "read", NULL);
    }
  return SCM_UNSPECIFIED;
}

/* (%tcp-on-data CONN PROC): stream every chunk to PROC; #f stops. */
static SCM
tcp_on_data (SCM conn, SCM proc)
{
  static const char subr[] = "tcp-on-data";
  struct gl_handle *h = tcp_open_from_scm (conn, 1, subr);
  struct tcp_state *s = h->data;
  int rc;

  SCM_ASSERT_TYPE (scm_is_false (proc) || scm_is_true (scm_procedure_p (proc)),
                   proc, 2, subr, "procedure or #f");
  tcp_not_listening (h, conn, 1, subr);
  if (s->read)
    scm_misc_error (subr, "a tcp-read is waiting on tcp #~A; stream its "
                    "data after that read completes",
                    scm_list_1 (scm_from_ulong (h->id)));
  if (s->eof && scm_is_true (proc))
    scm_misc_error (subr, "tcp #~A has already reached the end of its "
                    "stream", scm_list_1 (scm_from_ulong (h->id)));
  tcp_extra_set (h, proc);
  rc = tcp_reading_update (h);
  if (rc != 0)
    {
      tcp_extra_set (h, SCM_BOOL_F);
      gl_uv_raise (rc, "read", NULL);
    }
  return SCM_UNSPECIFIED;
}

/* Connecting. */

static void
connect_on_connect (uv_connect_t *req, int status)
{
  struct gl_handle *r = req->data;
  struct tcp_req *q = r->data;
  struct gl_handle *h = q->conn;

  ((struct tcp_state *) h->data)->connect = NULL;
  if (status != 0)
    {
      gl_handle_close (h);
      request_fail (r, status, "connect", q->target);
      return;
    }
  tcp_reading_update (h);
  request_complete (r, scm_list_2 (SCM_BOOL_F, h->object));
}

/* Start the connection proper, to ADDR; the request is R.  FROM_LOOP:
   we are in a loop callback, so R may complete at once. */
static void
connect_start (struct gl_handle *r, const struct sockaddr *addr,
               int from_loop)
{
  struct tcp_req *q = r->data;
  struct gl_handle *h = q->conn;
  int rc;

  memset (&r->u, 0, sizeof r->u);
  rc = uv_tcp_connect (&r->u.connect, &h->u.tcp, addr, connect_on_connect);
  r->u.connect.data = r;
  if (rc == 0)
    return;
  ((struct tcp_state *) h->data)->connect = NULL;
  q->conn = NULL;
  gl_handle_close (h);
  if (from_loop)
    request_fail (r, rc, "connect", q->target);
  else
    request_fail_soon (r, rc, "connect", q->target);
}

/* IPv4 first, as Node's ipv4first order: "localhost" then reaches a
   server that listens on 127.0.0.1. */
static struct addrinfo *
addrinfo_pick (struct addrinfo *res)
{
  struct addrinfo *ai;

  for (ai = res; ai; ai = ai->ai_next)
    if (ai->ai_family == AF_INET)
      return ai;
  return res;
}

static void
connect_on_resolved (uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
  struct gl_handle *r = req->data;
  struct tcp_req *q = r->data;
  struct gl_handle *h = q->conn;
  struct addrinfo *ai;

  if (h == NULL || h->closing)
    {
      /* Closed while resolving (the close callback may not have run
         yet: a closing handle must not be connected, and must forget
         this request, which ends here). */
      if (h)
        ((struct tcp_state *) h->data)->connect = NULL;
      q->conn = NULL;
      uv_freeaddrinfo (res);
      request_fail (r, UV_ECANCELED, "connect", q->target);
      return;
    }
  if (status != 0 || res == NULL)
    {
      ((struct tcp_state *) h->data)->connect = NULL;
      q->conn = NULL;
      gl_handle_close (h);
      uv_freeaddrinfo (res);
      request_fail (r, status ? status : UV_EAI_NONAME, "getaddrinfo",
                    q->host);
      return;
    }
  ai = addrinfo_pick (res);
  if (ai->ai_family == AF_INET)
    ((struct sockaddr_in *) ai->ai_addr)->sin_port = htons (q->port);
  else
    ((struct sockaddr_in6 *) ai->ai_addr)->sin6_port = htons (q->port);
  connect_start (r, ai->ai_addr, 1);
  uv_freeaddrinfo (res);
}

/* "host:port", or "[v6]:port": malloc'd. */
static char *
target_format (const char *host, int port)
{
  char text[300];

  snprintf (text, sizeof text, strchr (host, ':') ? "[%s]:%d" : "%s:%d",
            host, port);
  return strdup (text);
}

/* (%tcp-connect ORIGIN HOST PORT PROC): connect, then (PROC err conn).
   Returns the connection at once, as Node's net.connect does. */
static SCM
tcp_connect (SCM origin, SCM host, SCM port, SCM proc)
{
  static const char subr[] = "tcp-connect";
  struct sockaddr_storage addr;
  struct addrinfo hints;
  struct gl_handle *h, *r;
  struct tcp_req *q;
  char *chost;
  int cport, rc;

  cport = gl_port_from_scm (port, 2, subr);
  procedure_check (proc, 3, subr);
  chost = gl_host_from_scm (host, 1, subr);
  h = tcp_handle_new (origin, SCM_BOOL_F);
  r = request_new (&connect_class, origin, proc, h, 1);
  q = r->data;
  q->host = chost;
  q->port = cport;
  q->target = target_format (chost, cport);
  h->text = strdup (q->target);
  ((struct tcp_state *) h->data)->connect = r;
  request_text_set (r, "to %s by tcp #%lu", q->target, h->id);
  if (gl_sockaddr_parse (chost, cport, &addr) == 0)
    {
      connect_start (r, (struct sockaddr *) &addr, 0);
      return h->object;
    }
  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  rc = uv_getaddrinfo (gl_handles_loop (), &r->u.getaddrinfo,
                       connect_on_resolved, chost, NULL, &hints);
  r->u.getaddrinfo.data = r;
  if (rc != 0)
    {
      ((struct tcp_state *) h->data)->connect = NULL;
      q->conn = NULL;
      gl_handle_close (h);
      request_fail_soon (r, rc, "getaddrinfo", q->host);
    }
  return h->object;
}

/* Listening. */

/* The origin of what a server accepts is the server's own. */
static SCM
origin_to_scm (const struct gl_origin *o)
{
  if (o->file == NULL)
    return SCM_BOOL_F;
  return scm_list_3
    (scm_cons (SYM ("filename"), scm_from_utf8_string (o->file)),
     scm_cons (SYM ("line"), scm_from_int (o->line - 1)),
     scm_cons (SYM ("column"), scm_from_int (o->column - 1)));
}

static void
tcp_on_connection (uv_stream_t *server, int status)
{
  struct gl_handle *srv = server->data;
  struct gl_handle *h;
  SCM proc = srv->callback;
  int rc = status;

  if (rc == 0)
    {
      h = tcp_handle_new (origin_to_scm (&srv->origin), SCM_BOOL_F);
      rc = uv_accept (server, (uv_stream_t *) &h->u.tcp);
      if (rc == 0)
        {
          gl_callback_run (srv, proc, scm_list_2 (SCM_BOOL_F, h->object));
          scm_remember_upto_here_1 (proc);
          return;
        }
      gl_handle_close (h);
    }
  gl_callback_run (srv, proc,
                   scm_list_2 (gl_uv_error (rc, "accept", NULL), SCM_BOOL_F));
  scm_remember_upto_here_1 (proc);
}

/* (%tcp-listen ORIGIN HOST PORT PROC): a server, listening at once;
   (PROC err conn) for each connection accepted. */
static SCM
tcp_listen (SCM origin, SCM host, SCM port, SCM proc)
{
  static const char subr[] = "tcp-listen";
  struct sockaddr_storage addr;
  struct gl_handle *h;
  char target[300];
  int cport, rc;

  cport = gl_port_from_scm (port, 2, subr);
  procedure_check (proc, 3, subr);
  gl_sockaddr_from_scm (host, 1, cport, subr, "numeric IPv4 or IPv6 address "
                        "(a server listens on an address, not a name)",
                        &addr, target, sizeof target);
  h = tcp_handle_new (origin, proc);
  ((struct tcp_state *) h->data)->listening = 1;
  rc = uv_tcp_bind (&h->u.tcp, (struct sockaddr *) &addr, 0);
  if (rc == 0)
    rc = uv_listen ((uv_stream_t *) &h->u.tcp, TCP_BACKLOG, tcp_on_connection);
  if (rc != 0)
    {
      gl_handle_close (h);
      gl_uv_raise (rc, "listen", target);
    }
  return h->object;
}

static int
sockaddr_port (const struct sockaddr_storage *ss)
{
  if (ss->ss_family == AF_INET6)
    return ntohs (((const struct sockaddr_in6 *) ss)->sin6_port);
  return ntohs (((const struct sockaddr_in *) ss)->sin_port);
}

/* (%tcp-server-port SERVER): the port it listens on. */
static SCM
tcp_server_port (SCM server)
{
  static const char subr[] = "tcp-server-port";
  struct gl_handle *h = tcp_open_from_scm (server, 1, subr);
  struct sockaddr_storage ss;
  int rc;

  if (!((struct tcp_state *) h->data)->listening)
    scm_wrong_type_arg_msg (subr, 1, server, "listening server");
  rc = tcp_sockname (h, &ss);
  if (rc != 0)
    gl_uv_raise (rc, "getsockname", NULL);
  return scm_from_int (sockaddr_port (&ss));
}

static SCM
tcp_address (SCM conn, int peer, const char *subr)
{
  struct gl_handle *h = tcp_open_from_scm (conn, 1, subr);
  struct sockaddr_storage ss;
  int rc;

  if (((struct tcp_state *) h->data)->connect)
    gl_uv_raise (UV_ENOTCONN, peer ? "getpeername" : "getsockname",
                 "while connecting");
  rc = peer ? tcp_peername (h, &ss) : tcp_sockname (h, &ss);
  if (rc != 0)
    gl_uv_raise (rc, peer ? "getpeername" : "getsockname", NULL);
  return gl_sockaddr_to_scm ((struct sockaddr *) &ss);
}

static SCM
tcp_local_address (SCM conn)
{
  return tcp_address (conn, 0, "tcp-local-address");
}

static SCM
tcp_peer_address (SCM conn)
{
  return tcp_address (conn, 1, "tcp-peer-address");
}

/* Writing and shutting down.  On a connection that is closed or not
   yet connected these fail through their callbacks, as an operation
   that meets a broken connection does. */

static void
tcp_on_write (uv_write_t *req, int status)
{
  struct gl_handle *r = req->data;

  if (status != 0)
    request_fail (r, status, "write", NULL);
  else
    request_complete (r, scm_list_1 (SCM_BOOL_F));
}

static int
tcp_usable (struct gl_handle *h, struct gl_handle *r, const char *syscall)
{
  if (h == NULL)
    request_fail_soon (r, UV_EBADF, syscall, CLOSED);
  else if (((struct tcp_state *) h->data)->connect)
    request_fail_soon (r, UV_ENOTCONN, syscall, "while connecting");
  else
    return 1;
  return 0;
}

/* (%tcp-write ORIGIN CONN DATA PROC): write DATA (a string, as UTF-8,
   or a bytevector), then (PROC err). */
static SCM
tcp_write (SCM origin, SCM conn, SCM data, SCM proc)
{
  static const char subr[] = "tcp-write";
  struct gl_handle *h = tcp_from_scm (conn, 1, subr);
  struct gl_handle *r;
  struct tcp_req *q;
  size_t len;
  char *bytes;
  int rc;

  procedure_check (proc, 3, subr);
  tcp_not_listening (h, conn, 1, subr);
  bytes = gl_bytes_from_scm (data, &len, 2, subr);
  r = request_new (&write_class, origin, proc, h, 0);
  q = r->data;
  q->bytes = bytes;
  q->len = len;
  if (!tcp_usable (h, r, "write"))
    return SCM_UNSPECIFIED;
  request_text_set (r, "%zu bytes on tcp #%lu", len, h->id);
  rc = gl_stream_write (&r->u.write, (uv_stream_t *) &h->u.tcp, bytes, len,
                        tcp_on_write);
  r->u.write.data = r;
  if (rc != 0)
    request_fail_soon (r, rc, "write", NULL);
  return SCM_UNSPECIFIED;
}

static void
tcp_on_shutdown (uv_shutdown_t *req, int status)
{
  struct gl_handle *r = req->data;

  if (status != 0)
    request_fail (r, status, "shutdown", NULL);
  else
    request_complete (r, scm_list_1 (SCM_BOOL_F));
}

/* (%tcp-shutdown ORIGIN CONN PROC): end the writing side once pending
   writes are done, then (PROC err). */
static SCM
tcp_shutdown (SCM origin, SCM conn, SCM proc)
{
  static const char subr[] = "tcp-shutdown";
  struct gl_handle *h = tcp_from_scm (conn, 1, subr);
  struct gl_handle *r;
  int rc;

  procedure_check (proc, 2, subr);
  tcp_not_listening (h, conn, 1, subr);
  r = request_new (&shutdown_class, origin, proc, h, 0);
  if (!tcp_usable (h, r, "shutdown"))
    return SCM_UNSPECIFIED;
  request_text_set (r, "of tcp #%lu", h->id);
  rc = uv_shutdown (&r->u.shutdown, (uv_stream_t *) &h->u.tcp, tcp_on_shutdown);
  r->u.shutdown.data = r;
  if (rc != 0)
    request_fail_soon (r, rc, "shutdown", NULL);
  return SCM_UNSPECIFIED;
}

/* Socket addresses and data, shared with udp.c. */

/* HOST as a numeric IPv4 or IPv6 address with PORT; 0 or UV_EINVAL. */
int
gl_sockaddr_parse (const char *host, int port, struct sockaddr_storage *out)
{
  memset (out, 0, sizeof *out);
  if (uv_ip4_addr (host, port, (struct sockaddr_in *) out) == 0)
    return 0;
  return uv_ip6_addr (host, port, (struct sockaddr_in6 *) out);
}

/* HOST, a numeric address (argument POS of SUBR), with PORT as a socket
   address in OUT and as "host:port" text in TARGET; raises for anything
   else, saying WHAT is expected. */
void
gl_sockaddr_from_scm (SCM host, int pos, int port, const char *subr,
                      const char *what, struct sockaddr_storage *out,
                      char *target, size_t size)
{
  char *chost = gl_host_from_scm (host, pos, subr);
  int rc = gl_sockaddr_parse (chost, port, out);

  snprintf (target, size, strchr (chost, ':') ? "[%s]:%d" : "%s:%d", chost,
            port);
  free (chost);
  if (rc != 0)
    scm_wrong_type_arg_msg (subr, pos, host, what);
}

/* ((address . "127.0.0.1") (port . N) (family . ipv4)) */
SCM
gl_sockaddr_to_scm (const struct sockaddr *sa)
{
  char name[INET6_ADDRSTRLEN + 1] = "";
  int v6 = sa->sa_family == AF_INET6;

  if (v6)
    uv_ip6_name ((const struct sockaddr_in6 *) sa, name, sizeof name);
  else
    uv_ip4_name ((const struct sockaddr_in *) sa, name, sizeof name);
  return scm_list_3
    (scm_cons (SYM ("address"), scm_from_utf8_string (name)),
     scm_cons (SYM ("port"),
               scm_from_int (sockaddr_port ((const struct sockaddr_storage *)
                                            sa))),
     scm_cons (SYM ("family"), SYM (v6 ? "ipv6" : "ipv4")));
}

/* "127.0.0.1:80" or "[::1]:80". */
void
gl_sockaddr_format (const struct sockaddr *sa, struct gl_buf *out)
{
  char name[INET6_ADDRSTRLEN + 1] = "";
  int port = sockaddr_port ((const struct sockaddr_storage *) sa);

  if (sa->sa_family == AF_INET6)
    {
      uv_ip6_name ((const struct sockaddr_in6 *) sa, name, sizeof name);
      gl_buf_printf (out, "[%s]:%d", name, port);
    }
  else
    {
      uv_ip4_name ((const struct sockaddr_in *) sa, name, sizeof name);
      gl_buf_printf (out, "%s:%d", name, port);
    }
}

/* A malloc'd copy of DATA, a string (as UTF-8) or a bytevector. */
char *
gl_bytes_from_scm (SCM data, size_t *len, int pos, const char *subr)
{
  char *bytes;

  if (scm_is_string (data))
    return scm_to_utf8_stringn (data, len);
  SCM_ASSERT_TYPE (scm_is_bytevector (data), data, pos, subr,
                   "string or bytevector");
  *len = SCM_BYTEVECTOR_LENGTH (data);
  bytes = malloc (*len ? *len : 1);
  if (bytes == NULL)
    scm_report_out_of_memory ();
  memcpy (bytes, SCM_BYTEVECTOR_CONTENTS (data), *len);
  return bytes;
}

SCM
gl_bytevector_from_bytes (const char *bytes, size_t len)
{
  SCM bv = scm_c_make_bytevector (len);

  memcpy (SCM_BYTEVECTOR_CONTENTS (bv), bytes, len);
  return bv;
}

int
gl_port_from_scm (SCM port, int pos, const char *subr)
{
  SCM_ASSERT_TYPE (scm_is_integer (port)
                   && scm_is_signed_integer (port, 0, 65535),
                   port, pos, subr, "port number from 0 to 65535");
  return scm_to_int (port);
}

/* A malloc'd copy of HOST, a non-empty string. */
char *
gl_host_from_scm (SCM host, int pos, const char *subr)
{
  SCM_ASSERT_TYPE (scm_is_string (host) && scm_c_string_length (host) > 0,
                   host, pos, subr, "host name or address (a string)");
  return scm_to_utf8_string (host);
}

void
gl_tcp_init (void)
{
  uv_idle_init (gl_handles_loop (), &due_idle);
  scm_c_define_gsubr ("%tcp-connect", 4, 0, 0, tcp_connect);
  scm_c_define_gsubr ("%tcp-listen", 4, 0, 0, tcp_listen);
  scm_c_define_gsubr ("%tcp-server-port", 1, 0, 0, tcp_server_port);
  scm_c_define_gsubr ("%tcp-read", 3, 0, 0, tcp_read);
  scm_c_define_gsubr ("%tcp-on-data", 2, 0, 0, tcp_on_data);
  scm_c_define_gsubr ("%tcp-write", 4, 0, 0, tcp_write);
  scm_c_define_gsubr ("%tcp-shutdown", 3, 0, 0, tcp_shutdown);
  scm_c_define_gsubr ("%tcp-local-address", 1, 0, 0, tcp_local_address);
  scm_c_define_gsubr ("%tcp-peer-address", 1, 0, 0, tcp_peer_address);
}
