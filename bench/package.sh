#!/bin/sh
# bench/package.sh: what `guile-lambda package' costs a function.  It
# packages examples/hello.scm, prints the zip's size part by part, and
# measures cold starts in one run:
#  - the packaged hello: its Init Duration as the supervisor reports it
#    (from the container's spawn to its first `next'), the zip unpacked
#    and its bootstrap started with `env -i' and Lambda's variables only;
#  - the tree's own `guile-lambda bootstrap' with the same handler,
#    which compiles the handler when it loads it;
#  - `guile -c 1', a whole process that boots Guile and exits: the floor.
# Each is the median of BENCH_PACKAGE_RUNS cold starts (default 10).
# Run it with `make bench' (or `make bench-package'), which sets
# abs_top_srcdir, abs_top_builddir and GUILE.

set -eu

: "${abs_top_srcdir:?run me through make bench}"
: "${abs_top_builddir:?run me through make bench}"
GUILE=${GUILE:-guile}
runs=${BENCH_PACKAGE_RUNS:-10}
gl="$abs_top_builddir/pre-inst-env guile-lambda"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gl-bench-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

mkdir "$tmp/src" "$tmp/task"
cp "$abs_top_srcdir/examples/hello.scm" "$tmp/src/"
$gl package "$tmp/src" -o "$tmp/hello.zip" > "$tmp/package.out"
(cd "$tmp/task" && unzip -q "$tmp/hello.zip")

median ()
{
  sort -n "$1" | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "n/a";
          else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# init_ms FILE HANDLER [batch options]: one cold start through the
# supervisor; its initDurationMs goes to FILE.
init_ms ()
{
  out=$1; handler=$2; shift 2
  echo '{"name":"bench"}' | $gl batch "$handler" "$@" 2> "$tmp/err" \
    > "$tmp/record" || :
  ms=$(sed -n 's/.*"initDurationMs":\([0-9.]*\).*/\1/p' "$tmp/record")
  if [ -z "$ms" ] || ! grep -q '"status":"success"' "$tmp/record"; then
    echo "package bench: the cold start of $handler failed:" >&2
    cat "$tmp/record" >&2
    tail -n 5 "$tmp/err" >&2
    exit 1
  fi
  echo "$ms" >> "$out"
}

packaged_command="exec env -i AWS_LAMBDA_RUNTIME_API=\"\$AWS_LAMBDA_RUNTIME_API\" \
_HANDLER=\"\$_HANDLER\" AWS_LAMBDA_FUNCTION_NAME=\"\$AWS_LAMBDA_FUNCTION_NAME\" \
LAMBDA_TASK_ROOT=$tmp/task $tmp/task/bootstrap"

i=0
while [ $i -lt "$runs" ]; do
  LAMBDA_TASK_ROOT=$tmp/task init_ms "$tmp/packaged.ms" hello.handler \
    --runtime-command "$packaged_command"
  init_ms "$tmp/tree.ms" "$abs_top_srcdir/examples/hello.scm"
  t0=$(date +%s%N)
  "$GUILE" -c 1
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) / 1e6 }' \
    >> "$tmp/guile.ms"
  i=$((i + 1))
done

packaged=$(median "$tmp/packaged.ms")
tree=$(median "$tmp/tree.ms")
floor=$(median "$tmp/guile.ms")

echo "package: examples/hello.scm as a provided.al2023 zip, median of $runs cold starts"
sed 's/^/  /' "$tmp/package.out"
awk -v p="$packaged" -v t="$tree" -v f="$floor" 'BEGIN {
  printf "  %-58s %9s\n", "cold start", "median ms"
  printf "  %-58s %9.1f\n", "packaged hello, Init Duration (zip unpacked, env -i)", p
  printf "  %-58s %9.1f\n", "the tree'"'"'s bootstrap, handler compiled as it loads", t
  printf "  %-58s %9.1f\n", "guile -c 1, the whole process", f
  printf "ratios:\n"
  printf "  %-40s %6.2f\n", "packaged init / guile -c 1:", p / f
  printf "  %-40s %6.2f\n", "packaged init / compiled as it loads:", p / t
}'
