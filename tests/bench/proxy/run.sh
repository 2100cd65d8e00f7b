#!/usr/bin/env bash
# Pass-through cost of the protocol proxies with real clients and servers, side by side
# in one run: each client against the server directly, through faultbox's proxy, and
# through HAProxy in TCP mode (a plain byte relay, the peer to beat).
#
#   tests/bench/proxy/run.sh [seconds per pgbench run, default 10]
#
# Throughput: redis-benchmark -P 16 (GET and SET, 50 clients) and pgbench -S (4
# clients). Added latency: one client, one request at a time, p50 of redis-benchmark's
# own percentiles and of pgbench's per-transaction log. Budget: proxied throughput at
# least 70% of direct, added p50 at most 50 µs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${FB_BUILD_DIR:-$root/build}
seconds=${1:-10}

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v pgbench >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cmake --build "$build" --target proxy_relay >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis_port=18291 pg_port=18292 haproxy_redis=18293 haproxy_pg=18294
redis-server --port $redis_port --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
"$root/tests/support/postgres-server" $pg_port 2>/dev/null &
pids+=($!)

# A relay per protocol. Each prints its port and runs until killed: its stdin is a
# FIFO this script holds open for reading and writing, so it never sees an end.
mkfifo "$work/hold"
exec 9<>"$work/hold"
relay() {
  "$build/tests/bench/proxy_relay" "$1" "$2" <&9 >"$work/$1.port" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$1.port" ] && break; sleep 0.05; done
}
relay redis $redis_port
redis_relay_pid=${pids[-1]}
relay postgres $pg_port
pg_relay_pid=${pids[-1]}
redis_proxy=$(cat "$work/redis.port")
pg_proxy=$(cat "$work/postgres.port")

cat >"$work/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen redis
  bind 127.0.0.1:$haproxy_redis
  server s 127.0.0.1:$redis_port
listen pg
  bind 127.0.0.1:$haproxy_pg
  server s 127.0.0.1:$pg_port
CFG
haproxy -f "$work/haproxy.cfg" -db >/dev/null 2>&1 &
pids+=($!)
haproxy_pid=$!

# CPU time a process has used, in microseconds (user + system).
hz=$(getconf CLK_TCK)
cpu_us() { awk -v hz="$hz" '{printf "%d", ($14 + $15) * 1000000 / hz}' "/proc/$1/stat"; }
# The relay process of a route ("" for direct), whose CPU per request is reported.
relay_of() {
  case "$1" in
    faultbox) echo "$2" ;;
    haproxy) echo "$haproxy_pid" ;;
    *) echo "" ;;
  esac
}

for _ in $(seq 600); do
  pg_isready -q -h 127.0.0.1 -p $pg_port && break
  sleep 0.1
done
pgbench -q -i -s 10 -h 127.0.0.1 -p $pg_port -U postgres postgres >/dev/null 2>&1

echo "== redis-benchmark -P 16 -c 50 -n 500000 (requests/s; the relay's CPU µs per request)"
for route in "direct $redis_port" "faultbox $redis_proxy" "haproxy $haproxy_redis"; do
  set -- $route
  pid=$(relay_of "$1" "$redis_relay_pid")
  [ -n "$pid" ] && before=$(cpu_us "$pid")
  rps=$(redis-benchmark -h 127.0.0.1 -p "$2" -P 16 -c 50 -n 500000 -t get,set -q --csv |
        awk -F, 'NR>1 {gsub(/"/,""); s+=$2; n++} END {printf "%.0f", s/n}')
  cost=""
  [ -n "$pid" ] && cost=$(awk -v a="$before" -v b="$(cpu_us "$pid")" 'BEGIN {printf "%.2f", (b - a) / 1000000}')
  printf "  %-9s %10s %8s\n" "$1" "$rps" "$cost"
done

echo "== redis-benchmark -c 1 -P 1 -n 50000 GET, p50 latency (ms)"
for route in "direct $redis_port" "faultbox $redis_proxy" "haproxy $haproxy_redis"; do
  set -- $route
  p50=$(redis-benchmark -h 127.0.0.1 -p "$2" -c 1 -n 50000 -t get --precision 3 |
        awk '/latency summary/ {getline; getline; print $3}')
  printf "  %-9s %10s\n" "$1" "$p50"
done

echo "== pgbench -S -c 4 -j 2 -T $seconds (transactions/s; the relay's CPU µs per transaction)"
for route in "direct $pg_port" "faultbox $pg_proxy" "haproxy $haproxy_pg"; do
  set -- $route
  pid=$(relay_of "$1" "$pg_relay_pid")
  [ -n "$pid" ] && before=$(cpu_us "$pid")
  out=$(pgbench -n -S -c 4 -j 2 -T "$seconds" -h 127.0.0.1 -p "$2" -U postgres postgres 2>/dev/null)
  tps=$(awk '/^tps/ {print int($3)}' <<<"$out")
  count=$(awk '/actually processed/ {print $NF}' <<<"$out")
  cost=""
  [ -n "$pid" ] && cost=$(awk -v a="$before" -v b="$(cpu_us "$pid")" -v n="$count" 'BEGIN {printf "%.1f", (b - a) / n}')
  printf "  %-9s %10s %8s\n" "$1" "$tps" "$cost"
done

echo "== pgbench -S -c 1 -T $seconds, p50 latency (µs)"
for route in "direct $pg_port" "faultbox $pg_proxy" "haproxy $haproxy_pg"; do
  set -- $route
  (cd "$work" && rm -f pgbench_log.* &&
   pgbench -n -S -c 1 -T "$seconds" -l -h 127.0.0.1 -p "$2" -U postgres postgres >/dev/null 2>&1)
  p50=$(cat "$work"/pgbench_log.* | awk '{print $3}' | sort -n |
        awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  printf "  %-9s %10s\n" "$1" "$p50"
done
