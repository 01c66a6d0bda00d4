/* buf.c: growable byte buffers.  Running out of memory here is fatal:
   there is no sensible way to report a result we cannot build. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
gl_buf_init (struct gl_buf *b)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void
gl_buf_free (struct gl_buf *b)
{
  free (b->data);
  gl_buf_init (b);
}

void
gl_buf_reset (struct gl_buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void
gl_buf_reserve (struct gl_buf *b, size_t extra)
{
  size_t need = b->len + extra + 1;
  size_t cap;
  char *data;

  if (need <= b->cap)
    return;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  data = realloc (b->data, cap);
  if (data == NULL)
    {
      fputs ("guile-lambda: out of memory\n", stderr);
      abort ();
    }
  b->data = data;
  b->cap = cap;
}

void
gl_buf_append (struct gl_buf *b, const char *s, size_t n)
{
  gl_buf_reserve (b, n);
  memcpy (b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void
gl_buf_puts (struct gl_buf *b, const char *s)
{
  gl_buf_append (b, s, strlen (s));
}

void
gl_buf_putc (struct gl_buf *b, char c)
{
  gl_buf_reserve (b, 1);
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

void
gl_buf_printf (struct gl_buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  /* One pass when the text fits the spare room, which it nearly
     always does; a second only to grow. */
  gl_buf_reserve (b, 128);
  va_start (ap, fmt);
  n = vsnprintf (b->data + b->len, b->cap - b->len, fmt, ap);
  va_end (ap);
  if (n < 0)
    return;
  if ((size_t) n >= b->cap - b->len)
    {
      gl_buf_reserve (b, (size_t) n);
      va_start (ap, fmt);
      vsnprintf (b->data + b->len, (size_t) n + 1, fmt, ap);
      va_end (ap);
    }
  b->len += (size_t) n;
}

void
gl_buf_put_ulong (struct gl_buf *b, unsigned long v)
{
  char tmp[24];
  size_t i = sizeof tmp;

  do
    tmp[--i] = (char) ('0' + v % 10);
  while ((v /= 10) != 0);
  gl_buf_append (b, tmp + i, sizeof tmp - i);
}

/* MS with two decimals, as %.2f prints a non-negative duration. */
void
gl_buf_put_ms (struct gl_buf *b, double ms)
{
  unsigned long hundredths = (unsigned long) (ms * 100.0 + 0.5);

  gl_buf_put_ulong (b, hundredths / 100);
  gl_buf_putc (b, '.');
  gl_buf_putc (b, (char) ('0' + hundredths / 10 % 10));
  gl_buf_putc (b, (char) ('0' + hundredths % 10));
}
