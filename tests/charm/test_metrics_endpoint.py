"""COS's Prometheus on `metrics-endpoint`: the data against the interface's schema, the rules
loaded by Prometheus's own `promtool`.

The schema is canonical/charm-relation-interfaces docs/json_schemas/prometheus_scrape/v0/
provider.json at commit 4cf84d1, kept in tests/data/prometheus_scrape_v0_provider.json. Its app
fields are JSON text with a `contentSchema`, which jsonschema does not apply itself: each field is
parsed and checked against it here. `promtool` is Debian's (package prometheus, scripts/setup).
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import jsonschema
import pytest
import yaml
from charm_state import context, state
from ops import testing

SCHEMA = json.loads((pathlib.Path(__file__).parents[1] / "data" / "prometheus_scrape_v0_provider.json").read_text())


def related(tmp_path: pathlib.Path, leader: bool = True) -> tuple[testing.Relation, testing.State]:
    relation = testing.Relation("metrics-endpoint", remote_app_name="prometheus-k8s")
    out = context().run(context().on.relation_created(relation), state(tmp_path, leader=leader, relations=(relation,)))
    return relation, out


def check_against_schema(app: dict[str, str], unit: dict[str, str]) -> None:
    """An empty `prometheus_scrape_unit_path` is an absent key (Juju deletes empty values); the
    interface's own tests accept that (`.get("prometheus_scrape_unit_path", "") == ""`), and the
    schema allows null for it: absent is read as null here."""
    unit = {"prometheus_scrape_unit_path": None, **unit}
    jsonschema.validate({"app": app, "unit": unit}, SCHEMA)
    defs = SCHEMA["$defs"]
    fields = defs["ApplicationDataModel"]["properties"]
    for name, text in app.items():
        content = fields[name].get("contentSchema")
        if content is not None:
            jsonschema.validate(json.loads(text), {**content, "$defs": defs})


def test_the_app_and_unit_data_follow_the_interface_schema(tmp_path):
    relation, out = related(tmp_path)
    published = out.get_relation(relation.id)
    app, unit = dict(published.local_app_data), dict(published.local_unit_data)
    check_against_schema(app, unit)
    jobs = json.loads(app["scrape_jobs"])
    assert {job["job_name"]: job["static_configs"][0]["targets"] for job in jobs} == {
        "gatekeeper": ["*:8080"],
        "dex": ["*:5558"],
    }
    assert unit["prometheus_scrape_unit_address"] == "dex-auth-0.dex-auth-endpoints.kubeflow.svc.cluster.local"


def test_a_non_leader_publishes_its_address_only(tmp_path):
    relation, out = related(tmp_path, leader=False)
    published = out.get_relation(relation.id)
    assert "scrape_jobs" not in published.local_app_data
    assert published.local_unit_data["prometheus_scrape_unit_name"] == "dex-auth/0"


def test_a_schema_breach_is_caught():
    with pytest.raises(jsonschema.ValidationError):
        check_against_schema({"scrape_jobs": json.dumps([{"metrics_path": "/metrics"}])}, {})


def test_promtool_loads_the_alert_rules(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: run scripts/setup (Debian package prometheus)", pytrace=False)
    relation, out = related(tmp_path)
    rules = json.loads(out.get_relation(relation.id).local_app_data["alert_rules"])
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "up =="}]}]}))
    assert subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True, check=False).returncode != 0
