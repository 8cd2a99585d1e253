"""The benchmark's verdicts: ratios and issue 6's targets from measured figures."""

from __future__ import annotations

import pytest
from bench import report
from bench.wrk import WrkResult


def result(rps: float, p99: float = 2.0) -> WrkResult:
    return WrkResult(requests_per_second=rps, p50_ms=p99 / 2, p99_ms=p99, requests=int(rps * 10), errors=0)


def verdicts(found: list[report.Target]) -> dict[str, str]:
    return {t.name: t.verdict for t in found}


def test_ratios_against_caddy_and_apache() -> None:
    results = {report.CADDY: result(70_000), report.APACHE: result(10_000), "check-envoy-cookie": result(35_000)}
    assert report.ratio(results, "check-envoy-cookie", report.CADDY) == pytest.approx(0.5)
    assert report.ratio(results, "check-envoy-cookie", report.APACHE) == pytest.approx(3.5)
    assert report.ratio(results, "check-envoy-cookie", "noop-granian") is None


def test_session_check_targets_pass_and_miss() -> None:
    results = {
        report.CADDY: result(70_000),
        report.APACHE: result(12_000),
        "check-envoy-cookie": result(45_000, p99=3.0),
        "check-forward-auth-cookie": result(30_000, p99=6.0),
    }
    got = verdicts(report.targets(results, None))
    assert got == {
        "check-envoy-cookie >= 0.6x Caddy respond 200": "PASS",
        "check-envoy-cookie >= 3x mod_auth_openidc": "PASS",
        "check-envoy-cookie p99 < 5 ms at 50 connections": "PASS",
        "check-forward-auth-cookie >= 0.6x Caddy respond 200": "MISS",
        "check-forward-auth-cookie >= 3x mod_auth_openidc": "MISS",
        "check-forward-auth-cookie p99 < 5 ms at 50 connections": "MISS",
    }


def test_chain_target_is_on_cost_not_rate() -> None:
    results = {
        "chain-forward-auth-direct": result(20_000),
        "chain-forward-auth-auth": result(10_000),
        "chain-ambassador-direct": result(20_000),
        "chain-ambassador-auth": result(9_000),
    }
    found = {t.name: t for t in report.targets(results, None)}
    assert found["chain (forward-auth) with auth hop costs <= 2x the chain without"].passed  # exactly 2x
    ambassador = found["chain (ambassador) with auth hop costs <= 2x the chain without"]
    assert not ambassador.passed
    assert ambassador.measured.startswith("2.22x cost")


def test_soak_growth_and_a_short_soak_is_flagged() -> None:
    short = report.Soak(seconds=20, rss_before_kib=50_000, rss_after_kib=50_000 + 2048)
    [target] = report.targets({}, short)
    assert target.passed and target.measured == "+2.0 MiB"
    assert "shorter than the target's 60 s" in target.note
    [full] = report.targets({}, report.Soak(seconds=60, rss_before_kib=50_000, rss_after_kib=50_000 + 11 * 1024))
    assert not full.passed and full.note == ""


def test_tables_and_json_carry_every_result() -> None:
    results = {report.CADDY: result(70_000), "check-302": result(5_000, p99=20.0)}
    table = report.markdown_table(results, {report.CADDY: 21.44})
    assert "| Caddy `respond 200` (floor of an HTTP round trip) | 70,000 | 1.00 | 2.00 | 1.00x |  | 21 |" in table
    assert "| 5,000 | 10.00 | 20.00 | 0.07x |" in table
    data = report.as_json(results, [], None, {"before": 1}, {"seconds": 10}, {"cpus": 2})
    assert data["results"]["check-302"]["x_caddy"] == pytest.approx(5_000 / 70_000)
    assert data["results"][report.CADDY]["x_mod_auth_openidc"] is None


def test_median_run_is_one_of_the_runs() -> None:
    runs = [result(30_000, p99=3.0), result(10_000, p99=9.0), result(20_000, p99=4.0)]
    assert report.median_run(runs) is runs[2]
    assert report.median_run(runs[:2]) is runs[1]  # even count: the lower middle
    with pytest.raises(ValueError):
        report.median_run([])


def test_chain_cost_splits_the_hop_into_gateway_and_gatekeeper() -> None:
    results = {
        "chain-forward-auth-direct": result(5_000),
        "chain-forward-auth-freeauth": result(4_000),
        "chain-forward-auth-auth": result(2_500),
    }
    [cost] = report.chain_costs(results)
    assert (cost.direct_us, cost.free_auth_us, cost.auth_us) == (200, 250, 400)
    assert cost.gateway_hop_us == 50 and cost.gatekeeper_us == 150
    assert (
        "the gateway's sub-request to a do-nothing auth service is 50 and the gatekeeper 150"
        in report.chain_costs_text([cost])
    )
    [partial] = report.chain_costs({k: v for k, v in results.items() if "freeauth" not in k})
    assert partial.gatekeeper_us is None and "do-nothing" not in report.chain_costs_text([partial])


def test_targets_by_cpu_time_sit_next_to_the_rate_targets() -> None:
    results = {
        report.CADDY: result(20_000),
        report.APACHE: result(7_000),
        "check-envoy-cookie": result(15_000),
        "chain-forward-auth-direct": result(5_000),
        "chain-forward-auth-auth": result(2_400),
    }
    cpu = {
        report.CADDY: 50.0,
        report.APACHE: 230.0,
        "check-envoy-cookie": 76.0,
        "chain-forward-auth-direct": 350.0,
        "chain-forward-auth-auth": 600.0,
    }
    found = {t.name: t for t in report.targets(results, None, cpu)}
    assert found["check-envoy-cookie >= 0.6x Caddy respond 200"].passed  # 0.75x by rate
    assert found["check-envoy-cookie >= 0.6x Caddy respond 200, by CPU"].measured == "0.66x"
    assert not found["check-envoy-cookie >= 3x mod_auth_openidc"].passed  # 2.14x by rate
    assert found["check-envoy-cookie >= 3x mod_auth_openidc, by CPU"].passed  # 3.03x
    assert not found["chain (forward-auth) with auth hop costs <= 2x the chain without"].passed  # 0.48x rate
    assert found["chain (forward-auth) with auth hop costs <= 2x the chain without, by CPU"].measured == "1.71x cost"
