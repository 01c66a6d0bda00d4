# Tests: SRFI-64 files that print TAP, run by automake's tap-driver.
# tests/scm/ tests the Scheme API and the codec in a plain Guile;
# tests/cli/ tests the guile-lambda binary from the outside.

TEST_EXTENSIONS = .scm
SCM_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SCM_LOG_COMPILER = $(top_builddir)/pre-inst-env $(GUILE) --no-auto-compile \
  -L $(abs_top_srcdir)
AM_TESTS_ENVIRONMENT = abs_top_srcdir='$(abs_top_srcdir)'; \
  abs_top_builddir='$(abs_top_builddir)'; \
  export abs_top_srcdir abs_top_builddir;

TESTS = \
  tests/cli/completion.scm \
  tests/cli/timeout.scm \
  tests/cli/batch.scm \
  tests/cli/invoke.scm \
  tests/cli/examples.scm

EXTRA_DIST += tests/lib/tap.scm tests/lib/cli.scm $(TESTS)
check_DATA = $(go_DATA) $(glgo_DATA)
