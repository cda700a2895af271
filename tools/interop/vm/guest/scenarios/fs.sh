# fs: raw O_DIRECT round trip, mkfs.ext4, files with checksums, e2fsck -fn, read back
# after dropping caches, optional fio with verification, logout.
raw_roundtrip() {
    last=$(( $(blockdev --getsize64 "$DEV") / 1048576 - 1 ))
    dd if=/dev/urandom of=/tmp/a bs=1M count=4 2>/dev/null
    dd if=/dev/urandom of=/tmp/b bs=1M count=1 2>/dev/null
    dd if=/tmp/a of="$DEV" bs=1M oflag=direct conv=fsync 2>/dev/null || return 1
    dd if=/tmp/b of="$DEV" bs=1M seek="$last" oflag=direct conv=fsync 2>/dev/null || return 1
    drop_caches "$DEV"
    dd if="$DEV" of=/tmp/a2 bs=1M count=4 iflag=direct 2>/dev/null
    dd if="$DEV" of=/tmp/b2 bs=1M skip="$last" count=1 iflag=direct 2>/dev/null
    cmp /tmp/a /tmp/a2 && cmp /tmp/b /tmp/b2
    rc=$?; rm -f /tmp/a /tmp/a2 /tmp/b /tmp/b2; return $rc
}

run_fio() {
    command -v fio > /dev/null || { echo "fio is not in this initramfs"; return 1; }
    fio --eta=never --output-format=normal \
        --name=rand4k --directory="$MNT" --size=16M --rw=randwrite --bs=4k --ioengine=libaio \
        --iodepth=16 --direct=1 --verify=crc32c --verify_fatal=1 \
        --name=seq1m --stonewall --directory="$MNT" --size=24M --rw=write --bs=1M --ioengine=libaio \
        --iodepth=4 --direct=1 --verify=crc32c --verify_fatal=1 > /tmp/fio.out 2>&1 || { tail -n 20 /tmp/fio.out; return 1; }
    grep -E '^(rand4k|seq1m): \(groupid|  write: IOPS=' /tmp/fio.out | sed 's/^ */@@LS:INFO:fio /'
}

ls_main() {
    bring_up
    check raw-io raw_roundtrip
    check mkfs mkfs.ext4 -F -q "$DEV" || finish
    check mount mount -t ext4 "$DEV" "$MNT" || finish
    check write-files write_dataset "$MNT/data"
    check umount umount "$MNT"
    drop_caches "$DEV"
    check e2fsck e2fsck -fn "$DEV"
    check mount-ro mount -t ext4 -o ro "$DEV" "$MNT" || finish
    check verify-files verify_dataset "$MNT/data" "$MNT/MANIFEST.sha256"
    umount "$MNT"
    if [ "$LS_FIO" = 1 ]; then
        check mount-fio mount -t ext4 "$DEV" "$MNT" || finish
        rm -rf "$MNT/data"  # room for fio on a small LUN
        check fio run_fio
        rm -f "$MNT"/rand4k.* "$MNT"/seq1m.*
        umount "$MNT"
        drop_caches "$DEV"
        check e2fsck-after-fio e2fsck -fn "$DEV"
    fi
    check kernel-log kernel_clean "$DEV"
    iscsi_logout
    LS_DONE=1
    finish
}
