#!/usr/bin/env bash
# How long `faultbox plan --check-cost` takes to count and gate a spec whose leaves are
# far too many to enumerate: counting must cost time in the number of axes, not leaves.
#
#   tests/bench/plan/run.sh [TESTS]     (default 200 tests of 10^13 leaves each: 12 axes
#                                       of 10 options in the body, 1 at the top level)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
tests=${1:-200}
faultbox=$root/build/faultbox
[ -x "$faultbox" ] || { echo "missing $faultbox: build first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  # One top-level choice, an axis of every test: 10^13 leaves a test in all.
  echo 'MODE = choose("mode", list(range(10)))'
  for t in $(seq "$tests"); do
    echo "def test_$t():"
    for a in $(seq 12); do echo "    choose(\"a$a\", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"; done
  done
} > "$work/faultbox.star"
best=999999
for run in 1 2 3; do
  start=$(date +%s%N)
  set +e
  "$faultbox" plan "$work/faultbox.star" --check-cost --max-instances 1000 > "$work/plan.txt" 2> "$work/err.txt"
  code=$?
  set -e
  end=$(date +%s%N)
  [ "$code" = 2 ] || { echo "expected the gate to fail (exit 2), got $code" >&2; cat "$work/err.txt"; exit 1; }
  ms=$(( (end - start) / 1000000 ))
  [ "$ms" -lt "$best" ] && best=$ms
done
echo "tests: $tests x 10^13 leaves   axes: $((tests * 12)) + 1 top-level   spec lines: $(wc -l < "$work/faultbox.star")"
grep '^Total' "$work/plan.txt"
echo "faultbox plan --check-cost: best of 3 ${best} ms (load, compile, top level, count, render)"
