#!/usr/bin/python3
"""A two-zone simulation on one machine: hosts are network namespaces joined by a bridge.

    zones = up()                                  # namespaces tdm<pid>-zone-a, ... and links
    p = zones.exec("zone-a", ["tandem-broker", "--config", "node-1.yaml"], stdout=log)
    zones.cut("zone-a"); zones.restore("zone-a")  # the host's link down / up again
    zones.cut_between("zone-a", "storage")        # only those two lose each other
    zones.restore_between("zone-a", "storage")
    g = start_ganesha(zones, export_dir)          # NFS-Ganesha inside `storage`, g.url(version=4)
    zones.start_relay("storage", 2050, 2049)      # a delaying relay in front of it (nfsport=2050)
    zones.delay("storage", 50); zones.clear_delay("storage")   # tc netem, else the relay
    zones.freeze("storage"); zones.thaw("storage")             # SIGSTOP / SIGCONT of the host
    zones.down()                                  # processes, namespaces and links: all gone

Topology (one /24, no routing):

    storage 10.77.0.10   zone-a 10.77.0.11   zone-b 10.77.0.12   client 10.77.0.20
        eth0                 eth0                eth0                eth0
         |                    |                   |                   |
    v-storage             v-zone-a            v-zone-b            v-client   (in `core`)
         +--------------------+---- br0 ---------+-------------------+

Every host has its own veth pair into the bridge in the `core` namespace, so one host's link
can be cut (`ip link set v-HOST down` in core: the host keeps its address but reaches nobody)
or delayed without touching the others. Both ends of every veth are created directly inside
namespaces: nothing is added to the machine's own network namespace, and deleting the
namespaces deletes every link. Names carry a per-run prefix (`tdm<pid>`) so runs never collide.

Processes started with `exec` are tracked and stopped by PID at `down()`; any other process
still inside one of this run's namespaces is stopped by PID too (`ip netns pids`), because a
namespace with a process in it outlives its name. `down()` is idempotent and also runs at exit
and on SIGTERM/SIGINT (the CLI and scripts); a test process killed with SIGKILL leaves its
namespaces behind, which `zones.py down` (no --prefix) removes: runs whose creating process is
gone.

CLI (root, /usr/bin/python3):
    zones.py up [--prefix P]      build the zones and leave them up; prints the prefix
    zones.py status [--prefix P]  namespaces, addresses and link states
    zones.py down [--prefix P]    remove one run, or (no prefix) every tdm<pid> run whose
                                  process is gone (`up` without --prefix makes one of those)
"""

import argparse
import atexit
import os
import re
import signal
import subprocess
import sys
import time

HOSTS = {"storage": "10.77.0.10", "zone-a": "10.77.0.11", "zone-b": "10.77.0.12",
         "client": "10.77.0.20"}
CORE = "core"
PREFIX_LEN = 24
BRIDGE = "br0"
HOST_DEV = "eth0"
BLACKHOLE_MAC = "02:00:00:00:00:01"  # locally administered, on no interface
_RUN_NS = re.compile(r"^(tdm[A-Za-z0-9_]*)-(core|storage|zone-a|zone-b|client)$")
_PID_PREFIX = re.compile(r"^tdm(\d+)$")

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "tests", "support"))


class ZonesError(RuntimeError):
    pass


def _ip(*args, check=True, timeout=10):
    r = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise ZonesError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def _die_with_parent():
    # Between fork and exec: a process started in a zone dies with the process that started it
    # (even on SIGKILL), so no broker or server outlives a crashed test. `ip netns exec` execs
    # the command in place, and the death signal survives that exec.
    import ctypes
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Zones:
    """The namespaces of one run. Not thread-safe: drive it from one thread."""

    def __init__(self, prefix=None):
        self.prefix = prefix or f"tdm{os.getpid()}"
        self.procs = []   # Popen objects started by exec()
        self.created = []  # namespace names, in creation order
        self.relays = []   # Relay objects (start_relay)
        self.frozen = {}   # host -> PIDs SIGSTOPped by freeze()
        self._down = False

    # --- names --------------------------------------------------------------------------------

    def ns(self, host):
        if host != CORE and host not in HOSTS:
            raise ZonesError(f"unknown host {host!r} (hosts: {', '.join(HOSTS)})")
        return f"{self.prefix}-{host}"

    @staticmethod
    def addr(host):
        return HOSTS[host]

    @staticmethod
    def core_dev(host):
        return f"v-{host}"

    # --- building ------------------------------------------------------------------------------

    def build(self):
        try:
            for host in (CORE, *HOSTS):
                name = self.ns(host)
                _ip("netns", "add", name)
                self.created.append(name)
                _ip("-n", name, "link", "set", "lo", "up")
            core = self.ns(CORE)
            _ip("-n", core, "link", "add", BRIDGE, "type", "bridge")
            _ip("-n", core, "link", "set", BRIDGE, "up")
            for host, address in HOSTS.items():
                dev = self.core_dev(host)
                _ip("-n", core, "link", "add", dev, "type", "veth", "peer", "name", HOST_DEV,
                    "netns", self.ns(host))
                _ip("-n", core, "link", "set", dev, "master", BRIDGE)
                _ip("-n", core, "link", "set", dev, "up")
                _ip("-n", self.ns(host), "addr", "add", f"{address}/{PREFIX_LEN}", "dev", HOST_DEV)
                _ip("-n", self.ns(host), "link", "set", HOST_DEV, "up")
        except BaseException:
            self.down()
            raise
        return self

    # --- running -------------------------------------------------------------------------------

    def exec(self, host, argv, **popen_kw):
        """Starts argv inside `host` (Popen; the PID is the command's own: `ip netns exec`
        execs it). Tracked, and SIGKILLed at down() if still running."""
        popen_kw.setdefault("stdin", subprocess.DEVNULL)
        popen_kw.setdefault("preexec_fn", _die_with_parent)
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(host), *[str(a) for a in argv]],
                             **popen_kw)
        self.procs.append(p)
        return p

    def run(self, host, argv, timeout=30, **kw):
        """Runs argv inside `host` to completion (bounded); returns CompletedProcess (text)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(["ip", "netns", "exec", self.ns(host), *[str(a) for a in argv]],
                              stdin=subprocess.DEVNULL, timeout=timeout,
                              preexec_fn=_die_with_parent, **kw)

    # --- faults --------------------------------------------------------------------------------

    def cut(self, host):
        """The host's link to everyone goes down (its bridge port in core)."""
        _ip("-n", self.ns(CORE), "link", "set", self.core_dev(host), "down")

    def restore(self, host):
        _ip("-n", self.ns(CORE), "link", "set", self.core_dev(host), "up")

    def cut_between(self, a, b):
        """Only `a` and `b` stop reaching each other; both still reach everyone else (e.g. an
        active that loses its storage while its clients still reach it). Silent like a real
        partition: each side's neighbour entry for the other points at a MAC nobody has, so
        frames go nowhere and no error or reset comes back."""
        for host, peer in ((a, b), (b, a)):
            _ip("-n", self.ns(host), "neigh", "replace", HOSTS[peer], "lladdr", BLACKHOLE_MAC,
                "nud", "permanent", "dev", HOST_DEV)

    def restore_between(self, a, b):
        for host, peer in ((a, b), (b, a)):
            _ip("-n", self.ns(host), "neigh", "del", HOSTS[peer], "dev", HOST_DEV, check=False)

    def delay(self, host, ms):
        """Adds `ms` of latency each way to `host`'s traffic, so a round trip to it gains 2 x ms.
        With the kernel's sch_netem: tc netem on both ends of the host's link (all traffic).
        Without it (as on the development and CI machines): the host's delaying relays
        (start_relay; the NFS traffic of the storage host), or ZonesError if it has none.
        Returns "netem" or "relay"."""
        done = []
        for ns, dev in ((self.ns(CORE), self.core_dev(host)), (self.ns(host), HOST_DEV)):
            r = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev,
                                "root", "netem", "delay", f"{int(ms)}ms"],
                               capture_output=True, text=True, timeout=10)
            if r.returncode != 0:
                for ns2, dev2 in done:
                    subprocess.run(["ip", "netns", "exec", ns2, "tc", "qdisc", "del", "dev", dev2, "root"],
                                   capture_output=True, timeout=10)
                relays = [r for r in self.relays if r.host == host]
                if not relays:
                    raise ZonesError(f"tc netem on {dev} in {ns}: {r.stderr.strip()} (the kernel has no "
                                     f"sch_netem) and {host} has no delaying relay (start_relay)")
                for relay in relays:
                    relay.set_delay(ms)
                return "relay"
            done.append((ns, dev))
        return "netem"

    def clear_delay(self, host):
        for ns, dev in ((self.ns(CORE), self.core_dev(host)), (self.ns(host), HOST_DEV)):
            subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root"],
                           capture_output=True, timeout=10)
        for relay in self.relays:
            if relay.host == host:
                relay.set_delay(0)

    def start_relay(self, host, port, upstream_port, delay_ms=0):
        """A delaying TCP relay (deploy/delay_relay.py) on `host`: clients that connect to
        host:port reach host:upstream_port, with delay() adding latency each way. For the NFS
        server, start the nodes with nfsport=`port` in their storage URL."""
        relay = Relay(self, host, port, upstream_port, delay_ms)
        self.relays.append(relay)
        return relay

    def pids(self, host):
        r = _ip("netns", "pids", self.ns(host), check=False)
        return [int(x) for x in r.stdout.split() if x.isdigit()]

    def freeze(self, host, timeout=10.0):
        """SIGSTOPs every process on `host` (a frozen VM or host: its TCP peers see silence, not
        resets) and waits until each of their threads is stopped. Returns the PIDs."""
        pids = self.pids(host)
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        while not all(_all_threads(pid, lambda st: st in ("T", "t")) for pid in pids):
            if time.monotonic() >= deadline:
                raise ZonesError(f"processes on {host} not stopped after {timeout:.0f}s")
            time.sleep(0.01)
        self.frozen[host] = pids
        return pids

    def thaw(self, host):
        for pid in self.frozen.pop(host, []):
            _signal(pid, signal.SIGCONT)

    # --- inspection ----------------------------------------------------------------------------

    def status(self):
        """{host: {"ns", "address", "link": "up"|"down"|"missing"}}"""
        present = set(list_namespaces())
        out = {}
        for host, address in HOSTS.items():
            link = "missing"
            if self.ns(CORE) in present:
                r = _ip("-n", self.ns(CORE), "-o", "link", "show", self.core_dev(host), check=False)
                if r.returncode == 0:
                    link = "up" if re.search(r"[<,]UP[,>]", r.stdout) else "down"
            out[host] = {"ns": self.ns(host), "address": address, "link": link,
                         "present": self.ns(host) in present}
        return out

    # --- teardown ------------------------------------------------------------------------------

    def down(self):
        """Stops every process this run started or that lives in its namespaces (by PID), then
        deletes the namespaces (which deletes their veths and the bridge). Idempotent."""
        for host in list(self.frozen):
            self.thaw(host)
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)  # a SIGSTOPped process cannot die otherwise
                    p.kill()
                    p.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        remove_run(self.prefix)
        self._down = True


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _all_threads(pid, ok):
    try:
        states = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
    except OSError:
        return True  # gone
    return all(ok(st) for st in states)


class Relay:
    """deploy/delay_relay.py running on a zone host (see Zones.start_relay)."""

    def __init__(self, zones, host, port, upstream_port, delay_ms=0):
        self.host = host
        self.port = port
        self.delay_ms = delay_ms
        address = HOSTS[host]
        self.proc = zones.exec(host, [sys.executable, os.path.join(_HERE, "delay_relay.py"),
                                      "--listen", f"{address}:{port}", "--to", f"{address}:{upstream_port}",
                                      "--delay-ms", str(delay_ms)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if not line.startswith("listening"):
            raise ZonesError(f"delay relay on {host} did not start: {line.strip()!r}")

    def command(self, text):
        if self.proc.poll() is not None:
            raise ZonesError(f"the delay relay on {self.host} exited ({self.proc.returncode})")
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise ZonesError(f"delay relay on {self.host}: {text!r} answered {answer!r}")
        return answer

    def set_delay(self, ms):
        self.command(f"delay {int(ms)}")
        self.delay_ms = int(ms)


def list_namespaces():
    r = _ip("netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def remove_run(prefix):
    """Deletes the namespaces named `prefix-*` (known hosts and core), first SIGKILLing, by
    PID, any process still inside one of them."""
    names = [n for n in list_namespaces()
             if n.startswith(prefix + "-") and n[len(prefix) + 1:] in (CORE, *HOSTS)]
    for name in names:
        r = _ip("netns", "pids", name, check=False)
        for pid in (int(x) for x in r.stdout.split() if x.isdigit()):
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for name in names:
        for _ in range(50):  # a just-killed process may still pin the namespace for a moment
            if _ip("netns", "del", name, check=False).returncode == 0:
                break
            time.sleep(0.1)
    return names


def stale_prefixes():
    """Prefixes of runs whose creating process (the pid in tdm<pid>) is gone."""
    out = set()
    for name in list_namespaces():
        m = _RUN_NS.match(name)
        pid = _PID_PREFIX.match(m.group(1)) if m else None
        if pid and not _pid_alive(int(pid.group(1))):
            out.add(m.group(1))
    return sorted(out)


_live = []


def _cleanup_all():
    while _live:
        _live.pop().down()


def _on_signal(signum, _frame):
    _cleanup_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def up(prefix=None, cleanup_at_exit=True):
    """Builds the zones and returns a Zones. With cleanup_at_exit, they are removed at
    interpreter exit and on SIGTERM/SIGINT (when those still have their default handlers and
    this is the main thread)."""
    if os.geteuid() != 0:
        raise ZonesError("zones need root (ip netns)")
    z = Zones(prefix)
    if any(n.startswith(z.prefix + "-") for n in list_namespaces()):
        raise ZonesError(f"namespaces with prefix {z.prefix} already exist (zones.py down "
                         f"--prefix {z.prefix})")
    if cleanup_at_exit:
        _live.append(z)
        if len(_live) == 1:
            atexit.register(_cleanup_all)
            try:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
                        signal.signal(sig, _on_signal)
            except ValueError:
                pass  # not the main thread: atexit only
    z.build()
    return z


def start_ganesha(zones, export_dir, workdir=None, protocols=(4,)):
    """NFS-Ganesha inside the `storage` namespace, bound to its address on the standard port
    (2049): g.url(version=4) is nfs://10.77.0.10/export?version=4&nfsport=2049. The caller
    closes it (g.close()); zones.down() kills it too (also after g.restart(): every process in
    the namespace is)."""
    import ganesha
    g = ganesha.Ganesha(export_dir, workdir, protocols=protocols, netns=zones.ns("storage"),
                        bind_addr=HOSTS["storage"])
    g.start()
    zones.procs.append(g.proc)
    return g


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["up", "down", "status"])
    p.add_argument("--prefix", default=None, help="run prefix (default for up: tdm<pid>)")
    args = p.parse_args(argv)
    if args.command == "up":
        z = up(args.prefix, cleanup_at_exit=False)
        print(z.prefix)
        for host, st in z.status().items():
            print(f"{host:8} {st['ns']:24} {st['address']:12} link {st['link']}")
        print(f"remove with: {sys.argv[0]} down --prefix {z.prefix}")
    elif args.command == "down":
        prefixes = [args.prefix] if args.prefix else stale_prefixes()
        for prefix in prefixes:
            for name in remove_run(prefix):
                print(f"deleted {name}")
    else:
        if args.prefix:
            prefixes = [args.prefix]
        else:
            prefixes = sorted({m.group(1) for m in map(_RUN_NS.match, list_namespaces()) if m})
        if not prefixes:
            print("no zones")
        for prefix in prefixes:
            print(prefix)
            for host, st in Zones(prefix).status().items():
                print(f"  {host:8} {st['ns']:24} {st['address']:12} link {st['link']}"
                      f"{'' if st['present'] else ' (namespace missing)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
