#!/usr/bin/env bash
# Ingest rate of ttalloc-server while wrk hammers GET /metrics, against the
# idle rate (issue 6: HTTP must not stall ingest; target >= 80 %).
#
# Ingest: ttalloc-load --pattern churn (the real client library, one process)
# sends EVENTS alloc/free events and waits until the server applied them; the
# rate is events / wall time, median of RUNS runs. The same runs are repeated
# while wrk (THREADS threads, CONNS keep-alive connections) requests /metrics
# as fast as the server answers.
#
# Usage: bench/http_ingest.sh [BUILD_DIR]   (env: EVENTS RUNS THREADS CONNS PIN)
#   PIN=1 pins the server to CPU 0 and the load generator and wrk to the others
#   (taskset), so the numbers show the server's own sharing rather than a fight
#   for cores.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$ROOT/${1:-build}" && pwd)
EVENTS=${EVENTS:-400000}
RUNS=${RUNS:-5}
THREADS=${THREADS:-1}
CONNS=${CONNS:-8}
PIN=${PIN:-0}
WORK=$(mktemp -d /tmp/ttalloc-bench.XXXXXX)
SOCK="$WORK/s.sock"
SERVER_PID=
WRK_PID=

cleanup() {
  [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/install-deps.sh" >&2; exit 1; }
ncpu=$(nproc)
if [ "$PIN" = 1 ] && [ "$ncpu" -ge 2 ]; then
  SERVER_CPUS="taskset -c 0"
  OTHER_CPUS="taskset -c 1-$((ncpu - 1))"
else
  SERVER_CPUS=""
  OTHER_CPUS=""
fi

$SERVER_CPUS "$BUILD/bin/ttalloc-server" --quiet --socket "$SOCK" --http 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do grep -q "Dashboard: http" "$WORK/server.log" && break; sleep 0.05; done
URL=$(sed -n 's/^🌐 Dashboard: \(http[^ ]*\)$/\1/p' "$WORK/server.log")
[ -n "$URL" ] || { cat "$WORK/server.log"; exit 1; }

# one run: prints events per second
ingest_once() {
  local t0 t1
  t0=$(date +%s.%N)
  TT_ALLOC_TRACKING_ENABLED=1 TT_ALLOC_SERVER_SOCKET="$SOCK" $OTHER_CPUS \
    "$BUILD/bin/ttalloc-load" -q --pattern churn --events "$EVENTS" --count 1000 --size 4K --flush >/dev/null
  t1=$(date +%s.%N)
  awk -v e="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", e / (b - a) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

start_wrk() {
  $OTHER_CPUS wrk -t"$THREADS" -c"$CONNS" -d600s --latency "${URL}metrics" >"$WORK/wrk.$1.txt" 2>&1 &
  WRK_PID=$!
  sleep 0.5
}

stop_wrk() {
  kill -INT "$WRK_PID" 2>/dev/null || true
  wait "$WRK_PID" 2>/dev/null || true
  WRK_PID=
}

echo "server: $URL (pin=$PIN, $ncpu CPUs), $EVENTS events per run, $RUNS idle and $RUNS loaded runs, alternated"
ingest_once >/dev/null # warm-up
# Idle and loaded runs alternate, so a change in background load hits both alike.
IDLE_ALL=""
BUSY_ALL=""
for i in $(seq "$RUNS"); do
  IDLE_ALL="$IDLE_ALL $(ingest_once)"
  start_wrk "$i"
  BUSY_ALL="$BUSY_ALL $(ingest_once)"
  stop_wrk
done
IDLE=$(echo "$IDLE_ALL" | tr ' ' '\n' | grep . | median)
BUSY=$(echo "$BUSY_ALL" | tr ' ' '\n' | grep . | median)
echo "idle:              $IDLE events/s   (runs:$IDLE_ALL)"
echo "wrk on /metrics:   $BUSY events/s   (runs:$BUSY_ALL)"
awk -v i="$IDLE" -v b="$BUSY" 'BEGIN { printf "ratio:             %.0f %% of idle (medians)\n", 100 * b / i }'
echo "wrk -t$THREADS -c$CONNS ${URL}metrics, during each loaded run:"
for i in $(seq "$RUNS"); do
  echo "  run $i: $(grep -E "Requests/sec" "$WORK/wrk.$i.txt" | awk '{print $2}') req/s, $(grep -E "requests in" "$WORK/wrk.$i.txt" | sed 's/^ *//'), $(grep -cE "Non-2xx" "$WORK/wrk.$i.txt") non-2xx lines"
done
