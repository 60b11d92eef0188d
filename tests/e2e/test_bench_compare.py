"""The plumbing of tools/bench/compare-activemq.sh without ActiveMQ (BROKERS=tandem): a fresh
single node per round, every workload through tandem-bench (including `stream --receipts last`),
the broker's CPU/RSS/disk figures, kill -9 failovers of a real pair, and the JSON, markdown and
gnuplot files it writes. Tiny sizes: this checks that the script works, not how fast anything is
(the figures come from running the script itself, tools/bench/README.md)."""

import json
import os
import signal
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "tools", "bench", "compare-activemq.sh")


def run_script(tmp_path, timeout, **env):
    full = dict(os.environ, TMPDIR=str(tmp_path), OUT_DIR=str(tmp_path / "out"),
                **{k: str(v) for k, v in env.items()})
    # Its own session, so a run that overruns is stopped with everything it started.
    proc = subprocess.Popen(["bash", SCRIPT], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"compare-activemq.sh did not finish in {timeout} s\n{err[-3000:]}")
    return proc.returncode, out, err


@pytest.mark.limit(170)
def test_tandem_only_quick_run_measures_every_workload_and_writes_its_files(tmp_path):
    code, out, err = run_script(tmp_path, 150, QUICK=1, BROKERS="tandem", CHART=0, ROUNDS=1, A_SECONDS=0.5,
                                B_SECONDS=0.5, STREAM_COUNT=2000, FANOUT_COUNT=200, CONNECTIONS=200, HOLD=0.2,
                                WARM_SECONDS=0.2, WARM_COUNT=100, WARM_FANOUT=50, SETTLE_S=0.5,
                                FAILOVER_RUNS=2, PRE_FAULT_S=0.5, PHASE_S=0.5)
    assert code == 0, err[-3000:]
    with open(tmp_path / "out" / "compare-activemq.json") as f:
        result = json.load(f)
    rows = {r["key"]: r for r in result["rows"]}
    for key in ("a", "a_latency", "b", "c", "c_last", "d", "e", "f", "f_open", "tandem_failover"):
        # 200 idle connections may fit in memory the broker already had: (f) can be 0 KiB each.
        assert rows[key]["tandem"]["median"] >= 0 if key == "f" else rows[key]["tandem"]["median"] > 0, key
        assert rows[key]["activemq"] is None, key
    assert rows["tandem_failover"]["tandem"]["n"] == 2  # both kills measured
    runs = {r["workload"]: r for r in result["runs"]}
    assert runs["c_last"]["bench"]["receipts"] == "last"
    assert runs["d"]["messages"] == 2000  # drained exactly what (c) stored
    assert runs["f"]["bench"]["alive_after_hold"] == 200
    for r in result["runs"]:
        assert r["broker_cpu_s"] >= 0 and r["peak_rss_kib"] > 0, r["workload"]
    # 1 KiB bodies in the journal (2 MiB: more than the 1 MiB Tandem zero-fills ahead of its tail)
    assert result["disk"][0]["bytes_per_message"] > 500
    assert result["failover_checks"]["tandem"]["all_delivered"] is True
    if result["durability_check"]:  # only where the disk counts flushes
        assert result["durability_check"]["tandem"]["receipt_after_disk_flush"] is True
    assert "broker.yaml" in result["configs"]["tandem"]["config_file"]
    md = (tmp_path / "out" / "compare-activemq.md").read_text()
    assert "| workload | unit | ActiveMQ median [min–max] | Tandem median [min–max] | Tandem ahead |" in md
    assert "plot $tput" in (tmp_path / "out" / "compare-activemq.gp").read_text()
    assert "Tandem ahead" in out and "markdown (ready to paste)" in out
    # The scratch directory (stores, configs) is gone; only the results stay.
    assert [p for p in os.listdir(tmp_path) if p.startswith("tandem-compare-activemq.")] == []


@pytest.mark.parametrize("env, named", [({"BROKERS": "tandem,rabbitmq"}, "BROKERS"),
                                        ({"ROUNDS": "five"}, "ROUNDS"),
                                        ({"AMQ_TRANSPORT": "openwire"}, "AMQ_TRANSPORT"),
                                        ({"AMQ_KAHADB": "<bean/>"}, "AMQ_KAHADB")])
def test_a_bad_setting_is_refused_with_its_name_before_anything_starts(tmp_path, env, named):
    code, _, err = run_script(tmp_path, 60, QUICK=1, CHART=0, **{"BROKERS": "tandem", **env})
    assert code == 2
    assert named in err
