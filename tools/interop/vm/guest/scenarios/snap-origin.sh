# snap-origin: boot 1 of the live-snapshot test. Make a file system with a data set and
# its manifest, keep a background writer going, let the host take a live snapshot (hook
# SNAPSHOT, VM not paused), keep writing, then check that the origin is intact.
# Exports for boot 2: SNAP_SURE (bg files durable before the snapshot) and SNAP_LAST
# (bg files started before the snapshot finished).
snap_lun_check() {
    # the exposed snapshot must show up in this live session as a read-only disk
    iscsiadm -m session -R > /dev/null || return 1
    find_disk "$LS_SNAP_LUN" || { echo "LUN $LS_SNAP_LUN not found after rescan"; return 1; }
    disk_info "$DEV"
    mark "EXPORT:SNAP_WWID=$(wwid "$DEV")"
    info "origin wwid $(wwid "$ORIGIN"), snapshot wwid $(wwid "$DEV")"
    [ -n "$(wwid "$DEV")" ] && [ "$(wwid "$DEV")" != "$(wwid "$ORIGIN")" ] ||
        { echo "the snapshot LUN has no identifier of its own"; return 1; }
    [ "$(cat /sys/block/${DEV#/dev/}/ro)" = 1 ] || { echo "$DEV is not write-protected"; return 1; }
    # go around the kernel's write protect: the target itself must refuse the write
    blockdev --setrw "$DEV"
    if dd if=/dev/zero of="$DEV" bs=4096 count=1 oflag=direct 2>/dev/null; then
        echo "a write to the snapshot LUN succeeded"; return 1
    fi
    return 0
}

ls_main() {
    bring_up
    ORIGIN=$DEV
    check mkfs mkfs.ext4 -F -q "$ORIGIN" || finish
    check mount mount -t ext4 "$ORIGIN" "$MNT" || finish
    check write-files write_dataset "$MNT/data" || finish
    check sync sync
    rm -f /tmp/bg.stop; echo 0 > /tmp/bg.done
    bg_writer "$MNT" &
    BG=$!
    sleep "${LS_PRE_SNAP_S:-3}"
    sure=$(cat /tmp/bg.done)
    [ "$sure" -gt 0 ] || fail bg-writer "no background write finished before the snapshot"
    step snapshot
    hook SNAPSHOT && ok snapshot "while w$sure..w$(( $(cat /tmp/bg.done) + 1 )) were being written"
    last=$(( $(cat /tmp/bg.done) + 1 ))
    mark "EXPORT:SNAP_SURE=$sure"
    mark "EXPORT:SNAP_LAST=$last"
    [ -n "$LS_SNAP_LUN" ] && check snapshot-lun-live snap_lun_check
    sleep "${LS_POST_SNAP_S:-3}"
    touch /tmp/bg.stop
    wait $BG
    [ -e /tmp/bg.error ] && fail bg-writer "$(cat /tmp/bg.error)"
    bg_total=$(cat /tmp/bg.done)
    info "background writer: $bg_total files, $sure before and $((bg_total - last)) after the snapshot"
    [ $((bg_total - last)) -gt 0 ] || fail bg-writer "no writes after the snapshot: the test proves nothing"
    check umount umount "$MNT" || finish
    drop_caches "$ORIGIN"
    check e2fsck-origin e2fsck -fn "$ORIGIN"
    check mount-ro mount -t ext4 -o ro "$ORIGIN" "$MNT" || finish
    check verify-origin verify_dataset "$MNT/data" "$MNT/MANIFEST.sha256"
    check verify-origin-bg bg_check "$MNT" "$bg_total" "$bg_total" origin
    umount "$MNT"
    check kernel-log-origin kernel_clean "$ORIGIN"
    iscsi_logout
    LS_DONE=1
    finish
}
