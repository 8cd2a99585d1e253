"""extra-jwt-issuers: from `juju config` to the gatekeeper's variable, or a Blocked status naming
the entry and what is wrong while the running gatekeeper keeps its plan."""

from __future__ import annotations

import dataclasses

import pytest
from charm_state import ISSUER, context, gatekeeper_env, state
from ops import testing

from gatekeeper import issuer_list

K8S = "https://kubernetes.default.svc.cluster.local"


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def test_the_issuers_reach_the_gatekeeper_as_written_and_read_back_the_same(ctx, tmp_path):
    value = f"{K8S}=pipelines.kubeflow.org\n{K8S}=notebooks\nhttps://ci.example.com=kf;groups-claim=groups\n"
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"extra-jwt-issuers": value}))
    assert out.unit_status == testing.ActiveStatus()
    read = issuer_list.extra_jwt_issuers(gatekeeper_env(out)["GATEKEEPER_EXTRA_JWT_ISSUERS"])
    assert [(e.issuer, e.audiences, e.credentials, e.groups_claim) for e in read] == [
        (K8S, ("pipelines.kubeflow.org", "notebooks"), "serviceaccount", ""),
        ("https://ci.example.com", ("kf",), "none", "groups"),
    ]
    unset = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={**out.config, "extra-jwt-issuers": ""}))
    assert gatekeeper_env(unset)["GATEKEEPER_EXTRA_JWT_ISSUERS"] == ""


@pytest.mark.parametrize(
    "value, message",
    [
        (
            f"{K8S}=kf,http://ci.example.com=kf",
            "config extra-jwt-issuers: entry 2 (http://ci.example.com): must be https:// (plain http only to a "
            "loopback address such as 127.0.0.1): 'http://ci.example.com'",
        ),
        (f"{K8S}", f"config extra-jwt-issuers: entry 1 must look like https://issuer=audience, not '{K8S}'"),
        (
            f"{K8S}=kf;group-claim=groups",
            f"config extra-jwt-issuers: entry 1 ({K8S}): has an unknown option 'group-claim=groups'; known: "
            "userid-claim, groups-claim, jwks-url, credentials, userid-prefix",
        ),
        (
            f"{ISSUER}=kf",
            "config extra-jwt-issuers: the gatekeeper would refuse it: GATEKEEPER_EXTRA_JWT_ISSUERS lists "
            f"{ISSUER}, which is Dex's own issuer: remove it",
        ),
    ],
)
def test_a_bad_entry_blocks_naming_it_and_the_gatekeeper_keeps_its_plan(ctx, tmp_path, value, message):
    good = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"extra-jwt-issuers": f"{K8S}=kf"}))
    before = good.get_container("gatekeeper").plan
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(good, config={**good.config, "extra-jwt-issuers": value})
    )
    assert out.unit_status == testing.BlockedStatus(message)
    assert out.get_container("gatekeeper").plan == before
