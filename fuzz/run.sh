#!/usr/bin/env bash
# Runs fuzz targets for a while each, with their dictionary, starting from the committed
# seed corpus (fuzz/corpus/<target>/, only read) and growing a scratch corpus beside it.
#
#   fuzz/run.sh [TARGET|all] [SECONDS]        # default: all, 600 s each, one after the other
#   JOBS=2 fuzz/run.sh all 600                # two targets at a time
#   CAREACCESS_FUZZ_DATA=/path/to/data fuzz/run.sh http 600   # `http` needs a built data set
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly compiler (`+nightly`, or
# FUZZ_TOOLCHAIN=stable with RUSTC_BOOTSTRAP=1 where no nightly is installed). SANITIZER
# (default address) is passed to `cargo fuzz -s`. A crash leaves its input in
# fuzz/artifacts/<target>/ and makes the script exit non-zero: turn it into a regression
# test named after what it found, and add the input to fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:-all}"
SECONDS_EACH="${2:-600}"
JOBS="${JOBS:-1}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
SANITIZER="${SANITIZER:-address}"
WORK="${FUZZ_WORK:-fuzz/target/corpus}"
export CAREACCESS_FUZZ_DATA="${CAREACCESS_FUZZ_DATA:-$PWD/geodata}"
ALL=(finess points_csv points_geojson commune_csv query http)
if [ "$TARGET" = all ]; then targets=("${ALL[@]}"); else targets=("$TARGET"); fi

dict_of() {
  case "$1" in
    finess | points_csv | commune_csv) echo fuzz/dict/finess.dict ;;
    query) echo fuzz/dict/query.dict ;;
    http) echo fuzz/dict/http.dict ;;
    *) echo "" ;;
  esac
}

cargo "+$TOOLCHAIN" fuzz build -s "$SANITIZER" "${targets[@]:0:1}" >/dev/null
[ ${#targets[@]} -eq 1 ] || cargo "+$TOOLCHAIN" fuzz build -s "$SANITIZER"

BIN_DIR="fuzz/target/$(rustc "+$TOOLCHAIN" -vV | sed -n 's/^host: //p')/release"

run_one() {
  local t=$1 dict log
  dict=$(dict_of "$t")
  log="$WORK/$t.log"
  mkdir -p "$WORK/$t" "fuzz/artifacts/$t"
  local args=(-max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=30 -rss_limit_mb=8192
    -print_final_stats=1)
  [ -n "$dict" ] && args+=(-dict="$dict")
  # The binary built above, run directly: editing the sources meanwhile rebuilds nothing.
  if "$BIN_DIR/$t" "${args[@]}" -artifact_prefix="fuzz/artifacts/$t/" "$WORK/$t" "fuzz/corpus/$t" \
    >"$log" 2>&1; then
    echo "$t: $(grep -E '^Done [0-9]+ runs' "$log" | tail -1) — corpus $(ls "$WORK/$t" | wc -l) inputs," \
      "$(grep -oE 'cov: [0-9]+' "$log" | tail -1)"
  else
    echo "$t: FAILED, see $log and fuzz/artifacts/$t/"
    grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5
    return 1
  fi
}

status=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
