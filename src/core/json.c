/* json.c: the JSON codec, text <-> guile-json 4 data (DESIGN.md §5).

   The decoder is our own strict RFC 8259 parser, not a library such as
   jansson: guile-json's numbers depend on how they are written ("1.0"
   and "1e400" are exact integers, "1.5" is inexact, integers have no
   size limit), which a library that hands back int64 or double has
   already thrown away.  Parsing ourselves also builds the Scheme values
   in one pass, with no intermediate tree.  The encoder writes compact
   JSON into a gl_buf; gl_json_escape stays free of Guile calls because
   the watchdog uses it on a thread that cannot enter Guile. */
#define _GNU_SOURCE
#include "core/json.h"
#include "core/boundary.h"

#include <libguile/gc-inline.h>

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* guile-json refuses exponents above this; so do we. */
#define MAX_EXPONENT 1000

/* Entries of the value stack kept on the C stack, where the GC sees
   them; deeper or wider documents move to a GC-scanned heap block. */
#define LOCAL_STACK 256
#define LOCAL_CHARS 256

/* scm->json-string keeps an output buffer of up to this size. */
#define ENCODE_KEEP_BYTES (64 * 1024)

/* Texts up to this long share one stringbuf among their strings. */
#define SHARE_MAX_BYTES (256 * 1024)

static SCM sym_null;
static SCM sym_json_error;

/* The decoder builds its pairs, vectors and narrow strings on the
   calling thread's own freelists, as Guile's VM does
   (libguile/gc-inline.h), rather than through GC_malloc: a decoded
   event is mostly small strings and pairs, and libgc's general entry
   point, with its thread-local lookup, cost a third of the decoder's
   time.  A string
   takes the layout scm_from_latin1_stringn gives it, which
   SCM_IMMUTABLE_STRING in libguile/strings.h spells out: a stringbuf
   {tag, length, bytes, NUL} and a double cell {tag, stringbuf, start,
   length}.  gl_json_init copies the tags from a string Guile made and
   checks that layout; where it differs, strings take the public path.
   A vector is {length << 8 | tag, elements}, as libguile/vectors.h
   reads it. */
static int strings_inline;
static int vectors_inline;
static scm_t_bits string_tag;
static scm_t_bits stringbuf_tag;

static void
layout_probe (void)
{
  SCM vec = scm_c_make_vector (2, SCM_BOOL_F);
  SCM str = scm_from_latin1_stringn ("ab", 2);
  SCM buf = SCM_CELL_OBJECT_1 (str);
  const unsigned char *chars;

  vectors_inline = SCM_CELL_WORD_0 (vec) == ((2 << 8) | scm_tc7_vector)
                   && SCM_I_VECTOR_LENGTH (vec) == 2;

  if ((SCM_CELL_TYPE (str) & 0x7f) != scm_tc7_string
      || !SCM_NIMP (buf) || (SCM_CELL_TYPE (buf) & 0x7f) != scm_tc7_stringbuf
      || (SCM_CELL_TYPE (buf) & SCM_I_STRINGBUF_F_WIDE)
      || SCM_CELL_WORD_2 (str) != 0 || SCM_CELL_WORD_3 (str) != 2
      || SCM_CELL_WORD_1 (buf) != 2)
    return;
  chars = (const unsigned char *) SCM_CELL_OBJECT_LOC (buf, 2);
  if (memcmp (chars, "ab", 3) != 0
      || scm_i_string_chars (str) != (const char *) chars)
    return;
  string_tag = SCM_CELL_TYPE (str);
  stringbuf_tag = SCM_CELL_TYPE (buf);
  strings_inline = 1;
  scm_remember_upto_here_1 (str);
}

/* A narrow string holds one byte per character (Latin-1); both
   directions read such strings in place rather than converting them.
   The characters of STR and their number in *LEN, or NULL if STR is
   wide.  Strings in the layout layout_probe checked are read directly,
   others through scm_i_string_chars (exported as API despite its
   name); the encoder asks this of every string it writes.  *LO is the
   lowest address that may be read before the characters: the start of
   their stringbuf where it is known. */
static inline const unsigned char *
narrow_chars (SCM str, size_t *len, const unsigned char **lo)
{
  const unsigned char *chars;

  if (strings_inline && SCM_CELL_TYPE (str) == string_tag)
    {
      SCM buf = SCM_CELL_OBJECT_1 (str);

      if (SCM_CELL_TYPE (buf) & SCM_I_STRINGBUF_F_WIDE)
        return NULL;
      *len = SCM_CELL_WORD_3 (str);
      *lo = (const unsigned char *) SCM_CELL_OBJECT_LOC (buf, 0);
      return (const unsigned char *) SCM_CELL_OBJECT_LOC (buf, 2)
             + SCM_CELL_WORD_2 (str);
    }
  if (!scm_is_eq (scm_string_bytes_per_char (str), SCM_I_MAKINUM (1)))
    return NULL;
  *len = scm_c_string_length (str);
  chars = (const unsigned char *) scm_i_string_chars (str);
  *lo = chars;
  return chars;
}

/* The bytes a stringbuf of N characters takes. */
#define STRINGBUF_BYTES(n) (2 * sizeof (SCM) + (n) + 1)

/* Make BUF, of STRINGBUF_BYTES (N), the stringbuf of the N bytes at S. */
static scm_t_bits *
stringbuf_fill (scm_t_bits *buf, const void *s, size_t n)
{
  buf[0] = stringbuf_tag;
  buf[1] = (scm_t_bits) n;
  memcpy (buf + 2, s, n);
  ((unsigned char *) (buf + 2))[n] = '\0';
  return buf;
}

/* The narrow string of the N bytes at S. */
static SCM
string_from_latin1 (scm_thread *thread, const unsigned char *s, size_t n)
{
  scm_t_bits *buf;

  if (!strings_inline || n == 0)
    return scm_from_latin1_stringn ((const char *) s, n);
  buf = stringbuf_fill (scm_inline_gc_malloc_pointerless
                        (thread, STRINGBUF_BYTES (n)), s, n);
  return scm_inline_double_cell (thread, string_tag, (scm_t_bits) buf, 0,
                                 (scm_t_bits) n);
}

/* The plain strings of a document (no escapes; ASCII in UTF-8 text)
   are not copied one by one: they share one stringbuf that holds the
   whole text, as Guile's own substring shares an immutable stringbuf.
   Guile copies a shared stringbuf on a string's first mutation, so the
   strings stay independent; but one of them kept past the invocation
   keeps the whole text alive, so only texts up to SHARE_MAX_BYTES,
   Lambda's limit for an asynchronous event, share.  An API Gateway
   event allocates 5.8 KB so, 10.3 KB with a stringbuf per string. */
static SCM
text_copy (const char *text, size_t len)
{
  if (!strings_inline || len == 0 || len > SHARE_MAX_BYTES)
    return SCM_BOOL_F;
  return SCM_PACK_POINTER (stringbuf_fill (scm_gc_malloc_pointerless
                                           (STRINGBUF_BYTES (len), "string"),
                                           text, len));
}

/* The stringbuf the plain strings of narrow TEXT, whose LEN characters
   are at CHARS, can share: its own when Guile will copy it before any
   mutation (a stringbuf not yet flagged mutable), else a copy.  *BASE
   is where the characters of that stringbuf start, as CHARS sees
   them. */
static SCM
text_stringbuf (SCM text, const char *chars, size_t len, const char **base)
{
  if (strings_inline && len <= SHARE_MAX_BYTES
      && SCM_CELL_TYPE (text) == string_tag)
    {
      SCM buf = SCM_CELL_OBJECT_1 (text);

      if (!(SCM_CELL_TYPE (buf) & SCM_I_STRINGBUF_F_MUTABLE))
        {
          *base = (const char *) SCM_CELL_OBJECT_LOC (buf, 2);
          return buf;
        }
    }
  *base = chars;
  return text_copy (chars, len);
}

/* A vector of the N values at ELTS. */
static SCM
vector_from (scm_thread *thread, const SCM *elts, size_t n)
{
  SCM v;

  if (!vectors_inline || n == 0)
    v = scm_c_make_vector (n, SCM_BOOL_F);
  else
    v = scm_inline_words (thread, (n << 8) | scm_tc7_vector, n + 1);
  memcpy (SCM_I_VECTOR_WELTS (v), elts, n * sizeof *elts);
  return v;
}

/* Like buf.c, treat running out of memory as fatal: there is no useful
   way to report a value we cannot build. */
static void *
xrealloc (void *p, size_t n)
{
  p = realloc (p, n);
  if (p == NULL)
    {
      fputs ("guile-lambda: out of memory\n", stderr);
      abort ();
    }
  return p;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */
/* ------------------------------------------------------------------ */

struct parser {
  /* A narrow Guile string is parsed in place as Latin-1, one byte per
     character; everything else arrives as UTF-8. */
  int latin1;
  const unsigned char *plain;   /* plain_utf8 or plain_latin1 */
  const unsigned char *start;
  const unsigned char *p;
  const unsigned char *end;
  int depth;
  SCM *stack;                 /* elements of the containers still open */
  size_t sp;
  size_t cap;
  scm_t_wchar *chars;         /* code points of the string being read */
  size_t chars_cap;
  scm_t_wchar *local_chars;
  char *err;
  size_t errlen;
  int build;                    /* 0: only check that the text is JSON */
  scm_thread *thread;
  SCM shared;                   /* stringbuf plain strings share, or #f */
  const unsigned char *shared_chars;
};

/* 1 for bytes a JSON string holds as they are, in both directions:
   printable ASCII other than '"' and '\\', and in Latin-1 text also
   every byte from 0x80. */
static unsigned char plain_utf8[256];
static unsigned char plain_latin1[256];

static const double pow10_double[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static const int64_t pow10_int[] = {
  1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
  100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
  1000000000000LL, 10000000000000LL, 100000000000000LL,
  1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
  1000000000000000000LL
};

static locale_t c_locale;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* scm->json-string's output buffer, one per thread, kept from one call
   to the next: growing a fresh one to the size of an event, and freeing
   it, cost a tenth of an encode.  One grown past ENCODE_KEEP_BYTES is
   given back after use, and the thread's goes when the thread ends. */
static pthread_key_t encode_buf_key;

static void
encode_buf_free (void *p)
{
  gl_buf_free (p);
  free (p);
}

static void
tables_init (void)
{
  int c;

  for (c = 0x20; c < 0x100; c++)
    {
      plain_latin1[c] = c != '"' && c != '\\';
      plain_utf8[c] = plain_latin1[c] && c < 0x80;
    }
  if (pthread_key_create (&encode_buf_key, encode_buf_free) != 0)
    {
      fputs ("guile-lambda: cannot create a thread key\n", stderr);
      abort ();
    }
  /* strtod obeys LC_NUMERIC, and guile sets the locale from the
     environment, so "1.5" could otherwise stop at the '.'. */
  c_locale = newlocale (LC_ALL_MASK, "C", (locale_t) 0);
}

static int
is_digit (int c)
{
  return c >= '0' && c <= '9';
}

static void
skip_space (struct parser *ps)
{
  const unsigned char *p = ps->p;

  while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  ps->p = p;
}

/* Line and column (both from 1, the column in characters) of AT. */
static void
locate (const struct parser *ps, const unsigned char *at,
        size_t *line, size_t *column)
{
  const unsigned char *q;

  *line = 1;
  *column = 1;
  for (q = ps->start; q < at && q < ps->end; q++)
    if (*q == '\n')
      {
        (*line)++;
        *column = 1;
      }
    else if (ps->latin1 || (*q & 0xc0) != 0x80)
      (*column)++;
}

/* Record "JSON: <what> at line L, column C" and return SCM_UNDEFINED,
   so that a parse function can `return fail_at (...)`. */
static SCM
fail_at (struct parser *ps, const unsigned char *at, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

static SCM
fail_at (struct parser *ps, const unsigned char *at, const char *fmt, ...)
{
  va_list ap;
  size_t line, column, n;

  if (ps->errlen == 0)
    return SCM_UNDEFINED;
  n = (size_t) snprintf (ps->err, ps->errlen, "JSON: ");
  va_start (ap, fmt);
  if (n < ps->errlen)
    n += (size_t) vsnprintf (ps->err + n, ps->errlen - n, fmt, ap);
  va_end (ap);
  locate (ps, at, &line, &column);
  if (n < ps->errlen)
    snprintf (ps->err + n, ps->errlen - n, " at line %zu, column %zu",
              line, column);
  return SCM_UNDEFINED;
}

static size_t utf8_decode (const unsigned char *p, const unsigned char *end,
                           scm_t_wchar *cp, const unsigned char **bad);
static SCM fail_utf8 (struct parser *ps, const unsigned char *at);

/* Report that AT holds something other than EXPECTED, naming what is
   there: 'x', a code point, or the end of the input. */
static SCM
fail_unexpected (struct parser *ps, const unsigned char *at,
                 const char *expected)
{
  const unsigned char *bad;
  scm_t_wchar cp = at < ps->end ? *at : 0;

  if (at >= ps->end)
    return fail_at (ps, at, "unexpected end of input, expected %s",
                    expected);
  if (cp > 0x20 && cp < 0x7f)
    return fail_at (ps, at, "unexpected '%c', expected %s", (int) cp,
                    expected);
  if (cp >= 0x80 && !ps->latin1 && utf8_decode (at, ps->end, &cp, &bad) == 0)
    return fail_utf8 (ps, bad < ps->end ? bad : at);
  return fail_at (ps, at, "unexpected character U+%04X, expected %s",
                  (unsigned) cp, expected);
}

static SCM
fail_utf8 (struct parser *ps, const unsigned char *at)
{
  size_t line, column;

  if (ps->errlen == 0)
    return SCM_UNDEFINED;
  locate (ps, at, &line, &column);
  snprintf (ps->err, ps->errlen, "JSON: invalid UTF-8 byte 0x%02x at byte "
            "offset %zu (line %zu, column %zu)", *at,
            (size_t) (at - ps->start), line, column);
  return SCM_UNDEFINED;
}

static void
stack_grow (struct parser *ps)
{
  size_t cap = ps->cap * 2;
  SCM *stack = scm_gc_malloc (cap * sizeof (SCM), "json stack");

  memcpy (stack, ps->stack, ps->sp * sizeof (SCM));
  ps->stack = stack;
  ps->cap = cap;
}

static inline void
stack_push (struct parser *ps, SCM v)
{
  if (ps->sp == ps->cap)
    stack_grow (ps);
  ps->stack[ps->sp++] = v;
}

/* V is an element of the container being read: kept until it is
   closed, unless the parse only checks. */
static inline void
value_keep (struct parser *ps, SCM v)
{
  if (ps->build)
    stack_push (ps, v);
}

/* Make room for N more code points after the first USED. */
static void
chars_reserve (struct parser *ps, size_t used, size_t n)
{
  size_t cap = ps->chars_cap;
  scm_t_wchar *chars;

  if (used + n <= cap)
    return;
  while (cap < used + n)
    cap *= 2;
  if (ps->chars == ps->local_chars)
    {
      chars = xrealloc (NULL, cap * sizeof *chars);
      memcpy (chars, ps->chars, used * sizeof *chars);
    }
  else
    chars = xrealloc (ps->chars, cap * sizeof *chars);
  ps->chars = chars;
  ps->chars_cap = cap;
}

#ifdef __SSE2__
/* The bytes of V that stop skip_plain, one bit each, bit 0 the first. */
static inline unsigned
plain_stops (__m128i v, int latin1)
{
  const __m128i quotes = _mm_set1_epi8 ('"');
  const __m128i slashes = _mm_set1_epi8 ('\\');
  const __m128i controls = _mm_set1_epi8 (0x1f);
  /* v <= 0x1f, unsigned: the smaller of the two is v itself. */
  __m128i hit = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (v, quotes),
                                            _mm_cmpeq_epi8 (v, slashes)),
                              _mm_cmpeq_epi8 (_mm_min_epu8 (v, controls), v));
  unsigned stop = (unsigned) _mm_movemask_epi8 (hit);

  return latin1 ? stop : stop | (unsigned) _mm_movemask_epi8 (v);
}
#endif

/* skip_plain without SSE2, and for what it leaves: eight bytes at a
   time, then one. */
static const unsigned char *
skip_plain_words (const unsigned char *s, const unsigned char *end,
                  int latin1)
{
  const uint64_t ones = UINT64_C (0x0101010101010101);
  const uint64_t highs = UINT64_C (0x8080808080808080);
  const uint64_t high_mask = latin1 ? 0 : highs;
  const unsigned char *plain = latin1 ? plain_latin1 : plain_utf8;

  while (end - s >= 8)
    {
      uint64_t w, quote, slash, stop;

      memcpy (&w, s, 8);
      quote = w ^ (ones * '"');
      slash = w ^ (ones * '\\');
      /* (x - 0x01..) & ~x & 0x80.. is nonzero when some byte of x is
         zero; with 0x20.. in place of 0x01.. when some byte is below
         0x20. */
      stop = ((((w - ones * 0x20) & ~w)
               | ((quote - ones) & ~quote)
               | ((slash - ones) & ~slash)) & highs) | (w & high_mask);
      if (stop)
        {
#if defined __GNUC__ && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
          /* A borrow can flag bytes after a stop byte, never before:
             the lowest flag is the first stop. */
          return s + (__builtin_ctzll (stop) >> 3);
#else
          break;
#endif
        }
      s += 8;
    }
  while (s < end && plain[*s])
    s++;
  return s;
}

/* The first byte in [S, END) that a JSON string cannot hold as it is:
   '"', '\\', a control character or, unless LATIN1, a non-ASCII byte.
   Looks at many bytes at a time, since most strings are long plain
   runs.  Bytes from LO up to S may be read too (and are ignored): a
   last run shorter than sixteen bytes is then read as the sixteen that
   end at END, as keys and most values are that short.  Inline, and
   with nothing to set up before its first compare: it runs once or
   more for every string either way. */
static inline const unsigned char *
skip_plain (const unsigned char *s, const unsigned char *end,
            const unsigned char *lo, int latin1)
{
#ifdef __SSE2__
  unsigned hits;

  while (end - s >= 16)
    {
      hits = plain_stops (_mm_loadu_si128 ((const __m128i *) s), latin1);
      if (hits)
        return s + __builtin_ctz (hits);
      s += 16;
    }
  if (s == end)
    return s;
  if (end - lo >= 16)
    {
      /* The window starts 16 - (END - S) bytes before S: shift those
         bytes' bits out. */
      hits = plain_stops (_mm_loadu_si128 ((const __m128i *) (end - 16)),
                          latin1) >> (16 - (end - s));
      return hits ? s + __builtin_ctz (hits) : end;
    }
#else
  (void) lo;
#endif
  return skip_plain_words (s, end, latin1);
}

static const unsigned char *
scan_plain (const struct parser *ps, const unsigned char *s)
{
  return skip_plain (s, ps->end, ps->start, ps->latin1);
}

static SCM parse_value (struct parser *ps);

static SCM
parse_literal (struct parser *ps, const char *word, size_t n, SCM value)
{
  const unsigned char *at = ps->p;

  if ((size_t) (ps->end - at) < n || memcmp (at, word, n) != 0
      || (at + n < ps->end && (is_digit (at[n])
                               || (at[n] >= 'a' && at[n] <= 'z')
                               || (at[n] >= 'A' && at[n] <= 'Z'))))
    return fail_at (ps, at, "invalid literal, expected %s", word);
  ps->p = at + n;
  return value;
}

/* Length of the well-formed UTF-8 sequence at P (RFC 3629: no
   overlongs, no surrogates, nothing above U+10FFFF) or 0, storing its
   code point in *CP; BAD is set to the first offending byte. */
static size_t
utf8_decode (const unsigned char *p, const unsigned char *end,
             scm_t_wchar *cp, const unsigned char **bad)
{
  unsigned char c = p[0];
  unsigned char lo = 0x80, hi = 0xbf;
  size_t n, i;
  scm_t_wchar v;

  if (c >= 0xc2 && c <= 0xdf)
    n = 2, v = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    {
      n = 3, v = c & 0x0f;
      if (c == 0xe0)
        lo = 0xa0;              /* overlong */
      else if (c == 0xed)
        hi = 0x9f;              /* surrogates */
    }
  else if (c >= 0xf0 && c <= 0xf4)
    {
      n = 4, v = c & 0x07;
      if (c == 0xf0)
        lo = 0x90;              /* overlong */
      else if (c == 0xf4)
        hi = 0x8f;              /* above U+10FFFF */
    }
  else
    {
      *bad = p;
      return 0;
    }
  for (i = 1; i < n; i++)
    {
      if (p + i >= end || p[i] < lo || p[i] > hi)
        {
          *bad = p + i;
          return 0;
        }
      v = (v << 6) | (p[i] & 0x3f);
      lo = 0x80, hi = 0xbf;
    }
  *cp = v;
  return n;
}

static int
hex4 (const unsigned char *p, const unsigned char *end, scm_t_wchar *out)
{
  scm_t_wchar v = 0;
  int i;

  if (end - p < 4)
    return -1;
  for (i = 0; i < 4; i++)
    {
      int c = p[i], d;

      if (c >= '0' && c <= '9')
        d = c - '0';
      else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        d = (c | 0x20) - 'a' + 10;
      else
        return -1;
      v = v * 16 + d;
    }
  *out = v;
  return 0;
}

/* Decode the escape at P (just after a backslash that is not the last
   byte) into *CP and return the byte after it, or NULL after recording
   an error. */
static const unsigned char *
parse_escape (struct parser *ps, const unsigned char *p, scm_t_wchar *cp)
{
  const unsigned char *esc = p - 1;
  scm_t_wchar hi, lo;

  switch (*p)
    {
    case '"': *cp = '"'; return p + 1;
    case '\\': *cp = '\\'; return p + 1;
    case '/': *cp = '/'; return p + 1;
    case 'b': *cp = '\b'; return p + 1;
    case 'f': *cp = '\f'; return p + 1;
    case 'n': *cp = '\n'; return p + 1;
    case 'r': *cp = '\r'; return p + 1;
    case 't': *cp = '\t'; return p + 1;
    case 'u': break;
    default:
      fail_unexpected (ps, p, "an escape character after backslash");
      return NULL;
    }
  if (hex4 (p + 1, ps->end, &hi) < 0)
    {
      fail_at (ps, esc, "invalid \\u escape, expected 4 hex digits");
      return NULL;
    }
  p += 5;
  if (hi >= 0xdc00 && hi <= 0xdfff)
    {
      fail_at (ps, esc, "lone low surrogate \\u%04X", (unsigned) hi);
      return NULL;
    }
  if (hi < 0xd800 || hi > 0xdbff)
    {
      *cp = hi;
      return p;
    }
  /* A high surrogate only makes sense as half of a pair. */
  if (ps->end - p < 6 || p[0] != '\\' || p[1] != 'u'
      || hex4 (p + 2, ps->end, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
    {
      fail_at (ps, esc, "lone high surrogate \\u%04X, expected a \\uDC00-"
               "\\uDFFF escape after it", (unsigned) hi);
      return NULL;
    }
  *cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
  return p + 6;
}

/* The string being read is kept in ps->chars as bytes, one per
   character, while its characters fit in Latin-1 (most strings with
   escapes), and as code points from the first that does not.  A parse
   that only checks keeps nothing. */
struct chars {
  size_t n;
  int wide;
};

static inline unsigned char *
chars_bytes (const struct parser *ps)
{
  return (unsigned char *) ps->chars;
}

/* Append the N bytes at S, all below 0x100. */
static void
chars_append (struct parser *ps, struct chars *cs, const unsigned char *s,
              size_t n)
{
  size_t i;

  if (!ps->build)
    return;
  chars_reserve (ps, cs->n, n);
  if (!cs->wide)
    memcpy (chars_bytes (ps) + cs->n, s, n);
  else
    for (i = 0; i < n; i++)
      ps->chars[cs->n + i] = s[i];
  cs->n += n;
}

static void
chars_append_code_point (struct parser *ps, struct chars *cs, scm_t_wchar c)
{
  size_t i;

  if (!ps->build)
    return;
  chars_reserve (ps, cs->n, 1);
  if (!cs->wide && c >= 0x100)
    {
      /* Widen in place from the end: code point I covers bytes 4I to
         4I + 3, which were read already. */
      for (i = cs->n; i-- > 0; )
        ps->chars[i] = chars_bytes (ps)[i];
      cs->wide = 1;
    }
  if (cs->wide)
    ps->chars[cs->n++] = c;
  else
    chars_bytes (ps)[cs->n++] = (unsigned char) c;
}

static SCM
chars_to_string (struct parser *ps, const struct chars *cs)
{
  if (!cs->wide)
    return string_from_latin1 (ps->thread, chars_bytes (ps), cs->n);
  return scm_from_utf32_stringn (ps->chars, cs->n);
}

/* The general string path: escapes, or non-ASCII UTF-8.  FROM is where
   the plain prefix ends.  Out of line, as escape_narrow_from. */
static SCM __attribute__ ((noinline))
parse_string_slow (struct parser *ps, const unsigned char *quote,
                   const unsigned char *from)
{
  const unsigned char *p = quote + 1;
  const unsigned char *end = ps->end;
  struct chars cs = { 0, 0 };
  scm_t_wchar cp;

  while (p < end)
    {
      unsigned char c = *p;

      if (ps->plain[c])
        {
          const unsigned char *run_end = p < from ? from : scan_plain (ps, p);

          chars_append (ps, &cs, p, (size_t) (run_end - p));
          p = run_end;
        }
      else if (c == '"')
        {
          ps->p = p + 1;
          return ps->build ? chars_to_string (ps, &cs) : SCM_BOOL_T;
        }
      else if (c == '\\')
        {
          if (p + 1 >= end)
            break;
          p = parse_escape (ps, p + 1, &cp);
          if (p == NULL)
            return SCM_UNDEFINED;
          chars_append_code_point (ps, &cs, cp);
        }
      else if (c < 0x20)
        return fail_at (ps, p, "control character U+%04X in a string "
                        "must be escaped", c);
      else
        {
          /* Only UTF-8 gets here: in Latin-1 every byte from 0x80 is
             plain. */
          const unsigned char *bad = p;
          size_t len = utf8_decode (p, end, &cp, &bad);

          if (len == 0)
            {
              if (bad >= end)
                break;
              return fail_utf8 (ps, bad);
            }
          chars_append_code_point (ps, &cs, cp);
          p += len;
        }
    }
  return fail_at (ps, quote, "unterminated string starting");
}

static SCM
parse_string (struct parser *ps)
{
  const unsigned char *quote = ps->p;
  const unsigned char *s = scan_plain (ps, quote + 1);

  if (s < ps->end && *s == '"')
    {
      ps->p = s + 1;
      if (!ps->build)
        return SCM_BOOL_T;
      if (scm_is_true (ps->shared) && s > quote + 1)
        return scm_inline_double_cell (ps->thread, string_tag,
                                       SCM_UNPACK (ps->shared),
                                       (scm_t_bits) (quote + 1
                                                     - ps->shared_chars),
                                       (scm_t_bits) (s - quote - 1));
      return string_from_latin1 (ps->thread, quote + 1,
                                 (size_t) (s - quote - 1));
    }
  return parse_string_slow (ps, quote, s);
}

/* The integer of N decimal DIGITS.  Long ones are split in halves, so
   that a megabyte of digits costs a few big multiplications rather
   than one per digit. */
static SCM
digits_to_integer (const unsigned char *digits, size_t n)
{
  size_t low = n / 2, i;
  int64_t v = 0;

  if (n > 18)
    return scm_sum (scm_product (digits_to_integer (digits, n - low),
                                 scm_integer_expt (scm_from_int (10),
                                                   scm_from_size_t (low))),
                    digits_to_integer (digits + n - low, low));
  for (i = 0; i < n; i++)
    v = v * 10 + (digits[i] - '0');
  return scm_from_int64 (v);
}

/* The exact integer DIGITS (N of them, no sign) times 10^EXP. */
static SCM
exact_number (const unsigned char *digits, size_t n, int neg, int exp)
{
  SCM v;

  if (n == 1 && digits[0] == '0')
    return SCM_INUM0;
  if (n + (size_t) exp <= 18)
    {
      int64_t m = 0;
      size_t i;

      for (i = 0; i < n; i++)
        m = m * 10 + (digits[i] - '0');
      m *= pow10_int[exp];
      return scm_from_int64 (neg ? -m : m);
    }
  v = digits_to_integer (digits, n);
  if (exp > 0)
    v = scm_product (v, scm_integer_expt (scm_from_int (10),
                                          scm_from_int (exp)));
  return neg ? scm_difference (v, SCM_UNDEFINED) : v;
}

/* The correctly rounded double of the number text [S, E). */
static double
inexact_number (const unsigned char *s, const unsigned char *e,
                const unsigned char *int_start, const unsigned char *int_end,
                const unsigned char *frac_start, const unsigned char *frac_end,
                int exp10)
{
  char local[64], *copy;
  size_t len = (size_t) (e - s);
  size_t ndigits = (size_t) (int_end - int_start)
                   + (size_t) (frac_end - frac_start);
  double d;

  /* Clinger's fast path: an exact significand below 2^53 times an
     exactly representable power of ten rounds once, correctly. */
  if (ndigits <= 19)
    {
      uint64_t m = 0;
      const unsigned char *q;
      int e10 = exp10 - (int) (frac_end - frac_start);

      for (q = int_start; q < int_end; q++)
        m = m * 10 + (uint64_t) (*q - '0');
      for (q = frac_start; q < frac_end; q++)
        m = m * 10 + (uint64_t) (*q - '0');
      if (m <= (UINT64_C (1) << 53) && e10 >= -22 && e10 <= 22)
        {
          d = (double) m;
          d = e10 < 0 ? d / pow10_double[-e10] : d * pow10_double[e10];
          return *s == '-' ? -d : d;
        }
    }
  /* strtod reads until a non-number byte, which might lie past E. */
  copy = len < sizeof local ? local : xrealloc (NULL, len + 1);
  memcpy (copy, s, len);
  copy[len] = '\0';
  d = strtod_l (copy, NULL, c_locale);
  if (copy != local)
    free (copy);
  return d;
}

/* guile-json's rule: a number is exact when its fraction is zero and
   its exponent is not negative ("1.0", "1e400"); otherwise inexact. */
static SCM
parse_number (struct parser *ps)
{
  const unsigned char *s = ps->p, *q = s, *end = ps->end;
  const unsigned char *int_start, *int_end;
  const unsigned char *frac_start = NULL, *frac_end = NULL;
  int neg = 0, exp = 0, exp_neg = 0, frac_zero = 1;

  if (*q == '-')
    {
      neg = 1;
      q++;
    }
  if (q >= end || !is_digit (*q))
    return fail_unexpected (ps, q, "a digit after '-'");
  int_start = q;
  if (*q == '0')
    {
      q++;
      if (q < end && is_digit (*q))
        return fail_at (ps, s, "leading zeros are not allowed in numbers");
    }
  else
    while (q < end && is_digit (*q))
      q++;
  int_end = q;
  if (q < end && *q == '.')
    {
      frac_start = ++q;
      while (q < end && is_digit (*q))
        frac_zero &= *q++ == '0';
      if (q == frac_start)
        return fail_unexpected (ps, q, "a digit after the decimal point");
      frac_end = q;
    }
  else
    frac_start = frac_end = q;
  if (q < end && (*q == 'e' || *q == 'E'))
    {
      const unsigned char *digits;

      q++;
      if (q < end && (*q == '+' || *q == '-'))
        exp_neg = *q++ == '-';
      digits = q;
      while (q < end && is_digit (*q))
        {
          if (exp <= MAX_EXPONENT)
            exp = exp * 10 + (*q - '0');
          q++;
        }
      if (q == digits)
        return fail_unexpected (ps, q, "a digit in the exponent");
      if (exp > MAX_EXPONENT)
        return fail_at (ps, s, "exponent beyond %d in number",
                        MAX_EXPONENT);
    }
  ps->p = q;
  if (!ps->build)
    return SCM_BOOL_T;
  if (frac_zero && (!exp_neg || exp == 0))
    return exact_number (int_start, (size_t) (int_end - int_start), neg,
                         exp);
  return scm_from_double (inexact_number (s, q, int_start, int_end,
                                          frac_start, frac_end,
                                          exp_neg ? -exp : exp));
}

static SCM
parse_array (struct parser *ps)
{
  const unsigned char *open = ps->p;
  size_t base = ps->sp;
  SCM v;

  ps->p++;
  skip_space (ps);
  if (ps->p < ps->end && *ps->p == ']')
    {
      ps->p++;
      return ps->build ? scm_c_make_vector (0, SCM_BOOL_F) : SCM_BOOL_T;
    }
  for (;;)
    {
      v = parse_value (ps);
      if (SCM_UNBNDP (v))
        return v;
      value_keep (ps, v);
      skip_space (ps);
      if (ps->p >= ps->end)
        return fail_at (ps, open, "unterminated array starting");
      if (*ps->p == ']')
        break;
      if (*ps->p != ',')
        return fail_unexpected (ps, ps->p, "',' or ']' in array");
      ps->p++;
      skip_space (ps);
      if (ps->p < ps->end && *ps->p == ']')
        return fail_at (ps, ps->p, "trailing comma before ']'");
    }
  ps->p++;
  if (!ps->build)
    return SCM_BOOL_T;
  v = vector_from (ps->thread, ps->stack + base, ps->sp - base);
  ps->sp = base;
  return v;
}

static SCM
parse_object (struct parser *ps)
{
  const unsigned char *open = ps->p;
  size_t base = ps->sp, i;
  SCM v, alist = SCM_EOL;

  ps->p++;
  skip_space (ps);
  if (ps->p < ps->end && *ps->p == '}')
    {
      ps->p++;
      return SCM_EOL;
    }
  for (;;)
    {
      if (ps->p >= ps->end)
        return fail_at (ps, open, "unterminated object starting");
      if (*ps->p != '"')
        return fail_unexpected (ps, ps->p, "a string key in object");
      v = parse_string (ps);
      if (SCM_UNBNDP (v))
        return v;
      value_keep (ps, v);
      skip_space (ps);
      if (ps->p >= ps->end)
        return fail_at (ps, open, "unterminated object starting");
      if (*ps->p != ':')
        return fail_unexpected (ps, ps->p, "':' after object key");
      ps->p++;
      v = parse_value (ps);
      if (SCM_UNBNDP (v))
        return v;
      value_keep (ps, v);
      skip_space (ps);
      if (ps->p >= ps->end)
        return fail_at (ps, open, "unterminated object starting");
      if (*ps->p == '}')
        break;
      if (*ps->p != ',')
        return fail_unexpected (ps, ps->p, "',' or '}' in object");
      ps->p++;
      skip_space (ps);
      if (ps->p < ps->end && *ps->p == '}')
        return fail_at (ps, ps->p, "trailing comma before '}'");
    }
  ps->p++;
  if (!ps->build)
    return SCM_BOOL_T;
  /* Consing from the last member builds the alist in document order
     with no reverse. */
  for (i = ps->sp; i > base; i -= 2)
    alist = scm_inline_cons (ps->thread,
                             scm_inline_cons (ps->thread, ps->stack[i - 2],
                                              ps->stack[i - 1]),
                             alist);
  ps->sp = base;
  return alist;
}

static SCM
parse_container (struct parser *ps)
{
  SCM v;

  if (ps->depth == GL_JSON_MAX_DEPTH)
    return fail_at (ps, ps->p, "nesting deeper than %d levels",
                    GL_JSON_MAX_DEPTH);
  ps->depth++;
  v = *ps->p == '[' ? parse_array (ps) : parse_object (ps);
  ps->depth--;
  return v;
}

static SCM
parse_value (struct parser *ps)
{
  skip_space (ps);
  if (ps->p >= ps->end)
    return fail_at (ps, ps->p, "unexpected end of input, expected a value");
  switch (*ps->p)
    {
    case '"':
      return parse_string (ps);
    case '{':
    case '[':
      return parse_container (ps);
    case 't':
      return parse_literal (ps, "true", 4, SCM_BOOL_T);
    case 'f':
      return parse_literal (ps, "false", 5, SCM_BOOL_F);
    case 'n':
      return parse_literal (ps, "null", 4, sym_null);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return parse_number (ps);
    default:
      return fail_unexpected (ps, ps->p, "a JSON value");
    }
}

static SCM
decode (const char *text, size_t len, int latin1, int build, char *err,
        size_t errlen, SCM shared, const char *shared_chars)
{
  SCM local_stack[LOCAL_STACK];
  scm_t_wchar local_chars[LOCAL_CHARS];
  struct parser ps;
  SCM v;

  pthread_once (&tables_once, tables_init);
  ps.latin1 = latin1;
  ps.plain = latin1 ? plain_latin1 : plain_utf8;
  ps.start = (const unsigned char *) text;
  ps.p = ps.start;
  ps.end = ps.start + len;
  ps.depth = 0;
  ps.stack = local_stack;
  ps.sp = 0;
  ps.cap = LOCAL_STACK;
  ps.chars = ps.local_chars = local_chars;
  ps.chars_cap = LOCAL_CHARS;
  ps.err = err;
  ps.errlen = errlen;
  ps.build = build;
  ps.thread = build ? SCM_I_THREAD_DATA (scm_current_thread ()) : NULL;
  ps.shared = shared;
  ps.shared_chars = (const unsigned char *) shared_chars;
  if (errlen > 0)
    err[0] = '\0';

  /* guile-json reads through a UTF-8 port, which drops a leading BOM. */
  if (!latin1 && len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    ps.p += 3;
  skip_space (&ps);
  if (ps.p >= ps.end)
    v = fail_at (&ps, ps.p, "empty input, expected a value");
  else
    v = parse_value (&ps);
  if (!SCM_UNBNDP (v))
    {
      skip_space (&ps);
      if (ps.p < ps.end)
        v = fail_unexpected (&ps, ps.p, "the end after the JSON value");
    }
  if (ps.chars != local_chars)
    free (ps.chars);
  return v;
}

SCM
gl_json_decode (const char *text, size_t len, char *err, size_t errlen)
{
  SCM shared = text_copy (text, len);

  return decode (text, len, 0, 1, err, errlen, shared, text);
}

int
gl_json_check (const char *text, size_t len, char *err, size_t errlen)
{
  return SCM_UNBNDP (decode (text, len, 0, 0, err, errlen, SCM_BOOL_F,
                             NULL)) ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Encoder                                                             */
/* ------------------------------------------------------------------ */

static const char hex_digits[] = "0123456789abcdef";

/* gl_buf_append and gl_buf_putc, inlined: the encoder writes nearly
   every byte through them. */
static inline void
put_bytes (struct gl_buf *b, const char *s, size_t n)
{
  if (b->cap - b->len <= n)
    gl_buf_reserve (b, n);
  memcpy (b->data + b->len, s, n);
  b->len += n;
}

static inline void
put_byte (struct gl_buf *b, char c)
{
  if (b->cap - b->len <= 1)
    gl_buf_reserve (b, 1);
  b->data[b->len++] = c;
}

/* put_bytes and put_byte leave room for the NUL that gl_buf promises
   but do not write it: the entry points write it once, at the end. */
static inline void
put_end (struct gl_buf *b)
{
  if (b->data)
    b->data[b->len] = '\0';
}

static void
escape_byte (struct gl_buf *out, unsigned char c)
{
  char esc[6] = { '\\', 'u', '0', '0', 0, 0 };

  switch (c)
    {
    case '"': put_bytes (out, "\\\"", 2); return;
    case '\\': put_bytes (out, "\\\\", 2); return;
    case '\b': put_bytes (out, "\\b", 2); return;
    case '\f': put_bytes (out, "\\f", 2); return;
    case '\n': put_bytes (out, "\\n", 2); return;
    case '\r': put_bytes (out, "\\r", 2); return;
    case '\t': put_bytes (out, "\\t", 2); return;
    }
  esc[4] = hex_digits[c >> 4];
  esc[5] = hex_digits[c & 15];
  put_bytes (out, esc, 6);
}

void
gl_json_error (struct gl_buf *out, const char *type, const char *message)
{
  gl_buf_puts (out, "{\"errorType\":");
  gl_json_escape (out, type, strlen (type));
  gl_buf_puts (out, ",\"errorMessage\":");
  gl_json_escape (out, message, strlen (message));
  gl_buf_puts (out, ",\"stackTrace\":[]}");
}

void
gl_json_escape (struct gl_buf *out, const char *str, size_t len)
{
  const unsigned char *s = (const unsigned char *) str;
  const unsigned char *end = s + len, *run = s, *bad;
  scm_t_wchar cp;
  size_t n;

  pthread_once (&tables_once, tables_init);
  gl_buf_reserve (out, len + 2);
  put_byte (out, '"');
  while ((s = skip_plain (s, end, (const unsigned char *) str, 0)) < end)
    {
      if (*s < 0x80)
        {
          put_bytes (out, (const char *) run, (size_t) (s - run));
          escape_byte (out, *s++);
          run = s;
          continue;
        }
      n = utf8_decode (s, end, &cp, &bad);
      if (n > 0)
        {
          s += n;
          continue;
        }
      /* Callers outside Guile may hand us any bytes; the output must
         still be valid JSON, so a bad byte becomes U+FFFD. */
      put_bytes (out, (const char *) run, (size_t) (s - run));
      put_bytes (out, "\xef\xbf\xbd", 3);
      run = ++s;
    }
  put_bytes (out, (const char *) run, (size_t) (end - run));
  put_byte (out, '"');
  put_end (out);
}

struct encoder {
  struct gl_buf *out;
  size_t mark;                /* where our output starts in OUT */
  /* For scm->json-string, OUT holds Latin-1 for as long as every string
     is narrow: the result is then a plain copy, with no UTF-8 to encode
     and decode again. */
  int latin1;
  char *err;
  size_t errlen;
};

static const char what_json_accepts[] =
  "use alists, vectors, strings, numbers, #t, #f or 'null";

/* Record "cannot encode <OBJ written, shortened> <rest>" and return -1. */
static int
encode_fail (struct encoder *en, SCM obj, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

static int
encode_fail (struct encoder *en, SCM obj, const char *fmt, ...)
{
  va_list ap;
  char *repr;
  size_t len, n;

  if (en->errlen == 0)
    return -1;
  repr = scm_to_utf8_stringn (gl_boundary_write (obj), &len);
  if (len > 72)
    {
      len = 72;
      while (len > 0 && (repr[len] & 0xc0) == 0x80)
        len--;
      n = (size_t) snprintf (en->err, en->errlen, "cannot encode %.*s... ",
                             (int) len, repr);
    }
  else
    n = (size_t) snprintf (en->err, en->errlen, "cannot encode %s ", repr);
  free (repr);
  va_start (ap, fmt);
  if (n < en->errlen)
    vsnprintf (en->err + n, en->errlen - n, fmt, ap);
  va_end (ap);
  return -1;
}

static size_t
utf8_encode (scm_t_wchar c, char *u)
{
  if (c < 0x800)
    {
      u[0] = (char) (0xc0 | (c >> 6));
      u[1] = (char) (0x80 | (c & 0x3f));
      return 2;
    }
  if (c < 0x10000)
    {
      u[0] = (char) (0xe0 | (c >> 12));
      u[1] = (char) (0x80 | ((c >> 6) & 0x3f));
      u[2] = (char) (0x80 | (c & 0x3f));
      return 3;
    }
  u[0] = (char) (0xf0 | (c >> 18));
  u[1] = (char) (0x80 | ((c >> 12) & 0x3f));
  u[2] = (char) (0x80 | ((c >> 6) & 0x3f));
  u[3] = (char) (0x80 | (c & 0x3f));
  return 4;
}

/* memcpy, with the copies of up to sixteen bytes (most keys and
   values) done in place rather than through a call: two fixed-size
   copies that overlap cover any length between their size and twice
   it. */
static inline void
copy_short (char *dst, const unsigned char *src, size_t n)
{
  if (n >= 8 && n <= 16)
    {
      memcpy (dst, src, 8);
      memcpy (dst + n - 8, src + n - 8, 8);
    }
  else if (n >= 4 && n < 8)
    {
      memcpy (dst, src, 4);
      memcpy (dst + n - 4, src + n - 4, 4);
    }
  else if (n > 16)
    memcpy (dst, src, n);
  else
    while (n-- > 0)
      *dst++ = (char) *src++;
}

/* The rest of escape_narrow, from S, the first byte that cannot be
   written as it is, in the string that starts at RUN and ends at END.
   Out of line, so that the common case saves and restores only the
   registers it needs. */
static void __attribute__ ((noinline))
escape_narrow_from (struct gl_buf *out, const unsigned char *run,
                    const unsigned char *s, const unsigned char *end,
                    const unsigned char *lo, int latin1)
{
  char u[2];

  put_byte (out, '"');
  for (; s < end; s = skip_plain (s, end, lo, latin1))
    {
      put_bytes (out, (const char *) run, (size_t) (s - run));
      if (*s >= 0x80)
        put_bytes (out, u, utf8_encode (*s, u));
      else
        escape_byte (out, *s);
      run = ++s;
    }
  put_bytes (out, (const char *) run, (size_t) (end - run));
  put_byte (out, '"');
}

/* Append the LEN Latin-1 characters at S as a JSON string, in Latin-1
   when LATIN1, else in UTF-8; LO as skip_plain takes it. */
static void
escape_narrow (struct gl_buf *out, const unsigned char *s, size_t len,
               const unsigned char *lo, int latin1)
{
  const unsigned char *end = s + len, *run = s;
  char *w;

  if (out->cap - out->len <= len + 2)
    gl_buf_reserve (out, len + 2);
  s = skip_plain (s, end, lo, latin1);
  if (s == end)
    {
      /* Nothing to escape, as with most keys and values: one copy,
         through a local pointer (a store through gl_buf's char * would
         make the compiler reload the buffer's fields after each). */
      w = out->data + out->len;
      w[0] = '"';
      copy_short (w + 1, run, len);
      w[len + 1] = '"';
      out->len += len + 2;
      return;
    }
  escape_narrow_from (out, run, s, end, lo, latin1);
}

/* A wide string is coming: re-encode the Latin-1 written so far as
   UTF-8, in place, from the end. */
static void
output_to_utf8 (struct encoder *en)
{
  struct gl_buf *out = en->out;
  size_t extra = 0, i, j;

  for (i = en->mark; i < out->len; i++)
    extra += (unsigned char) out->data[i] >> 7;
  gl_buf_reserve (out, extra);
  for (i = out->len, j = out->len + extra; i > en->mark; )
    {
      unsigned char c = (unsigned char) out->data[--i];

      if (c < 0x80)
        out->data[--j] = (char) c;
      else
        {
          out->data[--j] = (char) (0x80 | (c & 0x3f));
          out->data[--j] = (char) (0xc0 | (c >> 6));
        }
    }
  out->len += extra;
  out->data[out->len] = '\0';
  en->latin1 = 0;
}

/* Guile's wide strings hold only Unicode scalar values, so no check. */
static void
escape_utf32 (struct gl_buf *out, const scm_t_wchar *s, size_t len)
{
  char chunk[256];
  size_t i, n = 0;

  gl_buf_reserve (out, len + 2);
  put_byte (out, '"');
  for (i = 0; i < len; i++)
    {
      if (n > sizeof chunk - 4)
        {
          put_bytes (out, chunk, n);
          n = 0;
        }
      if (s[i] >= 0x80)
        n += utf8_encode (s[i], chunk + n);
      else if (plain_utf8[s[i]])
        chunk[n++] = (char) s[i];
      else
        {
          put_bytes (out, chunk, n);
          n = 0;
          escape_byte (out, (unsigned char) s[i]);
        }
    }
  put_bytes (out, chunk, n);
  put_byte (out, '"');
}

static void
encode_string (struct encoder *en, SCM str)
{
  const unsigned char *lo, *chars;
  size_t len;
  scm_t_wchar *wide;

  if ((chars = narrow_chars (str, &len, &lo)))
    {
      escape_narrow (en->out, chars, len, lo, en->latin1);
      scm_remember_upto_here_1 (str);
      return;
    }
  if (en->latin1)
    output_to_utf8 (en);
  wide = scm_to_utf32_stringn (str, &len);
  escape_utf32 (en->out, wide, len);
  free (wide);
}

static void
encode_fixnum (struct encoder *en, scm_t_signed_bits v)
{
  char digits[24], *p = digits + sizeof digits;
  scm_t_bits u = v < 0 ? -(scm_t_bits) v : (scm_t_bits) v;

  do
    *--p = (char) ('0' + u % 10);
  while ((u /= 10) != 0);
  if (v < 0)
    *--p = '-';
  put_bytes (en->out, p, (size_t) (digits + sizeof digits - p));
}

/* number->string's text is always ASCII, hence narrow. */
static void
append_number_text (struct encoder *en, SCM num)
{
  SCM text = scm_number_to_string (num, SCM_UNDEFINED);

  put_bytes (en->out, scm_i_string_chars (text),
             scm_c_string_length (text));
  scm_remember_upto_here_1 (text);
}

typedef unsigned __int128 uint128;

/* The shortest digits that read back as X > 0, into DIGITS (*N of
   them, value 0.DIGITS x 10^*K), by Burger and Dybvig's free-format
   algorithm with ties to even, which gives the digits of Guile's
   number->string (checked on millions of doubles) at a tenth of the
   cost: 128-bit integers instead of bignums.  They hold every quantity
   when X lies roughly between 1e-17 and 1e34; outside, returns 0. */
static int
shortest_digits (double x, char *digits, int *n, int *k)
{
  const uint64_t hidden = UINT64_C (1) << 52;
  uint128 r, s, mplus, mminus, scale = 1;
  uint64_t f;
  int e, i, d, even, low, high;

  f = (uint64_t) ldexp (frexp (x, &e), 53);
  e -= 53;
  if (e > 60 || e < -110)
    return 0;
  even = (f & 1) == 0;
  /* X = R / S; the next doubles up and down lie MPLUS / S and
     MMINUS / S away, times two (the gap below a power of two is half
     the one above). */
  if (e >= 0)
    {
      r = (uint128) f << (e + 1);
      s = 2;
      mplus = mminus = (uint128) 1 << e;
    }
  else
    {
      r = (uint128) f << 1;
      s = (uint128) 1 << (1 - e);
      mplus = mminus = 1;
    }
  if (f == hidden)
    {
      r <<= 1;
      s <<= 1;
      mplus <<= 1;
    }
  *k = (int) ceil (log10 (x) - 1e-10);
  for (i = 0; i < (*k < 0 ? -*k : *k); i++)
    scale *= 10;
  if (*k >= 0)
    s *= scale;
  else
    {
      r *= scale;
      mplus *= scale;
      mminus *= scale;
    }
  /* The estimate of K may be one off either way. */
  for (;;)
    {
      if (s >> 121)
        return 0;
      if (even ? r + mplus >= s : r + mplus > s)
        {
          s *= 10;
          ++*k;
        }
      else if (even ? (r + mplus) * 10 < s : (r + mplus) * 10 <= s)
        {
          r *= 10;
          mplus *= 10;
          mminus *= 10;
          --*k;
        }
      else
        break;
    }
  for (*n = 0;; )
    {
      r *= 10;
      mplus *= 10;
      mminus *= 10;
      for (d = 0; r >= s; d++)
        r -= s;
      low = even ? r <= mminus : r < mminus;
      high = even ? r + mplus >= s : r + mplus > s;
      if (low && high)
        d += r * 2 > s || (r * 2 == s && d % 2 == 1);
      else if (high)
        d++;
      digits[(*n)++] = (char) ('0' + d);
      if (low || high)
        return 1;
    }
}

/* Write X as Guile's number->string would: "0.001", "123.5", "1.0e7",
   "1.5e-4", or the digits of a large number with up to two zeros
   padded ("12345678900.0").  Returns 0 when it cannot. */
static int
append_double (struct encoder *en, double x)
{
  char text[48], digits[24];
  int n, k, exp, i, len = 0;

  if (x == 0)
    {
      put_bytes (en->out, signbit (x) ? "-0.0" : "0.0", signbit (x) ? 4 : 3);
      return 1;
    }
  if (x < 0)
    text[len++] = '-';
  if (!shortest_digits (fabs (x), digits, &n, &k))
    return 0;
  exp = k - 1;
  if (exp < -3 || (exp > 6 && exp - n >= 3))
    {
      text[len++] = digits[0];
      text[len++] = '.';
      if (n == 1)
        text[len++] = '0';
      memcpy (text + len, digits + 1, (size_t) n - 1);
      len += n - 1;
      len += snprintf (text + len, sizeof text - (size_t) len, "e%d", exp);
    }
  else if (k <= 0)
    {
      text[len++] = '0';
      text[len++] = '.';
      for (i = k; i < 0; i++)
        text[len++] = '0';
      memcpy (text + len, digits, (size_t) n);
      len += n;
    }
  else
    {
      for (i = 0; i < k; i++)
        text[len++] = i < n ? digits[i] : '0';
      text[len++] = '.';
      if (n <= k)
        text[len++] = '0';
      for (i = k; i < n; i++)
        text[len++] = digits[i];
    }
  put_bytes (en->out, text, (size_t) len);
  return 1;
}

static int
encode_number (struct encoder *en, SCM num)
{
  if (!scm_is_real (num))
    return encode_fail (en, num, "as JSON: complex numbers have no JSON "
                        "form; %s", what_json_accepts);
  if (scm_is_exact_integer (num))
    {
      append_number_text (en, num);
      return 0;
    }
  if (scm_is_exact (num))
    num = scm_exact_to_inexact (num);
  if (!isfinite (scm_to_double (num)))
    return encode_fail (en, num, "as JSON: JSON numbers must be finite");
  if (!append_double (en, scm_to_double (num)))
    append_number_text (en, num);
  return 0;
}

static int encode_value (struct encoder *en, SCM obj, int depth);

static int
encode_key (struct encoder *en, SCM key)
{
  if (scm_is_string (key))
    encode_string (en, key);
  else if (scm_is_symbol (key))
    encode_string (en, scm_symbol_to_string (key));
  else
    return encode_fail (en, key, "as a JSON object key: keys must be "
                        "strings or symbols");
  return 0;
}

static int
encode_alist (struct encoder *en, SCM alist, int depth)
{
  SCM rest, slow = alist, pair;
  size_t n;
  int r;

  put_byte (en->out, '{');
  for (rest = alist, n = 0; scm_is_pair (rest); rest = SCM_CDR (rest), n++)
    {
      /* SLOW walks at half speed; meeting it again means a cycle. */
      if (n > 0 && (n & 1) == 0)
        {
          slow = SCM_CDR (slow);
          if (scm_is_eq (slow, rest))
            return encode_fail (en, alist, "as JSON: an object must be a "
                                "proper alist, and this list is circular");
        }
      pair = SCM_CAR (rest);
      if (!scm_is_pair (pair))
        return encode_fail (en, alist, "as JSON: a list must be an alist "
                            "((key . value) ...); for an array use a "
                            "vector"), GL_JSON_ENCODE_LIST;
      if (n > 0)
        put_byte (en->out, ',');
      if (encode_key (en, SCM_CAR (pair)) < 0)
        return -1;
      put_byte (en->out, ':');
      if ((r = encode_value (en, SCM_CDR (pair), depth)) < 0)
        return r;
    }
  if (!scm_is_null (rest))
    return encode_fail (en, alist, "as JSON: an object must be a proper "
                        "alist, and this list is improper"),
      GL_JSON_ENCODE_LIST;
  put_byte (en->out, '}');
  return 0;
}

static int
encode_vector (struct encoder *en, SCM vec, int depth)
{
  size_t i, n = SCM_SIMPLE_VECTOR_LENGTH (vec);
  int r;

  put_byte (en->out, '[');
  for (i = 0; i < n; i++)
    {
      if (i > 0)
        put_byte (en->out, ',');
      if ((r = encode_value (en, SCM_SIMPLE_VECTOR_REF (vec, i), depth)) < 0)
        return r;
    }
  put_byte (en->out, ']');
  return 0;
}

/* The order of the tests follows guile-json's json-build: 'null before
   symbols, #nil counts as false before it could count as '(). */
static int
encode_value (struct encoder *en, SCM obj, int depth)
{
  if (SCM_I_INUMP (obj))
    {
      encode_fixnum (en, SCM_I_INUM (obj));
      return 0;
    }
  if (scm_is_eq (obj, sym_null))
    put_bytes (en->out, "null", 4);
  else if (scm_is_eq (obj, SCM_BOOL_T))
    put_bytes (en->out, "true", 4);
  else if (scm_is_false (obj))
    put_bytes (en->out, "false", 5);
  else if (scm_is_string (obj))
    encode_string (en, obj);
  else if (scm_is_pair (obj) || scm_is_null (obj)
           || scm_is_vector (obj))
    {
      if (depth == GL_JSON_MAX_DEPTH)
        return encode_fail (en, obj, "as JSON: nesting deeper than %d "
                            "levels (is it circular?)", GL_JSON_MAX_DEPTH);
      if (scm_is_vector (obj))
        return encode_vector (en, obj, depth + 1);
      return encode_alist (en, obj, depth + 1);
    }
  else if (scm_is_number (obj))
    return encode_number (en, obj);
  else if (scm_is_symbol (obj))
    /* guile-json writes other symbols as strings. */
    encode_string (en, scm_symbol_to_string (obj));
  else
    return encode_fail (en, obj, "as JSON: %s", what_json_accepts);
  return 0;
}

static int
encode (struct encoder *en, SCM obj)
{
  int r;

  pthread_once (&tables_once, tables_init);
  if (en->errlen > 0)
    en->err[0] = '\0';
  if ((r = encode_value (en, obj, 0)) < 0)
    {
      /* Leave OUT as it was rather than holding half a document. */
      en->out->len = en->mark;
      if (en->out->data)
        en->out->data[en->mark] = '\0';
      return r;
    }
  put_end (en->out);
  return 0;
}

int
gl_json_encode (SCM obj, struct gl_buf *out, char *err, size_t errlen)
{
  struct encoder en = { out, out->len, 0, err, errlen };

  return encode (&en, obj);
}

/* ------------------------------------------------------------------ */
/* Scheme procedures                                                   */
/* ------------------------------------------------------------------ */

static void
throw_json_error (const char *subr, const char *msg)
{
  scm_error (sym_json_error, subr, "~A",
             scm_list_1 (scm_from_utf8_string (msg)), SCM_BOOL_F);
}

/* The UTF-8 text of a wide string, in a buffer to free.  Encoding it
   here beats scm_to_utf8_stringn, which goes one character at a time
   through libunistring. */
static char *
wide_to_utf8 (SCM str, size_t *lenp)
{
  size_t n, i, len = 0;
  scm_t_wchar *wide = scm_to_utf32_stringn (str, &n);
  char *utf8 = xrealloc (NULL, n * 4 + 1);

  for (i = 0; i < n; i++)
    if (wide[i] < 0x80)
      utf8[len++] = (char) wide[i];
    else
      len += utf8_encode (wide[i], utf8 + len);
  free (wide);
  *lenp = len;
  return utf8;
}

static SCM
decode_subr (SCM text)
{
  char err[512];
  SCM v;

  if (scm_is_bytevector (text))
    {
      v = gl_json_decode ((const char *) SCM_BYTEVECTOR_CONTENTS (text),
                          SCM_BYTEVECTOR_LENGTH (text), err, sizeof err);
      scm_remember_upto_here_1 (text);
    }
  else
    {
      const unsigned char *chars, *lo;
      size_t len;
      char *s;

      SCM_ASSERT_TYPE (scm_is_string (text), text, SCM_ARG1,
                       "json-string->scm", "string or bytevector");
      if ((chars = narrow_chars (text, &len, &lo)))
        {
          const char *base;
          SCM shared = text_stringbuf (text, (const char *) chars, len,
                                       &base);

          v = decode ((const char *) chars, len, 1, 1, err, sizeof err,
                      shared, base);
          scm_remember_upto_here_1 (text);
        }
      else
        {
          s = wide_to_utf8 (text, &len);
          v = gl_json_decode (s, len, err, sizeof err);
          free (s);
        }
    }
  if (SCM_UNBNDP (v))
    throw_json_error ("json-string->scm", err);
  return v;
}

/* (%json-check BYTEVECTOR): #t if its UTF-8 is JSON that
   json-string->scm accepts, else the message it would raise; what the
   supervisor asks of each event and response, for the tests. */
static SCM
check_subr (SCM bv)
{
  char err[512];
  int r;

  SCM_ASSERT_TYPE (scm_is_bytevector (bv), bv, SCM_ARG1, "%json-check",
                   "bytevector");
  r = gl_json_check ((const char *) SCM_BYTEVECTOR_CONTENTS (bv),
                     SCM_BYTEVECTOR_LENGTH (bv), err, sizeof err);
  scm_remember_upto_here_1 (bv);
  return r == 0 ? SCM_BOOL_T : scm_from_utf8_string (err);
}

/* Length of the ASCII run at the start of [S, END). */
static size_t
ascii_prefix (const unsigned char *s, const unsigned char *end)
{
  const unsigned char *p = s;
  uint64_t w;

  for (; end - p >= 8; p += 8)
    {
      memcpy (&w, p, 8);
      if (w & UINT64_C (0x8080808080808080))
        break;
    }
  while (p < end && *p < 0x80)
    p++;
  return (size_t) (p - s);
}

/* The Guile string of LEN bytes of well-formed UTF-8 at STR, decoded
   once (scm_from_utf8_stringn checks and decodes in two passes). */
static SCM
string_from_utf8 (const char *str, size_t len)
{
  const unsigned char *s = (const unsigned char *) str, *end = s + len;
  scm_t_wchar *wide, max = 0, c;
  size_t n = 0, run, i;
  SCM result;

  run = ascii_prefix (s, end);
  if (run == len)
    return scm_from_latin1_stringn (str, len);
  wide = xrealloc (NULL, len * sizeof *wide);
  while (s < end)
    {
      for (i = 0; i < run; i++)
        wide[n++] = s[i];
      s += run;
      if (s >= end)
        break;
      c = *s++;
      if (c >= 0xf0)
        {
          c = ((c & 0x07) << 18) | ((s[0] & 0x3f) << 12)
              | ((s[1] & 0x3f) << 6) | (s[2] & 0x3f);
          s += 3;
        }
      else if (c >= 0xe0)
        {
          c = ((c & 0x0f) << 12) | ((s[0] & 0x3f) << 6) | (s[1] & 0x3f);
          s += 2;
        }
      else
        c = ((c & 0x1f) << 6) | (*s++ & 0x3f);
      if (c > max)
        max = c;
      wide[n++] = c;
      run = ascii_prefix (s, end);
    }
  if (max < 0x100)
    {
      unsigned char *narrow = (unsigned char *) wide;

      for (i = 0; i < n; i++)
        narrow[i] = (unsigned char) wide[i];
      result = scm_from_latin1_stringn ((const char *) narrow, n);
    }
  else
    result = scm_from_utf32_stringn (wide, n);
  free (wide);
  return result;
}

/* scm->json-string's output buffer for the calling thread, made the
   first time (encode_buf_key). */
static struct gl_buf *
encode_buf (void)
{
  struct gl_buf *b = pthread_getspecific (encode_buf_key);

  if (b == NULL)
    {
      b = xrealloc (NULL, sizeof *b);
      gl_buf_init (b);
      if (pthread_setspecific (encode_buf_key, b) != 0)
        {
          fputs ("guile-lambda: out of memory\n", stderr);
          abort ();
        }
    }
  return b;
}

static SCM
encode_subr (SCM obj)
{
  struct gl_buf *out = encode_buf ();
  char err[512];
  struct encoder en = { out, 0, 1, err, sizeof err };
  SCM text = SCM_BOOL_F;
  int r;

  gl_buf_reset (out);
  r = encode (&en, obj);
  if (r == 0)
    text = en.latin1 ? scm_from_latin1_stringn (out->data, out->len)
                     : string_from_utf8 (out->data, out->len);
  if (out->cap > ENCODE_KEEP_BYTES)
    gl_buf_free (out);
  if (r < 0)
    throw_json_error ("scm->json-string", err);
  return text;
}

void
gl_json_init (void)
{
  pthread_once (&tables_once, tables_init);
  layout_probe ();
  sym_null = scm_permanent_object (scm_from_utf8_symbol ("null"));
  sym_json_error = scm_permanent_object (scm_from_utf8_symbol ("json-error"));
  scm_c_define_gsubr ("json-string->scm", 1, 0, 0, decode_subr);
  scm_c_define_gsubr ("scm->json-string", 1, 0, 0, encode_subr);
  scm_c_define_gsubr ("%json-check", 1, 0, 0, check_subr);
}
