#!/usr/bin/env bash
# Compares the VM with starlark-go (the reference's interpreter) and CPython on the
# programs in this folder; each is valid Starlark and Python 3 and prints its result,
# which must agree across the three. Reports the best of N runs (wall time, whole
# process) and the geometric means of the ratios.
#
#   tests/bench/vm/run.sh [N]        (default N=5)
#
# Builds starlark-go with ../shared/anchors/build-starlark-go.sh when it is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
runs=${1:-5}
faultbox=$root/build/faultbox
starlark_go=${STARLARK_GO:-/tmp/starlark-go-run}
anchor=$root/../shared/anchors/build-starlark-go.sh
[ -x "$starlark_go" ] || bash "$anchor" "$starlark_go" >/dev/null
python=$(command -v python3)

best_ms() {  # best wall time of $runs runs of "$@", in milliseconds
  local best=999999999 s e t
  for _ in $(seq "$runs"); do
    s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N)
    t=$(( (e - s) / 1000000 )); [ "$t" -lt "$best" ] && best=$t
  done
  echo "$best"
}

printf "%-22s %10s %12s %10s %10s %10s\n" program faultbox starlark-go cpython "vs go" "vs py"
sum_go=0; sum_py=0; n=0
for f in "$root"/tests/bench/vm/*.star; do
  name=$(basename "$f" .star)
  a=$("$faultbox" eval "$f"); b=$("$starlark_go" "$f"); c=$("$python" "$f")
  if [ "$a" != "$b" ] || [ "$a" != "$c" ]; then
    echo "$name: results differ: faultbox=$a starlark-go=$b cpython=$c" >&2; exit 1
  fi
  fb=$(best_ms "$faultbox" eval "$f"); go=$(best_ms "$starlark_go" "$f"); py=$(best_ms "$python" "$f")
  rg=$(awk -v a="$go" -v b="$fb" 'BEGIN{printf "%.2f", a/b}')
  rp=$(awk -v a="$py" -v b="$fb" 'BEGIN{printf "%.2f", a/b}')
  printf "%-22s %8dms %10dms %8dms %9sx %9sx\n" "$name" "$fb" "$go" "$py" "$rg" "$rp"
  sum_go=$(awk -v s="$sum_go" -v r="$rg" 'BEGIN{print s + log(r)}')
  sum_py=$(awk -v s="$sum_py" -v r="$rp" 'BEGIN{print s + log(r)}')
  n=$((n + 1))
done
awk -v g="$sum_go" -v p="$sum_py" -v n="$n" 'BEGIN{printf "geometric mean: %.2fx starlark-go, %.2fx cpython (above 1 = faultbox faster)\n", exp(g/n), exp(p/n)}'
