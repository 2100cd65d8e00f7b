#!/usr/bin/env bash
# Per-syscall cost of the runtime, side by side on this machine, in one run:
#
#   native       the probe's pwrite loop with no filter at all
#   untrapped    under faultbox with a filter that traps another syscall (fsync):
#                pwrite64 is allowed in the kernel and should cost nothing extra
#   minimal C    trapped, answered by tests/bench/runtime/min_supervisor.c (RECV and
#                SEND CONTINUE, sync wake-up, nothing else): the floor for user-space
#                decisions
#   min C+path   the same, also naming the fd's file through /proc and checking
#                ID_VALID: the floor for deciding a rule with a path glob
#   fb rule      faultbox deciding a rule that needs no path (after=N, never reached):
#                rule matching and an event per call; compared with minimal C
#   fb glob      faultbox deciding a path-glob rule that does not match; compared with
#                min C+path
#   fb glob+ev   the same with every event written as JSON lines (and so every path
#                resolved); compared with min C+path
#   strace       strace --seccomp-bpf -e inject=pwrite64 on a call that never comes:
#                the ptrace-based peer
#
# The probe times its own loop (so start-up is not counted) and prints ns/call; each
# figure is the best of N runs.   tests/bench/runtime/run.sh [N] [CALLS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
runs=${1:-5}
calls=${2:-200000}
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
nr=$(awk '$1 == "FB_SYSCALL(pwrite64," {gsub(/\)/, "", $2); print $2}' \
  "$root/runtime/syscalls_x86_64.def")
nr=${nr:-18}

best() {  # best ns/call over $runs runs of "$@"
  local best="" v
  for _ in $(seq "$runs"); do
    v=$("$@" 2>/dev/null | awk '/ns\/call/ {print $1}' | tail -1)
    [ -n "$v" ] || { echo "no figure from: $*" >&2; exit 1; }
    if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$v; fi
  done
  echo "$best"
}

native=$(best "$probe" loop "$calls" "$target")
untrapped=$(best "$faultbox" run --fault 'fsync=EIO' -- "$probe" loop "$calls" "$target")
min_c=$(best "$minimal" "$nr" "$probe" loop "$calls" "$target")
min_path=$(best "$minimal" --path "$nr" "$probe" loop "$calls" "$target")
fb_rule=$(best "$faultbox" run --fault "pwrite64=EIO:after=4000000000" -- "$probe" loop "$calls" "$target")
fb_glob=$(best "$faultbox" run --fault "pwrite64=EIO:/nonexistent/**" -- "$probe" loop "$calls" "$target")
fb_events=$(best "$faultbox" run --fault "pwrite64=EIO:/nonexistent/**" --events "$work/events" \
  -- "$probe" loop "$calls" "$target")
# strace counts injection steps up to 65535 only: it gets at most 60000 calls.
strace_calls=$(( calls < 60000 ? calls : 60000 ))
strace_ns=$(best strace -qq -f --seccomp-bpf -o /dev/null -e trace=pwrite64 \
  -e "inject=pwrite64:error=EIO:when=65535" "$probe" loop "$strace_calls" "$target")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
printf "%-12s %12s  %s\n" case "ns/call" "ratio"
printf "%-12s %12s\n" native "$native"
printf "%-12s %12s  %s native\n" untrapped "$untrapped" "$(ratio "$untrapped" "$native")"
printf "%-12s %12s\n" "minimal C" "$min_c"
printf "%-12s %12s  %s minimal C\n" "min C+path" "$min_path" "$(ratio "$min_path" "$min_c")"
printf "%-12s %12s  %s minimal C\n" "fb rule" "$fb_rule" "$(ratio "$fb_rule" "$min_c")"
printf "%-12s %12s  %s min C+path\n" "fb glob" "$fb_glob" "$(ratio "$fb_glob" "$min_path")"
printf "%-12s %12s  %s min C+path\n" "fb glob+ev" "$fb_events" "$(ratio "$fb_events" "$min_path")"
printf "%-12s %12s  %s minimal C\n" strace "$strace_ns" "$(ratio "$strace_ns" "$min_c")"
