"""Apache ActiveMQ Classic from Debian's `activemq` package (5.17), run as a plain process with a
configuration written here: no init script, no /etc/activemq instance, nothing left behind.

One `ActiveMQ` is one JVM (`java ... -jar /usr/share/activemq/bin/activemq.jar start
xbean:file:DIR/activemq.xml`) with:
  - one STOMP transport connector on 127.0.0.1:PORT (`stomp+nio://` by default: the transport
    ActiveMQ documents for many connections; plain `stomp://` is a thread per connection) with
    maximumConnections set;
  - KahaDB in `kahadb_dir` with its default journal sync (journalDiskSyncStrategy=always, i.e.
    enableJournalDiskSyncs=true): a persistent SEND that asks for a RECEIPT is marked
    responseRequired by the STOMP converter, stored with a disk sync, and the broker waits for
    the store before it answers, so the RECEIPT means durable, as on Tandem;
  - for the shared file system master/slave pair: two of these on one `kahadb_dir`. The one
    holding KahaDB's file lock is the master; the other logs "... is locked by another server.
    This broker is now in slave mode" and polls the lock every lockAcquireSleepInterval
    (ActiveMQ's default 10,000 ms, or `lock_interval_ms`); it opens its STOMP port only after
    taking the lock.
The process runs with the JVM options Debian ships in /usr/share/activemq/activemq-options
(ACTIVEMQ_OPTS) unless the caller passes others, and is stopped by its PID.
"""

import os
import signal
import subprocess

import pair_harness as ph
import tandem_harness as th

HOME = "/usr/share/activemq"
DEFAULT_LOCK_INTERVAL_MS = 10000  # AbstractLocker.DEFAULT_LOCK_ACQUIRE_SLEEP_INTERVAL
SLAVE_LINE = "This broker is now in slave mode"

_XML = """<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans
    http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
    http://activemq.apache.org/schema/core
    http://activemq.apache.org/schema/core/activemq-core.xsd">
  <!-- Everything not written here is ActiveMQ 5.17's default (as in Debian's sample
       activemq.xml: no JMX). KahaDB: journalDiskSyncStrategy=always (every responseRequired
       write is synced before the broker answers). -->
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" brokerName="{name}"
          dataDirectory="{data}">
    <persistenceAdapter>
      <kahaDB directory="{kahadb}"{kahadb_attrs}>{locker}
      </kahaDB>
    </persistenceAdapter>
    <transportConnectors>
      <transportConnector name="stomp"
          uri="{transport}://127.0.0.1:{port}?maximumConnections={max_connections}"/>
    </transportConnectors>
  </broker>
</beans>
"""

_LOCKER = """
        <locker><shared-file-locker lockAcquireSleepInterval="{ms}"/></locker>"""

# log4j 1.2 (Debian's ActiveMQ logs through slf4j-log4j12): INFO to a file, as Debian's
# instance configuration does, so the slave-mode line can be waited for.
_LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.logger.org.apache.activemq.spring=WARN
"""


def installed_version():
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "activemq"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def java_binary():
    debian = "/usr/lib/jvm/default-java/bin/java"  # JAVA_HOME in Debian's activemq-options
    return debian if os.access(debian, os.X_OK) else "java"


class ActiveMQ:
    def __init__(self, workdir, name, port, kahadb_dir, java_opts, transport="stomp+nio",
                 max_connections=1000, lock_interval_ms=None, kahadb_attrs=""):
        """`lock_interval_ms`: None keeps ActiveMQ's locker untouched (10 s poll); `kahadb_attrs`:
        extra attributes of <kahaDB> (none by default)."""
        self.workdir = str(workdir)
        self.name = name
        self.port = port
        self.kahadb_dir = kahadb_dir
        self.java_opts = list(java_opts)
        self.lock_interval_ms = lock_interval_ms
        os.makedirs(self.workdir, exist_ok=True)
        os.makedirs(kahadb_dir, exist_ok=True)
        self.xml_path = os.path.join(self.workdir, "activemq.xml")
        self.log_path = os.path.join(self.workdir, "activemq.log")
        self.out_path = os.path.join(self.workdir, "java.out")
        locker = _LOCKER.format(ms=lock_interval_ms) if lock_interval_ms is not None else ""
        self.config_text = _XML.format(name=name, data=os.path.join(self.workdir, "data"), kahadb=kahadb_dir,
                                       locker=locker, transport=transport, port=port,
                                       kahadb_attrs=(" " + kahadb_attrs.strip()) if kahadb_attrs.strip() else "",
                                       max_connections=max_connections)
        with open(self.xml_path, "w") as f:
            f.write(self.config_text)
        self.log4j_path = os.path.join(self.workdir, "log4j.properties")
        with open(self.log4j_path, "w") as f:
            f.write(_LOG4J.format(log=self.log_path))
        self.proc = None
        self._log_offset = 0  # where the current process's log starts

    @property
    def store_dir(self):
        return self.kahadb_dir

    @property
    def pid(self):
        return self.proc.pid

    def command(self):
        return [java_binary(), *self.java_opts, f"-Dactivemq.home={HOME}", f"-Dactivemq.base={self.workdir}",
                f"-Dactivemq.conf={self.workdir}", f"-Dactivemq.data={self.workdir}/data",
                f"-Dlog4j.configuration=file:{self.log4j_path}",
                "-jar", f"{HOME}/bin/activemq.jar", "start", f"xbean:file:{self.xml_path}"]

    def start(self):
        """Starts the JVM and returns at once (a master opens its port seconds later; a slave
        never until it takes the lock): see wait_slave() and the caller's STOMP probe."""
        assert not self.running(), f"{self.name} already runs"
        self._log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        out = open(self.out_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir,
                                     preexec_fn=th._die_with_parent)
        out.close()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _log_since_start(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_slave(self, timeout):
        """Until this process reports it waits for the lock (a standby ready to take over)."""
        def slave():
            if not self.running():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}\n{self.log_tail()}")
            return SLAVE_LINE in self._log_since_start()
        th.wait_until(slave, timeout, interval=0.05, what=f"{self.name} in slave mode")

    def kill9(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def terminate(self, timeout=30.0):
        """SIGTERM (ActiveMQ's shutdown hook stops the broker), then SIGKILL after `timeout`."""
        if not self.running():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_tail(self, lines=30):
        text = ""
        for path in (self.log_path, self.out_path):
            try:
                with open(path, "rb") as f:
                    tail = f.read().decode("utf-8", errors="replace").splitlines()[-lines:]
                text += f"--- {path} ---\n" + "\n".join(tail) + "\n"
            except FileNotFoundError:
                pass
        return text

    def describe(self):
        return {"config_file": self.xml_path, "config": self.config_text,
                "command": " ".join(self.command()),
                "lock_acquire_sleep_interval_ms": self.lock_interval_ms or DEFAULT_LOCK_INTERVAL_MS}



class ActiveMQPair:
    """Shared file system master/slave: two ActiveMQ processes on one KahaDB directory. The
    master is the one serving STOMP (a slave has no port open); `port_probe(port, timeout)` is
    the caller's STOMP CONNECT check."""

    def __init__(self, workdir, ports, java_opts, transport, max_connections, lock_interval_ms, port_probe,
                 kahadb_attrs=""):
        shared = os.path.join(str(workdir), "shared-kahadb")
        self.lock_interval_ms = lock_interval_ms
        self.label = (f"ActiveMQ pair (lockAcquireSleepInterval {lock_interval_ms} ms)" if lock_interval_ms
                      else f"ActiveMQ pair (defaults: lock poll {DEFAULT_LOCK_INTERVAL_MS} ms)")
        self.nodes = [ActiveMQ(os.path.join(str(workdir), f"amq-{i + 1}"), f"amq-{i + 1}", port, shared, java_opts,
                               transport, max_connections, lock_interval_ms, kahadb_attrs)
                      for i, port in enumerate(ports)]
        self._probe = port_probe

    def ports(self):
        return [n.port for n in self.nodes]

    def start(self, timeout):
        first, second = self.nodes
        first.start()
        self._probe(first, timeout)
        second.start()
        second.wait_slave(timeout)

    def active(self, timeout):
        def serving():
            up = [n for n in self.nodes if n.running() and ph.port_open(n.port)]
            if len(up) > 1:
                raise RuntimeError(f"both ActiveMQ nodes serve STOMP\n{self.logs()}")
            return up[0] if up else None
        return th.wait_until(serving, timeout, what="the ActiveMQ master serving STOMP")

    def other(self, node):
        return self.nodes[1] if node is self.nodes[0] else self.nodes[0]

    def wait_standby(self, node, timeout):
        node.wait_slave(timeout)

    def restart(self, node, timeout):
        node.start()
        node.wait_slave(timeout)

    def stop(self):
        for n in self.nodes:
            n.terminate()

    def logs(self):
        return "".join(n.log_tail() for n in self.nodes)

    def describe(self):
        return {"label": self.label, "shared_dir": self.nodes[0].kahadb_dir,
                "config": {n.name: n.config_text for n in self.nodes}}
