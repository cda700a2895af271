#!/usr/bin/env bash
# scenarios.sh - the interop suite's boots, in order, against one running target.
# Environment (set by run-livesnap.sh / run-tgt.sh):
#   PORTAL=127.0.0.1:PORT TARGET=IQN       the target under test
#   ORIGIN_LUN=N                            the scratch LUN (default: lowest disk LUN)
#   SNAPSHOT_HOOK='cmd'                     host command run at the guest's SNAPSHOT hook;
#                                           it writes SNAP_LUN=N to $LS_VM_HOOK_ENV
#   CHAP_USER CHAP_PASS [ENABLE_CHAP='cmd'] CHAP boots (ENABLE_CHAP runs just before them)
#   [CHAP_TARGET CHAP_LUN]                  where CHAP is required (default TARGET, ORIGIN_LUN)
#   [CHAP_IN_USER CHAP_IN_PASS]             mutual CHAP: the target's credentials
#   [CHAP1_TARGET CHAP1_LUN]                where one-way CHAP is tried (default CHAP_TARGET)
#   LS_VM_FIO=0                             skip fio (default 1: fio with verification in fs-digests)
#   LS_VM_ONLY="fs snap"                    a subset: fs, snap, chap
#   LS_VM_VERIFY_LUN=N                      checker self-test: verify LUN N instead of the snapshot
#                                           (the origin's LUN must make snap-verify FAIL)
# Prints one line per boot and a closing verdict; exit 0 only if every boot passed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VM=(python3 "$HERE/vm.py" boot --portal "$PORTAL" --target "$TARGET")
ONLY=" ${LS_VM_ONLY:-fs snap chap} "
WORK=$(mktemp -d /tmp/ls-vm-suite.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
pass=0; failed=(); times=()
T0=$(date +%s%N)
secs() { local d=$(( ($(date +%s%N) - $1) / 100000000 )); echo "$((d / 10)).$((d % 10))"; }

boot() {  # boot NAME ARGS...
  local name=$1 t rc; shift
  echo "== $name"
  t=$(date +%s%N)
  "${VM[@]}" "$@"; rc=$?
  t=$(secs "$t")
  times+=("$name=${t}s")
  if [ $rc -eq 0 ]; then pass=$((pass + 1)); else failed+=("$name"); fi
  return $rc
}

python3 "$HERE/vm.py" setup $([ "${LS_VM_FIO:-1}" = 1 ] && echo --fio) || { echo "INTEROP-VM FAIL: setup"; exit 1; }

if [[ $ONLY == *" fs "* ]]; then
  # discovery + CRC32C header and data digests + the file-system workload (+ fio)
  boot fs-digests --scenario fs --lun "${ORIGIN_LUN:-auto}" --discovery --header-digest CRC32C --data-digest CRC32C \
    $([ "${LS_VM_FIO:-1}" = 1 ] && echo --fio)
fi
if [[ $ONLY == *" snap "* ]]; then
  if boot snap-origin --scenario snap-origin --lun "${ORIGIN_LUN:-auto}" --hook "SNAPSHOT=$SNAPSHOT_HOOK" --export "$WORK/snap.env" \
       --initiator iqn.2026-11.dev.livesnap:vm-snap; then
    SNAP_LUN=$(sed -n 's/^SNAP_LUN=//p' "$WORK/snap.env")
    boot snap-verify --scenario snap-verify --set-file "$WORK/snap.env" --lun "${LS_VM_VERIFY_LUN:-${SNAP_LUN:-missing}}"
  else
    failed+=("snap-verify(not run)")
  fi
fi
if [[ $ONLY == *" chap "* ]]; then
  if [ -n "${ENABLE_CHAP:-}" ]; then bash -c "$ENABLE_CHAP" || failed+=("enable-chap"); fi
  CHAP_ARGS=(--target "${CHAP_TARGET:-$TARGET}" --lun "${CHAP_LUN:-${ORIGIN_LUN:-auto}}")
  boot chap-login --scenario login --target "${CHAP1_TARGET:-${CHAP_TARGET:-$TARGET}}" \
    --lun "${CHAP1_LUN:-${CHAP_LUN:-${ORIGIN_LUN:-auto}}}" --chap "$CHAP_USER:$CHAP_PASS"
  if [ -n "${CHAP_IN_USER:-}" ]; then
    boot chap-mutual-login --scenario login "${CHAP_ARGS[@]}" --chap "$CHAP_USER:$CHAP_PASS" \
      --chap-in "$CHAP_IN_USER:$CHAP_IN_PASS"
  fi
  boot chap-wrong-secret --scenario login "${CHAP_ARGS[@]}" --chap "$CHAP_USER:wrong-$CHAP_PASS" --expect-login-fail
  boot chap-none --scenario login "${CHAP_ARGS[@]}" --expect-login-fail
fi
total=$(secs "$T0")
echo "timings: ${times[*]} total=${total}s"
if [ ${#failed[@]} -eq 0 ] && [ $pass -gt 0 ]; then
  echo "INTEROP-VM PASS: $pass boots passed (${total}s)"
  exit 0
fi
echo "INTEROP-VM FAIL: $pass passed, failed: ${failed[*]:-none} (${total}s)"
exit 1
