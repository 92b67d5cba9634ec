#!/usr/bin/env bash
# Load test of `careaccess serve` with reloads (issue target: wrk on loopback for 10 minutes
# at 64 connections over a mix of items, nearest and coverage requests, a reload every
# minute: 0 errors, p99 reported, RSS at the end within 10 % of the start).
#
#   benches/load.sh [BIN] [DATA_DIR]      # defaults: target/release/careaccess, $CAREACCESS_DATA or geodata
#   DURATION=600 RELOAD_EVERY=60 WARMUP=30 CONNECTIONS=64 THREADS=2 benches/load.sh
#   DURATION=60 RELOAD_EVERY=15 WARMUP=15 benches/load.sh target/debug/careaccess geodata   # CI's short run
#
# Durations are seconds (600, 600s, 10m also read). DATA_DIR is only read: the server runs
# on a scratch data folder (temp dir) whose `sources/` and `sources.toml` link to DATA_DIR's
# and whose `builds/A-<id>` and `builds/B-<id>` are copies (hard links where possible) of
# DATA_DIR's current build, each with its own build id in dataset.json / build-report.json.
# Every RELOAD_EVERY seconds `current` is switched atomically to the other build and the
# server reloads, by SIGHUP and `POST /admin/reload` in turn; /health must then name the new
# build within RELOAD_WAIT seconds (default 30, or 4 × the load time /health reports at
# start-up when longer: a debug binary loads the national build in 10–20 s). A reload that
# takes longer than RELOAD_EVERY delays the next one.
#
# wrk runs benches/wrk/mix.lua (fixed seed) WARMUP seconds first, then DURATION seconds
# measured; the server's VmRSS is sampled every RSS_EVERY seconds (default 5) meanwhile.
# The warm-up begins with one reload (the first build of a fresh process sits lower than
# every reloaded one). RSS at the start is read after the warm-up; RSS at the end once wrk
# is done and at least SETTLE seconds (default 15) after the last swap: the allocator
# gives the previous build's memory back about 10 s after the swap, so right after a swap
# RSS counts both builds.
# Other knobs: TIMEOUT (wrk's, default 5s: a hang counts as an error), MEM_TOLERANCE (percent,
# default 10), STARTUP_WAIT (seconds, default 600), SEED (default 42), RSS_LOG (file to keep
# the samples in: "seconds rss_kb" lines). RELOAD_EVERY=0 runs without reloads.
#
# Then a hostile phase of HOSTILE seconds (default 60; 0 skips it): benches/hostile.py keeps
# HOSTILE_SLOW slowloris and HOSTILE_IDLE idle connections open and HOSTILE_HANGUPS clients
# asking expensive requests and hanging up, while wrk runs the normal mix at
# HOSTILE_CONNECTIONS (default 16) and /health is asked every 50 ms: its p99 must be ≤
# HEALTH_P99_MS (default 50) and the normal clients must see 0 errors.
#
# Exits non-zero when wrk saw an error (non-2xx answer, socket error or timeout), a reload
# failed, or |RSS end / RSS start − 1| > MEM_TOLERANCE %. Needs bash, coreutils, curl, wrk,
# python3 and awk.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/careaccess}"
DATA="${2:-${CAREACCESS_DATA:-geodata}}"

# seconds VALUE: 600, 600s, 10m or 1h → whole seconds.
seconds() {
  local v=$1 n
  case "$v" in
    *h) n=${v%h}; [[ $n =~ ^[0-9]+$ ]] && { echo $((n * 3600)); return; } ;;
    *m) n=${v%m}; [[ $n =~ ^[0-9]+$ ]] && { echo $((n * 60)); return; } ;;
    *s) n=${v%s}; [[ $n =~ ^[0-9]+$ ]] && { echo "$n"; return; } ;;
    *) [[ $v =~ ^[0-9]+$ ]] && { echo "$v"; return; } ;;
  esac
  echo "not a duration: '$v' (seconds, e.g. 600, 600s or 10m)" >&2
  return 1
}
DURATION=$(seconds "${DURATION:-600}")
RELOAD_EVERY=$(seconds "${RELOAD_EVERY:-60}")
WARMUP=$(seconds "${WARMUP:-30}")
RELOAD_WAIT=$(seconds "${RELOAD_WAIT:-0}")   # 0: max(30 s, 4 × the start-up load time)
SETTLE=$(seconds "${SETTLE:-15}")
RSS_EVERY=$(seconds "${RSS_EVERY:-5}")
STARTUP_WAIT=$(seconds "${STARTUP_WAIT:-600}")
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
TIMEOUT="${TIMEOUT:-5s}"
MEM_TOLERANCE="${MEM_TOLERANCE:-10}"
HOSTILE=$(seconds "${HOSTILE:-60}")            # 0: no hostile phase
HOSTILE_SLOW="${HOSTILE_SLOW:-200}"
HOSTILE_IDLE="${HOSTILE_IDLE:-200}"
HOSTILE_HANGUPS="${HOSTILE_HANGUPS:-8}"
HOSTILE_CONNECTIONS="${HOSTILE_CONNECTIONS:-16}"
HEALTH_P99_MS="${HEALTH_P99_MS:-50}"
export SEED="${SEED:-42}"

for tool in wrk curl python3 awk; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "$BIN: build it first (cargo build --release)" >&2; exit 1; }
[ "$DURATION" -gt 0 ] || { echo "DURATION must be > 0" >&2; exit 1; }
if [ "$RELOAD_EVERY" -gt 0 ] && [ "$RELOAD_EVERY" -ge "$DURATION" ]; then
  echo "RELOAD_EVERY ($RELOAD_EVERY s) must be shorter than DURATION ($DURATION s) (0: no reloads)" >&2
  exit 1
fi
SRC_BUILD=$(readlink -f "$DATA/current" 2>/dev/null || true)
if [ -z "$SRC_BUILD" ] || [ ! -f "$SRC_BUILD/dataset.json" ]; then
  echo "$DATA has no built data ($DATA/current/dataset.json): run \`careaccess data build\` first" >&2
  exit 1
fi

now() { date +%s.%N; }
# since T0: seconds from T0 to now, one decimal.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/careaccess-load.XXXXXX")
PID="" WRK_PID="" SAMPLER_PID=""
cleanup() {
  local p
  for p in "$WRK_PID" "$SAMPLER_PID"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The scratch data folder: DATA_DIR's sources, two copies of its current build.
SCRATCH="$WORK/data"
mkdir -p "$SCRATCH/builds"
# (accessibility.toml: the 2SFCA profiles the service reads beside the builds, if any.)
for f in sources sources.toml accessibility.toml; do
  if [ -e "$DATA/$f" ]; then ln -s "$(readlink -f "$DATA/$f")" "$SCRATCH/$f"; fi
done
SRC_ID=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["build_id"])' "$SRC_BUILD/dataset.json")
ID_A="A-$SRC_ID"
ID_B="B-$SRC_ID"
for id in "$ID_A" "$ID_B"; do
  # Hard links when DATA_DIR is on the same file system, else a copy.
  cp -al "$SRC_BUILD" "$SCRATCH/builds/$id" 2>/dev/null || {
    rm -rf "$SCRATCH/builds/$id"
    cp -r "$SRC_BUILD" "$SCRATCH/builds/$id"
  }
  # The build id is read from dataset.json (and written in build-report.json): write new
  # files and rename them over the links, never editing a (possibly hard-linked) file.
  python3 - "$SCRATCH/builds/$id" "$id" <<'EOF'
import json, os, sys
build, new_id = sys.argv[1], sys.argv[2]
for name in ("dataset.json", "build-report.json"):
    path = os.path.join(build, name)
    if not os.path.exists(path):
        continue
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    doc["build_id"] = new_id
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
    os.replace(path + ".tmp", path)
EOF
done
# switch_to ID: points `current` at builds/ID atomically.
switch_to() {
  ln -sfn "builds/$1" "$SCRATCH/.current.tmp"
  mv -T "$SCRATCH/.current.tmp" "$SCRATCH/current"
}
switch_to "$ID_A"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
LOG="$WORK/server.log"
start=$(now)
CAREACCESS_ADMIN_TOKEN="$TOKEN" "$BIN" --data-dir "$SCRATCH" serve --bind "127.0.0.1:$PORT" >"$LOG" 2>&1 &
PID=$!
until curl -fs --max-time 5 "$URL/health" >/dev/null; do
  kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  if awk -v s="$(since "$start")" -v w="$STARTUP_WAIT" 'BEGIN { exit !(s > w) }'; then
    echo "no /health answer after $STARTUP_WAIT s" >&2; tail -20 "$LOG" >&2; exit 1
  fi
  sleep 0.1
done
startup=$(since "$start")
if [ "$RELOAD_WAIT" -eq 0 ]; then
  RELOAD_WAIT=$(curl -fs "$URL/health" | python3 -c '
import json, math, sys
print(max(30, math.ceil(4 * float(json.load(sys.stdin).get("load_seconds") or 0))))')
fi
# VmRSS / VmHWM of the server in kB (0 once it is gone).
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$PID/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$PID/status" 2>/dev/null || echo 0; }
# The build /health names ("" when it does not answer).
served() {
  curl -fs --max-time 5 "$URL/health" 2>/dev/null | sed -n 's/.*"build":"\([^"]*\)".*/\1/p' || true
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "binary: $BIN; data: $DATA (build $SRC_ID), served from a scratch copy as builds $ID_A / $ID_B"
echo "build: $(curl -fs "$URL/health")"
echo "startup (process start → first /health 200): $startup s; resident memory: $(mb "$(rss_kb)")"
echo "load: wrk -t$THREADS -c$CONNECTIONS --timeout $TIMEOUT, benches/wrk/mix.lua (seed $SEED)," \
  "warm-up ${WARMUP} s, run ${DURATION} s, reload every ${RELOAD_EVERY} s (wait ≤ ${RELOAD_WAIT} s)"

# wrk's arguments but the duration (-d goes first).
WRK_ARGS=(-t"$THREADS" -c"$CONNECTIONS" --timeout "$TIMEOUT" --latency -s benches/wrk/mix.lua "$URL")
# errors_of OUT: the error count of wrk's RESULT line (empty without one).
errors_of() { sed -n 's/^RESULT .*non2xx_or_socket_errors=\([0-9]*\).*/\1/p' "$1"; }
# show NAME OUT: the RESULT, MIX, STATUS and ERROR lines of a wrk run.
show() {
  local line
  line=$(grep '^RESULT' "$2" || true)
  if [ -z "$line" ]; then
    echo "$1: wrk printed no RESULT line:"; sed 's/^/  /' "$2"; return
  fi
  echo "$1: ${line#RESULT }"
  grep -E '^(MIX|STATUS|ERROR) ' "$2" | sed 's/^/  /' || true
}

# The first build of a fresh process sits lower than any build loaded by a reload (about
# 400 MB against 435 MB for the national data with jemalloc): the warm-up starts with one
# reload, so that the start and the end of the run are both a reloaded build under load.
if [ "$RELOAD_EVERY" -gt 0 ]; then
  switch_to "$ID_B"
  t_reload=$(now)
  kill -HUP "$PID"
  until [ "$(served)" = "$ID_B" ]; do
    if awk -v s="$(since "$t_reload")" -v w="$RELOAD_WAIT" 'BEGIN { exit !(s > w) }'; then
      echo "the warm-up reload did not swap $ID_B in within $RELOAD_WAIT s" >&2; tail -5 "$LOG" >&2; exit 1
    fi
    sleep 0.2
  done
  echo "warm-up reload (SIGHUP): $ID_A → $ID_B in $(since "$t_reload") s"
fi
warmup_errors=0
if [ "$WARMUP" -gt 0 ]; then
  wrk -d"${WARMUP}s" "${WRK_ARGS[@]}" >"$WORK/warmup.out" 2>&1 || true
  show "warm-up (${WARMUP} s)" "$WORK/warmup.out"
  warmup_errors=$(errors_of "$WORK/warmup.out")
  warmup_errors=${warmup_errors:-1}
fi

# The measured run: wrk in the background, RSS samples, reloads.
rss_start=$(rss_kb)
echo "resident memory at the start of the run: $(mb "$rss_start")"
SAMPLES="$WORK/rss.tsv"
t0=$(now)
wrk -d"${DURATION}s" "${WRK_ARGS[@]}" >"$WORK/run.out" 2>&1 &
WRK_PID=$!
(
  while kill -0 "$PID" 2>/dev/null; do
    echo "$(since "$t0") $(rss_kb)" >>"$SAMPLES"
    sleep "$RSS_EVERY"
  done
) &
SAMPLER_PID=$!

reloads_done=0 reloads_failed=0 n=0 last_swap=""
while [ "$RELOAD_EVERY" -gt 0 ]; do
  n=$((n + 1))
  at=$((n * RELOAD_EVERY))
  [ "$at" -lt "$DURATION" ] || break
  # Sleep until t0 + at, in steps of at most 1 s, as long as wrk runs.
  while kill -0 "$WRK_PID" 2>/dev/null; do
    left=$(awk -v t="$at" -v e="$(since "$t0")" 'BEGIN { d = t - e; printf "%.2f", (d > 1) ? 1 : d }')
    awk -v d="$left" 'BEGIN { exit !(d > 0) }' || break
    sleep "$left"
  done
  kill -0 "$WRK_PID" 2>/dev/null || { echo "reload $n (planned at $at s) not done: the run is over"; break; }
  from=$(served)
  if [ "$from" = "$ID_A" ]; then to=$ID_B; else to=$ID_A; fi
  rss_before=$(rss_kb)
  log_lines=$(wc -l <"$LOG")
  switch_to "$to"
  t_reload=$(now)
  at_real=$(since "$t0")
  ok=1 how=""
  if [ $((n % 2)) -eq 1 ]; then
    how="SIGHUP"
    kill -HUP "$PID" || ok=0
  else
    how="POST /admin/reload"
    code=$(curl -s -o "$WORK/reload.json" -w '%{http_code}' --max-time "$RELOAD_WAIT" -X POST \
      -H "Authorization: Bearer $TOKEN" "$URL/admin/reload" || true)
    if [ "$code" != 200 ]; then
      ok=0
      echo "  POST /admin/reload answered ${code:-nothing}: $(head -c 300 "$WORK/reload.json" 2>/dev/null)"
    fi
  fi
  now_served=""
  while [ "$ok" = 1 ]; do
    now_served=$(served)
    [ "$now_served" = "$to" ] && break
    # A SIGHUP reload that fails says so in the log only.
    if tail -n +"$((log_lines + 1))" "$LOG" | grep 'reload failed' >/dev/null; then
      ok=0; break
    fi
    if awk -v s="$(since "$t_reload")" -v w="$RELOAD_WAIT" 'BEGIN { exit !(s > w) }'; then
      ok=0; break
    fi
    sleep 0.2
  done
  took=$(since "$t_reload")
  if [ "$ok" = 1 ]; then
    reloads_done=$((reloads_done + 1))
    last_swap=$(now)
    echo "reload $n at $at_real s ($how): ${from:-?} → $to in $took s; RSS before $(mb "$rss_before"), at the swap $(mb "$(rss_kb)")"
  else
    reloads_failed=$((reloads_failed + 1))
    echo "reload $n at $at_real s ($how): FAILED, /health names ${now_served:-$(served)} $took s later (wanted $to)"
  fi
done

wait "$WRK_PID" || true
WRK_PID=""
alive=1
if ! kill -0 "$PID" 2>/dev/null; then
  alive=0
  echo "the server died during the run; its log ends with:"
  tail -20 "$LOG" | sed 's/^/  /'
fi
if [ -n "$last_swap" ]; then
  settle=$(awk -v e="$(since "$last_swap")" -v s="$SETTLE" 'BEGIN { d = s - e; printf "%.1f", (d > 0) ? d : 0 }')
  if awk -v d="$settle" 'BEGIN { exit !(d > 0) }'; then
    echo "waiting $settle s (SETTLE: $SETTLE s after the last swap) before reading the end RSS"
    sleep "$settle"
  fi
fi
rss_end=$(rss_kb)
hwm=$(hwm_kb)
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
echo "$(since "$t0") $rss_end" >>"$SAMPLES"
[ -n "${RSS_LOG:-}" ] && cp "$SAMPLES" "$RSS_LOG"

show "run (${DURATION} s)" "$WORK/run.out"
run_errors=$(errors_of "$WORK/run.out")
run_errors=${run_errors:-1}
echo "reloads: $reloads_done done, $reloads_failed failed"
read -r rss_max rss_min n_samples < <(awk -v s="$rss_start" '
  BEGIN { max = s; min = s }
  { if ($2 > max) max = $2; if ($2 < min) min = $2; n++ }
  END { print max, min, n }' "$SAMPLES")
ratio=$(awk -v a="$rss_start" -v b="$rss_end" 'BEGIN { printf "%.3f", b / a }')
echo "RSS: start $(mb "$rss_start"), end $(mb "$rss_end"), max $(mb "$rss_max") (min $(mb "$rss_min"), $n_samples samples every $RSS_EVERY s); end/start = $ratio; peak since start-up (VmHWM) $(mb "$hwm")"
# The hostile phase (issue 18): slowloris, idle connections and clients that hang up on
# expensive requests (benches/hostile.py) beside wrk's normal mix at HOSTILE_CONNECTIONS;
# /health p99 must stay ≤ HEALTH_P99_MS and the normal clients see 0 errors.
hostile_errors=0 health_p99="" health_failed=0
if [ "$HOSTILE" -gt 0 ] && kill -0 "$PID" 2>/dev/null; then
  echo "hostile phase: ${HOSTILE} s, $HOSTILE_SLOW slowloris + $HOSTILE_IDLE idle connections," \
    "$HOSTILE_HANGUPS clients hanging up on expensive requests, wrk -c$HOSTILE_CONNECTIONS normal mix"
  wrk -d"${HOSTILE}s" -t"$THREADS" -c"$HOSTILE_CONNECTIONS" --timeout "$TIMEOUT" --latency \
    -s benches/wrk/mix.lua "$URL" >"$WORK/hostile-wrk.out" 2>&1 &
  WRK_PID=$!
  python3 benches/hostile.py "$URL" "$HOSTILE" "$HOSTILE_SLOW" "$HOSTILE_IDLE" "$HOSTILE_HANGUPS" \
    >"$WORK/hostile.out" 2>&1 || true
  wait "$WRK_PID" || true
  WRK_PID=""
  show "normal clients during the hostile phase" "$WORK/hostile-wrk.out"
  hostile_errors=$(errors_of "$WORK/hostile-wrk.out")
  hostile_errors=${hostile_errors:-1}
  line=$(grep '^HOSTILE' "$WORK/hostile.out" || true)
  echo "hostile clients: ${line#HOSTILE }"
  [ -n "$line" ] || sed 's/^/  /' "$WORK/hostile.out"
  health_p99=$(sed -n 's/.*health_p99_ms=\([0-9.na]*\).*/\1/p' <<<"$line")
  health_failed=$(sed -n 's/.*health_failed=\([0-9]*\).*/\1/p' <<<"$line")
  health_failed=${health_failed:-1}
  echo "server /health after the phase: $(curl -fs --max-time 5 "$URL/health" || echo 'no answer')"
fi

log_errors=$(grep -c ' ERROR ' "$LOG" || true)
if [ "$log_errors" -gt 0 ]; then
  echo "server log: $log_errors ERROR lines, the first ones:"
  grep ' ERROR ' "$LOG" | head -5 | sed 's/^/  /'
fi

fail=()
[ "$alive" = 1 ] || fail+=("the server died")
[ "$warmup_errors" -eq 0 ] || fail+=("$warmup_errors errors in the warm-up")
[ "$run_errors" -eq 0 ] || fail+=("$run_errors errors in the run")
[ "$reloads_failed" -eq 0 ] || fail+=("$reloads_failed reloads failed")
[ "$RELOAD_EVERY" -eq 0 ] || [ "$reloads_done" -gt 0 ] || fail+=("no reload happened")
if [ "$HOSTILE" -gt 0 ]; then
  [ "$hostile_errors" -eq 0 ] || fail+=("$hostile_errors errors for normal clients in the hostile phase")
  [ "$health_failed" -eq 0 ] || fail+=("/health failed $health_failed times in the hostile phase")
  awk -v p="${health_p99:-nan}" -v m="$HEALTH_P99_MS" 'BEGIN { exit !(p + 0 == p && p <= m) }' \
    || fail+=("/health p99 ${health_p99:-?} ms in the hostile phase, over $HEALTH_P99_MS ms")
fi
awk -v r="$ratio" -v t="$MEM_TOLERANCE" 'BEGIN { d = r - 1; if (d < 0) d = -d; exit !(d * 100 <= t) }' \
  || fail+=("RSS end/start = $ratio, outside ±$MEM_TOLERANCE %")
if [ ${#fail[@]} -eq 0 ]; then
  echo "VERDICT: PASS (0 errors, $reloads_done reloads, RSS end/start = $ratio)"
else
  echo "VERDICT: FAIL ($(IFS=';'; echo "${fail[*]}" | sed 's/;/; /g'))"
  exit 1
fi
