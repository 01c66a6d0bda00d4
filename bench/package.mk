# bench/package.mk: the deployment bench, part of `make bench'.  It
# packages examples/hello.scm with `guile-lambda package', prints the
# zip's size part by part, and the cold start (Init Duration) of the
# packaged hello against `guile -c 1'; see bench/package.sh.
# BENCH_PACKAGE_RUNS=N changes the number of cold starts (default 10).

bench-package: guile-lambda$(EXEEXT) libguile-lambda.la $(go_DATA) $(glgo_DATA)
	$(AM_V_at)abs_top_srcdir='$(abs_top_srcdir)' \
	  abs_top_builddir='$(abs_top_builddir)' GUILE='$(GUILE)' \
	  $(SHELL) $(srcdir)/bench/package.sh

bench: bench-package
.PHONY: bench-package

EXTRA_DIST += bench/package.sh
