#!/usr/bin/env bash
# Reloads the careaccess replicas of this host one at a time onto the build that
# DATA_DIR/current names, waiting for each to serve it (GET /health/live names the
# build) before the next: never more than one replica loading, and every page pinned to
# the previous build is answered by the replicas that hold it (the ones not reloaded yet,
# or the reloaded ones for CAREACCESS_BUILD_GRACE).
#
#   rolling-reload.sh DATA_DIR [PORT…]      # default ports: the careaccess@PORT units running
#
# Stops at the first replica that does not come back on the new build within WAIT seconds
# (default 300) and exits non-zero: the replicas not reloaded keep the previous build (a
# page learns one build and keeps it, so the mix of replicas is safe); fix and run again.
set -euo pipefail
DATA_DIR=${1:?usage: rolling-reload.sh DATA_DIR [PORT…]}
shift
WAIT=${WAIT:-300}
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["build_id"])' \
  "$DATA_DIR/current/dataset.json")
ports=("$@")
if [ ${#ports[@]} -eq 0 ]; then
  mapfile -t ports < <(systemctl list-units --state=running --plain --no-legend 'careaccess@*.service' |
    sed -n 's/^careaccess@\([0-9]*\)\.service.*/\1/p')
fi
[ ${#ports[@]} -gt 0 ] || { echo "no careaccess@PORT unit running" >&2; exit 1; }
for port in "${ports[@]}"; do
  systemctl reload "careaccess@$port.service"
  deadline=$((SECONDS + WAIT))
  until curl -fs --max-time 2 "http://127.0.0.1:$port/health/live" | grep -q "\"build\":\"$want\""; do
    if [ $SECONDS -ge $deadline ]; then
      echo "careaccess@$port not ready on build $want after $WAIT s: stopping here" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "careaccess@$port: build $want"
done
