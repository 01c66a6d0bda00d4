/* message.c: the pieces of HTTP that the server and the client share:
   collecting a parsed message, writing a head's header lines, turning
   a host into an address, naming errors.  It owns no handle. */
#include "http/message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
  MSG_LINE,                         /* the first line's text */
  MSG_FIELD,
  MSG_VALUE
};

/* Errors. */

static int
is_parse_error (int err)
{
  return err <= GL_HTTP_EPARSE_BASE
         && err > GL_HTTP_EPARSE (HPE_INVALID_TRANSFER_ENCODING + 1);
}

const char *
gl_http_err_name (int err)
{
  if (is_parse_error (err))
    return http_errno_name ((enum http_errno) (GL_HTTP_EPARSE_BASE - err));
  return uv_err_name (err);
}

const char *
gl_http_strerror (int err)
{
  if (is_parse_error (err))
    return http_errno_description ((enum http_errno)
                                   (GL_HTTP_EPARSE_BASE - err));
  return uv_strerror (err);
}

/* Headers and limits. */

const char *
gl_http_header_find (const gl_http_header_t *headers, size_t n,
                     const char *name)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (strcasecmp (headers[i].name, name) == 0)
      return headers[i].value;
  return NULL;
}

void
gl_http_limits_init (gl_http_limits_t *limits)
{
  limits->header_max = GL_HTTP_HEADER_MAX;
  limits->body_max = GL_HTTP_BODY_MAX;
  limits->header_timeout = GL_HTTP_HEADER_TIMEOUT;
  limits->body_timeout = GL_HTTP_BODY_TIMEOUT;
  limits->idle_timeout = GL_HTTP_IDLE_TIMEOUT;
  limits->linger_timeout = GL_HTTP_LINGER_TIMEOUT;
}

void *
gl_http__alloc (size_t size)
{
  void *p = calloc (1, size);

  if (p == NULL)
    {
      fputs ("guile-lambda: out of memory\n", stderr);
      abort ();
    }
  return p;
}

/* Messages being parsed. */

void
gl_http__msg_init (struct gl_http__msg *m)
{
  gl_buf_init (&m->head);
  gl_buf_init (&m->body);
  m->headers = NULL;
  m->nheaders = 0;
  m->last = MSG_LINE;
  m->head_done = 0;
}

void
gl_http__msg_free (struct gl_http__msg *m)
{
  gl_buf_free (&m->head);
  gl_buf_free (&m->body);
  free (m->headers);
  gl_http__msg_init (m);
}

void
gl_http__msg_line (struct gl_http__msg *m, const char *at, size_t n)
{
  gl_buf_append (&m->head, at, n);
}

/* A piece may be split over several reads, so a field or value ends
   only when the next kind of piece begins. */
void
gl_http__msg_field (struct gl_http__msg *m, const char *at, size_t n)
{
  if (m->head_done)
    return;                         /* trailers are not kept */
  if (m->last != MSG_FIELD)
    {
      gl_buf_putc (&m->head, '\0');
      m->nheaders++;
      m->last = MSG_FIELD;
    }
  gl_buf_append (&m->head, at, n);
}

void
gl_http__msg_value (struct gl_http__msg *m, const char *at, size_t n)
{
  if (m->head_done)
    return;
  if (m->last == MSG_FIELD)
    {
      gl_buf_putc (&m->head, '\0');
      m->last = MSG_VALUE;
    }
  gl_buf_append (&m->head, at, n);
}

static char *
trim_value (char *value)
{
  size_t n = strlen (value);

  while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
    value[--n] = '\0';
  return value;
}

void
gl_http__msg_head_done (struct gl_http__msg *m)
{
  char *p;
  size_t i;

  /* Close the last piece: a field without a value has an empty one. */
  gl_buf_putc (&m->head, '\0');
  if (m->last == MSG_FIELD)
    gl_buf_putc (&m->head, '\0');
  m->head_done = 1;
  if (m->nheaders == 0)
    return;
  m->headers = gl_http__alloc (m->nheaders * sizeof *m->headers);
  p = m->head.data + strlen (m->head.data) + 1;
  for (i = 0; i < m->nheaders; i++)
    {
      m->headers[i].name = p;
      p += strlen (p) + 1;
      m->headers[i].value = trim_value (p);
      p += strlen (p) + 1;
    }
}

const char *
gl_http__msg_text (const struct gl_http__msg *m)
{
  return m->head.data ? m->head.data : "";
}

const char *
gl_http__msg_body (const struct gl_http__msg *m)
{
  return m->body.data ? m->body.data : "";
}

/* Writing heads. */

int
gl_http__is_token (const char *s)
{
  static const char extra[] = "!#$%&'*+-.^_`|~";

  if (*s == '\0')
    return 0;
  for (; *s; s++)
    {
      unsigned char c = (unsigned char) *s;

      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
            || (c >= 'A' && c <= 'Z') || strchr (extra, c)))
        return 0;
    }
  return 1;
}

/* Tabs are allowed in a value; any other control character, CR and LF
   above all, would let a value end the header and start another. */
int
gl_http__is_field_value (const char *s)
{
  for (; *s; s++)
    {
      unsigned char c = (unsigned char) *s;

      if ((c < 0x20 && c != '\t') || c == 0x7f)
        return 0;
    }
  return 1;
}

static int
is_framing (const char *name)
{
  return strcasecmp (name, "Content-Length") == 0
         || strcasecmp (name, "Transfer-Encoding") == 0
         || strcasecmp (name, "Connection") == 0;
}

int
gl_http__put_headers (struct gl_buf *out, const gl_http_header_t *headers,
                      size_t n)
{
  size_t i;

  if (n > 0 && headers == NULL)
    return UV_EINVAL;
  for (i = 0; i < n; i++)
    if (headers[i].name == NULL || headers[i].value == NULL
        || !gl_http__is_token (headers[i].name)
        || !gl_http__is_field_value (headers[i].value)
        || is_framing (headers[i].name))
      return UV_EINVAL;
  for (i = 0; i < n; i++)
    {
      gl_buf_puts (out, headers[i].name);
      gl_buf_append (out, ": ", 2);
      gl_buf_puts (out, headers[i].value);
      gl_buf_append (out, "\r\n", 2);
    }
  return 0;
}

/* Addresses. */

int
gl_http__addr (const char *host, int port, struct sockaddr_storage *ss)
{
  char bare[64];
  size_t n;

  if (host == NULL || port < 0 || port > 65535)
    return UV_EINVAL;
  memset (ss, 0, sizeof *ss);
  if (strcmp (host, "localhost") == 0)
    host = "127.0.0.1";
  n = strlen (host);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
    {
      if (n - 2 >= sizeof bare)
        return UV_EINVAL;
      memcpy (bare, host + 1, n - 2);
      bare[n - 2] = '\0';
      return uv_ip6_addr (bare, port, (struct sockaddr_in6 *) ss);
    }
  if (uv_ip4_addr (host, port, (struct sockaddr_in *) ss) == 0)
    return 0;
  return uv_ip6_addr (host, port, (struct sockaddr_in6 *) ss);
}
