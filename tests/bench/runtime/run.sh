#!/usr/bin/env bash
# Per-syscall cost of the runtime, side by side on this machine, in one run. Two loops
# in tests/suts/probe time themselves (start-up is not counted) and print ns/call:
# `spin` calls getppid (a syscall about no file), `loop` pwrites one byte to a file.
#
#   native        no filter at all
#   untrapped     pwrite under faultbox with a filter that traps another syscall (fsync):
#                 allowed in the kernel, it should cost nothing extra
#   minimal C     trapped and answered by tests/bench/runtime/min_supervisor.c: a
#                 blocking RECV / SEND CONTINUE loop with sync wake-up, nothing else
#   min C+path    the same, also naming the fd's file through /proc and checking
#                 ID_VALID: the least any supervisor does to decide a rule on a path
#   fb rule       faultbox deciding getppid against a rule that never fires (after=N),
#                 with nobody reading events (so none is built). Compared with minimal C.
#   fb rule+ev    the same with every event written as JSON lines. Compared with
#                 minimal C.
#   fb glob       faultbox deciding pwrite against a path-glob rule that does not match.
#                 Compared with min C+path.
#   fb glob+ev    the same with every event written as JSON lines (so every path
#                 resolved). Compared with min C+path.
#   strace        strace --seccomp-bpf -e inject= on pwrite, at a call that never
#                 comes: the ptrace-based peer. Compared with min C+path.
#
# Each figure is the best of RUNS runs.   tests/bench/runtime/run.sh [RUNS] [CALLS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
runs=${1:-5}
calls=${2:-100000}
faultbox=$root/build/faultbox
probe=$root/build/tests/suts/sut_probe
minimal=$root/build/tests/bench/min_supervisor
for tool in "$faultbox" "$probe" "$minimal"; do
  [ -x "$tool" ] || { echo "missing $tool: build first (cmake --build build)" >&2; exit 1; }
done
command -v strace >/dev/null || { echo "strace is missing: apt-get install strace" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target=$work/loop.dat
number() { awk -v name="FB_SYSCALL($1," '$1 == name {gsub(/\)/, "", $2); print $2}' \
  "$root/runtime/syscalls_x86_64.def"; }
pwrite_nr=$(number pwrite64)
getppid_nr=$(number getppid)

best() {  # best ns/call over $runs runs of "$@"
  local best="" v
  for _ in $(seq "$runs"); do
    v=$("$@" 2>/dev/null | awk '/ns\/call/ {print $1}' | tail -1)
    [ -n "$v" ] || { echo "no figure from: $*" >&2; exit 1; }
    if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$v; fi
  done
  echo "$best"
}

spin=("$probe" spin "$calls")
loop=("$probe" loop "$calls" "$target")
native_spin=$(best "${spin[@]}")
native_loop=$(best "${loop[@]}")
untrapped=$(best "$faultbox" run --fault 'fsync=EIO' -- "${loop[@]}")
min_c=$(best "$minimal" "$getppid_nr" "${spin[@]}")
min_path=$(best "$minimal" --path "$pwrite_nr" "${loop[@]}")
fb_rule=$(best "$faultbox" run --fault "getppid=EIO:after=4000000000" -- "${spin[@]}")
fb_rule_events=$(best "$faultbox" run --fault "getppid=EIO:after=4000000000" \
  --events "$work/events" -- "${spin[@]}")
fb_glob=$(best "$faultbox" run --fault "pwrite64=EIO:/nonexistent/**" -- "${loop[@]}")
fb_events=$(best "$faultbox" run --fault "pwrite64=EIO:/nonexistent/**" --events "$work/events" \
  -- "${loop[@]}")
# strace counts injection steps up to 65535 only: it gets at most 60000 calls.
strace_calls=$(( calls < 60000 ? calls : 60000 ))
strace_ns=$(best strace -qq -f --seccomp-bpf -o /dev/null -e trace=pwrite64 \
  -e "inject=pwrite64:error=EIO:when=65535" "$probe" loop "$strace_calls" "$target")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
printf "%-12s %-7s %10s  %s\n" case syscall "ns/call" "ratio"
printf "%-12s %-7s %10s\n" native getppid "$native_spin"
printf "%-12s %-7s %10s\n" native pwrite "$native_loop"
printf "%-12s %-7s %10s  %s native\n" untrapped pwrite "$untrapped" "$(ratio "$untrapped" "$native_loop")"
printf "%-12s %-7s %10s\n" "minimal C" getppid "$min_c"
printf "%-12s %-7s %10s\n" "min C+path" pwrite "$min_path"
printf "%-12s %-7s %10s  %s minimal C\n" "fb rule" getppid "$fb_rule" "$(ratio "$fb_rule" "$min_c")"
printf "%-12s %-7s %10s  %s minimal C\n" "fb rule+ev" getppid "$fb_rule_events" \
  "$(ratio "$fb_rule_events" "$min_c")"
printf "%-12s %-7s %10s  %s min C+path\n" "fb glob" pwrite "$fb_glob" "$(ratio "$fb_glob" "$min_path")"
printf "%-12s %-7s %10s  %s min C+path\n" "fb glob+ev" pwrite "$fb_events" "$(ratio "$fb_events" "$min_path")"
printf "%-12s %-7s %10s  %s min C+path\n" strace pwrite "$strace_ns" "$(ratio "$strace_ns" "$min_path")"
