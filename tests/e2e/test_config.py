"""A bad configuration stops the broker at start with the file, the line and the reason."""

import pytest

import tandem_harness as th


@pytest.mark.parametrize("overrides,needle", [
    ({"limits": {"max_frme_bytes": 1000}}, "max_frme_bytes"),
    ({"delivery": {"dead_letter": "sideways"}}, "dead_letter"),
    ({"storage": {"max_bytes": "lots"}}, "max_bytes"),
])
def test_bad_config_stops_the_broker_naming_file_line_and_key(tmp_path, overrides, needle):
    b = th.Broker(tmp_path, overrides)
    with pytest.raises(AssertionError, match="exited with code"):
        b.start(timeout=10)
    code = b.exit_codes[-1][1]
    assert code != 0
    log = b.log_text()
    assert "broker.yaml:" in log and needle in log, log[-2000:]
