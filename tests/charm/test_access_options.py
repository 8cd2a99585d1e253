"""allowed-emails and allowed-groups: from `juju config` to the gatekeeper's variables, or a
Blocked status naming the entry while the running gatekeeper keeps its plan."""

from __future__ import annotations

import dataclasses

import pytest
from charm_state import context, gatekeeper_env, state
from ops import testing

from gatekeeper import rules


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def test_the_lists_reach_the_gatekeeper_as_it_reads_them(ctx, tmp_path):
    config = {
        "allowed-emails": "Alice@Example.com, *@Research.Example.com",
        "allowed-groups": "cn=admins,ou=groups,dc=corp\ncn=ml,ou=groups,dc=corp\n",
    }
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config=config))
    assert out.unit_status == testing.ActiveStatus()
    env = gatekeeper_env(out)
    assert env["GATEKEEPER_ALLOWED_EMAILS"] == "alice@example.com,*@research.example.com"
    assert rules.group_names(env["GATEKEEPER_ALLOWED_GROUPS"]) == (
        "cn=admins,ou=groups,dc=corp",
        "cn=ml,ou=groups,dc=corp",
    )
    one_dn = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={**out.config, "allowed-groups": "cn=a,dc=b\n"})
    )
    assert rules.group_names(gatekeeper_env(one_dn)["GATEKEEPER_ALLOWED_GROUPS"]) == ("cn=a,dc=b",)


def test_unset_lists_are_empty_variables(ctx, tmp_path):
    env = gatekeeper_env(ctx.run(ctx.on.config_changed(), state(tmp_path)))
    assert env["GATEKEEPER_ALLOWED_EMAILS"] == "" and env["GATEKEEPER_ALLOWED_GROUPS"] == ""


@pytest.mark.parametrize(
    "option, value, message",
    [
        (
            "allowed-emails",
            "boss@corp.com,a@evil@corp.com",
            "config allowed-emails: entry 2 ('a@evil@corp.com') must be an address like alice@example.com or a "
            "domain like *@example.com, in plain ASCII (one '@', no quotes or blanks)",
        ),
        ("allowed-groups", "admins,ml\x07", "config allowed-groups: entry 2 must not contain control characters"),
    ],
)
def test_a_bad_entry_blocks_naming_it_and_the_gatekeeper_keeps_its_plan(ctx, tmp_path, option, value, message):
    good = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"allowed-emails": "*@corp.com"}))
    before = good.get_container("gatekeeper").plan
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(good, config={**good.config, option: value}))
    assert out.unit_status == testing.BlockedStatus(message)
    assert out.get_container("gatekeeper").plan == before
