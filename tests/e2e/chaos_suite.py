"""Shared by test_chaos_nodes.py and test_chaos_storage.py: runs one drill of deploy/chaos.py
with the suite's short loads (chaos_drills.SUITE) in the test's own directory, and checks the
accounting every drill must satisfy."""

import os
import sys

import pytest

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(_ROOT, "deploy"))
sys.path.insert(0, os.path.join(_ROOT, "tests", "support"))
import chaos_drills as cd  # noqa: E402
import ganesha  # noqa: E402
import zones as zn  # noqa: E402

needs_zones = pytest.mark.skipif(not os.path.exists(ganesha.GANESHA_BIN) or os.geteuid() != 0,
                                 reason="nfs-ganesha not installed, or not root")


def run(name, tmp_path, **overrides):
    """The drill's rows, after checking that nothing was lost, duplicated or delivered by a
    fenced node, that the load made progress and that the zones are gone."""
    params = cd.Params(**{**cd.SUITE.__dict__, **overrides})
    rows = cd.run_drill(name, params, os.environ["TANDEM_BIN_DIR"], str(tmp_path))
    for row in rows:
        print({k: v for k, v in row.items() if not k.endswith(("_ids", "_examples"))})
    assert not [n for n in zn.list_namespaces() if n.startswith(f"tdm{os.getpid()}-")]
    accounted = [r for r in rows if r.get("receipted") is not None]
    assert accounted, rows
    for row in accounted:
        assert not cd.problems(row), (row["fault"], cd.problems(row), row)
        assert row["receipted"] >= row["min_receipts"], row  # the load ran before and after
        assert row["delivered"] == row["receipted"], row
    return rows
