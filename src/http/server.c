/* server.c: the HTTP/1.1 server of http.h.  It owns the listening
   handle and its read buffer, each connection (a TCP handle and a
   timer, freed once both are closed), the request read on it until it
   is answered or aborted, and the writes of answers.

   A connection reads one request at a time, and its state says which
   timeout runs: idle (between requests), head, body, then waiting for
   the owner's answer (no timeout), then idle again; or, after a
   closing answer, lingering until the client closes too. */
#include "http/message.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Node's default. */
#define LISTEN_BACKLOG 511

/* Bytes of pipelined requests held while an earlier one waits for its
   answer.  Past this the connection stops reading until the answer,
   and would not notice its client leave meanwhile: a client that needs
   more is flooding, not pipelining. */
#define PIPELINE_MAX (64 * 1024)

#define CONTAINER_OF(p, type, field) \
  ((type *) ((char *) (p) - offsetof (type, field)))

/* The states that read a request come first: conn_input parses only
   in those. */
enum conn_state {
  CONN_IDLE,                        /* between requests */
  CONN_HEAD,                        /* a head is arriving */
  CONN_BODY,                        /* its body is arriving */
  CONN_WAITING,                     /* the owner has it */
  CONN_LINGER,                      /* answered for the last time */
  CONN_CLOSING                      /* handles closing */
};

struct req {
  gl_http_request_t pub;
  struct gl_http__conn *conn;
  struct gl_http__msg msg;
  int handed;                       /* the owner has it */
  int aborted;                      /* its abort callback is running */
  int keep_alive;
  int is_head;
};

struct gl_http__conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shutdown;
  http_parser parser;
  gl_http_server_t *server;
  struct gl_http__conn *prev;
  struct gl_http__conn *next;
  enum conn_state state;
  struct req *req;                  /* being read, or waiting */
  struct gl_buf in;                 /* read, not parsed: pipelined */
  struct gl_buf corked;             /* answered while parsing, unsent */
  size_t head_bytes;
  int reject;                       /* set by a parser callback */
  char detail[160];                 /* why, for that reject */
  int reading;
  int parsing;                      /* inside conn_input */
  int shutting;                     /* uv_shutdown called */
  unsigned writes;                  /* in flight */
  int handles;                      /* open */
};

struct write_req {
  uv_write_t req;
  struct gl_http__conn *conn;
  struct gl_buf out;
};

static void conn_close (struct gl_http__conn *c, int err);
static void conn_input (struct gl_http__conn *c, const char *data,
                        size_t len);
static void conn_reject (struct gl_http__conn *c, int status,
                         const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

/* Requests. */

static struct req *
req_new (struct gl_http__conn *c)
{
  struct req *r = gl_http__alloc (sizeof *r);

  r->conn = c;
  r->pub.server = c->server;
  gl_http__msg_init (&r->msg);
  return r;
}

static void
req_free (struct req *r)
{
  gl_http__msg_free (&r->msg);
  free (r);
}

/* Free the connection's request; the owner hears of it if it had it. */
static void
conn_abort_req (struct gl_http__conn *c, int err)
{
  struct req *r = c->req;
  gl_http_abort_cb cb = c->server->on_abort;

  if (r == NULL)
    return;
  c->req = NULL;
  r->aborted = 1;
  if (r->handed && cb)
    cb (&r->pub, err);
  req_free (r);
}

/* Timers and reading. */

static void conn_on_timer (uv_timer_t *timer);

static void
conn_timer (struct gl_http__conn *c, uint64_t ms)
{
  if (ms == 0)
    uv_timer_stop (&c->timer);
  else
    uv_timer_start (&c->timer, conn_on_timer, ms, 0);
}

static void
conn_idle (struct gl_http__conn *c)
{
  c->state = CONN_IDLE;
  conn_timer (c, c->server->limits.idle_timeout);
}

/* The header timeout is a deadline for the whole head, not a limit on
   silence: a client that trickles a byte at a time is still too slow. */
static void
conn_head (struct gl_http__conn *c)
{
  c->state = CONN_HEAD;
  c->head_bytes = 0;
  conn_timer (c, c->server->limits.header_timeout);
}

static void
conn_on_alloc (uv_handle_t *handle, size_t size, uv_buf_t *buf)
{
  struct gl_http__conn *c = handle->data;

  /* One buffer serves every connection: libuv hands each read to its
     callback before it reads another stream. */
  buf->base = c->server->read_buf;
  buf->len = GL_HTTP__READ_SIZE;
}

static void conn_on_read (uv_stream_t *stream, ssize_t nread,
                          const uv_buf_t *buf);

static void
conn_read_update (struct gl_http__conn *c)
{
  int want = c->state != CONN_CLOSING
             && !(c->state == CONN_WAITING && c->in.len >= PIPELINE_MAX);
  int rc;

  if (want == c->reading)
    return;
  if (!want)
    {
      uv_read_stop ((uv_stream_t *) &c->tcp);
      c->reading = 0;
      return;
    }
  rc = uv_read_start ((uv_stream_t *) &c->tcp, conn_on_alloc, conn_on_read);
  if (rc < 0)
    conn_close (c, rc);
  else
    c->reading = 1;
}

/* Writing. */

static void
conn_on_write (uv_write_t *w, int status)
{
  struct write_req *wr = CONTAINER_OF (w, struct write_req, req);
  struct gl_http__conn *c = wr->conn;

  gl_buf_free (&wr->out);
  free (wr);
  c->writes--;
  if (status < 0)
    conn_close (c, status);
}

/* Write OUT, whose memory the write takes over. */
static void
conn_write (struct gl_http__conn *c, struct gl_buf *out)
{
  struct write_req *wr;
  uv_buf_t buf;
  int rc;

  if (c->corked.len > 0)
    {
      gl_buf_append (&c->corked, out->data, out->len);
      gl_buf_free (out);
      *out = c->corked;
      gl_buf_init (&c->corked);
    }
  wr = gl_http__alloc (sizeof *wr);
  wr->conn = c;
  wr->out = *out;
  gl_buf_init (out);
  buf = uv_buf_init (wr->out.data, wr->out.len);
  rc = uv_write (&wr->req, (uv_stream_t *) &c->tcp, &buf, 1, conn_on_write);
  if (rc < 0)
    {
      gl_buf_free (&wr->out);
      free (wr);
      conn_close (c, rc);
      return;
    }
  c->writes++;
}

/* Answers given while a read is parsed wait for the end of it and go
   out in one write: a pipelined request's answer and the next one's,
   when the owner answers both at once, reach the client together. */
static void
conn_cork (struct gl_http__conn *c, struct gl_buf *out)
{
  gl_buf_append (&c->corked, out->data, out->len);
  gl_buf_free (out);
}

static void
conn_uncork (struct gl_http__conn *c)
{
  struct gl_buf out;

  if (c->corked.len == 0 || c->state == CONN_CLOSING)
    return;
  out = c->corked;
  gl_buf_init (&c->corked);
  conn_write (c, &out);
}

static void
conn_on_shutdown (uv_shutdown_t *sreq, int status)
{
  struct gl_http__conn *c = CONTAINER_OF (sreq, struct gl_http__conn,
                                          shutdown);

  if (status < 0 || c->server->closing
      || c->server->limits.linger_timeout == 0)
    conn_close (c, status);
}

/* The last answer is written: send FIN after it, then read and drop
   what the client still sends until it closes or the linger timeout,
   for a close with unread data would reset the connection and could
   destroy the answer before the client reads it. */
static void
conn_linger (struct gl_http__conn *c)
{
  int rc;

  conn_uncork (c);
  c->state = CONN_LINGER;
  gl_buf_free (&c->in);
  conn_timer (c, c->server->limits.linger_timeout);
  conn_read_update (c);
  if (c->state == CONN_CLOSING || c->shutting)
    return;
  rc = uv_shutdown (&c->shutdown, (uv_stream_t *) &c->tcp, conn_on_shutdown);
  if (rc < 0)
    conn_close (c, rc);
  else
    c->shutting = 1;
}

/* Answers of the server's own. */

static void
reject_answer (struct gl_http__conn *c, gl_http_reject_t *rej,
               const char *text, size_t text_len)
{
  struct gl_buf out;
  const char *reason = http_status_str ((enum http_status) rej->status);

  if (rej->content_type == NULL
      || !gl_http__is_field_value (rej->content_type)
      || (rej->body == NULL && rej->body_len > 0))
    {
      rej->content_type = "text/plain; charset=utf-8";
      rej->body = text;
      rej->body_len = text_len;
    }
  gl_buf_init (&out);
  gl_buf_printf (&out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 rej->status, reason, rej->content_type, rej->body_len);
  if (rej->body_len > 0)
    gl_buf_append (&out, rej->body, rej->body_len);
  conn_write (c, &out);
}

/* Answer STATUS, say why in the body, and close the connection: what
   comes after a bad request cannot be trusted to be a request. */
static void
conn_reject (struct gl_http__conn *c, int status, const char *fmt, ...)
{
  gl_http_server_t *s = c->server;
  gl_http_reject_t rej;
  struct gl_buf text;
  va_list ap;
  char detail[256];

  va_start (ap, fmt);
  vsnprintf (detail, sizeof detail, fmt, ap);
  va_end (ap);
  memset (&rej, 0, sizeof rej);
  rej.status = status;
  rej.detail = detail;
  if (c->req && c->req->msg.head_done)
    {
      rej.method = c->req->pub.method;
      rej.target = c->req->pub.target;
      rej.headers = c->req->pub.headers;
      rej.nheaders = c->req->pub.nheaders;
    }
  gl_buf_init (&text);
  gl_buf_printf (&text, "%s\n", detail);
  rej.content_type = "text/plain; charset=utf-8";
  rej.body = text.data;
  rej.body_len = text.len;
  if (s->on_reject)
    s->on_reject (s, &rej);
  reject_answer (c, &rej, text.data, text.len);
  gl_buf_free (&text);
  conn_abort_req (c, 0);
  if (c->state != CONN_CLOSING)
    conn_linger (c);
}

/* The parser's callbacks. */

static int
on_message_begin (http_parser *p)
{
  struct gl_http__conn *c = p->data;

  c->req = req_new (c);
  return 0;
}

static int
on_url (http_parser *p, const char *at, size_t n)
{
  struct gl_http__conn *c = p->data;

  gl_http__msg_line (&c->req->msg, at, n);
  return 0;
}

static int
on_header_field (http_parser *p, const char *at, size_t n)
{
  struct gl_http__conn *c = p->data;

  gl_http__msg_field (&c->req->msg, at, n);
  return 0;
}

static int
on_header_value (http_parser *p, const char *at, size_t n)
{
  struct gl_http__conn *c = p->data;

  gl_http__msg_value (&c->req->msg, at, n);
  return 0;
}

static int
body_expected (const http_parser *p)
{
  return (p->flags & F_CHUNKED)
         || (p->content_length > 0 && p->content_length != UINT64_MAX);
}

/* A client that sent Expect: 100-continue waits for a go-ahead before
   its body (curl does, for a second, past 1 MB). */
static void
conn_continue (struct gl_http__conn *c)
{
  static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
  const char *expect = gl_http_header_find (c->req->pub.headers,
                                            c->req->pub.nheaders, "Expect");
  struct gl_buf out;

  if (expect == NULL || strcasecmp (expect, "100-continue") != 0
      || c->req->pub.http_minor == 0)
    return;
  gl_buf_init (&out);
  gl_buf_append (&out, line, sizeof line - 1);
  conn_write (c, &out);
}

static int
on_headers_complete (http_parser *p)
{
  struct gl_http__conn *c = p->data;
  struct req *r = c->req;
  size_t max = c->server->limits.body_max;

  gl_http__msg_head_done (&r->msg);
  r->pub.method = http_method_str ((enum http_method) p->method);
  r->pub.target = gl_http__msg_text (&r->msg);
  r->pub.http_major = p->http_major;
  r->pub.http_minor = p->http_minor;
  r->pub.headers = r->msg.headers;
  r->pub.nheaders = r->msg.nheaders;
  r->is_head = p->method == HTTP_HEAD;
  if (!body_expected (p))
    return 0;
  if (max && !(p->flags & F_CHUNKED) && p->content_length > max)
    {
      c->reject = 413;
      snprintf (c->detail, sizeof c->detail,
                "request body of %llu bytes is over the limit of %zu",
                (unsigned long long) p->content_length, max);
      return -1;
    }
  if (!(p->flags & F_CHUNKED))
    gl_buf_reserve (&r->msg.body, p->content_length);
  conn_continue (c);
  c->state = CONN_BODY;
  conn_timer (c, c->server->limits.body_timeout);
  return 0;
}

static int
on_body (http_parser *p, const char *at, size_t n)
{
  struct gl_http__conn *c = p->data;
  struct gl_buf *body = &c->req->msg.body;
  size_t max = c->server->limits.body_max;

  if (max && n > max - body->len)
    {
      c->reject = 413;
      snprintf (c->detail, sizeof c->detail,
                "chunked request body is over the limit of %zu bytes", max);
      return -1;
    }
  gl_buf_append (body, at, n);
  return 0;
}

/* Stop at the end of each request: the next one on the connection is
   parsed only once this one is answered. */
static int
on_message_complete (http_parser *p)
{
  struct gl_http__conn *c = p->data;
  struct req *r = c->req;

  r->keep_alive = http_should_keep_alive (p);
  r->pub.body = gl_http__msg_body (&r->msg);
  r->pub.body_len = r->msg.body.len;
  c->state = CONN_WAITING;
  uv_timer_stop (&c->timer);
  http_parser_pause (p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete
};

/* Reading requests. */

static void
conn_parse_failed (struct gl_http__conn *c, enum http_errno err)
{
  if (c->reject)
    conn_reject (c, c->reject, "%s", c->detail);
  else if (err == HPE_HEADER_OVERFLOW)
    conn_reject (c, 431, "request line and headers are over the limit "
                 "of %d bytes", HTTP_MAX_HEADER_SIZE);
  else
    conn_reject (c, 400, "malformed request: %s (%s)",
                 http_errno_description (err), http_errno_name (err));
}

/* Feed the parser what it may take of DATA: while the head is read,
   no more than the header limit allows.  Returns the bytes taken. */
static size_t
conn_parse (struct gl_http__conn *c, const char *data, size_t len)
{
  http_parser *p = &c->parser;
  size_t max = c->server->limits.header_max;
  int in_head = c->state == CONN_HEAD;
  enum http_errno err;
  size_t n;

  if (HTTP_PARSER_ERRNO (p) == HPE_PAUSED)
    http_parser_pause (p, 0);
  if (in_head && max)
    {
      if (c->head_bytes >= max)
        {
          conn_reject (c, 431, "request line and headers are over the "
                       "limit of %zu bytes", max);
          return len;
        }
      if (len > max - c->head_bytes)
        len = max - c->head_bytes;
    }
  n = http_parser_execute (p, &parser_settings, data, len);
  if (in_head)
    c->head_bytes += n;
  err = HTTP_PARSER_ERRNO (p);
  if (err != HPE_OK && err != HPE_PAUSED)
    {
      conn_parse_failed (c, err);
      return len;
    }
  return n;
}

static void
conn_dispatch (struct gl_http__conn *c)
{
  c->req->handed = 1;
  c->server->on_request (&c->req->pub);
}

/* Parse DATA, request after request, as long as each is answered at
   once; what follows a request that waits is kept for later. */
static void
conn_input (struct gl_http__conn *c, const char *data, size_t len)
{
  size_t n;

  c->parsing = 1;
  while (len > 0 && c->state <= CONN_BODY)
    {
      if (c->state == CONN_IDLE)
        conn_head (c);
      n = conn_parse (c, data, len);
      data += n;
      len -= n;
      if (c->state == CONN_WAITING)
        conn_dispatch (c);
    }
  if (len > 0 && c->state == CONN_WAITING)
    gl_buf_append (&c->in, data, len);
  c->parsing = 0;
  conn_uncork (c);
  if (c->server->on_flush)
    c->server->on_flush (c->server);
}

/* The waiting request was answered: go on with what was read meanwhile. */
static void
conn_resume (struct gl_http__conn *c)
{
  struct gl_buf in = c->in;

  gl_buf_init (&c->in);
  conn_input (c, in.data, in.len);
  gl_buf_free (&in);
  conn_read_update (c);
}

static void
conn_on_read (uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
  struct gl_http__conn *c = stream->data;

  if (nread < 0)
    {
      /* Also while a request waits: a client that half-closes is taken
         to be gone, as nginx takes it, so that a long poll is given up
         as soon as its client has left. */
      conn_close (c, (int) nread);
      return;
    }
  switch (c->state)
    {
    case CONN_IDLE:
    case CONN_HEAD:
    case CONN_BODY:
      conn_input (c, buf->base, (size_t) nread);
      if (c->state == CONN_BODY)
        conn_timer (c, c->server->limits.body_timeout);
      break;
    case CONN_WAITING:
      gl_buf_append (&c->in, buf->base, (size_t) nread);
      conn_read_update (c);
      break;
    default:
      break;                        /* lingering: dropped */
    }
}

static void
conn_on_timer (uv_timer_t *timer)
{
  struct gl_http__conn *c = timer->data;
  const gl_http_limits_t *l = &c->server->limits;

  switch (c->state)
    {
    case CONN_IDLE:
      /* An answer still being written is not idleness. */
      if (c->writes > 0)
        conn_timer (c, l->idle_timeout);
      else
        conn_close (c, UV_ETIMEDOUT);
      break;
    case CONN_HEAD:
      conn_reject (c, 408, "request head not received within %llu ms",
                   (unsigned long long) l->header_timeout);
      break;
    case CONN_BODY:
      conn_reject (c, 408, "request body stalled for %llu ms",
                   (unsigned long long) l->body_timeout);
      break;
    case CONN_LINGER:
      conn_close (c, UV_ETIMEDOUT);
      break;
    default:
      break;
    }
}

/* Connections. */

static void
server_maybe_closed (gl_http_server_t *s)
{
  if (!s->closing || s->tcp_open || s->conns)
    return;
  free (s->read_buf);
  s->read_buf = NULL;
  if (s->on_close)
    s->on_close (s);
}

static void
conn_on_close (uv_handle_t *handle)
{
  struct gl_http__conn *c = handle->data;
  gl_http_server_t *s = c->server;

  if (--c->handles > 0)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  gl_buf_free (&c->in);
  gl_buf_free (&c->corked);
  free (c);
  server_maybe_closed (s);
}

/* ERR says why, for a waiting request's owner. */
static void
conn_close (struct gl_http__conn *c, int err)
{
  if (c->state == CONN_CLOSING)
    return;
  c->state = CONN_CLOSING;
  conn_abort_req (c, err);
  uv_close ((uv_handle_t *) &c->tcp, conn_on_close);
  uv_close ((uv_handle_t *) &c->timer, conn_on_close);
}

static void
server_on_connection (uv_stream_t *listener, int status)
{
  gl_http_server_t *s = listener->data;
  struct gl_http__conn *c;
  int rc;

  /* libuv tries again on its own (it keeps a spare descriptor for a
     full table), and the server has no one to tell. */
  if (status < 0)
    return;
  c = gl_http__alloc (sizeof *c);
  c->server = s;
  gl_buf_init (&c->in);
  gl_buf_init (&c->corked);
  uv_tcp_init (s->loop, &c->tcp);
  uv_timer_init (s->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  http_parser_init (&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  conn_idle (c);
  rc = uv_accept (listener, (uv_stream_t *) &c->tcp);
  if (rc < 0)
    {
      conn_close (c, rc);
      return;
    }
  /* Answers are written whole; waiting for an ACK before the next
     small one would only add latency. */
  uv_tcp_nodelay (&c->tcp, 1);
  conn_read_update (c);
}

/* Shut a connection for the server's close: answers given are still
   written, nothing more is read. */
static void
conn_drop (struct gl_http__conn *c)
{
  int rc;

  if (c->state == CONN_CLOSING)
    return;
  conn_abort_req (c, UV_ECANCELED);
  if (c->state == CONN_CLOSING)
    return;
  conn_uncork (c);
  if (c->writes == 0)
    {
      conn_close (c, UV_ECANCELED);
      return;
    }
  c->state = CONN_LINGER;
  uv_timer_stop (&c->timer);
  uv_read_stop ((uv_stream_t *) &c->tcp);
  c->reading = 0;
  if (c->shutting)
    return;
  rc = uv_shutdown (&c->shutdown, (uv_stream_t *) &c->tcp, conn_on_shutdown);
  if (rc < 0)
    conn_close (c, rc);
  else
    c->shutting = 1;
}

/* The server. */

int
gl_http_server_init (uv_loop_t *loop, gl_http_server_t *server,
                     const gl_http_limits_t *limits)
{
  int rc;

  if (loop == NULL || server == NULL)
    return UV_EINVAL;
  memset (server, 0, sizeof *server);
  server->loop = loop;
  if (limits)
    server->limits = *limits;
  else
    gl_http_limits_init (&server->limits);
  rc = uv_tcp_init (loop, &server->tcp);
  if (rc < 0)
    return rc;
  server->tcp.data = server;
  server->tcp_open = 1;
  server->read_buf = gl_http__alloc (GL_HTTP__READ_SIZE);
  return 0;
}

void
gl_http_server_on_flush (gl_http_server_t *server, gl_http_flush_cb cb)
{
  server->on_flush = cb;
}

void
gl_http_server_on_reject (gl_http_server_t *server, gl_http_reject_cb cb)
{
  server->on_reject = cb;
}

int
gl_http_server_listen (gl_http_server_t *server, const char *host,
                       int port, gl_http_request_cb on_request,
                       gl_http_abort_cb on_abort)
{
  struct sockaddr_storage addr;
  int rc;

  if (on_request == NULL || server->closing)
    return UV_EINVAL;
  rc = gl_http__addr (host, port, &addr);
  if (rc < 0)
    return rc;
  rc = uv_tcp_bind (&server->tcp, (const struct sockaddr *) &addr, 0);
  if (rc < 0)
    return rc;
  server->on_request = on_request;
  server->on_abort = on_abort;
  return uv_listen ((uv_stream_t *) &server->tcp, LISTEN_BACKLOG,
                    server_on_connection);
}

int
gl_http_server_port (const gl_http_server_t *server)
{
  struct sockaddr_storage addr;
  int len = sizeof addr;
  int rc;

  rc = uv_tcp_getsockname (&server->tcp, (struct sockaddr *) &addr, &len);
  if (rc < 0)
    return rc;
  if (addr.ss_family == AF_INET6)
    return ntohs (((struct sockaddr_in6 *) &addr)->sin6_port);
  return ntohs (((struct sockaddr_in *) &addr)->sin_port);
}

static void
server_on_tcp_close (uv_handle_t *handle)
{
  gl_http_server_t *s = handle->data;

  s->tcp_open = 0;
  server_maybe_closed (s);
}

void
gl_http_server_stop (gl_http_server_t *server)
{
  struct gl_http__conn *c, *next;

  if (server->closing || server->stopping)
    return;
  server->stopping = 1;
  uv_close ((uv_handle_t *) &server->tcp, server_on_tcp_close);
  for (c = server->conns; c; c = next)
    {
      next = c->next;
      if (c->state == CONN_IDLE)
        conn_linger (c);
    }
}

void
gl_http_server_close (gl_http_server_t *server, gl_http_server_close_cb cb)
{
  struct gl_http__conn *c, *next;

  if (server->closing)
    return;
  server->closing = 1;
  server->on_close = cb;
  if (!uv_is_closing ((uv_handle_t *) &server->tcp))
    uv_close ((uv_handle_t *) &server->tcp, server_on_tcp_close);
  for (c = server->conns; c; c = next)
    {
      next = c->next;
      conn_drop (c);
    }
  /* Stopped before, with nothing left open: closed now. */
  server_maybe_closed (server);
}

/* Answers. */

static int
answer_has_body (const struct req *r, int status)
{
  return !r->is_head && status != 204 && status != 304;
}

int
gl_http_request_respond (gl_http_request_t *req, int status,
                         const gl_http_header_t *headers, size_t nheaders,
                         const char *body, size_t len)
{
  struct req *r = CONTAINER_OF (req, struct req, pub);
  struct gl_http__conn *c = r->conn;
  const char *reason = http_status_str ((enum http_status) status);
  struct gl_buf out;
  int keep, rc;

  if (r->aborted || c->req != r || c->state != CONN_WAITING)
    return UV_EINVAL;
  if (status < 200 || status > 599 || (len > 0 && body == NULL))
    return UV_EINVAL;
  if (strcmp (reason, "<unknown>") == 0)
    reason = "";
  keep = r->keep_alive && !c->server->closing && !c->server->stopping;
  gl_buf_init (&out);
  gl_buf_printf (&out, "HTTP/1.1 %d %s\r\n", status, reason);
  rc = gl_http__put_headers (&out, headers, nheaders);
  if (rc < 0)
    {
      gl_buf_free (&out);
      return rc;
    }
  if (status != 204 && status != 304)
    gl_buf_printf (&out, "Content-Length: %zu\r\n", len);
  if (!keep)
    gl_buf_puts (&out, "Connection: close\r\n");
  else if (req->http_major == 1 && req->http_minor == 0)
    gl_buf_puts (&out, "Connection: keep-alive\r\n");
  gl_buf_append (&out, "\r\n", 2);
  if (answer_has_body (r, status) && len > 0)
    gl_buf_append (&out, body, len);
  c->req = NULL;
  req_free (r);
  if (c->parsing && keep)
    conn_cork (c, &out);
  else
    conn_write (c, &out);
  if (c->state == CONN_CLOSING)
    return 0;
  if (!keep)
    conn_linger (c);
  else
    {
      conn_idle (c);
      if (!c->parsing)
        conn_resume (c);
    }
  return 0;
}

int
gl_http_request_peer (const gl_http_request_t *req,
                      struct sockaddr_storage *addr)
{
  const struct req *r = CONTAINER_OF (req, const struct req, pub);
  int len = sizeof *addr;

  return uv_tcp_getpeername (&r->conn->tcp, (struct sockaddr *) addr, &len);
}
