#!/usr/bin/env bash
# run-tgt.sh - the interop VM scenarios against tgt (the reference C target), to check the
# harness itself. tgt has no snapshots: its SNAPSHOT hook pauses the VM (SIGSTOP), copies
# the backing file and exposes the copy as read-only LUN 2. run-livesnap.sh does it live.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v tgtd > /dev/null || { echo "run-tgt.sh: FAIL tgtd missing (apt-get install tgt)"; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# tgtd's control port (-C) must be below 32768 and not used by another tgtd
CPORT=$((10000 + PORT % 20000))
while [ -e "/run/tgtd/socket.$CPORT" ]; do CPORT=$((CPORT + 1)); done
IQN="iqn.2026-11.dev.livesnap:tgt$PORT"
DIR=$(mktemp -d /tmp/ls-vm-tgt.XXXXXX)
T() { tgtadm -C "$CPORT" --lld iscsi "$@"; }
stop() {
  [ -n "${TGTD:-}" ] || return 0
  T --mode target --op delete --force --tid 1 > /dev/null 2>&1 || true
  tgtadm -C "$CPORT" --mode system --op delete > /dev/null 2>&1 || true  # tgtd ignores SIGTERM
  for _ in $(seq 30); do kill -0 "$TGTD" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$TGTD" 2> /dev/null && wait "$TGTD" 2> /dev/null
  rm -rf "$DIR" "/run/tgtd/socket.$CPORT" "/run/tgtd/socket.$CPORT.lock"
  TGTD=
}
trap stop EXIT
truncate -s 64M "$DIR/lun1.img"
tgtd -f -C "$CPORT" --iscsi "portal=127.0.0.1:$PORT" > "$DIR/tgtd.log" 2>&1 < /dev/null &
TGTD=$!
for _ in $(seq 50); do tgtadm -C "$CPORT" --mode system --op show > /dev/null 2>&1 && break; sleep 0.1; done
T --mode target --op new --tid 1 --targetname "$IQN"
T --mode logicalunit --op new --tid 1 --lun 1 --backing-store "$DIR/lun1.img"
T --mode target --op bind --tid 1 --initiator-address ALL
T --mode target --op update --tid 1 --name HeaderDigest --value CRC32C,None
T --mode target --op update --tid 1 --name DataDigest --value CRC32C,None

export TGT_CPORT=$CPORT TGT_DIR=$DIR
HOOK='kill -STOP $LS_VM_QEMU_PID && sleep 1 && cp --sparse=always $TGT_DIR/lun1.img $TGT_DIR/snap.img &&
  kill -CONT $LS_VM_QEMU_PID && tgtadm -C $TGT_CPORT --lld iscsi --mode logicalunit --op new --tid 1 --lun 2 --backing-store $TGT_DIR/snap.img &&
  tgtadm -C $TGT_CPORT --lld iscsi --mode logicalunit --op update --tid 1 --lun 2 --params readonly=1 && echo SNAP_LUN=2 > $LS_VM_HOOK_ENV'
# CHAP is bound last: once a target has an account, every login must use it.
CHAP='tgtadm -C $TGT_CPORT --lld iscsi --mode account --op new --user vmuser --password vm-secret-123 &&
  tgtadm -C $TGT_CPORT --lld iscsi --mode account --op bind --tid 1 --user vmuser &&
  tgtadm -C $TGT_CPORT --lld iscsi --mode account --op new --user tgtout --password tgt-out-secret-45 &&
  tgtadm -C $TGT_CPORT --lld iscsi --mode account --op bind --tid 1 --user tgtout --outgoing'
PORTAL=127.0.0.1:$PORT TARGET=$IQN SNAPSHOT_HOOK=$HOOK ENABLE_CHAP=$CHAP \
  CHAP_USER=vmuser CHAP_PASS=vm-secret-123 CHAP_IN_USER=tgtout CHAP_IN_PASS=tgt-out-secret-45 bash "$HERE/scenarios.sh"
