#!/usr/bin/env bash
# A monitor's cost per event, stage by stage, on one core (taskset): see
# monitor_bench.cc for what each line adds. Budget: the issue's simple monitor,
# check=lambda e, s: int(e.stock) >= 0, judges at least 1 million events/s on one core
# (BM_Judging_CheckStock). The BM_Monitor_* lines add producing the events (the log's
# append and the engine's copy of each) on the same core.
#
#   tests/bench/monitor/run.sh [core, default 1]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${FB_BUILD_DIR:-$root/build}
core=${1:-1}
cmake --build "$build" --target monitor_bench >/dev/null
taskset -c "$core" "$build/tests/bench/monitor_bench" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_counters_tabular=true
