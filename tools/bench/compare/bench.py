"""Running tandem-bench (tools/bench_*.cc) from the comparison: one workload, one JSON line back.

Every run is a separate process bounded by a timeout; its client CPU time (user + sys, from the
rusage of the waited child) comes back with the figures, so a client that became the
bottleneck would show.
"""

import json
import resource
import subprocess
import time


class BenchError(RuntimeError):
    pass


def start(bench_bin, uri, args):
    """`tandem-bench --uri URI ARGS --json --quiet` in the background; finish() reads it."""
    cmd = [bench_bin, "--uri", uri, *args, "--json", "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout_s):
    """Waits for a start()ed run; returns its JSON object. Raises BenchError with tandem-bench's
    stderr when it fails, or after killing it when it overruns `timeout_s`."""
    what = " ".join(proc.args)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.communicate()
        raise BenchError(f"{what}: no result within {timeout_s:.0f} s") from e
    if proc.returncode != 0:
        raise BenchError(f"{what} failed ({proc.returncode}): {err.strip()[-1500:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"{what} printed no JSON: {out[-500:]}")
    return json.loads(lines[-1])


def run(bench_bin, uri, args, timeout_s):
    """start() + finish(), plus `client_cpu_s` (the client's user + sys) and `wall_s`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    result = finish(start(bench_bin, uri, args), timeout_s)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["client_cpu_s"] = round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 3)
    result["wall_s"] = round(time.monotonic() - t0, 3)
    return result


def wait_serving(bench_bin, port, timeout_s, who):
    """CONNECT + DISCONNECT receipt on stomp://127.0.0.1:PORT, retried until it works."""
    try:
        return run(bench_bin, f"stomp://127.0.0.1:{port}", ["probe", "--timeout-ms", str(int(timeout_s * 1000))],
                   timeout_s + 10)
    except BenchError as e:
        raise BenchError(f"{who} does not serve STOMP on 127.0.0.1:{port}: {e}") from e
