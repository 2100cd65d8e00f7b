#!/usr/bin/env bash
# Per-test overhead of `faultbox test`: a spec with one HTTP service (tests/suts/probe,
# with an http() healthcheck) and N tests that each make one step. Every test starts
# the service, waits for its healthcheck, runs, and stops it, so the wall time per test
# is the overhead plus the program's own start-up and one request. Budget: under 50 ms.
#
#   tests/bench/test_overhead/run.sh [N]      (default 50)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
n=${1:-50}
faultbox=$root/build/faultbox
probe=$root/build/tests/suts/sut_probe
for tool in "$faultbox" "$probe"; do
  [ -x "$tool" ] || { echo "missing $tool: build first (cmake --build build)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "web = service('web', '$probe', interface('main', 'http', 18299),"
  echo "              args = ['http', '18299'], healthcheck = http('localhost:18299/health'))"
  for i in $(seq -w "$n"); do
    echo "def test_$i():"
    echo "    assert_true(web.main.get(path = '/').ok)"
  done
} > "$work/faultbox.star"
start=$(date +%s%N)
(cd "$work" && "$faultbox" test --seed 1 > report.txt)
end=$(date +%s%N)
grep -q "^$n passed, 0 failed" "$work/report.txt" || { cat "$work/report.txt"; exit 1; }
wall_ms=$(( (end - start) / 1000000 ))
# Each report line says how long its test took, services included.
mean=$(awk '/^PASS/ {gsub(/\(/, "", $3); s += $3; c++} END {printf "%.1f", s / c}' "$work/report.txt")
max=$(awk '/^PASS/ {gsub(/\(/, "", $3); if ($3 > m) m = $3} END {print m}' "$work/report.txt")
echo "tests: $n   whole run: ${wall_ms} ms   per test: $(awk -v w="$wall_ms" -v n="$n" 'BEGIN{printf "%.1f", w / n}') ms"
echo "per test as reported (start + ready + body + stop): mean ${mean} ms, max ${max} ms"
