"""The libraries from the other side: a gateway charm and a client charm using them."""

import json

import ops
import pytest
from ops import testing

from ambassador import AmbassadorSettings, render_resources_yaml
from charms.dex_auth.v0.ambassador_routes import AmbassadorRoutesProvider, InvalidResourcesError, parse_resources
from charms.dex_auth.v0.dex_issuer import DexIssuerRequirer
from charms.dex_auth.v0.oidc_client import OidcClientRequirer


class GatewayCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.routes = AmbassadorRoutesProvider(self, "ambassador")
        framework.observe(self.routes.on.routes_changed, self._apply)
        self.applied: list[dict] = []

    def _apply(self, _event: ops.EventBase) -> None:
        self.applied = self.routes.resources()


GATEWAY_META = {"name": "gateway", "provides": {"ambassador": {"interface": "ambassador-routes"}}}


def test_gateway_reads_the_published_resources():
    text = render_resources_yaml(AmbassadorSettings(app_name="dex-auth", namespace="kubeflow"))
    relation = testing.Relation("ambassador", remote_app_name="dex-auth", remote_app_data={"resources": text})
    ctx = testing.Context(GatewayCharm, meta=GATEWAY_META)
    with ctx(ctx.on.relation_changed(relation), testing.State(relations={relation})) as manager:
        manager.run()
        applied = manager.charm.applied
        routes = manager.charm.routes.routes()
    assert [r["metadata"]["name"] for r in applied] == ["dex-auth-dex", "dex-auth-gatekeeper", "dex-auth"]
    assert routes[0].app_name == "dex-auth"


def test_gateway_skips_an_app_with_bad_data(caplog):
    relation = testing.Relation("ambassador", remote_app_name="bad", remote_app_data={"resources": "- kind: Pod"})
    ctx = testing.Context(GatewayCharm, meta=GATEWAY_META)
    with ctx(ctx.on.relation_changed(relation), testing.State(relations={relation})) as manager:
        manager.run()
        assert manager.charm.applied == []
    assert "ignoring routes from bad" in caplog.text


@pytest.mark.parametrize(
    "text, problem",
    [
        ("{a: 1}", "resources must be a YAML list"),
        ("- {apiVersion: v1, kind: Mapping, metadata: {name: x}, spec: {}}", "apiVersion must be getambassador.io/"),
        ("- {apiVersion: getambassador.io/v2, kind: Mapping, metadata: {}, spec: {}}", "metadata.name is required"),
        ("- [", "not valid YAML"),
    ],
)
def test_parse_resources_rejects(text, problem):
    with pytest.raises(InvalidResourcesError, match=problem):
        parse_resources(text)


class ClientCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.oidc = OidcClientRequirer(self, "oidc-client")
        self.issuer = DexIssuerRequirer(self, "dex-oidc-config")
        framework.observe(self.on["oidc-client"].relation_joined, self._register)

    def _register(self, _event: ops.EventBase) -> None:
        self.oidc.register("my-app", "My App", ["https://kf.example.com/my-app/callback"])


CLIENT_META = {
    "name": "my-app",
    "requires": {
        "oidc-client": {"interface": "dex-auth-oidc-client"},
        "dex-oidc-config": {"interface": "dex-auth-issuer"},
    },
}


def test_client_registers_and_reads_its_secret():
    ctx = testing.Context(ClientCharm, meta=CLIENT_META)
    relation = testing.Relation("oidc-client", remote_app_name="dex-auth")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), testing.State(leader=True, relations={relation}))
    sent = out.get_relation(relation.id).local_app_data
    assert sent == {
        "client-id": "my-app",
        "name": "My App",
        "redirect-uris": json.dumps(["https://kf.example.com/my-app/callback"]),
    }

    secret = testing.Secret({"client-secret": "xyz"})
    answered = testing.Relation(
        "oidc-client",
        id=relation.id,
        remote_app_name="dex-auth",
        remote_app_data={"client-id": "my-app", "secret-id": secret.id, "issuer-url": "https://kf.example.com/dex"},
    )
    issuer = testing.Relation("dex-oidc-config", remote_app_data={"issuer-url": "https://kf.example.com/dex"})
    with ctx(ctx.on.update_status(), testing.State(relations={answered, issuer}, secrets={secret})) as manager:
        manager.run()
        assert manager.charm.oidc.client_secret() == "xyz"
        assert manager.charm.oidc.issuer_url() == "https://kf.example.com/dex"
        assert manager.charm.issuer.issuer_url == "https://kf.example.com/dex"
        assert manager.charm.oidc.error() is None
