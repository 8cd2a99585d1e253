"""The benchmark's verdicts: ratios round by round, spreads, and issues 6 and 15's targets."""

from __future__ import annotations

import pytest
from bench import report
from bench.wrk import WrkResult


def result(rps: float, p99: float = 2.0) -> WrkResult:
    return WrkResult(requests_per_second=rps, p50_ms=p99 / 2, p99_ms=p99, requests=int(rps * 10), errors=0)


def figures(
    rounds: dict[str, list[float]], cpu: dict[str, list[float]] | None = None, p99: float = 2.0
) -> report.Figures:
    found = report.Figures()
    for name, rates in rounds.items():
        for i, rps in enumerate(rates):
            found.add(name, result(rps, p99), (cpu or {}).get(name, [0.0] * len(rates))[i])
    return found


def verdicts(found: list[report.Target]) -> dict[str, str]:
    return {t.name: t.verdict for t in found}


def test_a_spread_is_the_median_with_the_lowest_and_highest_round() -> None:
    spread = report.Spread.of([3.0, 1.0, 2.0])
    assert (spread.median, spread.low, spread.high) == (2.0, 1.0, 3.0)
    assert spread.text(".1f", "x") == "2.0x (1.0-3.0)"
    assert report.Spread.of([4.0]).text(".1f") == "4.0"
    assert spread.overlaps(report.Spread.of([2.9, 5.0]))
    assert not spread.overlaps(report.Spread.of([3.1, 5.0]))
    with pytest.raises(ValueError):
        report.Spread.of([])


def test_ratios_are_taken_round_by_round() -> None:
    """A slow round lowers both sides: the per-round ratio holds still where the medians would not."""
    found = figures({"check-envoy-cookie": [30_000, 15_000, 36_000], report.NOOP: [40_000, 20_000, 48_000]})
    ratio = found.ratio("check-envoy-cookie", report.NOOP)
    assert ratio is not None
    assert (
        ratio.median == pytest.approx(0.75) and ratio.low == pytest.approx(0.75) and ratio.high == pytest.approx(0.75)
    )
    assert found.ratio("check-envoy-cookie", report.APACHE) is None


def test_session_check_targets_pass_and_miss() -> None:
    found = figures(
        {
            report.CADDY: [70_000],
            report.NOOP: [50_000],
            report.APACHE: [12_000],
            "check-envoy-cookie": [45_000],
            "check-forward-auth-cookie": [30_000],
        }
    )
    found.runs["check-forward-auth-cookie"] = [result(30_000, p99=6.0)]
    got = verdicts(report.targets(found, None))
    assert got == {
        "check-envoy-cookie >= 0.6x Caddy respond 200": "PASS",
        "check-envoy-cookie >= 0.85x the do-nothing app": "PASS",  # 0.90x
        "check-envoy-cookie >= 3.5x mod_auth_openidc": "PASS",  # 3.75x
        "check-envoy-cookie p99 < 5 ms at 50 connections": "PASS",
        "check-forward-auth-cookie >= 0.6x Caddy respond 200": "MISS",
        "check-forward-auth-cookie >= 0.85x the do-nothing app": "MISS",
        "check-forward-auth-cookie >= 3.5x mod_auth_openidc": "MISS",
        "check-forward-auth-cookie p99 < 5 ms at 50 connections": "MISS",
    }


def test_a_target_that_the_rounds_straddle_is_within_noise() -> None:
    found = figures({"check-envoy-cookie": [40_000, 44_000, 41_000], report.NOOP: [50_000, 50_000, 50_000]})
    [target] = [t for t in report.targets(found, None) if "do-nothing" in t.name]
    assert target.measured == "0.82x (0.80-0.88)"
    assert not target.passed
    assert "within noise" in target.note


def test_targets_by_cpu_time_sit_next_to_the_rate_targets() -> None:
    found = figures(
        {report.CADDY: [20_000], report.APACHE: [7_000], "check-envoy-cookie": [15_000]},
        cpu={report.CADDY: [50.0], report.APACHE: [230.0], "check-envoy-cookie": [46.0]},
    )
    targets = {t.name: t for t in report.targets(found, None)}
    assert targets["check-envoy-cookie >= 0.6x Caddy respond 200, by CPU"].measured == "1.09x"
    assert not targets["check-envoy-cookie >= 3.5x mod_auth_openidc"].passed  # 2.14x by rate
    assert targets["check-envoy-cookie >= 5x mod_auth_openidc, by CPU"].passed  # 5.00x
    assert targets["check-envoy-cookie >= 5x mod_auth_openidc, by CPU"].measured == "5.00x"


def test_chain_target_is_on_cost_not_rate() -> None:
    found = figures(
        {
            "chain-forward-auth-direct": [20_000],
            "chain-forward-auth-auth": [10_000],
            "chain-ambassador-direct": [20_000],
            "chain-ambassador-auth": [9_000],
        }
    )
    targets = {t.name: t for t in report.targets(found, None)}
    assert targets["chain (forward-auth) with auth hop costs <= 2x the chain without"].passed  # exactly 2x
    ambassador = targets["chain (ambassador) with auth hop costs <= 2x the chain without"]
    assert not ambassador.passed
    assert ambassador.measured.startswith("2.22x cost")


def test_soak_growth_and_a_short_soak_is_flagged() -> None:
    short = report.Soak(seconds=20, rss_before_kib=50_000, rss_after_kib=50_000 + 2048)
    [target] = report.targets(report.Figures(), short)
    assert target.passed and target.measured == "+2.0 MiB"
    assert "shorter than the target's 60 s" in target.note
    [full] = report.targets(report.Figures(), report.Soak(seconds=60, rss_before_kib=50_000, rss_after_kib=61_264))
    assert not full.passed and full.note == ""


def test_chain_cost_splits_the_hop_into_gateway_and_gatekeeper() -> None:
    found = figures(
        {
            "chain-forward-auth-direct": [5_000, 5_000, 5_000],
            "chain-forward-auth-freeauth": [4_000, 4_000, 4_000],
            "chain-forward-auth-auth": [2_500, 2_500, 2_500],
        }
    )
    [cost] = report.chain_costs(found)
    assert (cost.direct_us, cost.free_auth_us, cost.auth_us) == (200, 250, 400)
    assert cost.gateway_hop_us == 50 and cost.gatekeeper_us == 150 and not cost.noise
    text = report.chain_costs_text([cost])
    assert "a do-nothing auth service costs 50 and the gatekeeper 150" in text
    del found.runs["chain-forward-auth-freeauth"]
    [partial] = report.chain_costs(found)
    assert partial.gatekeeper_us is None and "do-nothing" not in report.chain_costs_text([partial])


def test_an_auth_hop_faster_than_a_do_nothing_hop_is_never_reported_as_such() -> None:
    """Issue 15: the run that had the gatekeeper's chain faster than the do-nothing chain."""
    overlapping = figures(
        {
            "chain-ambassador-direct": [5_000, 5_200, 4_900],
            "chain-ambassador-freeauth": [2_290, 3_300, 2_600],
            "chain-ambassador-auth": [3_451, 2_400, 2_700],
        }
    )
    [cost] = report.chain_costs(overlapping)
    assert cost.noise and cost.gatekeeper_us is not None and cost.gatekeeper_us < 0
    text = report.chain_costs_text([cost])
    assert "the gatekeeper's share is within noise" in text
    assert "faster" not in text
    apart = figures(
        {
            "chain-ambassador-direct": [5_000, 5_000, 5_000],
            "chain-ambassador-freeauth": [2_000, 2_100, 2_050],
            "chain-ambassador-auth": [3_400, 3_500, 3_450],
        }
    )
    [cost] = report.chain_costs(apart)
    assert not cost.noise
    assert "the machine changed under the run, repeat it" in report.chain_costs_text([cost])


def test_tables_and_json_carry_every_round() -> None:
    found = figures(
        {report.CADDY: [70_000, 60_000, 80_000], "check-302": [5_000, 6_000, 4_000]},
        cpu={report.CADDY: [21.44, 20.0, 23.0], "check-302": [100.0, 90.0, 110.0]},
    )
    found.runs["check-302"] = [result(5_000, 20.0), result(6_000, 18.0), result(4_000, 25.0)]
    table = report.markdown_table(found)
    assert "| Caddy `respond 200` (floor of an HTTP round trip) | 70,000 (60,000-80,000) | 1.00 | 2.00 |" in table
    assert "| 5,000 (4,000-6,000) | 10.00 | 20.00 |  | 0.07x (0.05-0.10) |  | 100 (90-110) |" in table
    data = report.as_json(found, [], None, {"before": 1}, {"seconds": 10}, {"cpus": 2})
    assert data["results"]["check-302"]["rps_of_each_round"] == [5_000, 6_000, 4_000]
    assert data["results"]["check-302"]["x_caddy"]["median"] == pytest.approx(5_000 / 70_000, abs=1e-3)
    assert data["results"][report.CADDY]["x_mod_auth_openidc"] is None


def test_median_run_is_one_of_the_runs() -> None:
    runs = [result(30_000, p99=3.0), result(10_000, p99=9.0), result(20_000, p99=4.0)]
    assert report.median_run(runs) is runs[2]
    assert report.median_run(runs[:2]) is runs[1]  # even count: the lower middle
    with pytest.raises(ValueError):
        report.median_run([])


def test_the_service_account_token_and_the_assertion_sit_next_to_the_session_cookie() -> None:
    """Their req/s and CPU over the session cookie's, round by round, in a table of their own and
    in the JSON; the main table keeps its columns."""
    found = figures(
        {
            report.SESSION_COOKIE_CHECK: [30_000, 15_000, 36_000],
            report.SERVICE_ACCOUNT_CHECK: [27_000, 13_500, 32_400],
            report.ASSERTION_CHECK: [24_000, 12_000, 30_600],
        },
        cpu={
            report.SESSION_COOKIE_CHECK: [40.0, 80.0, 35.0],
            report.SERVICE_ACCOUNT_CHECK: [44.0, 88.0, 38.5],
            report.ASSERTION_CHECK: [50.0, 96.0, 42.0],
        },
    )
    rows = {row.name: row for row in report.next_to_session_cookie(found)}
    assert list(rows) == [report.SERVICE_ACCOUNT_CHECK, report.ASSERTION_CHECK]
    sa, assertion = rows[report.SERVICE_ACCOUNT_CHECK], rows[report.ASSERTION_CHECK]
    assert sa.rps is not None and sa.rps.text(".2f", "x") == "0.90x"
    assert sa.cpu is not None and sa.cpu.text(".2f", "x") == "1.10x"
    assert assertion.rps is not None and assertion.rps.text(".2f", "x") == "0.80x (0.80-0.85)"
    assert assertion.cpu is not None and assertion.cpu.text(".2f", "x") == "1.20x (1.20-1.25)"
    table = report.next_to_session_cookie_table(list(rows.values()))
    assert "| req/s x session cookie | server CPU us/req x session cookie |" in table
    assert f"| {report.LABELS[report.SERVICE_ACCOUNT_CHECK]} | 0.90x | 1.10x |" in table
    assert f"| {report.LABELS[report.ASSERTION_CHECK]} | 0.80x (0.80-0.85) | 1.20x (1.20-1.25) |" in table
    assert report.markdown_table(found).splitlines()[0].endswith("| x mod_auth_openidc | server CPU us/req |")
    data = report.as_json(found, [], None, {}, {}, {})
    assert data["results"][report.ASSERTION_CHECK]["x_session_cookie"]["median"] == pytest.approx(0.8)
    assert data["results"][report.SESSION_COOKIE_CHECK]["x_session_cookie"]["median"] == pytest.approx(1.0)
    versus = data["vs_session_cookie"][report.SERVICE_ACCOUNT_CHECK]
    assert versus["rps_ratio"]["median"] == pytest.approx(0.9)
    assert versus["server_cpu_us_ratio"]["median"] == pytest.approx(1.1)


def test_without_the_session_cookie_there_is_nothing_to_set_them_next_to() -> None:
    found = figures({report.SERVICE_ACCOUNT_CHECK: [27_000], report.ASSERTION_CHECK: [24_000]})
    assert report.next_to_session_cookie(found) == []
    assert report.next_to_session_cookie_table([]) == ""
    assert report.as_json(found, [], None, {}, {}, {})["vs_session_cookie"] == {}
