"""Fixtures for Tandem's end-to-end tests.

- `broker`: a running tandem-broker with the default test config.
- `start_broker(**overrides)`: starts one with config overrides, e.g.
  `start_broker(delivery={"max_redeliveries": 2})`; `start_broker(http=True)` also serves the
  admin API on `broker.http_port` (`broker.api()` is a client of it).
- `clients`: `clients.new(broker, version="1.1", ...)` returns a connected stomp.py Client that is
  closed at teardown.
- Every test is bounded by a watchdog (default 90 s, `@pytest.mark.limit(seconds)` to change):
  on expiry it dumps every thread's stack, SIGKILLs the test's brokers by PID (which unblocks
  the test) and, if the test still does not finish, exits the test process.
"""

import faulthandler
import os
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import tandem_harness as th  # noqa: E402

DEFAULT_LIMIT_S = 90


def pytest_configure(config):
    config.addinivalue_line("markers", "limit(seconds): hard time limit for one test")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _watchdog(request):
    marker = request.node.get_closest_marker("limit")
    limit = marker.args[0] if marker else DEFAULT_LIMIT_S
    finished = threading.Event()

    def expire():
        if finished.is_set():
            return
        sys.stderr.write(f"\n*** {request.node.nodeid} exceeded its {limit}s limit; "
                         "killing its brokers ***\n")
        faulthandler.dump_traceback(all_threads=True)
        th.kill_all_brokers()
        if not finished.wait(30):
            sys.stderr.write("*** test still stuck 30s after its brokers were killed; exiting ***\n")
            sys.stderr.flush()
            os._exit(3)

    timer = threading.Timer(limit, expire)
    timer.daemon = True
    timer.start()
    yield
    finished.set()
    timer.cancel()


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.fixture
def start_broker(tmp_path, request):
    started = []

    def start(http=False, **overrides):
        workdir = tmp_path / f"broker-{len(started) + 1}"
        workdir.mkdir()
        b = th.Broker(workdir, overrides, http=http)
        started.append(b)
        b.start()
        return b

    yield start

    problems = []
    for b in started:
        died = b.died_unexpectedly()
        if died is not None:
            problems.append(f"tandem-broker (port {b.port}) died on its own with code {died}")
        code = b.terminate()
        if b.exit_codes and b.exit_codes[-1][0].startswith("SIGTERM") and code != 0:
            print(f"note: tandem-broker on port {b.port} stopped by SIGTERM with {b.exit_codes[-1]}")
        if _failed(request) or problems:
            print(f"\n--- tandem-broker log tail ({b.log_path}) ---\n{b.log_tail(80)}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def broker(start_broker):
    return start_broker()


class _Clients:
    def __init__(self):
        self.all = []

    def new(self, broker, version="1.1", connect=True, **kwargs):
        c = th.Client(broker, version=version, **kwargs)
        self.all.append(c)
        if connect:
            c.connect()
        return c

    def raw(self, broker, timeout=th.DEFAULT_TIMEOUT):
        r = broker.raw(timeout)
        self.all.append(r)
        return r


@pytest.fixture
def clients():
    registry = _Clients()
    yield registry
    for c in registry.all:
        if isinstance(c, th.RawClient):
            c.close()
        else:
            c.close_quietly()


# --- active/standby pair (tests/e2e/pair_harness.py) -----------------------------------------

@pytest.fixture
def start_pair(tmp_path, request):
    """`start_pair(storage=None, ha=None, extra=None)` starts two nodes on one shared storage
    (a directory under tmp_path by default) and returns a pair_harness.Pair; both stopped by
    PID at teardown, logs printed on failure."""
    import pair_harness

    pairs = []

    def start(**kwargs):
        p = pair_harness.Pair(tmp_path / f"pair-{len(pairs) + 1}", **kwargs)
        pairs.append(p)
        p.start()
        return p

    yield start
    for p in pairs:
        p.stop()
        if _failed(request):
            print(f"\n{p.logs(80)}")
