"""Loki on `logging`: the Pebble log targets both containers get, held to Pebble's own rules.

Loki's units publish `endpoint` as loki-k8s's library does (lib/charms/loki_k8s/v1/
loki_push_api.py, LIBPATCH 30, 8bcecbf2f: `{"url": "<loki>/loki/api/v1/push"}`). The plan
rules are canonical/pebble internals/plan/plan.go at e712a584: `Layer.Validate` (override,
type, no `pebble_` label) and `Plan.Validate` (type, location, services known), and
`Service.LogsTo` for which targets a service's output goes to.
"""

from __future__ import annotations

import dataclasses
import json
import logging

from charm_state import context, state, with_config
from ops import pebble, testing

LOKI_TYPES = {"loki", "opentelemetry", "syslog"}


def loki(*units: int, endpoint: str | None = None) -> testing.Relation:
    def data(n: int) -> dict[str, str]:
        url = f"http://loki-{n}.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"
        return {"endpoint": endpoint if endpoint is not None else json.dumps({"url": url})}

    return testing.Relation("logging", remote_app_name="loki", remote_units_data={n: data(n) for n in units})


def plan_errors(container: testing.Container) -> list[str]:
    """What Pebble would refuse in the layers and the combined plan."""
    errors = []
    for label, layer in container.layers.items():
        for name, target in layer.log_targets.items():
            if target.override not in ("merge", "replace"):
                errors.append(f"layer {label}: log target {name} has no valid override")
            errors += [f"{name}: label {key} is reserved" for key in target.labels or {} if key.startswith("pebble_")]
    plan = container.plan
    for name, target in plan.log_targets.items():
        if target.type not in LOKI_TYPES:
            errors.append(f"{name}: type {target.type!r}")
        if not target.location:
            errors.append(f"{name}: no location")
        for service in target.services:
            if service.removeprefix("-") != "all" and service.removeprefix("-") not in plan.services:
                errors.append(f"{name}: unknown service {service}")
    return errors


def logs_to(service: str, target: pebble.LogTarget) -> bool:
    for entry in reversed(target.services):
        if entry in (service, "all"):
            return True
        if entry in (f"-{service}", "-all"):
            return False
    return False


def forwarded(out: testing.State) -> dict[str, dict[str, str]]:
    """Container -> service -> the locations its output goes to."""
    result: dict[str, dict[str, str]] = {}
    for name in ("dex", "gatekeeper"):
        plan = out.get_container(name).plan
        result[name] = {
            service: sorted(t.location for t in plan.log_targets.values() if logs_to(service, t))
            for service in plan.services
        }
    return result


def run(tmp_path, relation: testing.Relation, **kwargs) -> testing.State:
    return context().run(
        context().on.relation_changed(relation, remote_unit=0), state(tmp_path, relations=(relation,), **kwargs)
    )


def test_every_service_of_both_containers_forwards_to_every_loki_unit(tmp_path):
    out = run(tmp_path, loki(0, 1))
    urls = sorted(json.loads(d["endpoint"])["url"] for d in loki(0, 1).remote_units_data.values())
    assert forwarded(out) == {
        "dex": {"dex": urls},
        "gatekeeper": {"gatekeeper": urls, "gatekeeper-ext-authz": urls},
    }
    for name in ("dex", "gatekeeper"):
        container = out.get_container(name)
        assert plan_errors(container) == []
        target = container.plan.log_targets["loki/0"]
        assert target.labels == {
            "product": "Juju",
            "charm": "dex-auth",
            "juju_model": "kubeflow",
            "juju_model_uuid": out.model.uuid,
            "juju_application": "dex-auth",
            "juju_unit": "dex-auth/0",
            "job": f"juju_kubeflow_{out.model.uuid[:8]}_dex-auth",
        }


def test_a_departed_loki_unit_gets_no_more_logs_and_a_broken_relation_none(tmp_path):
    out = run(tmp_path, loki(0, 1))
    relation = next(r for r in out.relations if r.endpoint == "logging")
    shrunk = dataclasses.replace(relation, remote_units_data={0: relation.remote_units_data[0]})
    after = context().run(
        context().on.relation_departed(shrunk, remote_unit=1),
        dataclasses.replace(out, relations={*(r for r in out.relations if r is not relation), shrunk}),
    )
    url0 = json.loads(relation.remote_units_data[0]["endpoint"])["url"]
    assert forwarded(after)["gatekeeper"]["gatekeeper"] == [url0]
    assert forwarded(after)["dex"]["dex"] == [url0]
    for name in ("dex", "gatekeeper"):
        assert plan_errors(after.get_container(name)) == []
    broken = context().run(context().on.relation_broken(shrunk), after)
    assert forwarded(broken) == {
        "dex": {"dex": []},
        "gatekeeper": {"gatekeeper": [], "gatekeeper-ext-authz": []},
    }
    assert plan_errors(broken.get_container("gatekeeper")) == []


def test_an_unreadable_endpoint_is_skipped_and_said(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        out = run(tmp_path, loki(0, endpoint='{"uri": "http://loki:3100"}'))
    assert forwarded(out)["dex"]["dex"] == []
    assert "Loki unit loki/0 published no usable push endpoint" in caplog.text


def test_without_loki_no_log_target_is_declared(tmp_path):
    out = context().run(context().on.config_changed(), state(tmp_path))
    for name in ("dex", "gatekeeper"):
        assert out.get_container(name).plan.log_targets == {}
        assert "log-forwarding" not in out.get_container(name).layers


def test_loki_related_while_the_config_is_bad_gets_the_running_workloads_logs(tmp_path):
    running = context().run(context().on.config_changed(), state(tmp_path))
    relation = loki(0)
    bad = dataclasses.replace(
        with_config(running, connectors="- {type: nosuch}"), relations={*running.relations, relation}
    )
    out = context().run(context().on.relation_changed(relation, remote_unit=0), bad)
    assert out.unit_status.name == "blocked"
    assert len(forwarded(out)["gatekeeper"]["gatekeeper"]) == 1
    assert len(forwarded(out)["dex"]["dex"]) == 1


def test_an_unchanged_loki_writes_no_new_layer(tmp_path):
    out = run(tmp_path, loki(0))
    layer = out.get_container("gatekeeper").layers["log-forwarding"].to_dict()
    again = context().run(context().on.update_status(), with_config(out))
    assert again.get_container("gatekeeper").layers["log-forwarding"].to_dict() == layer


def test_the_leader_says_who_the_logs_are_from(tmp_path):
    relation = loki(0)
    out = run(tmp_path, relation)
    metadata = json.loads(out.get_relation(relation.id).local_app_data["metadata"])
    assert metadata == {
        "model": "kubeflow",
        "model_uuid": out.model.uuid,
        "application": "dex-auth",
        "unit": "dex-auth/0",
        "charm_name": "dex-auth",
    }
