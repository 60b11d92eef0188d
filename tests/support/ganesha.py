#!/usr/bin/python3
"""A real NFS-Ganesha server for tests: one instance per export directory, on free loopback ports.

    with Ganesha(export_dir, workdir, protocols=(3, 4)) as g:
        url = g.url(version=4)          # nfs://127.0.0.1/export?version=4&nfsport=...
        g.freeze(); g.thaw()            # SIGSTOP / SIGCONT
        g.kill(); g.restart()           # SIGKILL, then start again on the same ports and directory

Every process this module starts (ganesha.nfsd, and rpcbind when NFSv3 is requested and none
is running) is tracked by PID and stopped by PID; nothing is stopped by name.

CLI (run with /usr/bin/python3):
    ganesha.py serve EXPORT_DIR [--protocols 3,4] [--workdir DIR] [--control stdin]
prints the URLs and serves until Ctrl-C / SIGTERM. With `--control stdin` it reads one command
per line (freeze, thaw, kill, restart, stop) and answers "ok <command>" or "error <text>"; end of
input stops the server, so a test process that dies takes its server with it.
"""

import argparse
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

GANESHA_BIN = shutil.which("ganesha.nfsd") or "/usr/bin/ganesha.nfsd"
RPCBIND_BIN = shutil.which("rpcbind") or "/usr/sbin/rpcbind"
READY_LINE = "NFS SERVER INITIALIZED"
# Shared by every harness on the machine (NFSv3 needs the one portmapper on port 111).
RPCBIND_USERS = "/tmp/tandem-ganesha-rpcbind.users"
RPCBIND_PID_FILE = "/tmp/tandem-ganesha-rpcbind.pid"
START_LOCK = "/tmp/tandem-ganesha-start.lock"  # NFSv3 registrations of concurrent starts race
LEASE_LIFETIME_S = 5  # how long a dead client's NFSv4 state lives; small so tests move fast


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_listening(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class GaneshaError(RuntimeError):
    pass


class Ganesha:
    def __init__(self, export_dir, workdir=None, protocols=(4,), start_timeout=10.0,
                 netns=None, bind_addr="127.0.0.1", nfs_port=None, mnt_port=None):
        """`netns`: run ganesha.nfsd inside that network namespace (`ip netns exec`), bound to
        `bind_addr` there; its ports then default to 2049 / 20048 (a fresh namespace has them
        free) instead of free loopback ports. NFSv3 needs a portmapper in that namespace, which
        this class does not provide: use protocols=(4,) with a netns."""
        self.netns = netns
        self.bind_addr = bind_addr
        self._fixed_ports = (nfs_port or (2049 if netns else None),
                             mnt_port or (20048 if netns else None))
        self.export_dir = os.path.abspath(export_dir)
        self._own_workdir = workdir is None
        self.workdir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="tandem-ganesha-"))
        self.protocols = tuple(sorted(int(p) for p in protocols))
        self.start_timeout = start_timeout
        self.nfs_port = None
        self.mnt_port = None
        self.proc = None      # ganesha.nfsd (our direct child)
        self.rpcbind = None   # rpcbind we started, if any
        self._users_fd = None  # shared lock: this harness needs rpcbind
        self.conf_path = os.path.join(self.workdir, "ganesha.conf")
        self.log_path = os.path.join(self.workdir, "ganesha.log")
        self.pid_path = os.path.join(self.workdir, "ganesha.pid")

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self):
        if not os.path.exists(GANESHA_BIN):
            raise GaneshaError("ganesha.nfsd not found: run scripts/install-deps.sh "
                               "(packages nfs-ganesha nfs-ganesha-vfs rpcbind)")
        os.makedirs(self.export_dir, exist_ok=True)
        os.makedirs(os.path.join(self.workdir, "recovery"), exist_ok=True)
        if 3 in self.protocols:
            self._ensure_rpcbind()
        last = None
        for _ in range(3):  # a free port can be taken between probing and binding
            self.nfs_port = self._fixed_ports[0] or free_port()
            self.mnt_port = self._fixed_ports[1] or free_port()
            self._write_config()
            try:
                self._spawn()
                return self
            except GaneshaError as e:
                last = e
        raise last

    def restart(self):
        """Starts again on the same ports and directory (after kill() or stop())."""
        self._reap()
        if 3 in self.protocols:
            self._ensure_rpcbind()
        self._spawn()
        return self

    def freeze(self):
        """SIGSTOP, and wait (bounded) until every thread of the server is stopped."""
        self._signal(signal.SIGSTOP)
        self._wait_threads(lambda state: state in ("T", "t"), "stopped")

    def thaw(self):
        self._signal(signal.SIGCONT)
        self._wait_threads(lambda state: state not in ("T", "t"), "running")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
                self.proc.terminate()
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._stop_rpcbind()

    def close(self):
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, version=4, path=""):
        if version not in self.protocols:
            raise GaneshaError(f"NFSv{version} not served (protocols {self.protocols})")
        base = f"nfs://{self.bind_addr}/export" + (("/" + path.strip("/")) if path.strip("/") else "")
        if version == 4:
            return f"{base}?version=4&nfsport={self.nfs_port}"
        return f"{base}?nfsport={self.nfs_port}&mountport={self.mnt_port}"

    # --- internals ---------------------------------------------------------------------------

    def _signal(self, sig):
        if not self.proc or self.proc.poll() is not None:
            raise GaneshaError("ganesha is not running")
        self.proc.send_signal(sig)

    def _wait_threads(self, ok, what, limit=10.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            states = []
            try:
                for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
                    with open(f"/proc/{self.proc.pid}/task/{tid}/stat") as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                states = []
            if states and all(ok(st) for st in states):
                return
            time.sleep(0.005)
        raise GaneshaError(f"ganesha threads not {what} after {limit} s")

    def _write_config(self):
        protocols = ", ".join(str(p) for p in self.protocols)
        conf = f"""
NFS_CORE_PARAM {{
    Bind_Addr = {self.bind_addr};
    NFS_Port = {self.nfs_port};
    MNT_Port = {self.mnt_port};
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
    Protocols = {protocols};
    Mount_Path_Pseudo = true;  # NFSv3 MOUNT by the pseudo path, like NFSv4: one URL path for both
}}
NFS_KRB5 {{ Active_krb5 = false; }}
NFSV4 {{
    Graceless = true;
    Lease_Lifetime = {LEASE_LIFETIME_S};
    Only_Numeric_Owners = true;
    RecoveryBackend = fs;
    RecoveryRoot = "{self.workdir}/recovery";
}}
MDCACHE {{ Dir_Chunk = 0; }}
EXPORT_DEFAULTS {{ Attr_Expiration_Time = 0; }}
EXPORT {{
    Export_Id = 1;
    Path = "{self.export_dir}";
    Pseudo = /export;
    Access_Type = RW;
    Squash = No_Root_Squash;
    SecType = sys;
    Transports = TCP;
    Protocols = {protocols};
    Attr_Expiration_Time = 0;
    FSAL {{ Name = VFS; }}
}}
"""
        with open(self.conf_path, "w") as f:
            f.write(conf)

    def _spawn(self):
        if 3 in self.protocols:
            with _locked(START_LOCK):
                return self._spawn_unlocked()
        return self._spawn_unlocked()

    def _spawn_unlocked(self):
        self._reap()
        log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        netns = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(
            netns + [GANESHA_BIN, "-F", "-f", self.conf_path, "-L", self.log_path, "-p", self.pid_path,
             "-N", "NIV_EVENT"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent if self.netns else None)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise GaneshaError(f"ganesha exited with {self.proc.returncode} during start; "
                                   f"log {self.log_path}:\n{self._log_tail(log_offset)}")
            if READY_LINE in self._log_tail(log_offset) and self._listening():
                return
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait(timeout=10)
        raise GaneshaError(f"ganesha not ready after {self.start_timeout} s; log {self.log_path}:\n"
                           f"{self._log_tail(log_offset)}")

    def _listening(self):
        if not self.netns:
            return port_listening(self.nfs_port)
        # The port is in another network namespace: ask there.
        r = subprocess.run(["ip", "netns", "exec", self.netns, "ss", "-Hltn",
                            f"sport = :{self.nfs_port}"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=10)
        return r.returncode == 0 and bool(r.stdout.strip())

    def _reap(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _log_tail(self, offset):
        try:
            with open(self.log_path, errors="replace") as f:
                f.seek(offset)
                return f.read()[-8000:]
        except FileNotFoundError:
            return ""

    def _ensure_rpcbind(self):
        """NFSv3 registration needs a portmapper at start. One rpcbind is shared by every
        harness on the machine: each holds a shared lock on RPCBIND_USERS while it serves
        NFSv3, and the last one to leave stops the rpcbind a harness started (by the PID in
        RPCBIND_PID_FILE; an rpcbind started by anything else is never touched)."""
        if self._users_fd is None:
            self._users_fd = os.open(RPCBIND_USERS, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(self._users_fd, fcntl.LOCK_SH)
        with _locked(START_LOCK):
            if port_listening(111):
                return
            os.makedirs("/run/rpcbind", exist_ok=True)
            self.rpcbind = subprocess.Popen([RPCBIND_BIN, "-f", "-w"], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True)
            with open(RPCBIND_PID_FILE, "w") as f:
                f.write(str(self.rpcbind.pid))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if port_listening(111):
                    return
                if self.rpcbind.poll() is not None:
                    break
                time.sleep(0.02)
        raise GaneshaError("rpcbind did not start (needed to serve NFSv3)")

    def _stop_rpcbind(self):
        if self._users_fd is None:
            return
        fd, self._users_fd = self._users_fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another harness still serves NFSv3: leave rpcbind to it
            try:
                with open(RPCBIND_PID_FILE) as f:
                    pid = int(f.read().strip())
            except (FileNotFoundError, ValueError):
                return
            if _process_name(pid) == "rpcbind":
                os.kill(pid, signal.SIGTERM)
                if self.rpcbind and self.rpcbind.pid == pid:
                    self.rpcbind.wait(timeout=5)
                else:
                    deadline = time.monotonic() + 5
                    while pid_alive(pid) and _process_name(pid) == "rpcbind" and time.monotonic() < deadline:
                        time.sleep(0.02)
            os.unlink(RPCBIND_PID_FILE)
        finally:
            os.close(fd)
            self.rpcbind = None


def _die_with_parent():
    # In a namespace (deploy/zones.py) the server dies with the process that started it, even
    # on SIGKILL, so it cannot keep a deleted namespace's network alive.
    import ctypes
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _process_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


class _locked:
    """An exclusive flock on a file, as a context manager."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def _serve(args):
    protocols = tuple(int(p) for p in args.protocols.split(","))
    g = Ganesha(args.export_dir, args.workdir, protocols=protocols)

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        g.start()
        for v in protocols:
            print(f"url{v} {g.url(version=v)}", flush=True)
        print(f"pid {g.pid}", flush=True)
        print("ready", flush=True)
        if args.control == "stdin":
            for line in sys.stdin:
                cmd = line.strip()
                if not cmd:
                    continue
                try:
                    if cmd == "stop":
                        break
                    if cmd not in ("freeze", "thaw", "kill", "restart"):
                        raise GaneshaError(f"unknown command {cmd!r}")
                    getattr(g, cmd)()
                    if cmd == "restart":
                        print(f"pid {g.pid}", flush=True)
                    print(f"ok {cmd}", flush=True)
                except Exception as e:  # report, keep serving
                    print(f"error {e}".replace("\n", " | "), flush=True)
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        g.close()
        print("stopped", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve EXPORT_DIR over NFS until Ctrl-C")
    s.add_argument("export_dir")
    s.add_argument("--protocols", default="3,4", help="comma-separated NFS versions (default 3,4)")
    s.add_argument("--workdir", default=None, help="config, log and recovery directory (default: temporary)")
    s.add_argument("--control", choices=["none", "stdin"], default="none")
    args = p.parse_args(argv)
    if args.command == "serve":
        _serve(args)


if __name__ == "__main__":
    main()
