"""The example configurations in deploy/ are valid: what the deployment guide tells operators to
copy must pass `tandem-broker --check-config` (with stand-in TLS files and a scratch shared
directory in place of the hosts' paths)."""

import os
import pathlib
import subprocess
import sys

import pytest

import tandem_harness as th

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import tls_certs  # noqa: E402

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy"


@pytest.mark.parametrize("name", ["two-zone/node-1.yaml", "two-zone/node-2.yaml"])
def test_two_zone_example_config_is_valid(tmp_path, name):
    ca = tls_certs.make_ca(str(tmp_path))
    cert = tls_certs.make_cert(str(tmp_path), ca, "server")
    text = (DEPLOY / name).read_text()
    for path in ("/etc/tandem/tls/server.pem", "/etc/tandem/tls/server.key", "/var/lib/tandem/shared"):
        assert path in text, f"{name} no longer names {path}; update this test with the guide"
    text = (text.replace("/etc/tandem/tls/server.pem", cert.cert)
                .replace("/etc/tandem/tls/server.key", cert.key)
                .replace("/var/lib/tandem/shared", str(tmp_path / "shared")))
    config = tmp_path / "broker.yaml"

    # As shipped, the users' hashes are placeholders: the node must refuse to start, naming them.
    config.write_text(text)
    r = check_config(config)
    assert r.returncode == 2 and "security.users[0].password_hash" in r.stderr, r.stdout + r.stderr

    # With the hashes the guide tells operators to make, it is valid.
    assert text.count('"REPLACE: tandem-ctl hash-password"') == 3
    while '"REPLACE: tandem-ctl hash-password"' in text:
        text = text.replace('"REPLACE: tandem-ctl hash-password"', f'"{th.hash_password("s3cret")}"', 1)
    config.write_text(text)
    r = check_config(config)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration is valid" in r.stdout + r.stderr


def check_config(path):
    return subprocess.run([th.broker_binary(), "--check-config", str(path)], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def test_systemd_unit_runs_the_broker_on_the_guides_paths():
    unit = (DEPLOY / "systemd" / "tandem-broker.service").read_text()
    assert "ExecStart=/usr/local/bin/tandem-broker --config /etc/tandem/broker.yaml" in unit
    assert "ExecStartPre=/usr/local/bin/tandem-broker --check-config /etc/tandem/broker.yaml" in unit
    assert "RequiresMountsFor=/var/lib/tandem/shared" in unit
    assert "RestartPreventExitStatus=2" in unit  # a bad config is not restarted in a loop
    assert "User=tandem" in unit
    assert "Type=notify" in unit and "WatchdogSec=" in unit  # the broker speaks sd_notify
