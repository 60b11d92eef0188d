"""What a broker process costs, read from /proc, and what its store takes on disk; plus the
description of the machine a comparison ran on.

Figures are per process (the JVM counts as one process with all its threads):
  rss_kib(pid)        VmRSS now
  peak_rss_kib(pid)   VmHWM: the peak since start or since reset_peak_rss(pid)
  reset_peak_rss(pid) writes 5 to /proc/PID/clear_refs (Linux >= 4.0, same user or root), so a
                      workload's peak can be read on its own
  cpu_seconds(pid)    utime + stime of every thread, alive or ended (/proc/PID/stat)
  disk_bytes(dir)     allocated bytes (st_blocks) of every file under dir: what the store really
                      takes, not the apparent size of preallocated or sparse journal files
"""

import os
import platform
import subprocess

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _field_kib(path, key):
    """The number after `key:` in a /proc file of `key: value kB` lines (None if absent)."""
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def _status_kib(pid, key):
    value = _field_kib(f"/proc/{pid}/status", key)
    if value is None:
        raise RuntimeError(f"/proc/{pid}/status has no {key}")
    return value


def rss_kib(pid):
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid):
    return _status_kib(pid, "VmHWM")


def reset_peak_rss(pid):
    """Resets VmHWM to the current RSS. Returns False where the kernel does not allow it (the
    peak then covers everything since the process started)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name (field 2) may contain spaces: fields are counted after its ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLK_TCK


def disk_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass  # a journal file deleted while we walk
    return total


def _first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine(work_dir):
    """What the figures depend on: CPU, memory, kernel, OS, the file system under the stores."""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = _field_kib("/proc/meminfo", "MemTotal")
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    fs = " ".join(_first_line(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", work_dir]).split())
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 1048576, 1) if mem_kib else None,
        "kernel": platform.release(),
        "os": os_name,
        "store_filesystem": fs,
        "store_dir": work_dir,
    }


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
