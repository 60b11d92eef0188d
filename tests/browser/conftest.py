"""The browser tests reuse the end-to-end harness (tests/e2e): its watchdog, pair harness and
the pair with users (secure_pair.py)."""

import importlib.util
import os
import sys

E2E = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e")
sys.path.insert(0, E2E)

_spec = importlib.util.spec_from_file_location("e2e_conftest", os.path.join(E2E, "conftest.py"))
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

# The hooks and fixtures every test here gets, exactly as in tests/e2e.
pytest_configure = _e2e.pytest_configure
pytest_runtest_makereport = _e2e.pytest_runtest_makereport
_watchdog = _e2e._watchdog
