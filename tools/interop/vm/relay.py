#!/usr/bin/env python3
"""relay.py HOST PORT LOG - one guest TCP connection <-> HOST:PORT (loopback only).

QEMU's slirp starts one copy per connection the guest opens to the guestfwd address and
hands it the guest side of the connection as fd 0/1/2. Nothing may go to stderr: it would
land in the guest's TCP stream. Diagnostics go to LOG.
"""
import os
import select
import socket
import sys
import time


def main():
    host, port, logpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    logfd = os.open(logpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(logfd, 2)

    def log(msg):
        os.write(logfd, ("%.3f [%d] %s\n" % (time.time(), os.getpid(), msg)).encode())

    if not host.startswith("127."):
        log("refused: %s is not a loopback address" % host)
        return 1
    guest = socket.socket(fileno=os.dup(0))
    os.close(0)
    os.close(1)
    try:
        target = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        log("connect %s:%d: %s" % (host, port, e))
        return 1
    target.settimeout(None)
    target.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer = {guest: target, target: guest}
    count = {guest: 0, target: 0}
    live = {guest, target}
    log("connected %s -> %s:%d" % (target.getsockname(), host, port))
    while live:
        # once one side has closed, the other gets 10 s to finish
        ready, _, _ = select.select(list(live), [], [], None if len(live) == 2 else 10)
        if not ready:
            break
        for s in ready:
            try:
                data = s.recv(1 << 18)
            except OSError:
                data = b""
            if not data:
                live.discard(s)
                try:
                    peer[s].shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            count[s] += len(data)
            try:
                peer[s].sendall(data)
            except OSError as e:
                log("send: %s" % e)
                live.clear()
                break
    log("closed: guest->target %d bytes, target->guest %d bytes" % (count[guest], count[target]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
