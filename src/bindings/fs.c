/* fs.c: file system requests on libuv's thread pool: read and write
   whole files, append, stat, readdir, mkdir, unlink, rename.  Each call
   is one request "fs" in the registry, in flight until its completion
   procedure is called, even when it takes several uv_fs steps (open,
   fstat, read..., close), so that the empty-loop test and the timeout
   report see the operation the handler asked for, not its pieces.

   Completion procedures have a fixed arity per operation: (proc err
   value) for those that produce a value (read-file, stat, readdir) and
   (proc err) for the others. */
#include "bindings/bindings.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum fs_op {
  FS_READ_FILE, FS_WRITE_FILE, FS_APPEND_FILE, FS_STAT, FS_LSTAT,
  FS_READDIR, FS_MKDIR, FS_UNLINK, FS_RENAME
};

/* Indexed by enum fs_op: the operation's name in details and logs, and
   the Scheme procedure's, which errors name. */
static const char *const op_names[] = {
  "read-file", "write-file", "append-file", "stat", "lstat",
  "readdir", "mkdir", "unlink", "rename"
};
static const char *const op_subrs[] = {
  "fs-read-file", "fs-write-file", "fs-append-file", "fs-stat", "fs-lstat",
  "fs-readdir", "fs-mkdir", "fs-unlink", "fs-rename"
};

/* A request's own state, in h->data; the path is h->text. */
struct fs_state {
  enum fs_op op;
  char *to;                     /* rename: the new path */
  uv_file fd;                   /* -1 when no file is open */
  char *buf;                    /* read: what came so far; write: the data */
  size_t len;                   /* bytes in buf */
  size_t cap;                   /* read: bytes allocated */
  size_t done;                  /* write: bytes written */
  int status;                   /* the error to report once closed, or 0 */
};

/* Reading a file whose size fstat does not know (/proc, pipes) starts
   with this much and doubles. */
#define READ_CHUNK 65536
/* Past this, read-file fails with EFBIG rather than eat the memory (a
   device such as /dev/zero never ends); Node's limit too. */
#define READ_MAX ((size_t) 0x7fffffff)

#define FS_HANDLE(req) \
  ((struct gl_handle *) ((char *) (req) - offsetof (struct gl_handle, u)))

static struct fs_state *
fs_state (const struct gl_handle *h)
{
  return h->data;
}

static void
fs_describe (const struct gl_handle *h, struct gl_buf *out)
{
  const struct fs_state *st = fs_state (h);

  gl_buf_printf (out, " (%s %s", op_names[st->op], h->text);
  if (st->to)
    gl_buf_printf (out, " -> %s", st->to);
  gl_buf_putc (out, ')');
}

static SCM
fs_details (const struct gl_handle *h)
{
  const struct fs_state *st = fs_state (h);
  SCM out = SCM_EOL;

  if (st->to)
    out = scm_acons (scm_from_utf8_symbol ("to"),
                     scm_from_utf8_string (st->to), out);
  out = scm_acons (scm_from_utf8_symbol ("path"),
                   scm_from_utf8_string (h->text), out);
  return scm_acons (scm_from_utf8_symbol ("operation"),
                    scm_from_utf8_symbol (op_names[st->op]), out);
}

static void
fs_release (struct gl_handle *h)
{
  struct fs_state *st = fs_state (h);

  if (st)
    {
      free (st->to);
      free (st->buf);
      free (st);
    }
}

static const struct gl_handle_class fs_class = {
  "fs", GL_KIND_REQUEST, fs_describe, fs_details, fs_release
};

/* The error value for STATUS, naming the operation and its path(s). */
static SCM
fs_error (const struct gl_handle *h, int status)
{
  const struct fs_state *st = fs_state (h);
  struct gl_buf target;
  SCM err;

  gl_buf_init (&target);
  gl_buf_puts (&target, h->text);
  if (st->to)
    gl_buf_printf (&target, " -> %s", st->to);
  err = gl_uv_error (status, op_subrs[st->op], target.data);
  gl_buf_free (&target);
  return err;
}

static int
fs_has_value (enum fs_op op)
{
  return op == FS_READ_FILE || op == FS_STAT || op == FS_LSTAT
    || op == FS_READDIR;
}

/* The end of a request: call its completion procedure with STATUS's
   error or with VALUE, then free it. */
static void
fs_complete (struct gl_handle *h, int status, SCM value)
{
  SCM proc = h->callback;
  SCM args;

  h->in_flight = 0;
  if (status < 0)
    args = fs_has_value (fs_state (h)->op)
      ? scm_list_2 (fs_error (h, status), SCM_BOOL_F)
      : scm_list_1 (fs_error (h, status));
  else
    args = fs_has_value (fs_state (h)->op)
      ? scm_list_2 (SCM_BOOL_F, value) : scm_list_1 (SCM_BOOL_F);
  gl_callback_run (h, proc, args);
  gl_request_finish (h);
  scm_remember_upto_here_2 (proc, value);
}

/* The container was reset while the request was in flight: nobody
   wants its result, but an open file must still be closed. */
static void
fs_drop (struct gl_handle *h)
{
  struct fs_state *st = fs_state (h);
  uv_fs_t req;

  if (st->fd >= 0)
    {
      uv_fs_close (gl_handles_loop (), &req, st->fd, NULL);
      uv_fs_req_cleanup (&req);
    }
  gl_request_finish (h);
}

/* Steps of read-file and write-file: open, (fstat, read... | write...),
   close.  Each step's callback takes the result out of the request and
   reuses it for the next step. */

static void fs_on_closed (uv_fs_t *req);
static void fs_read_next (struct gl_handle *h);
static void fs_write_next (struct gl_handle *h);

/* Close the open file, then complete with STATUS (or the close's own
   error, which matters for writes). */
static void
fs_close (struct gl_handle *h, int status)
{
  struct fs_state *st = fs_state (h);
  uv_file fd = st->fd;
  int r;

  st->status = status;
  st->fd = -1;
  r = uv_fs_close (gl_handles_loop (), &h->u.fs, fd, fs_on_closed);
  if (r < 0)
    fs_complete (h, status < 0 ? status : r, SCM_BOOL_F);
}

static SCM
fs_read_value (const struct fs_state *st)
{
  SCM bv = scm_c_make_bytevector (st->len);

  if (st->len)
    memcpy (SCM_BYTEVECTOR_CONTENTS (bv), st->buf, st->len);
  return bv;
}

static void
fs_on_closed (uv_fs_t *req)
{
  struct gl_handle *h = FS_HANDLE (req);
  struct fs_state *st = fs_state (h);
  int status = st->status < 0 ? st->status : (int) req->result;

  uv_fs_req_cleanup (req);
  if (h->closing)
    fs_drop (h);
  else if (status < 0)
    fs_complete (h, status, SCM_BOOL_F);
  else
    fs_complete (h, 0, st->op == FS_READ_FILE ? fs_read_value (st)
                                               : SCM_BOOL_F);
}

static void
fs_on_read (uv_fs_t *req)
{
  struct gl_handle *h = FS_HANDLE (req);
  struct fs_state *st = fs_state (h);
  ssize_t n = req->result;

  uv_fs_req_cleanup (req);
  if (h->closing)
    fs_drop (h);
  else if (n < 0)
    fs_close (h, (int) n);
  else if (n == 0)
    fs_close (h, 0);
  else
    {
      st->len += (size_t) n;
      fs_read_next (h);
    }
}

/* uv_buf_t lengths are unsigned int: big files go in several steps. */
static unsigned int
io_size (size_t n)
{
  return n > (1u << 30) ? 1u << 30 : (unsigned int) n;
}

/* Read until end of file rather than trusting fstat's size: the file
   may grow meanwhile, and /proc files say 0. */
static void
fs_read_next (struct gl_handle *h)
{
  struct fs_state *st = fs_state (h);
  uv_buf_t b;
  int r;

  if (st->len == st->cap)
    {
      size_t cap = st->cap ? st->cap * 2 : READ_CHUNK;
      char *buf;

      if (st->len >= READ_MAX)
        {
          fs_close (h, UV_EFBIG);
          return;
        }
      if (cap > READ_MAX + 1)
        cap = READ_MAX + 1;
      buf = realloc (st->buf, cap);
      if (buf == NULL)
        {
          fs_close (h, UV_ENOMEM);
          return;
        }
      st->buf = buf;
      st->cap = cap;
    }
  b = uv_buf_init (st->buf + st->len, io_size (st->cap - st->len));
  r = uv_fs_read (gl_handles_loop (), &h->u.fs, st->fd, &b, 1, -1,
                  fs_on_read);
  if (r < 0)
    fs_close (h, r);
}

static void
fs_on_fstat (uv_fs_t *req)
{
  struct gl_handle *h = FS_HANDLE (req);
  struct fs_state *st = fs_state (h);
  int status = (int) req->result;
  uint64_t size = req->statbuf.st_size;
  int is_dir = S_ISDIR (req->statbuf.st_mode);

  uv_fs_req_cleanup (req);
  if (h->closing)
    fs_drop (h);
  else if (status < 0)
    fs_close (h, status);
  else if (is_dir)
    /* Linux opens a directory for reading; say EISDIR now, as Node. */
    fs_close (h, UV_EISDIR);
  else if (size > READ_MAX)
    fs_close (h, UV_EFBIG);
  else
    {
      /* One byte more than the size, so that end of file is seen
         without growing the buffer. */
      if (size > 0)
        {
          st->buf = malloc ((size_t) size + 1);
          st->cap = st->buf ? (size_t) size + 1 : 0;
        }
      fs_read_next (h);
    }
}

static void
fs_on_written (uv_fs_t *req)
{
  struct gl_handle *h = FS_HANDLE (req);
  struct fs_state *st = fs_state (h);
  ssize_t n = req->result;

  uv_fs_req_cleanup (req);
  if (h->closing)
    fs_drop (h);
  else if (n < 0)
    fs_close (h, (int) n);
  else
    {
      st->done += (size_t) n;
      fs_write_next (h);
    }
}

/* A write may be partial: go on until every byte is out. */
static void
fs_write_next (struct gl_handle *h)
{
  struct fs_state *st = fs_state (h);
  uv_buf_t b;
  int r;

  if (st->done == st->len)
    {
      fs_close (h, 0);
      return;
    }
  b = uv_buf_init (st->buf + st->done, io_size (st->len - st->done));
  r = uv_fs_write (gl_handles_loop (), &h->u.fs, st->fd, &b, 1, -1,
                   fs_on_written);
  if (r < 0)
    fs_close (h, r);
}

static void
fs_on_open (uv_fs_t *req)
{
  struct gl_handle *h = FS_HANDLE (req);
  struct fs_state *st = fs_state (h);
  int fd = (int) req->result;
  int r;

  uv_fs_req_cleanup (req);
  if (fd >= 0)
    st->fd = fd;
  if (h->closing)
    fs_drop (h);
  else if (fd < 0)
    fs_complete (h, fd, SCM_BOOL_F);
  else if (st->op == FS_READ_FILE)
    {
      r = uv_fs_fstat (gl_handles_loop (), &h->u.fs, fd, fs_on_fstat);
      if (r < 0)
        fs_close (h, r);
    }
  else
    fs_write_next (h);
}

/* One-step operations. */

static SCM
timespec_to_scm (uv_timespec_t t)
{
  return scm_from_double ((double) t.tv_sec + (double) t.tv_nsec / 1e9);
}

static SCM
stat_to_scm (const uv_stat_t *s)
{
  const char *type;
  SCM out = SCM_EOL;

  if (S_ISREG (s->st_mode))
    type = "file";
  else if (S_ISDIR (s->st_mode))
    type = "directory";
  else if (S_ISLNK (s->st_mode))
    type = "symlink";
  else
    type = "other";
#define FIELD(name, value) \
  out = scm_acons (scm_from_utf8_symbol (name), (value), out)
  FIELD ("birthtime", timespec_to_scm (s->st_birthtim));
  FIELD ("ctime", timespec_to_scm (s->st_ctim));
  FIELD ("atime", timespec_to_scm (s->st_atim));
  FIELD ("mtime", timespec_to_scm (s->st_mtim));
  FIELD ("ino", scm_from_uint64 (s->st_ino));
  FIELD ("dev", scm_from_uint64 (s->st_dev));
  FIELD ("nlink", scm_from_uint64 (s->st_nlink));
  FIELD ("gid", scm_from_uint64 (s->st_gid));
  FIELD ("uid", scm_from_uint64 (s->st_uid));
  /* The permission bits: the file's type is in `type'. */
  FIELD ("mode", scm_from_uint64 (s->st_mode & 07777));
  FIELD ("size", scm_from_uint64 (s->st_size));
  FIELD ("type", scm_from_utf8_symbol (type));
#undef FIELD
  return out;
}

static int
name_compare (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The entries of a finished scandir request, sorted by bytes (for UTF-8
   names, by code point); names that are not UTF-8 get '?'s.  Each
   uv_fs_scandir_next frees the entry before, so names are copied. */
static SCM
readdir_to_scm (uv_fs_t *req)
{
  size_t n = req->result > 0 ? (size_t) req->result : 0;
  char **names = calloc (n ? n : 1, sizeof *names);
  uv_dirent_t ent;
  size_t i, count = 0;
  SCM out = SCM_EOL;

  if (names == NULL)
    scm_report_out_of_memory ();
  while (count < n && uv_fs_scandir_next (req, &ent) != UV_EOF)
    if ((names[count] = strdup (ent.name)) != NULL)
      count++;
  qsort (names, count, sizeof *names, name_compare);
  for (i = count; i-- > 0;)
    out = scm_cons (scm_from_stringn (names[i], strlen (names[i]), "UTF-8",
                                      SCM_FAILED_CONVERSION_QUESTION_MARK),
                    out);
  for (i = 0; i < count; i++)
    free (names[i]);
  free (names);
  return out;
}

static void
fs_on_done (uv_fs_t *req)
{
  struct gl_handle *h = FS_HANDLE (req);
  struct fs_state *st = fs_state (h);
  int status = req->result < 0 ? (int) req->result : 0;
  SCM value = SCM_BOOL_F;

  if (h->closing)
    {
      uv_fs_req_cleanup (req);
      fs_drop (h);
      return;
    }
  if (status == 0 && (st->op == FS_STAT || st->op == FS_LSTAT))
    value = stat_to_scm (&req->statbuf);
  else if (status == 0 && st->op == FS_READDIR)
    value = readdir_to_scm (req);
  uv_fs_req_cleanup (req);
  fs_complete (h, status, value);
}

/* Starting a request. */

static char *
path_to_c (SCM path, int pos, const char *subr)
{
  size_t len;
  char *s;

  SCM_ASSERT_TYPE (scm_is_string (path), path, pos, subr, "path string");
  s = scm_to_utf8_stringn (path, &len);
  if (len == 0 || memchr (s, '\0', len))
    {
      free (s);
      scm_misc_error (subr, "bad path ~s: a path is a non-empty string "
                      "without NUL characters", scm_list_1 (path));
    }
  return s;
}

static void
proc_check (SCM proc, int pos, const char *subr)
{
  SCM_ASSERT_TYPE (scm_is_true (scm_procedure_p (proc)), proc, pos, subr,
                   "completion procedure");
}

/* A registered request for OP on PATH (and TO), not yet started.  PATH
   and TO are malloc'd and become the request's. */
static struct gl_handle *
fs_request_new (SCM origin, enum fs_op op, char *path, char *to, SCM proc)
{
  struct fs_state *st = calloc (1, sizeof *st);
  struct gl_handle *h;

  if (st == NULL)
    {
      free (path);
      free (to);
      scm_report_out_of_memory ();
    }
  st->op = op;
  st->to = to;
  st->fd = -1;
  h = gl_handle_new (&fs_class, origin, proc);
  h->text = path;
  h->data = st;
  h->u.fs.data = h;
  return h;
}

/* What every primitive returns: the request object, or a raised error
   when libuv refused to start it (never the case for file errors, which
   come through the completion procedure). */
static SCM
fs_started (struct gl_handle *h, int r)
{
  const struct fs_state *st = fs_state (h);
  enum fs_op op = st->op;
  char target[512];             /* gl_uv_error's message is no longer */

  if (r < 0)
    {
      snprintf (target, sizeof target, "%s%s%s", h->text,
                st->to ? " -> " : "", st->to ? st->to : "");
      gl_request_abandon (h);
      gl_uv_raise (r, op_subrs[op], target);
    }
  return h->object;
}

static SCM
fs_path_op (SCM origin, SCM path, SCM proc, enum fs_op op)
{
  const char *subr = op_subrs[op];
  uv_loop_t *loop = gl_handles_loop ();
  struct gl_handle *h;
  int r;

  proc_check (proc, 2, subr);
  h = fs_request_new (origin, op, path_to_c (path, 1, subr), NULL, proc);
  switch (op)
    {
    case FS_READ_FILE:
      r = uv_fs_open (loop, &h->u.fs, h->text, O_RDONLY, 0, fs_on_open);
      break;
    case FS_STAT:
      r = uv_fs_stat (loop, &h->u.fs, h->text, fs_on_done);
      break;
    case FS_LSTAT:
      r = uv_fs_lstat (loop, &h->u.fs, h->text, fs_on_done);
      break;
    case FS_READDIR:
      r = uv_fs_scandir (loop, &h->u.fs, h->text, 0, fs_on_done);
      break;
    case FS_MKDIR:
      r = uv_fs_mkdir (loop, &h->u.fs, h->text, 0777, fs_on_done);
      break;
    case FS_UNLINK:
      r = uv_fs_unlink (loop, &h->u.fs, h->text, fs_on_done);
      break;
    default:
      r = UV_EINVAL;
    }
  return fs_started (h, r);
}

static SCM
fs_read_file (SCM origin, SCM path, SCM proc)
{
  return fs_path_op (origin, path, proc, FS_READ_FILE);
}

static SCM
fs_stat (SCM origin, SCM path, SCM proc)
{
  return fs_path_op (origin, path, proc, FS_STAT);
}

static SCM
fs_lstat (SCM origin, SCM path, SCM proc)
{
  return fs_path_op (origin, path, proc, FS_LSTAT);
}

static SCM
fs_readdir (SCM origin, SCM path, SCM proc)
{
  return fs_path_op (origin, path, proc, FS_READDIR);
}

static SCM
fs_mkdir (SCM origin, SCM path, SCM proc)
{
  return fs_path_op (origin, path, proc, FS_MKDIR);
}

static SCM
fs_unlink (SCM origin, SCM path, SCM proc)
{
  return fs_path_op (origin, path, proc, FS_UNLINK);
}

/* DATA as malloc'd bytes: a string's UTF-8, or a bytevector's copy (the
   thread pool must not see memory the collector may move or free). */
static char *
data_to_c (SCM data, size_t *len, const char *subr)
{
  char *buf;

  if (scm_is_string (data))
    return scm_to_utf8_stringn (data, len);
  SCM_ASSERT_TYPE (scm_is_bytevector (data), data, 2, subr,
                   "string or bytevector");
  *len = SCM_BYTEVECTOR_LENGTH (data);
  buf = malloc (*len ? *len : 1);
  if (buf == NULL)
    scm_report_out_of_memory ();
  memcpy (buf, SCM_BYTEVECTOR_CONTENTS (data), *len);
  return buf;
}

static SCM
fs_write_op (SCM origin, SCM path, SCM data, SCM proc, enum fs_op op)
{
  const char *subr = op_subrs[op];
  int flags = O_WRONLY | O_CREAT
    | (op == FS_APPEND_FILE ? O_APPEND : O_TRUNC);
  struct gl_handle *h;
  char *c_path, *buf;
  size_t len;

  proc_check (proc, 3, subr);
  SCM_ASSERT_TYPE (scm_is_string (data) || scm_is_bytevector (data), data,
                   2, subr, "string or bytevector");
  c_path = path_to_c (path, 1, subr);
  buf = data_to_c (data, &len, subr);
  h = fs_request_new (origin, op, c_path, NULL, proc);
  fs_state (h)->buf = buf;
  fs_state (h)->len = len;
  return fs_started (h, uv_fs_open (gl_handles_loop (), &h->u.fs, h->text,
                                    flags, 0644, fs_on_open));
}

static SCM
fs_write_file (SCM origin, SCM path, SCM data, SCM proc)
{
  return fs_write_op (origin, path, data, proc, FS_WRITE_FILE);
}

static SCM
fs_append_file (SCM origin, SCM path, SCM data, SCM proc)
{
  return fs_write_op (origin, path, data, proc, FS_APPEND_FILE);
}

static SCM
fs_rename (SCM origin, SCM from, SCM to, SCM proc)
{
  const char *subr = op_subrs[FS_RENAME];
  struct gl_handle *h;
  char *c_from, *c_to;

  proc_check (proc, 3, subr);
  SCM_ASSERT_TYPE (scm_is_string (to), to, 2, subr, "path string");
  /* The second conversion may raise: do not leak the first. */
  c_from = path_to_c (from, 1, subr);
  scm_dynwind_begin (0);
  scm_dynwind_unwind_handler (free, c_from, 0);
  c_to = path_to_c (to, 2, subr);
  scm_dynwind_end ();
  h = fs_request_new (origin, FS_RENAME, c_from, c_to, proc);
  return fs_started (h, uv_fs_rename (gl_handles_loop (), &h->u.fs,
                                      h->text, fs_state (h)->to,
                                      fs_on_done));
}

void
gl_fs_init (void)
{
  scm_c_define_gsubr ("%fs-read-file", 3, 0, 0, fs_read_file);
  scm_c_define_gsubr ("%fs-write-file", 4, 0, 0, fs_write_file);
  scm_c_define_gsubr ("%fs-append-file", 4, 0, 0, fs_append_file);
  scm_c_define_gsubr ("%fs-stat", 3, 0, 0, fs_stat);
  scm_c_define_gsubr ("%fs-lstat", 3, 0, 0, fs_lstat);
  scm_c_define_gsubr ("%fs-readdir", 3, 0, 0, fs_readdir);
  scm_c_define_gsubr ("%fs-mkdir", 3, 0, 0, fs_mkdir);
  scm_c_define_gsubr ("%fs-unlink", 3, 0, 0, fs_unlink);
  scm_c_define_gsubr ("%fs-rename", 4, 0, 0, fs_rename);
}
