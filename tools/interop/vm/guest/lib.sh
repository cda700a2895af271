# Guest helpers (busybox ash). Markers on the console, parsed by vm.py:
#   @@LS:STEP:name  @@LS:OK:name:<ms>ms detail  @@LS:FAIL:name:reason  @@LS:INFO:text
#   @@LS:TIME:key=value  @@LS:EXPORT:key=value (handed to a later boot)
#   @@LS:HOOK:name  (then wait for "@@LS-ACK:name:rc" from the host on the console)
#   @@LS:RESULT:PASS|FAIL
LS_FAILS=0
LS_DONE=0
MNT=/mnt

ms() { awk '{printf "%d", $1*1000}' /proc/uptime; }
mark() { echo "@@LS:$*"; }
info() { mark "INFO:$*"; }
step() { STEP=$1; T0=$(ms); mark "STEP:$1"; }
ok() { mark "OK:${1:-$STEP}:$(( $(ms) - T0 ))ms${2:+ $2}"; }
fail() { LS_FAILS=$((LS_FAILS + 1)); mark "FAIL:${1:-$STEP}:${2:-failed}"; }
# check NAME CMD... : a step that passes when CMD exits 0
check() {
    local n=$1 rc; shift
    step "$n"
    "$@"; rc=$?
    if [ $rc -eq 0 ]; then ok "$n"; else fail "$n" "exit $rc: $*"; fi
    return $rc
}

finish() {
    trap - EXIT
    grep -q " $MNT " /proc/mounts && umount "$MNT"
    if [ $LS_FAILS -ne 0 ]; then info "dmesg tail:"; dmesg | tail -n 40; fi
    mark "TIME:guest_ms=$(ms)"
    if [ $LS_FAILS -eq 0 ] && [ $LS_DONE = 1 ]; then mark "RESULT:PASS"; else mark "RESULT:FAIL"; fi
    sync
    poweroff -f
}
die() { fail "$1" "$2"; finish; }

# hook NAME: the host runs its command for NAME while the guest waits; the host may
# send "@@LS-SET:K=V" lines first (e.g. the LUN of a snapshot it exposed) -> LS_K.
hook() {
    local line kv k v rc
    mark "HOOK:$1"
    while read -t "${LS_HOOK_WAIT:-150}" line; do
        case "$line" in
        *"@@LS-SET:"*)
            kv=${line##*@@LS-SET:}; k=${kv%%=*}; v=$(echo "${kv#*=}" | tr -cd 'A-Za-z0-9._:-')
            case "$k" in *[!A-Z0-9_]*|"") ;; *) eval "LS_$k=\$v"; info "host set LS_$k=$v";; esac;;
        *"@@LS-ACK:$1:"*)
            rc=$(echo "${line##*:}" | tr -cd 0-9)
            [ "$rc" = 0 ] && return 0
            fail "hook-$1" "host hook exited ${rc:-?}"
            return 1;;
        esac
    done
    fail "hook-$1" "no answer from the host"
    return 1
}

load_modules() {
    local kver=$(uname -r) name rel kind
    while read -r name rel kind; do
        if ! insmod "/lib/modules/$kver/$rel" 2>/tmp/insmod.err && ! grep -q "File exists" /tmp/insmod.err; then
            if [ "$kind" = optional ]; then info "optional module $name: $(cat /tmp/insmod.err)"
            else echo "insmod $name: $(cat /tmp/insmod.err)"; return 1; fi
        fi
    done < "/lib/modules/$kver/load-order"
}

net_up() {
    local n=0
    while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do usleep 100000; n=$((n + 1)); done
    ip link set lo up && ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0
}

iscsid_up() {
    local n=0
    echo "InitiatorName=$LS_INITIATOR" > /etc/iscsi/initiatorname.iscsi
    printf 'iscsid.startup = /bin/true\nnode.session.initial_login_retry_max = 1\n' > /etc/iscsi/iscsid.conf
    iscsid -f &
    while ! grep -q ISCSIADM_ABSTRACT_NAMESPACE /proc/net/unix; do
        [ $n -lt 100 ] || return 1
        usleep 50000; n=$((n + 1))
    done
}

node_set() { iscsiadm -m node -T "$LS_TARGET" -p "$LS_PORTAL" -o update -n "$1" -v "$2"; }

discover() {
    iscsiadm -m discovery -t sendtargets -p "$LS_PORTAL" > /tmp/disc 2>&1; rc=$?
    sed 's/^/  discovered: /' /tmp/disc
    # SendTargets answers with the target's host address, which the guest cannot reach:
    # keep the check, drop the records, log in through the static record for the relay.
    iscsiadm -m node -o delete > /dev/null 2>&1
    [ $rc -eq 0 ] && grep -q " $LS_TARGET\$" /tmp/disc
}

iscsi_login() {
    iscsiadm -m node -o new -T "$LS_TARGET" -p "$LS_PORTAL" > /dev/null || return 1
    node_set node.session.initial_login_retry_max 1 || return 1
    node_set node.session.timeo.replacement_timeout 30 || return 1
    node_set 'node.conn[0].iscsi.HeaderDigest' "$LS_HEADER_DIGEST" || return 1
    node_set 'node.conn[0].iscsi.DataDigest' "$LS_DATA_DIGEST" || return 1
    if [ -n "$LS_CHAP_USER" ]; then
        node_set node.session.auth.authmethod CHAP || return 1
        node_set node.session.auth.username "$LS_CHAP_USER" || return 1
        node_set node.session.auth.password "$LS_CHAP_PASS" || return 1
        if [ -n "$LS_CHAP_USER_IN" ]; then
            node_set node.session.auth.username_in "$LS_CHAP_USER_IN" || return 1
            node_set node.session.auth.password_in "$LS_CHAP_PASS_IN" || return 1
        fi
    fi
    iscsiadm -m node -T "$LS_TARGET" -p "$LS_PORTAL" --login
}

# What was negotiated, as the kernel sees it.
session_info() {
    local s c f line
    for s in /sys/class/iscsi_session/session*; do
        line="session:"
        for f in initial_r2t immediate_data first_burst_len max_burst_len max_outstanding_r2t erl username; do
            [ -r "$s/$f" ] && line="$line $f=$(cat $s/$f 2>/dev/null)"
        done
        info "$line"
    done
    for c in /sys/class/iscsi_connection/connection*; do
        line="connection:"
        for f in header_digest data_digest max_recv_dlength max_xmit_dlength; do
            [ -r "$c/$f" ] && line="$line $f=$(cat $c/$f 2>/dev/null)"
        done
        info "$line"
    done
}

# find_disk LUN -> DEV (/dev/sdX) of that LUN (auto: lowest LUN of type disk) of our target
find_disk() {
    local want=$1 n=0 d lun; DEV=
    while [ $n -lt 300 ]; do
        for d in /sys/class/iscsi_session/session*/device/target*/*:*:*:*; do
            [ -d "$d/block" ] || continue
            lun=${d##*:}
            if [ "$want" = auto ]; then [ "$(cat $d/type)" = 0 ] || continue
            elif [ "$lun" != "$want" ]; then continue; fi
            DEV=/dev/$(ls "$d/block" | head -n 1)
            SDIR=$d
            [ -b "$DEV" ] && return 0
        done
        usleep 100000; n=$((n + 1))
    done
    return 1
}

disk_info() {
    local b=${1#/dev/} q=/sys/block/${1#/dev/}/queue
    info "disk $1 lun=${SDIR##*:} vendor=$(echo $(cat $SDIR/vendor)) model=$(echo $(cat $SDIR/model)) size=$(blockdev --getsize64 $1) lbs=$(cat $q/logical_block_size) max_sectors_kb=$(cat $q/max_sectors_kb) write_cache=$(cat $q/write_cache) fua=$(cat $q/fua 2>/dev/null) discard_max=$(cat $q/discard_max_bytes) ro=$(cat /sys/block/$b/ro)"
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; [ -n "$1" ] && blockdev --flushbufs "$1"; return 0; }

# write_dataset DIR: random files + many small ones, manifest in DIR/../MANIFEST.sha256
write_dataset() {
    local i kb
    mkdir -p "$1/small" || return 1
    i=0
    for kb in ${LS_FILE_KB:-4 100 1024 4096 16384}; do
        dd if=/dev/urandom of="$1/f$i.bin" bs=1024 count="$kb" 2>/dev/null || return 1
        i=$((i + 1))
    done
    i=0
    while [ $i -lt "${LS_SMALL_FILES:-150}" ]; do
        head -c $(( (i * 37) % 8192 + 1 )) /dev/urandom > "$1/small/s$i" || return 1
        i=$((i + 1))
    done
    (cd "$1" && find . -type f | sort | xargs sha256sum) > "$1/../MANIFEST.sha256" || return 1
    info "data set: $(wc -l < "$1/../MANIFEST.sha256") files, $(du -sk "$1" | cut -f1) KiB"
}

# verify_dataset DIR MANIFEST: every file listed must be there with its checksum
verify_dataset() {
    local rc total good
    (cd "$1" && sha256sum -c "$2") > /tmp/verify.out 2>&1; rc=$?
    grep -v ': OK$' /tmp/verify.out | head -n 10
    total=$(grep -c . "$2"); good=$(grep -c ': OK$' /tmp/verify.out)
    info "verified $good of $total files"
    [ $rc -eq 0 ] && [ "$good" = "$total" ] && [ "$total" -gt 0 ]
}

# The common start of every scenario: modules, network, iSCSI login, LUN.
bring_up() {
    trap 'die init "scenario exited early"' EXIT
    mark "TIME:boot_ms=$(ms)"
    check modules load_modules || die modules "insmod failed"
    check net net_up || die net "network setup failed"
    iscsid_up || die iscsid "iscsid did not start"
    if [ "$LS_DISCOVERY" = 1 ]; then check discovery discover; fi
    step login
    if [ "$LS_EXPECT_LOGIN_FAIL" = 1 ]; then
        if iscsi_login > /tmp/login.out 2>&1; then
            cat /tmp/login.out; fail login "login succeeded but must have been refused"
        else
            sed 's/^/  /' /tmp/login.out; ok login "refused as expected"
        fi
        LS_DONE=1; finish
    fi
    iscsi_login || die login "login to $LS_TARGET failed"
    ok login
    session_info
    check disk find_disk "$LS_LUN" || die disk "LUN $LS_LUN did not appear"
    disk_info "$DEV"
    mark "TIME:ready_ms=$(ms)"
}

iscsi_logout() {
    grep -q " $MNT " /proc/mounts && umount "$MNT"
    check logout iscsiadm -m node -T "$LS_TARGET" -p "$LS_PORTAL" --logout
}

# The background writer's files: w<i> in bg/d<i/40>/, (i%16+1)*16 KiB of a pattern that
# names the file, so any copy can be checked without a manifest. After writing w<i> it
# deletes w<i-8> when (i-8)%3==0: freed blocks get reused, so post-snapshot writes land
# on blocks the snapshot still needs (the copy-on-write case that matters).
bg_path() { echo "$1/bg/d$(($2 / 40))/w$2"; }
bg_pattern() { yes "livesnap bg file w$1 " | head -c $(( ($1 % 16 + 1) * 16384 )); }
bg_deleted_by() { [ $(($1 % 3)) = 0 ] && [ $(($1 + 8)) -le "$2" ]; }  # is w$1 deleted once w$2 exists?

bg_writer() {
    i=1
    while [ ! -e /tmp/bg.stop ]; do
        mkdir -p "$1/bg/d$((i / 40))"
        bg_pattern $i | dd of="$(bg_path "$1" $i)" bs=64k conv=fsync 2>/dev/null ||
            { echo "w$i: write or fsync failed" > /tmp/bg.error; break; }
        if [ $i -ge 8 ] && [ $(((i - 8) % 3)) = 0 ]; then rm -f "$(bg_path "$1" $((i - 8)))"; fi
        echo $i > /tmp/bg.done  # w1..w$i are on stable storage (fsync returned)
        i=$((i + 1))
    done
}

# bg_check ROOT SURE LAST MODE (MODE=snapshot|origin):
#  w1..wSURE were fsync'd before the snapshot: present and intact, unless their delete
#    (after w(j+8)) may have run before it; if w(j+9) was fsync'd too, the delete was
#    committed, so the file must be gone;
#  w(SURE+1)..wLAST were in flight: missing, or a prefix of their pattern;
#  anything after wLAST was started after the snapshot finished: absent.
# origin: after a clean unmount SURE=LAST=total and every file is certain.
bg_check() {
    local root=$1 sure=$2 last=$3 bad=0 present=0 j=1 f sz
    for f in $(find "$root/bg" -type f -name 'w*'); do
        j=${f##*/w}
        if [ "$j" -gt "$last" ]; then echo "w$j exists but was created after the snapshot"; bad=$((bad + 1)); fi
    done
    j=1
    while [ $j -le "$last" ]; do
        f=$(bg_path "$root" $j)
        if [ -e "$f" ]; then
            sz=$(stat -c %s "$f")
            if bg_deleted_by $j $((sure - 1)); then
                echo "w$j exists but its delete was committed before the snapshot"; bad=$((bad + 1))
            elif [ $j -le "$sure" ]; then
                present=$((present + 1))
                bg_pattern $j | cmp -s - "$f" || { echo "w$j ($sz bytes) differs"; bad=$((bad + 1)); }
            else
                present=$((present + 1))
                bg_pattern $j | head -c "$sz" | cmp -s - "$f" || { echo "w$j ($sz bytes) is not a prefix of its pattern"; bad=$((bad + 1)); }
            fi
        elif [ $j -le "$sure" ] && ! bg_deleted_by $j "$last"; then
            echo "w$j is missing"; bad=$((bad + 1))
        fi
        j=$((j + 1))
    done
    info "bg files ($4): $present present of w1..w$last, $bad bad (certain up to w$sure)"
    [ $bad -eq 0 ]
}

# kernel_clean DEV: no I/O or ext4 errors logged for DEV (sdX or loopN) during this boot
kernel_clean() {
    local name=${1#/dev/}
    dmesg | grep -E "(I/O error|critical|error).*dev $name|EXT4-fs error \(device $name\)|$name.*(FAILED|timing out)" > /tmp/kerr
    [ -s /tmp/kerr ] && { head -n 10 /tmp/kerr; return 1; }
    return 0
}

# wwid DEV: the LUN's identifier as the kernel built it from VPD page 0x83
wwid() { tr -d ' \n' < "/sys/block/${1#/dev/}/device/wwid" 2>/dev/null; }
