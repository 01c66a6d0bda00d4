# Tests: SRFI-64 files that print TAP, run by automake's tap-driver.
# tests/scm/ tests the Scheme API and the codec in a plain Guile;
# tests/cli/ tests the guile-lambda binary from the outside.

TEST_EXTENSIONS = .scm
SCM_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SCM_LOG_COMPILER = $(top_builddir)/pre-inst-env $(GUILE) --no-auto-compile
# (tests lib ...) are found under the top source directory, searched
# after the modules' own directories: before them (as with -L), the
# `guile-lambda' binary of an in-tree build would be taken for the
# source of (guile-lambda) whenever it is newer than its compiled file.
# The cache of compiled handlers is the build tree's, not the user's.
AM_TESTS_ENVIRONMENT = abs_top_srcdir='$(abs_top_srcdir)'; \
  abs_top_builddir='$(abs_top_builddir)'; \
  GUILE_LOAD_PATH='$(abs_top_srcdir)'; \
  XDG_CACHE_HOME='$(abs_top_builddir)/tests/cache'; \
  export abs_top_srcdir abs_top_builddir GUILE_LOAD_PATH XDG_CACHE_HOME;

# The longest first, so that make -j runs the rest beside it.
TESTS = \
  tests/cli/property.scm \
  tests/scm/handles.scm \
  tests/cli/completion.scm \
  tests/cli/timeout.scm \
  tests/cli/batch.scm \
  tests/cli/invoke.scm \
  tests/cli/examples.scm \
  tests/cli/await.scm \
  tests/cli/faults.scm \
  tests/cli/bootstrap.scm \
  tests/cli/runtime-command.scm

TEST_HANDLERS = \
  tests/handlers/await.scm \
  tests/handlers/bootstrap.scm \
  tests/handlers/await-callback-style.scm \
  tests/handlers/batch-story.scm \
  tests/handlers/child-output.scm \
  tests/handlers/context.scm \
  tests/handlers/error-objects.scm \
  tests/handlers/descriptors-exhausted.scm \
  tests/handlers/ports-dropped.scm \
  tests/handlers/exit.scm \
  tests/handlers/faults.scm \
  tests/handlers/init-raise.scm \
  tests/handlers/marshal.scm \
  tests/handlers/module-handler.scm \
  tests/handlers/names/core.scm \
  tests/handlers/names/nestedHandler.scm \
  tests/handlers/no-handler.scm \
  tests/handlers/not-procedure.scm \
  tests/handlers/return-style.scm \
  tests/handlers/rule1-error-pending.scm \
  tests/handlers/rule2-no-wait.scm \
  tests/handlers/rule2-wait.scm \
  tests/handlers/rule3-context.scm \
  tests/handlers/rule4-first-wins.scm \
  tests/handlers/rule5-raise.scm \
  tests/handlers/rule6-no-completion.scm \
  tests/handlers/rule7-stale.scm \
  tests/handlers/rule7-uncaught.scm \
  tests/handlers/syntax-error.scm \
  tests/handlers/timeout-cpu.scm \
  tests/handlers/timeout-in-callback.scm \
  tests/handlers/timeout-loop.scm \
  tests/handlers/timeout-read.scm \
  tests/handlers/timeout-sleep.scm \
  tests/handlers/timeout-stuck-c.scm \
  tests/handlers/unbound-variable.scm

# The JSON codec's corpus, checked against guile-json.
JSON_CORPUS = \
  tests/json/valid.txt \
  tests/json/invalid.txt \
  tests/json/events/alb.json \
  tests/json/events/apigw-v1-rest.json \
  tests/json/events/apigw-v2-http.json \
  tests/json/events/cloudwatch-logs.json \
  tests/json/events/cognito-pre-signup.json \
  tests/json/events/dynamodb-stream.json \
  tests/json/events/eventbridge.json \
  tests/json/events/kinesis.json \
  tests/json/events/s3-put.json \
  tests/json/events/sns.json \
  tests/json/events/sqs.json

EXTRA_DIST += tests/lib/tap.scm tests/lib/cli.scm tests/lib/runtime-api.scm $(TESTS) $(TEST_HANDLERS) \
  $(JSON_CORPUS)
check_DATA = $(go_DATA) $(glgo_DATA)
TESTS += tests/scm/json.scm
TESTS += tests/cli/fs.scm
TESTS += tests/cli/dns.scm
TESTS += tests/cli/signals.scm
TEST_HANDLERS += tests/handlers/fs-await.scm
TEST_HANDLERS += tests/handlers/fs-callbacks.scm
TEST_HANDLERS += tests/handlers/dns-lookup.scm
TEST_HANDLERS += tests/handlers/signals-self.scm
TEST_HANDLERS += tests/handlers/signals-keepalive.scm
TESTS += tests/cli/process.scm
TEST_HANDLERS += tests/handlers/process-await.scm
TEST_HANDLERS += tests/handlers/process-callback.scm
TEST_HANDLERS += tests/handlers/process-timeout.scm
TESTS += tests/cli/tcp.scm
TESTS += tests/cli/udp.scm
TESTS += tests/scm/memory.scm
TEST_HANDLERS += tests/handlers/tcp-echo.scm
TEST_HANDLERS += tests/handlers/tcp-errors.scm
TEST_HANDLERS += tests/handlers/tcp-left-open.scm
TEST_HANDLERS += tests/handlers/tcp-gc.scm
TEST_HANDLERS += tests/handlers/tcp-memory.scm
TEST_HANDLERS += tests/handlers/udp-echo.scm
TEST_HANDLERS += tests/handlers/udp-errors.scm
TESTS += tests/scm/events.scm
TESTS += tests/scm/runtime.scm
TESTS += tests/cli/repl.scm
TEST_HANDLERS += tests/handlers/repl-two-timers.scm
TEST_HANDLERS += tests/handlers/repl-clients.scm
TEST_HANDLERS += tests/handlers/repl-slow-interval.scm
TEST_HANDLERS += tests/handlers/review-regressions.scm
TESTS += tests/cli/timers.scm
TEST_HANDLERS += tests/handlers/timer-delays.scm
TESTS += tests/cli/handles.scm
TEST_HANDLERS += tests/handlers/handle-printing.scm
TEST_HANDLERS += tests/handlers/marshal-list.scm
TESTS += tests/cli/readme.scm
TEST_HANDLERS += tests/handlers/rule1-exception.scm
TEST_HANDLERS += tests/handlers/rule2-flag-later.scm
TEST_HANDLERS += tests/handlers/rule4-cases.scm
TEST_HANDLERS += tests/handlers/rule5-after-callback.scm
TEST_HANDLERS += tests/handlers/rule7-io.scm
TEST_HANDLERS += tests/handlers/freeze-thaw.scm
TEST_HANDLERS += tests/handlers/memory-use.scm
TEST_HANDLERS += tests/handlers/model-interpreter.scm
TEST_HANDLERS += tests/handlers/rule7-later-turn.scm
TEST_HANDLERS += tests/handlers/slow-echo.scm
TESTS += tests/cli/service.scm
TEST_HANDLERS += tests/handlers/service.scm
EXTRA_DIST += tests/lib/rogue-runtime.scm
TESTS += tests/cli/serve.scm
TEST_HANDLERS += tests/handlers/serve.scm
TESTS += tests/cli/serve-robustness.scm
TESTS += tests/cli/package.scm
TEST_HANDLERS += tests/handlers/package/function.scm
TEST_HANDLERS += tests/handlers/package/lib/calendar.scm
TESTS += tests/cli/handler-cache.scm

clean-local: tests-cache-clean
tests-cache-clean:
	-rm -rf tests/cache
.PHONY: tests-cache-clean
