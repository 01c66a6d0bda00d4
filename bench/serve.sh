#!/bin/sh
# bench/serve.sh: requests per second and latency (p50, p99) of
# `guile-lambda serve' running bench/trivial.scm in 2 containers, under
# wrk at 2 and at 16 connections, against the floor in the same run:
# bench/serve-floor.js, a Node `http' server that parses the JSON body
# and answers it.  Prints each measure and the ratios to the floor, and
# whether the targets hold: at least half the floor's requests/s, and a
# p99 under 5 ms at 2 connections.
# The machine may be shared: serve and the floor take turns, each
# measure is taken BENCH_SERVE_RUNS times (default 3), and the best of
# each is kept (most requests/s, least p50 and p99), so that a burst of
# someone else's load spoils one run, not the comparison.
# Run it with `make bench' (or `make bench-serve'), which sets
# abs_top_srcdir, abs_top_builddir and NODE.  BENCH_SERVE_SECONDS=N
# changes the length of each wrk run (default 3).

set -eu

: "${abs_top_srcdir:?run me through make bench}"
: "${abs_top_builddir:?run me through make bench}"
NODE=${NODE:-node}
seconds=${BENCH_SERVE_SECONDS:-3}
runs=${BENCH_SERVE_RUNS:-3}
srcbench=$abs_top_srcdir/bench

if ! command -v wrk > /dev/null 2>&1; then
  echo "serve bench: skipped: wrk is not installed (Debian: apt-get install wrk)"
  exit 0
fi
if ! command -v "$NODE" > /dev/null 2>&1; then
  echo "serve bench: skipped: node is not installed, and it is the floor"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gl-serve-bench.XXXXXX")
serve_pid=
floor_pid=
cleanup ()
{
  [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || :
  [ -z "$floor_pid" ] || kill "$floor_pid" 2>/dev/null || :
  wait 2>/dev/null || :
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (10 s).
wait_for ()
{
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
      echo "serve bench: nothing matching '$2' in $1 after 10 s:" >&2
      cat "$1" >&2
      exit 1
    fi
    sleep 0.1
  done
}

"$abs_top_builddir/pre-inst-env" guile-lambda serve "$srcbench/trivial.scm" \
  --concurrency 2 --port 0 2> "$tmp/serve.log" &
serve_pid=$!
wait_for "$tmp/serve.log" 'serving the Lambda Invoke API on http://'
serve_port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$tmp/serve.log" | head -n 1)
serve_url=http://127.0.0.1:$serve_port/2015-03-31/functions/trivial/invocations

"$NODE" "$srcbench/serve-floor.js" > "$tmp/floor.port" &
floor_pid=$!
wait_for "$tmp/floor.port" '^[0-9]'
floor_url=http://127.0.0.1:$(head -n 1 "$tmp/floor.port")/

# Both answer right, or the numbers mean nothing.
for url in "$serve_url" "$floor_url"; do
  answer=$(curl -s -d '{"id":42}' "$url")
  case $answer in
    *'"id":42'*) ;;
    *) echo "serve bench: $url answered '$answer', not the event's id" >&2
       exit 1 ;;
  esac
done

# wrk writes 812.00us, 1.20ms or 2.00s: in ms.
ms ()
{
  echo "$1" | awk '{ v = $1 + 0
    if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[^m]s$/) v *= 1000
    printf "%.3f", v }'
}

# measure NAME URL CONNECTIONS: one warm-up second, then one run; adds
# its requests/s, p50 and p99 (ms), from wrk's --latency report, as a
# line of $tmp/NAME-CONNECTIONS.runs.
measure ()
{
  threads=$(( $3 < 2 ? $3 : 2 ))
  wrk -t "$threads" -c "$3" -d 1s -s "$srcbench/serve-post.lua" "$2" > /dev/null
  wrk -t "$threads" -c "$3" -d "${seconds}s" --latency \
    -s "$srcbench/serve-post.lua" "$2" > "$tmp/$1-$3.txt"
  errors=$(awk '/Non-2xx|Socket errors/' "$tmp/$1-$3.txt")
  if [ -n "$errors" ]; then
    echo "serve bench: $1 at $3 connections: $errors" >&2
    exit 1
  fi
  echo "$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/$1-$3.txt")" \
    "$(ms "$(awk '$1 == "50%" { print $2 }' "$tmp/$1-$3.txt")")" \
    "$(ms "$(awk '$1 == "99%" { print $2 }' "$tmp/$1-$3.txt")")" \
    >> "$tmp/$1-$3.runs"
}

# best NAME CONNECTIONS: sets rps, p50 and p99, each the best of the runs.
best ()
{
  set -- $(awk 'NR == 1 || $1 > r { r = $1 } NR == 1 || $2 < a { a = $2 }
                NR == 1 || $3 < b { b = $3 } END { print r, a, b }' \
             "$tmp/$1-$2.runs")
  rps=$1 p50=$2 p99=$3
}

echo "serve bench: bench/trivial.scm, 2 containers; wrk, best of $runs runs of ${seconds} s each"
printf '%-28s %12s %10s %10s\n' "" "requests/s" "p50 ms" "p99 ms"
for c in 2 16; do
  i=0
  while [ $i -lt "$runs" ]; do
    measure serve "$serve_url" $c
    measure floor "$floor_url" $c
    i=$((i + 1))
  done
  best serve $c
  s_rps=$rps; s_p50=$p50; s_p99=$p99
  best floor $c
  f_rps=$rps; f_p50=$p50; f_p99=$p99
  printf '%-28s %12s %10s %10s\n' "serve, $c connections" "$s_rps" "$s_p50" "$s_p99"
  printf '%-28s %12s %10s %10s\n' "floor (Node), $c connections" "$f_rps" "$f_p50" "$f_p99"
  ratio=$(awk -v a="$s_rps" -v b="$f_rps" 'BEGIN { printf "%.2f", a / b }')
  echo "  serve / floor requests/s at $c connections: $ratio"
  if [ $c = 2 ]; then
    ratio2=$ratio
    p99_2=$s_p99
  fi
done

verdict=$(awk -v r="$ratio2" -v p="$p99_2" 'BEGIN {
  print (r >= 0.5 ? "met" : "NOT met") " (requests/s at least half the floor: " r ")";
  print (p < 5 ? "met" : "NOT met") " (p99 under 5 ms at 2 connections: " p " ms)" }')
echo "targets at 2 connections:"
echo "$verdict" | sed 's/^/  /'
