"""Charmed Kubeflow's option names (dex-auth 2.41, oidc-gatekeeper ckf-1.10) still apply here.

Their config.yaml files, read at canonical/dex-auth-operator f809bc1 and
canonical/oidc-gatekeeper-operator 80f4b1c: the same names and types, mapped onto ours.
"""

from __future__ import annotations

import dataclasses

import pytest
from charm_state import context, dex_config, gatekeeper_env, state
from ops import testing


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def gatekeeper_client(root) -> dict:
    return next(c for c in dex_config(root)["staticClients"] if c["id"] not in ("dex-auth-cli",))


def test_an_oidc_gatekeeper_config_drives_the_gatekeepers_client(ctx, tmp_path):
    config = {
        "client-id": "authservice-oidc",
        "client-name": "Ambassador Auth OIDC",
        "client-secret": "an-old-client-secret-1234",
        "oidc-scopes": "profile email groups",
        "skip-auth-urls": "/path1/,/path2/",
    }
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config=config))
    assert out.unit_status == testing.ActiveStatus()
    env = gatekeeper_env(out)
    assert env["GATEKEEPER_CLIENT_ID"] == "authservice-oidc"
    assert env["GATEKEEPER_CLIENT_SECRET"] == "an-old-client-secret-1234"
    assert env["GATEKEEPER_SCOPES"] == "openid profile email groups"
    assert env["GATEKEEPER_SKIP_AUTH_PATHS"] == "/path1,/path2"
    client = gatekeeper_client(tmp_path)
    assert client["id"] == "authservice-oidc" and client["name"] == "Ambassador Auth OIDC"
    assert client["secret"] == "an-old-client-secret-1234"


def test_skip_auth_urls_add_to_skip_auth_paths(ctx, tmp_path):
    config = {"skip-auth-paths": "/healthz", "skip-auth-urls": "/public/,/healthz"}
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config=config))
    assert gatekeeper_env(out)["GATEKEEPER_SKIP_AUTH_PATHS"] == "/healthz,/public"


def test_issuer_url_alone_sets_the_public_url(ctx, tmp_path):
    out = ctx.run(
        ctx.on.config_changed(),
        state(tmp_path, config={"public-url": "", "issuer-url": "https://kubeflow.example.com/dex"}),
    )
    assert out.unit_status == testing.ActiveStatus()
    assert dex_config(tmp_path)["issuer"] == "https://kubeflow.example.com/dex"
    assert gatekeeper_env(out)["GATEKEEPER_PUBLIC_URL"] == "https://kubeflow.example.com"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"issuer-url": "https://other.example.com/dex"}, "config issuer-url: must be https://kf.example.com/dex"),
        ({"issuer-url": "https://kf.example.com/auth"}, "config issuer-url: must be <public-url>/dex"),
        ({"port": 5557}, "config port: Dex listens on 5556 in this charm"),
        ({"client-id": "dex-auth-cli"}, "config client-id: must be 1 to 64 letters"),
        ({"client-secret": "short"}, "config client-secret: must be at least 16 printable ASCII characters"),
        ({"ca-bundle": "not a certificate"}, "config ca-bundle: must be PEM certificates"),
        ({"skip-auth-urls": "/a/../b"}, "config skip-auth-urls: entry '/a/../b' must be a plain path"),
    ],
)
def test_a_bad_old_option_is_blocked_naming_it_and_keeps_the_last_good_config(ctx, tmp_path, config, message):
    good = ctx.run(ctx.on.config_changed(), state(tmp_path))
    before = gatekeeper_env(good)
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(good, config={**good.config, **config}))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith(message), out.unit_status.message
    if "client-secret" in config:
        assert config["client-secret"] not in out.unit_status.message
    assert gatekeeper_env(out) == before


def test_the_old_default_port_and_an_empty_ca_bundle_are_accepted(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"port": 5556, "ca-bundle": ""}))
    assert out.unit_status == testing.ActiveStatus()
