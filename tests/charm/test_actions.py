"""Actions: the generated password, session-key rotation, the resources for hand-run Emissary."""

import dataclasses
import json

import bcrypt
import pytest
import yaml
from charm_state import (
    context,
    dex_config,
    gatekeeper_env,
    peer_of,
    secret_by_label,
    state,
    with_config,
)
from ops import testing


@pytest.fixture
def ctx() -> testing.Context:
    return context()


@pytest.fixture
def settled(ctx, tmp_path) -> testing.State:
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    return ctx.run(ctx.on.config_changed(), state(tmp_path, relations=(ambassador,)))


def follower_of(leader: testing.State, root) -> testing.State:
    return state(root, leader=False, peer=peer_of(leader), secrets=tuple(leader.secrets))


def test_show_static_password_gives_the_generated_one(ctx, tmp_path, settled):
    ctx.run(ctx.on.action("show-static-password"), settled)
    results = ctx.action_results
    assert results["username"] == "user@example.com"
    hashed = dex_config(tmp_path)["staticPasswords"][0]["hash"]
    assert bcrypt.checkpw(results["password"].encode(), hashed.encode())


def test_show_static_password_works_on_any_unit(ctx, tmp_path, settled):
    ctx.run(ctx.on.action("show-static-password"), follower_of(settled, tmp_path / "follower"))
    assert ctx.action_results["password"] == secret_by_label(settled, "static-password").latest_content["password"]


def test_show_static_password_refuses_a_configured_password(ctx, tmp_path, settled):
    configured = ctx.run(ctx.on.config_changed(), with_config(settled, static_password="mine"))
    with pytest.raises(testing.ActionFailed, match="static-password option's value"):
        ctx.run(ctx.on.action("show-static-password"), configured)


def test_rotate_session_key_keeps_the_previous_key(ctx, tmp_path, settled):
    before = gatekeeper_env(settled)["GATEKEEPER_SESSION_KEYS"]
    out = ctx.run(ctx.on.action("rotate-session-key"), settled)
    after = gatekeeper_env(out)["GATEKEEPER_SESSION_KEYS"]
    new, previous = after.split(",")
    assert previous == before
    assert new.split("=")[0] == ctx.action_results["key-id"]
    assert ctx.action_results["previous-key-id"] == before.split("=")[0]
    assert secret_by_label(out, "gatekeeper").latest_content["session-keys"] == after
    # The old revision can go once no unit tracks it (this one moves on at its next event).
    out = ctx.run(ctx.on.update_status(), out)
    ctx.run(ctx.on.secret_remove(secret_by_label(out, "gatekeeper"), revision=1), out)
    assert ctx.removed_secret_revisions == [1]


def test_a_second_rotation_within_a_session_lifetime_logs_nobody_out(ctx, tmp_path, settled):
    first = gatekeeper_env(settled)["GATEKEEPER_SESSION_KEYS"]
    once = ctx.run(ctx.on.action("rotate-session-key"), settled)
    twice = ctx.run(ctx.on.action("rotate-session-key"), once)
    keys = gatekeeper_env(twice)["GATEKEEPER_SESSION_KEYS"].split(",")
    assert len(keys) == 3 and keys[2] == first  # the very first key still verifies its sessions
    assert ctx.action_results["previous-keys-kept"] == 2
    retired = json.loads(secret_by_label(twice, "gatekeeper").latest_content["retired-keys"])
    assert set(retired) == {key.split("=")[0] for key in keys[1:]}


def test_rotated_keys_reach_the_other_units(ctx, tmp_path, settled):
    """Units of the owning app get no secret-changed; the leader's peer-data change wakes them."""
    follower = ctx.run(ctx.on.config_changed(), follower_of(settled, tmp_path / "follower"))
    old_keys = gatekeeper_env(follower)["GATEKEEPER_SESSION_KEYS"]
    rotated = ctx.run(ctx.on.action("rotate-session-key"), settled)
    assert (
        peer_of(rotated).local_app_data["gatekeeper-secret-version"]
        != peer_of(settled).local_app_data["gatekeeper-secret-version"]
    )

    peer = testing.PeerRelation("dex-auth-peers", local_app_data=peer_of(rotated).local_app_data, peers_data={1: {}})
    follower = dataclasses.replace(
        follower,
        secrets=rotated.secrets,
        relations={peer, *(r for r in follower.relations if r.endpoint != "dex-auth-peers")},
    )
    out = ctx.run(ctx.on.relation_changed(peer, remote_unit=1), follower)
    new_keys = gatekeeper_env(out)["GATEKEEPER_SESSION_KEYS"]
    assert new_keys == gatekeeper_env(rotated)["GATEKEEPER_SESSION_KEYS"]
    assert new_keys.endswith("," + old_keys)


def test_rotate_session_key_is_leader_only(ctx, tmp_path, settled):
    with pytest.raises(testing.ActionFailed, match="run this action on the leader unit"):
        ctx.run(ctx.on.action("rotate-session-key"), follower_of(settled, tmp_path / "follower"))


def test_show_ambassador_resources_matches_the_relation(ctx, settled):
    ctx.run(ctx.on.action("show-ambassador-resources"), settled)
    relation = next(r for r in settled.relations if r.endpoint == "ambassador")
    assert ctx.action_results["resources"] == relation.local_app_data["resources"]


def test_show_ambassador_resources_other_version(ctx, settled):
    ctx.run(ctx.on.action("show-ambassador-resources", params={"api-version": "getambassador.io/v2"}), settled)
    resources = yaml.safe_load(ctx.action_results["resources"])
    assert {r["apiVersion"] for r in resources} == {"getambassador.io/v2"}


def test_show_ambassador_resources_bad_version(ctx, settled):
    with pytest.raises(testing.ActionFailed, match="api-version must be one of"):
        ctx.run(ctx.on.action("show-ambassador-resources", params={"api-version": "v9"}), settled)
