# bench/local.mk: `make bench' runs each benchmark against the
# uninstalled tree; every one prints its own numbers, ratios and
# targets.  bench/coldstart.scm: cold starts and memory against `guile
# -c 1'; bench/json.scm: the codec against guile-json, with the
# collector set as guile-lambda sets it for a 128 MB function
# (src/cli/main.c), since that is how handlers see the codec.

BENCH_GUILE = abs_top_srcdir='$(abs_top_srcdir)' \
  $(top_builddir)/pre-inst-env $(GUILE) --no-auto-compile -L $(abs_top_srcdir)

bench: guile-lambda$(EXEEXT) libguile-lambda.la $(go_DATA) $(glgo_DATA)
	$(AM_V_at)$(BENCH_GUILE) $(srcdir)/bench/coldstart.scm
	$(AM_V_at)GC_INITIAL_HEAP_SIZE=8388608 GC_MARKERS=1 \
	  $(BENCH_GUILE) $(srcdir)/bench/json.scm
.PHONY: bench

EXTRA_DIST += bench/coldstart.scm bench/json.scm bench/data/apigw-v2.json
