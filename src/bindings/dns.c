/* dns.c: host name lookup with getaddrinfo on libuv's thread pool, as
   Node's dns.lookup: the system resolver (/etc/hosts, then DNS), not a
   DNS client of our own.  Each lookup is one request "getaddrinfo" in
   the registry. */
#include "bindings/bindings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
getaddrinfo_describe (const struct gl_handle *h, struct gl_buf *out)
{
  gl_buf_printf (out, " (host %s)", h->text);
}

static SCM
getaddrinfo_details (const struct gl_handle *h)
{
  return scm_list_1 (scm_cons (scm_from_utf8_symbol ("host"),
                               scm_from_utf8_string (h->text)));
}

static const struct gl_handle_class getaddrinfo_class = {
  "getaddrinfo", GL_KIND_REQUEST, getaddrinfo_describe, getaddrinfo_details,
  NULL
};

/* One address as an alist; *TEXT gets its printed form. */
static SCM
address_to_scm (const struct sockaddr *sa, char *text, size_t size)
{
  const char *family;

  if (sa->sa_family == AF_INET6)
    {
      uv_ip6_name ((const struct sockaddr_in6 *) sa, text, size);
      family = "ipv6";
    }
  else
    {
      uv_ip4_name ((const struct sockaddr_in *) sa, text, size);
      family = "ipv4";
    }
  return scm_list_2 (scm_cons (scm_from_utf8_symbol ("address"),
                               scm_from_utf8_string (text)),
                     scm_cons (scm_from_utf8_symbol ("family"),
                               scm_from_utf8_symbol (family)));
}

/* The addresses of RES in the resolver's order, each once: getaddrinfo
   repeats an address for every socket type and /etc/hosts may list it
   twice. */
static SCM
addresses_to_scm (const struct addrinfo *res)
{
  const struct addrinfo *ai;
  SCM seen = SCM_EOL, out = SCM_EOL;
  char text[INET6_ADDRSTRLEN];

  for (ai = res; ai; ai = ai->ai_next)
    {
      SCM address;

      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
        continue;
      address = address_to_scm (ai->ai_addr, text, sizeof text);
      if (scm_is_false (scm_member (address, seen)))
        {
          seen = scm_cons (address, seen);
          out = scm_cons (address, out);
        }
    }
  return scm_reverse_x (out, SCM_EOL);
}

static void
getaddrinfo_on_done (uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
  struct gl_handle *r = req->data;
  SCM proc = r->callback;
  SCM args;

  r->in_flight = 0;
  if (r->closing)
    args = SCM_EOL;             /* a reset dropped it; nobody listens */
  else if (status < 0)
    args = scm_list_2 (gl_uv_error (status, "dns-lookup", r->text),
                       SCM_BOOL_F);
  else
    args = scm_list_2 (SCM_BOOL_F, addresses_to_scm (res));
  uv_freeaddrinfo (res);
  gl_callback_run (r, proc, args);
  gl_request_finish (r);
  scm_remember_upto_here_2 (proc, args);
}

static SCM
dns_lookup (SCM origin, SCM host, SCM proc)
{
  struct addrinfo hints;
  struct gl_handle *r;
  size_t len;
  char *c_host;
  int rc;

  SCM_ASSERT_TYPE (scm_is_string (host), host, 1, "dns-lookup",
                   "host name string");
  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (proc)), proc, 2,
                   "dns-lookup", "completion procedure");
  c_host = scm_to_utf8_stringn (host, &len);
  if (len == 0 || memchr (c_host, '\0', len))
    {
      free (c_host);
      scm_misc_error ("dns-lookup", "bad host name ~s: a host name is a "
                      "non-empty string without NUL characters",
                      scm_list_1 (host));
    }
  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  /* One socket type, so that each address comes once per family. */
  hints.ai_socktype = SOCK_STREAM;
  r = gl_handle_new (&getaddrinfo_class, origin, proc);
  r->text = c_host;
  rc = uv_getaddrinfo (gl_handles_loop (), &r->u.getaddrinfo,
                       getaddrinfo_on_done, r->text, NULL, &hints);
  r->u.getaddrinfo.data = r;
  if (rc < 0)
    {
      char target[512];         /* gl_uv_error's message is no longer */

      snprintf (target, sizeof target, "%s", r->text);
      gl_request_abandon (r);
      gl_uv_raise (rc, "dns-lookup", target);
    }
  return r->object;
}

void
gl_dns_init (void)
{
  scm_c_define_gsubr ("%dns-lookup", 3, 0, 0, dns_lookup);
}
