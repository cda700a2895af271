# snap-verify: boot 2 of the live-snapshot test. The snapshot LUN holds a crash-consistent
# image taken while boot 1 wrote. Copy it to RAM (journal replay needs write access; the
# LUN is read-only), mount = replay, then e2fsck -fn must be clean, the data set must
# match its manifest and the background files must obey the snapshot's point in time.
ls_main() {
    bring_up
    [ -n "$LS_SNAP_SURE" ] && [ -n "$LS_SNAP_LAST" ] || die setup "SNAP_SURE/SNAP_LAST not given"
    info "snapshot LUN read-only: $(cat /sys/block/${DEV#/dev/}/ro), wwid $(wwid "$DEV")"
    if [ -n "$LS_SNAP_WWID" ]; then
        step same-identity
        if [ "$(wwid "$DEV")" = "$LS_SNAP_WWID" ]; then ok same-identity "as in boot 1"
        else fail same-identity "wwid $(wwid "$DEV") differs from boot 1's $LS_SNAP_WWID"; fi
    fi
    check copy-lun dd if="$DEV" of=/tmp/snap.img bs=1M iflag=direct || finish
    LOOP=$(losetup -f) && losetup "$LOOP" /tmp/snap.img || die losetup "no loop device"
    e2fsck -fn "$LOOP" > /tmp/pre.out 2>&1
    info "e2fsck -fn before journal replay: exit $? (informational)"
    check mount-replay mount -t ext4 "$LOOP" "$MNT" || finish
    check umount umount "$MNT"
    check e2fsck-snapshot e2fsck -fn "$LOOP"
    check mount-ro mount -t ext4 -o ro "$LOOP" "$MNT" || finish
    check verify-manifest verify_dataset "$MNT/data" "$MNT/MANIFEST.sha256"
    check verify-bg bg_check "$MNT" "$LS_SNAP_SURE" "$LS_SNAP_LAST" snapshot
    umount "$MNT"
    check kernel-log kernel_clean "$DEV" && check kernel-log-loop kernel_clean "$LOOP"
    iscsi_logout
    LS_DONE=1
    finish
}
