"""A real Prometheus scraping the real gatekeeper from the charm's scrape jobs, evaluating the
charm's alert rules and answering the dashboard's queries.

Prometheus is Debian's (package prometheus, scripts/setup). Its config is what COS's Prometheus
makes of our `metrics-endpoint` data: each `*:<port>` target becomes one job per unit, named
`<job>-<unit number>`, with the unit's address and the topology labels beside ours
(canonical/prometheus-k8s-operator lib/charms/prometheus_k8s/v0/prometheus_scrape.py, LIBPATCH
61, 432c227: `_build_per_unit_job`). The pod's port maps to the local gatekeeper's. Dex's job
points at a port where nothing listens: the stand-in for Dex has no telemetry listener, so
Dex's panels are held to the metric names of Dex's source instead (tests/charm/
test_grafana_dashboard.py), and here its job is the down target the alert rules must notice.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import requests
import yaml
from harness import form_login
from harness.processes import free_port, http_ready, wait_until
from harness.stack import Stack

import grafana_dashboard
import observability
import pebble_layers

MODEL, MODEL_UUID, APP, UNIT = "kubeflow", "4d5f1c9e-0000-4000-8000-000000000001", "dex-auth", "dex-auth/0"
API = {"Accept": "application/json"}


def cos_scrape_config(stack: Stack, dex_port: int) -> dict[str, Any]:
    local = {
        pebble_layers.GATEKEEPER_PORT: stack.gatekeeper_url.split("//")[1],
        pebble_layers.DEX_TELEMETRY_PORT: f"127.0.0.1:{dex_port}",
    }
    topology = {"juju_model": MODEL, "juju_model_uuid": MODEL_UUID, "juju_application": APP, "juju_charm": "dex-auth"}
    jobs = []
    for job in observability.scrape_jobs():
        static = job["static_configs"][0]
        port = int(static["targets"][0].removeprefix("*:"))
        jobs.append(
            {
                **job,
                "job_name": f"{job['job_name']}-0",
                "static_configs": [
                    {"targets": [local[port]], "labels": {**topology, "juju_unit": UNIT, **static["labels"]}}
                ],
            }
        )
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yaml"],
        "scrape_configs": jobs,
    }


@pytest.fixture(scope="module")
def prometheus(stacks) -> tuple[Stack, str]:
    stack = stacks.start(name="observed")
    root = stack.root / "prometheus"
    root.mkdir()
    (root / "prometheus.yaml").write_text(yaml.safe_dump(cos_scrape_config(stack, free_port())))
    (root / "rules.yaml").write_text(yaml.safe_dump(observability.alert_rules(APP, MODEL)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        "prometheus",
        f"--config.file={root / 'prometheus.yaml'}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    stack.processes.start("prometheus", argv, cwd=root, ready=http_ready(f"{url}/-/ready"), timeout=30)
    return stack, url


def query(url: str, expr: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def dashboard_query(expr: str) -> str:
    """Grafana's variables as its dropdowns set to this model and "All" units, the rate window
    long enough for a few 1 s scrapes."""
    values = {"juju_model": MODEL, "juju_model_uuid": MODEL_UUID, "juju_application": APP, "juju_unit": ".*"}
    return re.sub(r"\$\{?(\w+)\}?", lambda m: "1m" if m[1] == "__rate_interval" else values[m[1]], expr)


def traffic(stack: Stack) -> None:
    """Each outcome the panels count: refused, redirected, bad token, a login and a logout."""
    assert requests.get(stack.url("/api"), headers=API, timeout=10).status_code == 401
    assert (
        requests.get(
            stack.url("/page"), headers=form_login.BROWSER_HEADERS, allow_redirects=False, timeout=10
        ).status_code
        == 302
    )
    bad = {**API, "Authorization": "Bearer not.a.token"}
    assert requests.get(stack.url("/api"), headers=bad, timeout=10).status_code == 401
    session = requests.Session()
    result = form_login.login(session, stack.url("/after"), stack.username or "", stack.password or "")
    assert result.response.status_code == 200, result.describe()
    assert session.get(stack.url("/after"), headers=API, timeout=10).status_code == 200
    logout = session.get(
        stack.url(f"{stack.prefix}/logout"), headers=form_login.BROWSER_HEADERS, allow_redirects=False, timeout=10
    )
    assert logout.status_code in (302, 303, 200), logout.status_code


def panels() -> list[dict[str, Any]]:
    return json.loads((grafana_dashboard.DASHBOARDS_DIR / "dex-auth.json").read_text())["panels"]


def test_the_gatekeeper_panels_answer_from_the_scraped_metrics(prometheus) -> None:
    stack, url = prometheus
    traffic(stack)
    wanted = [
        (panel["title"], target["expr"])
        for panel in panels()
        for target in panel["targets"]
        if 'workload="gatekeeper"' in target["expr"] and 'outcome="unauthorized"' not in target["expr"]
    ]
    assert len(wanted) >= 8

    def all_answer() -> bool:
        return all(query(url, dashboard_query(expr)) for _, expr in wanted)

    wait_until(all_answer, timeout=30, what="every gatekeeper panel to have data", interval=1)
    outcomes = {r["metric"]["outcome"] for r in query(url, dashboard_query(_expr("Checks by outcome")))}
    assert {"allowed", "redirected", "unauthorized"} <= outcomes
    reasons = {r["metric"]["reason"] for r in query(url, dashboard_query(_expr("Token errors by reason")))}
    assert reasons, "the bad bearer token left no reason"
    logins = query(url, dashboard_query(_expr("Logins and logouts")))
    assert {r["metric"].get("result") for r in logins} >= {"success"}


def _expr(title: str) -> str:
    return next(p for p in panels() if p["title"] == title)["targets"][0]["expr"]


def test_the_alert_rules_load_and_only_the_down_dex_is_noticed(prometheus) -> None:
    url = prometheus[1]

    def evaluated() -> list[dict[str, Any]]:
        groups = requests.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    wait_until(
        lambda: (
            len(evaluated()) == 6
            and all(r.get("lastEvaluation", "").startswith("2") and r["health"] == "ok" for r in evaluated())
        ),
        timeout=30,
        what="the six rules evaluated",
        interval=1,
    )
    deadline = time.monotonic() + 30
    while not [r for r in evaluated() if r["state"] != "inactive"] and time.monotonic() < deadline:
        time.sleep(1)
    noticed = {rule["name"]: rule["state"] for rule in evaluated() if rule["state"] != "inactive"}
    assert noticed == {"DexAuthDexDown": "pending"}, noticed
    assert query(url, f'up{{juju_application="{APP}",workload="gatekeeper"}} == 1')
