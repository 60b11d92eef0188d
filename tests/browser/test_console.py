"""The web console in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core
from npm): a real active/standby pair with an admin and a viewer, messages sent by a real STOMP
client (tandem-send), and what a person sees on both consoles: the role banners, the standby's
link to the active, a queue's depth, browsing it, a purge with its confirmation, a viewer's
disabled actions, a switchover from the console. The steps are in console.mjs; screenshots go to
build/test-artifacts/console/."""

import json
import os
import shutil
import signal
import subprocess

import pytest

from secure_pair import USERS, make_pair

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"


def npm_ci():
    """Installs playwright-core exactly as package-lock.json says, unless it already is."""
    lock = json.load(open(os.path.join(HERE, "package-lock.json")))
    want = lock["packages"]["node_modules/playwright-core"]["version"]
    installed = os.path.join(HERE, "node_modules", "playwright-core", "package.json")
    if os.path.exists(installed) and json.load(open(installed)).get("version") == want:
        return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, f"npm ci failed in {HERE}:\n{r.stdout}\n{r.stderr}"


def artifacts_dir():
    d = os.path.join(os.environ["TANDEM_BIN_DIR"], "test-artifacts", "console")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


@pytest.mark.limit(150)
def test_console_in_chromium(tmp_path):
    for tool in (CHROMIUM, shutil.which("node"), shutil.which("npm")):
        assert tool and os.access(tool, os.X_OK), "chromium, node and npm are needed (scripts/install-deps.sh)"
    npm_ci()
    # Both consoles under one host name, as on the local pair: each node's session cookie is
    # its own (tandem_session_<node>), so signing in to one does not sign the other out.
    pair = make_pair(tmp_path / "pair")
    proc = None
    try:
        pair.start()
        active = pair.wait_active(30)
        standby = pair.other(active)
        pair.wait_role(standby, "standby", 30)
        send = os.path.join(os.environ["TANDEM_BIN_DIR"], "tools", "tandem-send")
        settings = {
            "active": {"name": active.name, "url": f"http://127.0.0.1:{active.http_port}"},
            "standby": {"name": standby.name, "url": f"http://127.0.0.1:{standby.http_port}"},
            "users": {name: list(v) for name, v in USERS.items()},
            "artifacts": artifacts_dir(),
            "send": [send, f"stomp://127.0.0.1:{active.port}", "/queue/console.orders", "console order {n}",
                     "--number", "--count", "{count}", "--persistent", "--quiet"],
        }
        settings_path = tmp_path / "settings.json"
        settings_path.write_text(json.dumps(settings))
        # Its own process group, so a timeout ends node and the Chromium it started, by PID.
        proc = subprocess.Popen(["node", os.path.join(HERE, "console.mjs"), str(settings_path)], cwd=HERE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            pytest.fail(f"the browser test did not finish within 120 s:\n{out}")
        print(out)
        assert proc.returncode == 0, f"the browser test failed:\n{out}\n{pair.logs(60)}"
        # The switchover the console asked for, as the pair itself reports it.
        assert pair.wait_active(30) is standby
        assert pair.wait_role(active, "standby", 30) == "standby"
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        pair.stop()
