"""identity-assertion-header and -audience: the app's key in its secret, the gatekeeper's variables,
every gateway told to pass the header on, the identity-assertion relation's data as an upstream
charm reads it (through the library), and a Blocked status naming the option."""

from __future__ import annotations

import dataclasses
import json

import ops
import pytest
import yaml
from charm_state import PUBLIC_URL, context, gatekeeper_env, secret_by_label, state, with_config
from harness.istio_pilot import read, remote_app_data
from ops import testing

import app_secrets
from charms.dex_auth.v0.identity_assertion import IdentityAssertionRequirer, parse
from gatekeeper.assertion_keys import load_keys

HEADER = "kubeflow-identity-assertion"


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def assertion_relation() -> testing.Relation:
    return testing.Relation("identity-assertion", remote_app_name="jupyter-ui")


def test_off_by_default_no_key_reaches_the_gatekeeper_and_the_relation_is_empty(ctx, tmp_path):
    relation = assertion_relation()
    out = ctx.run(ctx.on.relation_created(relation), state(tmp_path, relations=(relation,)))
    env = gatekeeper_env(out)
    assert env["GATEKEEPER_ASSERTION_HEADER"] == env["GATEKEEPER_ASSERTION_KEYS"] == ""
    assert out.get_relation(relation.id).local_app_data == {}
    assert load_keys(secret_by_label(out, app_secrets.GATEKEEPER).latest_content[app_secrets.ASSERTION_KEY])


def test_on_the_gatekeeper_signs_with_the_apps_key_and_upstream_charms_get_its_public_half(ctx, tmp_path):
    relation = assertion_relation()
    config = {"identity-assertion-header": HEADER, "identity-assertion-audience": "kubeflow-apps"}
    out = ctx.run(ctx.on.relation_created(relation), state(tmp_path, config=config, relations=(relation,)))
    assert out.unit_status == testing.ActiveStatus()
    env = gatekeeper_env(out)
    key_pem = secret_by_label(out, app_secrets.GATEKEEPER).latest_content[app_secrets.ASSERTION_KEY]
    assert (env["GATEKEEPER_ASSERTION_HEADER"], env["GATEKEEPER_ASSERTION_AUDIENCE"]) == (HEADER, "kubeflow-apps")
    assert env["GATEKEEPER_ASSERTION_KEYS"] == key_pem
    published = parse(out.get_relation(relation.id).local_app_data)
    assert published is not None
    assert (published.header, published.issuer, published.audience) == (HEADER, PUBLIC_URL, "kubeflow-apps")
    assert published.jwks_url == f"{PUBLIC_URL}/authservice/.well-known/jwks.json"
    (jwk,) = published.jwks["keys"]
    assert jwk["kid"] == load_keys(key_pem)[0].kid and "d" not in jwk

    off = ctx.run(ctx.on.config_changed(), with_config(out, identity_assertion_header=""))
    assert off.get_relation(relation.id).local_app_data == {}
    assert gatekeeper_env(off)["GATEKEEPER_ASSERTION_KEYS"] == ""


def test_the_library_reads_what_dex_auth_wrote(ctx, tmp_path):
    relation = assertion_relation()
    out = ctx.run(
        ctx.on.relation_created(relation),
        state(tmp_path, config={"identity-assertion-header": HEADER}, relations=(relation,)),
    )
    seen = testing.Relation(
        "identity-assertion",
        remote_app_name="dex-auth",
        remote_app_data=dict(out.get_relation(relation.id).local_app_data),
    )
    upstream = testing.Context(
        _Upstream,
        meta={"name": "jupyter-ui", "requires": {"identity-assertion": {"interface": "dex-auth-identity-assertion"}}},
    )
    with upstream(upstream.on.relation_changed(seen), testing.State(relations={seen})) as manager:
        manager.run()
        assertion = manager.charm.assertion.assertion
    assert assertion is not None and assertion.audience == PUBLIC_URL and assertion.header == HEADER


class _Upstream(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        self.assertion = IdentityAssertionRequirer(self, "identity-assertion")


def test_every_gateway_is_told_to_pass_the_header_on(ctx, tmp_path):
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    istio = testing.Relation(
        "ingress-auth",
        interface="ingress-auth",
        remote_app_name="istio-pilot",
        remote_app_data=remote_app_data("ingress-auth"),
    )
    traefik = testing.Relation("forward-auth", remote_app_name="traefik-k8s")
    out = ctx.run(
        ctx.on.config_changed(),
        state(tmp_path, config={"identity-assertion-header": HEADER}, relations=(ambassador, istio, traefik)),
    )
    resources = yaml.safe_load(out.get_relation(ambassador.id).local_app_data["resources"])
    (auth,) = [r["spec"] for r in resources if r["kind"] == "AuthService"]
    assert auth["allowed_authorization_headers"] == ["kubeflow-userid", "kubeflow-groups", HEADER]
    assert "kubeflow_identity_assertion" in auth["allowed_request_headers"]  # so the check can refuse it
    _, ingress_auth = read("ingress-auth", out.get_relation(istio.id).local_app_data)
    assert ingress_auth["allowed-response-headers"] == ["kubeflow-userid", "kubeflow-groups", HEADER]
    assert json.loads(out.get_relation(traefik.id).local_app_data["headers"]) == [
        "kubeflow-userid",
        "kubeflow-groups",
        HEADER,
    ]


def test_a_secret_made_before_the_assertion_gets_its_key_once(ctx, tmp_path):
    first = ctx.run(ctx.on.config_changed(), state(tmp_path))
    old = secret_by_label(first, app_secrets.GATEKEEPER)
    content = {k: v for k, v in old.latest_content.items() if k != app_secrets.ASSERTION_KEY}
    aged = dataclasses.replace(
        first, secrets={dataclasses.replace(old, tracked_content=content, latest_content=content)}
    )
    out = ctx.run(ctx.on.config_changed(), with_config(aged, identity_assertion_header=HEADER))
    key = secret_by_label(out, app_secrets.GATEKEEPER).latest_content[app_secrets.ASSERTION_KEY]
    again = ctx.run(ctx.on.update_status(), out)
    assert secret_by_label(again, app_secrets.GATEKEEPER).latest_content[app_secrets.ASSERTION_KEY] == key
    assert gatekeeper_env(again)["GATEKEEPER_ASSERTION_KEYS"] == key


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"identity-assertion-header": "Kubeflow_UserID"},
            "config identity-assertion-header: must differ from userid-header",
        ),
        (
            {"identity-assertion-header": "x-groups", "groups-header": "x-groups"},
            "config identity-assertion-header: must differ from groups-header",
        ),
        (
            {"identity-assertion-header": "bad header"},
            "config identity-assertion-header: must be an HTTP header name such as kubeflow-userid, not 'bad header'",
        ),
        (
            {"identity-assertion-audience": "two words"},
            "config identity-assertion-audience: must be one audience, such as https://kubeflow.example.com, "
            "without blanks",
        ),
    ],
)
def test_a_bad_option_blocks_naming_it_and_the_gatekeeper_keeps_its_plan(ctx, tmp_path, config, message):
    good = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"identity-assertion-header": HEADER}))
    before = good.get_container("gatekeeper").plan
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(good, config={**good.config, **config}))
    assert out.unit_status == testing.BlockedStatus(message)
    assert out.get_container("gatekeeper").plan == before


def test_a_damaged_key_in_the_secret_blocks_naming_the_option_and_the_plan_stays(ctx, tmp_path):
    good = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"identity-assertion-header": HEADER}))
    secret = secret_by_label(good, app_secrets.GATEKEEPER)
    damaged = {
        **secret.latest_content,
        app_secrets.ASSERTION_KEY: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    }
    broken = dataclasses.replace(
        good, secrets={dataclasses.replace(secret, tracked_content=damaged, latest_content=damaged)}
    )
    out = ctx.run(ctx.on.update_status(), broken)
    assert out.unit_status == testing.BlockedStatus(
        "config identity-assertion-header: cannot be served: the key in the charm's gatekeeper secret key 1 of 1 "
        "is not a readable unencrypted PEM private key"
    )
    assert out.get_container("gatekeeper").plan == good.get_container("gatekeeper").plan
    with pytest.raises(testing.ActionFailed, match=r"unreadable .*nothing was changed"):
        ctx.run(ctx.on.action("rotate-assertion-key"), out)


def test_a_unit_waits_for_the_leader_to_add_the_key_to_an_older_secret(ctx, tmp_path):
    leader = ctx.run(ctx.on.config_changed(), state(tmp_path))
    secret = secret_by_label(leader, app_secrets.GATEKEEPER)
    older = {k: v for k, v in secret.latest_content.items() if k != app_secrets.ASSERTION_KEY}
    peer = next(r for r in leader.relations if r.endpoint == "dex-auth-peers")
    follower = dataclasses.replace(
        leader,
        leader=False,
        config={**leader.config, "identity-assertion-header": HEADER},
        secrets={
            *(s for s in leader.secrets if s.label != app_secrets.GATEKEEPER),
            dataclasses.replace(secret, tracked_content=older, latest_content=older),
        },
        relations={peer},
    )
    out = ctx.run(ctx.on.config_changed(), follower)
    assert out.unit_status == testing.WaitingStatus("waiting for the leader unit to create the shared secrets")
    assert (
        "GATEKEEPER_ASSERTION_KEYS" not in gatekeeper_env(out) or gatekeeper_env(out)["GATEKEEPER_ASSERTION_KEYS"] == ""
    )


def _kids(out: testing.State) -> list[str]:
    return [key.kid for key in load_keys(gatekeeper_env(out)["GATEKEEPER_ASSERTION_KEYS"])]


def test_rotating_the_key_signs_with_a_new_one_and_keeps_the_old_published(ctx, tmp_path):
    relation = assertion_relation()
    on = ctx.run(
        ctx.on.relation_created(relation),
        state(tmp_path, config={"identity-assertion-header": HEADER}, relations=(relation,)),
    )
    (first,) = _kids(on)
    out = ctx.run(ctx.on.action("rotate-assertion-key"), on)
    assert ctx.action_results == {"key-id": _kids(out)[0], "previous-key-id": first, "previous-keys-kept": 1}
    assert _kids(out) == [ctx.action_results["key-id"], first]
    published = parse(out.get_relation(relation.id).local_app_data)
    assert published is not None and [k["kid"] for k in published.jwks["keys"]] == _kids(out)

    dropped = ctx.run(ctx.on.action("rotate-assertion-key", params={"drop-previous": True}), out)
    assert _kids(dropped) == [ctx.action_results["key-id"]] and ctx.action_results["previous-keys-kept"] == 0


def test_a_key_that_stopped_signing_ten_minutes_ago_goes_at_the_next_rotation(ctx, tmp_path):
    on = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"identity-assertion-header": HEADER}))
    once = ctx.run(ctx.on.action("rotate-assertion-key"), on)
    secret = secret_by_label(once, app_secrets.GATEKEEPER)
    aged = json.loads(secret.latest_content[app_secrets.ASSERTION_RETIRED])
    aged = {kid: when - 601 for kid, when in aged.items()}
    content = {**secret.latest_content, app_secrets.ASSERTION_RETIRED: json.dumps(aged)}
    later = dataclasses.replace(
        once,
        secrets={
            *(s for s in once.secrets if s.label != app_secrets.GATEKEEPER),
            dataclasses.replace(secret, tracked_content=content, latest_content=content),
        },
    )
    twice = ctx.run(ctx.on.action("rotate-assertion-key"), later)
    assert len(_kids(twice)) == 2 and _kids(twice)[1] == _kids(once)[0]  # the first key is gone


def test_rotate_assertion_key_is_leader_only(ctx, tmp_path):
    with pytest.raises(testing.ActionFailed, match="leader unit"):
        ctx.run(ctx.on.action("rotate-assertion-key"), state(tmp_path, leader=False))
