"""Run the real charm (ops.testing) for a config and collect what it would hand to the workloads.

No Juju here, so the charm runs in `ops.testing` as the leader with both containers reachable
and an `ambassador` relation; what it wrote is read back exactly as the workloads would get it:
the Dex config file from the `dex` container's filesystem, the `gatekeeper` service (command and
environment) from the container's Pebble plan, the Ambassador resources from the relation.
The output state is kept, so the next render is a config change on the same deployment (secrets
such as the client secret and session keys stay the same, as in Juju).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ops import testing

APP_CONTAINERS = ("dex", "gatekeeper")
TRAEFIK_APP = "e2e-upstream"  # the harness app, behind Traefik's forward-auth
DEX_CONFIG_DIR = "/tmp/dex-auth"
DEX_CONFIG_FILE = "config.yaml"


class CharmRenderError(RuntimeError):
    """The charm did not produce a complete set of outputs; the message says which and why."""


@dataclass(frozen=True)
class CharmOutputs:
    dex_config: str
    gatekeeper_command: list[str]
    gatekeeper_environment: dict[str, str]
    resources: list[dict[str, Any]]
    unit_status: str
    static_username: str | None = None
    static_password: str | None = field(default=None, repr=False)
    # With istio-pilot related: what the charm wrote on ingress/ingress-auth, and the
    # gatekeeper-ext-authz service's environment when the charm started it.
    app_data: dict[str, dict[str, str]] = field(default_factory=dict)
    ext_authz_environment: dict[str, str] | None = None

    @property
    def dex_config_data(self) -> dict[str, Any]:
        return yaml.safe_load(self.dex_config)


def _charm_class() -> type:
    from charm import DexAuthCharm  # src/ is on sys.path (pytest.ini, demo PYTHONPATH)

    return DexAuthCharm


class CharmRunner:
    """One simulated deployment of the charm; `render(config)` is `juju config` + reconcile."""

    def __init__(self, workdir: Path, model_name: str = "e2e"):
        self.workdir = workdir
        self.dex_dir = workdir / "dex-container-etc-dex"
        self.dex_dir.mkdir(parents=True, exist_ok=True)
        self.model_name = model_name
        self.config: dict[str, Any] = {}
        self._state: testing.State | None = None
        # What a related Redis unit publishes (redis_relation.py): set before the first render.
        self.related_redis: dict[str, str] | None = None
        self.istio = False  # relate istio-pilot on ingress and ingress-auth (harness/istio_pilot.py)
        self.traefik = False  # relate Traefik on forward-auth and the harness app on auth-proxy
        self.user_secrets: list[testing.Secret] = []  # secrets the admin made and granted (juju add-secret)

    def _initial_state(self, config: dict[str, Any]) -> testing.State:
        containers = [
            testing.Container(
                "dex",
                can_connect=True,
                mounts={"etc-dex": testing.Mount(location=DEX_CONFIG_DIR, source=self.dex_dir)},
                # The connector probe runs Dex, which is not here: it reports no failure.
                execs={testing.Exec(["/usr/local/bin/dex", "serve"], return_code=1)},
            ),
            testing.Container("gatekeeper", can_connect=True),
        ]
        return testing.State(
            leader=True,
            config=config,
            containers=containers,
            relations=[
                testing.Relation("ambassador", remote_app_name="ambassador"),
                testing.PeerRelation("dex-auth-peers"),
                *self._redis_relation(),
                *self._istio_relations(),
                *self._traefik_relations(),
            ],
            model=testing.Model(name=self.model_name),
            secrets=set(self.user_secrets),
        )

    def _redis_relation(self) -> list[testing.Relation]:
        if self.related_redis is None:
            return []
        return [testing.Relation("redis", remote_app_name="redis", remote_units_data={0: dict(self.related_redis)})]

    def _istio_relations(self) -> list[testing.Relation]:
        if not self.istio:
            return []
        from harness import istio_pilot

        return [
            testing.Relation(
                endpoint, remote_app_name="istio-pilot", remote_app_data=istio_pilot.remote_app_data(endpoint)
            )
            for endpoint in istio_pilot.ENDPOINTS
        ]

    def _traefik_relations(self) -> list[testing.Relation]:
        """Traefik names the app it routes; the app, as the auth-proxy library's requirer writes it,
        asks for protection with one public endpoint (`/public`)."""
        if not self.traefik:
            return []
        app = {
            "protected_urls": json.dumps(["https://kf.example.com/"]),
            "allowed_endpoints": json.dumps(["public"]),
            "headers": json.dumps(["X-Auth-Request-User"]),
            "authenticated_emails": "[]",
            "authenticated_email_domains": "[]",
            "app_name": TRAEFIK_APP,
        }
        traefik = {"ingress_app_names": json.dumps([TRAEFIK_APP])}
        return [
            testing.Relation("forward-auth", remote_app_name="traefik-k8s", remote_app_data=traefik),
            testing.Relation("auth-proxy", remote_app_name=TRAEFIK_APP, remote_app_data=app),
        ]

    def render(self, config: dict[str, Any]) -> CharmOutputs:
        """Apply this config (the whole option set the admin has set) and collect the outputs."""
        ctx = testing.Context(_charm_class())
        if self._state is None:
            state = self._initial_state(config)
            state = ctx.run(ctx.on.install(), state)
            event = ctx.on.config_changed()
        else:
            state = self._state
            event = ctx.on.config_changed()
        state = ctx.run(event, _with_config(state, config))
        self._state = state
        self.config = dict(config)
        return self._collect(ctx, state)

    def _collect(self, ctx: testing.Context, state: testing.State) -> CharmOutputs:
        status = f"{state.unit_status.name}: {state.unit_status.message}"
        config_path = self.dex_dir / DEX_CONFIG_FILE
        if not config_path.exists():
            raise CharmRenderError(f"the charm pushed no Dex config (unit status {status})")
        plan = state.get_container("gatekeeper").plan
        service = plan.services.get("gatekeeper")
        if service is None:
            raise CharmRenderError(f"the charm added no gatekeeper service to its Pebble plan (unit status {status})")
        relation = next(r for r in state.relations if r.endpoint == "ambassador")
        resources_text = relation.local_app_data.get("resources")
        if not resources_text:
            raise CharmRenderError(f"the charm published no Ambassador resources (unit status {status})")
        username, password = self._static_credentials(ctx, state)
        shared = ("ingress", "ingress-auth", "forward-auth")
        app_data = {r.endpoint: dict(r.local_app_data) for r in state.relations if r.endpoint in shared}
        ext_authz = plan.services.get("gatekeeper-ext-authz")
        return CharmOutputs(
            dex_config=config_path.read_text(),
            gatekeeper_command=shlex.split(service.command),
            gatekeeper_environment=dict(service.environment),
            resources=yaml.safe_load(resources_text),
            unit_status=status,
            static_username=username,
            static_password=password,
            app_data=app_data,
            ext_authz_environment=dict(ext_authz.environment) if ext_authz and ext_authz.startup == "enabled" else None,
        )

    def _static_credentials(self, ctx: testing.Context, state: testing.State) -> tuple[str | None, str | None]:
        """The static user's password: the option if set, else what `show-static-password` says."""
        username = str(self.config.get("static-username", "")).strip() or None
        if username is None or self.config.get("enable-password-db") is False:
            return None, None
        if self.config.get("static-password"):
            return username, str(self.config["static-password"])
        try:
            ctx.run(ctx.on.action("show-static-password"), state)
        except testing.ActionFailed as err:
            raise CharmRenderError(f"show-static-password failed: {err.message}") from None
        results = ctx.action_results or {}
        return results.get("username", username), results.get("password")


def _with_config(state: testing.State, config: dict[str, Any]) -> testing.State:
    import dataclasses

    return dataclasses.replace(state, config=config)
