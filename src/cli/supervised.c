/* supervised.c: `batch' through the supervisor (DESIGN.md §8).  A
   reader thread reads the events' lines and hands them to the loop, at
   most WINDOW records ahead of those written, so that memory stays
   bounded however long the stream; the loop submits each line to the
   service as soon as it arrives and writes each record when its turn
   comes (input order), or at once with --unordered.

   Who owns what: the reader thread owns the input and its line reader;
   the lines between it and the loop, and the count of records written
   that it waits on, are under `lock'; everything else belongs to the
   loop's thread. */
#include "cli/cli.h"
#include "core/json.h"
#include "core/log.h"
#include "service/service.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define WINDOW 1024

struct line {
  struct line *next;
  unsigned long lineno;
  char *text;
  size_t len;
};

struct slot {
  unsigned long lineno;
  int done;                     /* its record is ready */
  int out;                      /* its record is written (--unordered) */
  struct gl_buf record;
};

struct batch {
  const struct gl_supervised *opt;
  uv_loop_t loop;
  uv_async_t wake;
  struct gl_service *svc;
  pthread_t reader;
  pthread_mutex_t lock;
  pthread_cond_t room;
  /* Under lock. */
  struct line *head, *tail;
  unsigned long pushed;         /* lines handed to the loop */
  unsigned long written;        /* records written */
  unsigned long low;            /* the oldest line whose record is not
                                   out: its slot is still in use */
  int eof;
  int reader_waiting;           /* for room in the window */
  int reader_done;
  int read_errno;
  unsigned long last_line;
  /* The loop's. */
  unsigned long admitted;       /* lines taken from the queue */
  unsigned long next_write;     /* the record whose turn it is */
  struct slot ring[WINDOW];
  uv_timer_t progress;          /* on a terminal: the progress line */
  int progress_on;
  uint64_t started;             /* uv_now at the start, ms */
  unsigned long total;          /* events in a regular file, or 0 */
  unsigned long errors;
  int failed;
  int status;                   /* the exit status, once decided */
  int stopping;
};

static const char *program = "guile-lambda";

/* The reader thread. */

static void *
reader_main (void *data)
{
  struct batch *b = data;
  struct gl_line_reader reader;
  const char *text;
  ssize_t n;
  unsigned long lineno = 0;

  memset (&reader, 0, sizeof reader);
  gl_buf_init (&reader.buf);
  reader.fd = b->opt->fd;
  while ((n = gl_line_next (&reader, &text)) >= 0)
    {
      struct line *l;

      lineno++;
      if (gl_line_blank (text, (size_t) n))
        continue;
      l = calloc (1, sizeof *l);
      l->lineno = lineno;
      l->text = malloc ((size_t) n + 1);
      memcpy (l->text, text, (size_t) n);
      l->text[n] = '\0';
      l->len = (size_t) n;
      pthread_mutex_lock (&b->lock);
      /* A slot is the line's number modulo WINDOW: with --unordered,
         records out of order do not free the slot of an older line
         still running, so the window runs from the oldest one.  A full
         window waits until half of it is free, so that the two threads
         meet once per half window, not once per line. */
      if (b->pushed - b->low >= WINDOW)
        while (b->pushed - b->low > WINDOW / 2 && !b->eof)
          {
            b->reader_waiting = 1;
            pthread_cond_wait (&b->room, &b->lock);
            b->reader_waiting = 0;
          }
      if (b->eof)
        {
          /* The loop stopped (a record could not be written). */
          pthread_mutex_unlock (&b->lock);
          free (l->text);
          free (l);
          break;
        }
      if (b->tail)
        b->tail->next = l;
      else
        b->head = l;
      b->tail = l;
      b->pushed++;
      pthread_mutex_unlock (&b->lock);
      uv_async_send (&b->wake);
    }
  pthread_mutex_lock (&b->lock);
  if (n == -2)
    b->read_errno = errno;
  b->eof = 1;
  b->reader_done = 1;
  b->last_line = lineno;
  pthread_mutex_unlock (&b->lock);
  uv_async_send (&b->wake);
  gl_buf_free (&reader.buf);
  return NULL;
}

/* The loop. */

/* The progress line: records done (of how many, when the input is a
   file), errors, rate; it goes when the run ends. */
static void
progress_on_timer (uv_timer_t *t)
{
  struct batch *b = t->data;
  char text[160], of[32] = "";
  unsigned long written;
  double seconds;

  pthread_mutex_lock (&b->lock);
  written = b->written;
  pthread_mutex_unlock (&b->lock);
  seconds = (double) (uv_now (&b->loop) - b->started) / 1000.0;
  if (b->total)
    snprintf (of, sizeof of, "/%lu", b->total);
  snprintf (text, sizeof text, "batch: %lu%s done, %lu error%s, %.0f/s",
            written, of, b->errors, b->errors == 1 ? "" : "s",
            seconds > 0 ? written / seconds : 0.0);
  gl_log_status (text);
}

/* Non-blank lines in a regular file, read without moving its offset. */
static unsigned long
lines_count (int fd)
{
  char buf[65536];
  unsigned long n = 0;
  off_t at = 0;
  ssize_t got, i;
  int blank = 1;
  struct stat st;

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    return 0;
  while ((got = pread (fd, buf, sizeof buf, at)) > 0)
    {
      for (i = 0; i < got; i++)
        if (buf[i] == '\n')
          n += !blank, blank = 1;
        else if (!isspace ((unsigned char) buf[i]))
          blank = 0;
      at += got;
    }
  return n + !blank;
}

static void
service_on_closed (void *data)
{
  struct batch *b = data;

  uv_close ((uv_handle_t *) &b->wake, NULL);
  if (b->progress_on)
    uv_close ((uv_handle_t *) &b->progress, NULL);
}

static void
batch_stop (struct batch *b)
{
  if (b->stopping)
    return;
  b->stopping = 1;
  if (b->progress_on)
    {
      uv_timer_stop (&b->progress);
      gl_log_status (NULL);
    }
  pthread_mutex_lock (&b->lock);
  b->eof = 1;
  pthread_cond_signal (&b->room);
  pthread_mutex_unlock (&b->lock);
  gl_service_close (b->svc, service_on_closed, b);
}

static int
record_out (struct batch *b, struct slot *s)
{
  int r = gl_results_write (s->record.data, s->record.len);

  if (r != 0)
    {
      gl_log_notice ("%s: cannot write the record of line %lu to standard "
                     "output: %s; the batch stops here: the lines after it "
                     "were not run.\n", program, s->lineno, strerror (errno));
      b->status = 74;
      batch_stop (b);
    }
  gl_buf_reset (&s->record);
  s->done = 0;
  pthread_mutex_lock (&b->lock);
  b->written++;
  pthread_mutex_unlock (&b->lock);
  return r;
}

/* Write the records whose turn has come; stop when all are out. */
static void
records_flush (struct batch *b)
{
  unsigned long pushed, written;
  int eof;

  if (b->opt->unordered)
    while (b->next_write < b->admitted
           && b->ring[b->next_write % WINDOW].out)
      b->ring[b->next_write++ % WINDOW].out = 0;
  else
    while (!b->stopping && b->ring[b->next_write % WINDOW].done
           && b->next_write < b->admitted)
      {
        if (record_out (b, &b->ring[b->next_write % WINDOW]) != 0)
          return;
        b->next_write++;
      }
  pthread_mutex_lock (&b->lock);
  b->low = b->next_write;
  if (b->reader_waiting && b->pushed - b->low <= WINDOW / 2)
    pthread_cond_signal (&b->room);
  eof = b->reader_done;
  pushed = b->pushed;
  written = b->written;
  pthread_mutex_unlock (&b->lock);
  if (eof && !b->stopping && b->admitted == pushed && written == pushed)
    batch_stop (b);
}

static void
batch_on_outcome (const struct gl_service_outcome *o, void *data)
{
  struct batch *b = data;
  struct slot *s = &b->ring[o->seq % WINDOW];

  if (strcmp (o->status, "success") != 0)
    b->failed = 1, b->errors++;
  gl_record_format (&s->record, s->lineno, o->request_id, o->status, o->json,
                    o->report);
  s->done = 1;
  if (b->opt->unordered && !b->stopping)
    {
      record_out (b, s);
      s->out = 1;
    }
  records_flush (b);
}

static void
line_admit (struct batch *b, struct line *l)
{
  unsigned long seq = b->admitted++;
  struct slot *s = &b->ring[seq % WINDOW];
  char err[512];

  s->lineno = l->lineno;
  if (gl_json_check (l->text, l->len, err, sizeof err) != 0)
    {
      b->failed = 1;
      b->errors++;
      gl_record_format_invalid (&s->record, l->lineno, err);
      s->done = 1;
      if (b->opt->unordered)
        {
          record_out (b, s);
          s->out = 1;
        }
    }
  else
    gl_service_submit (b->svc, seq, l->text, l->len);
}

static void
wake_on_async (uv_async_t *a)
{
  struct batch *b = a->data;
  struct line *lines, *next;

  pthread_mutex_lock (&b->lock);
  lines = b->head;
  b->head = b->tail = NULL;
  pthread_mutex_unlock (&b->lock);
  for (; lines; lines = next)
    {
      next = lines->next;
      if (!b->stopping)
        line_admit (b, lines);
      free (lines->text);
      free (lines);
    }
  if (!b->stopping)
    records_flush (b);
}

const char *
gl_task_root (char *cwd, size_t size)
{
  const char *root = getenv ("LAMBDA_TASK_ROOT");

  return root ? root : getcwd (cwd, size);
}

/* The service's settings from OPT; CWD holds the task root when
   LAMBDA_TASK_ROOT does not say it. */
static void
service_config (struct gl_service_config *cfg,
                const struct gl_supervised *opt, char *cwd, size_t size,
                gl_outcome_cb on_outcome, void *data)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->fn = opt->fn;
  cfg->handler = opt->handler;
  cfg->task_root = gl_task_root (cwd, size);
  cfg->runtime_command = opt->runtime_command;
  cfg->program = opt->program;
  cfg->concurrency = opt->concurrency;
  cfg->on_outcome = on_outcome;
  cfg->data = data;
}

int
gl_batch_supervised (const struct gl_supervised *opt)
{
  struct gl_service_config cfg;
  struct batch *b = calloc (1, sizeof *b);
  char cwd[4096];
  int i, status;

  b->opt = opt;
  /* A reader of the records that left, or a container that died, is an
     error to report (EPIPE), not the end of the supervisor. */
  signal (SIGPIPE, SIG_IGN);
  pthread_mutex_init (&b->lock, NULL);
  pthread_cond_init (&b->room, NULL);
  for (i = 0; i < WINDOW; i++)
    gl_buf_init (&b->ring[i].record);
  uv_loop_init (&b->loop);
  service_config (&cfg, opt, cwd, sizeof cwd, batch_on_outcome, b);
  b->svc = gl_service_start (&b->loop, &cfg);
  if (b->svc == NULL)
    return 70;
  uv_async_init (&b->loop, &b->wake, wake_on_async);
  b->wake.data = b;
  if (isatty (STDERR_FILENO))
    {
      b->progress_on = 1;
      b->total = lines_count (opt->fd);
      b->started = uv_now (&b->loop);
      uv_timer_init (&b->loop, &b->progress);
      b->progress.data = b;
      uv_timer_start (&b->progress, progress_on_timer, 200, 200);
    }
  pthread_create (&b->reader, NULL, reader_main, b);
  uv_run (&b->loop, UV_RUN_DEFAULT);
  /* A reader still blocked in read() after a stop ends with the
     process. */
  pthread_mutex_lock (&b->lock);
  i = b->reader_done;
  pthread_mutex_unlock (&b->lock);
  if (!i)
    {
      /* It still holds B: both go with the process. */
      pthread_detach (b->reader);
      return b->status ? b->status : 1;
    }
  pthread_join (b->reader, NULL);
  uv_loop_close (&b->loop);
  status = b->status ? b->status : b->read_errno ? 2 : b->failed ? 1 : 0;
  if (b->read_errno)
    fprintf (stderr, "%s: cannot read the events after line %lu: %s\n",
             program, b->last_line, strerror (b->read_errno));
  for (i = 0; i < WINDOW; i++)
    gl_buf_free (&b->ring[i].record);
  free (b);
  return status;
}

/* invoke --isolation process: one event through one container. */

struct single {
  struct gl_service *svc;
  int status;
  int written;
};

static void
single_on_closed (void *data)
{
}

static void
single_on_outcome (const struct gl_service_outcome *o, void *data)
{
  struct single *one = data;

  one->written = gl_results_write (o->json, strlen (o->json)) == 0
    && gl_results_write ("\n", 1) == 0;
  one->status = strcmp (o->status, "success") == 0 ? 0
    : strcmp (o->status, "timeout") == 0 ? 124 : o->init ? 3 : 1;
  if (!one->written)
    {
      gl_log_notice ("%s: cannot write the result of request %s to "
                     "standard output: %s\n", program, o->request_id,
                     strerror (errno));
      one->status = 74;
    }
  gl_service_close (one->svc, single_on_closed, one);
}

int
gl_invoke_supervised (const struct gl_supervised *opt, const char *event,
                      size_t len)
{
  struct gl_service_config cfg;
  struct single one;
  uv_loop_t loop;
  char cwd[4096];

  signal (SIGPIPE, SIG_IGN);
  memset (&one, 0, sizeof one);
  uv_loop_init (&loop);
  service_config (&cfg, opt, cwd, sizeof cwd, single_on_outcome, &one);
  cfg.concurrency = 1;
  one.svc = gl_service_start (&loop, &cfg);
  if (one.svc == NULL)
    return 70;
  gl_service_submit (one.svc, 0, event, len);
  uv_run (&loop, UV_RUN_DEFAULT);
  uv_loop_close (&loop);
  return one.status;
}
