/* buf.h: a growable byte buffer, the one way C code here builds text. */
#ifndef GL_BUF_H
#define GL_BUF_H

#include <stddef.h>

struct gl_buf {
  char *data;     /* always NUL-terminated once anything was appended */
  size_t len;
  size_t cap;
};

void gl_buf_init (struct gl_buf *b);
void gl_buf_free (struct gl_buf *b);
void gl_buf_reset (struct gl_buf *b);
void gl_buf_reserve (struct gl_buf *b, size_t extra);
void gl_buf_append (struct gl_buf *b, const char *s, size_t n);
void gl_buf_puts (struct gl_buf *b, const char *s);
void gl_buf_putc (struct gl_buf *b, char c);
void gl_buf_put_ulong (struct gl_buf *b, unsigned long v);
void gl_buf_put_ms (struct gl_buf *b, double ms);
void gl_buf_printf (struct gl_buf *b, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

#endif
