#!/usr/bin/env bash
# compare-tgt.sh - livesnap's iSCSI target against tgt (the C userspace target), side by side
# in one run, with ../shared/bench's iscsi-bench + compare.sh (interleaved A/B, medians, ratios).
#
#   tools/bench/compare-tgt.sh [--quick] [--rounds N] [--seconds S] [--size-mb N]
#                              [--match tgt|livesnap|none] [--self] [--out DIR]
#
#   --quick        1 round x 2 s, 256 MiB (a smoke run, ~40 s; ratios are noisy)
#   --match tgt    (default) livesnap's config takes tgt 1.0.85's defaults: MaxRecvDataSegmentLength
#                  8192 (target side), FirstBurstLength 65536, MaxBurstLength 262144,
#                  MaxOutstandingR2T 1. Not configurable in livesnap: InitialR2T (tgt Yes, livesnap No)
#   --match livesnap   tgt is raised to livesnap's defaults (262144/262144/1048576, MaxOutstandingR2T 8,
#                  InitialR2T=No): every negotiated key the same
#   --match none   each target with its own defaults
#   --self         tgt against tgt (the noise floor of this machine; no livesnap needed)
#
# Both LUNs live in RAM (/dev/shm): tgt's backing file, livesnap's data dir, same size.
# The livesnap daemon inherits the environment: LIVESNAP_BUSY_POLL_US=0 runs it without busy-polling.
# Needs $LIVESNAP_SHARED (default <repo>/../shared) with bench/compare.sh and bench/tgt-up.sh.
# Prints the negotiated parameters, compare.sh's table (A = livesnap, B = tgt: A/B > 1 means
# livesnap is faster, except rr4k_qd1 which is latency, lower is better) and stops both targets.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SHARED="${LIVESNAP_SHARED:-$ROOT/../shared}"
ROUNDS=3 SECS=3 SIZE_MB=1024 MATCH=tgt SELF=0 OUT="" QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ROUNDS=1 SECS=2 SIZE_MB=256; shift;;
    --rounds) ROUNDS=$2; shift 2;;
    --seconds) SECS=$2; shift 2;;
    --size-mb) SIZE_MB=$2; shift 2;;
    --match) MATCH=$2; shift 2;;
    --self) SELF=1; shift;;
    --out) OUT=$2; shift 2;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "compare-tgt.sh: unknown option $1 (see --help)" >&2; exit 2;;
  esac
done
die() { echo "compare-tgt.sh: $*" >&2; exit 1; }
case "$MATCH" in tgt|livesnap|none) ;; *) die "--match must be tgt, livesnap or none";; esac
[ -f "$SHARED/bench/compare.sh" ] && [ -f "$SHARED/bench/tgt-up.sh" ] && [ -f "$SHARED/bench/iscsi-bench.c" ] ||
  die "no bench tools in $SHARED/bench (set LIVESNAP_SHARED to the shared folder that holds bench/compare.sh)"
command -v tgtd > /dev/null || die "tgtd is missing (apt-get install tgt)"
# shellcheck source=tools/bench/lib.sh
source "$HERE/lib.sh"
BENCH=$(build_iscsi_bench "$SHARED/bench") || die "cannot build iscsi-bench"
[ -n "$OUT" ] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/livesnap-bench.XXXXXX")
mkdir -p "$OUT"

# tgt's parameters for each --match; tgt-up.sh applies them with tgtadm.
TGT_PARAMS=()
[ "$MATCH" = livesnap ] && TGT_PARAMS=(--param MaxRecvDataSegmentLength=262144 --param FirstBurstLength=262144
  --param MaxBurstLength=1048576 --param InitialR2T=No --param MaxOutstandingR2T=8)
TGT_PORT=$(free_port) TGT_STATE="$OUT/tgt-state"
LS_DATA=""
cleanup() {
  set +e
  [ -n "${LS_TARGET_PID:-}" ] && ls_target_stop
  [ -n "$LS_DATA" ] && rm -rf "$LS_DATA"
  [ -f "$TGT_STATE/pid" ] && "$SHARED/bench/tgt-down.sh" --state-dir "$TGT_STATE" > /dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$(date +%s)
TGT_URL=$("$SHARED/bench/tgt-up.sh" --port "$TGT_PORT" --size-mb "$SIZE_MB" --dir /dev/shm \
  --state-dir "$TGT_STATE" "${TGT_PARAMS[@]}" 2> "$OUT/tgt-up.log") || { cat "$OUT/tgt-up.log" >&2; die "tgt-up.sh failed"; }
TGT_PID=$(cat "$TGT_STATE/pid")
if [ "$SELF" = 1 ]; then
  A_NAME=tgt-a A_URL=$TGT_URL A_PID=$TGT_PID
else
  # shellcheck source=tools/interop/lib/livesnap-target.sh
  source "$ROOT/tools/interop/lib/livesnap-target.sh"
  ls_target_build || die "cannot build the livesnap bundle"
  LS_DATA=$(mktemp -d /dev/shm/livesnap-bench.XXXXXX)
  PROFILE=livesnap
  [ "$MATCH" = tgt ] && PROFILE=tgt
  python3 "$HERE/limits-config.py" "$PROFILE" "$LS_DATA/config.json" || die "cannot write livesnap's config"
  ls_target_start "$LS_DATA/daemon" --config "$LS_DATA/config.json" || die "livesnap serve did not start"
  ls_cli volume create bench "${SIZE_MB}M" > /dev/null || die "volume create failed"
  read -r _ _ A_URL < <(ls_volume_lun bench) || die "the bench volume has no LUN"
  A_NAME=livesnap A_PID=$LS_TARGET_PID
fi
echo "A = $A_NAME $A_URL (pid $A_PID)"
echo "B = tgt $TGT_URL (pid $TGT_PID), tgt $(tgtd --version 2> /dev/null | head -n 1 || echo '?')"
echo "LUNs: ${SIZE_MB} MiB in /dev/shm; rounds=$ROUNDS seconds=$SECS; parameters matched to: $MATCH"
negotiated "$BENCH" "$A_NAME" "$A_URL"
negotiated "$BENCH" tgt "$TGT_URL"

bash "$SHARED/bench/compare.sh" --bench "$BENCH" --name-a "$A_NAME" --name-b tgt \
  --pid-a "$A_PID" --pid-b "$TGT_PID" --rounds "$ROUNDS" --seconds "$SECS" \
  --out "$OUT/compare" --json "$OUT/summary.json" "$A_URL" "$TGT_URL" 2> "$OUT/compare.log" | tee "$OUT/table.txt"
rc=${PIPESTATUS[0]}
[ "$SELF" = 1 ] || kill -0 "$A_PID" 2> /dev/null || { echo "livesnap target died during the run:"; tail -n 20 "$LS_DATA/daemon/serve.log"; rc=1; }
echo "runs with failed commands: $(grep -c '"errors":[1-9]' "$OUT/compare/runs.jsonl" || true)"
echo "raw runs: $OUT/compare/runs.jsonl; per-run lines: $OUT/compare.log; took $(($(date +%s) - T0)) s"
exit "$rc"
