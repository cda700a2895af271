#!/usr/bin/env bash
# cpu-per-io.sh - livesnap target CPU time per I/O (µs) for a few workloads, alone (no tgt): the
# steadiest number on a busy machine, for before/after comparisons of the transport's data path.
#
#   tools/bench/cpu-per-io.sh [--runs N] [--seconds S] [--size-mb N] [--match tgt|livesnap]
#                             [--only sw128k,rw4k,...] [--cpu-prof DIR]
#
#   --runs N       runs per workload (3); prints each run and the median
#   --match tgt    (default) the iSCSI limits compare-tgt.sh gives livesnap (limits-config.py)
#   --cpu-prof DIR the target runs under `node --cpu-prof` and leaves its .cpuprofile in DIR
#                  (summarise it with tools/bench/cpuprofile-top.mjs)
#
# Workloads (iscsi-bench, 1 session): sw128k = 128 KiB sequential write QD 32, rw4k = 4 KiB random
# write QD 32, sr128k = 128 KiB sequential read QD 32, rr4k = 4 KiB random read QD 32, rr4kqd1 =
# 4 KiB random read QD 1 (latency). Reads iscsi-bench's `target_us_per_io` (target CPU from
# /proc/PID/stat / I/Os done) and its p50/p99 latency.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SHARED="${LIVESNAP_SHARED:-$ROOT/../shared}"
RUNS=3 SECS=3 SIZE_MB=256 MATCH=tgt ONLY=sw128k,rw4k PROF=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2;;
    --seconds) SECS=$2; shift 2;;
    --size-mb) SIZE_MB=$2; shift 2;;
    --match) MATCH=$2; shift 2;;
    --only) ONLY=$2; shift 2;;
    --cpu-prof) PROF=$2; shift 2;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "cpu-per-io.sh: unknown option $1 (see --help)" >&2; exit 2;;
  esac
done
die() { echo "cpu-per-io.sh: $*" >&2; exit 1; }
# shellcheck source=tools/bench/lib.sh
source "$HERE/lib.sh"
BENCH=$(build_iscsi_bench "$SHARED/bench") || die "cannot build iscsi-bench"
# shellcheck source=tools/interop/lib/livesnap-target.sh
source "$ROOT/tools/interop/lib/livesnap-target.sh"
ls_target_build || die "cannot build the livesnap bundle"
LS_DATA=$(mktemp -d /dev/shm/livesnap-cpu.XXXXXX)
cleanup() {
  set +e
  [ -n "${LS_TARGET_PID:-}" ] && ls_target_stop
  rm -rf "$LS_DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 "$HERE/limits-config.py" "$MATCH" "$LS_DATA/config.json" || die "cannot write the config"
if [ -n "$PROF" ]; then
  mkdir -p "$PROF"
  NODE_OPTIONS="--cpu-prof --cpu-prof-dir=$(cd "$PROF" && pwd)" ls_target_start "$LS_DATA/daemon" --config "$LS_DATA/config.json" ||
    die "livesnap serve did not start"
else
  ls_target_start "$LS_DATA/daemon" --config "$LS_DATA/config.json" || die "livesnap serve did not start"
fi
ls_cli volume create bench "${SIZE_MB}M" > /dev/null || die "volume create failed"
read -r _ _ URL < <(ls_volume_lun bench) || die "the bench volume has no LUN"
# First writes allocate; measure steady state on a filled range.
"$BENCH" --url "$URL" --rw write --bs 128k --qd 16 --prefill --seconds 0.1 --range-mb "$SIZE_MB" > /dev/null 2>&1 ||
  die "prefill failed"

for w in ${ONLY//,/ }; do
  case "$w" in
    sw128k) args=(--rw write --bs 128k);;
    rw4k) args=(--rw randwrite --bs 4k);;
    sr128k) args=(--rw read --bs 128k);;
    rr4k) args=(--rw randread --bs 4k);;
    rr4kqd1) args=(--rw randread --bs 4k --qd 1);;
    *) die "unknown workload $w";;
  esac
  vals=()
  for _ in $(seq "$RUNS"); do
    line=$("$BENCH" --url "$URL" --qd 32 "${args[@]}" --seconds "$SECS" --ramp 0.5 --range-mb "$SIZE_MB" \
      --target-pid "$LS_TARGET_PID" 2> /dev/null) || die "$w: iscsi-bench failed"
    read -r us mbps iops errors p50 p99 < <(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print(r["cpu"]["target_us_per_io"], r["mbps"], r["iops"], r["errors"], r["lat_us"]["p50"], r["lat_us"]["p99"])' "$line")
    [ "$errors" = 0 ] || die "$w: $errors failed commands"
    printf '%-7s target %7.1f us/io  %8.1f MiB/s  %9.0f IOPS  p50 %8.1f us  p99 %8.1f us\n' \
      "$w" "$us" "$mbps" "$iops" "$p50" "$p99"
    vals+=("$us")
  done
  printf '%-7s median %7.1f us/io\n' "$w" "$(printf '%s\n' "${vals[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p")"
done
