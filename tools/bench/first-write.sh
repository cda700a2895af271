#!/usr/bin/env bash
# first-write.sh - what a live snapshot costs the writes that follow it, seen by an initiator:
# 4 KiB writes through the real target (libiscsi's iscsi-bench over loopback), on a volume that
# never had a snapshot ("plain") against the first writes after a snapshot (each one preserves
# its chunk: read old, copy to the COW store, group commit, overwrite) and the later writes
# (chunk already preserved).
#
#   tools/bench/first-write.sh [--seconds S] [--range-mb N] [--shm] [--out DIR]
#
#   --seconds S    per run (default 2). Sequential runs must not wrap: S x IOPS x 4 KiB < range
#   --range-mb N   prefilled region per volume (default 2048)
#   --shm          data dir in /dev/shm (fdatasync is free there); default: $TMPDIR, a real disk
#
# Sequential 4 KiB writes from offset 0 for "plain" and "first" (every write of the first run
# hits a chunk the new snapshot has not preserved), random 4 KiB writes within the first run's
# region for "later" and their "plain" twin. QD 1 and 32, a new snapshot before each first run.
# Prints one table; raw JSON lines stay in the output directory.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SHARED="${LIVESNAP_SHARED:-$ROOT/../shared}"
SECS=2 RANGE_MB=2048 SHM=0 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS=$2; shift 2;;
    --range-mb) RANGE_MB=$2; shift 2;;
    --shm) SHM=1; shift;;
    --out) OUT=$2; shift 2;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "first-write.sh: unknown option $1 (see --help)" >&2; exit 2;;
  esac
done
die() { echo "first-write.sh: $*" >&2; exit 1; }
[ -f "$SHARED/bench/iscsi-bench.c" ] || die "no bench tools in $SHARED/bench (set LIVESNAP_SHARED)"
# shellcheck source=tools/bench/lib.sh
source "$HERE/lib.sh"
BENCH=$(build_iscsi_bench "$SHARED/bench") || die "cannot build iscsi-bench"
[ -n "$OUT" ] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/livesnap-first-write.XXXXXX")
mkdir -p "$OUT"
# shellcheck source=tools/interop/lib/livesnap-target.sh
source "$ROOT/tools/interop/lib/livesnap-target.sh"
ls_target_build || die "cannot build the livesnap bundle"
if [ "$SHM" = 1 ]; then DATA=$(mktemp -d /dev/shm/livesnap-fw.XXXXXX); else DATA=$(mktemp -d "${TMPDIR:-/tmp}/livesnap-fw-data.XXXXXX"); fi
cleanup() {
  set +e
  [ -n "${LS_TARGET_PID:-}" ] && ls_target_stop
  rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ls_target_start "$DATA/daemon" || die "livesnap serve did not start"
for v in plain snap; do ls_cli volume create "$v" "${RANGE_MB}M" > /dev/null || die "volume create $v failed"; done
read -r _ _ PLAIN_URL < <(ls_volume_lun plain) || die "no LUN for plain"
read -r _ _ SNAP_URL < <(ls_volume_lun snap) || die "no LUN for snap"
PID=$LS_TARGET_PID

run() { # label url args... -> JSON line appended to runs.jsonl, echoed
  local label=$1 url=$2
  shift 2
  "$BENCH" --url "$url" --bs 4k --target-pid "$PID" --label "$label" "$@" 2>> "$OUT/bench.log" | tee -a "$OUT/runs.jsonl"
}
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, d))' "$1" "$2"; }

echo "livesnap target pid $PID, data dir $DATA ($([ "$SHM" = 1 ] && echo tmpfs || df -T "$DATA" | awk 'NR==2{print $2}')), range ${RANGE_MB} MiB, ${SECS} s per run"
# Prefill both volumes so every chunk holds data (a COW of an unwritten chunk copies nothing).
for url in "$PLAIN_URL" "$SNAP_URL"; do
  "$BENCH" --url "$url" --rw write --bs 1m --qd 8 --seconds 1 --range-mb "$RANGE_MB" --prefill \
    --no-final-check > /dev/null 2>> "$OUT/bench.log" || die "prefill failed (see $OUT/bench.log)"
done

ROWS=()
for qd in 1 32; do
  plain=$(run "plain-seq-qd$qd" "$PLAIN_URL" --rw write --qd "$qd" --seconds "$SECS" --range-mb "$RANGE_MB")
  ls_cli snapshot create snap "fw-qd$qd-$(date +%s%N)" > /dev/null || die "snapshot create failed"
  first=$(run "first-seq-qd$qd" "$SNAP_URL" --rw write --qd "$qd" --seconds "$SECS" --range-mb "$RANGE_MB")
  covered=$(field "$first" 'max(1, int(ios * 4096 / 1048576))')
  later=$(run "later-rand-qd$qd" "$SNAP_URL" --rw randwrite --qd "$qd" --seconds "$SECS" --range-mb "$covered")
  plainr=$(run "plain-rand-qd$qd" "$PLAIN_URL" --rw randwrite --qd "$qd" --seconds "$SECS" --range-mb "$covered")
  for r in "$plain" "$first" "$later" "$plainr"; do
    [ "$(field "$r" 'errors_total')" = 0 ] || die "a run had failed commands: $r"
  done
  ROWS+=("$(python3 - "$qd" "$plain" "$first" "$later" "$plainr" <<'PY'
import json, sys
qd = sys.argv[1]
p, f, l, pr = (json.loads(a) for a in sys.argv[2:])
def cell(d): return f"{d['iops']:,.0f} IOPS, p50 {d['lat_us']['p50']:,.0f} µs, {d['cpu'].get('target_us_per_io', 0):.0f} µs CPU/io"
print(f"| QD{qd} | {cell(p)} | {cell(f)} | **{p['iops'] / f['iops']:.2f}x** | {cell(l)} | {cell(pr)} | **{pr['iops'] / l['iops']:.2f}x** |")
PY
)")
done
echo
echo "| QD | plain (sequential, no snapshot) | first write after snapshot (sequential) | first cost | later write (random, preserved) | plain (random, same region) | later cost |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo "raw runs: $OUT/runs.jsonl"
