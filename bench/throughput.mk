# bench/throughput.mk: the invocation-throughput bench, part of `make bench'.
# It times one warm `guile-lambda batch' over many events, in-process
# and isolated (1 and 2 containers), against the floor (bench/floor.c:
# Guile and our codec with nothing else) and against lambda-local under
# Node; see bench/throughput.sh.

# Built by `make bench' only, never by `make all' or installed.
EXTRA_PROGRAMS = bench/floor bench/roundtrip
bench_floor_SOURCES = bench/floor.c src/core/buf.c src/core/buf.h \
  src/core/json.c src/core/json.h src/core/boundary.c src/core/boundary.h
bench_floor_CPPFLAGS = -I$(top_srcdir) -I$(top_srcdir)/src
bench_floor_CFLAGS = $(WARN_CFLAGS) $(GUILE_CFLAGS)
bench_floor_LDADD = $(GUILE_LIBS) -lm
bench_roundtrip_SOURCES = bench/roundtrip.c
CLEANFILES += $(EXTRA_PROGRAMS)

EXTRA_DIST += bench/throughput.sh bench/trivial.scm bench/trivial.js \
  bench/package.json

# BENCH_EVENTS=N changes the number of events of the floor and in-process
# batch (default 100000), BENCH_ISOLATED_EVENTS=N that of isolated batch
# and lambda-local (default 20000); BENCH_REPEAT=N how many times each
# run is timed, keeping the fastest (default 3); BENCH_NPM_DIR is where npm installs
# lambda-local (default ~/.cache/guile-lambda-bench, never the tree).
bench-throughput: bench/floor$(EXEEXT) bench/roundtrip$(EXEEXT) \
    guile-lambda$(EXEEXT) \
    libguile-lambda.la $(go_DATA) $(glgo_DATA)
	$(AM_V_at)abs_top_srcdir='$(abs_top_srcdir)' \
	  abs_top_builddir='$(abs_top_builddir)' \
	  NODE='$(NODE)' NPM='$(NPM)' \
	  $(SHELL) $(srcdir)/bench/throughput.sh

bench: bench-throughput
.PHONY: bench-throughput

# The Invoke API bench: `guile-lambda serve' under wrk against a Node
# `http' floor; see bench/serve.sh.  BENCH_SERVE_SECONDS=N changes the
# length of each wrk run (default 3), BENCH_SERVE_RUNS=N their number
# (default 3).
bench-serve: guile-lambda$(EXEEXT) libguile-lambda.la $(go_DATA) $(glgo_DATA)
	$(AM_V_at)abs_top_srcdir='$(abs_top_srcdir)' \
	  abs_top_builddir='$(abs_top_builddir)' NODE='$(NODE)' \
	  $(SHELL) $(srcdir)/bench/serve.sh

bench: bench-serve
.PHONY: bench-serve
EXTRA_DIST += bench/serve.sh bench/serve-floor.js bench/serve-post.lua
