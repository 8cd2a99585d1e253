"""The holistic reconcile: what a unit renders, pushes and publishes, event by event."""

import dataclasses

import bcrypt
import pytest
import yaml
from charm_state import (
    ISSUER,
    PUBLIC_URL,
    config_file,
    context,
    dex_config,
    gatekeeper_env,
    peer_of,
    secret_by_label,
    service,
    state,
    with_config,
)
from ops import testing

from rendering import SharedSecrets, render_from_config


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def test_leader_renders_and_starts_both_workloads(ctx, tmp_path):
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, relations=(ambassador,)))

    assert out.unit_status == testing.ActiveStatus()
    config = dex_config(tmp_path)
    assert config["issuer"] == ISSUER
    assert config["staticPasswords"][0]["email"] == "user@example.com"
    assert [c["id"] for c in config["staticClients"]] == ["dex-auth-gatekeeper", "dex-auth-cli"]

    dex = service(out, "dex")
    assert dex["command"] == "/usr/local/bin/dex serve /tmp/dex-auth/config.yaml"
    assert dex["environment"]["DEX_EXPAND_ENV"] == "false"
    env = gatekeeper_env(out)
    assert env["GATEKEEPER_PUBLIC_URL"] == PUBLIC_URL
    assert env["GATEKEEPER_ISSUER_URL"] == ISSUER
    assert env["GATEKEEPER_CLIENT_SECRET"] == config["staticClients"][0]["secret"]
    assert out.get_container("dex").service_statuses["dex"].value == "active"
    assert out.get_container("gatekeeper").service_statuses["gatekeeper"].value == "active"
    assert {p.port for p in out.opened_ports} == {
        5556,
        8080,
        8081,
    }  # Dex, the gatekeeper, its every-path listener for Istio

    gatekeeper = secret_by_label(out, "gatekeeper")
    assert gatekeeper.owner == "app"
    assert gatekeeper.latest_content["session-keys"] == env["GATEKEEPER_SESSION_KEYS"]
    peer = peer_of(out).local_app_data
    assert peer["gatekeeper-secret-id"] == gatekeeper.id
    assert peer["static-password-secret-id"] == secret_by_label(out, "static-password").id


def test_the_pure_path_renders_what_the_charm_pushed(ctx, tmp_path):
    """The end-to-end harness renders with rendering.render_from_config: same bytes as the charm."""
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    config = {"connectors": '[{"type": "mockCallback", "id": "mock", "name": "Mock"}]', "log-level": "debug"}
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config=config, relations=(ambassador,)))
    gatekeeper = secret_by_label(out, "gatekeeper").latest_content
    password = secret_by_label(out, "static-password").latest_content
    rendered = render_from_config(
        {"public-url": PUBLIC_URL, **config},
        secrets=SharedSecrets(
            gatekeeper["client-secret"],
            gatekeeper["session-keys"],
            password["hash"],
            operations_token=gatekeeper["operations-token"],
        ),
        app_name="dex-auth",
        namespace="kubeflow",
    )
    assert config_file(tmp_path).read_text() == rendered.dex_config
    assert service(out, "gatekeeper")["environment"] == rendered.gatekeeper_environment
    assert out.get_relation(ambassador.id).local_app_data["resources"] == rendered.resources_yaml


def test_ambassador_relation_gets_the_resources(ctx, tmp_path):
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    out = ctx.run(ctx.on.relation_created(ambassador), state(tmp_path, relations=(ambassador,)))
    resources = yaml.safe_load(out.get_relation(ambassador.id).local_app_data["resources"])
    assert [r["kind"] for r in resources] == ["Mapping", "Mapping", "AuthService"]
    assert all(r["metadata"]["namespace"] == "kubeflow" for r in resources)
    assert resources[2]["spec"]["auth_service"] == "dex-auth.kubeflow:8080"


def test_ambassador_api_version_option(ctx, tmp_path):
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    out = ctx.run(
        ctx.on.config_changed(),
        state(tmp_path, config={"ambassador-api-version": "getambassador.io/v2"}, relations=(ambassador,)),
    )
    resources = yaml.safe_load(out.get_relation(ambassador.id).local_app_data["resources"])
    assert {r["apiVersion"] for r in resources} == {"getambassador.io/v2"}


def test_issuer_relation(ctx, tmp_path):
    issuer = testing.Relation("dex-oidc-config", remote_app_name="app")
    out = ctx.run(ctx.on.relation_created(issuer), state(tmp_path, relations=(issuer,)))
    assert out.get_relation(issuer.id).local_app_data == {"issuer-url": ISSUER}


def test_non_leader_does_not_publish(ctx, tmp_path):
    leader_out = ctx.run(ctx.on.config_changed(), state(tmp_path / "leader"))
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    follower = state(
        tmp_path / "follower",
        leader=False,
        relations=(ambassador,),
        peer=peer_of(leader_out),
        secrets=tuple(leader_out.secrets),
    )
    out = ctx.run(ctx.on.config_changed(), follower)
    assert out.unit_status == testing.ActiveStatus()
    assert out.get_relation(ambassador.id).local_app_data == {}


def test_public_url_missing_blocks_and_touches_nothing(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"public-url": ""}))
    assert out.unit_status == testing.BlockedStatus("set public-url: juju config dex-auth public-url=https://<host>")
    assert not config_file(tmp_path).exists()
    assert out.get_container("dex").layers == {}
    assert out.get_container("gatekeeper").layers == {}


@pytest.mark.parametrize(
    "option, value, message",
    [
        (
            "public-url",
            "https://kf.example.com/kubeflow",
            "config public-url: must be an origin like https://kubeflow.example.com, without a path, query or fragment",
        ),
        (
            "session-lifetime",
            "forever",
            "config session-lifetime: must be seconds or a number with s, m, h or d (e.g. 86400, 30m, 12h, 7d), "
            "not 'forever'",
        ),
        ("log-level", "loud", "config log-level: must be one of debug, info, warning, error, not 'loud'"),
    ],
)
def test_bad_options_block_with_the_option_named(ctx, tmp_path, option, value, message):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={option: value}))
    assert out.unit_status == testing.BlockedStatus(message)
    assert not config_file(tmp_path).exists()


@pytest.mark.parametrize(
    "option, value, message",
    [
        (
            "skip-auth-paths",
            "/",
            "config skip-auth-paths: the gatekeeper would refuse it: GATEKEEPER_SKIP_AUTH_PATHS entry '/' "
            "would turn authentication off for every path",
        ),
        (
            "session-lifetime",
            "30s",
            "config session-lifetime: the gatekeeper would refuse it: GATEKEEPER_SESSION_LIFETIME must be "
            "between 1 minute and 366 days, got '30s'",
        ),
    ],
)
def test_values_the_gatekeeper_refuses_block_and_keep_it_running(ctx, tmp_path, option, value, message):
    good = ctx.run(ctx.on.config_changed(), state(tmp_path))
    before = good.get_container("gatekeeper").plan
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(good, config={**good.config, option: value}))
    assert out.unit_status == testing.BlockedStatus(message)
    assert out.get_container("gatekeeper").plan == before


def test_no_way_to_log_in_blocks(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"enable-password-db": False}))
    assert out.unit_status == testing.BlockedStatus("nobody can log in: set connectors or enable-password-db=true")


def test_waiting_for_containers(ctx, tmp_path):
    out = ctx.run(ctx.on.install(), state(tmp_path, dex_ready=False, gatekeeper_ready=False))
    assert out.unit_status == testing.WaitingStatus("waiting for the dex container")
    assert not config_file(tmp_path).exists()


def test_gatekeeper_ready_before_dex(ctx, tmp_path):
    first = state(tmp_path, dex_ready=False)
    out = ctx.run(ctx.on.pebble_ready(first.get_container("gatekeeper")), first)
    assert out.unit_status == testing.WaitingStatus("waiting for the dex container")
    assert "gatekeeper" in out.get_container("gatekeeper").plan.services
    dex = dataclasses.replace(out.get_container("dex"), can_connect=True)
    second = dataclasses.replace(out, containers={dex, out.get_container("gatekeeper")})
    out = ctx.run(ctx.on.pebble_ready(dex), second)
    assert out.unit_status == testing.ActiveStatus()
    assert dex_config(tmp_path)["issuer"] == ISSUER


def test_reconcile_is_idempotent(ctx, tmp_path):
    """Nothing restarts when nothing changed: same layers, same file (not even rewritten)."""
    out = ctx.run(ctx.on.config_changed(), state(tmp_path))
    stamp = config_file(tmp_path).stat().st_mtime_ns
    layers = {c.name: c.plan.to_dict() for c in out.containers}
    again = ctx.run(ctx.on.update_status(), out)
    assert {c.name: c.plan.to_dict() for c in again.containers} == layers
    assert config_file(tmp_path).stat().st_mtime_ns == stamp
    assert (
        secret_by_label(again, "static-password").latest_content
        == secret_by_label(out, "static-password").latest_content
    )


def test_an_option_restarts_only_the_service_that_reads_it(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path))
    dex_before = service(out, "dex")

    out2 = ctx.run(ctx.on.config_changed(), with_config(out, session_lifetime="12h"))
    assert service(out2, "dex") == dex_before
    assert gatekeeper_env(out2)["GATEKEEPER_SESSION_LIFETIME"] == "12h"

    out3 = ctx.run(ctx.on.config_changed(), with_config(out2, id_token_expiry="1h"))
    assert service(out3, "gatekeeper") == service(out2, "gatekeeper")
    assert service(out3, "dex")["environment"]["DEX_CONFIG_HASH"] != dex_before["environment"]["DEX_CONFIG_HASH"]
    assert dex_config(tmp_path)["expiry"]["idTokens"] == "1h"


@pytest.mark.parametrize(
    "option, value, variable, expected",
    [
        ("userid-header", "X-Auth-User", "GATEKEEPER_USERID_HEADER", "x-auth-user"),
        ("userid-prefix", "corp:", "GATEKEEPER_USERID_PREFIX", "corp:"),
        ("userid-claim", "preferred_username", "GATEKEEPER_USERID_CLAIM", "preferred_username"),
        ("groups-header", "x-auth-groups", "GATEKEEPER_GROUPS_HEADER", "x-auth-groups"),
        ("groups-claim", "roles", "GATEKEEPER_GROUPS_CLAIM", "roles"),
        ("skip-auth-paths", "/healthz,/public/", "GATEKEEPER_SKIP_AUTH_PATHS", "/healthz,/public/"),
        ("extra-bearer-audiences", "kfp", "GATEKEEPER_EXTRA_AUDIENCES", "dex-auth-cli,kfp"),
        ("after-logout-url", "/bye", "GATEKEEPER_AFTER_LOGOUT_URL", "/bye"),
        ("log-level", "debug", "GATEKEEPER_LOG_LEVEL", "debug"),
        ("gatekeeper-workers", 3, "GATEKEEPER_WORKERS", "3"),
        ("public-url", "http://localhost:8080", "GATEKEEPER_SECURE_COOKIES", "false"),
    ],
)
def test_each_gatekeeper_option_reaches_its_variable(ctx, tmp_path, option, value, variable, expected):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={option: value}))
    assert out.unit_status == testing.ActiveStatus()
    assert gatekeeper_env(out)[variable] == expected


def test_identity_headers_follow_into_the_auth_service(ctx, tmp_path):
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    out = ctx.run(
        ctx.on.config_changed(),
        state(tmp_path, config={"userid-header": "x-user", "groups-header": "x-groups"}, relations=(ambassador,)),
    )
    resources = yaml.safe_load(out.get_relation(ambassador.id).local_app_data["resources"])
    assert resources[2]["spec"]["allowed_authorization_headers"] == ["x-user", "x-groups"]


def test_static_password_from_config_is_hashed_once(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"static-password": "s3cret$"}))
    first_hash = dex_config(tmp_path)["staticPasswords"][0]["hash"]
    assert bcrypt.checkpw(b"s3cret$", first_hash.encode())
    assert "password" not in secret_by_label(out, "static-password").latest_content

    again = ctx.run(ctx.on.config_changed(), out)
    assert dex_config(tmp_path)["staticPasswords"][0]["hash"] == first_hash

    changed = ctx.run(ctx.on.config_changed(), with_config(again, static_password="other"))
    new_hash = dex_config(tmp_path)["staticPasswords"][0]["hash"]
    assert new_hash != first_hash and bcrypt.checkpw(b"other", new_hash.encode())
    assert changed.unit_status == testing.ActiveStatus()


def test_password_db_off_with_a_connector(ctx, tmp_path):
    ldap = (
        '- {type: ldap, id: corp, name: Corp, config: {host: "ldap:636", userSearch: {baseDN: "dc=x", username: uid}}}'
    )
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"enable-password-db": False, "connectors": ldap}))
    config = dex_config(tmp_path)
    assert out.unit_status == testing.ActiveStatus()
    assert "staticPasswords" not in config and config["enablePasswordDB"] is False
    assert config["oauth2"]["passwordConnector"] == "corp"


def test_upgrade_keeps_secrets_and_sessions(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path))
    env = gatekeeper_env(out)
    upgraded = ctx.run(ctx.on.upgrade_charm(), out)
    assert gatekeeper_env(upgraded) == env
    assert secret_by_label(upgraded, "gatekeeper").latest_content == secret_by_label(out, "gatekeeper").latest_content


def test_new_leader_reuses_the_secrets(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path))
    keys = gatekeeper_env(out)["GATEKEEPER_SESSION_KEYS"]
    new_leader = ctx.run(ctx.on.leader_elected(), dataclasses.replace(out, leader=True))
    assert gatekeeper_env(new_leader)["GATEKEEPER_SESSION_KEYS"] == keys
    assert len(new_leader.secrets) == len(out.secrets)


def test_non_leader_waits_for_the_shared_secrets(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, leader=False))
    assert out.unit_status == testing.WaitingStatus("waiting for the leader unit to create the shared secrets")
    assert not config_file(tmp_path).exists()


def test_non_leader_serves_the_same_config(ctx, tmp_path):
    leader = ctx.run(ctx.on.config_changed(), state(tmp_path / "leader"))
    peer = testing.PeerRelation("dex-auth-peers", local_app_data=peer_of(leader).local_app_data, peers_data={1: {}})
    follower = state(tmp_path / "follower", leader=False, peer=peer, secrets=tuple(leader.secrets))
    out = ctx.run(ctx.on.relation_changed(peer, remote_unit=1), follower)
    assert out.unit_status == testing.ActiveStatus()
    assert config_file(tmp_path / "follower").read_text() == config_file(tmp_path / "leader").read_text()
    assert gatekeeper_env(out) == gatekeeper_env(leader)


def test_workloads_run_as_the_non_root_user_and_the_config_is_private(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path))
    for name in ("dex", "gatekeeper"):
        assert (service(out, name)["user-id"], service(out, name)["group-id"]) == (584792, 584792)
    # ops.testing keeps file modes but not owners (nor the mode of a mounted directory): the
    # owner is Pebble's to set and is not checked here.
    assert config_file(tmp_path).stat().st_mode & 0o777 == 0o600
