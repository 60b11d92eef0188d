"""Running tandem-send and tandem-recv (tools/send_main.cc, tools/recv_main.cc) from the
end-to-end tests: bounded runs, background processes stopped by PID, and parsers for their
output (`--headers` blocks, the stderr summary line)."""

import os
import re
import signal
import subprocess

import tandem_harness as th

RUN_TIMEOUT = 60.0


def binary(name):
    bin_dir = os.environ.get("TANDEM_BIN_DIR")
    if not bin_dir:
        raise RuntimeError("TANDEM_BIN_DIR is not set (the CMake build directory)")
    path = os.path.join(bin_dir, "tools", name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no {name} executable at {path}")
    return path


def uri(broker_or_port, scheme="stomp", query=""):
    port = broker_or_port if isinstance(broker_or_port, int) else broker_or_port.port
    return f"{scheme}://127.0.0.1:{port}" + (f"?{query}" if query else "")


def failover_uri(ports, query=""):
    inner = ",".join(f"stomp://127.0.0.1:{p}" for p in ports)
    return f"failover:({inner})" + (f"?{query}" if query else "")


def environment(extra):
    """The test's environment plus `extra` (e.g. {"TANDEM_PASSCODE": ...}); None when empty."""
    return {**os.environ, **extra} if extra else None


def run(tool, *args, input=None, timeout=RUN_TIMEOUT, env=None):
    """Runs tandem-send / tandem-recv to the end (bounded); returns the CompletedProcess with
    text stdout and stderr. A run that outlives `timeout` is killed and fails the test. `env`:
    variables added to the environment."""
    try:
        return subprocess.run([binary(tool), *map(str, args)], input=input, capture_output=True,
                              text=True, timeout=timeout, env=environment(env))
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{tool} {' '.join(map(str, args))} still running after {timeout}s\n"
                             f"stderr: {e.stderr}") from None


def send(*args, **kwargs):
    return run("tandem-send", *args, **kwargs)


def recv(*args, **kwargs):
    return run("tandem-recv", *args, **kwargs)


def ok(r):
    """Asserts exit 0 and returns r (the message shows stderr)."""
    assert r.returncode == 0, f"{r.args[0]} exited {r.returncode}\nstderr:\n{r.stderr}"
    return r


class Background:
    """A tool running in the background with stdout/stderr in files (so a long run cannot
    fill a pipe). Stopped by PID at close()."""

    def __init__(self, workdir, name, tool, *args, env=None):
        self.out_path = os.path.join(str(workdir), f"{name}.out")
        self.err_path = os.path.join(str(workdir), f"{name}.err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([binary(tool), *map(str, args)], stdout=self._out,
                                     stderr=self._err, stdin=subprocess.DEVNULL,
                                     preexec_fn=th._die_with_parent, env=environment(env))

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.proc.args[0]} still running after {timeout}s\n"
                                 f"stderr tail:\n{self.stderr()[-2000:]}") from None

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def stdout_size(self):
        return os.path.getsize(self.out_path)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._out.close()
        self._err.close()


def parse_headers_output(text):
    """tandem-recv --headers output into [(headers dict, body)]. Each message is its header
    lines, an empty line, its body (one line in these tests), and an empty line between
    messages."""
    messages = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "" and not messages:
            i += 1
            continue
        headers = {}
        while i < len(lines) and lines[i] != "":
            key, _, value = lines[i].partition(":")
            headers.setdefault(key, value)
            i += 1
        if i + 1 >= len(lines):
            break  # a torn tail (the process was killed mid-message); not a message
        body = lines[i + 1]
        messages.append((headers, body))
        i += 3  # the empty line after the headers, the body, the empty separator
    return messages


def summary(stderr, tool):
    """The numbers of the final summary line, e.g. {'sent': 10, 'receipted': 10, ...}."""
    lines = [l for l in stderr.splitlines() if l.startswith(f"{tool}: ") and
             re.search(r"\b(sent|received) \d+", l)]
    assert lines, f"no summary line from {tool} in:\n{stderr}"
    nums = {}
    for key, value in re.findall(r"\b(sent|receipted|re-sent|received|acked) (\d+)", lines[-1]):
        nums[key] = int(value)
    for value, key in re.findall(r"(\d+) (redelivered|failover|transaction)", lines[-1]):
        nums[key + ("" if key == "redelivered" else "s")] = int(value)
    return nums
