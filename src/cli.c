/* cli.c: the command line.  `invoke` runs one event, `batch` a stream
   of NDJSON events through one container, in input order, each line as
   soon as it arrives.  Results go to stdout, logs to stderr. */
#include "cli.h"
#include "buf.h"
#include "engine.h"
#include "json.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
  EXIT_FUNCTION_ERROR = 1,
  EXIT_USAGE = 2,
  EXIT_INIT_ERROR = 3,
  EXIT_TIMEOUT = 124
};

struct cli {
  const char *command;
  const char *handler;
  const char *input;            /* invoke: EVENT; batch: FILE */
  double timeout_s;
  int memory_mb;
  const char *function_name;
  const char *event_template;   /* invoke: a sample event of this kind */
  int listen;                   /* repl: also serve the REPL on loopback */
  int listen_port;
  unsigned long batch_line;     /* the event being run, for a hard stop */
};

static const char *program = "guile-lambda";

/* Guile's own default for its REPL server. */
#define REPL_DEFAULT_PORT 37146
static int results_fd = STDOUT_FILENO;

static void
usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static int usage_failed;

static void
usage_error (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "%s: ", program);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\nTry '%s --help' for more information.\n", program);
  usage_failed = 1;
}

static void
help_print (void)
{
  printf ("\
Usage: %s COMMAND HANDLER [ARGUMENT] [OPTION]...\n\
Run AWS-Lambda-style functions whose handlers are written in Guile Scheme.\n\
\n\
Commands:\n\
  invoke HANDLER [EVENT]   run one invocation; EVENT is inline JSON, @FILE,\n\
                           or - for standard input (default: {})\n\
  batch HANDLER [FILE|-]   run each line of an NDJSON stream (default: standard\n\
                           input) as one event in one container, and print\n\
                           one NDJSON record per event, in input order\n\
  repl [HANDLER]           Guile's REPL in the handler's module, with\n\
                           meta-commands that step invocations (,help lambda)\n\
\n\
HANDLER is FILE.scm (procedure `handler'), FILE.scm:PROC, or NAME.PROC\n\
(file NAME.scm under $LAMBDA_TASK_ROOT or the current directory).\n\
\n\
Options:\n\
      --timeout SECONDS    time limit of one invocation (default 3)\n\
      --memory MB          memory size reported to the handler (default 128)\n\
      --function-name NAME the function's name (default: from HANDLER)\n\
      --env KEY=VALUE      set an environment variable for the handler\n\
                           (may be repeated)\n\
      --env-file FILE      set the KEY=VALUE lines of FILE\n\
      --event-template KIND  invoke: a sample event of KIND (apigw-v2, sqs,\n\
                           s3-put, eventbridge-scheduled, apigw-v1, sns,\n\
                           dynamodb) instead of EVENT\n\
      --listen [PORT]      repl: also serve the REPL on 127.0.0.1:PORT\n\
                           (default 37146), for Geiser\n\
  -h, --help               print this help and exit\n\
  -V, --version            print version information and exit\n\
\n\
Results go to standard output, logs (START, END, REPORT and what the\n\
handler prints) to standard error.\n\
\n\
Exit status of invoke: 0 success, 1 function error, 2 bad usage or bad\n\
input, 3 init error, 124 timeout.  Exit status of batch: 0 if every event\n\
succeeded, 1 otherwise, 2 bad usage.\n\
\n\
Batch records hold requestId, line, status (success, error or timeout),\n\
result or error, durationMs, billedDurationMs, maxMemoryUsedMB, and\n\
initDurationMs on a cold start.\n", program);
}

static void
version_print (void)
{
  printf ("guile-lambda %s\n"
          "Copyright (C) 2026 the guile-lambda developers.\n"
          "License GPLv3+: GNU GPL version 3 or later "
          "<https://gnu.org/licenses/gpl.html>.\n"
          "This is free software: you are free to change and redistribute "
          "it.\nThere is NO WARRANTY, to the extent permitted by law.\n",
          PACKAGE_VERSION_STRING);
}

/* Environment. */

static int
env_assign (const char *assignment, const char *where)
{
  const char *eq = strchr (assignment, '=');
  char *key;
  int r;

  if (eq == NULL || eq == assignment)
    {
      usage_error ("%s: expected KEY=VALUE, got '%s'", where, assignment);
      return -1;
    }
  key = strndup (assignment, (size_t) (eq - assignment));
  r = setenv (key, eq + 1, 1);
  free (key);
  return r;
}

static int
env_file_load (const char *path)
{
  FILE *f = fopen (path, "r");
  char *line = NULL, *s, where[512];
  size_t cap = 0, lineno = 0;
  ssize_t n;
  int r = 0;

  if (f == NULL)
    {
      usage_error ("cannot read the env file %s: %s", path, strerror (errno));
      return -1;
    }
  while (r == 0 && (n = getline (&line, &cap, f)) >= 0)
    {
      lineno++;
      while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
      for (s = line; isspace ((unsigned char) *s); s++)
        ;
      if (*s == '\0' || *s == '#')
        continue;
      if (strncmp (s, "export ", 7) == 0)
        s += 7;
      snprintf (where, sizeof where, "%s, line %zu", path, lineno);
      r = env_assign (s, where);
    }
  free (line);
  fclose (f);
  return r;
}

static void
env_default (const char *key, const char *value)
{
  setenv (key, value, 0);
}

/* Options. */

static int
cli_parse (struct cli *cli, int argc, char **argv)
{
  static const struct option options[] = {
    { "timeout", required_argument, NULL, 't' },
    { "memory", required_argument, NULL, 'm' },
    { "function-name", required_argument, NULL, 'n' },
    { "env", required_argument, NULL, 'e' },
    { "env-file", required_argument, NULL, 'f' },
    { "event-template", required_argument, NULL, 'T' },
    { "listen", optional_argument, NULL, 'l' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 }
  };
  char *end;
  int c;

  opterr = 0;
  optind = 1;
  while ((c = getopt_long (argc, argv, ":hV", options, NULL)) != -1)
    switch (c)
      {
      case 'h':
        help_print ();
        return 1;
      case 'V':
        version_print ();
        return 1;
      case 't':
        cli->timeout_s = strtod (optarg, &end);
        if (*end != '\0' || !(cli->timeout_s > 0 && cli->timeout_s <= 900))
          return usage_error ("--timeout takes seconds from more than 0 up "
                              "to 900, not '%s'", optarg), -1;
        break;
      case 'm':
        cli->memory_mb = (int) strtol (optarg, &end, 10);
        if (*end != '\0' || cli->memory_mb < 128 || cli->memory_mb > 10240)
          return usage_error ("--memory takes megabytes from 128 to 10240, "
                              "not '%s'", optarg), -1;
        break;
      case 'n':
        cli->function_name = optarg;
        break;
      case 'e':
        if (env_assign (optarg, "--env") != 0)
          return -1;
        break;
      case 'f':
        if (env_file_load (optarg) != 0)
          return -1;
        break;
      case 'T':
        cli->event_template = optarg;
        break;
      case 'l':
        cli->listen = 1;
        cli->listen_port = REPL_DEFAULT_PORT;
        /* --listen PORT as well as --listen=PORT. */
        if (optarg == NULL && optind < argc && argv[optind][0] >= '0'
            && argv[optind][0] <= '9')
          optarg = argv[optind++];
        if (optarg)
          {
            long port = strtol (optarg, &end, 10);
            if (*end != '\0' || port < 1 || port > 65535)
              return usage_error ("--listen takes a port from 1 to 65535, "
                                  "not '%s'", optarg), -1;
            cli->listen_port = (int) port;
          }
        break;
      case ':':
        return usage_error ("option '%s' needs an argument",
                            argv[optind - 1]), -1;
      default:
        return usage_error ("unknown option '%s'", argv[optind - 1]), -1;
      }
  if (optind >= argc)
    return usage_error ("no command given: use invoke, batch or repl"), -1;
  cli->command = argv[optind++];
  if (strcmp (cli->command, "invoke") && strcmp (cli->command, "batch")
      && strcmp (cli->command, "repl"))
    return usage_error ("unknown command '%s': use invoke, batch or repl",
                        cli->command), -1;
  if (optind >= argc && strcmp (cli->command, "repl") == 0)
    return 0;
  if (optind >= argc)
    return usage_error ("%s needs a HANDLER, such as examples/hello.scm",
                        cli->command), -1;
  cli->handler = argv[optind++];
  if (optind < argc && strcmp (cli->command, "repl") != 0)
    cli->input = argv[optind++];
  if (cli->event_template && cli->input)
    return usage_error ("give an EVENT or --event-template, not both"), -1;
  if (optind < argc)
    return usage_error ("unexpected argument '%s'", argv[optind]), -1;
  return 0;
}

/* The function's identity, from the same variables as on Lambda. */

/* The default function name: the handler file's name without .scm, read
   from HANDLER as parse-handler-name reads it; a Lambda-style NAME.PROC
   splits at the first dot of its last component, as the Node runtime
   does, since PROC may hold dots. */
static char *
name_from_handler (const char *handler)
{
  const char *base, *end, *dot;
  size_t len;
  int lambda_style;

  if (handler == NULL)
    return strdup ("repl");
  len = strlen (handler);
  end = strstr (handler, ".scm:");
  if (end == NULL && len >= 4 && strcmp (handler + len - 4, ".scm") == 0)
    end = handler + len - 4;
  lambda_style = end == NULL;
  if (lambda_style)
    end = handler + len;
  for (base = end; base > handler && base[-1] != '/'; base--)
    ;
  dot = lambda_style ? memchr (base, '.', (size_t) (end - base)) : NULL;
  if (dot != NULL && dot != base)
    end = dot;
  return strndup (base, (size_t) (end - base));
}

static char *
env_or (const char *key, const char *fallback)
{
  const char *v = getenv (key);
  return strdup (v && *v ? v : fallback);
}

static void
function_configure (struct gl_function *fn, const struct cli *cli)
{
  struct gl_buf b;
  char id[37], *hex;
  time_t now = time (NULL);
  struct tm tm;
  const char *v;
  int i;

  gl_buf_init (&b);
  fn->name = cli->function_name ? strdup (cli->function_name)
    : getenv ("AWS_LAMBDA_FUNCTION_NAME") ? env_or ("AWS_LAMBDA_FUNCTION_NAME", "")
    : name_from_handler (cli->handler);
  fn->version = env_or ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
  fn->region = getenv ("AWS_REGION") ? env_or ("AWS_REGION", "")
    : env_or ("AWS_DEFAULT_REGION", "us-east-1");
  v = getenv ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
  fn->memory_mb = cli->memory_mb ? cli->memory_mb : v ? atoi (v) : 128;
  if (fn->memory_mb <= 0)
    fn->memory_mb = 128;
  fn->timeout_s = cli->timeout_s > 0 ? cli->timeout_s : 3.0;
  gl_buf_printf (&b, "arn:aws:lambda:%s:000000000000:function:%s",
                 fn->region, fn->name);
  fn->arn = strdup (b.data);
  gl_buf_reset (&b);
  gl_buf_printf (&b, "/aws/lambda/%s", fn->name);
  fn->log_group = env_or ("AWS_LAMBDA_LOG_GROUP_NAME", b.data);
  gl_buf_reset (&b);
  gmtime_r (&now, &tm);
  gl_request_id_generate (id);
  gl_buf_printf (&b, "%04d/%02d/%02d/[%s]", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, fn->version);
  for (hex = id, i = 0; *hex; hex++)
    if (*hex != '-')
      gl_buf_putc (&b, *hex), i++;
  fn->log_stream = env_or ("AWS_LAMBDA_LOG_STREAM_NAME", b.data);
  gl_buf_free (&b);

  /* What handler code finds in its environment, as on Lambda. */
  setenv ("AWS_LAMBDA_FUNCTION_NAME", fn->name, 1);
  setenv ("AWS_LAMBDA_FUNCTION_VERSION", fn->version, 1);
  setenv ("AWS_LAMBDA_LOG_GROUP_NAME", fn->log_group, 1);
  setenv ("AWS_LAMBDA_LOG_STREAM_NAME", fn->log_stream, 1);
  setenv ("AWS_REGION", fn->region, 1);
  {
    char mem[32];
    snprintf (mem, sizeof mem, "%d", fn->memory_mb);
    setenv ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", mem, 1);
  }
  if (cli->handler)
    setenv ("_HANDLER", cli->handler, 1);
  env_default ("AWS_EXECUTION_ENV", "AWS_Lambda_guile-lambda");
}

/* Reading events. */

static int
stream_slurp (FILE *f, struct gl_buf *out)
{
  char chunk[65536];
  size_t n;

  while ((n = fread (chunk, 1, sizeof chunk, f)) > 0)
    gl_buf_append (out, chunk, n);
  return ferror (f) ? -1 : 0;
}

static int
event_text_read (const char *arg, struct gl_buf *out)
{
  FILE *f;
  int r;

  if (arg == NULL)
    {
      gl_buf_puts (out, "{}");
      return 0;
    }
  if (strcmp (arg, "-") == 0)
    {
      if (stream_slurp (stdin, out) != 0)
        return usage_error ("cannot read the event from standard input: %s",
                            strerror (errno)), -1;
      return 0;
    }
  if (arg[0] != '@')
    {
      gl_buf_puts (out, arg);
      return 0;
    }
  f = fopen (arg + 1, "rb");
  if (f == NULL)
    return usage_error ("cannot read the event file %s: %s", arg + 1,
                        strerror (errno)), -1;
  r = stream_slurp (f, out);
  fclose (f);
  if (r != 0)
    return usage_error ("cannot read the event file %s", arg + 1), -1;
  return 0;
}

/* A sample event from (guile-lambda events), as JSON text. */
static int
event_template_text (const char *kind, struct gl_buf *out)
{
  SCM guarded = scm_c_public_ref ("guile-lambda runtime", "guarded-apply");
  SCM proc = scm_c_public_ref ("guile-lambda events", "event-template");
  SCM r = scm_call_2 (guarded, proc,
                      scm_list_1 (scm_from_utf8_string (kind)));
  char err[512], *s;

  if (!scm_is_eq (scm_car (r), scm_from_utf8_symbol ("ok")))
    {
      s = scm_to_utf8_string (scm_assoc_ref (scm_cdr (r), scm_from_utf8_string
                                             ("errorMessage")));
      usage_error ("--event-template: %s", s);
      free (s);
      return -1;
    }
  if (gl_json_encode (scm_cdr (r), out, err, sizeof err) != 0)
    return usage_error ("--event-template %s: %s", kind, err), -1;
  return 0;
}

static void
request_init (struct gl_request *req)
{
  memset (req, 0, sizeof *req);
  gl_request_id_generate (req->request_id);
  req->identity = SCM_BOOL_F;
  req->client_context = SCM_BOOL_F;
  req->tenant_id = SCM_BOOL_F;
}

/* Results get a descriptor of their own and fd 1 becomes the log, so
   that a child process the handler starts cannot write into the result
   stream. */
static void
results_fd_claim (void)
{
  /* Close-on-exec: a child must not hold the result stream open. */
  int fd = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);

  if (fd < 0)
    return;
  fflush (stdout);
  if (dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    {
      close (fd);
      return;
    }
  results_fd = fd;
}

static void
stdout_write (const char *s, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (results_fd, s, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return;
      s += w;
      n -= (size_t) w;
    }
}

/* invoke */

static void
invoke_hard_stop (struct gl_invocation *inv, const struct gl_report *report,
                  void *data)
{
  stdout_write (inv->result_json, strlen (inv->result_json));
  stdout_write ("\n", 1);
  _exit (EXIT_TIMEOUT);
}

static int
invoke_run (struct cli *cli)
{
  struct gl_buf text;
  struct gl_request req;
  struct gl_report report;
  struct gl_invocation *inv;
  char err[512];
  SCM event;

  gl_buf_init (&text);
  if (cli->event_template)
    {
      if (event_template_text (cli->event_template, &text) != 0)
        return EXIT_USAGE;
    }
  else if (event_text_read (cli->input, &text) != 0)
    return EXIT_USAGE;
  event = gl_json_decode (text.data, text.len, err, sizeof err);
  gl_buf_free (&text);
  if (SCM_UNBNDP (event))
    {
      fprintf (stderr, "%s: the event is not valid JSON: %s\n"
               "Give the event as inline JSON, @FILE or - for standard "
               "input.\n", program, err);
      return EXIT_USAGE;
    }
  gl_engine_set_hard_stop (invoke_hard_stop, cli);
  request_init (&req);
  inv = gl_engine_invoke (&req, event, &report);
  stdout_write (inv->result_json, strlen (inv->result_json));
  stdout_write ("\n", 1);
  if (inv->init_failed)
    return EXIT_INIT_ERROR;
  switch (inv->outcome)
    {
    case GL_SUCCEEDED:
      return 0;
    case GL_TIMED_OUT:
      return EXIT_TIMEOUT;
    default:
      return EXIT_FUNCTION_ERROR;
    }
}

/* batch */

static const char *
outcome_status (const struct gl_invocation *inv)
{
  switch (inv->outcome)
    {
    case GL_SUCCEEDED:
      return "success";
    case GL_TIMED_OUT:
      return "timeout";
    default:
      return "error";
    }
}

static void
record_write (unsigned long line, const struct gl_invocation *inv,
              const struct gl_report *report)
{
  struct gl_buf b;

  gl_buf_init (&b);
  gl_buf_puts (&b, "{\"requestId\":");
  gl_json_escape (&b, inv->req.request_id, strlen (inv->req.request_id));
  gl_buf_puts (&b, ",\"line\":");
  gl_buf_put_ulong (&b, line);
  gl_buf_puts (&b, ",\"status\":\"");
  gl_buf_puts (&b, outcome_status (inv));
  gl_buf_puts (&b, inv->outcome == GL_SUCCEEDED ? "\",\"result\":"
               : "\",\"error\":");
  gl_buf_puts (&b, inv->result_json);
  gl_buf_puts (&b, ",\"durationMs\":");
  gl_buf_put_ms (&b, report->duration_ms);
  gl_buf_puts (&b, ",\"billedDurationMs\":");
  gl_buf_put_ulong (&b, (unsigned long) report->billed_ms);
  gl_buf_puts (&b, ",\"maxMemoryUsedMB\":");
  gl_buf_put_ulong (&b, (unsigned long) report->max_memory_mb);
  if (report->init_ms >= 0)
    {
      gl_buf_puts (&b, ",\"initDurationMs\":");
      gl_buf_put_ms (&b, report->init_ms);
    }
  gl_buf_puts (&b, "}\n");
  stdout_write (b.data, b.len);
  gl_buf_free (&b);
}

static void
record_write_invalid (unsigned long line, const char *err)
{
  struct gl_buf b;
  char msg[600];

  snprintf (msg, sizeof msg, "Could not parse request body into json: %s",
            err);
  gl_buf_init (&b);
  gl_buf_printf (&b, "{\"requestId\":null,\"line\":%lu,\"status\":\"error\","
                 "\"error\":{\"errorType\":\"InvalidRequestContentException\","
                 "\"errorMessage\":", line);
  gl_json_escape (&b, msg, strlen (msg));
  gl_buf_puts (&b, ",\"stackTrace\":[]}}\n");
  stdout_write (b.data, b.len);
  gl_buf_free (&b);
}

static void
batch_hard_stop (struct gl_invocation *inv, const struct gl_report *report,
                 void *data)
{
  struct cli *cli = data;

  record_write (cli->batch_line, inv, report);
  fprintf (stderr, "%s: the event on line %lu (request %s) is stuck in C code "
           "past its timeout; a container cannot be recovered from that "
           "inside one process, so the batch stops here and later lines "
           "were not run.\n", program, cli->batch_line, inv->req.request_id);
  _exit (EXIT_TIMEOUT);
}

static int
line_blank (const char *s)
{
  for (; *s; s++)
    if (!isspace ((unsigned char) *s))
      return 0;
  return 1;
}

static int
batch_run (struct cli *cli)
{
  FILE *in = stdin;
  char *line = NULL, err[512];
  size_t cap = 0;
  ssize_t n;
  int failed = 0;

  if (cli->input && strcmp (cli->input, "-") != 0)
    {
      in = fopen (cli->input, "r");
      if (in == NULL)
        {
          usage_error ("cannot read the events file %s: %s", cli->input,
                       strerror (errno));
          return EXIT_USAGE;
        }
    }
  gl_engine_set_hard_stop (batch_hard_stop, cli);
  while ((n = getline (&line, &cap, in)) >= 0)
    {
      struct gl_request req;
      struct gl_report report;
      struct gl_invocation *inv;
      SCM event;

      cli->batch_line++;
      if (line_blank (line))
        continue;
      event = gl_json_decode (line, (size_t) n, err, sizeof err);
      if (SCM_UNBNDP (event))
        {
          record_write_invalid (cli->batch_line, err);
          failed = 1;
          continue;
        }
      request_init (&req);
      inv = gl_engine_invoke (&req, event, &report);
      record_write (cli->batch_line, inv, &report);
      failed |= inv->outcome != GL_SUCCEEDED;
    }
  free (line);
  if (in != stdin)
    fclose (in);
  return failed ? EXIT_FUNCTION_ERROR : 0;
}

static char **
argv_from_scm (SCM args, int *argc)
{
  int n = scm_to_int (scm_length (args)), i;
  char **argv = calloc ((size_t) n + 1, sizeof *argv);

  for (i = 0; i < n; i++, args = scm_cdr (args))
    argv[i] = scm_to_utf8_string (scm_car (args));
  *argc = n;
  return argv;
}

static void
argv_free (char **argv, int argc)
{
  int i;

  for (i = 0; i < argc; i++)
    free (argv[i]);
  free (argv);
}

/* repl: Guile's REPL in the handler's module, with meta-commands that
   step the engine; (guile-lambda repl) does the rest. */
static SCM
repl_run (struct cli *cli, const struct gl_function *fn, char **argv,
          int argc)
{
  SCM run;

  if (gl_engine_configure (fn, cli->handler) != 0)
    return scm_from_int (70);
  gl_engine_set_hard_stop (invoke_hard_stop, cli);
  run = scm_c_public_ref ("guile-lambda repl", "run-repl");
  argv_free (argv, argc);
  return scm_call_1 (run, cli->listen ? scm_from_int (cli->listen_port)
                                      : SCM_BOOL_F);
}

static SCM
cli_main (SCM args)
{
  struct cli cli;
  struct gl_function fn;
  int argc, r;
  char **argv = argv_from_scm (args, &argc);

  memset (&cli, 0, sizeof cli);
  usage_failed = 0;
  r = cli_parse (&cli, argc, argv);
  if (r != 0)
    {
      argv_free (argv, argc);
      return scm_from_int (r > 0 ? 0 : EXIT_USAGE);
    }
  gl_log_configure ();
  function_configure (&fn, &cli);
  if (strcmp (cli.command, "repl") == 0)
    return repl_run (&cli, &fn, argv, argc);
  results_fd_claim ();
  if (gl_engine_configure (&fn, cli.handler) != 0)
    return scm_from_int (70);
  scm_set_current_output_port (gl_log_port (GL_LOG_INFO));
  scm_set_current_error_port (gl_log_port (GL_LOG_ERROR));
  r = strcmp (cli.command, "invoke") == 0 ? invoke_run (&cli)
    : batch_run (&cli);
  argv_free (argv, argc);
  return scm_from_int (r);
}

void
gl_cli_init (void)
{
  scm_c_define_gsubr ("%guile-lambda-main", 1, 0, 0, cli_main);
}
