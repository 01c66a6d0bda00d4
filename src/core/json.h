/* json.h: the JSON codec.  Text <-> guile-json 4 data (DESIGN.md §5):
   objects are alists with string keys in document order, arrays are
   vectors, null is the symbol null, true/false are #t/#f. */
#ifndef GL_JSON_H
#define GL_JSON_H

#include <libguile.h>
#include "core/buf.h"

/* Deeper documents are refused rather than risking the C stack. */
#define GL_JSON_MAX_DEPTH 512

/* Decode LEN bytes of UTF-8 text holding exactly one JSON value
   (surrounding white space allowed).  Returns the value, or
   SCM_UNDEFINED with a message naming what and where in ERR. */
SCM gl_json_decode (const char *text, size_t len, char *err, size_t errlen);

/* Whether LEN bytes of UTF-8 are a text gl_json_decode accepts: 0, or
   -1 with its message in ERR.  Nothing is built, so it runs on any
   thread, in Guile mode or not. */
int gl_json_check (const char *text, size_t len, char *err, size_t errlen);

/* Append OBJ as compact JSON to OUT.  Returns 0, or a negative value
   with a message in ERR naming the value that cannot be encoded:
   GL_JSON_ENCODE_LIST when it is a list that is not an alist (often a
   list meant as an array), -1 for anything else. */
#define GL_JSON_ENCODE_LIST (-2)
int gl_json_encode (SCM obj, struct gl_buf *out, char *err, size_t errlen);

/* Append S (LEN bytes of UTF-8) as a quoted JSON string.  Pure C and
   thread-safe: the watchdog uses it when Guile cannot be entered. */
void gl_json_escape (struct gl_buf *out, const char *s, size_t len);

/* Append Lambda's error object {errorType, errorMessage, stackTrace: []}
   for TYPE and MESSAGE.  Pure C, as gl_json_escape. */
void gl_json_error (struct gl_buf *out, const char *type,
                    const char *message);

/* Define json-string->scm and scm->json-string in the current module. */
void gl_json_init (void);

#endif
