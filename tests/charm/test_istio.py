"""Charmed Kubeflow's istio-pilot on `ingress` and `ingress-auth`, its side as its source reads it.

istio-pilot (canonical/istio-operators at 48a7d11) reads our app data through
serialized-data-interface: `_supported_versions` (YAML list) against its own, the highest shared
version chosen, then `data` (YAML) validated against that version's `requires` schema from its
metadata.yaml (kept in tests/data/istio_pilot_relations.yaml). That library pins jsonschema < 4.18,
which the suite cannot install beside its own pins, so harness/istio_pilot.py does its reading
step by step, for these tests and for the gateway of tests/e2e/test_istio.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jsonschema
import pytest
import yaml
from charm_state import context, gatekeeper_env, state, with_config
from harness.istio_pilot import METADATA, read, remote_app_data
from ops import pebble, testing


def istio_pilot(endpoint: str) -> testing.Relation:
    """The relation as istio-pilot leaves it: its supported versions in its app data."""
    return testing.Relation(
        endpoint, interface=endpoint, remote_app_name="istio-pilot", remote_app_data=remote_app_data(endpoint)
    )


def listener(out: testing.State) -> dict[str, Any]:
    return out.get_container("gatekeeper").plan.services["gatekeeper-ext-authz"].to_dict()


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def test_ingress_routes_dexs_pages_as_one_virtual_service(ctx, tmp_path):
    relation = istio_pilot("ingress")
    out = ctx.run(ctx.on.relation_created(relation), state(tmp_path, relations=(relation,)))
    version, route = read("ingress", out.get_relation(relation.id).local_app_data)
    assert version == "v2"
    assert route == {"service": "dex-auth", "port": 5556, "namespace": "kubeflow", "prefix": "/dex", "rewrite": "/dex"}


def test_an_older_istio_pilot_reads_the_same_route_as_v1(ctx, tmp_path):
    relation = dataclasses.replace(istio_pilot("ingress"), remote_app_data={"_supported_versions": "- v1\n"})
    out = ctx.run(ctx.on.relation_created(relation), state(tmp_path, relations=(relation,)))
    app_data = out.get_relation(relation.id).local_app_data
    ours = set(yaml.safe_load(app_data["_supported_versions"]))
    assert ours & {"v1"} == {"v1"}
    jsonschema.validate(yaml.safe_load(app_data["data"]), METADATA["ingress"]["schema"]["v1"]["requires"])


def test_ingress_auth_asks_the_every_path_listener_and_names_the_identity_headers(ctx, tmp_path):
    relation = istio_pilot("ingress-auth")
    config = {"userid-header": "x-user", "groups-header": "x-groups"}
    out = ctx.run(ctx.on.relation_created(relation), state(tmp_path, config=config, relations=(relation,)))
    _, auth = read("ingress-auth", out.get_relation(relation.id).local_app_data)
    assert auth["service"] == "dex-auth" and auth["port"] == 8081
    assert auth["allowed-response-headers"] == ["x-user", "x-groups"]
    assert {"cookie", "authorization", "accept", "x-requested-with", "sec-fetch-mode"} <= set(
        auth["allowed-request-headers"]
    )
    assert "x_user" in auth["allowed-request-headers"]  # a look-alike, so the check can refuse it


def test_with_ingress_auth_the_every_path_listener_runs_beside_the_gatekeeper(ctx, tmp_path):
    relation = istio_pilot("ingress-auth")
    out = ctx.run(ctx.on.relation_created(relation), state(tmp_path, relations=(relation,)))
    every_path = listener(out)
    assert every_path["startup"] == "enabled"
    env = every_path["environment"]
    assert env["GATEKEEPER_PORT"] == "8081" and env["GATEKEEPER_CHECK_EVERY_PATH"] == "true"
    assert env["GATEKEEPER_PREFIX"] == "/dex/authservice"  # under Dex's route: Envoy checks routed paths only
    assert env["GATEKEEPER_SKIP_AUTH_PATHS"] == "/dex"
    assert env["GATEKEEPER_OPERATIONS_TOKEN"] == ""  # no operations there: it serves checks only
    own = {
        "GATEKEEPER_PORT",
        "GATEKEEPER_PREFIX",
        "GATEKEEPER_CHECK_EVERY_PATH",
        "GATEKEEPER_SKIP_AUTH_PATHS",
        "GATEKEEPER_OPERATIONS_TOKEN",
    }
    same = {k: v for k, v in env.items() if k not in own}
    assert same == {k: v for k, v in gatekeeper_env(out).items() if k not in own}
    assert same["GATEKEEPER_SESSION_KEYS"]  # the same sessions verify on both listeners
    assert {p.port for p in out.opened_ports} >= {5556, 8081}


def test_skip_auth_paths_carry_over_with_dex_added(ctx, tmp_path):
    relation = istio_pilot("ingress-auth")
    out = ctx.run(
        ctx.on.relation_created(relation),
        state(tmp_path, config={"skip-auth-paths": "/healthz,/static"}, relations=(relation,)),
    )
    assert listener(out)["environment"]["GATEKEEPER_SKIP_AUTH_PATHS"] == "/healthz,/static,/dex"


def test_without_ingress_auth_the_listener_is_declared_disabled_and_stopped(ctx, tmp_path):
    relation = istio_pilot("ingress-auth")
    related = ctx.run(ctx.on.relation_created(relation), state(tmp_path, relations=(relation,)))
    running = dataclasses.replace(
        related,
        containers={
            dataclasses.replace(c, service_statuses={"gatekeeper-ext-authz": pebble.ServiceStatus.ACTIVE})
            if c.name == "gatekeeper"
            else c
            for c in related.containers
        },
    )
    out = ctx.run(ctx.on.relation_broken(running.get_relation(relation.id)), running)
    assert listener(out)["startup"] == "disabled"
    assert out.get_container("gatekeeper").service_statuses["gatekeeper-ext-authz"] == pebble.ServiceStatus.INACTIVE
    alone = ctx.run(ctx.on.config_changed(), state(tmp_path / "alone"))
    assert listener(alone)["startup"] == "disabled"


def test_a_non_leader_writes_no_app_data(ctx, tmp_path):
    relation = istio_pilot("ingress")
    out = ctx.run(ctx.on.relation_created(relation), state(tmp_path, leader=False, relations=(relation,)))
    assert out.get_relation(relation.id).local_app_data == {}


def test_a_changed_header_option_reaches_istio(ctx, tmp_path):
    relation = istio_pilot("ingress-auth")
    out = ctx.run(ctx.on.relation_created(relation), state(tmp_path, relations=(relation,)))
    out = ctx.run(ctx.on.config_changed(), with_config(out, userid_header="x-remote-user"))
    _, auth = read("ingress-auth", out.get_relation(relation.id).local_app_data)
    assert auth["allowed-response-headers"][0] == "x-remote-user"
