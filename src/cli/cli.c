/* cli.c: the command line.  `invoke` runs one event, `batch` a stream
   of NDJSON events through one container, in input order, each line as
   soon as it arrives.  Results go to stdout, logs to stderr. */
#include "cli/cli.h"
#include "cli/usage.h"
#include "core/boundary.h"
#include "core/buf.h"
#include "core/engine.h"
#include "core/fatal.h"
#include "core/json.h"
#include "runtime/bootstrap.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
  EXIT_FUNCTION_ERROR = 1,
  EXIT_USAGE = 2,
  EXIT_INIT_ERROR = 3,
  EXIT_OUTPUT = 74,             /* a result could not be written */
  EXIT_TIMEOUT = 124
};

/* serve: one function, from --function NAME=HANDLER or a HANDLER
   argument, with the options that followed its --function. */
struct serve_fn {
  const char *name;             /* NULL: from the handler */
  const char *handler;
  double timeout_s;             /* 0: the command's */
  int memory_mb;                /* 0: the command's */
  int concurrency;              /* 0: the command's */
  const char *runtime_command;  /* NULL: the command's */
  char **env;                   /* KEY=VALUE, NULL-terminated, or NULL */
  size_t nenv;
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
  int isolated;                 /* batch: through the supervisor */
  int concurrency;              /* batch: containers */
  int unordered;                /* batch: records as they complete */
  const char *runtime_command;  /* batch: a Runtime API client */
  const char *output;           /* package: the function zip */
  int layer;                    /* package: the runtime as a layer */
  int run_options;              /* --timeout, --memory, --function-name,
                                   --env or --env-file given */
  unsigned long batch_line;     /* the event being run, for a hard stop */
  struct serve_fn *fns;         /* serve: the functions */
  int nfns;
  int fn_options;               /* serve: a --function was given */
  int serve_options;            /* --port, --host or --queue given */
  const char *host;             /* serve */
  int port;
  int queue;
};

static const char *program = "guile-lambda";

/* Guile's own default for its REPL server. */
#define REPL_DEFAULT_PORT 37146
/* The Runtime Interface Emulator's port, which clients expect. */
#define SERVE_DEFAULT_PORT 9000
#define SERVE_DEFAULT_QUEUE 100
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

/* Environment. */

/* Set ASSIGNMENT in this process, or, with FN, in the environment of
   that function's containers only. */
static int
env_assign (const char *assignment, const char *where, struct serve_fn *fn)
{
  const char *eq = strchr (assignment, '=');
  char *key;
  int r;

  if (eq == NULL || eq == assignment)
    {
      usage_error ("%s: expected KEY=VALUE, got '%s'", where, assignment);
      return -1;
    }
  if (fn)
    {
      fn->env = realloc (fn->env, (fn->nenv + 2) * sizeof *fn->env);
      fn->env[fn->nenv++] = strdup (assignment);
      fn->env[fn->nenv] = NULL;
      return 0;
    }
  key = strndup (assignment, (size_t) (eq - assignment));
  r = setenv (key, eq + 1, 1);
  free (key);
  return r;
}


static int
env_file_load (const char *path, struct serve_fn *fn)
{
  int fd = gl_input_open (path, "env file");
  FILE *f = fd < 0 ? NULL : fdopen (fd, "r");
  char *line = NULL, *s, where[512];
  size_t cap = 0, lineno = 0;
  ssize_t n;
  int r = 0;

  if (f == NULL)
    {
      if (fd >= 0)
        close (fd);
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
      r = env_assign (s, where, fn);
    }
  /* Options are read before anything runs: no signal interrupts this. */
  if (r == 0 && ferror (f))
    {
      usage_error ("cannot read the env file %s: %s", path, strerror (errno));
      r = -1;
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

/* bootstrap takes everything from Lambda's environment. */
static int
bootstrap_parse (struct cli *cli, int argc, char **argv)
{
  const char *v;
  char *end;

  if (optind < argc)
    return usage_error ("bootstrap takes no arguments: it reads _HANDLER, "
                        "LAMBDA_TASK_ROOT and AWS_LAMBDA_RUNTIME_API"), -1;
  if (cli->timeout_s > 0 || cli->memory_mb > 0)
    return usage_error ("bootstrap takes its deadline from the Runtime API "
                        "and its memory from "
                        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), -1;
  cli->handler = getenv ("_HANDLER");
  if (cli->handler == NULL || *cli->handler == '\0')
    return usage_error ("bootstrap needs _HANDLER, the handler to run "
                        "(as on Lambda: NAME.PROC or FILE.scm)"), -1;
  if (getenv ("AWS_LAMBDA_RUNTIME_API") == NULL)
    return usage_error ("bootstrap needs AWS_LAMBDA_RUNTIME_API, the "
                        "Runtime API's HOST:PORT"), -1;
  /* The timeout when the Runtime API gives no usable deadline (local
     emulators); the emulators' own variable, as the AWS one reads it. */
  v = getenv ("AWS_LAMBDA_FUNCTION_TIMEOUT");
  if (v != NULL && *v != '\0')
    {
      cli->timeout_s = strtod (v, &end);
      if (*end != '\0' || !(cli->timeout_s > 0 && cli->timeout_s <= 900))
        return usage_error ("AWS_LAMBDA_FUNCTION_TIMEOUT takes seconds from "
                            "more than 0 up to 900, not '%s'", v), -1;
    }
  return 0;
}

static char *name_from_handler (const char *handler);

/* ARG as a whole decimal number from MIN to MAX in *OUT: 0, or -1. */
static int
number_parse (const char *arg, long min, long max, int *out)
{
  char *end;
  long n = strtol (arg, &end, 10);

  if (*arg == '\0' || *end != '\0' || n < min || n > max)
    return -1;
  *out = (int) n;
  return 0;
}

/* A function for serve: ARG is NAME=HANDLER when NAMED (--function),
   else a HANDLER. */
static int
serve_fn_add (struct cli *cli, const char *arg, int named)
{
  const char *eq = named ? strchr (arg, '=') : NULL;
  struct serve_fn *fn;
  size_t i, n;

  if (named)
    {
      n = eq ? (size_t) (eq - arg) : 0;
      if (eq == NULL || n == 0 || eq[1] == '\0' || n > 64)
        return usage_error ("--function takes NAME=HANDLER, such as "
                            "hello=examples/hello.scm, not '%s'", arg), -1;
      /* Lambda's own rule for names. */
      for (i = 0; i < n; i++)
        if (!isalnum ((unsigned char) arg[i]) && arg[i] != '-'
            && arg[i] != '_')
          return usage_error ("--function %s: a function's name has only "
                              "letters, digits, - and _ (at most 64)", arg),
            -1;
    }
  cli->fns = realloc (cli->fns, (size_t) (cli->nfns + 1) * sizeof *cli->fns);
  fn = &cli->fns[cli->nfns++];
  memset (fn, 0, sizeof *fn);
  fn->name = named ? strndup (arg, (size_t) (eq - arg)) : NULL;
  fn->handler = named ? eq + 1 : arg;
  if (named)
    cli->fn_options = 1;
  return 0;
}

/* serve: every argument left is a HANDLER, a function named after its
   file; every function has a name of its own. */
static int
serve_parse (struct cli *cli, int argc, char **argv)
{
  int named = cli->nfns, i, j;

  if (cli->event_template || cli->listen || cli->isolated || cli->unordered
      || cli->output || cli->layer)
    return usage_error ("--event-template, --listen, --isolation, "
                        "--unordered, --output and --layer do not work "
                        "with serve"), -1;
  for (; optind < argc; optind++)
    serve_fn_add (cli, argv[optind], 0);
  if (cli->nfns == 0)
    return usage_error ("serve needs a HANDLER, such as examples/hello.scm, "
                        "or --function NAME=HANDLER"), -1;
  if (cli->function_name && (named > 0 || cli->nfns > 1))
    return usage_error ("--function-name names the one HANDLER of serve; "
                        "for several, use --function NAME=HANDLER"), -1;
  for (i = named; i < cli->nfns; i++)
    cli->fns[i].name = cli->function_name ? strdup (cli->function_name)
      : name_from_handler (cli->fns[i].handler);
  for (i = 0; i < cli->nfns; i++)
    for (j = 0; j < i; j++)
      if (strcmp (cli->fns[i].name, cli->fns[j].name) == 0)
        return usage_error ("two functions are called %s: name them with "
                            "--function NAME=HANDLER", cli->fns[i].name), -1;
  if (cli->host == NULL)
    cli->host = "127.0.0.1";
  return 0;
}

/* package runs nothing: the function's options belong to Lambda. */
static int
package_parse (struct cli *cli, int argc, char **argv)
{
  if (cli->timeout_s > 0 || cli->memory_mb > 0 || cli->function_name
      || cli->isolated || cli->runtime_command)
    return usage_error ("package takes only --output and --layer: the "
                        "function's timeout, memory and name are set "
                        "when it is created on Lambda"), -1;
  if (optind >= argc)
    return usage_error ("package needs a HANDLER-DIR, the directory of the "
                        "function's Scheme files, such as examples"), -1;
  cli->handler = argv[optind++];
  if (optind < argc)
    return usage_error ("unexpected argument '%s'", argv[optind]), -1;
  return 0;
}

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
    { "isolation", required_argument, NULL, 'I' },
    { "concurrency", required_argument, NULL, 'c' },
    { "unordered", no_argument, NULL, 'u' },
    { "runtime-command", required_argument, NULL, 'R' },
    { "function", required_argument, NULL, 'F' },
    { "port", required_argument, NULL, 'P' },
    { "host", required_argument, NULL, 'H' },
    { "queue", required_argument, NULL, 'Q' },
    { "output", required_argument, NULL, 'o' },
    { "layer", no_argument, NULL, 'L' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 }
  };
  char *end;
  int c;

  opterr = 0;
  optind = 1;
  cli->port = SERVE_DEFAULT_PORT;
  cli->queue = SERVE_DEFAULT_QUEUE;
  while ((c = getopt_long (argc, argv, ":hVo:", options, NULL)) != -1)
    {
    /* After a --function, its own settings. */
    struct serve_fn *fn = cli->fn_options ? &cli->fns[cli->nfns - 1] : NULL;

    switch (c)
      {
      case 'h':
        gl_help_print (program);
        return 1;
      case 'V':
        gl_version_print ();
        return 1;
      case 't':
        {
          double t = strtod (optarg, &end);
          if (*end != '\0' || !(t > 0 && t <= 900))
            return usage_error ("--timeout takes seconds from more than 0 "
                                "up to 900, not '%s'", optarg), -1;
          *(fn ? &fn->timeout_s : &cli->timeout_s) = t;
          cli->run_options = 1;
        }
        break;
      case 'm':
        {
          /* Checked as a long: a cast first would wrap 4294967424 to 128. */
          long mb = strtol (optarg, &end, 10);
          if (*end != '\0' || mb < 128 || mb > 10240)
            return usage_error ("--memory takes megabytes from 128 to 10240, "
                                "not '%s'", optarg), -1;
          *(fn ? &fn->memory_mb : &cli->memory_mb) = (int) mb;
          cli->run_options = 1;
        }
        break;
      case 'n':
        if (*optarg == '\0')
          return usage_error ("--function-name takes a name, not an empty "
                              "string"), -1;
        if (cli->fn_options)
          return usage_error ("--function-name with --function: the name "
                              "is the NAME of --function NAME=HANDLER"), -1;
        cli->function_name = optarg;
        cli->run_options = 1;
        break;
      case 'e':
        if (env_assign (optarg, "--env", fn) != 0)
          return -1;
        cli->run_options = 1;
        break;
      case 'f':
        if (env_file_load (optarg, fn) != 0)
          return -1;
        cli->run_options = 1;
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
            /* 0 lets the kernel choose, as for bind(2). */
            if (*end != '\0' || port < 0 || port > 65535)
              return usage_error ("--listen takes a port from 0 to 65535, "
                                  "not '%s'", optarg), -1;
            cli->listen_port = (int) port;
          }
        break;
      case 'I':
        if (strcmp (optarg, "process") && strcmp (optarg, "none"))
          return usage_error ("--isolation is process or none, not '%s'",
                              optarg), -1;
        cli->isolated = strcmp (optarg, "process") == 0 ? 1 : -1;
        break;
      case 'c':
        {
          long n = strtol (optarg, &end, 10);
          if (*end != '\0' || n < 1 || n > 64)
            return usage_error ("--concurrency takes a number of containers "
                                "from 1 to 64, not '%s'", optarg), -1;
          *(fn ? &fn->concurrency : &cli->concurrency) = (int) n;
        }
        break;
      case 'u':
        cli->unordered = 1;
        break;
      case 'R':
        *(fn ? &fn->runtime_command : &cli->runtime_command) = optarg;
        break;
      case 'F':
        if (serve_fn_add (cli, optarg, 1) != 0)
          return -1;
        break;
      case 'P':
        cli->serve_options = 1;
        if (number_parse (optarg, 0, 65535, &cli->port) != 0)
          return usage_error ("--port takes a port from 0 to 65535, not "
                              "'%s'", optarg), -1;
        break;
      case 'H':
        cli->serve_options = 1;
        if (*optarg == '\0')
          return usage_error ("--host takes an address, such as 127.0.0.1"),
            -1;
        cli->host = optarg;
        break;
      case 'Q':
        cli->serve_options = 1;
        if (number_parse (optarg, 0, 100000, &cli->queue) != 0)
          return usage_error ("--queue takes a number of events from 0 to "
                              "100000, not '%s'", optarg), -1;
        break;
      case 'o':
        if (*optarg == '\0')
          return usage_error ("--output takes a file name, not an empty "
                              "string"), -1;
        cli->output = optarg;
        break;
      case 'L':
        cli->layer = 1;
        break;
      case ':':
        return usage_error ("option '%s' needs an argument",
                            argv[optind - 1]), -1;
      default:
        return usage_error ("unknown option '%s'", argv[optind - 1]), -1;
      }
    }
  if (optind >= argc)
    return usage_error ("no command given: use invoke, batch, serve, repl, "
                        "bootstrap or package"), -1;
  cli->command = argv[optind++];
  if (strcmp (cli->command, "invoke") && strcmp (cli->command, "batch")
      && strcmp (cli->command, "serve") && strcmp (cli->command, "repl")
      && strcmp (cli->command, "bootstrap")
      && strcmp (cli->command, "package"))
    return usage_error ("unknown command '%s': use invoke, batch, serve, "
                        "repl, bootstrap or package", cli->command), -1;
  if (strcmp (cli->command, "serve") == 0)
    return serve_parse (cli, argc, argv);
  if (cli->fn_options || cli->serve_options)
    return usage_error ("--function, --port, --host and --queue work only "
                        "with serve, not %s", cli->command), -1;
  /* An option another command takes would be ignored: say so. */
  if (cli->event_template && strcmp (cli->command, "invoke") != 0)
    return usage_error ("--event-template works only with invoke, not %s",
                        cli->command), -1;
  if (cli->listen && strcmp (cli->command, "repl") != 0)
    return usage_error ("--listen works only with repl, not %s",
                        cli->command), -1;
  if ((cli->concurrency || cli->unordered)
      && strcmp (cli->command, "batch") != 0)
    return usage_error ("--concurrency and --unordered work only with "
                        "batch (and --concurrency with serve), not %s",
                        cli->command), -1;
  if ((cli->isolated || cli->runtime_command)
      && strcmp (cli->command, "batch") != 0
      && strcmp (cli->command, "invoke") != 0)
    return usage_error ("--isolation and --runtime-command work only with "
                        "batch and invoke (and --runtime-command with "
                        "serve), not %s", cli->command), -1;
  if (cli->runtime_command && strcmp (cli->command, "invoke") == 0
      && cli->isolated <= 0)
    return usage_error ("invoke runs --runtime-command only with "
                        "--isolation process"), -1;
  if ((cli->concurrency > 1 || cli->unordered || cli->runtime_command)
      && cli->isolated < 0)
    return usage_error ("--concurrency, --unordered and --runtime-command "
                        "need containers: not with --isolation none"), -1;
  if ((cli->output || cli->layer) && strcmp (cli->command, "package") != 0)
    return usage_error ("--output and --layer work only with package, not "
                        "%s", cli->command), -1;
  if (strcmp (cli->command, "bootstrap") == 0)
    return bootstrap_parse (cli, argc, argv);
  /* A zip carries none of them: on Lambda they are the function's
     configuration. */
  if (cli->run_options && strcmp (cli->command, "package") == 0)
    return usage_error ("package builds a zip and runs nothing: --timeout, "
                        "--memory, --function-name, --env and --env-file "
                        "are set on AWS Lambda (aws lambda create-function "
                        "--timeout, --memory-size, --environment), not in "
                        "the zip"), -1;
  if (strcmp (cli->command, "package") == 0)
    return package_parse (cli, argc, argv);
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

/* The function's identity from CLI and the environment, which it does
   not change. */
static void
function_identity (struct gl_function *fn, const struct cli *cli)
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
  /* Under a Runtime API the platform writes them. */
  fn->platform_lines = strcmp (cli->command, "bootstrap") != 0;
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
}

static void
function_configure (struct gl_function *fn, const struct cli *cli)
{
  function_identity (fn, cli);
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
  SCM r, proc;
  char err[512], *s;

  scm_c_resolve_module ("guile-lambda events");
  proc = gl_hook_ref (GL_HOOK_EVENT_TEMPLATE);
  r = gl_boundary_apply (proc, scm_list_1 (scm_from_utf8_string (kind)));
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
   stream.  -1 if there is no standard output to write results to. */
static int
results_fd_claim (void)
{
  /* Close-on-exec: a child must not hold the result stream open. */
  int fd = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);

  if (fd < 0)
    return -1;
  fflush (stdout);
  if (dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    {
      close (fd);
      return -1;
    }
  results_fd = fd;
  return 0;
}

/* 0, or -1 with errno set: a result that cannot be written is lost, and
   the run must stop and say so. */
int
gl_results_write (const char *s, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (results_fd, s, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return -1;
      s += w;
      n -= (size_t) w;
    }
  return 0;
}

static int
result_line_write (const char *json)
{
  if (gl_results_write (json, strlen (json)) != 0)
    return -1;
  return gl_results_write ("\n", 1);
}

/* What the process dying in an event leaves of it (fatal.c): its
   record, and a line on stderr that names it. */
static int
cli_fatal (const struct gl_fatal *f, void *data);

/* invoke */

static int
invoke_status (const struct gl_invocation *inv)
{
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

/* invoke's event: its JSON text in TEXT, and its value; SCM_UNDEFINED
   after a usage error. */
static SCM
invoke_event (struct cli *cli, struct gl_buf *text)
{
  char err[512];
  SCM event;

  if (cli->event_template)
    {
      if (event_template_text (cli->event_template, text) != 0)
        return SCM_UNDEFINED;
    }
  else if (event_text_read (cli->input, text) != 0)
    return SCM_UNDEFINED;
  event = gl_json_decode (text->data, text->len, err, sizeof err);
  if (SCM_UNBNDP (event))
    fprintf (stderr, "%s: the event is not valid JSON: %s\n"
             "Give the event as inline JSON, @FILE or - for standard "
             "input.\n", program, err);
  return event;
}

static int
invoke_run (struct cli *cli)
{
  struct gl_buf text;
  struct gl_request req;
  struct gl_report report;
  struct gl_invocation *inv;
  SCM event;
  int written;

  gl_buf_init (&text);
  event = invoke_event (cli, &text);
  gl_buf_free (&text);
  if (SCM_UNBNDP (event))
    return EXIT_USAGE;
  request_init (&req);
  inv = gl_engine_invoke (&req, event, &report);
  written = result_line_write (inv->result_json);
  gl_inflight_clear ();
  if (written != 0)
    {
      fprintf (stderr, "%s: cannot write the result of request %s to "
               "standard output: %s\n", program, req.request_id,
               strerror (errno));
      return EXIT_OUTPUT;
    }
  return invoke_status (inv);
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

void
gl_record_format (struct gl_buf *b, unsigned long line,
                  const char *request_id, const char *status,
                  const char *json, const struct gl_report *report)
{
  gl_buf_puts (b, "{\"requestId\":");
  gl_json_escape (b, request_id, strlen (request_id));
  gl_buf_puts (b, ",\"line\":");
  gl_buf_put_ulong (b, line);
  gl_buf_puts (b, ",\"status\":\"");
  gl_buf_puts (b, status);
  gl_buf_puts (b, strcmp (status, "success") == 0 ? "\",\"result\":"
               : "\",\"error\":");
  gl_buf_puts (b, json);
  gl_buf_puts (b, ",\"durationMs\":");
  gl_buf_put_ms (b, report->duration_ms);
  gl_buf_puts (b, ",\"billedDurationMs\":");
  gl_buf_put_ulong (b, (unsigned long) report->billed_ms);
  gl_buf_puts (b, ",\"maxMemoryUsedMB\":");
  gl_buf_put_ulong (b, (unsigned long) report->max_memory_mb);
  if (report->init_ms >= 0)
    {
      gl_buf_puts (b, ",\"initDurationMs\":");
      gl_buf_put_ms (b, report->init_ms);
    }
  gl_buf_puts (b, "}\n");
}

void
gl_record_format_invalid (struct gl_buf *b, unsigned long line,
                          const char *err)
{
  char msg[600];

  snprintf (msg, sizeof msg, "Could not parse request body into json: %s",
            err);
  gl_buf_printf (b, "{\"requestId\":null,\"line\":%lu,\"status\":\"error\","
                 "\"error\":{\"errorType\":\"InvalidRequestContentException\","
                 "\"errorMessage\":", line);
  gl_json_escape (b, msg, strlen (msg));
  gl_buf_puts (b, ",\"stackTrace\":[]}}\n");
}

/* One batch record.  STATUS is success, error or timeout; JSON the
   result or the error object. */
static int
record_write (unsigned long line, const char *request_id, const char *status,
              const char *json, const struct gl_report *report)
{
  struct gl_buf b;
  int r;

  gl_buf_init (&b);
  gl_record_format (&b, line, request_id, status, json, report);
  r = gl_results_write (b.data, b.len);
  gl_buf_free (&b);
  return r;
}

static int
record_write_invalid (unsigned long line, const char *err)
{
  struct gl_buf b;
  int r;

  gl_buf_init (&b);
  gl_record_format_invalid (&b, line, err);
  r = gl_results_write (b.data, b.len);
  gl_buf_free (&b);
  return r;
}

static int
cli_fatal (const struct gl_fatal *f, void *data)
{
  struct cli *cli = data;
  int batch = strcmp (cli->command, "batch") == 0;
  int status = f->timeout ? EXIT_TIMEOUT
    : f->init && !batch ? EXIT_INIT_ERROR : EXIT_FUNCTION_ERROR;

  if (f->request_id == NULL && batch)
    fprintf (stderr, "%s: the container %s after line %lu, between events; "
             "the lines after it were not run.\n", program, f->why,
             cli->batch_line);
  else if (f->request_id == NULL)
    fprintf (stderr, "%s: the container %s outside the invocation.\n",
             program, f->why);
  else if (strcmp (cli->command, "bootstrap") == 0)
    {
      /* The platform reports the event when it sees the runtime die,
         with the status it died with. */
      fprintf (stderr, "%s: request %s: the runtime %s%s.\n", program,
               f->request_id, f->why, f->init ? " in its init phase" : "");
      if (f->exit_status >= 0)
        status = f->exit_status;
    }
  else if (batch)
    {
      record_write (cli->batch_line, f->request_id,
                    f->timeout ? "timeout" : "error", f->error_json,
                    &f->report);
      fprintf (stderr, "%s: the event on line %lu (request %s): the "
               "container %s%s; a container cannot go on after that inside "
               "one process, so the batch stops here: the lines after it "
               "were not run.\n", program, cli->batch_line, f->request_id,
               f->why, f->init ? " in its init phase" : "");
    }
  else
    {
      result_line_write (f->error_json);
      fprintf (stderr, "%s: request %s: the container %s%s.\n", program,
               f->request_id, f->why, f->init ? " in its init phase" : "");
    }
  return status;
}

/* Reading events: lines of any bytes (a NUL included), each read with
   read(2), which the watchdog's signal may interrupt. */

/* The next line without its newline in *LINE and its length; -1 at the
   end of the input, -2 on a read error (errno says which). */
ssize_t
gl_line_next (struct gl_line_reader *r, const char **line)
{
  char *nl;
  ssize_t n;
  size_t len;

  for (;;)
    {
      nl = memchr (r->buf.data + r->start, '\n', r->buf.len - r->start);
      if (nl || (r->eof && r->start < r->buf.len))
        {
          len = nl ? (size_t) (nl - r->buf.data) - r->start
            : r->buf.len - r->start;
          *line = r->buf.data + r->start;
          r->start += len + (nl != NULL);
          return (ssize_t) len;
        }
      if (r->eof)
        return -1;
      /* Keep the partial line only. */
      memmove (r->buf.data, r->buf.data + r->start, r->buf.len - r->start);
      r->buf.len -= r->start;
      r->start = 0;
      gl_buf_reserve (&r->buf, 65536);
      do
        n = read (r->fd, r->buf.data + r->buf.len, r->buf.cap - r->buf.len - 1);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        return -2;
      r->eof = n == 0;
      r->buf.len += (size_t) n;
      r->buf.data[r->buf.len] = '\0';
    }
}

int
gl_line_ready (const struct gl_line_reader *r)
{
  return memchr (r->buf.data + r->start, '\n', r->buf.len - r->start) != NULL
         || (r->eof && r->start < r->buf.len);
}

int
gl_line_blank (const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (!isspace ((unsigned char) s[i]))
      return 0;
  return 1;
}

/* An input that is a file to read: not a directory. */
int
gl_input_open (const char *path, const char *what)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return usage_error ("cannot read the %s %s: %s", what, path,
                        strerror (errno)), -1;
  if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    {
      close (fd);
      return usage_error ("the %s %s is a directory: give a file", what,
                          path), -1;
    }
  return fd;
}

static void
batch_write_failed (unsigned long line)
{
  gl_log_notice ("%s: cannot write the record of line %lu to standard "
                 "output: %s; the batch stops here: the lines after it were "
                 "not run.\n", program, line, strerror (errno));
}

/* One line: its record.  Returns 0 on success, 1 on a function error,
   -1 if the record could not be written. */
static int
batch_line_run (struct cli *cli, const char *line, size_t n)
{
  struct gl_request req;
  struct gl_report report;
  struct gl_invocation *inv;
  char err[512];
  SCM event;
  int written;

  event = gl_json_decode (line, n, err, sizeof err);
  if (SCM_UNBNDP (event))
    return record_write_invalid (cli->batch_line, err) != 0 ? -1 : 1;
  request_init (&req);
  inv = gl_engine_invoke (&req, event, &report);
  written = record_write (cli->batch_line, req.request_id,
                          outcome_status (inv), inv->result_json, &report);
  gl_inflight_clear ();
  if (written != 0)
    return -1;
  return inv->outcome != GL_SUCCEEDED;
}

/* This program's file, to start containers with: 0, or -1 said. */
static int
program_path (char *self, size_t size)
{
  ssize_t n = readlink ("/proc/self/exe", self, size - 1);

  if (n <= 0)
    {
      fprintf (stderr, "%s: cannot find this program to start containers "
               "with: %s\n", program, strerror (errno));
      return -1;
    }
  self[n] = '\0';
  return 0;
}

/* The supervisor's settings from the command line; -1 if this program
   cannot be found to start containers with. */
static int
supervised_init (struct gl_supervised *s, struct cli *cli,
                 const struct gl_function *fn, char *self, size_t size)
{
  if (program_path (self, size) != 0)
    return -1;
  memset (s, 0, sizeof *s);
  s->fn = fn;
  s->handler = cli->handler;
  s->runtime_command = cli->runtime_command;
  s->program = self;
  s->concurrency = cli->concurrency > 0 ? cli->concurrency : 1;
  s->unordered = cli->unordered;
  s->fd = STDIN_FILENO;
  return 0;
}

/* invoke through the supervisor: one container, a process of its own. */
static int
invoke_isolated_run (struct cli *cli, const struct gl_function *fn)
{
  struct gl_supervised s;
  struct gl_buf text;
  char self[4096];
  int r;

  if (supervised_init (&s, cli, fn, self, sizeof self) != 0)
    return 70;
  gl_buf_init (&text);
  if (SCM_UNBNDP (invoke_event (cli, &text)))
    r = EXIT_USAGE;
  else
    r = gl_invoke_supervised (&s, text.data, text.len);
  gl_buf_free (&text);
  return r;
}

/* batch through the supervisor: a pool of worker processes. */
static int
batch_isolated_run (struct cli *cli, const struct gl_function *fn)
{
  struct gl_supervised s;
  char self[4096];
  int r;

  if (supervised_init (&s, cli, fn, self, sizeof self) != 0)
    return 70;
  if (cli->input && strcmp (cli->input, "-") != 0)
    {
      s.fd = gl_input_open (cli->input, "events file");
      if (s.fd < 0)
        return EXIT_USAGE;
    }
  r = gl_batch_supervised (&s);
  if (s.fd != STDIN_FILENO)
    close (s.fd);
  return r;
}

static int
batch_run (struct cli *cli)
{
  struct gl_line_reader reader;
  const char *line;
  ssize_t n;
  int failed = 0, r;

  memset (&reader, 0, sizeof reader);
  gl_buf_init (&reader.buf);
  reader.fd = STDIN_FILENO;
  if (cli->input && strcmp (cli->input, "-") != 0)
    {
      reader.fd = gl_input_open (cli->input, "events file");
      if (reader.fd < 0)
        return EXIT_USAGE;
    }
  /* An event's END and REPORT wait for the next one's START, and leave
     with it in one write, when that event is read already; never while
     the batch waits for input (gl_engine_start releases them before
     user code runs). */
  gl_log_hold_begin ();
  while ((n = gl_line_next (&reader, &line)) >= 0)
    {
      cli->batch_line++;
      if (gl_line_blank (line, (size_t) n))
        continue;
      r = batch_line_run (cli, line, (size_t) n);
      if (!gl_line_ready (&reader))
        gl_log_release ();
      if (r < 0)
        {
          batch_write_failed (cli->batch_line);
          failed = EXIT_OUTPUT;
          break;
        }
      if (r > 0 && !failed)
        failed = EXIT_FUNCTION_ERROR;
    }
  if (n == -2)
    {
      gl_log_notice ("%s: cannot read the events after line %lu: %s\n",
                     program, cli->batch_line, strerror (errno));
      failed = EXIT_USAGE;
    }
  gl_log_hold_end ();
  gl_buf_free (&reader.buf);
  if (reader.fd != STDIN_FILENO)
    close (reader.fd);
  return failed;
}

/* serve: each function its own identity, from its own options or the
   command's, and its own pool. */
static int
serve_run (struct cli *cli)
{
  struct gl_invoke_function *fns = calloc ((size_t) cli->nfns, sizeof *fns);
  struct gl_function *ids = calloc ((size_t) cli->nfns, sizeof *ids);
  char self[4096], cwd[4096];
  int i, r;

  if (program_path (self, sizeof self) != 0)
    return 70;
  for (i = 0; i < cli->nfns; i++)
    {
      const struct serve_fn *f = &cli->fns[i];
      struct gl_service_config *svc = &fns[i].service;
      struct cli one = *cli;

      one.function_name = f->name;
      one.handler = f->handler;
      one.timeout_s = f->timeout_s > 0 ? f->timeout_s : cli->timeout_s;
      one.memory_mb = f->memory_mb > 0 ? f->memory_mb : cli->memory_mb;
      function_identity (&ids[i], &one);
      svc->fn = &ids[i];
      svc->handler = f->handler;
      svc->task_root = gl_task_root (cwd, sizeof cwd);
      svc->runtime_command = f->runtime_command ? f->runtime_command
        : cli->runtime_command;
      svc->program = self;
      svc->concurrency = f->concurrency > 0 ? f->concurrency
        : cli->concurrency > 0 ? cli->concurrency : 1;
      svc->env = f->env;
      fns[i].queue_max = cli->queue;
    }
  r = gl_serve (cli->host, cli->port, fns, cli->nfns);
  free (fns);
  free (ids);
  return r;
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
  SCM r;

  /* No records to write: only a death inside an invocation is said. */
  gl_fatal_install (NULL, NULL, 0);
  if (gl_engine_configure (fn, cli->handler) != 0)
    return scm_from_int (70);
  scm_c_resolve_module ("guile-lambda repl");
  argv_free (argv, argc);
  /* The REPL is the program from here on: its ,quit ends the process. */
  r = scm_call_1 (gl_hook_ref (GL_HOOK_RUN_REPL),
                  cli->listen ? scm_from_int (cli->listen_port) : SCM_BOOL_F);
  gl_fatal_disarm ();
  return r;
}

/* bootstrap: the custom runtime.  Its standard output and error are its
   log, as on Lambda. */
static SCM
bootstrap_run (struct cli *cli, const struct gl_function *fn, char **argv,
               int argc)
{
  int r;

  /* ARGV holds CLI's strings, which the fatal path reads: it lives as
     long as the runtime. */
  gl_fatal_install (cli_fatal, cli, 1);
  if (gl_engine_configure (fn, cli->handler) != 0)
    return scm_from_int (70);
  scm_set_current_output_port (gl_log_port (GL_LOG_INFO));
  scm_set_current_error_port (gl_log_port (GL_LOG_ERROR));
  r = gl_bootstrap_run (getenv ("AWS_LAMBDA_RUNTIME_API"));
  gl_fatal_disarm ();
  argv_free (argv, argc);
  return scm_from_int (r);
}

/* package: (guile-lambda package) builds the zip on this machine. */
static SCM
package_run (struct cli *cli, char **argv, int argc)
{
  SCM r = scm_call_3 (scm_c_public_ref ("guile-lambda package", "package"),
                      scm_from_utf8_string (cli->handler),
                      scm_from_utf8_string (cli->output ? cli->output
                                            : "function.zip"),
                      scm_from_bool (cli->layer));
  argv_free (argv, argc);
  return r;
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
  if (strcmp (cli.command, "package") == 0)
    return package_run (&cli, argv, argc);
  gl_log_configure ();
  /* Its functions' identities are their own: none goes in this
     process's environment. */
  if (strcmp (cli.command, "serve") == 0)
    {
      r = serve_run (&cli);
      argv_free (argv, argc);
      return scm_from_int (r);
    }
  function_configure (&fn, &cli);
  /* The engine's Scheme half hands the core its hooks as it loads. */
  scm_c_resolve_module ("guile-lambda runtime");
  if (strcmp (cli.command, "repl") == 0)
    return repl_run (&cli, &fn, argv, argc);
  if (strcmp (cli.command, "bootstrap") == 0)
    return bootstrap_run (&cli, &fn, argv, argc);
  if (results_fd_claim () != 0)
    {
      fprintf (stderr, "%s: standard output is closed: results have nowhere "
               "to go, so nothing was run.\n", program);
      argv_free (argv, argc);
      return scm_from_int (EXIT_OUTPUT);
    }
  if (strcmp (cli.command, "invoke") == 0 && cli.isolated > 0)
    {
      gl_fatal_install (cli_fatal, &cli, 1);
      r = invoke_isolated_run (&cli, &fn);
      gl_fatal_disarm ();
      argv_free (argv, argc);
      return scm_from_int (r);
    }
  if (strcmp (cli.command, "batch") == 0 && cli.isolated >= 0)
    {
      gl_fatal_install (cli_fatal, &cli, 1);
      r = batch_isolated_run (&cli, &fn);
      gl_fatal_disarm ();
      argv_free (argv, argc);
      return scm_from_int (r);
    }
  gl_fatal_install (cli_fatal, &cli, 1);
  if (gl_engine_configure (&fn, cli.handler) != 0)
    return scm_from_int (70);
  scm_set_current_output_port (gl_log_port (GL_LOG_INFO));
  scm_set_current_error_port (gl_log_port (GL_LOG_ERROR));
  r = strcmp (cli.command, "invoke") == 0 ? invoke_run (&cli)
    : batch_run (&cli);
  gl_fatal_disarm ();
  argv_free (argv, argc);
  return scm_from_int (r);
}

void
gl_cli_init (void)
{
  scm_c_define_gsubr ("%guile-lambda-main", 1, 0, 0, cli_main);
}
