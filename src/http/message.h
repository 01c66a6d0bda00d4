/* message.h: what the server and the client of http.h share, and no
   one else uses: a message being parsed (first line, headers, body),
   the writing of an outgoing head, addresses, and error names. */
#ifndef GL_HTTP_MESSAGE_H
#define GL_HTTP_MESSAGE_H

#include <http_parser.h>
#include "http/http.h"
#include "core/buf.h"

/* Bytes read at once from a socket. */
#define GL_HTTP__READ_SIZE 65536

/* A message as http-parser hands it over, piece by piece. */
struct gl_http__msg {
  /* The request's target or the response's reason, then each header's
     name and value, every one NUL-terminated: the headers array points
     into it once the head is complete. */
  struct gl_buf head;
  struct gl_buf body;
  gl_http_header_t *headers;
  size_t nheaders;
  int last;                         /* which piece came last */
  int head_done;
};

void gl_http__msg_init (struct gl_http__msg *m);
void gl_http__msg_free (struct gl_http__msg *m);
void gl_http__msg_line (struct gl_http__msg *m, const char *at, size_t n);
void gl_http__msg_field (struct gl_http__msg *m, const char *at, size_t n);
void gl_http__msg_value (struct gl_http__msg *m, const char *at, size_t n);
/* The head is complete: build the headers array. */
void gl_http__msg_head_done (struct gl_http__msg *m);
/* The first line's text: the target or the reason. */
const char *gl_http__msg_text (const struct gl_http__msg *m);
/* The body, never NULL. */
const char *gl_http__msg_body (const struct gl_http__msg *m);

/* calloc, or abort as gl_buf does: a process out of memory cannot
   answer anyone. */
void *gl_http__alloc (size_t size);

/* Append HEADERS to OUT, each checked: UV_EINVAL for a name that is
   not a token, a value with a control character, or a name the layer
   writes itself (Content-Length, Transfer-Encoding, Connection). */
int gl_http__put_headers (struct gl_buf *out,
                          const gl_http_header_t *headers, size_t n);
/* Is S a token (RFC 9110 §5.6.2)? */
int gl_http__is_token (const char *s);
/* May S be a field's value: no control character but tab? */
int gl_http__is_field_value (const char *s);

/* HOST (numeric, optionally in brackets, or "localhost") and PORT as a
   socket address. */
int gl_http__addr (const char *host, int port, struct sockaddr_storage *ss);

#endif
