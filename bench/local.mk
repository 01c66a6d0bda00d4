# bench/local.mk: `make bench' runs each script of BENCH_RUNS against
# the uninstalled tree; every script prints its own numbers and ratios.

BENCH_RUNS = bench/coldstart.scm bench/json.scm

bench: guile-lambda$(EXEEXT) libguile-lambda.la $(go_DATA) $(glgo_DATA)
	$(AM_V_at)for script in $(BENCH_RUNS); do \
	  abs_top_srcdir='$(abs_top_srcdir)' \
	  $(top_builddir)/pre-inst-env $(GUILE) --no-auto-compile \
	    -L $(abs_top_srcdir) $(srcdir)/$$script || exit 1; \
	done
.PHONY: bench

EXTRA_DIST += bench/coldstart.scm bench/json.scm bench/data/apigw-v2.json
