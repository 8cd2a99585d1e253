"""COS's Grafana on `grafana-dashboard`: the data as Grafana's side reads it, the dashboard as
Grafana's own model parses it, its queries as Prometheus parses them.

Grafana's side is canonical/grafana-k8s-operator lib/charms/grafana_k8s/v0/grafana_dashboard.py
(LIBPATCH 48, 382e463), `GrafanaDashboardConsumer._render_dashboards_and_signal_changed`: the
`templates` of app data `dashboards`, each `content` undone with cosl's `LZMABase64`, the uid
kept when it is a "Path40" uid, the topology dropdowns it adds (TOPOLOGY_TEMPLATE_DROPDOWNS) and
`${prometheusds}` bound to its Prometheus. Grafana's dashboard model is the
grafana-foundation-sdk package (types generated from Grafana's schemas): a field it does not
know is dropped on the round trip, which is how a misspelt key is caught here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import cosl
import pytest
import yaml
from charm_state import context, state
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard
from ops import testing

from gatekeeper.metrics import Metrics

# What Grafana's side adds (TOPOLOGY_TEMPLATE_DROPDOWNS, DATASOURCE_TEMPLATE_DROPDOWNS) and
# Grafana's own global variables.
INJECTED_VARIABLES = {"juju_model", "juju_model_uuid", "juju_application", "juju_unit", "prometheusds", "lokids"}
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__range"}
# Dex v2.45.1 server/server.go, newServer: the metrics its telemetry listener serves.
DEX_METRICS = {"http_requests_total", "request_duration_seconds", "response_size_bytes"}
ASKED_FOR = ("Checks by outcome", "Check latency", "Logins and logouts", "Token errors by reason", "Dex requests")


def published(tmp_path, leader: bool = True) -> tuple[testing.Relation, testing.State]:
    relation = testing.Relation("grafana-dashboard", remote_app_name="grafana")
    out = context().run(context().on.relation_created(relation), state(tmp_path, leader=leader, relations=(relation,)))
    return relation, out


def dashboards_as_grafana_reads_them(app_data: dict[str, str]) -> dict[str, dict[str, Any]]:
    data = json.loads(app_data["dashboards"])
    result = {}
    for key, template in data["templates"].items():
        assert template["charm"] == "dex-auth"
        assert template["inject_dropdowns"] is True
        dashboard = json.loads(cosl.LZMABase64.decompress(template["content"]))
        if not dashboard.get("uid"):
            dashboard["uid"] = template["dashboard_alt_uid"]
        result[key] = dashboard
    return result


def the_dashboard(tmp_path) -> dict[str, Any]:
    relation, out = published(tmp_path)
    return dashboards_as_grafana_reads_them(out.get_relation(relation.id).local_app_data)["file:dex-auth"]


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def lost_on_round_trip(original: Any, parsed: Any, path: str = "") -> list[str]:
    """Key paths of `original` that Grafana's model drops or changes."""
    if isinstance(original, dict):
        if not isinstance(parsed, dict):
            return [path]
        return [
            lost
            for key, value in original.items()
            for lost in (
                [f"{path}.{key}"] if key not in parsed else lost_on_round_trip(value, parsed[key], f"{path}.{key}")
            )
        ]
    if isinstance(original, list):
        if not isinstance(parsed, list) or len(original) != len(parsed):
            return [path]
        return [
            lost
            for i, pair in enumerate(zip(original, parsed, strict=True))
            for lost in lost_on_round_trip(*pair, f"{path}[{i}]")
        ]
    return [] if original == parsed else [f"{path}: {original!r} became {parsed!r}"]


def grafana_round_trip(dashboard: dict[str, Any]) -> dict[str, Any]:
    plugins.register_default_plugins()  # the panel types' own option models
    return json.loads(json.dumps(Dashboard.from_json(dashboard), cls=JSONEncoder))


def test_grafana_reads_one_dashboard_with_a_stable_valid_uid(tmp_path):
    relation, out = published(tmp_path)
    app = out.get_relation(relation.id).local_app_data
    dashboards = dashboards_as_grafana_reads_them(app)
    assert list(dashboards) == ["file:dex-auth"]
    dashboard = dashboards["file:dex-auth"]
    assert cosl.DashboardPath40UID.is_valid(dashboard["uid"])
    assert dashboard["uid"] == cosl.DashboardPath40UID.generate("dex-auth", "src/grafana_dashboards/dex-auth.json")
    assert isinstance(dashboard["version"], int)
    assert "charm: dex-auth" in dashboard["tags"]
    again = context().run(context().on.update_status(), out)
    assert again.get_relation(relation.id).local_app_data["dashboards"] == app["dashboards"]


def test_a_non_leader_publishes_no_dashboard(tmp_path):
    relation, out = published(tmp_path, leader=False)
    assert "dashboards" not in out.get_relation(relation.id).local_app_data


def test_grafanas_model_keeps_every_field_of_the_dashboard(tmp_path):
    dashboard = the_dashboard(tmp_path)
    assert lost_on_round_trip(dashboard, grafana_round_trip(dashboard)) == []


def test_the_round_trip_catches_a_misspelt_field(tmp_path):
    dashboard = the_dashboard(tmp_path)
    dashboard["panels"][0]["gridpos"] = dashboard["panels"][0].pop("gridPos")
    dashboard["panels"][4]["options"]["legend"]["showLegnd"] = True
    lost = lost_on_round_trip(dashboard, grafana_round_trip(dashboard))
    assert lost == [".panels[0].gridpos", ".panels[4].options.legend.showLegnd"]


def test_the_panels_asked_for_are_there_on_grafanas_prometheus(tmp_path):
    dashboard = the_dashboard(tmp_path)
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert set(ASKED_FOR) <= set(titles)
    prometheus = {"type": "prometheus", "uid": "${prometheusds}"}
    for panel in dashboard["panels"]:
        assert panel["datasource"] == prometheus, panel["title"]
        assert all(target["datasource"] == prometheus for target in panel["targets"]), panel["title"]
    latency = next(p for p in dashboard["panels"] if p["title"] == "Check latency")
    assert [t["legendFormat"] for t in latency["targets"]] == ["p50", "p90", "p99"]


def test_the_queries_use_only_variables_grafana_defines(tmp_path):
    dashboard = the_dashboard(tmp_path)
    used = {name for expr in queries(dashboard) for name in re.findall(r"\$\{?(\w+)", expr)}
    assert used <= INJECTED_VARIABLES | GRAFANA_VARIABLES
    assert {"juju_model", "juju_application", "juju_unit"} <= used


def test_the_queries_name_only_metrics_the_workloads_serve(tmp_path):
    served = set()
    for line in Metrics().render().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            served |= {name, f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
    dex = {f"{name}{suffix}" for name in DEX_METRICS for suffix in ("", "_bucket", "_sum", "_count")}
    named = {name for expr in queries(the_dashboard(tmp_path)) for name in re.findall(r"([a-zA-Z_:][\w:]*)\{", expr)}
    assert named - {"up"} <= served | dex
    assert {"gatekeeper_checks_total", "gatekeeper_token_errors_total", "http_requests_total"} <= named


def test_promtool_parses_every_query(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: run scripts/setup (Debian package prometheus)", pytrace=False)
    exprs = [
        re.sub(r"\$\{?(\w+)\}?", lambda m: "5m" if m[1] == "__rate_interval" else ".*", e)
        for e in queries(the_dashboard(tmp_path))
    ]
    rules = {
        "groups": [{"name": "panels", "rules": [{"record": f"panel:q{i}", "expr": e} for i, e in enumerate(exprs)]}]
    }
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in checked.stdout
