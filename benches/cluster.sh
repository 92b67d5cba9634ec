#!/usr/bin/env bash
# Several careaccess replicas behind nginx, under load, while one dies and the data is
# updated (issue 17). Starts a throw-away PostgreSQL (.ci/postgres.sh: Debian's
# `postgresql`), REPLICAS (default 3) `careaccess serve` on loopback ports sharing it and a
# scratch data folder, and nginx (Debian's `nginx`, as an ordinary process: its own prefix
# in a temp dir) with deploy/careaccess.nginx.conf; then runs wrk for DURATION seconds
# (default 60) at CONNECTIONS (64) over benches/wrk/cluster.lua — public reads, half of
# them naming their build as the web page does, and WRITE_SHARE (0.05) POST
# /saved-scenarios with a planner token — while it
#   - SIGKILLs replica 1 at 20/60 of DURATION,
#   - starts it again at 35/60,
#   - at 45/60 publishes a new build (`current` → a copy of the build under a new id, as
#     benches/load.sh does) and reloads the replicas one at a time (SIGHUP, then waits for
#     /health/ready to name the new build before the next).
#
#   benches/cluster.sh [BIN] [DATA_DIR]     # defaults: target/release/careaccess, geodata
#   DURATION=30 COMPARE=0 benches/cluster.sh "$CARGO_TARGET_DIR/release/careaccess"
#
# Prints one JSON line: requests, req/s, p50/p99 (ms), failed requests, writes sent /
# acknowledged / found afterwards in PostgreSQL, and the events' times. Exits non-zero on
# any failed request (a non-2xx answer or a socket error) or any acknowledged write not
# found. Writes carry an Idempotency-Key, so that a write that was on replica 1 when it was
# killed is passed on by nginx to another replica, which saves it once (deploy/README.md);
# nginx's own 502 for a write (`writes_unanswered`) would mean one was dropped, and counts
# as a failed request.
#
# Then, unless COMPARE=0, COMPARE seconds (default 10) of the read-only part of the mix
# at one replica directly and through nginx: `direct_rps`, `nginx_rps`.
#
# Other knobs: TAIL (seconds of load after DURATION, default 15, so that the roll — 4–6 s
# per replica on 2 busy cores — ends under load; the JSON says `roll_under_load`), THREADS (2), REPLICAS (3), SEED (42), PG_PORT (a free port),
# KEEP_LOGS=1 (keep the temp dir and print its path). Needs wrk, curl, python3, nginx, PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/careaccess}"
DATA="${2:-${CAREACCESS_DATA:-geodata}}"
DURATION="${DURATION:-60}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
REPLICAS="${REPLICAS:-3}"
COMPARE="${COMPARE:-10}"
TAIL="${TAIL:-15}"
export SEED="${SEED:-42}"
export WRITE_SHARE="${WRITE_SHARE:-0.05}"

for tool in wrk curl python3 nginx; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "$BIN: build it first (cargo build --release)" >&2; exit 1; }
BIN=$(readlink -f "$BIN")
[[ $DURATION =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 12 ] ||
  { echo "DURATION must be whole seconds, ≥ 12" >&2; exit 1; }
SRC_BUILD=$(readlink -f "$DATA/current" 2>/dev/null || true)
[ -n "$SRC_BUILD" ] && [ -f "$SRC_BUILD/dataset.json" ] ||
  { echo "$DATA has no built data: run \`careaccess data build\` first" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/careaccess-cluster.XXXXXX")
chmod 755 "$WORK"
PIDS=() NGINX_PID="" WRK_PID=""
cleanup() {
  local p
  [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  if declare -F pg_cluster_stop >/dev/null; then pg_cluster_stop; fi
  if [ "${KEEP_LOGS:-0}" = 1 ]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# PostgreSQL, throw-away (the same script as CI's store tests, on a port of its own).
CAREACCESS_TEST_PG_PORT="${PG_PORT:-$(free_port)}"
export CAREACCESS_TEST_PG_PORT
# shellcheck source=../.ci/postgres.sh
source .ci/postgres.sh
export CAREACCESS_DATABASE_URL="$CAREACCESS_TEST_DATABASE_URL"

# The shared data folder: DATA's sources and two copies of its build, A (served first)
# and B (the update), each with its own build id.
SCRATCH="$WORK/data"
mkdir -p "$SCRATCH/builds"
for f in sources sources.toml accessibility.toml; do
  if [ -e "$DATA/$f" ]; then ln -s "$(readlink -f "$DATA/$f")" "$SCRATCH/$f"; fi
done
SRC_ID=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["build_id"])' "$SRC_BUILD/dataset.json")
ID_A="A-$SRC_ID" ID_B="B-$SRC_ID"
for id in "$ID_A" "$ID_B"; do
  cp -al "$SRC_BUILD" "$SCRATCH/builds/$id" 2>/dev/null || {
    rm -rf "$SCRATCH/builds/$id"
    cp -r "$SRC_BUILD" "$SCRATCH/builds/$id"
  }
  python3 - "$SCRATCH/builds/$id" "$id" <<'EOF'
import json, os, sys
build, new_id = sys.argv[1], sys.argv[2]
for name in ("dataset.json", "build-report.json"):
    path = os.path.join(build, name)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        doc["build_id"] = new_id
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=2)
        os.replace(path + ".tmp", path)
EOF
done
switch_to() {
  ln -sfn "builds/$1" "$SCRATCH/.current.tmp"
  mv -T "$SCRATCH/.current.tmp" "$SCRATCH/current"
}
switch_to "$ID_A"

"$BIN" --data-dir "$SCRATCH" db migrate >/dev/null
TOKEN=$("$BIN" --data-dir "$SCRATCH" tokens create --name "benches/cluster.sh" --role planner 2>/dev/null)
export TOKEN

# The replicas.
PORTS=()
for i in $(seq 1 "$REPLICAS"); do PORTS+=("$(free_port)"); done
# One planner token writes thousands of scenarios a second: without the per-token write
# limit (CAREACCESS_WRITES_PER_MINUTE), which would answer 429 after 60 a minute.
start_replica() { # start_replica I
  local i=$1
  CAREACCESS_TRUSTED_PROXY=1 CAREACCESS_WRITES_PER_MINUTE=0 "$BIN" --data-dir "$SCRATCH" serve --bind "127.0.0.1:${PORTS[$i]}" \
    >>"$WORK/replica-$i.log" 2>&1 &
  PIDS[i]=$!
}
wait_build() { # wait_build I BUILD SECONDS: until replica I is ready on BUILD
  local i=$1 want=$2 limit=$3 t0 got
  t0=$(now)
  while :; do
    got=$(curl -fs --max-time 2 "http://127.0.0.1:${PORTS[$i]}/health/ready" 2>/dev/null |
      sed -n 's/.*"build":"\([^"]*\)".*/\1/p' || true)
    [ "$got" = "$want" ] && return 0
    if awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      echo "replica $i not ready on build $want after $limit s:" >&2
      tail -5 "$WORK/replica-$i.log" >&2
      return 1
    fi
    sleep 0.1
  done
}
for i in "${!PORTS[@]}"; do start_replica "$i"; done
for i in "${!PORTS[@]}"; do wait_build "$i" "$ID_A" 600; done
LOAD_S=$(curl -fs "http://127.0.0.1:${PORTS[0]}/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["load_seconds"])')

# nginx: deploy/careaccess.nginx.conf with these replicas, port and cache folder.
NGINX_PORT=$(free_port)
NG="$WORK/nginx"
mkdir -p "$NG/cache" "$NG/tmp"
upstreams=""
for p in "${PORTS[@]}"; do
  upstreams+="    server 127.0.0.1:$p max_fails=3 fail_timeout=5s;\n"
done
awk -v ups="$upstreams" -v port="$NGINX_PORT" -v cache="$NG/cache" '
  /server 127\.0\.0\.1:[0-9]+ .*«replaced»/ { if (!done) { printf "%s", ups; done = 1 } next }
  /proxy_cache_path .*«replaced»/ { sub(/\/var\/cache\/nginx\/careaccess/, cache) }
  /listen 80;/ { sub(/listen 80;/, "listen 127.0.0.1:" port ";") }
  { print }
' deploy/careaccess.nginx.conf | sed 's/\\n/\n/g' >"$NG/careaccess.conf"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
cat >"$NG/nginx.conf" <<EOF
$user_line
worker_processes 2;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 4096; }
http {
    log_format upstream '\$status \$request_method \$uri \$upstream_addr \$upstream_status \$request_time';
    access_log $NG/access.log upstream;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    include $NG/careaccess.conf;
}
EOF
nginx -e "$NG/error.log" -p "$NG" -c "$NG/nginx.conf" -t -q
nginx -e "$NG/error.log" -p "$NG" -c "$NG/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
URL="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 1 100); do curl -fs --max-time 2 "$URL/health/live" >/dev/null && break; sleep 0.1; done
curl -fs "$URL/health/ready" >/dev/null || { echo "nginx does not answer" >&2; cat "$NG/error.log" >&2; exit 1; }

# The run, and its events.
KILL_AT=$((DURATION * 20 / 60))
RESTART_AT=$((DURATION * 35 / 60))
ROLL_AT=$((DURATION * 45 / 60))
export ACK_LOG="$WORK/acks"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$((DURATION + TAIL))s" --timeout 10s --latency \
  -s benches/wrk/cluster.lua "$URL" >"$WORK/wrk.out" 2>&1 &
WRK_PID=$!
T0=$(now)
at() { # at SECONDS: sleeps until SECONDS after the start of wrk
  local left
  left=$(awk -v t0="$T0" -v n="$(now)" -v s="$1" 'BEGIN { d = t0 + s - n; print (d > 0 ? d : 0) }')
  sleep "$left"
}
since() { awk -v a="$T0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# The replicas' resident memory, MB, comma-separated.
rss_list() {
  local p out=()
  for p in "${PIDS[@]}"; do
    out+=("$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$p/status" 2>/dev/null || echo 0)")
  done
  (IFS=,; echo "${out[*]}")
}
at "$KILL_AT"
kill -9 "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null || true
killed_at=$(since)
at "$RESTART_AT"
start_replica 0
restarted_at=$(since)
wait_build 0 "$ID_A" "$DURATION"
ready_again_at=$(since)
at "$ROLL_AT"
rss_before_roll=$(rss_list)
roll_start=$(since)
switch_to "$ID_B"
for i in "${!PORTS[@]}"; do
  kill -HUP "${PIDS[$i]}"
  wait_build "$i" "$ID_B" "$DURATION"
done
roll_end=$(since)
wait "$WRK_PID" || true
WRK_PID=""

# Every acknowledged write must be in PostgreSQL.
cat "$ACK_LOG".* 2>/dev/null | sort -u >"$WORK/acked.txt" || true
acked=$(wc -l <"$WORK/acked.txt")
found=0
if [ "$acked" -gt 0 ]; then
  # The ids are hex (checked), loaded into a temporary table and counted in one query.
  if grep -qvE '^[0-9a-f-]+$' "$WORK/acked.txt"; then echo "odd ids acknowledged" >&2; exit 1; fi
  found=$("$pg_bin/psql" -qtA "$CAREACCESS_DATABASE_URL" -v ON_ERROR_STOP=1 \
    -c "CREATE TEMP TABLE acked (id text)" \
    -c "\\copy acked FROM '$WORK/acked.txt'" \
    -c "SELECT count(*) FROM acked JOIN saved_scenarios s USING (id)")
fi
rss_after_roll=$(rss_list)

# Throughput of the read-only mix: one replica directly, then through nginx.
direct_rps=None nginx_rps=None
if [ "$COMPARE" -gt 0 ]; then
  rps_of() {
    TOKEN="" WRITE_SHARE=0 ACK_LOG="$WORK/none" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${COMPARE}s" \
      --timeout 10s -s benches/wrk/cluster.lua "$1" 2>&1 | sed -n 's/^RESULT rps=\([0-9]*\).*/\1/p'
  }
  direct_rps=$(rps_of "http://127.0.0.1:${PORTS[1]}")
  nginx_rps=$(rps_of "$URL")
fi

python3 - "$WORK/wrk.out" <<EOF
import json, re, sys
null = None  # a figure not measured (COMPARE=0)
out = open(sys.argv[1]).read()
def field(line, name, cast=float):
    m = re.search(r"^%s .*?\b%s=([0-9.]+)" % (line, name), out, re.M)
    return cast(m.group(1)) if m else None
status = re.search(r"^STATUS (.*)$", out, re.M)
r = {
    "requests": field("RESULT", "requests", int),
    "req_per_s": field("RESULT", "rps"),
    "p50_ms": field("RESULT", "p50_ms"),
    "p99_ms": field("RESULT", "p99_ms"),
    "failed": (field("CLUSTER", "failed", int) or 0) + (field("CLUSTER", "socket_errors", int) or 0)
              + (field("CLUSTER", "unanswered", int) or 0),
    "writes_sent": field("CLUSTER", "writes", int),
    "writes_acknowledged": $acked,
    "writes_found": $found,
    "writes_unanswered": field("CLUSTER", "unanswered", int),
    "pinned_reads": field("CLUSTER", "pinned", int),
    "statuses": status.group(1) if status else None,
    "duration_s": $DURATION, "connections": $CONNECTIONS, "replicas": $REPLICAS,
    "killed_at_s": $killed_at, "restarted_at_s": $restarted_at, "ready_again_at_s": $ready_again_at,
    "roll_s": [$roll_start, $roll_end], "load_seconds": $LOAD_S,
    "roll_under_load": $roll_end <= $DURATION + $TAIL,
    "rss_mb_before_roll": [$rss_before_roll], "rss_mb_after_roll": [$rss_after_roll],
    "direct_rps": $direct_rps, "nginx_rps": $nginx_rps,
}
print(json.dumps(r))
if r["requests"] is None:
    print(out, file=sys.stderr)
    sys.exit(1)
errors = re.findall(r"^ERROR .*$", out, re.M)
for e in errors[:6]:
    print(e, file=sys.stderr)
sys.exit(0 if r["failed"] == 0 and r["writes_found"] == r["writes_acknowledged"] else 1)
EOF
