"""forward-auth (Traefik) and auth-proxy (the apps), data passing both ways through the libraries.

The other sides are small tester charms built on the requirer classes of the same PyPI libraries
(charmlibs-interfaces-forward-auth and -auth-proxy 1.0.0): what an app writes on auth-proxy is
what our provider reads, and what we write on forward-auth is what Traefik's requirer reads.
"""

from __future__ import annotations

import pathlib

import ops
import pytest
from charm_state import context, gatekeeper_env, state, with_config
from charmlibs.interfaces import auth_proxy, forward_auth
from ops import testing

import identity_platform

PROTECTED = "https://kf.example.com/jupyter"


class AppCharm(ops.CharmBase):
    """An app asking to be protected, as the auth-proxy library's requirer does it."""

    config: auth_proxy.AuthProxyConfig

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.auth_proxy = auth_proxy.AuthProxyRequirer(self, auth_proxy_config=self.config)


class TraefikCharm(ops.CharmBase):
    """Traefik's side: the forward-auth library's requirer, naming the apps it routes."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.forward_auth = forward_auth.ForwardAuthRequirer(
            self, relation_name="experimental-forward-auth", ingress_app_names=["jupyter-ui"]
        )


ASKED = auth_proxy.AuthProxyConfig(
    protected_urls=[PROTECTED], allowed_endpoints=["healthz", "/jupyter/static"], headers=["X-Auth-Request-User"]
)


def app_side(config: auth_proxy.AuthProxyConfig = ASKED) -> dict[str, str]:
    """What the app's charm writes on auth-proxy when the relation is created."""
    AppCharm.config = config
    ctx = testing.Context(
        AppCharm, meta={"name": "jupyter-ui", "requires": {"auth-proxy": {"interface": "auth_proxy"}}}
    )
    relation = testing.Relation("auth-proxy", remote_app_name="dex-auth")
    out = ctx.run(ctx.on.relation_created(relation), testing.State(leader=True, relations={relation}))
    return dict(out.get_relation(relation.id).local_app_data)


def with_app(tmp_path: pathlib.Path, app_data: dict[str, str], **kwargs) -> tuple[testing.Relation, testing.State]:
    relation = testing.Relation("auth-proxy", remote_app_name="jupyter-ui", remote_app_data=app_data)
    return relation, state(tmp_path, relations=(relation, *kwargs.pop("relations", ())), **kwargs)


def test_an_apps_allowed_endpoints_become_skip_paths(tmp_path):
    relation, before = with_app(tmp_path, app_side())
    out = context().run(context().on.relation_changed(relation), before)
    assert gatekeeper_env(out)["GATEKEEPER_SKIP_AUTH_PATHS"] == "/jupyter/healthz,/jupyter/static"


def test_traefik_reads_where_to_ask_which_apps_and_which_headers(tmp_path):
    traefik = testing.Relation("forward-auth", remote_app_name="traefik-k8s")
    app, before = with_app(tmp_path, app_side(), relations=(traefik,), config={"userid-header": "x-user"})
    ours = context().run(context().on.relation_changed(app), before).get_relation(traefik.id).local_app_data

    ctx = testing.Context(
        TraefikCharm,
        meta={"name": "traefik-k8s", "requires": {"experimental-forward-auth": {"interface": "forward_auth"}}},
    )
    seen = testing.Relation("experimental-forward-auth", remote_app_name="dex-auth", remote_app_data=dict(ours))
    with ctx(ctx.on.relation_changed(seen), testing.State(leader=True, relations={seen})) as manager:
        manager.run()
        requirer = manager.charm.forward_auth
        info = requirer.get_provider_info()
        assert info is not None
        assert info.decisions_address == "http://dex-auth.kubeflow.svc.cluster.local:8080/authservice/forward-auth"
        assert info.app_names == ["jupyter-ui"] and info.headers == ["x-user", "kubeflow-groups"]
        assert requirer.is_protected_app("jupyter-ui") and not requirer.is_protected_app("other")


def test_a_header_option_change_reaches_traefik(tmp_path):
    traefik = testing.Relation("forward-auth", remote_app_name="traefik-k8s")
    out = context().run(context().on.relation_created(traefik), state(tmp_path, relations=(traefik,)))
    out = context().run(context().on.config_changed(), with_config(out, groups_header="x-groups"))
    assert out.get_relation(traefik.id).local_app_data["headers"] == '["kubeflow-userid", "x-groups"]'


def test_an_email_allow_list_is_said_to_be_unenforced(tmp_path):
    limited = auth_proxy.AuthProxyConfig(protected_urls=[PROTECTED], authenticated_emails=["a@example.com"])
    relation, before = with_app(tmp_path, app_side(limited))
    out = context().run(context().on.relation_changed(relation), before)
    assert out.unit_status == testing.BlockedStatus(
        "auth-proxy: jupyter-ui admit only some emails, which dex-auth does not enforce"
    )


@pytest.mark.parametrize("endpoint", ["/jupyter/a/../pipeline", "/jupyter/static/.*\\.js", "/"])
def test_an_endpoint_that_is_not_a_plain_path_keeps_its_login(tmp_path, endpoint):
    found = identity_platform.proxied(
        [{"app_name": "app", "protected_urls": [PROTECTED], "allowed_endpoints": [endpoint]}], ["app"]
    )
    assert found.skip_paths == ()
    assert len(found.problems) == 1 and "still needs a login" in found.problems[0]


def test_without_auth_proxy_apps_traefik_gets_an_empty_list(tmp_path):
    traefik = testing.Relation("forward-auth", remote_app_name="traefik-k8s")
    out = context().run(context().on.relation_created(traefik), state(tmp_path, relations=(traefik,)))
    assert out.get_relation(traefik.id).local_app_data["app_names"] == "[]"
    assert out.unit_status == testing.ActiveStatus()


def test_an_app_cannot_open_another_apps_paths():
    """Skip paths hold for the whole gateway, so an app's allowed endpoints stay under its own URLs."""
    found = identity_platform.proxied(
        [{"app_name": "jupyter-ui", "protected_urls": [PROTECTED], "allowed_endpoints": ["/pipeline", "healthz"]}],
        ["jupyter-ui"],
    )
    assert found.skip_paths == ("/jupyter/healthz",)
    assert found.problems == ("jupyter-ui: allowed endpoint '/pipeline' is outside its protected URLs",)
