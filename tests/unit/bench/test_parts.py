"""The benchmark's other pure parts: /proc reading, outcome counters, configs it writes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from bench import apache, chain, counters, process_tree
from harness.minimal_gateway import RESOURCES, SERVICES

STATUS = "Name:\tpython3\nVmPeak:\t  90000 kB\nVmRSS:\t   41236 kB\nRssAnon:\t 30000 kB\n"


def test_vm_rss_and_parent_pid() -> None:
    assert process_tree.vm_rss_kib(STATUS) == 41236
    with pytest.raises(process_tree.ProcReadError):
        process_tree.vm_rss_kib("Name:\tkthreadd\n")
    stat = "4242 (granian worker) (x) S 4200 4242 4200 0 -1 4194560 100 0 0 0 1500 320 0 0 20 0 3"
    assert process_tree.parent_pid(stat) == 4200
    assert process_tree.cpu_ticks(stat) == 1500 + 320


def test_descendants_walks_the_whole_tree_only() -> None:
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 12, 20: 1, 21: 20}
    assert process_tree.descendants(10, parents) == [10, 11, 12, 13]


def test_tree_cpu_grows_with_work_done_here() -> None:
    before = process_tree.tree_cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert process_tree.tree_cpu_seconds(os.getpid()) - before >= 0.2


METRICS = """\
# TYPE gatekeeper_checks_total counter
gatekeeper_checks_total{outcome="allowed"} 1500
gatekeeper_checks_total{outcome="redirected"} 3
gatekeeper_checks_total{outcome="unauthorized"} 0
gatekeeper_check_duration_seconds_count 1503
"""


def test_outcome_counters_and_their_verification() -> None:
    before = counters.check_outcomes(METRICS)
    assert before == {"allowed": 1500, "redirected": 3, "unauthorized": 0}
    after = {**before, "allowed": 2600}
    assert counters.verify_outcomes(before, after, "allowed", completed=1080) == (1100, 0)
    assert counters.verify_outcomes(before, after, "allowed", completed=1120) == (1100, 20)
    with pytest.raises(counters.CounterError, match="only 1100"):
        counters.verify_outcomes(before, after, "allowed", completed=1200)
    with pytest.raises(counters.CounterError, match="redirected"):
        counters.verify_outcomes(before, {**after, "redirected": 4}, "allowed", completed=1000)
    with pytest.raises(counters.CounterError):
        counters.check_outcomes("# nothing here\n")


def test_apache_client_is_added_to_the_dex_config() -> None:
    dex = yaml.safe_dump(
        {
            "issuer": "http://127.0.0.1:1/dex",
            "staticClients": [{"id": "gk", "name": "gk", "secret": "s", "redirectURIs": ["http://x/cb"]}],
        }
    )
    client = apache.ApacheClient(port=8123, secret="apache-secret")
    once = apache.with_client(dex, client)
    twice = yaml.safe_load(apache.with_client(once, client))
    assert [c["id"] for c in twice["staticClients"]] == ["gk", "bench-apache"]
    assert twice["staticClients"][1]["redirectURIs"] == ["http://127.0.0.1:8123/protected/redirect_uri"]
    with pytest.raises(apache.ApacheError):
        apache.with_client("- not a config\n", client)


def test_httpd_config_protects_the_location_with_a_client_cookie_session(tmp_path: Path) -> None:
    client = apache.ApacheClient(port=8123, secret="apache-secret")
    text = apache.httpd_config(client, "http://127.0.0.1:1/dex", tmp_path, "pass")
    assert "OIDCSessionType client-cookie" in text
    assert "OIDCProviderMetadataURL http://127.0.0.1:1/dex/.well-known/openid-configuration" in text
    assert "<Location /protected>\n    AuthType openid-connect\n    Require valid-user\n</Location>" in text
    assert "LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so" in text


@pytest.mark.parametrize("style", chain.CHAIN_STYLES)
def test_chain_configs_differ_only_by_the_auth_hop(style: str) -> None:
    with_auth = chain.chain_config(style, True, RESOURCES, SERVICES, "/authservice/forward-auth")
    direct = chain.chain_config(style, False, RESOURCES, SERVICES, "/authservice/forward-auth")
    assert "127.0.0.1:9001" in with_auth.text
    assert "127.0.0.1:9001" not in direct.text
    assert "127.0.0.1:9002" in direct.text


def test_chain_without_an_auth_service_is_refused() -> None:
    with pytest.raises(ValueError, match="no AuthService"):
        chain.without_auth(RESOURCES[1:])


def test_idle_pool_reaches_every_reverse_proxy_and_nothing_else() -> None:
    config = chain.adapted(chain.chain_config("ambassador", True, RESOURCES, SERVICES, "/x"))
    pooled = chain.with_idle_pool(config, 256)
    text = json.dumps(pooled)
    proxies = text.count('"handler": "reverse_proxy"')
    assert proxies == 4  # check hop, the authz server's two routes to the gatekeeper, the app
    assert text.count('"max_idle_conns_per_host": 256') == proxies
    assert "max_idle_conns_per_host" not in json.dumps(config)  # the input is left alone


def test_auth_service_key_matches_the_harness_service_map() -> None:
    assert chain.auth_service_key(RESOURCES) == "dex-auth.m:8080"
    with pytest.raises(ValueError):
        chain.auth_service_key(RESOURCES[1:])


def test_collapsed_stacks_become_self_and_inclusive_shares() -> None:
    from bench.profile import NATIVE_ONLY, collapsed_shares

    raw = "main;loop;check;send 30\nmain;loop;check 10\nmain;loop;loop;select 20\n 40\nnot a stack line\n"
    samples, shares = collapsed_shares(raw)
    assert samples == 100
    by_frame = {s.frame: s for s in shares}
    assert by_frame["main"].total_pct == 60 and by_frame["main"].self_pct == 0
    assert by_frame["loop"].total_pct == 60  # counted once in a recursive stack
    assert (by_frame["check"].self_pct, by_frame["check"].total_pct) == (10, 40)
    assert by_frame[NATIVE_ONLY].self_pct == 40
    assert collapsed_shares("") == (0, [])
