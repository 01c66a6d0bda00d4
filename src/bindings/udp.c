/* udp.c: UDP sockets on the engine's loop.  A socket is a "udp" handle,
   bound at once; it receives while it has an on-message procedure, and
   only then keeps the loop alive.  Each udp-send is a "udp-send"
   request until the datagram is handed to the system.  Addresses are
   numeric, as for tcp-listen: names are for a DNS lookup first.  The
   socket address helpers live in tcp.c. */
#include "bindings/bindings.h"

#include <stdlib.h>
#include <string.h>

/* The largest datagram: 65535 less the IP and UDP headers, and more. */
static char recv_buffer[65536];

#define SYM(s) scm_from_utf8_symbol (s)

/* The socket.  Its h->callback is the on-message procedure, or #f. */

static int
udp_sockname (const struct gl_handle *h, struct sockaddr_storage *ss)
{
  int len = sizeof *ss;
  return uv_udp_getsockname (&h->u.udp, (struct sockaddr *) ss, &len);
}

static void
udp_describe (const struct gl_handle *h, struct gl_buf *out)
{
  struct sockaddr_storage ss;

  gl_buf_puts (out, " (");
  if (udp_sockname (h, &ss) == 0)
    {
      gl_buf_puts (out, "bound to ");
      gl_sockaddr_format ((struct sockaddr *) &ss, out);
    }
  if (scm_is_true (h->callback))
    gl_buf_puts (out, ", receiving");
  gl_buf_putc (out, ')');
}

static SCM
udp_details (const struct gl_handle *h)
{
  struct sockaddr_storage ss;
  SCM out = scm_list_1 (scm_cons (SYM ("receiving"),
                                  scm_from_bool (scm_is_true (h->callback))));

  if (udp_sockname (h, &ss) == 0)
    out = scm_acons (SYM ("local"),
                     gl_sockaddr_to_scm ((struct sockaddr *) &ss), out);
  return out;
}

static const struct gl_handle_class udp_class = {
  "udp", GL_KIND_HANDLE, udp_describe, udp_details, NULL
};

static void
udp_on_alloc (uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
  *buf = uv_buf_init (recv_buffer, sizeof recv_buffer);
}

static void
udp_on_recv (uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf,
             const struct sockaddr *addr, unsigned flags)
{
  struct gl_handle *h = udp->data;
  SCM proc = h->callback;
  SCM args;

  if (nread == 0 && addr == NULL)
    return;                     /* nothing more to read this time */
  if (nread < 0)
    args = scm_list_3 (gl_uv_error (nread, "recvmsg", NULL), SCM_BOOL_F,
                       SCM_BOOL_F);
  else
    args = scm_list_3 (SCM_BOOL_F, gl_bytevector_from_bytes (buf->base, nread),
                       gl_sockaddr_to_scm (addr));
  gl_callback_run (h, proc, args);
  scm_remember_upto_here_1 (proc);
}

/* (%udp-bind ORIGIN HOST PORT PROC): a socket bound to HOST and PORT
   (0: the system chooses); (PROC err bytevector sender) for each
   datagram, where SENDER is an address alist.  PROC #f: send only. */
static SCM
udp_bind (SCM origin, SCM host, SCM port, SCM proc)
{
  static const char subr[] = "udp-bind";
  struct sockaddr_storage addr;
  struct gl_handle *h;
  char target[300];
  int cport, rc;

  cport = gl_port_from_scm (port, 2, subr);
  SCM_ASSERT_TYPE (scm_is_false (proc) || scm_is_true (scm_procedure_p (proc)),
                   proc, 3, subr, "procedure or #f");
  gl_sockaddr_from_scm (host, 1, cport, subr, "numeric IPv4 or IPv6 address",
                        &addr, target, sizeof target);
  h = gl_handle_new (&udp_class, origin, proc);
  rc = uv_udp_init (gl_handles_loop (), &h->u.udp);
  h->u.udp.data = h;
  if (rc == 0)
    rc = uv_udp_bind (&h->u.udp, (struct sockaddr *) &addr, 0);
  if (rc == 0 && scm_is_true (proc))
    rc = uv_udp_recv_start (&h->u.udp, udp_on_alloc, udp_on_recv);
  if (rc != 0)
    {
      gl_handle_close (h);
      gl_uv_raise (rc, "bind", target);
    }
  return h->object;
}

static struct gl_handle *
udp_open_from_scm (SCM obj, int pos, const char *subr)
{
  struct gl_handle *h = gl_handle_from_scm (obj, pos, subr);

  if (h && h->class != &udp_class)
    scm_wrong_type_arg_msg (subr, pos, obj, "udp handle");
  if (h == NULL || h->closing)
    gl_uv_raise (UV_EBADF, subr, "on a closed socket");
  return h;
}

/* (%udp-port SOCK): the port SOCK is bound to. */
static SCM
udp_port (SCM sock)
{
  struct gl_handle *h = udp_open_from_scm (sock, 1, "udp-port");
  struct sockaddr_storage ss;
  int rc = udp_sockname (h, &ss);

  if (rc != 0)
    gl_uv_raise (rc, "getsockname", NULL);
  if (ss.ss_family == AF_INET6)
    return scm_from_int (ntohs (((struct sockaddr_in6 *) &ss)->sin6_port));
  return scm_from_int (ntohs (((struct sockaddr_in *) &ss)->sin_port));
}

/* Sending.  The request's r->data is a copy of the datagram, r->text
   says where it goes. */

struct datagram {
  size_t len;
  char *bytes;
};

static void
send_describe (const struct gl_handle *r, struct gl_buf *out)
{
  const struct datagram *d = r->data;
  gl_buf_printf (out, " (%zu bytes to %s)", d->len, r->text);
}

static SCM
send_details (const struct gl_handle *r)
{
  const struct datagram *d = r->data;

  return scm_list_2 (scm_cons (SYM ("to"), scm_from_utf8_string (r->text)),
                     scm_cons (SYM ("bytes"), scm_from_size_t (d->len)));
}

static void
send_release (struct gl_handle *r)
{
  struct datagram *d = r->data;

  if (d)
    free (d->bytes);
  free (d);
}

static const struct gl_handle_class send_class = {
  "udp-send", GL_KIND_REQUEST, send_describe, send_details, send_release
};

static void
udp_on_send (uv_udp_send_t *req, int status)
{
  struct gl_handle *r = req->data;
  SCM proc = r->callback;
  SCM err = status ? gl_uv_error (status, "send", r->text) : SCM_BOOL_F;

  r->in_flight = 0;
  gl_callback_run (r, proc, scm_list_1 (err));
  gl_request_finish (r);
  scm_remember_upto_here_1 (proc);
}

/* (%udp-send ORIGIN SOCK DATA HOST PORT PROC): send DATA (a string, as
   UTF-8, or a bytevector) as one datagram to HOST (numeric) and PORT;
   then (PROC err).  An address that cannot be sent to raises at once,
   as Node's dgram does, and so does a datagram of 4 GiB or more. */
static SCM
udp_send (SCM origin, SCM sock, SCM data, SCM host, SCM port, SCM proc)
{
  static const char subr[] = "udp-send";
  struct gl_handle *h = udp_open_from_scm (sock, 1, subr);
  struct sockaddr_storage addr;
  struct datagram *d;
  struct gl_handle *r;
  char target[300];
  char *bytes;
  uv_buf_t buf;
  size_t len;
  int cport, rc;

  /* Port 0 is for binding: nothing can be sent to it. */
  SCM_ASSERT_TYPE (scm_is_integer (port)
                   && scm_is_signed_integer (port, 1, 65535),
                   port, 4, subr, "destination port from 1 to 65535");
  cport = scm_to_int (port);
  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (proc)), proc, 5, subr,
                   "procedure");
  gl_sockaddr_from_scm (host, 3, cport, subr, "numeric IPv4 or IPv6 address",
                        &addr, target, sizeof target);
  bytes = gl_bytes_from_scm (data, &len, 2, subr);
  /* One datagram cannot be split, and a uv_buf_t would cut it to its
     length modulo 2^32: refuse it as the kernel refuses any datagram
     too long, rather than send a shorter one. */
  if (len > UINT_MAX)
    {
      free (bytes);
      gl_uv_raise (UV_EMSGSIZE, "send", target);
    }
  d = malloc (sizeof *d);
  if (d == NULL)
    {
      free (bytes);
      scm_report_out_of_memory ();
    }
  d->bytes = bytes;
  d->len = len;
  r = gl_handle_new (&send_class, origin, proc);
  r->data = d;
  r->text = strdup (target);
  buf = uv_buf_init (d->bytes, d->len);
  rc = uv_udp_send (&r->u.udp_send, &h->u.udp, &buf, 1,
                    (struct sockaddr *) &addr, udp_on_send);
  r->u.udp_send.data = r;
  if (rc != 0)
    {
      gl_request_abandon (r);
      gl_uv_raise (rc, "send", target);
    }
  return SCM_UNSPECIFIED;
}

void
gl_udp_init (void)
{
  scm_c_define_gsubr ("%udp-bind", 4, 0, 0, udp_bind);
  scm_c_define_gsubr ("%udp-port", 1, 0, 0, udp_port);
  scm_c_define_gsubr ("%udp-send", 6, 0, 0, udp_send);
}
