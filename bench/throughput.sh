#!/bin/sh
# bench/throughput.sh: invocations per second of a trivial handler
# (bench/trivial.scm) through one warm `guile-lambda batch', in-process
# (--isolation none) and isolated (through the supervisor, with 1 and
# with 2 containers), against
#  - the floor, bench/floor: Guile and our JSON codec with nothing else,
#  - the guarded floor, bench/floor --guarded: the same, each call made
#    through the guards DESIGN.md requires of every call into a handler
#    (what no engine that keeps its guarantees can do without),
#  - lambda-local (npm) running bench/trivial.js in one Node process,
# and shows the ceiling of isolated batch, timed by bench/roundtrip.c:
# one loopback round trip per event alone, then runtimes that do the
# guarded floor's work per event and nothing else (one, and two at
# once): no supervisor and containers can do better on this machine.
# Each runner is timed once, as a whole process (start-up included), on
# the same NDJSON file; a run with one event gives the start-up time
# (for isolated batch, that of the supervisor and a cold container), so
# that "warm" leaves it out.
# Run it with `make bench' (or `make bench-throughput'), which sets
# abs_top_srcdir, abs_top_builddir, NODE and NPM.
# BENCH_EVENTS=N changes the number of events of the floor and
# in-process batch (default 100000: enough that the floor's warm time is
# not lost in its start-up); BENCH_ISOLATED_EVENTS=N that of isolated
# batch and lambda-local (default 20000), slower by a loopback round
# trip or Node's promise machinery per event.
# BENCH_REPEAT=N (default 3) times each run and keeps the fastest, as
# the machine may be shared: what is measured is what the code can do,
# not what the neighbours took.
# lambda-local is installed by npm outside the tree, in
# BENCH_NPM_DIR (default ~/.cache/guile-lambda-bench).

set -eu

: "${abs_top_srcdir:?run me through make bench}"
: "${abs_top_builddir:?run me through make bench}"
NODE=${NODE:-node}
NPM=${NPM:-npm}
events=${BENCH_EVENTS:-100000}
slow_events=${BENCH_ISOLATED_EVENTS:-20000}
repeat=${BENCH_REPEAT:-3}
npm_dir=${BENCH_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/guile-lambda-bench}

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

# run_timed NAME COMMAND...: run COMMAND BENCH_REPEAT times with stdout
# to $tmp/NAME.out and stderr to $tmp/NAME.err, or to /dev/null for a
# run over the whole stream (its log is large and writing it is not
# what is measured); set `elapsed' to the fastest wall time in seconds.
# Its exit status is not looked at: check judges the output.
run_timed ()
{
  name=$1; shift
  case $name in
    *_one) err=$tmp/$name.err ;;
    *) err=/dev/null ;;
  esac
  best=
  for _ in $(seq "$repeat"); do
    t0=$(now_ns)
    "$@" > "$tmp/$name.out" 2> "$err" || :
    t1=$(now_ns)
    if [ -z "$best" ] || [ $((t1 - t0)) -lt "$best" ]; then
      best=$((t1 - t0))
    fi
  done
  elapsed=$(awk -v d="$best" 'BEGIN { printf "%.6f", d / 1e9 }')
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

most=$events
if [ "$slow_events" -gt "$most" ]; then most=$slow_events; fi
awk -v n="$most" 'BEGIN {
  for (i = 1; i <= n; i++)
    printf "{\"id\": %d, \"name\": \"x\", \"items\": [1,2,3]}\n", i }' \
  > "$tmp/all.ndjson"
head -n 1 "$tmp/all.ndjson" > "$tmp/one.ndjson"
head -n "$events" "$tmp/all.ndjson" > "$tmp/fast.ndjson"
head -n "$slow_events" "$tmp/all.ndjson" > "$tmp/slow.ndjson"

batch_ok='"status":"success","result":{"ok":true,"id":[0-9]*}'
floor_ok='^{"ok":true,"id":[0-9]*}$'

# The runners, each given the events' file.
run_floor () { "$floor" "$handler" "$1"; }
run_guarded ()
{
  "$abs_top_builddir/pre-inst-env" "$floor" --guarded "$handler" "$1"
}
run_inproc ()
{
  "$abs_top_builddir/pre-inst-env" guile-lambda batch --isolation none \
    "$handler" "$1"
}
run_iso1 ()
{
  "$abs_top_builddir/pre-inst-env" guile-lambda batch "$handler" "$1"
}
run_iso2 ()
{
  "$abs_top_builddir/pre-inst-env" guile-lambda batch --concurrency 2 \
    "$handler" "$1"
}
run_ll () { LL_EVENTS=$1 "$NODE" "$tmp/lambda-local.js"; }

# measure KEY fast|slow PATTERN: start-up (one event), then the whole
# stream of BENCH_EVENTS (fast) or BENCH_ISOLATED_EVENTS (slow) events,
# through run_KEY.  Sets KEY_start, KEY_total (seconds) and KEY_n.
measure ()
{
  if [ "$2" = fast ]; then n=$events; else n=$slow_events; fi
  run_timed "$1_one" "run_$1" "$tmp/one.ndjson"
  check "$1_one" 1 "$3" || return 1
  eval "$1_start=\$elapsed"
  run_timed "$1" "run_$1" "$tmp/$2.ndjson"
  check "$1" "$n" "$3" || return 1
  eval "$1_total=\$elapsed; $1_n=\$n"
}

measure floor fast "$floor_ok"
measure guarded fast "$floor_ok"

# The ceiling: microseconds per loopback round trip, bare, and with the
# guarded floor's time per event (warm) as the runtimes' work, the
# fastest of BENCH_REPEAT runs each.
work_us=$(awk -v n="$guarded_n" -v s="$guarded_start" -v t="$guarded_total" \
  'BEGIN { printf "%.3f", (t > s ? (t - s) / (n - 1) * 1e6 : 0) }')
rt_block=; rt_poll=; rt_one=; rt_two=
least () { awk -v a="$1" -v b="${2:-$1}" 'BEGIN { print (a < b ? a : b) }'; }
for _ in $(seq "$repeat"); do
  "$buildbench/roundtrip" "$slow_events" "$work_us" > "$tmp/roundtrip.out" \
    || exit 1
  rt_block=$(least "$(sed -n 's/^blocking //p' "$tmp/roundtrip.out")" "$rt_block")
  rt_poll=$(least "$(sed -n 's/^polling //p' "$tmp/roundtrip.out")" "$rt_poll")
  rt_one=$(least "$(sed -n 's/^one //p' "$tmp/roundtrip.out")" "$rt_one")
  rt_two=$(least "$(sed -n 's/^two //p' "$tmp/roundtrip.out")" "$rt_two")
done

measure inproc fast "$batch_ok"
measure iso1 slow "$batch_ok"
measure iso2 slow "$batch_ok"

# lambda-local: optional.  npm installs it outside the source and build
# trees, in a cache that outlives them (BENCH_NPM_DIR).
ll_skip=
if ! command -v "$NODE" > /dev/null 2>&1 || \
   ! command -v "$NPM" > /dev/null 2>&1; then
  ll_skip="node or npm not found"
else
  installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$npm_dir/node_modules/lambda-local/package.json" 2>/dev/null || true)
  if [ "$installed" != "$lambda_local_version" ]; then
    npm_status=0
    { mkdir -p "$npm_dir" \
        && cp "$srcbench/package.json" "$npm_dir/package.json" \
        && (cd "$npm_dir" && "$NPM" install --no-audit --no-fund); } \
      > "$tmp/npm.log" 2>&1 || npm_status=$?
    if [ $npm_status -ne 0 ]; then
      ll_skip="'npm install' in $npm_dir failed with status $npm_status"
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
  export LL_MODULE="$npm_dir/node_modules/lambda-local"
  export LL_HANDLER="$srcbench/trivial.js"
  measure ll slow "$floor_ok" || ll_skip="the run failed (see above)"
fi

# The table.  "whole" counts each process from exec to exit; "warm"
# leaves out the start-up measured with one event (for isolated batch,
# that of the supervisor and of a cold container).  The ratios are of
# warm rates, so runners given different numbers of events compare.
awk -v skip="$ll_skip" -v llv="$lambda_local_version" -v repeat="$repeat" \
    -v fn="$floor_n" -v fs="$floor_start" -v ft="$floor_total" \
    -v gn="$guarded_n" -v gs="$guarded_start" -v gt="$guarded_total" \
    -v bn="$inproc_n" -v bs="$inproc_start" -v bt="$inproc_total" \
    -v i1n="$iso1_n" -v i1s="$iso1_start" -v i1t="$iso1_total" \
    -v i2n="$iso2_n" -v i2s="$iso2_start" -v i2t="$iso2_total" \
    -v ln="${ll_n:-0}" -v ls="${ll_start:-0}" -v lt="${ll_total:-0}" \
    -v rtb="$rt_block" -v rtp="$rt_poll" -v rt1="$rt_one" -v rt2="$rt_two" \
    -v work="$work_us" '
function warm(n, s, t) { return t > s ? (n - 1) / (t - s) : 0 }
function row(name, n, s, t,    w) {
  w = warm(n, s, t)
  printf "  %-30s %7d %9.1f %8.2f %11.0f %11s\n", name, n, s * 1000, t, \
    n / t, ((w > 0) ? sprintf("%.0f", w) : "n/a")
}
function times(r) {
  return r < 1 ? sprintf("%.1fx slower than", 1 / r) \
               : sprintf("%.1fx faster than", r)
}
# A over B, warm invocations per second; 0 where one is unknown.
function ratio(a, b, wa, wb,    r) {
  if (wa <= 0 || wb <= 0) {
    printf "  %-30s    n/a\n", a " / " b ":"
    return 0
  }
  r = wa / wb
  printf "  %-30s %6.2f  %s %s\n", a " / " b ":", r, times(r), b
  return r
}
BEGIN {
  printf "throughput: events {\"id\": N, \"name\": \"x\", \"items\": [1,2,3]}, "
  printf "handler bench/trivial.scm (.js), one process per runner, "
  printf "fastest of %d\n", repeat
  printf "  %-30s %7s %9s %8s %11s %11s\n", "runner", "events", "start ms", \
    "total s", "inv/s whole", "inv/s warm"
  row("floor (bench/floor.c)", fn, fs, ft)
  row("floor --guarded", gn, gs, gt)
  row("batch --isolation none", bn, bs, bt)
  row("batch, 1 container", i1n, i1s, i1t)
  row("batch --concurrency 2", i2n, i2s, i2t)
  if (skip == "")
    row("lambda-local " llv " (node)", ln, ls, lt)
  else
    printf "  %-30s skipped: %s\n", "lambda-local " llv " (node)", skip
  wf = warm(fn, fs, ft); wg = warm(gn, gs, gt); wb = warm(bn, bs, bt)
  w1 = warm(i1n, i1s, i1t); w2 = warm(i2n, i2s, i2t)
  wl = skip == "" ? warm(ln, ls, lt) : 0
  printf "ratios of warm inv/s:\n"
  ratio("in-process", "floor", wb, wf)
  ratio("guarded floor", "floor", wg, wf)
  ratio("in-process", "guarded floor", wb, wg)
  ratio("in-process", "isolated(1)", wb, w1)
  ratio("in-process", "isolated(2)", wb, w2)
  ratio("isolated(2)", "isolated(1)", w2, w1)
  if (skip == "") {
    ratio("in-process", "lambda-local", wb, wl)
    r1 = ratio("isolated(1)", "lambda-local", w1, wl)
    r2 = ratio("isolated(2)", "lambda-local", w2, wl)
  }
  printf "ceiling of isolated batch, one loopback round trip per event "
  printf "(bench/roundtrip.c):\n"
  printf "  %-30s %8.2f us  %9.0f /s\n", "both sides blocking", rtb, 1e6 / rtb
  printf "  %-30s %8.2f us  %9.0f /s\n", "both sides polling first", rtp, \
    1e6 / rtp
  rt = rtb < rtp ? rtb : rtp
  ratio("isolated(1)", "round-trip ceiling", w1, 1e6 / rt)
  printf "  runtimes that do the guarded floor\x27s work (%.2f us per " \
    "event) and nothing else:\n", work
  printf "  %-30s %8.2f us  %9.0f /s\n", "one runtime", rt1, 1e6 / rt1
  printf "  %-30s %8.2f us  %9.0f /s\n", "two runtimes at once", rt2, \
    1e6 / rt2
  if (skip == "") {
    c1 = ratio("ceiling(1)", "lambda-local", 1e6 / rt1, wl)
    c2 = ratio("ceiling(2)", "lambda-local", 1e6 / rt2, wl)
    printf "  10x lambda-local is %.0f inv/s: %.1f us per event for all " \
      "of it, the bare round trip included\n", 10 * wl, 1e5 / wl
  }
  printf "targets:\n"
  printf "  in-process within 1.5x of the floor, whole process (%.2fx): %s\n", \
    bt / ft, ((bt / ft <= 1.5) ? "met" : "NOT met")
  printf "    the guards alone, whole process: the guarded floor takes " \
    "%.2fx the time of the floor%s\n", gt / ft, \
    ((gt / ft > 1.5) ? ", beyond 1.5x before anything else is done" : "")
  if (skip == "") {
    printf "  isolated(1) and isolated(2) at least 10x lambda-local " \
      "(%.1fx, %.1fx): %s\n", r1, r2, \
      ((r1 >= 10 && r2 >= 10) ? "met" : "NOT met")
    printf "    the ceilings on this machine: %.1fx with one container, " \
      "%.1fx with two%s\n", c1, c2, \
      ((c1 < 10 && c2 < 10) ? ", both below 10x" : "")
  }
}'
