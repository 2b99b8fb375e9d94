#!/usr/bin/env bash
# The ttalloc demo, end to end on simulated devices, non-interactive:
#   1. start the allocation server (2 simulated Wormhole_B0 devices),
#   2. run the seed's Multi-Process Example (three `python -c` snippets),
#   3. show tt_smi and the seed's query_stats.py,
#   4. run a leaky process and show the server's leak report,
#   4b. an out-of-memory caused by fragmentation and its post-mortem,
#   5. stop everything and leave nothing running.
# Usage: scripts/demo.sh [BUILD_DIR]
# TTALLOC_DEMO_SOCKET and TTALLOC_DEMO_HTTP (address:port) pin the socket and
# the dashboard's address (tests/integration/test_demo.py runs it so).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$ROOT" && cd "${1:-build}" && pwd) # relative to the repository, or absolute
BIN="$BUILD/bin"
WORK=$(mktemp -d /tmp/ttalloc-demo.XXXXXX)
SERVER_LOG="$WORK/server.log"
PIDS=()

# The seed's scripts talk to the default socket; use it unless a server is
# already there, in which case the demo runs on a private one.
DEFAULT_SOCKET=/tmp/tt_allocation_server.sock
if [ -n "${TTALLOC_DEMO_SOCKET:-}" ]; then
  export TT_ALLOC_SERVER_SOCKET="$TTALLOC_DEMO_SOCKET"
elif [ -S "$DEFAULT_SOCKET" ] && /usr/bin/python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$DEFAULT_SOCKET" 2>/dev/null; then
  export TT_ALLOC_SERVER_SOCKET="$WORK/server.sock"
  echo "note: a server is already listening on $DEFAULT_SOCKET; the demo uses $TT_ALLOC_SERVER_SOCKET"
else
  export TT_ALLOC_SERVER_SOCKET="$DEFAULT_SOCKET"
fi

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${SERVER_PID:-}" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

section() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

# Prints server log lines added since the last call.
LOG_SHOWN=0
show_new_log() {
  local total
  total=$(wc -l <"$SERVER_LOG")
  sed -n "$((LOG_SHOWN + 1)),${total}p" "$SERVER_LOG" | sed 's/^/  server| /'
  LOG_SHOWN=$total
}

# Waits (at most 10 s) until the server log contains a line matching $1.
wait_for_log() {
  for _ in $(seq 100); do
    grep -q -- "$1" "$SERVER_LOG" && return 0
    sleep 0.1
  done
  echo "demo: timed out waiting for '$1' in the server log" >&2
  return 1
}

section "1. Start the allocation server (Terminal 1 of the seed)"
echo "\$ ./build/programming_examples/allocation_server_poc"
# The dashboard on 8080 unless something holds that port (then a free one).
HTTP_ADDR=${TTALLOC_DEMO_HTTP:-127.0.0.1:8080}
if [ -z "${TTALLOC_DEMO_HTTP:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then HTTP_ADDR=127.0.0.1:0; fi
"$BIN/ttalloc-server" --socket "$TT_ALLOC_SERVER_SOCKET" --http "$HTTP_ADDR" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
wait_for_log "Waiting for clients"
show_new_log
DASHBOARD_URL=$(sed -n 's/^🌐 Dashboard: \(http[^ ]*\)$/\1/p' "$SERVER_LOG")
echo "Dashboard: $DASHBOARD_URL  (live while the demo runs; also ${DASHBOARD_URL}metrics)"

section "2. Multi-Process Example: 3 processes, 2 devices"
export TT_ALLOC_TRACKING_ENABLED=1
export PYTHONPATH="$ROOT/python:$ROOT/python/sim${PYTHONPATH:+:$PYTHONPATH}"
PY=$(command -v python || command -v python3)
for snippet in "A 0 100 DRAM" "B 0 200 DRAM" "C 1 150 L1"; do
  read -r name dev mb kind <<<"$snippet"
  "$PY" -c "
import tt_metal as ttm

device = ttm.CreateDevice($dev)
buffer1 = ttm.Buffer(device, size=1024*1024*$mb, buffer_type=ttm.BufferType.$kind)
print('Process $name: Allocated ${mb}MB $kind on device $dev')

import time
time.sleep(60)  # Keep process alive
" &
  PIDS+=($!)
done
for _ in $(seq 100); do
  [ "$(grep -c 'ALLOC:' "$SERVER_LOG")" -ge 3 ] && break
  sleep 0.1
done
sleep 0.2
show_new_log

section "3. Monitor: tt_smi (one-shot; -w -r 500 for watch mode)"
echo "\$ ./build/programming_examples/tt_smi"
"$BUILD/programming_examples/tt_smi"

section "3b. Programmatic monitoring: the seed's query_stats.py"
if [ "$TT_ALLOC_SERVER_SOCKET" = "$DEFAULT_SOCKET" ]; then
  echo "\$ python query_stats.py 0"
  "$PY" "$ROOT/examples/seed/query_stats.py" 0
else
  echo "(skipped: the seed's script hard-codes $DEFAULT_SOCKET, which another server holds)"
fi

if [ -n "$DASHBOARD_URL" ] && command -v curl >/dev/null; then
  section "3c. The same over HTTP: the seed's REST endpoint, served by the server itself"
  echo "\$ curl ${DASHBOARD_URL}api/devices/0/stats"
  curl -s "${DASHBOARD_URL}api/devices/0/stats"
  echo
fi

section "4. Detect memory leaks: a process exits with buffers still allocated"
echo "\$ ttalloc-load --pattern leak --count 5 --size 1M --device 0"
"$BIN/ttalloc-load" --pattern leak --count 5 --size 1M --device 0 --type dram
wait_for_log "exited but left"
sleep 0.2
show_new_log

section "4b. Why did an allocation fail? A fragmentation OOM and its post-mortem"
echo "\$ TT_ALLOC_STACK_TRACE=1 python3 examples/oom_fragmentation.py"
echo "  (16 layers of 768 MiB fill device 0's DRAM, every other one is dropped,"
echo "   then a 1.5 GiB KV cache is asked for)"
TT_ALLOC_STACK_TRACE=1 "$PY" "$ROOT/examples/oom_fragmentation.py" --hold 30 &
OOM_PID=$!
PIDS+=($OOM_PID)
wait_for_log "allocation of 1.5 GB DRAM on device 0 failed"
grep "failed: needs" "$SERVER_LOG" | sed 's/^/  server| /'
echo "\$ ./build/programming_examples/tt_smi --oom"
"$BIN/tt_smi" --oom | sed -n 1,12p # reads it all: head would close the pipe and pipefail report SIGPIPE
echo "\$ ./build/programming_examples/tt_smi --map -i 0 --type dram"
"$BIN/tt_smi" --map -i 0 --type dram
if [ -n "$DASHBOARD_URL" ] && command -v curl >/dev/null; then
  echo "\$ curl '${DASHBOARD_URL}api/diff?from=loaded&to=pruned'   (what the pruning step did)"
  curl -s "${DASHBOARD_URL}api/diff?from=loaded&to=pruned" | "$PY" -c "
import json, sys
d = json.load(sys.stdin)
print('  allocated %d B, freed %d B in %d buffers, growth %d B' % (d['allocated']['bytes'], d['freed']['bytes'],
      d['freed']['buffer_count'], d['growth_bytes']))"
fi
kill "$OOM_PID" 2>/dev/null || true
wait "$OOM_PID" 2>/dev/null || true
LOG_SHOWN=$(wc -l <"$SERVER_LOG")

section "5. Stop everything"
echo "The three example processes are killed (SIGTERM, whose default action runs no"
echo "exit handlers, as tt-metal runs no destructors when killed), so their devices are"
echo "never closed and the server reports their buffers as leaked; then it shuts down cleanly."
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=
show_new_log
echo
echo "Demo finished: nothing left running."
