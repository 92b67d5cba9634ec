#!/usr/bin/env bash
# HTTP benchmark of `careaccess serve` with wrk on loopback (issue targets: /nearest
# ≥ 5,000 req/s; items of one département's bbox p99 ≤ 50 ms; 0 non-2xx answers).
#
#   benches/http.sh [BIN] [DATA_DIR]      # defaults: target/release/careaccess, $CAREACCESS_DATA or geodata
#   DURATION=30s CONNECTIONS=64 THREADS=2 benches/http.sh
#
# Prints the start-up time (to the first /health answer), resident memory after start
# and after the runs, then one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/careaccess}"
DATA="${2:-${CAREACCESS_DATA:-geodata}}"
DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "$BIN: build it first (cargo build --release)" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
LOG=$(mktemp)
start=$(date +%s.%N)
"$BIN" --data-dir "$DATA" serve --bind "127.0.0.1:$PORT" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
until curl -fs "$URL/health" >/dev/null; do
  kill -0 $PID 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.05
done
ready=$(date +%s.%N)
rss() { awk '/VmRSS/ {printf "%.0f MB", $2/1024}' "/proc/$PID/status"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "build: $(curl -fs "$URL/health")"
printf 'startup (process start → first /health 200): %.2f s\n' "$(echo "$ready - $start" | bc)"
echo "resident memory after start: $(rss)"

# Deux-Sèvres (79): bbox of its communes.
BBOX="-0.904,45.969,0.225,47.109"
# run NAME SCRIPT URL: wrk with the Lua script (which prints the RESULT line).
run() {
  local name=$1 script=$2 url=$3 line
  line=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$script" "$url" | grep '^RESULT' || true)
  echo "$name: ${line#RESULT }"
}
KIND=ehpad K=3 run "GET /nearest random points, kind=ehpad, k=3" benches/wrk/nearest.lua "$URL"
K=1 run "GET /nearest random points, every kind, k=1" benches/wrk/nearest.lua "$URL"
run "GET /collections/communes/items?bbox=<Deux-Sèvres> (100 polygons a page)" benches/wrk/report.lua \
  "$URL/collections/communes/items?bbox=$BBOX"
run "GET /collections/ehpad/items?bbox=<Deux-Sèvres>&limit=1000" benches/wrk/report.lua \
  "$URL/collections/ehpad/items?bbox=$BBOX&limit=1000"
run "GET /collections/communes/tiles/WebMercatorQuad/{z}/{y}/{x} random, z6-12" benches/wrk/tiles.lua "$URL"
ZOOMS=8 run "GET /collections/communes/tiles/WebMercatorQuad/8/{y}/{x} random" benches/wrk/tiles.lua "$URL"
ZOOMS=12 run "GET /collections/communes/tiles/WebMercatorQuad/12/{y}/{x} random" benches/wrk/tiles.lua "$URL"
run "GET /territories/cls/thouarsais/coverage?kind=msp" benches/wrk/report.lua \
  "$URL/territories/cls/thouarsais/coverage?kind=msp&within_km=10"
echo "resident memory after the runs: $(rss)"
