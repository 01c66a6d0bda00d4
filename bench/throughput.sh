#!/bin/sh
# bench/throughput.sh: invocations per second of a trivial handler
# (bench/trivial.scm) through one warm `guile-lambda batch', against
#  - the floor, bench/floor: Guile and our JSON codec with nothing else,
#  - lambda-local (npm) running bench/trivial.js in one Node process.
# Each runner is timed once, as a whole process (start-up included), on
# the same NDJSON file; a run with one event gives the start-up time.
# Run it with `make bench' (or `make bench-throughput'), which sets
# abs_top_srcdir, abs_top_builddir, NODE and NPM.
# BENCH_EVENTS=N changes the number of events (default 100000: enough
# that the floor's warm time is not lost in its start-up).

set -eu

: "${abs_top_srcdir:?run me through make bench}"
: "${abs_top_builddir:?run me through make bench}"
NODE=${NODE:-node}
NPM=${NPM:-npm}
events=${BENCH_EVENTS:-100000}

srcbench=$abs_top_srcdir/bench
buildbench=$abs_top_builddir/bench
handler=$srcbench/trivial.scm
floor=$buildbench/floor
lambda_local_version=$(sed -n 's/.*"lambda-local": *"\([^"]*\)".*/\1/p' \
  "$srcbench/package.json")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gl-throughput.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

now_ns () { date +%s%N; }

# run_timed NAME COMMAND...: run COMMAND with stdout to $tmp/NAME.out
# and stderr to $tmp/NAME.err, or to /dev/null for a run over the whole
# stream (its log is large and writing it is not what is measured); set
# `elapsed' to its wall time in seconds.  Its exit status is not looked
# at: check judges the output.
run_timed ()
{
  name=$1; shift
  case $name in
    *1) err=$tmp/$name.err ;;
    *) err=/dev/null ;;
  esac
  t0=$(now_ns)
  "$@" > "$tmp/$name.out" 2> "$err" || :
  t1=$(now_ns)
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
}

# check NAME EXPECTED-LINES PATTERN: the output has one line per event
# and every line matches PATTERN.
check ()
{
  lines=$(wc -l < "$tmp/$1.out")
  good=$(grep -c -e "$3" "$tmp/$1.out" || true)
  if [ "$lines" -ne "$2" ] || [ "$good" -ne "$2" ]; then
    echo "throughput: $1 gave $good good results in $lines lines for $2" \
         "events; the first lines of its output:" >&2
    head -n 3 "$tmp/$1.out" >&2
    if [ -s "$tmp/$1.err" ]; then
      echo "and the end of its log:" >&2
      tail -n 5 "$tmp/$1.err" >&2
    fi
    return 1
  fi
}

awk -v n="$events" 'BEGIN {
  for (i = 1; i <= n; i++)
    printf "{\"id\": %d, \"name\": \"x\", \"items\": [1,2,3]}\n", i }' \
  > "$tmp/events.ndjson"
head -n 1 "$tmp/events.ndjson" > "$tmp/one.ndjson"

# Each runner: start-up (one event), then the whole stream.
# Results are kept as: NAME_start (s), NAME_total (s).

batch_ok='"status":"success","result":{"ok":true,"id":[0-9]*}'
floor_ok='^{"ok":true,"id":[0-9]*}$'

run_timed batch1 "$abs_top_builddir/pre-inst-env" guile-lambda batch \
  "$handler" "$tmp/one.ndjson"
check batch1 1 "$batch_ok"
batch_start=$elapsed
run_timed batch "$abs_top_builddir/pre-inst-env" guile-lambda batch \
  "$handler" "$tmp/events.ndjson"
check batch "$events" "$batch_ok"
batch_total=$elapsed

run_timed floor1 "$floor" "$handler" "$tmp/one.ndjson"
check floor1 1 "$floor_ok"
floor_start=$elapsed
run_timed floor "$floor" "$handler" "$tmp/events.ndjson"
check floor "$events" "$floor_ok"
floor_total=$elapsed

# lambda-local: optional.  Installed next to the build, so that a VPATH
# build leaves the source tree alone.
ll_skip=
if ! command -v "$NODE" > /dev/null 2>&1 || \
   ! command -v "$NPM" > /dev/null 2>&1; then
  ll_skip="node or npm not found"
else
  mkdir -p "$buildbench"
  if [ "$srcbench" != "$buildbench" ]; then
    cp "$srcbench/package.json" "$buildbench/package.json"
  fi
  installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$buildbench/node_modules/lambda-local/package.json" 2>/dev/null || true)
  if [ "$installed" != "$lambda_local_version" ]; then
    npm_status=0
    (cd "$buildbench" && "$NPM" install --no-audit --no-fund) \
      > "$tmp/npm.log" 2>&1 || npm_status=$?
    if [ $npm_status -ne 0 ]; then
      ll_skip="'npm install' in $buildbench failed with status $npm_status"
      tail -n 5 "$tmp/npm.log" >&2
    fi
  fi
fi

# The Node driver: the handler module is required once and passed as
# lambdaFunc, so every invocation is warm, as in guile-lambda batch
# (with lambdaPath, lambda-local would re-require it each time).
cat > "$tmp/lambda-local.js" <<'EOF'
const fs = require('fs');
const lambdaLocal = require(process.env.LL_MODULE);
const handler = require(process.env.LL_HANDLER);
const lines = fs.readFileSync(process.env.LL_EVENTS, 'utf8').split('\n');
(async () => {
  for (const line of lines) {
    if (line.trim() === '') continue;
    const result = await lambdaLocal.execute({
      event: JSON.parse(line), lambdaFunc: handler, lambdaHandler: 'handler',
      timeoutMs: 3000, verboseLevel: 0 });
    fs.writeSync(1, JSON.stringify(result) + '\n');
  }
})().catch((e) => { console.error(e); process.exit(1); });
EOF

if [ -z "$ll_skip" ]; then
  export LL_MODULE="$buildbench/node_modules/lambda-local"
  export LL_HANDLER="$srcbench/trivial.js"
  export LL_EVENTS="$tmp/one.ndjson"
  run_timed ll1 "$NODE" "$tmp/lambda-local.js"
  if check ll1 1 "$floor_ok"; then
    ll_start=$elapsed
    LL_EVENTS="$tmp/events.ndjson"
    run_timed ll "$NODE" "$tmp/lambda-local.js"
    if check ll "$events" "$floor_ok"; then
      ll_total=$elapsed
    else
      ll_skip="the run failed (see above)"
    fi
  else
    ll_skip="the run failed (see above)"
  fi
fi

# The table.  "whole" counts each process from exec to exit; "warm"
# leaves out the start-up measured with one event.
awk -v n="$events" -v skip="$ll_skip" -v llv="$lambda_local_version" \
    -v bs="$batch_start" -v bt="$batch_total" \
    -v fs="$floor_start" -v ft="$floor_total" \
    -v ls="${ll_start:-0}" -v lt="${ll_total:-0}" '
function row(name, s, t) {
  printf "  %-28s %9.1f %9.2f %12.0f %12s\n", name, s * 1000, t, \
    n / t, (t > s) ? sprintf("%.0f", (n - 1) / (t - s)) : "n/a"
}
# Invocations per second of batch over those of OTHER, whole and warm,
# and how many times slower or faster that makes batch.
function ratios(other, bt, bs, ot, os,    whole, warm) {
  whole = ot / bt
  warm = ot > os && bt > bs ? sprintf("%5.2f", (ot - os) / (bt - bs)) : "  n/a"
  printf "  batch / %-13s %5.2f whole, %s warm: batch is %s %s", \
    other ":", whole, warm, times(whole), other
}
function times(r) {
  return r < 1 ? sprintf("%.1fx slower than", 1 / r) \
               : sprintf("%.1fx faster than", r)
}
BEGIN {
  printf "throughput: %d events {\"id\": N, \"name\": \"x\", \"items\": [1,2,3]}, ", n
  printf "handler bench/trivial.scm (.js), one process per runner\n"
  printf "  %-28s %9s %9s %12s %12s\n", "runner", "start ms", "total s", \
    "inv/s whole", "inv/s warm"
  row("guile-lambda batch", bs, bt)
  row("floor (bench/floor.c)", fs, ft)
  if (skip == "")
    row("lambda-local " llv " (node)", ls, lt)
  else
    printf "  %-28s skipped: %s\n", "lambda-local " llv " (node)", skip
  ratios("floor", bt, bs, ft, fs)
  printf "\n  target: batch within 3x of the floor (whole process): %s\n", \
    bt / ft <= 3 ? "met" : "NOT met"
  if (skip == "") {
    ratios("lambda-local", bt, bs, lt, ls)
    printf "\n"
  }
}'
