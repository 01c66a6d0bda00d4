/* http-test.c: the HTTP layer (src/http/) on its own, printing TAP.
   Everything runs on one loop on 127.0.0.1 with kernel-chosen ports:
   the layer's server and client, raw connections that send exact
   bytes (malformed ones too), and a scripted server that answers the
   client with exact bytes.  Waits are for events, each bounded by a
   deadline; every test closes what it opened, and the loop must close
   empty at the end. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include "http/http.h"
#include "core/buf.h"

/* Long enough for a loaded machine; each wait ends as soon as its
   event comes. */
#define DEADLINE 20000

static uv_loop_t loop;

/* TAP. */

static int tap_count;
static int tap_failed;

static int
ok (int cond, const char *fmt, ...)
{
  va_list ap;

  tap_count++;
  if (!cond)
    tap_failed++;
  printf ("%sok %d - ", cond ? "" : "not ", tap_count);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
  return cond;
}

static void
diag (const char *fmt, ...)
{
  va_list ap;

  printf ("# ");
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
}

/* Running the loop until something happens. */

typedef int (*pred_fn) (void *arg);

static void
on_deadline (uv_timer_t *t)
{
  *(int *) t->data = 1;
}

static void
on_deadline_closed (uv_handle_t *h)
{
  *(int *) h->data = 1;
}

/* Run the loop until PRED (ARG) holds or MS pass; returns whether it
   held. */
static int
run_until (pred_fn pred, void *arg, uint64_t ms)
{
  uv_timer_t t;
  int expired = 0, closed = 0, held;

  uv_timer_init (&loop, &t);
  t.data = &expired;
  uv_timer_start (&t, on_deadline, ms, 0);
  while (!(held = pred (arg)) && !expired)
    uv_run (&loop, UV_RUN_ONCE);
  t.data = &closed;
  uv_close ((uv_handle_t *) &t, on_deadline_closed);
  while (!closed)
    uv_run (&loop, UV_RUN_ONCE);
  return held;
}

static int
flag_set (void *arg)
{
  return *(int *) arg != 0;
}

struct at_least {
  const int *value;
  int n;
};

static int
reached (void *arg)
{
  struct at_least *a = arg;

  return *a->value >= a->n;
}

/* Run the loop until *VALUE is at least N. */
static int
wait_count (const int *value, int n)
{
  struct at_least a = { value, n };

  return run_until (reached, &a, DEADLINE);
}

/* The server under test. */

#define PARK_MAX 8

struct fixture {
  gl_http_server_t server;
  int port;
  int closed;
  int requests;                     /* handed to on_request */
  int aborts;
  int abort_err;
  gl_http_request_t *parked[PARK_MAX];
  int nparked;
  char method[16];
  char target[256];
  char xtest[64];
  int peer_port;
  int rejects;
  int reject_status;
  char reject_target[256];
  int json_rejects;                 /* answer rejects with JSON */
};

static int
peer_port (const gl_http_request_t *req)
{
  struct sockaddr_storage addr;

  if (gl_http_request_peer (req, &addr) < 0)
    return -1;
  return ntohs (((struct sockaddr_in *) &addr)->sin_port);
}

static void
copy (char *dst, size_t size, const char *src)
{
  snprintf (dst, size, "%s", src ? src : "");
}

static void
answer (gl_http_request_t *req, int status, const char *body)
{
  gl_http_header_t h[] = { { "Content-Type", "text/plain" } };
  int rc = gl_http_request_respond (req, status, h, 1, body,
                                    strlen (body));

  if (rc < 0)
    diag ("gl_http_request_respond: %s", gl_http_err_name (rc));
}

static void
park (struct fixture *f, gl_http_request_t *req)
{
  if (f->nparked == PARK_MAX)
    {
      answer (req, 503, "parking full");
      return;
    }
  req->data = f;
  f->parked[f->nparked++] = req;
}

static void
unpark (struct fixture *f, gl_http_request_t *req)
{
  int i;

  for (i = 0; i < f->nparked; i++)
    if (f->parked[i] == req)
      {
        f->parked[i] = f->parked[--f->nparked];
        return;
      }
}

/* Answer the oldest parked request. */
static void
answer_parked (struct fixture *f, int status, const char *body)
{
  gl_http_request_t *req = f->parked[0];

  memmove (f->parked, f->parked + 1, --f->nparked * sizeof *f->parked);
  answer (req, status, body);
}

static void
respond_echo (gl_http_request_t *req)
{
  const char *type = gl_http_header_find (req->headers, req->nheaders,
                                          "content-type");
  gl_http_header_t h[] = {
    { "Content-Type", type ? type : "application/octet-stream" },
    { "X-Method", req->method }
  };

  gl_http_request_respond (req, 200, h, 2, req->body, req->body_len);
}

/* Framing headers and injected lines are refused; the request stays
   unanswered, so it can be answered properly after. */
static void
respond_checked (gl_http_request_t *req)
{
  gl_http_header_t framing[] = { { "Content-Length", "3" } };
  gl_http_header_t injected[] = { { "X-A", "a\r\nX-B: b" } };
  gl_http_header_t badname[] = { { "X A", "a" } };
  int refused = 0;

  refused += gl_http_request_respond (req, 200, framing, 1, "abc", 3)
             == UV_EINVAL;
  refused += gl_http_request_respond (req, 200, injected, 1, "abc", 3)
             == UV_EINVAL;
  refused += gl_http_request_respond (req, 200, badname, 1, "abc", 3)
             == UV_EINVAL;
  refused += gl_http_request_respond (req, 99, NULL, 0, "abc", 3)
             == UV_EINVAL;
  answer (req, 200, refused == 4 ? "refused" : "accepted");
}

static void
on_request (gl_http_request_t *req)
{
  struct fixture *f = req->server->data;
  const char *t = req->target;

  f->requests++;
  copy (f->method, sizeof f->method, req->method);
  copy (f->target, sizeof f->target, t);
  copy (f->xtest, sizeof f->xtest,
        gl_http_header_find (req->headers, req->nheaders, "x-TEST"));
  f->peer_port = peer_port (req);
  if (strncmp (t, "/wait", 5) == 0)
    park (f, req);
  else if (strcmp (t, "/hello") == 0)
    answer (req, 200, "hello");
  else if (strcmp (t, "/echo") == 0)
    respond_echo (req);
  else if (strncmp (t, "/n/", 3) == 0)
    answer (req, 200, t + 3);
  else if (strcmp (t, "/checked") == 0)
    respond_checked (req);
  else if (strcmp (t, "/empty") == 0)
    gl_http_request_respond (req, 204, NULL, 0, NULL, 0);
  else
    answer (req, 404, "not found");
}

static void
on_abort (gl_http_request_t *req, int err)
{
  struct fixture *f = req->server->data;

  f->aborts++;
  f->abort_err = err;
  unpark (f, req);
}

static void
on_reject (gl_http_server_t *server, gl_http_reject_t *rej)
{
  struct fixture *f = server->data;
  static const char json[] =
    "{\"errorType\":\"RequestEntityTooLarge\"}";

  f->rejects++;
  f->reject_status = rej->status;
  copy (f->reject_target, sizeof f->reject_target, rej->target);
  if (f->json_rejects)
    {
      rej->content_type = "application/json";
      rej->body = json;
      rej->body_len = sizeof json - 1;
    }
}

static int
fixture_start_on (uv_loop_t *lp, struct fixture *f,
                  const gl_http_limits_t *limits)
{
  int rc;

  memset (f, 0, sizeof *f);
  rc = gl_http_server_init (lp, &f->server, limits);
  if (rc < 0)
    return rc;
  f->server.data = f;
  gl_http_server_on_reject (&f->server, on_reject);
  rc = gl_http_server_listen (&f->server, "127.0.0.1", 0, on_request,
                              on_abort);
  f->port = rc < 0 ? rc : gl_http_server_port (&f->server);
  return rc < 0 ? rc : 0;
}

static int
fixture_start (struct fixture *f, const gl_http_limits_t *limits)
{
  return fixture_start_on (&loop, f, limits);
}

static void
on_fixture_closed (gl_http_server_t *server)
{
  ((struct fixture *) server->data)->closed = 1;
}

static int
fixture_stop (struct fixture *f)
{
  gl_http_server_close (&f->server, on_fixture_closed);
  return run_until (flag_set, &f->closed, DEADLINE);
}

/* Raw connections: exact bytes out, everything that comes back kept. */

struct raw {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_shutdown_t shutdown;
  struct gl_buf in;
  int connected;
  int failed;
  int eof;
  int closed;
  unsigned writes;                  /* in flight */
  int write_err;
};

struct raw_write {
  uv_write_t req;
  struct raw *raw;
  char *data;
};

static void
raw_on_connect (uv_connect_t *req, int status)
{
  struct raw *r = req->handle->data;

  if (status < 0)
    r->failed = 1;
  else
    r->connected = 1;
}

static void
raw_on_alloc (uv_handle_t *h, size_t size, uv_buf_t *buf)
{
  static char space[65536];

  buf->base = space;
  buf->len = sizeof space;
}

static void
raw_on_read (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  struct raw *r = s->data;

  if (nread < 0)
    {
      r->eof = 1;
      uv_read_stop (s);
      return;
    }
  gl_buf_append (&r->in, buf->base, (size_t) nread);
}

static int
raw_settled (void *arg)
{
  struct raw *r = arg;

  return r->connected || r->failed;
}

static int
raw_open (struct raw *r, int port)
{
  struct sockaddr_in addr;

  memset (r, 0, sizeof *r);
  gl_buf_init (&r->in);
  uv_ip4_addr ("127.0.0.1", port, &addr);
  uv_tcp_init (&loop, &r->tcp);
  r->tcp.data = r;
  uv_tcp_connect (&r->connect, &r->tcp, (const struct sockaddr *) &addr,
                  raw_on_connect);
  run_until (raw_settled, r, DEADLINE);
  if (r->connected)
    uv_read_start ((uv_stream_t *) &r->tcp, raw_on_alloc, raw_on_read);
  return r->connected;
}

static void
raw_on_write (uv_write_t *w, int status)
{
  struct raw_write *rw = (struct raw_write *) w;

  rw->raw->writes--;
  if (status < 0)
    rw->raw->write_err = status;
  free (rw->data);
  free (rw);
}

static void
raw_send (struct raw *r, const char *data, size_t len)
{
  struct raw_write *rw = calloc (1, sizeof *rw);
  uv_buf_t buf;

  rw->raw = r;
  rw->data = malloc (len);
  memcpy (rw->data, data, len);
  buf = uv_buf_init (rw->data, len);
  r->writes++;
  if (uv_write (&rw->req, (uv_stream_t *) &r->tcp, &buf, 1,
                raw_on_write) < 0)
    {
      r->writes--;
      free (rw->data);
      free (rw);
    }
}

static void
raw_puts (struct raw *r, const char *s)
{
  raw_send (r, s, strlen (s));
}

static void
raw_on_shutdown (uv_shutdown_t *req, int status)
{
}

static void
raw_shutdown (struct raw *r)
{
  uv_shutdown (&r->shutdown, (uv_stream_t *) &r->tcp, raw_on_shutdown);
}

static void
raw_on_close (uv_handle_t *h)
{
  ((struct raw *) h->data)->closed = 1;
}

static void
raw_close (struct raw *r)
{
  if (!uv_is_closing ((uv_handle_t *) &r->tcp))
    uv_close ((uv_handle_t *) &r->tcp, raw_on_close);
  run_until (flag_set, &r->closed, DEADLINE);
  gl_buf_free (&r->in);
}

/* The responses in what a raw connection received. */

#define RESP_MAX 8

struct resp {
  int status;
  char body[256];
  size_t body_len;
  int conn_close;                   /* said Connection: close */
  int keep_alive;                   /* said Connection: keep-alive */
  int last_was_connection;
  char content_type[64];
  int last_was_type;
};

struct resps {
  struct resp r[RESP_MAX];
  int n;
};

static int
resp_begin (http_parser *p)
{
  struct resps *rs = p->data;

  if (rs->n < RESP_MAX)
    memset (&rs->r[rs->n], 0, sizeof rs->r[0]);
  return 0;
}

static int
resp_field (http_parser *p, const char *at, size_t n)
{
  struct resps *rs = p->data;
  struct resp *r = &rs->r[rs->n < RESP_MAX ? rs->n : RESP_MAX - 1];

  r->last_was_connection = n == 10 && strncasecmp (at, "Connection", n) == 0;
  r->last_was_type = n == 12 && strncasecmp (at, "Content-Type", n) == 0;
  return 0;
}

static int
resp_value (http_parser *p, const char *at, size_t n)
{
  struct resps *rs = p->data;
  struct resp *r = &rs->r[rs->n < RESP_MAX ? rs->n : RESP_MAX - 1];

  if (r->last_was_connection)
    {
      r->conn_close |= n == 5 && strncasecmp (at, "close", n) == 0;
      r->keep_alive |= n == 10 && strncasecmp (at, "keep-alive", n) == 0;
    }
  if (r->last_was_type && n < sizeof r->content_type)
    {
      memcpy (r->content_type, at, n);
      r->content_type[n] = '\0';
    }
  return 0;
}

static int
resp_body (http_parser *p, const char *at, size_t n)
{
  struct resps *rs = p->data;
  struct resp *r = &rs->r[rs->n < RESP_MAX ? rs->n : RESP_MAX - 1];
  size_t room = sizeof r->body - 1 - r->body_len;

  if (n > room)
    n = room;
  memcpy (r->body + r->body_len, at, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  return 0;
}

static int
resp_complete (http_parser *p)
{
  struct resps *rs = p->data;

  if (rs->n < RESP_MAX)
    rs->r[rs->n++].status = p->status_code;
  return 0;
}

/* Parse every complete response RAW received so far into RS; a 100
   Continue counts as one. */
static int
raw_responses (const struct raw *r, struct resps *rs)
{
  static const http_parser_settings s = {
    .on_message_begin = resp_begin,
    .on_header_field = resp_field,
    .on_header_value = resp_value,
    .on_body = resp_body,
    .on_message_complete = resp_complete
  };
  http_parser p;

  memset (rs, 0, sizeof *rs);
  http_parser_init (&p, HTTP_RESPONSE);
  p.data = rs;
  http_parser_execute (&p, &s, r->in.data ? r->in.data : "", r->in.len);
  return rs->n;
}

struct want {
  struct raw *raw;
  int n;
};

static int
has_responses (void *arg)
{
  struct want *w = arg;
  struct resps rs;

  return raw_responses (w->raw, &rs) >= w->n || w->raw->eof;
}

/* Wait for N responses (or the end of the stream), then parse them. */
static int
raw_wait (struct raw *r, int n, struct resps *rs)
{
  struct want w = { r, n };

  run_until (has_responses, &w, DEADLINE);
  return raw_responses (r, rs);
}

static int
raw_eof (void *arg)
{
  return ((struct raw *) arg)->eof;
}

static int
raw_written (void *arg)
{
  return ((struct raw *) arg)->writes == 0;
}

/* A fresh connection is served: the server survived what came before. */
static int
serves_fresh (struct fixture *f)
{
  struct raw r;
  struct resps rs;
  int good;

  if (!raw_open (&r, f->port))
    return 0;
  raw_puts (&r, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  good = raw_wait (&r, 1, &rs) == 1 && rs.r[0].status == 200
         && strcmp (rs.r[0].body, "hello") == 0;
  raw_close (&r);
  return good;
}

/* Calls through the layer's client. */

struct call {
  int done;
  int err;
  int status;
  struct gl_buf body;
  char content_type[64];
  char xmethod[16];
  char content_length[24];
};

static void
on_response (gl_http_client_t *client, int err,
             const gl_http_response_t *res, void *arg)
{
  struct call *c = arg;

  c->done = 1;
  c->err = err;
  if (res == NULL)
    return;
  c->status = res->status;
  gl_buf_append (&c->body, res->body, res->body_len);
  copy (c->content_type, sizeof c->content_type,
        gl_http_header_find (res->headers, res->nheaders, "content-type"));
  copy (c->xmethod, sizeof c->xmethod,
        gl_http_header_find (res->headers, res->nheaders, "X-Method"));
  copy (c->content_length, sizeof c->content_length,
        gl_http_header_find (res->headers, res->nheaders,
                             "Content-Length"));
}

static int
call_start (gl_http_client_t *cl, struct call *c, const char *method,
            const char *target, const gl_http_header_t *h, size_t n,
            const char *body, size_t len)
{
  memset (c, 0, sizeof *c);
  gl_buf_init (&c->body);
  c->err = gl_http_client_request (cl, method, target, h, n, body, len,
                                   on_response, c);
  if (c->err < 0)
    c->done = 1;
  return c->err;
}

static const char *
call_body (const struct call *c)
{
  return c->body.data ? c->body.data : "";
}

static int
call (gl_http_client_t *cl, struct call *c, const char *method,
      const char *target, const char *body)
{
  call_start (cl, c, method, target, NULL, 0, body, body ? strlen (body) : 0);
  run_until (flag_set, &c->done, DEADLINE);
  return c->done && c->err == 0;
}

static void
call_free (struct call *c)
{
  gl_buf_free (&c->body);
}

static void
on_client_closed (gl_http_client_t *client)
{
  *(int *) client->data = 1;
}

static int
client_stop (gl_http_client_t *cl)
{
  int closed = 0;

  cl->data = &closed;
  gl_http_client_close (cl, on_client_closed);
  return run_until (flag_set, &closed, DEADLINE);
}

static int
client_idle_closed (void *arg)
{
  return ((gl_http_client_t *) arg)->conn == NULL;
}

/* A scripted server: answers the Nth request it reads (any connection)
   with exact bytes; a NULL answer closes the connection unanswered. */

struct script_answer {
  const char *bytes;
  int then_close;
};

struct script {
  uv_tcp_t tcp;
  int port;
  const struct script_answer *answers;
  int nanswers;
  int requests;
  int connections;
  int closed;
  int open_conns;
};

struct script_conn {
  uv_tcp_t tcp;
  uv_write_t write;
  uv_shutdown_t shutdown;
  struct script *s;
  struct gl_buf in;
};

static void
script_conn_on_close (uv_handle_t *h)
{
  struct script_conn *sc = h->data;

  sc->s->open_conns--;
  gl_buf_free (&sc->in);
  free (sc);
}

static void
script_conn_close (struct script_conn *sc)
{
  if (!uv_is_closing ((uv_handle_t *) &sc->tcp))
    uv_close ((uv_handle_t *) &sc->tcp, script_conn_on_close);
}

static void
script_on_shutdown (uv_shutdown_t *req, int status)
{
  script_conn_close (req->data);
}

static void
script_on_write (uv_write_t *req, int status)
{
}

static void
script_on_read (uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
  struct script_conn *sc = stream->data;
  struct script *s = sc->s;
  const struct script_answer *a;
  char *end;
  uv_buf_t out;

  if (nread < 0)
    {
      script_conn_close (sc);
      return;
    }
  gl_buf_append (&sc->in, buf->base, (size_t) nread);
  /* The client's requests here have no body: a head is a request. */
  while (sc->in.len && (end = strstr (sc->in.data, "\r\n\r\n")))
    {
      size_t used = end + 4 - sc->in.data;

      memmove (sc->in.data, sc->in.data + used, sc->in.len - used + 1);
      sc->in.len -= used;
      a = s->requests < s->nanswers ? &s->answers[s->requests] : NULL;
      s->requests++;
      if (a == NULL || a->bytes == NULL)
        {
          script_conn_close (sc);
          return;
        }
      out = uv_buf_init ((char *) a->bytes, strlen (a->bytes));
      uv_write (&sc->write, stream, &out, 1, script_on_write);
      if (a->then_close)
        {
          uv_read_stop (stream);
          sc->shutdown.data = sc;
          uv_shutdown (&sc->shutdown, stream, script_on_shutdown);
          return;
        }
    }
}

static void
script_on_connection (uv_stream_t *listener, int status)
{
  struct script *s = listener->data;
  struct script_conn *sc;

  if (status < 0)
    return;
  sc = calloc (1, sizeof *sc);
  sc->s = s;
  gl_buf_init (&sc->in);
  uv_tcp_init (&loop, &sc->tcp);
  sc->tcp.data = sc;
  s->open_conns++;
  if (uv_accept (listener, (uv_stream_t *) &sc->tcp) < 0)
    {
      script_conn_close (sc);
      return;
    }
  s->connections++;
  uv_read_start ((uv_stream_t *) &sc->tcp, raw_on_alloc, script_on_read);
}

static int
script_start (struct script *s, const struct script_answer *answers, int n)
{
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound;

  memset (s, 0, sizeof *s);
  s->answers = answers;
  s->nanswers = n;
  uv_ip4_addr ("127.0.0.1", 0, &addr);
  uv_tcp_init (&loop, &s->tcp);
  s->tcp.data = s;
  if (uv_tcp_bind (&s->tcp, (const struct sockaddr *) &addr, 0) < 0
      || uv_listen ((uv_stream_t *) &s->tcp, 16, script_on_connection) < 0)
    return -1;
  uv_tcp_getsockname (&s->tcp, (struct sockaddr *) &bound, &len);
  s->port = ntohs (((struct sockaddr_in *) &bound)->sin_port);
  return 0;
}

static void
script_on_close (uv_handle_t *h)
{
  ((struct script *) h->data)->closed = 1;
}

static int
script_idle (void *arg)
{
  struct script *s = arg;

  return s->closed && s->open_conns == 0;
}

/* Close the listener; the connections close when the client leaves. */
static int
script_stop (struct script *s)
{
  uv_close ((uv_handle_t *) &s->tcp, script_on_close);
  return run_until (script_idle, s, DEADLINE);
}

/* Round trips through the layer's own client. */

static void
test_round_trips (void)
{
  struct fixture f;
  gl_http_client_t cl;
  gl_http_header_t h[] = { { "X-Test", "yes" },
                           { "Content-Type", "application/json" } };
  struct call c;
  struct gl_buf big;
  size_t i;

  ok (fixture_start (&f, NULL) == 0 && f.port > 0,
      "server listens on 127.0.0.1, kernel-chosen port");
  ok (gl_http_client_init (&loop, &cl, "127.0.0.1", f.port) == 0,
      "client set up");

  call_start (&cl, &c, "GET", "/hello", h, 1, NULL, 0);
  run_until (flag_set, &c.done, DEADLINE);
  ok (c.err == 0 && c.status == 200 && strcmp (call_body (&c), "hello") == 0
      && strcmp (c.content_type, "text/plain") == 0
      && strcmp (c.content_length, "5") == 0,
      "GET: 200, body, Content-Type as given, Content-Length");
  ok (strcmp (f.method, "GET") == 0 && strcmp (f.target, "/hello") == 0
      && strcmp (f.xtest, "yes") == 0,
      "the server saw method, target and a header found without regard "
      "to case");
  call_free (&c);

  call_start (&cl, &c, "POST", "/echo", h + 1, 1, "{\"a\":1}", 7);
  run_until (flag_set, &c.done, DEADLINE);
  ok (c.err == 0 && c.status == 200
      && strcmp (call_body (&c), "{\"a\":1}") == 0
      && strcmp (c.content_type, "application/json") == 0
      && strcmp (c.xmethod, "POST") == 0,
      "POST: the body comes back");
  call_free (&c);

  /* A body bigger than one read, with every byte value in it. */
  gl_buf_init (&big);
  for (i = 0; i < 300000; i++)
    gl_buf_putc (&big, (char) (i * 7));
  call_start (&cl, &c, "PUT", "/echo", NULL, 0, big.data, big.len);
  run_until (flag_set, &c.done, DEADLINE);
  ok (c.err == 0 && c.body.len == big.len
      && memcmp (c.body.data, big.data, big.len) == 0,
      "PUT of 300000 binary bytes comes back whole");
  call_free (&c);
  gl_buf_free (&big);

  call_start (&cl, &c, "HEAD", "/hello", NULL, 0, NULL, 0);
  run_until (flag_set, &c.done, DEADLINE);
  ok (c.err == 0 && c.status == 200 && c.body.len == 0
      && strcmp (c.content_length, "5") == 0,
      "HEAD: Content-Length of the body, no body");
  call_free (&c);

  call (&cl, &c, "GET", "/empty", NULL);
  ok (c.err == 0 && c.status == 204 && c.body.len == 0
      && c.content_length[0] == '\0',
      "204: no body, no Content-Length");
  call_free (&c);

  call (&cl, &c, "GET", "/checked", NULL);
  ok (c.err == 0 && strcmp (call_body (&c), "refused") == 0,
      "respond refuses framing headers, CR LF in a value, a bad name, a "
      "bad status, and the request can still be answered");
  call_free (&c);

  ok (gl_http_client_request (&cl, "GET", "/a b", NULL, 0, NULL, 0,
                              on_response, &c) == UV_EINVAL
      && gl_http_client_request (&cl, "GE T", "/", NULL, 0, NULL, 0,
                                 on_response, &c) == UV_EINVAL,
      "the client refuses a bad target or method");

  ok (client_stop (&cl), "client closes");
  ok (fixture_stop (&f), "server closes");
}

static void
test_keep_alive (void)
{
  struct fixture f;
  gl_http_client_t cl;
  struct call c[3];
  int ports[3], i, all = 1;

  fixture_start (&f, NULL);
  gl_http_client_init (&loop, &cl, "localhost", f.port);
  /* Queued at once: the client sends each after the previous answer. */
  call_start (&cl, &c[0], "GET", "/n/0", NULL, 0, NULL, 0);
  call_start (&cl, &c[1], "POST", "/n/1", NULL, 0, "x", 1);
  call_start (&cl, &c[2], "GET", "/n/2", NULL, 0, NULL, 0);
  for (i = 0; i < 3; i++)
    {
      char want[12];

      run_until (flag_set, &c[i].done, DEADLINE);
      ports[i] = f.peer_port;
      snprintf (want, sizeof want, "%d", i);
      all = all && c[i].err == 0 && strcmp (call_body (&c[i]), want) == 0;
      call_free (&c[i]);
    }
  ok (all && f.requests == 3, "three queued requests, three answers in "
      "order");
  ok (ports[0] == ports[1] && ports[1] == ports[2],
      "all on one kept-alive connection (peer port %d)", ports[0]);
  client_stop (&cl);
  fixture_stop (&f);
}

/* Pipelining: held, then released, the requests leave in one write, so
   the server has read all three by the time the first answer is in. */
static void
test_pipeline (void)
{
  struct fixture f;
  gl_http_client_t cl;
  struct call c[3];
  int i, all = 1, seen = -1;

  fixture_start (&f, NULL);
  gl_http_client_init (&loop, &cl, "localhost", f.port);
  gl_http_client_set_pipeline (&cl, 1);
  gl_http_client_hold (&cl, 1);
  call_start (&cl, &c[0], "GET", "/n/0", NULL, 0, NULL, 0);
  call_start (&cl, &c[1], "POST", "/n/1", NULL, 0, "x", 1);
  call_start (&cl, &c[2], "GET", "/n/2", NULL, 0, NULL, 0);
  gl_http_client_hold (&cl, 0);
  for (i = 0; i < 3; i++)
    {
      char want[12];

      run_until (flag_set, &c[i].done, DEADLINE);
      if (i == 0)
        seen = f.requests;
      snprintf (want, sizeof want, "%d", i);
      all = all && c[i].err == 0 && strcmp (call_body (&c[i]), want) == 0;
      call_free (&c[i]);
    }
  ok (all, "pipelined: three answers, in order");
  ok (seen == 3, "pipelined: the server had all three requests when the "
      "first answer came (%d)", seen);
  client_stop (&cl);
  fixture_stop (&f);
}

/* A pipelined request whose connection the server closes after the
   answer before it goes again on a fresh connection. */
static void
test_pipeline_close (void)
{
  static const struct script_answer answers[] = {
    { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
      "first", 1 },
    { "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond", 0 }
  };
  struct script s;
  gl_http_client_t cl;
  struct call c[2];

  script_start (&s, answers, 2);
  gl_http_client_init (&loop, &cl, "127.0.0.1", s.port);
  gl_http_client_set_pipeline (&cl, 1);
  gl_http_client_hold (&cl, 1);
  call_start (&cl, &c[0], "GET", "/1", NULL, 0, NULL, 0);
  call_start (&cl, &c[1], "GET", "/2", NULL, 0, NULL, 0);
  gl_http_client_hold (&cl, 0);
  run_until (flag_set, &c[1].done, DEADLINE);
  ok (c[0].err == 0 && strcmp (call_body (&c[0]), "first") == 0
      && c[1].err == 0 && strcmp (call_body (&c[1]), "second") == 0
      && s.connections == 2,
      "pipelined: a request left unanswered by a closing server goes "
      "again on a fresh connection (%d connections)", s.connections);
  call_free (&c[0]);
  call_free (&c[1]);
  client_stop (&cl);
  ok (script_stop (&s), "pipelined: scripted server closes");
}

/* A long poll: answered later, while another connection is served, and
   past the idle timeout, which must not run while a request waits. */

static void
on_late_timer (uv_timer_t *t)
{
  answer_parked (t->data, 200, "late");
}

static void
test_deferred (void)
{
  struct fixture f;
  gl_http_limits_t limits;
  gl_http_client_t a, b;
  struct call ca, cb;
  uv_timer_t late;
  int b_first;

  gl_http_limits_init (&limits);
  limits.idle_timeout = 50;
  fixture_start (&f, &limits);
  gl_http_client_init (&loop, &a, "127.0.0.1", f.port);
  gl_http_client_init (&loop, &b, "127.0.0.1", f.port);
  call_start (&a, &ca, "GET", "/wait/next", NULL, 0, NULL, 0);
  run_until (flag_set, &f.nparked, DEADLINE);
  ok (f.nparked == 1, "the long poll is parked by its owner");
  call (&b, &cb, "GET", "/hello", NULL);
  b_first = cb.done && cb.status == 200 && !ca.done;
  ok (b_first, "a second connection is served while it waits");
  /* Answer it well after the idle timeout would have fired. */
  uv_timer_init (&loop, &late);
  late.data = &f;
  uv_timer_start (&late, on_late_timer, 6 * limits.idle_timeout, 0);
  run_until (flag_set, &ca.done, DEADLINE);
  ok (ca.err == 0 && ca.status == 200 && strcmp (call_body (&ca), "late") == 0,
      "the long poll gets its late answer (err %s)",
      ca.err ? gl_http_err_name (ca.err) : "none");
  ok (f.aborts == 0, "no abort reported");
  uv_close ((uv_handle_t *) &late, NULL);
  call_free (&ca);
  call_free (&cb);
  client_stop (&a);
  client_stop (&b);
  fixture_stop (&f);
}

static void
test_abort (void)
{
  struct fixture f;
  gl_http_client_t cl;
  struct call c;
  struct raw r;

  fixture_start (&f, NULL);
  raw_open (&r, f.port);
  raw_puts (&r, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
  run_until (flag_set, &f.nparked, DEADLINE);
  raw_close (&r);
  wait_count (&f.aborts, 1);
  ok (f.aborts == 1 && f.nparked == 0,
      "a client that leaves while its request waits: abort reported (%s)",
      f.aborts ? gl_http_err_name (f.abort_err) : "none");

  /* The client's timeout gives up on a long poll; its connection goes,
     and the server's owner hears of it. */
  gl_http_client_init (&loop, &cl, "127.0.0.1", f.port);
  gl_http_client_set_timeout (&cl, 100);
  call (&cl, &c, "GET", "/wait", NULL);
  ok (c.err == UV_ETIMEDOUT, "client timeout: %s",
      c.err ? gl_http_err_name (c.err) : "none");
  wait_count (&f.aborts, 2);
  call_free (&c);
  gl_http_client_set_timeout (&cl, 0);
  call (&cl, &c, "GET", "/hello", NULL);
  ok (c.err == 0 && c.status == 200 && f.aborts == 2,
      "after a timeout the client goes on on a fresh connection");
  call_free (&c);

  /* Closing the server aborts what waits. */
  call_start (&cl, &c, "GET", "/wait", NULL, 0, NULL, 0);
  run_until (flag_set, &f.nparked, DEADLINE);
  ok (fixture_stop (&f) && f.aborts == 3 && f.abort_err == UV_ECANCELED,
      "closing the server aborts the waiting request (ECANCELED) and "
      "frees all");
  run_until (flag_set, &c.done, DEADLINE);
  /* Its connection had served an answer, so the client tries once more,
     and finds no server. */
  ok (c.done && (c.err == UV_EOF || c.err == UV_ECONNREFUSED),
      "its client sees the connection end (%s)",
      gl_http_err_name (c.err));
  call_free (&c);
  client_stop (&cl);
}

static void
test_pipelined (void)
{
  struct fixture f;
  struct raw r;
  struct resps rs;

  fixture_start (&f, NULL);
  raw_open (&r, f.port);
  raw_puts (&r, "GET /wait/1 HTTP/1.1\r\nHost: t\r\n\r\n"
            "GET /n/2 HTTP/1.1\r\nHost: t\r\n\r\n"
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\n3");
  run_until (raw_written, &r, DEADLINE);
  run_until (flag_set, &f.nparked, DEADLINE);
  ok (f.requests == 1, "pipelined requests wait behind the first "
      "(%d handed over)", f.requests);
  answer_parked (&f, 200, "1");
  raw_wait (&r, 3, &rs);
  ok (rs.n == 3 && strcmp (rs.r[0].body, "1") == 0
      && strcmp (rs.r[1].body, "2") == 0 && strcmp (rs.r[2].body, "3") == 0,
      "three pipelined requests answered in order");
  raw_close (&r);
  fixture_stop (&f);
}

static void
test_connection_rules (void)
{
  struct fixture f;
  struct raw r;
  struct resps rs;

  fixture_start (&f, NULL);
  raw_open (&r, f.port);
  raw_puts (&r, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  raw_wait (&r, 1, &rs);
  run_until (raw_eof, &r, DEADLINE);
  ok (rs.n == 1 && rs.r[0].conn_close && r.eof,
      "Connection: close is answered with it, then the server closes");
  raw_close (&r);

  raw_open (&r, f.port);
  raw_puts (&r, "GET /hello HTTP/1.0\r\n\r\n");
  raw_wait (&r, 1, &rs);
  run_until (raw_eof, &r, DEADLINE);
  ok (rs.n == 1 && rs.r[0].status == 200 && rs.r[0].conn_close && r.eof,
      "HTTP/1.0: answered, then closed");
  raw_close (&r);

  raw_open (&r, f.port);
  raw_puts (&r, "GET /n/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  raw_wait (&r, 1, &rs);
  raw_puts (&r, "GET /n/b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  raw_wait (&r, 2, &rs);
  ok (rs.n == 2 && rs.r[0].keep_alive && strcmp (rs.r[1].body, "b") == 0
      && !r.eof, "HTTP/1.0 with keep-alive: kept");
  raw_close (&r);

  raw_open (&r, f.port);
  raw_puts (&r, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
            "Expect: 100-continue\r\n\r\n");
  raw_wait (&r, 1, &rs);
  ok (rs.n == 1 && rs.r[0].status == 100,
      "Expect: 100-continue gets 100 Continue before the body is sent");
  raw_puts (&r, "body");
  raw_wait (&r, 2, &rs);
  ok (rs.n == 2 && rs.r[1].status == 200 && strcmp (rs.r[1].body, "body") == 0,
      "then the answer");
  raw_close (&r);

  raw_open (&r, f.port);
  raw_puts (&r, "POST /echo HTTP/1.1\r\nHost: t\r\n"
            "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  run_until (raw_written, &r, DEADLINE);
  raw_puts (&r, "6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  raw_wait (&r, 1, &rs);
  ok (rs.n == 1 && rs.r[0].status == 200
      && strcmp (rs.r[0].body, "hello world") == 0,
      "a chunked request body, split over two writes, with an extension "
      "and a trailer, arrives de-chunked");
  raw_close (&r);
  fixture_stop (&f);
}

/* Malformed traffic: each gets its answer or a closed connection, and
   the server goes on serving. */

struct bad_case {
  const char *name;
  const char *bytes;
  int status;                       /* 0: closed without an answer */
};

static void
test_bad_bytes (void)
{
  static const struct bad_case cases[] = {
    { "a bad request line", "GARBAGE\r\n\r\n", 400 },
    { "a bad HTTP version", "GET / HTTP/9.x\r\n\r\n", 400 },
    { "a bad header line", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400 },
    { "a bad Content-Length",
      "POST /echo HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400 },
    { "Content-Length and chunked together",
      "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n"
      "Transfer-Encoding: chunked\r\n\r\n", 400 },
    { "a bad chunk size",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400 },
    { "a chunk size that overflows",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "fffffffffffffffffff\r\n", 400 },
    { "a chunk without its CR LF",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nabc\r\n", 400 }
  };
  struct fixture f;
  size_t i;

  fixture_start (&f, NULL);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      const struct bad_case *bc = &cases[i];
      struct raw r;
      struct resps rs;

      raw_open (&r, f.port);
      raw_puts (&r, bc->bytes);
      raw_wait (&r, 1, &rs);
      run_until (raw_eof, &r, DEADLINE);
      ok (rs.n == 1 && rs.r[0].status == bc->status && rs.r[0].conn_close
          && r.eof, "%s: %d, then closed", bc->name, bc->status);
      raw_close (&r);
    }
  ok (f.requests == 0 && f.rejects == (int) i,
      "none reached the owner; the reject callback saw each");
  ok (serves_fresh (&f), "the server still serves a fresh connection");
  fixture_stop (&f);
}

static void
test_head_too_large (void)
{
  struct fixture f;
  struct raw r;
  struct resps rs;
  struct gl_buf req;

  fixture_start (&f, NULL);
  gl_buf_init (&req);
  gl_buf_puts (&req, "GET /hello HTTP/1.1\r\nX-Big: ");
  while (req.len < GL_HTTP_HEADER_MAX + 100)
    gl_buf_puts (&req, "0123456789");
  gl_buf_puts (&req, "\r\n\r\n");
  raw_open (&r, f.port);
  raw_send (&r, req.data, req.len);
  raw_wait (&r, 1, &rs);
  run_until (raw_eof, &r, DEADLINE);
  ok (rs.n == 1 && rs.r[0].status == 431 && r.eof,
      "a header block over %d bytes: 431, then closed", GL_HTTP_HEADER_MAX);
  raw_close (&r);

  /* Many small headers add up the same way. */
  gl_buf_reset (&req);
  gl_buf_puts (&req, "GET /hello HTTP/1.1\r\n");
  while (req.len < GL_HTTP_HEADER_MAX + 100)
    gl_buf_puts (&req, "X-Small: 1\r\n");
  raw_open (&r, f.port);
  raw_send (&r, req.data, req.len);
  raw_wait (&r, 1, &rs);
  run_until (raw_eof, &r, DEADLINE);
  ok (rs.n == 1 && rs.r[0].status == 431 && r.eof,
      "many small headers over the limit, unfinished: 431");
  raw_close (&r);
  gl_buf_free (&req);

  /* Just under the limit is fine. */
  gl_buf_init (&req);
  gl_buf_puts (&req, "GET /hello HTTP/1.1\r\nX-Big: ");
  while (req.len < GL_HTTP_HEADER_MAX - 100)
    gl_buf_puts (&req, "0123456789");
  gl_buf_puts (&req, "\r\n\r\n");
  raw_open (&r, f.port);
  raw_send (&r, req.data, req.len);
  raw_wait (&r, 1, &rs);
  ok (rs.n == 1 && rs.r[0].status == 200, "a head just under it: 200");
  raw_close (&r);
  gl_buf_free (&req);
  ok (serves_fresh (&f), "the server still serves a fresh connection");
  fixture_stop (&f);
}

static void
test_truncated (void)
{
  struct fixture f;
  struct raw r;

  fixture_start (&f, NULL);
  raw_open (&r, f.port);
  raw_puts (&r, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n"
            "\r\nonly ten b");
  raw_shutdown (&r);
  run_until (raw_eof, &r, DEADLINE);
  ok (r.eof && r.in.len == 0 && f.requests == 0,
      "a truncated body, then the client leaves: closed, no answer, "
      "nothing handed over");
  raw_close (&r);
  ok (serves_fresh (&f), "the server still serves a fresh connection");
  fixture_stop (&f);
}

static void
send_big_body (struct raw *r, int chunked, size_t total)
{
  static char block[65536];
  size_t sent;

  memset (block, 'x', sizeof block);
  if (!chunked)
    {
      char head[128];

      snprintf (head, sizeof head, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                "Content-Length: %zu\r\n\r\n", total);
      raw_puts (r, head);
    }
  else
    raw_puts (r, "POST /echo HTTP/1.1\r\nHost: t\r\n"
              "Transfer-Encoding: chunked\r\n\r\n");
  for (sent = 0; sent < total; sent += sizeof block)
    {
      size_t n = total - sent < sizeof block ? total - sent : sizeof block;

      if (chunked)
        {
          char size[32];

          snprintf (size, sizeof size, "%zx\r\n", n);
          raw_puts (r, size);
        }
      raw_send (r, block, n);
      if (chunked)
        raw_puts (r, "\r\n");
    }
  if (chunked)
    raw_puts (r, "0\r\n\r\n");
}

static void
test_body_too_large (void)
{
  struct fixture f;
  int chunked;

  fixture_start (&f, NULL);
  f.json_rejects = 1;
  for (chunked = 0; chunked < 2; chunked++)
    {
      struct raw r;
      struct resps rs;

      raw_open (&r, f.port);
      send_big_body (&r, chunked, GL_HTTP_BODY_MAX + 100000);
      raw_wait (&r, 1, &rs);
      run_until (raw_written, &r, DEADLINE);
      raw_shutdown (&r);
      run_until (raw_eof, &r, DEADLINE);
      ok (rs.n == 1 && rs.r[0].status == 413 && r.eof,
          "a body over 6 MB, %s: 413, then closed",
          chunked ? "chunked" : "Content-Length declared");
      ok (f.reject_status == 413 && strcmp (f.reject_target, "/echo") == 0
          && strcmp (rs.r[0].content_type, "application/json") == 0
          && strstr (rs.r[0].body, "RequestEntityTooLarge") != NULL,
          "the reject callback knew the target and gave the body");
      ok (r.write_err == 0, "the whole body was read and dropped, no reset");
      raw_close (&r);
    }
  ok (f.requests == 0, "nothing handed over");
  ok (serves_fresh (&f), "the server still serves a fresh connection");

  /* The layer's client, sending too much, reads the 413 rather than a
     reset. */
  {
    gl_http_client_t cl;
    struct call c;
    char *big = calloc (1, GL_HTTP_BODY_MAX + 1);

    gl_http_client_init (&loop, &cl, "127.0.0.1", f.port);
    call_start (&cl, &c, "POST", "/echo", NULL, 0, big,
                GL_HTTP_BODY_MAX + 1);
    run_until (flag_set, &c.done, DEADLINE);
    ok (c.err == 0 && c.status == 413,
        "the client posting 6 MB and 1 byte gets the 413 (%s)",
        c.err ? gl_http_err_name (c.err) : "no error");
    call_free (&c);
    free (big);
    client_stop (&cl);
  }

  /* Exactly the limit is accepted. */
  {
    struct raw r;
    struct resps rs;

    raw_open (&r, f.port);
    send_big_body (&r, 1, GL_HTTP_BODY_MAX);
    raw_wait (&r, 1, &rs);
    if (!ok (rs.n == 1 && rs.r[0].status == 200 && f.requests == 2,
             "a chunked body of exactly 6 MB: 200"))
      diag ("%d responses, status %d, %d requests, %zu bytes in, eof %d",
            rs.n, rs.r[0].status, f.requests, r.in.len, r.eof);
    raw_close (&r);
  }
  fixture_stop (&f);
}

static void
test_timeouts (void)
{
  struct fixture f;
  gl_http_limits_t limits;
  struct raw r;
  struct resps rs;

  gl_http_limits_init (&limits);
  limits.header_timeout = 200;
  limits.body_timeout = 200;
  limits.idle_timeout = 200;
  fixture_start (&f, &limits);

  raw_open (&r, f.port);
  raw_puts (&r, "GET /hello HTTP/1.1\r\nHost: t");
  raw_wait (&r, 1, &rs);
  run_until (raw_eof, &r, DEADLINE);
  ok (rs.n == 1 && rs.r[0].status == 408 && r.eof,
      "half a head, then nothing: 408, then closed");
  raw_close (&r);

  raw_open (&r, f.port);
  raw_puts (&r, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
            "\r\nabc");
  raw_wait (&r, 1, &rs);
  run_until (raw_eof, &r, DEADLINE);
  ok (rs.n == 1 && rs.r[0].status == 408 && r.eof,
      "a body that stalls: 408, then closed");
  raw_close (&r);

  raw_open (&r, f.port);
  raw_puts (&r, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  raw_wait (&r, 1, &rs);
  run_until (raw_eof, &r, DEADLINE);
  ok (rs.n == 1 && rs.r[0].status == 200 && r.eof && f.rejects == 2,
      "an idle kept-alive connection is closed after the idle timeout, "
      "without an answer");
  raw_close (&r);
  ok (serves_fresh (&f), "the server still serves a fresh connection");
  fixture_stop (&f);
}

/* The client against exact bytes. */

static void
test_client_bodies (void)
{
  static const struct script_answer answers[] = {
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n", 0 },
    { "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", 0 },
    { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
      "Content-Length: 2\r\n\r\nok", 0 },
    { "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the close", 1 },
    { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh", 0 },
    { NULL, 0 },
    { "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nretried", 0 },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 0 }
  };
  struct script s;
  gl_http_client_t cl;
  struct call c;

  script_start (&s, answers, sizeof answers / sizeof answers[0]);
  gl_http_client_init (&loop, &cl, "127.0.0.1", s.port);

  call (&cl, &c, "GET", "/1", NULL);
  ok (c.err == 0 && strcmp (call_body (&c), "Wikipedia") == 0,
      "a chunked response body arrives de-chunked");
  call_free (&c);
  call (&cl, &c, "GET", "/2", NULL);
  ok (c.err == 0 && strcmp (call_body (&c), "next") == 0
      && s.connections == 1, "then another answer on the same connection");
  call_free (&c);
  call (&cl, &c, "GET", "/3", NULL);
  ok (c.err == 0 && c.status == 201 && strcmp (call_body (&c), "ok") == 0,
      "100 Continue is skipped for the final answer");
  call_free (&c);
  call (&cl, &c, "GET", "/4", NULL);
  ok (c.err == 0 && strcmp (call_body (&c), "until the close") == 0,
      "a body read until the server closes");
  call_free (&c);
  call (&cl, &c, "GET", "/5", NULL);
  ok (c.err == 0 && strcmp (call_body (&c), "fresh") == 0
      && s.connections == 2, "the next request opens a fresh connection");
  call_free (&c);
  call (&cl, &c, "GET", "/6", NULL);
  ok (c.err == 0 && strcmp (call_body (&c), "retried") == 0
      && s.connections == 3 && s.requests == 7,
      "a reused connection closed before any answer: sent once more on a "
      "fresh one");
  call_free (&c);
  call (&cl, &c, "GET", "/7", NULL);
  ok (c.err == GL_HTTP_EPARSE (HPE_INVALID_CHUNK_SIZE),
      "a bad chunk in an answer: %s (%s)", gl_http_err_name (c.err),
      gl_http_strerror (c.err));
  call_free (&c);
  client_stop (&cl);
  ok (script_stop (&s), "scripted server closes");
}

static void
test_client_reconnect (void)
{
  struct fixture f;
  gl_http_limits_t limits;
  gl_http_client_t cl;
  struct call c;
  int first_port;
  uv_tcp_t probe;
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound, closed_port;

  gl_http_limits_init (&limits);
  limits.idle_timeout = 100;
  fixture_start (&f, &limits);
  gl_http_client_init (&loop, &cl, "127.0.0.1", f.port);
  call (&cl, &c, "GET", "/hello", NULL);
  first_port = f.peer_port;
  call_free (&c);
  ok (run_until (client_idle_closed, &cl, DEADLINE),
      "the server's idle timeout closes the client's connection");
  call (&cl, &c, "GET", "/hello", NULL);
  ok (c.err == 0 && c.status == 200 && f.peer_port != first_port,
      "the client reconnects for the next request");
  call_free (&c);
  client_stop (&cl);
  fixture_stop (&f);

  /* A port nobody listens on: one that was just bound and closed. */
  uv_tcp_init (&loop, &probe);
  uv_ip4_addr ("127.0.0.1", 0, &addr);
  uv_tcp_bind (&probe, (const struct sockaddr *) &addr, 0);
  uv_tcp_getsockname (&probe, (struct sockaddr *) &bound, &len);
  closed_port = ntohs (((struct sockaddr_in *) &bound)->sin_port);
  uv_close ((uv_handle_t *) &probe, NULL);
  gl_http_client_init (&loop, &cl, "127.0.0.1", closed_port);
  call (&cl, &c, "GET", "/", NULL);
  ok (c.err == UV_ECONNREFUSED, "no server: %s",
      c.err ? gl_http_err_name (c.err) : "none");
  call_free (&c);
  client_stop (&cl);
}

/* The client on a private loop, as a Runtime API client uses it: the
   caller blocks in uv_run until the answer is in, though the kept-alive
   connection stays.  The server runs on a loop of its own, in a thread. */

struct server_thread {
  uv_loop_t loop;
  uv_async_t stop;
  uv_sem_t ready;
  struct fixture f;
  int start_rc;
};

static void
on_stop (uv_async_t *async)
{
  struct server_thread *t = async->data;

  gl_http_server_close (&t->f.server, on_fixture_closed);
  uv_close ((uv_handle_t *) &t->stop, NULL);
}

static void
server_thread_main (void *arg)
{
  struct server_thread *t = arg;

  uv_loop_init (&t->loop);
  uv_async_init (&t->loop, &t->stop, on_stop);
  t->stop.data = t;
  t->start_rc = fixture_start_on (&t->loop, &t->f, NULL);
  uv_sem_post (&t->ready);
  uv_run (&t->loop, UV_RUN_DEFAULT);
  uv_loop_close (&t->loop);
}

static void
test_private_loop (void)
{
  struct server_thread t;
  uv_thread_t thread;
  uv_loop_t own;
  gl_http_client_t cl;
  struct call c;
  int i, good = 1, closed = 0;

  uv_sem_init (&t.ready, 0);
  uv_thread_create (&thread, server_thread_main, &t);
  uv_sem_wait (&t.ready);
  uv_loop_init (&own);
  gl_http_client_init (&own, &cl, "127.0.0.1", t.f.port);
  for (i = 0; i < 2; i++)
    {
      call_start (&cl, &c, "GET", "/hello", NULL, 0, NULL, 0);
      uv_run (&own, UV_RUN_DEFAULT);
      good = good && c.done && c.err == 0
             && strcmp (call_body (&c), "hello") == 0;
      call_free (&c);
    }
  ok (t.start_rc == 0 && good,
      "on a private loop, uv_run returns once each answer is in");
  ok (cl.conn != NULL, "and the connection is kept for the next request");
  cl.data = &closed;
  gl_http_client_close (&cl, on_client_closed);
  uv_run (&own, UV_RUN_DEFAULT);
  ok (closed && uv_loop_close (&own) == 0,
      "closing the client leaves its loop empty");
  uv_async_send (&t.stop);
  uv_thread_join (&thread);
  uv_sem_destroy (&t.ready);
  ok (t.f.closed && t.f.requests == 2,
      "the server on its own thread served both and closed");
}

static void
count_handle (uv_handle_t *h, void *arg)
{
  ++*(int *) arg;
  diag ("left open: %s", uv_handle_type_name (uv_handle_get_type (h)));
}

int
main (void)
{
  int left = 0;

  /* A write to a peer that has gone must fail, not kill the program. */
  signal (SIGPIPE, SIG_IGN);
  uv_loop_init (&loop);
  test_round_trips ();
  test_keep_alive ();
  test_pipeline ();
  test_deferred ();
  test_abort ();
  test_pipelined ();
  test_connection_rules ();
  test_bad_bytes ();
  test_head_too_large ();
  test_truncated ();
  test_body_too_large ();
  test_timeouts ();
  test_client_bodies ();
  test_pipeline_close ();
  test_client_reconnect ();
  test_private_loop ();
  uv_run (&loop, UV_RUN_NOWAIT);
  uv_walk (&loop, count_handle, &left);
  ok (left == 0 && uv_loop_close (&loop) == 0,
      "every test closed what it opened");
  printf ("1..%d\n", tap_count);
  return tap_failed ? 1 : 0;
}
