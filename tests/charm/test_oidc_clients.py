"""Apps register OIDC clients; the secret goes over as a granted Juju secret, never as data."""

import dataclasses
import json

import pytest
from charm_state import config_file, context, dex_config, peer_of, state
from ops import testing

REQUEST = {
    "client-id": "kfp-ui",
    "name": "Pipelines UI",
    "redirect-uris": json.dumps(["https://kf.example.com/pipeline/callback"]),
}


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def client_relation(data: dict[str, str]) -> testing.Relation:
    return testing.Relation("oidc-client", remote_app_name="kfp", remote_app_data=data)


def test_registered_client_gets_a_granted_secret(ctx, tmp_path):
    relation = client_relation(REQUEST)
    out = ctx.run(ctx.on.relation_changed(relation), state(tmp_path, relations=(relation,)))
    assert out.unit_status == testing.ActiveStatus()

    client = next(c for c in dex_config(tmp_path)["staticClients"] if c["id"] == "kfp-ui")
    assert client["name"] == "Pipelines UI"
    assert client["redirectURIs"] == ["https://kf.example.com/pipeline/callback"]

    answer = out.get_relation(relation.id).local_app_data
    secret = next(s for s in out.secrets if s.id == answer["secret-id"])
    assert secret.latest_content == {"client-secret": client["secret"]}
    assert secret.remote_grants == {relation.id: {"kfp"}}
    assert answer["client-id"] == "kfp-ui"
    assert answer["issuer-url"] == "https://kf.example.com/dex"
    assert client["secret"] not in json.dumps(dict(answer))
    assert json.loads(peer_of(out).local_app_data["oidc-client-secrets"]) == {str(relation.id): secret.id}


def test_client_secret_is_stable(ctx, tmp_path):
    relation = client_relation(REQUEST)
    out = ctx.run(ctx.on.relation_changed(relation), state(tmp_path, relations=(relation,)))
    text = config_file(tmp_path).read_text()
    ctx.run(ctx.on.relation_changed(out.get_relation(relation.id)), out)
    assert config_file(tmp_path).read_text() == text


def test_non_leader_renders_the_client_too(ctx, tmp_path):
    relation = client_relation(REQUEST)
    leader = ctx.run(ctx.on.relation_changed(relation), state(tmp_path / "leader", relations=(relation,)))
    follower = state(
        tmp_path / "follower",
        leader=False,
        peer=peer_of(leader),
        relations=(dataclasses.replace(relation),),
        secrets=tuple(leader.secrets),
    )
    ctx.run(ctx.on.config_changed(), follower)
    assert (tmp_path / "follower" / "dex-etc" / "config.yaml").read_text() == (
        tmp_path / "leader" / "dex-etc" / "config.yaml"
    ).read_text()


def test_non_leader_leaves_out_a_client_whose_secret_is_gone(ctx, tmp_path):
    relation = client_relation(REQUEST)
    leader = ctx.run(ctx.on.relation_changed(relation), state(tmp_path / "leader", relations=(relation,)))
    removed = next(s for s in leader.secrets if (s.label or "").startswith("oidc-client-"))
    follower = state(
        tmp_path / "follower",
        leader=False,
        peer=peer_of(leader),
        relations=(dataclasses.replace(relation),),
        secrets=tuple(s for s in leader.secrets if s.id != removed.id),
    )
    out = ctx.run(ctx.on.update_status(), follower)
    assert out.unit_status == testing.ActiveStatus()
    ids = [c["id"] for c in dex_config(tmp_path / "follower")["staticClients"]]
    assert ids == ["dex-auth-gatekeeper", "dex-auth-cli"]


@pytest.mark.parametrize(
    "data, error",
    [
        ({**REQUEST, "redirect-uris": "not json"}, "redirect-uris must be a JSON list of URLs"),
        ({**REQUEST, "redirect-uris": "[]"}, "redirect-uris must be a non-empty JSON list of http(s) URLs"),
        ({**REQUEST, "client-id": "bad id"}, "client-id may only contain letters, digits, '.', '_' and '-'"),
        ({**REQUEST, "client-id": "dex-auth-gatekeeper"}, "client-id dex-auth-gatekeeper is reserved by dex-auth"),
    ],
)
def test_invalid_registration_is_answered_with_an_error(ctx, tmp_path, data, error):
    relation = client_relation(data)
    out = ctx.run(ctx.on.relation_changed(relation), state(tmp_path, relations=(relation,)))
    assert out.get_relation(relation.id).local_app_data == {"error": error}
    assert out.unit_status == testing.ActiveStatus()
    ids = [c["id"] for c in dex_config(tmp_path)["staticClients"]]
    assert ids == ["dex-auth-gatekeeper", "dex-auth-cli"]


def test_relation_broken_removes_client_and_secret(ctx, tmp_path):
    relation = client_relation(REQUEST)
    out = ctx.run(ctx.on.relation_changed(relation), state(tmp_path, relations=(relation,)))
    secret_id = out.get_relation(relation.id).local_app_data["secret-id"]
    broken = ctx.run(ctx.on.relation_broken(out.get_relation(relation.id)), out)
    assert "kfp-ui" not in [c["id"] for c in dex_config(tmp_path)["staticClients"]]
    assert secret_id not in {s.id for s in broken.secrets}
    assert json.loads(peer_of(broken).local_app_data["oidc-client-secrets"]) == {}


@pytest.mark.parametrize("event", ["secret_remove", "secret_expired"])
def test_secret_events_for_a_removed_client_secret_do_not_fail_the_hook(ctx, tmp_path, monkeypatch, event):
    """Juju still sends secret-remove for revisions `remove_all_revisions()` already dropped."""
    relation = client_relation(REQUEST)
    out = ctx.run(ctx.on.relation_changed(relation), state(tmp_path, relations=(relation,)))
    secret = next(s for s in out.secrets if s.label == f"oidc-client-{relation.id}")
    broken = ctx.run(ctx.on.relation_broken(out.get_relation(relation.id)), out)
    assert secret.id not in {s.id for s in broken.secrets}
    # The event names a secret the state no longer holds, as Juju's would: skip the checker
    # that refuses such a scenario, so the charm meets the backend's SecretNotFoundError.
    monkeypatch.setenv("SCENARIO_SKIP_CONSISTENCY_CHECKS", "1")
    after = ctx.run(getattr(ctx.on, event)(secret, revision=1), broken)
    assert after.unit_status == broken.unit_status
