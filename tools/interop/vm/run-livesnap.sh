#!/usr/bin/env bash
# run-livesnap.sh - the Linux kernel initiator (open-iscsi + iscsi_tcp, in QEMU) against the
# real livesnap target: builds the bundle if a source changed, starts `livesnap serve` on
# free loopback ports with a fresh data dir, creates a scratch volume, runs the boots of
# scenarios.sh (fs + digests + discovery, live snapshot + verify, CHAP), stops the target.
#   LS_VM_ONLY="fs snap chap"   subset;  LS_VM_FIO=0  no fio;  LS_VM_KEEP=1  keep the data dir
# Last line: "INTEROP-VM PASS|FAIL ..."; exit 0 only on PASS.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=tools/interop/lib/livesnap-target.sh
source "$ROOT/tools/interop/lib/livesnap-target.sh"
fail() { echo "INTEROP-VM FAIL: $*"; exit 1; }

ls_target_build || fail "cannot build the livesnap bundle"
DATA=$(mktemp -d "${TMPDIR:-/tmp}/livesnap-vm.XXXXXX")
cleanup() {
  ls_target_stop
  if [ "${LS_VM_KEEP:-0}" = 1 ]; then echo "kept $DATA" >&2; else rm -rf "$DATA"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two targets: one without authentication for the file-system and snapshot boots, one that
# requires (mutual) CHAP. chap-config.py prints CHAP_TARGET/CHAP_LUN/CHAP_USER/... assignments.
CHAP_VARS=$(python3 "$HERE/chap-config.py" "$DATA/config.json") || fail "cannot write the daemon config"
eval "$CHAP_VARS"
ls_target_start "$DATA/daemon" --config "$DATA/config.json" || fail "livesnap serve did not start"
ls_cli volume create chapvol 16M > /dev/null || fail "volume create chapvol failed"
ls_cli volume create chapvol1 16M > /dev/null || fail "volume create chapvol1 failed"
ls_cli volume create vm 64M > /dev/null || fail "volume create failed"
read -r IQN LUN _ < <(ls_volume_lun vm) || fail "the volume has no LUN"
echo "target $IQN LUN $LUN on 127.0.0.1:$LS_TARGET_PORT" >&2

export LS_BUNDLE LS_TARGET_DATA
# The live snapshot: the VM keeps running and writing while these two CLI calls run.
HOOK='node "$LS_BUNDLE" snapshot create vm live --data-dir "$LS_TARGET_DATA" &&
  node "$LS_BUNDLE" snapshot expose vm live --json --data-dir "$LS_TARGET_DATA" > "$LS_VM_RUN_DIR/expose.json" &&
  cat "$LS_VM_RUN_DIR/expose.json" &&
  python3 -c "import json,sys; print(\"SNAP_LUN=%d\" % json.load(open(sys.argv[1]))[\"lun\"])" "$LS_VM_RUN_DIR/expose.json" > "$LS_VM_HOOK_ENV"'
PORTAL=127.0.0.1:$LS_TARGET_PORT TARGET=$IQN ORIGIN_LUN=$LUN SNAPSHOT_HOOK=$HOOK \
  CHAP_TARGET=$CHAP_TARGET CHAP_LUN=$CHAP_LUN CHAP1_TARGET=$CHAP1_TARGET CHAP1_LUN=$CHAP1_LUN CHAP_USER=$CHAP_USER CHAP_PASS=$CHAP_PASS \
  CHAP_IN_USER=$CHAP_IN_USER CHAP_IN_PASS=$CHAP_IN_PASS bash "$HERE/scenarios.sh"
rc=$?
kill -0 "$LS_TARGET_PID" 2> /dev/null || { echo "INTEROP-VM FAIL: the target died during the run"; tail -n 20 "$DATA/daemon/serve.log"; exit 1; }
if ! ls_target_stop; then
  echo "INTEROP-VM FAIL: the target did not stop cleanly on SIGTERM (exit $LS_TARGET_EXIT)"
  tail -n 20 "$DATA/daemon/serve.log"
  exit 1
fi
if [ $rc -eq 0 ]; then echo "INTEROP-VM PASS: every boot passed, the target stopped cleanly (SIGTERM, exit 0)"
else echo "INTEROP-VM FAIL: see the boots above (the target stopped cleanly)"; fi
exit $rc
