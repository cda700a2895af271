# login: log in (CHAP / digests / negative cases are set by the host), read the first MiB, log out.
ls_main() {
    bring_up
    check read-1mib dd if="$DEV" of=/dev/null bs=1M count=1 iflag=direct
    iscsi_logout
    LS_DONE=1
    finish
}
