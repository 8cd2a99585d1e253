import re

from gatekeeper.metrics import Metrics

LINE = re.compile(r'^[a-z_]+(\{[a-z]+="(?:[^"\\]|\\.)*"\})? [0-9.e+-]+$')


def test_render_is_prometheus_text_with_counts():
    m = Metrics()
    m.check("allowed", 0.0003)
    m.check("allowed", 0.002)
    m.check("redirected", 5.0)
    m.logins["success"] += 1
    m.logouts += 2
    m.token_error('ex"pired')
    text = m.render()
    assert text.endswith("\n")
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or LINE.match(line), line
    assert 'gatekeeper_checks_total{outcome="allowed"} 2' in text
    assert 'gatekeeper_checks_total{outcome="redirected"} 1' in text
    assert 'gatekeeper_check_duration_seconds_bucket{le="0.0005"} 1' in text
    assert 'gatekeeper_check_duration_seconds_bucket{le="0.0025"} 2' in text
    assert 'gatekeeper_check_duration_seconds_bucket{le="2.5"} 2' in text
    assert 'gatekeeper_check_duration_seconds_bucket{le="+Inf"} 3' in text
    assert "gatekeeper_check_duration_seconds_count 3" in text
    assert 'gatekeeper_logins_total{result="success"} 1' in text
    assert "gatekeeper_logouts_total 2" in text
    assert 'gatekeeper_token_errors_total{reason="ex\\"pired"} 1' in text


def test_token_error_labels_are_bounded():
    m = Metrics()
    for i in range(500):
        m.token_error(f"r{i}")
    assert len(m.token_errors) == 50
