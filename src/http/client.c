/* client.c: the HTTP/1.1 client of http.h.  It owns the client's timer
   and read buffer, its queue of requests (each with the bytes it
   sends, kept until its answer is in, for a retry), and its connection:
   a TCP handle freed in its close callback, and replaced by a fresh
   one when the server has closed it.  The first request of the queue
   is the one whose answer is read next; the others wait for its answer
   to be sent, unless the client pipelines, when they are sent at once
   on the same connection. */
#include "http/message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONTAINER_OF(p, type, field) \
  ((type *) ((char *) (p) - offsetof (type, field)))

struct gl_http__creq {
  struct gl_http__creq *next;
  struct gl_buf out;                /* the request's bytes */
  gl_http_response_cb cb;
  void *arg;
  int is_head;
  int sent;                         /* written on the connection */
  int answered;                     /* bytes of an answer came */
  int retried;
  int done;                         /* its callback has run */
  unsigned writes;                  /* in flight: they hold OUT */
};

struct gl_http__cconn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  http_parser parser;
  gl_http_client_t *client;
  struct gl_http__msg msg;          /* the answer being read */
  int connected;
  int reused;                       /* an answer came on it already */
  int closing;
  int complete;                     /* the answer is whole */
};

/* Requests written together, at most: a pipeline's. */
#define SEND_MAX 8

struct cwrite {
  uv_write_t req;
  struct gl_http__cconn *conn;
  struct gl_http__creq *creqs[SEND_MAX];
  unsigned n;
};

static void client_next (gl_http_client_t *cl);

/* Requests. */

static void
creq_release (struct gl_http__creq *q)
{
  if (!q->done || q->writes > 0)
    return;
  gl_buf_free (&q->out);
  free (q);
}

static struct gl_http__creq *
client_pop (gl_http_client_t *cl)
{
  struct gl_http__creq *q = cl->head;

  cl->head = q->next;
  if (cl->head == NULL)
    cl->tail = NULL;
  uv_timer_stop (&cl->timer);
  return q;
}

/* The request in flight ends with ERR. */
static void
client_fail (gl_http_client_t *cl, int err)
{
  struct gl_http__creq *q = client_pop (cl);

  q->cb (cl, err, NULL, q->arg);
  q->done = 1;
  creq_release (q);
}

/* Connections. */

/* Each request that was sent on a connection now closed, and had no
   answer on it, is sent again on the next one (the first in the queue
   by the rules of conn_lost, which see it before this). */
static void
queue_unsend (gl_http_client_t *cl)
{
  struct gl_http__creq *q;

  for (q = cl->head; q; q = q->next)
    q->sent = 0;
}

/* A request after the first was sent and waits for its answer. */
static int
queue_pipelined (const gl_http_client_t *cl)
{
  return cl->head && cl->head->next && cl->head->next->sent;
}

static void
client_maybe_closed (gl_http_client_t *cl)
{
  if (!cl->closing || cl->handles > 0)
    return;
  free (cl->read_buf);
  cl->read_buf = NULL;
  if (cl->on_close)
    cl->on_close (cl);
}

static void
conn_on_close (uv_handle_t *handle)
{
  struct gl_http__cconn *cc = handle->data;
  gl_http_client_t *cl = cc->client;

  gl_http__msg_free (&cc->msg);
  free (cc);
  cl->handles--;
  client_maybe_closed (cl);
}

static void
conn_close (struct gl_http__cconn *cc)
{
  gl_http_client_t *cl = cc->client;

  if (cc->closing)
    return;
  cc->closing = 1;
  if (cl->conn == cc)
    {
      cl->conn = NULL;
      queue_unsend (cl);
    }
  uv_close ((uv_handle_t *) &cc->tcp, conn_on_close);
}

/* The connection went (EOF, a reset, a failed write) with ERR.  A
   request that was sent on a reused connection and got no byte back
   most likely met the server's idle close: it goes once more on a
   fresh connection. */
static void
conn_lost (struct gl_http__cconn *cc, int err)
{
  gl_http_client_t *cl = cc->client;
  struct gl_http__creq *q = cl->head;
  int in_flight = q && q->sent && cl->conn == cc;

  conn_close (cc);
  if (!in_flight)
    return;
  if (cc->reused && !q->answered && !q->retried)
    q->retried = 1;
  else
    client_fail (cl, err);
  client_next (cl);
}

static void
cwrite_on_done (uv_write_t *w, int status)
{
  struct cwrite *cw = CONTAINER_OF (w, struct cwrite, req);
  struct gl_http__cconn *cc = cw->conn;
  unsigned i;

  /* The requests are still held by this write while its loss is
     handled. */
  if (status < 0 && !cc->closing)
    conn_lost (cc, status);
  for (i = 0; i < cw->n; i++)
    {
      cw->creqs[i]->writes--;
      creq_release (cw->creqs[i]);
    }
  free (cw);
}

static void
creq_sent (struct gl_http__cconn *cc, struct gl_http__creq *q)
{
  q->sent = 1;
  q->answered = 0;
  /* The parser goes on from one answer to the next of a pipeline. */
  if (q == cc->client->head)
    {
      gl_http__msg_free (&cc->msg);
      cc->complete = 0;
      http_parser_init (&cc->parser, HTTP_RESPONSE);
      cc->parser.data = cc;
    }
}

/* Write Q and, when the client pipelines, the requests after it that
   wait, in one write.  0, or the error that conn_lost took over. */
static int
conn_send (struct gl_http__cconn *cc, struct gl_http__creq *q)
{
  struct cwrite *cw = gl_http__alloc (sizeof *cw);
  uv_buf_t bufs[SEND_MAX];
  unsigned i;
  int rc;

  cw->conn = cc;
  for (; q && cw->n < SEND_MAX; q = cc->client->pipeline ? q->next : NULL)
    if (!q->sent)
      {
        creq_sent (cc, q);
        bufs[cw->n] = uv_buf_init (q->out.data, q->out.len);
        cw->creqs[cw->n++] = q;
      }
  uv_ref ((uv_handle_t *) &cc->tcp);
  rc = uv_write (&cw->req, (uv_stream_t *) &cc->tcp, bufs, cw->n,
                 cwrite_on_done);
  if (rc < 0)
    {
      free (cw);
      conn_lost (cc, rc);
      return rc;
    }
  for (i = 0; i < cw->n; i++)
    cw->creqs[i]->writes++;
  return 0;
}

/* The parser's callbacks. */

static int
on_message_begin (http_parser *p)
{
  struct gl_http__cconn *cc = p->data;

  gl_http__msg_free (&cc->msg);
  return 0;
}

static int
on_status (http_parser *p, const char *at, size_t n)
{
  struct gl_http__cconn *cc = p->data;

  gl_http__msg_line (&cc->msg, at, n);
  return 0;
}

static int
on_header_field (http_parser *p, const char *at, size_t n)
{
  struct gl_http__cconn *cc = p->data;

  gl_http__msg_field (&cc->msg, at, n);
  return 0;
}

static int
on_header_value (http_parser *p, const char *at, size_t n)
{
  struct gl_http__cconn *cc = p->data;

  gl_http__msg_value (&cc->msg, at, n);
  return 0;
}

/* 1 tells the parser that the answer to a HEAD has no body, whatever
   its Content-Length says. */
static int
on_headers_complete (http_parser *p)
{
  struct gl_http__cconn *cc = p->data;
  struct gl_http__creq *q = cc->client->head;

  gl_http__msg_head_done (&cc->msg);
  return q && q->is_head ? 1 : 0;
}

static int
on_body (http_parser *p, const char *at, size_t n)
{
  struct gl_http__cconn *cc = p->data;

  gl_buf_append (&cc->msg.body, at, n);
  return 0;
}

/* An interim answer (100 Continue) is skipped: the final one follows.
   101 is final: what follows it is another protocol. */
static int
on_message_complete (http_parser *p)
{
  struct gl_http__cconn *cc = p->data;

  if (p->status_code >= 100 && p->status_code < 200
      && p->status_code != 101)
    return 0;
  cc->complete = 1;
  http_parser_pause (p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
  .on_message_begin = on_message_begin,
  .on_status = on_status,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete
};

/* Answers. */

/* Hand the whole answer to its callback; the connection stays for the
   next request unless either side said otherwise. */
static void
conn_deliver (struct gl_http__cconn *cc, int keep)
{
  gl_http_client_t *cl = cc->client;
  struct gl_http__creq *q = client_pop (cl);
  struct gl_http__msg m = cc->msg;
  gl_http_response_t res;

  gl_http__msg_init (&cc->msg);
  cc->reused = 1;
  cc->complete = 0;
  if (!keep || !http_should_keep_alive (&cc->parser))
    conn_close (cc);
  else if (cl->head == NULL || !cl->head->sent)
    uv_unref ((uv_handle_t *) &cc->tcp);
  memset (&res, 0, sizeof res);
  res.status = cc->parser.status_code;
  res.http_major = cc->parser.http_major;
  res.http_minor = cc->parser.http_minor;
  res.reason = gl_http__msg_text (&m);
  res.headers = m.headers;
  res.nheaders = m.nheaders;
  res.body = gl_http__msg_body (&m);
  res.body_len = m.body.len;
  q->cb (cl, 0, &res, q->arg);
  q->done = 1;
  creq_release (q);
  gl_http__msg_free (&m);
  client_next (cl);
}

static void
conn_parse_failed (struct gl_http__cconn *cc)
{
  gl_http_client_t *cl = cc->client;
  int err = GL_HTTP_EPARSE (HTTP_PARSER_ERRNO (&cc->parser));

  conn_close (cc);
  client_fail (cl, err);
  client_next (cl);
}

/* The server closed its side: that may end an answer read until the
   close. */
static void
conn_on_eof (struct gl_http__cconn *cc)
{
  gl_http_client_t *cl = cc->client;
  struct gl_http__creq *q = cl->head;

  if (q == NULL || !q->sent || !q->answered)
    {
      conn_lost (cc, UV_EOF);
      return;
    }
  http_parser_execute (&cc->parser, &parser_settings, NULL, 0);
  if (cc->complete)
    conn_deliver (cc, 0);
  else if (HTTP_PARSER_ERRNO (&cc->parser) != HPE_OK)
    conn_parse_failed (cc);
  else
    conn_lost (cc, UV_EOF);
}

/* Parse DATA, answer after answer of a pipeline. */
static void
conn_input (struct gl_http__cconn *cc, const char *data, size_t len)
{
  gl_http_client_t *cl = cc->client;
  size_t n;

  while (len > 0 && !cc->closing)
    {
      struct gl_http__creq *q = cl->head;

      /* Bytes while no request is in flight: the server speaks out of
         turn, and the connection cannot be trusted. */
      if (q == NULL || !q->sent)
        {
          conn_close (cc);
          return;
        }
      q->answered = 1;
      if (HTTP_PARSER_ERRNO (&cc->parser) == HPE_PAUSED)
        http_parser_pause (&cc->parser, 0);
      n = http_parser_execute (&cc->parser, &parser_settings, data, len);
      data += n;
      len -= n;
      if (cc->complete)
        /* More bytes than the answer: the next one's, or, with no
           request after it, the server speaking out of turn. */
        conn_deliver (cc, len == 0 || queue_pipelined (cl));
      else if (HTTP_PARSER_ERRNO (&cc->parser) != HPE_OK)
        {
          conn_parse_failed (cc);
          return;
        }
    }
}

static void
conn_on_alloc (uv_handle_t *handle, size_t size, uv_buf_t *buf)
{
  struct gl_http__cconn *cc = handle->data;

  buf->base = cc->client->read_buf;
  buf->len = GL_HTTP__READ_SIZE;
}

static void
conn_on_read (uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
  struct gl_http__cconn *cc = stream->data;

  if (cc->closing)
    return;
  if (nread == UV_EOF)
    {
      conn_on_eof (cc);
      return;
    }
  if (nread < 0)
    {
      conn_lost (cc, (int) nread);
      return;
    }
  if (nread == 0)
    return;
  conn_input (cc, buf->base, (size_t) nread);
}

static void
conn_on_connect (uv_connect_t *req, int status)
{
  struct gl_http__cconn *cc = req->handle->data;
  gl_http_client_t *cl = cc->client;
  int rc;

  if (cc->closing)
    return;
  if (status < 0)
    {
      conn_close (cc);
      client_fail (cl, status);
      client_next (cl);
      return;
    }
  cc->connected = 1;
  uv_tcp_nodelay (&cc->tcp, 1);
  rc = uv_read_start ((uv_stream_t *) &cc->tcp, conn_on_alloc,
                      conn_on_read);
  if (rc < 0)
    {
      conn_close (cc);
      client_fail (cl, rc);
      client_next (cl);
      return;
    }
  client_next (cl);
}

static int
conn_open (gl_http_client_t *cl)
{
  struct gl_http__cconn *cc = gl_http__alloc (sizeof *cc);
  int rc;

  rc = uv_tcp_init (cl->loop, &cc->tcp);
  if (rc < 0)
    {
      free (cc);
      return rc;
    }
  cc->tcp.data = cc;
  cc->client = cl;
  gl_http__msg_init (&cc->msg);
  cl->handles++;
  cl->conn = cc;
  rc = uv_tcp_connect (&cc->connect, &cc->tcp,
                       (const struct sockaddr *) &cl->addr, conn_on_connect);
  if (rc < 0)
    conn_close (cc);
  return rc;
}

/* The queue. */

static void
client_on_timer (uv_timer_t *timer)
{
  gl_http_client_t *cl = timer->data;

  /* The answer may still come on that connection: it cannot serve
     another request. */
  if (cl->conn)
    conn_close (cl->conn);
  client_fail (cl, UV_ETIMEDOUT);
  client_next (cl);
}

/* Send the first request of the queue, unless it is in flight; when
   the client pipelines, each one after it too, on the same connection. */
static void
client_next (gl_http_client_t *cl)
{
  struct gl_http__creq *q;
  int rc;

  while (cl->head && !cl->closing)
    {
      if (cl->timeout && !uv_is_active ((uv_handle_t *) &cl->timer))
        uv_timer_start (&cl->timer, client_on_timer, cl->timeout, 0);
      if (cl->held)
        return;
      if (cl->conn && cl->conn->connected)
        {
          for (q = cl->head; q; q = cl->pipeline ? q->next : NULL)
            if (!q->sent)
              {
                /* conn_lost goes on from a failed one. */
                conn_send (cl->conn, q);
                return;
              }
          return;
        }
      if (cl->conn)
        return;                     /* connecting */
      rc = conn_open (cl);
      if (rc == 0)
        return;
      client_fail (cl, rc);
    }
}

/* The client. */

int
gl_http_client_init (uv_loop_t *loop, gl_http_client_t *client,
                     const char *host, int port)
{
  int rc;

  if (loop == NULL || client == NULL)
    return UV_EINVAL;
  memset (client, 0, sizeof *client);
  client->loop = loop;
  rc = gl_http__addr (host, port, &client->addr);
  if (rc < 0)
    return rc;
  if (client->addr.ss_family == AF_INET6 && host[0] != '[')
    snprintf (client->authority, sizeof client->authority, "[%s]:%d",
              host, port);
  else
    snprintf (client->authority, sizeof client->authority, "%s:%d",
              host, port);
  rc = uv_timer_init (loop, &client->timer);
  if (rc < 0)
    return rc;
  client->timer.data = client;
  client->handles = 1;
  client->read_buf = gl_http__alloc (GL_HTTP__READ_SIZE);
  return 0;
}

void
gl_http_client_set_timeout (gl_http_client_t *client, uint64_t ms)
{
  client->timeout = ms;
}

void
gl_http_client_set_pipeline (gl_http_client_t *client, int on)
{
  client->pipeline = on != 0;
}

void
gl_http_client_hold (gl_http_client_t *client, int on)
{
  client->held = on != 0;
  if (!client->held)
    client_next (client);
}

static int
is_target (const char *s)
{
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if ((unsigned char) *s <= 0x20 || (unsigned char) *s == 0x7f)
      return 0;
  return 1;
}

/* Methods that carry a body say how long it is even when it is empty,
   as RFC 9110 §8.6 asks. */
static int
wants_length (const char *method, size_t len)
{
  return len > 0 || strcmp (method, "POST") == 0
         || strcmp (method, "PUT") == 0 || strcmp (method, "PATCH") == 0;
}

int
gl_http_client_request (gl_http_client_t *client, const char *method,
                        const char *target, const gl_http_header_t *headers,
                        size_t nheaders, const char *body, size_t len,
                        gl_http_response_cb cb, void *arg)
{
  struct gl_http__creq *q;
  int rc;

  if (client->closing || cb == NULL || method == NULL || target == NULL
      || !gl_http__is_token (method) || !is_target (target)
      || (len > 0 && body == NULL))
    return UV_EINVAL;
  q = gl_http__alloc (sizeof *q);
  gl_buf_init (&q->out);
  gl_buf_printf (&q->out, "%s %s HTTP/1.1\r\n", method, target);
  if (gl_http_header_find (headers, nheaders, "Host") == NULL)
    gl_buf_printf (&q->out, "Host: %s\r\n", client->authority);
  rc = gl_http__put_headers (&q->out, headers, nheaders);
  if (rc < 0)
    {
      gl_buf_free (&q->out);
      free (q);
      return rc;
    }
  if (wants_length (method, len))
    gl_buf_printf (&q->out, "Content-Length: %zu\r\n", len);
  gl_buf_append (&q->out, "\r\n", 2);
  if (len > 0)
    gl_buf_append (&q->out, body, len);
  q->cb = cb;
  q->arg = arg;
  q->is_head = strcmp (method, "HEAD") == 0;
  if (client->tail)
    client->tail->next = q;
  else
    client->head = q;
  client->tail = q;
  client_next (client);
  return 0;
}

static void
client_on_timer_close (uv_handle_t *handle)
{
  gl_http_client_t *cl = handle->data;

  cl->handles--;
  client_maybe_closed (cl);
}

void
gl_http_client_close (gl_http_client_t *client, gl_http_client_close_cb cb)
{
  if (client->closing)
    return;
  client->closing = 1;
  client->on_close = cb;
  if (client->conn)
    conn_close (client->conn);
  while (client->head)
    client_fail (client, UV_ECANCELED);
  uv_close ((uv_handle_t *) &client->timer, client_on_timer_close);
}
