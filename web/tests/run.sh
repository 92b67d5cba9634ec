#!/usr/bin/env bash
# Browser test of the web map against a real careaccess server.
#
#   web/tests/run.sh BIN DATA_DIR
#
# Starts `BIN --data-dir DATA_DIR serve` on a free local port with this checkout's web/
# folder, waits for /health (up to 120 s: a debug build loads the national data slowly),
# installs web/node_modules with `npm ci` if missing, runs web/tests/browser.mjs with
# Debian's chromium, and always stops the server. Screenshots: tests/artifacts/screenshots/.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BIN DATA_DIR" >&2
  exit 2
fi
BIN=$(realpath "$1")
DATA=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
WEB=$(dirname "$HERE")
REPO=$(dirname "$WEB")
ART="$REPO/tests/artifacts"
mkdir -p "$ART/screenshots"

[ -x "$BIN" ] || { echo "not an executable: $BIN" >&2; exit 2; }
[ -d "$DATA" ] || { echo "not a data folder: $DATA" >&2; exit 2; }
command -v node >/dev/null || { echo "node is needed (Node 18 or later)" >&2; exit 2; }
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "chromium not found at $CHROMIUM (apt-get install chromium)" >&2; exit 2; }

if [ ! -d "$WEB/node_modules/maplibre-gl" ] || [ ! -d "$WEB/node_modules/playwright-core" ] || [ ! -d "$WEB/node_modules/axe-core" ]; then
  echo "npm ci in $WEB"
  (cd "$WEB" && npm ci --no-audit --no-fund)
fi

# A free port, chosen by the kernel.
PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL="http://127.0.0.1:$PORT/"
LOG="$ART/browser-server.log"

# A planner's token for the saved-work steps (saved scenario, drawn perimeter, « Mes
# listes »): made with the command line, as an administrator would, and passed to the test
# only (kept, hashed, in the data folder's store).
PLANNER_TOKEN=$("$BIN" --data-dir "$DATA" tokens create --name "Test navigateur (planificateur)" --role planner 2>>"$LOG.tokens")

"$BIN" --data-dir "$DATA" serve --bind "127.0.0.1:$PORT" --web-dir "$WEB" >"$LOG" 2>&1 &
SERVER=$!
stop() {
  if kill -0 "$SERVER" 2>/dev/null; then
    kill "$SERVER" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER" 2>/dev/null || true
  fi
  wait "$SERVER" 2>/dev/null || true
}
trap stop EXIT INT TERM

echo "server pid $SERVER on $URL, waiting for /health"
for i in $(seq 1 240); do
  if curl -fsS "${URL}health" >/dev/null 2>&1; then
    echo "server ready after $((i / 2)) s"
    break
  fi
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "the server stopped before answering; its log:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
  if [ "$i" -eq 240 ]; then
    echo "no answer from ${URL}health after 120 s; server log:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
  sleep 0.5
done

cd "$WEB"
CAREACCESS_URL="$URL" CHROMIUM="$CHROMIUM" CAREACCESS_PLANNER_TOKEN="$PLANNER_TOKEN" node tests/browser.mjs
