#!/usr/bin/env python3
"""login-params.py HOST PORT - what an initiator and a target negotiated, read off the wire.

Listens on 127.0.0.1 (port printed on the first stdout line), relays ONE connection to
HOST:PORT (loopback only), decodes the Login Request/Response PDUs passing through, and when
the connection closes prints one line: the operational keys as the target answered them,
plus each side's declared MaxRecvDataSegmentLength. Used by compare-tgt.sh around an
`iscsi-bench --probe` login, so both targets are described the same way."""
import select
import socket
import sys

LOGIN_REQ, LOGIN_RSP = 0x03, 0x23
SHOW = ["HeaderDigest", "DataDigest", "InitialR2T", "ImmediateData", "FirstBurstLength",
        "MaxBurstLength", "MaxOutstandingR2T", "MaxConnections", "ErrorRecoveryLevel"]


class PduScanner:
    """Collects key=value pairs of login PDUs from one direction of the byte stream."""

    def __init__(self):
        self.buf, self.keys, self.in_login = b"", {}, True

    def feed(self, data):
        self.buf += data
        while self.in_login and len(self.buf) >= 48:
            opcode = self.buf[0] & 0x3F
            ahs = self.buf[4] * 4
            dlen = int.from_bytes(self.buf[5:8], "big")
            total = 48 + ahs + dlen + (-dlen % 4)  # no digests during login
            if len(self.buf) < total:
                return
            if opcode in (LOGIN_REQ, LOGIN_RSP):
                text = self.buf[48 + ahs:48 + ahs + dlen]
                for item in text.split(b"\0"):
                    if b"=" in item:
                        k, v = item.decode(errors="replace").split("=", 1)
                        self.keys[k] = v
            else:
                self.in_login = False  # full feature phase: nothing more to learn
            self.buf = self.buf[total:]


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    if not host.startswith("127."):
        sys.exit("login-params.py: loopback targets only")
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    print(lsock.getsockname()[1], flush=True)
    lsock.settimeout(30)
    client, _ = lsock.accept()
    target = socket.create_connection((host, port), timeout=30)
    scan = {client: PduScanner(), target: PduScanner()}
    peer = {client: target, target: client}
    live = [client, target]
    while len(live) == 2:
        for s in select.select(live, [], [], 30)[0]:
            data = s.recv(65536)
            if not data:
                live.remove(s)
                break
            scan[s].feed(data)
            peer[s].sendall(data)
    ini, tgt = scan[client].keys, scan[target].keys
    if not tgt:
        print("no login response seen")
        return 1
    parts = ["%s=%s" % (k, tgt[k]) for k in SHOW if k in tgt]
    parts.append("MaxRecvDataSegmentLength(target)=%s" % tgt.get("MaxRecvDataSegmentLength", "8192(default)"))
    parts.append("MaxRecvDataSegmentLength(initiator)=%s" % ini.get("MaxRecvDataSegmentLength", "8192(default)"))
    print(" ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
