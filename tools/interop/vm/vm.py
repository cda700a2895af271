#!/usr/bin/env python3
"""vm.py - boot the Linux kernel iSCSI initiator (open-iscsi + iscsi_tcp) in QEMU
against a target listening on 127.0.0.1, run one guest scenario, print a verdict.

  vm.py setup                    fill the cache (kernel, modules, busybox, open-iscsi, initramfs)
  vm.py boot --portal 127.0.0.1:PORT --target IQN --scenario NAME [options]

Exit status of `boot`: 0 PASS, 1 FAIL, 2 the harness itself could not run.

Networking never leaves loopback: QEMU user networking with restrict=on; the guest's
only way out is guestfwd 10.0.2.100:3260 -> relay.py -> 127.0.0.1:PORT (one relay
process per TCP connection, because iSCSI opens several).
"""
import argparse
import ctypes
import fcntl
import glob
import gzip
import hashlib
import io
import json
import os
import queue
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST = os.path.join(HERE, "guest")
CACHE = os.environ.get("LS_VM_CACHE", os.path.expanduser("~/.cache/livesnap-vm"))
LAYOUT = "1"  # bump when the cache layout changes
GUEST_PORTAL = "10.0.2.100:3260"
LIBDIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"]

# Modules the guest loads, in dependency order after resolution; the ones marked
# optional may be absent or refuse to load (e.g. crc32c_intel without SSE4.2 under TCG).
MODULES = ["virtio_pci", "virtio_net", "crc32c_generic", "crc32c_intel", "crct10dif_generic",
           "crc64_rocksoft_generic", "scsi_transport_iscsi", "iscsi_tcp", "sd_mod", "ext4", "loop"]
OPTIONAL = {"crc32c_intel", "crct10dif_generic", "crc64_rocksoft_generic"}

# (package, path inside the package): the userland the guest needs besides busybox.
BINARIES = [("open-iscsi", "/usr/sbin/iscsiadm"), ("open-iscsi", "/usr/sbin/iscsid"),
            ("e2fsprogs", "/usr/sbin/mke2fs"), ("e2fsprogs", "/usr/sbin/e2fsck"),
            ("e2fsprogs", "/usr/sbin/dumpe2fs")]


def log(msg):
    sys.stderr.write("[vm] %s\n" % msg)
    sys.stderr.flush()


class HarnessError(Exception):
    pass


def sh(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        raise HarnessError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, r.stdout[-2000:]))
    return r.stdout


# ---------------------------------------------------------------- packages
def apt_download(pkg):
    """The newest cached .deb of pkg, downloaded with apt-get if there is none."""
    d = os.path.join(CACHE, "debs")
    os.makedirs(d, exist_ok=True)
    hits = glob.glob(os.path.join(d, glob.escape(pkg) + "_*.deb"))
    if not hits:
        log("apt-get download %s" % pkg)
        cmd = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", pkg]
        try:
            sh(cmd, cwd=d)
        except HarnessError:
            sh(["apt-get", "update", "-q"])  # stale lists: the mirror dropped that version
            sh(cmd, cwd=d)
        hits = glob.glob(os.path.join(d, glob.escape(pkg) + "_*.deb"))
    if not hits:
        raise HarnessError("apt-get download produced no .deb for " + pkg)
    return max(hits, key=os.path.getmtime)


def pkgroot():
    return os.path.join(CACHE, "pkgroot")


def extract(pkg):
    deb = apt_download(pkg)
    stamp = os.path.join(pkgroot(), ".x", os.path.basename(deb))
    if not os.path.exists(stamp):
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        sh(["dpkg-deb", "-x", deb, pkgroot()])
        open(stamp, "w").close()


def host_has(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return "install ok installed" in r.stdout


def apt_install(pkg):
    log("apt-get install %s" % pkg)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", pkg]
    try:
        sh(cmd, env=env)
    except HarnessError:
        sh(["apt-get", "update", "-q"])
        sh(cmd, env=env)


def ensure_qemu():
    if not shutil.which("qemu-system-x86_64"):
        apt_install("qemu-system-x86")


# ---------------------------------------------------------------- kernel + modules
def modinfo(path):
    """(key, value) pairs of a .ko's .modinfo section, read from the ELF file (no kmod needed)."""
    data = open(path, "rb").read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sec = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = sec[shstrndx][4]
    for s in sec:
        start = names + s[0]
        if data[start:data.index(b"\0", start)] == b".modinfo":
            items = data[s[4]:s[4] + s[5]].split(b"\0")
            return [tuple(x.decode(errors="replace").split("=", 1)) for x in items if b"=" in x]
    return []


def resolve_modules(moddir):
    """Load order for MODULES with their `depends` and `softdep pre:` closures."""
    index = {}
    for dp, _, fns in os.walk(os.path.join(moddir, "kernel")):
        for fn in fns:
            if fn.endswith(".ko"):
                index[fn[:-3].replace("-", "_")] = os.path.relpath(os.path.join(dp, fn), moddir)
    aliases = {}
    for name, rel in index.items():
        if rel.startswith(("kernel/crypto/", "kernel/arch/", "kernel/lib/")):
            for k, v in modinfo(os.path.join(moddir, rel)):
                if k == "alias":
                    aliases.setdefault(v, []).append(name)
    order, seen = [], set()

    def visit(name, optional):
        name = name.replace("-", "_")
        if name in seen:
            return
        if name not in index:
            cands = aliases.get(name, [])
            cands = [c for c in cands if c.endswith("_generic")] or cands
            if not cands:
                if optional:
                    return
                raise HarnessError("kernel module %s not in the kernel package" % name)
            name = cands[0]
            if name in seen:
                return
        seen.add(name)
        for k, v in modinfo(os.path.join(moddir, index[name])):
            if k == "softdep":
                for part in re.findall(r"pre:\s*([^:]*?)(?=\s*(?:post:|$))", v):
                    for s in part.split():
                        visit(s, True)
            elif k == "depends" and v:
                for d in v.split(","):
                    visit(d, False)
        order.append(name)

    for m in MODULES:
        visit(m, m in OPTIONAL)
    return [(n, index[n]) for n in order]


def setup_kernel():
    txt = sh(["apt-cache", "depends", "linux-image-amd64"])
    m = re.search(r"Depends: (linux-image-[0-9]\S*)", txt)
    if not m:
        sh(["apt-get", "update", "-q"])
        m = re.search(r"Depends: (linux-image-[0-9]\S*)", sh(["apt-cache", "depends", "linux-image-amd64"]))
    if not m:
        raise HarnessError("apt-cache cannot resolve linux-image-amd64")
    pkg = m.group(1)
    kdir = os.path.join(CACHE, "kernel", pkg)
    if os.path.exists(os.path.join(kdir, ".ok" + LAYOUT)):
        return kdir
    t0 = time.time()
    deb = apt_download(pkg)
    tmp = tempfile.mkdtemp(prefix="kx-", dir=CACHE)
    try:
        sh(["dpkg-deb", "-x", deb, tmp])
        (kver,) = os.listdir(os.path.join(tmp, "lib/modules"))
        moddir = os.path.join(tmp, "lib/modules", kver)
        mods = resolve_modules(moddir)
        shutil.rmtree(kdir, ignore_errors=True)
        os.makedirs(os.path.join(kdir, "modules"))
        shutil.copy(os.path.join(tmp, "boot", "vmlinuz-" + kver), os.path.join(kdir, "vmlinuz"))
        with open(os.path.join(kdir, "modules", "load-order"), "w") as f:
            for name, rel in mods:
                dst = os.path.join(kdir, "modules", rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(os.path.join(moddir, rel), dst)
                f.write("%s %s %s\n" % (name, rel, "optional" if name in OPTIONAL else "required"))
        open(os.path.join(kdir, "kver"), "w").write(kver + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    os.unlink(deb)  # ~70 MB; the trimmed kernel stays in the cache
    open(os.path.join(kdir, ".ok" + LAYOUT), "w").close()
    log("kernel %s: %d modules (%.1fs)" % (kver, len(mods), time.time() - t0))
    return kdir


# ---------------------------------------------------------------- userland
def binary_source(pkg, path):
    """Host copy if the host has the package installed, else the extracted .deb."""
    if host_has(pkg):
        for p in (path, path.replace("/usr/sbin/", "/sbin/")):
            if os.path.exists(p):
                return p
    extract(pkg)
    for p in (path, path.replace("/usr/sbin/", "/sbin/")):
        if os.path.exists(pkgroot() + p):
            return pkgroot() + p
    raise HarnessError("%s not found in package %s" % (path, pkg))


def shared_libs(path):
    """Resolved shared libraries of an ELF binary (host dirs first, then the pkgroot)."""
    extra = ":".join(pkgroot() + d for d in LIBDIRS)
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, LD_LIBRARY_PATH=extra)).stdout
    libs, missing = [], []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => not found", line)
        if m:
            missing.append(m.group(1))
            continue
        m = re.match(r"\s*(?:\S+ => )?(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs, missing


def fetch_missing_libs(pkg, missing):
    """Extract the lib* dependencies of pkg that provide the missing sonames."""
    deps = re.findall(r"Depends: (lib[a-z0-9+.\-]+)", sh(["apt-cache", "depends", pkg]))
    for d in deps:
        if not host_has(d):
            extract(d)
    return deps


class Cpio:
    """newc writer: the kernel unpacks it (and several concatenated ones) as the rootfs."""

    def __init__(self):
        self.buf, self.ino = io.BytesIO(), 100

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        self.ino += 1
        nb = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0)
        self.buf.write(b"070701" + "".join("%08X" % x for x in fields).encode() + nb)
        self.buf.write(b"\0" * (-self.buf.tell() % 4) + data)
        self.buf.write(b"\0" * (-self.buf.tell() % 4))

    def add_tree(self, tree):
        dirs = set()
        for p in tree:
            d = os.path.dirname(p)
            while d not in ("/", ""):
                dirs.add(d)
                d = os.path.dirname(d)
        dirs |= {p for p, (kind, _, _) in tree.items() if kind == "dir"}
        for d in sorted(dirs):
            self._entry(d.lstrip("/"), stat.S_IFDIR | 0o755)
        for p in sorted(tree):
            kind, mode, val = tree[p]
            if kind == "file":
                self._entry(p.lstrip("/"), stat.S_IFREG | mode, open(val, "rb").read())
            elif kind == "data":
                self._entry(p.lstrip("/"), stat.S_IFREG | mode, val)
            elif kind == "symlink":
                self._entry(p.lstrip("/"), stat.S_IFLNK | 0o777, val.encode())
            elif kind == "chr":
                self._entry(p.lstrip("/"), stat.S_IFCHR | mode, rdev=val)

    def gz(self):
        self._entry("TRAILER!!!", 0)
        return gzip.compress(self.buf.getvalue(), compresslevel=6, mtime=0)


def guest_digest(extra):
    h = hashlib.sha256(open(__file__, "rb").read() + extra.encode())
    for p in sorted(glob.glob(os.path.join(GUEST, "**"), recursive=True)):
        if os.path.isfile(p):
            h.update(p.encode() + open(p, "rb").read())
    return h.hexdigest()[:12]


def setup(with_fio=False):
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs share one cache
        ensure_qemu()
        kdir = setup_kernel()
        out = os.path.join(CACHE, "initramfs-%s%s.cpio.gz" % (guest_digest(kdir), "-fio" if with_fio else ""))
        if os.path.exists(out):
            return kdir, out
        t0 = time.time()
        tree = {}
        extract("busybox-static")
        bb = pkgroot() + "/bin/busybox"
        tree["/bin/busybox"] = ("file", 0o755, bb)
        for applet in sh([bb, "--list-full"]).split():
            if os.path.basename(applet) not in ("busybox", "init", "linuxrc", "mke2fs", "mkfs.ext2", "fsck"):
                tree["/" + applet] = ("symlink", 0, "/bin/busybox")
        bins = list(BINARIES) + ([("fio", "/usr/bin/fio")] if with_fio else [])
        if with_fio and not os.path.exists("/usr/bin/fio"):
            apt_install("fio")  # its binary and libraries go into the initramfs
        for pkg, path in bins:
            src = binary_source(pkg, path)
            libs, missing = shared_libs(src)
            if missing:
                fetch_missing_libs(pkg, missing)
                libs, missing = shared_libs(src)
            if missing:
                raise HarnessError("%s: libraries not found: %s" % (path, " ".join(missing)))
            tree[path] = ("file", 0o755, src)
            for lib in libs:
                rel = lib[len(pkgroot()):] if lib.startswith(pkgroot()) else lib
                tree[os.path.join("/usr/lib/x86_64-linux-gnu", os.path.basename(rel))] = ("file", 0o755, lib)
                if os.path.basename(rel).startswith("ld-linux"):
                    tree["/lib64/" + os.path.basename(rel)] = ("file", 0o755, lib)
        tree["/usr/sbin/mkfs.ext4"] = ("symlink", 0, "mke2fs")
        tree["/usr/sbin/fsck.ext4"] = ("symlink", 0, "e2fsck")
        tree["/etc/mke2fs.conf"] = ("file", 0o644, binary_source("e2fsprogs", "/etc/mke2fs.conf"))
        kver = open(os.path.join(kdir, "kver")).read().strip()
        for dp, _, fns in os.walk(os.path.join(kdir, "modules")):
            for fn in fns:
                p = os.path.join(dp, fn)
                tree["/lib/modules/%s/%s" % (kver, os.path.relpath(p, os.path.join(kdir, "modules")))] = \
                    ("file", 0o644, p)
        tree["/init"] = ("file", 0o755, os.path.join(GUEST, "init"))
        for p in glob.glob(os.path.join(GUEST, "**"), recursive=True):
            if os.path.isfile(p) and os.path.basename(p) != "init":
                tree["/etc/ls/" + os.path.relpath(p, GUEST)] = ("file", 0o755, p)
        for d in ("/proc", "/sys", "/dev", "/run", "/tmp", "/mnt", "/snap", "/etc/iscsi",
                  "/var/lib/iscsi", "/run/lock/iscsi"):
            tree[d] = ("dir", 0o755, None)
        tree["/dev/console"] = ("chr", 0o600, (5, 1))
        tree["/dev/null"] = ("chr", 0o666, (1, 3))
        tree["/etc/passwd"] = ("data", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        tree["/etc/group"] = ("data", 0o644, b"root:x:0:\n")
        c = Cpio()
        c.add_tree(tree)
        blob = c.gz()
        with open(out + ".tmp", "wb") as f:
            f.write(blob)
        os.replace(out + ".tmp", out)
        for old in glob.glob(os.path.join(CACHE, "initramfs-*.cpio.gz")):
            if old != out and old.endswith("-fio.cpio.gz") == with_fio:
                os.unlink(old)
        log("initramfs %s (%.1f MiB, %.1fs)" % (os.path.basename(out), len(blob) / 2**20, time.time() - t0))
        return kdir, out


# ---------------------------------------------------------------- boot
def pdeathsig():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def port_open(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def boot(a):
    host, _, port = a.portal.rpartition(":")
    if not host.startswith("127."):
        raise HarnessError("portal must be on loopback (127.0.0.0/8), got " + a.portal)
    port = int(port)
    kdir, base = setup(a.fio)
    os.makedirs(os.path.join(CACHE, "runs"), exist_ok=True)
    rundir = tempfile.mkdtemp(prefix=time.strftime("%H%M%S-") + a.scenario + "-", dir=os.path.join(CACHE, "runs"))
    runs = sorted(glob.glob(os.path.join(CACHE, "runs", "*")), key=os.path.getmtime)
    for old in runs[:-60]:  # keep the logs of the last 60 boots
        shutil.rmtree(old, ignore_errors=True)
    if not port_open(host, port):
        print("VM FAIL scenario=%s: nothing listens on %s" % (a.scenario, a.portal))
        return 1
    if not os.path.exists(os.path.join(GUEST, "scenarios", a.scenario + ".sh")):
        raise HarnessError("unknown scenario " + a.scenario)
    conf = {
        "SCENARIO": a.scenario, "TARGET": a.target, "PORTAL": GUEST_PORTAL, "LUN": a.lun,
        "INITIATOR": a.initiator, "DISCOVERY": "1" if a.discovery else "0",
        "HEADER_DIGEST": a.header_digest, "DATA_DIGEST": a.data_digest,
        "CHAP_USER": "", "CHAP_PASS": "", "CHAP_USER_IN": "", "CHAP_PASS_IN": "",
        "EXPECT_LOGIN_FAIL": "1" if a.expect_login_fail else "0", "FIO": "1" if a.fio else "0",
    }
    if a.chap:
        conf["CHAP_USER"], conf["CHAP_PASS"] = a.chap.split(":", 1)
    if a.chap_in:
        conf["CHAP_USER_IN"], conf["CHAP_PASS_IN"] = a.chap_in.split(":", 1)
    for kv in a.set:
        k, v = kv.split("=", 1)
        conf[k] = v
    for path in a.set_file:
        for line in open(path):
            if "=" in line:
                k, v = line.strip().split("=", 1)
                conf[k] = v
    conf_sh = "".join("LS_%s='%s'\n" % (k, str(v).replace("'", "'\\''")) for k, v in sorted(conf.items()))
    c = Cpio()
    c.add_tree({"/etc/ls/conf.sh": ("data", 0o644, conf_sh.encode())})
    initrd = os.path.join(rundir, "initrd")
    with open(initrd, "wb") as f:
        f.write(open(base, "rb").read() + c.gz())
    relay_log = os.path.join(rundir, "relay.log")
    netdev = ("user,id=n0,restrict=on,ipv6=off,net=10.0.2.0/24,host=10.0.2.2,"
              "guestfwd=tcp:%s-cmd:%s -S %s %s %d %s"
              % (GUEST_PORTAL, sys.executable, os.path.join(HERE, "relay.py"), host, port, relay_log))
    if "," in netdev.split("guestfwd=")[1]:
        raise HarnessError("a path contains a comma, which QEMU's option parser would split: " + netdev)
    append = ("console=ttyS0,115200 loglevel=4 panic=-1 rdinit=/init mitigations=off no_timer_check "
              "tsc=reliable i8042.noaux i8042.nokbd random.trust_cpu=on")
    qemu = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-no-reboot", "-machine", "pc",
            "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "1", "-m", str(a.mem),
            "-kernel", os.path.join(kdir, "vmlinuz"), "-initrd", initrd, "-append", append,
            "-display", "none", "-serial", "stdio", "-netdev", netdev,
            "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci"]
    hooks = dict(h.split("=", 1) for h in a.hook)
    console = open(os.path.join(rundir, "console.log"), "w", buffering=1)
    t0 = time.time()
    proc = subprocess.Popen(qemu, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=rundir, preexec_fn=pdeathsig)
    lines = queue.Queue()

    def reader():
        for raw in iter(proc.stdout.readline, b""):
            lines.put(raw.decode(errors="replace").rstrip("\r\n"))
        lines.put(None)
    threading.Thread(target=reader, daemon=True).start()

    def stop(signum, _frame):
        proc.kill()
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    fails, result, exports, tail, timings = [], None, {}, [], {}
    deadline = t0 + a.timeout
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.time()))
        except queue.Empty:
            fails.append("timeout after %ds" % a.timeout)
            break
        if line is None:
            break
        console.write("%7.2f %s\n" % (time.time() - t0, line))
        tail = (tail + [line])[-40:]
        m = re.search(r"@@LS:([A-Z]+):(.*)$", line)
        if not m:
            if a.verbose:
                print("  | " + line)
            continue
        kind, rest = m.groups()
        if kind in ("OK", "FAIL", "INFO", "RESULT", "HOOK") or a.verbose:
            print("  %s %s" % (kind, rest), flush=True)
        if kind == "FAIL":
            fails.append(rest)
        elif kind == "RESULT":
            result = rest.strip()
        elif kind == "EXPORT":
            k, _, v = rest.partition("=")
            exports[k] = v
        elif kind == "TIME":
            k, _, v = rest.partition("=")
            timings[k] = v
        elif kind == "HOOK":
            name = rest.strip()
            cmd = hooks.get(name)
            th = time.time()
            if cmd is None:
                rc, out = 1, "no --hook %s given" % name
            else:
                env = dict(os.environ, LS_VM_RUN_DIR=rundir, LS_VM_HOOK_ENV=os.path.join(rundir, "hook.env"), LS_VM_QEMU_PID=str(proc.pid),
                           LS_VM_EXPORTS=json.dumps(exports))
                r = subprocess.run(["bash", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, env=env, timeout=a.hook_timeout)
                rc, out = r.returncode, r.stdout
            console.write("# hook %s rc=%d in %.2fs:\n%s\n" % (name, rc, time.time() - th, out))
            print("  hook %s: rc=%d in %.2fs" % (name, rc, time.time() - th), flush=True)
            if rc != 0:
                print("\n".join("  hook| " + x for x in out.splitlines()[-20:]))
            envfile = os.path.join(rundir, "hook.env")  # K=V lines the hook hands to the guest
            if os.path.exists(envfile):
                for kv in open(envfile).read().split():
                    k, _, v = kv.partition("=")
                    exports[k] = v
                    proc.stdin.write(("@@LS-SET:%s\n" % kv).encode())
                os.unlink(envfile)
            proc.stdin.write(("@@LS-ACK:%s:%d\n" % (name, rc)).encode())
            proc.stdin.flush()
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    secs = time.time() - t0
    if result is None and not fails:
        fails.append("no RESULT marker (QEMU exit %s)" % proc.returncode)
    if a.export:
        with open(a.export, "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in exports.items()))
    ok = result == "PASS" and not fails
    verdict = "PASS" if ok else "FAIL"
    console.close()
    if not ok:
        print("  ---- last console lines (%s) ----\n%s" % (rundir, "\n".join("  | " + x for x in tail)))
    print("VM %s scenario=%s %.1fs (guest ready %sms) fails=%s log=%s/console.log"
          % (verdict, a.scenario, secs, timings.get("ready_ms", "?"), "; ".join(fails) or "none", rundir),
          flush=True)
    os.unlink(initrd)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--fio", action="store_true")
    b = sub.add_parser("boot")
    b.add_argument("--portal", required=True, help="127.0.0.1:PORT of the target")
    b.add_argument("--target", required=True, help="target IQN")
    b.add_argument("--scenario", required=True, help="guest/scenarios/NAME.sh")
    b.add_argument("--lun", default="auto", help="LUN number, or auto = lowest disk LUN")
    b.add_argument("--initiator", default="iqn.2026-11.dev.livesnap:vm-initiator")
    b.add_argument("--discovery", action="store_true", help="SendTargets discovery first; the IQN must be listed")
    b.add_argument("--header-digest", default="None")
    b.add_argument("--data-digest", default="None")
    b.add_argument("--chap", help="USER:SECRET (initiator authenticates to the target)")
    b.add_argument("--chap-in", help="USER:SECRET (mutual: target authenticates to the initiator)")
    b.add_argument("--expect-login-fail", action="store_true", help="negative test: login must be refused")
    b.add_argument("--fio", action="store_true", help="put fio in the initramfs and run it")
    b.add_argument("--set", action="append", default=[], metavar="K=V", help="guest variable LS_K")
    b.add_argument("--set-file", action="append", default=[], help="K=V lines (e.g. another boot's --export)")
    b.add_argument("--export", help="write the guest's EXPORT markers here as K=V lines")
    b.add_argument("--hook", action="append", default=[], metavar="NAME=CMD", help="host command for a guest hook")
    b.add_argument("--hook-timeout", type=int, default=120)
    b.add_argument("--timeout", type=int, default=300)
    b.add_argument("--mem", type=int, default=768)
    b.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args()
    try:
        if a.cmd == "setup":
            t0 = time.time()
            kdir, initrd = setup(a.fio)
            log("ready in %.1fs: kernel %s, initramfs %s" % (time.time() - t0, kdir, initrd))
            return 0
        return boot(a)
    except (HarnessError, OSError, subprocess.SubprocessError) as e:
        log("HARNESS ERROR: %s" % e)
        print("VM FAIL harness error: %s" % str(e).splitlines()[0])
        return 2


if __name__ == "__main__":
    sys.exit(main())
