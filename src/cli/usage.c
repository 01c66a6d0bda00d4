/* usage.c: the texts of --help and --version.  Both the command and the
   extension print them: the command does when they are all it is asked,
   so that neither boots Guile's engine for a line of text. */
#include "cli/usage.h"

#include <stdio.h>

void
gl_help_print (const char *program)
{
  printf ("\
Usage: %s COMMAND HANDLER [ARGUMENT] [OPTION]...\n\
Run AWS-Lambda-style functions whose handlers are written in Guile Scheme.\n\
\n\
Commands:\n\
  invoke HANDLER [EVENT]   run one invocation; EVENT is inline JSON, @FILE,\n\
                           or - for standard input (default: {})\n\
  batch HANDLER [FILE|-]   run each line of an NDJSON stream (default: standard\n\
                           input) as one event, through a pool of containers\n\
                           (worker processes), and print one NDJSON record\n\
                           per event, in input order\n\
  repl [HANDLER]           Guile's REPL in the handler's module, with\n\
                           meta-commands that step invocations (,help lambda)\n\
  serve HANDLER...         the Lambda Invoke API on 127.0.0.1:9000, for AWS\n\
                           SDKs, the AWS CLI and curl: each HANDLER (or each\n\
                           --function) a function with its own containers\n\
  bootstrap                a Lambda custom runtime: serve the handler named by\n\
                           _HANDLER to the Runtime API at\n\
                           $AWS_LAMBDA_RUNTIME_API, as on AWS Lambda; where\n\
                           the API sends no usable deadline, the timeout is\n\
                           $AWS_LAMBDA_FUNCTION_TIMEOUT seconds (default 3)\n\
  package HANDLER-DIR      a zip for AWS Lambda's provided.al2023 runtime: the\n\
                           directory's files, compiled, and the whole runtime\n\
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
      --isolation MODE     process (each container a worker process behind\n\
                           the Runtime API; batch's default) or none (one\n\
                           container in this process; invoke's default)\n\
      --concurrency N      batch, serve: N containers (default 1)\n\
      --unordered          batch: each record as soon as its event completes\n\
      --runtime-command CMD  run CMD (with sh -c) as each container,\n\
                           any Lambda Runtime API client, instead of\n\
                           guile-lambda bootstrap\n\
      --function NAME=HANDLER  serve: a function called NAME; --timeout,\n\
                           --memory, --env, --env-file, --concurrency and\n\
                           --runtime-command after it are its own\n\
      --port PORT          serve: listen on PORT (default 9000; 0: any free\n\
                           port, printed on standard error)\n\
      --host ADDRESS       serve: listen on ADDRESS (default 127.0.0.1)\n\
      --queue N            serve: events that may wait for a container, per\n\
                           function, beyond which invocations get 429\n\
                           (default 100)\n\
      --listen [PORT]      repl: also serve the REPL on 127.0.0.1:PORT\n\
                           (default 37146; 0: any free port, printed on\n\
                           standard error), for Geiser\n\
  -o, --output FILE        package: the function zip (default function.zip)\n\
      --layer              package: the runtime as a layer of its own,\n\
                           layer.zip beside the function zip\n\
  -h, --help               print this help and exit\n\
  -V, --version            print version information and exit\n\
\n\
Results go to standard output, logs (START, END, REPORT and what the\n\
handler prints) to standard error.\n\
\n\
Exit status of invoke: 0 success, 1 function error, 2 bad usage or bad\n\
input, 3 init error, 74 the result could not be written, 124 timeout.\n\
Exit status of batch: 0 if every event succeeded and every record was\n\
written, 1 otherwise, 2 bad usage, 74 a record could not be written;\n\
with --isolation none, 124 if a handler is stuck in C code past its\n\
timeout.\n\
\n\
serve stops on SIGINT or SIGTERM once every invocation it accepted is\n\
answered, and exits 0; a second signal stops it at once.\n\
\n\
Batch records hold requestId, line, status (success, error or timeout),\n\
result or error, durationMs, billedDurationMs, maxMemoryUsedMB, and\n\
initDurationMs on a cold start.\n", program);
}

void
gl_version_print (void)
{
  printf ("guile-lambda %s\n"
          "Copyright (C) 2026 the guile-lambda developers.\n"
          "License GPLv3+: GNU GPL version 3 or later "
          "<https://gnu.org/licenses/gpl.html>.\n"
          "This is free software: you are free to change and redistribute "
          "it.\nThere is NO WARRANTY, to the extent permitted by law.\n",
          PACKAGE_VERSION_STRING);
}
