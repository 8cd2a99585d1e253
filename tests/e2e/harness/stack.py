"""The whole chain on one machine, built from what the charm rendered.

    browser/requests ──► Caddy (as Ambassador, from the rendered resources)
                            ├─ /dex/*          ──► oidc-provider stand-in (from the rendered Dex config)
                            ├─ /authservice/*  ──► gatekeeper (command + env from the Pebble layer)
                            └─ everything else ──► check at the gatekeeper, then the echo upstream

With `gateway_mode="istio"` the charm is related to istio-pilot instead, and Caddy follows what
istio-pilot makes of that data (harness/istio_pilot.py): Dex's route and the app's, each checked
by the charm's every-path listener (`gatekeeper-ext-authz`), no route for `/authservice`.

`Stack.start()` renders the charm for the given config with `public-url` set to the gateway's
local address, then starts every process on free ports. `Stack.reconfigure(config)` is
`juju config`: it re-renders and restarts or reloads exactly what changed, as Pebble and the
gateway would.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from harness import caddy, istio_pilot
from harness.charm_outputs import TRAEFIK_APP, CharmOutputs, CharmRunner
from harness.processes import ManagedProcess, ProcessGroup, free_port, http_ready, wait_until

REPO = Path(__file__).resolve().parents[3]
PROVIDER_DIR = REPO / "tests" / "e2e" / "provider"
UPSTREAM_SERVICE = "e2e-upstream:80"
GATEWAY_MODES = ("ambassador", "forward-auth", "istio", "traefik")
EXT_AUTHZ_PROCESS = "gatekeeper-ext-authz"
ISTIO_APP_PREFIX = "/app/"  # the harness app's route behind Istio: no catch-all route there
# Where the workloads listen inside the pod (docs/architecture.md): mapped to local free ports.
DEX_WEB_PORT = 5556
DEX_TELEMETRY_PORT = 5558
GATEKEEPER_PORT = 8080
EXT_AUTHZ_PORT = 8081


class StackError(RuntimeError):
    """The stack could not be built from the charm's outputs; the message says which part."""


def upstream_mapping() -> dict[str, Any]:
    """The harness's own app route, as another charm (the dashboard) would publish it."""
    return {
        "apiVersion": "getambassador.io/v3alpha1",
        "kind": "Mapping",
        "metadata": {"name": "e2e-upstream", "namespace": "e2e"},
        "spec": {"prefix": "/", "rewrite": "/", "service": UPSTREAM_SERVICE, "hostname": "*"},
    }


@dataclass
class Restarted:
    """What `reconfigure` touched."""

    provider: bool = False
    gatekeeper: bool = False
    gateway: bool = False


@dataclass
class Ports:
    gateway: int = field(default_factory=free_port)
    authz: int = field(default_factory=free_port)
    admin: int = field(default_factory=free_port)
    provider: int = field(default_factory=free_port)
    provider_telemetry: int = field(default_factory=free_port)
    gatekeeper: int = field(default_factory=free_port)
    upstream: int = field(default_factory=free_port)
    ext_authz: int = field(default_factory=free_port)


class Stack:
    """One running chain. Attributes tests use:

    public_url, issuer, gatekeeper_url (direct, for /healthz /metrics), provider_url (direct),
    username/password (the static user), client_id/client_secret (the gatekeeper's client at
    Dex), cli_client_id, prefix, userid_header, groups_header, outputs (CharmOutputs), ports,
    processes (ProcessGroup), gateway_mode, root (work dir), log_dir.
    """

    def __init__(
        self,
        root: Path,
        charm_config: dict[str, Any],
        gateway_mode: str = "ambassador",
        gateway_port: int | None = None,
        units: int = 1,
    ):
        if gateway_mode not in GATEWAY_MODES:
            raise StackError(f"gateway_mode must be one of {GATEWAY_MODES}, not {gateway_mode!r}")
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_dir = root / "logs"
        self.gateway_mode = gateway_mode
        self.ports = Ports() if gateway_port is None else Ports(gateway=gateway_port)
        # Unit 0 is `gatekeeper` on ports.gatekeeper, as with one unit; the others are `gatekeeper-<n>`.
        self.unit_ports = [self.ports.gatekeeper, *(free_port() for _ in range(units - 1))]
        self.public_url = f"http://127.0.0.1:{self.ports.gateway}"
        self.runner = CharmRunner(root / "charm")
        self.runner.istio = gateway_mode == "istio"
        self.runner.traefik = gateway_mode == "traefik"
        self.processes = ProcessGroup(self.log_dir)
        self.charm_config = self._with_public_url(charm_config)
        self.outputs: CharmOutputs | None = None
        self.http = requests.Session()

    # --- derived facts ---------------------------------------------------------------------

    def _with_public_url(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "public-url": self.public_url}

    @property
    def env(self) -> dict[str, str]:
        assert self.outputs is not None, "start() first"
        return self.outputs.gatekeeper_environment

    @property
    def issuer(self) -> str:
        return self.env["GATEKEEPER_ISSUER_URL"]

    @property
    def prefix(self) -> str:
        return self.env.get("GATEKEEPER_PREFIX", "/authservice")

    @property
    def client_id(self) -> str:
        return self.env["GATEKEEPER_CLIENT_ID"]

    @property
    def client_secret(self) -> str:
        return self.env["GATEKEEPER_CLIENT_SECRET"]

    @property
    def cli_client_id(self) -> str:
        clients = self.outputs.dex_config_data.get("staticClients", []) if self.outputs else []
        return next((c["id"] for c in clients if c.get("public")), "")

    @property
    def userid_header(self) -> str:
        return self.env.get("GATEKEEPER_USERID_HEADER", "kubeflow-userid")

    @property
    def groups_header(self) -> str:
        return self.env.get("GATEKEEPER_GROUPS_HEADER", "kubeflow-groups")

    @property
    def username(self) -> str | None:
        return self.outputs.static_username if self.outputs else None

    @property
    def password(self) -> str | None:
        return self.outputs.static_password if self.outputs else None

    @property
    def gatekeeper_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gatekeeper}"

    def unit_url(self, unit: int) -> str:
        """One unit's gatekeeper, directly (the operations listener, or a check aimed at that unit)."""
        return f"http://127.0.0.1:{self.unit_ports[unit]}"

    @staticmethod
    def unit_process(unit: int) -> str:
        return "gatekeeper" if unit == 0 else f"gatekeeper-{unit}"

    @property
    def provider_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.provider}{urlsplit(self.issuer).path}"

    @property
    def dex_config_path(self) -> Path:
        return self.runner.dex_dir / "config.yaml"

    def url(self, path: str) -> str:
        return self.public_url + path

    def password_grant(self, scope: str = "openid email groups") -> requests.Response:
        """What the README tells scripts to do: the password grant with the CLI client, through the gateway."""
        data = {"grant_type": "password", "username": self.username, "password": self.password}
        data |= {"scope": scope, "client_id": self.cli_client_id}
        return requests.post(self.url("/dex/token"), data=data, timeout=10)

    def secret_values(self) -> list[str]:
        """Values that must never appear in any log."""
        values = [self.client_secret, self.env.get("GATEKEEPER_OPERATIONS_TOKEN", "")]
        for name in ("GATEKEEPER_REDIS_URL",):  # a URL's password, not the URL
            values.append(urlsplit(self.env.get(name, "")).password or "")
        if self.password:
            values.append(self.password)
        for entry in self.env.get("GATEKEEPER_SESSION_KEYS", "").split(","):
            if "=" in entry:
                values.append(entry.split("=", 1)[1])
        return [v for v in values if v]

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Stack:
        try:
            self.outputs = self.runner.render(self.charm_config)
            self._start_upstream()
            self.start_provider()
            for unit in range(len(self.unit_ports)):
                self.start_gatekeeper(unit=unit)
            if self.gateway_mode == "istio":
                self.start_ext_authz()
            self._start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.http.close()
        self.processes.stop_all()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reconfigure(self, charm_config: dict[str, Any]) -> Restarted:
        """`juju config` with this full option set: re-render, then follow like Pebble and the gateway."""
        assert self.outputs is not None, "start() first"
        old = self.outputs
        self.charm_config = self._with_public_url(charm_config)
        new = self.runner.render(self.charm_config)
        self.outputs = new
        done = Restarted()
        if new.dex_config != old.dex_config:
            self.stop_provider()
            self.start_provider()
            done.provider = True
        if (new.gatekeeper_environment, new.gatekeeper_command) != (old.gatekeeper_environment, old.gatekeeper_command):
            for unit in range(len(self.unit_ports)):
                self.stop_gatekeeper(unit)
                self.start_gatekeeper(unit=unit)
            done.gatekeeper = True
        if self.gateway_mode == "istio" and new.ext_authz_environment != old.ext_authz_environment:
            self.processes.stop(EXT_AUTHZ_PROCESS)
            self.start_ext_authz()
            done.gatekeeper = True
        if new.resources != old.resources or new.app_data != old.app_data:
            self._load_gateway_config()
            done.gateway = True
        return done

    # --- processes ---------------------------------------------------------------------------

    def _start_upstream(self) -> ManagedProcess:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO / "tests" / "e2e"), "PYTHONUNBUFFERED": "1"}
        return self.processes.start(
            "upstream",
            [sys.executable, "-m", "harness.upstream", "--port", str(self.ports.upstream)],
            env=env,
            ready=http_ready(f"http://127.0.0.1:{self.ports.upstream}/"),
            ready_what="HTTP",
        )

    def start_provider(self, *, new_signing_key: bool = False) -> ManagedProcess:
        """The Dex stand-in on the Dex config file the charm pushed. Keys survive restarts (Dex
        keeps them in Kubernetes) unless `new_signing_key`."""
        keys = self.root / "provider-signing-key.json"
        if new_signing_key and keys.exists():
            keys.unlink()
        node = shutil.which("node")
        if node is None:
            raise StackError("node is not installed (scripts/setup installs the e2e prerequisites)")
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise StackError(f"npm packages missing in {PROVIDER_DIR}: run scripts/setup (npm ci)")
        argv = [
            node,
            str(PROVIDER_DIR / "provider.js"),
            "--config",
            str(self.dex_config_path),
            "--port",
            str(self.ports.provider),
            "--keys-file",
            str(keys),
            "--telemetry-port",
            str(self.ports.provider_telemetry),
        ]
        env = {"PATH": os.environ.get("PATH", ""), "NODE_ENV": "production"}
        return self.processes.start(
            "provider",
            argv,
            env=env,
            cwd=PROVIDER_DIR,
            ready=http_ready(f"{self.provider_url}/.well-known/openid-configuration"),
            ready_what="discovery",
        )

    def stop_provider(self) -> None:
        self.processes.stop("provider")

    def gatekeeper_environment(self, unit: int = 0) -> dict[str, str]:
        """The Pebble layer's environment with the pod's ports mapped to this machine's.

        Each unit is its own pod: its own port and its own container filesystem (revocations file).
        """
        return self._mapped(self.env, self.unit_ports[unit], unit)

    def _mapped(self, layer_env: dict[str, str], port: int, unit: int) -> dict[str, str]:
        env = dict(layer_env)
        env["GATEKEEPER_HOST"] = "127.0.0.1"
        env["GATEKEEPER_PORT"] = str(port)
        if env.get("GATEKEEPER_REVOCATIONS_FILE"):  # a path in the container: map it into this stack
            state = "gatekeeper-state" if unit == 0 else f"gatekeeper-state-{unit}"
            env["GATEKEEPER_REVOCATIONS_FILE"] = str(self.root / state / "revocations")
        provider = urlsplit(env.get("GATEKEEPER_PROVIDER_URL", self.issuer))
        if provider.hostname in ("127.0.0.1", "localhost") and provider.port == DEX_WEB_PORT:
            env["GATEKEEPER_PROVIDER_URL"] = urlunsplit(provider._replace(netloc=f"127.0.0.1:{self.ports.provider}"))
        return env

    def start_gatekeeper(
        self, *, wait_ready: bool = True, extra_env: dict[str, str] | None = None, unit: int = 0
    ) -> ManagedProcess:
        """`python3 -m gatekeeper` as the layer says, with this venv's python and src/ on the path.

        `extra_env` adds what only tests set (GATEKEEPER_TEST_CLOCK_OFFSET); the charm never does.
        """
        assert self.outputs is not None
        argv = list(self.outputs.gatekeeper_command)
        if argv and argv[0] in ("python3", "python"):
            argv[0] = sys.executable
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO / "src"),
            "PYTHONUNBUFFERED": "1",
            **self.gatekeeper_environment(unit),
            **(extra_env or {}),
        }
        url = self.unit_url(unit)
        process = self.processes.start(
            self.unit_process(unit),
            argv,
            env=env,
            cwd=self.root,
            ready=http_ready(f"{url}/healthz"),
            ready_what="/healthz",
        )
        if wait_ready:
            wait_until(http_ready(f"{url}/readyz"), timeout=20, what="gatekeeper /readyz", process=process)
        return process

    def start_ext_authz(self) -> ManagedProcess:
        """Unit 0's `gatekeeper-ext-authz` service, as the charm started it for ingress-auth.

        It serves no health path (every path is a check): ready once Dex's skipped pages answer.
        """
        assert self.outputs is not None
        if self.outputs.ext_authz_environment is None:
            raise StackError("the charm did not start gatekeeper-ext-authz although ingress-auth is related")
        argv = list(self.outputs.gatekeeper_command)
        argv[0] = sys.executable
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO / "src"),
            "PYTHONUNBUFFERED": "1",
            **self._mapped(self.outputs.ext_authz_environment, self.ports.ext_authz, 0),
        }
        ready = http_ready(f"http://127.0.0.1:{self.ports.ext_authz}/dex/x")
        return self.processes.start(EXT_AUTHZ_PROCESS, argv, env=env, cwd=self.root, ready=ready, ready_what="a check")

    def stop_gatekeeper(self, unit: int = 0) -> None:
        self.processes.stop(self.unit_process(unit))

    def _services(self) -> dict[str, str]:
        """Ambassador service names (from the rendered resources) -> local processes, by pod port."""
        units = " ".join(f"127.0.0.1:{port}" for port in self.unit_ports)
        local = {DEX_WEB_PORT: f"127.0.0.1:{self.ports.provider}", GATEKEEPER_PORT: units}
        services = {UPSTREAM_SERVICE: f"127.0.0.1:{self.ports.upstream}"}
        assert self.outputs is not None
        for resource in self.outputs.resources:
            spec = resource.get("spec", {})
            for key in ("service", "auth_service"):
                if key in spec:
                    name = spec[key].split("://")[-1]
                    port = int(name.rsplit(":", 1)[1]) if ":" in name else 80
                    if port not in local:
                        raise StackError(
                            f"{resource['metadata']['name']}: {key} {spec[key]!r} is on port {port},"
                            f" where no dex-auth workload listens ({sorted(local)})"
                        )
                    services[name] = local[port]
        return services

    def gateway_config(self) -> tuple[str, str]:
        """(text, content type) of the Caddy config for the current resources."""
        assert self.outputs is not None
        resources = [*self.outputs.resources, upstream_mapping()]
        gateway_ports = caddy.GatewayPorts(self.ports.gateway, self.ports.authz, self.ports.admin)
        if self.gateway_mode == "istio":
            return caddy.dumps(self._istio_config(gateway_ports)), "application/json"
        if self.gateway_mode == "ambassador":
            return caddy.dumps(caddy.ambassador_config(resources, self._services(), gateway_ports)), "application/json"
        if self.gateway_mode == "traefik":
            return self._traefik_config(resources, gateway_ports), "text/caddyfile"
        check_uri = f"{self.prefix}/forward-auth"
        return caddy.forward_auth_caddyfile(resources, self._services(), gateway_ports, check_uri), "text/caddyfile"

    def _traefik_config(self, resources: list[dict[str, Any]], gateway_ports: caddy.GatewayPorts) -> str:
        """Caddy's forward_auth as Traefik's ForwardAuth middleware from the forward-auth data:
        `GET <decisions_address>` as given, `authResponseHeaders` = `headers`, only for the apps in
        `app_names` (traefik-k8s src/traefik.py, `_generate_middleware_config`). Dex's and the
        gatekeeper's own routes come from the charm's Mappings, unchecked: Traefik would need its
        ingress relation for them, which the charm does not request (README)."""
        assert self.outputs is not None
        data = self.outputs.app_data["forward-auth"]
        if TRAEFIK_APP not in json.loads(data["app_names"]):
            raise StackError(f"the charm does not ask Traefik to protect {TRAEFIK_APP}: {data['app_names']}")
        address = urlsplit(data["decisions_address"])
        service = f"{address.hostname}:{address.port}"
        services = {**self._services(), service: " ".join(f"127.0.0.1:{p}" for p in self.unit_ports)}
        return caddy.forward_auth_caddyfile(
            resources,
            services,
            gateway_ports,
            address.path,
            check_service=service,
            copy_headers=json.loads(data["headers"]),
        )

    def _istio_config(self, gateway_ports: caddy.GatewayPorts) -> dict[str, Any]:
        """Envoy as istio-pilot configures it from the charm's ingress and ingress-auth data,
        with the harness app routed as another charm's ingress would (`ISTIO_APP_PREFIX`)."""
        assert self.outputs is not None
        namespace = self.runner.model_name  # istio-pilot in the same model, as it assumes
        data = {
            endpoint: istio_pilot.read(endpoint, self.outputs.app_data[endpoint])[1]
            for endpoint in istio_pilot.ENDPOINTS
        }
        app = {"service": "e2e-upstream", "port": 80, "namespace": namespace}
        app |= {"prefix": ISTIO_APP_PREFIX, "rewrite": ISTIO_APP_PREFIX}
        routes = [istio_pilot.virtual_service(route, namespace) for route in (data["ingress"], app)]
        auth = istio_pilot.ext_authz(data["ingress-auth"], namespace)
        local = {DEX_WEB_PORT: f"127.0.0.1:{self.ports.provider}", EXT_AUTHZ_PORT: f"127.0.0.1:{self.ports.ext_authz}"}
        services = {istio_pilot.host("e2e-upstream", namespace, 80): f"127.0.0.1:{self.ports.upstream}"}
        for target in [*(r.service for r in routes[:1]), auth.service]:
            port = int(target.rsplit(":", 1)[1])
            if port not in local:
                raise StackError(f"{target}: no dex-auth workload listens on port {port} ({sorted(local)})")
            services[target] = local[port]
        return caddy.envoy_config(routes, auth, services, gateway_ports)

    def _start_gateway(self) -> ManagedProcess:
        text, content_type = self.gateway_config()
        suffix = "json" if content_type == "application/json" else "caddyfile"
        path = self.root / f"gateway.{suffix}"
        path.write_text(text)
        caddy_home = self.root / "caddy-home"
        caddy_home.mkdir(exist_ok=True)
        argv = ["caddy", "run", "--config", str(path)]
        if suffix == "caddyfile":
            argv += ["--adapter", "caddyfile"]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(caddy_home),
            "XDG_CONFIG_HOME": str(caddy_home / "config"),
            "XDG_DATA_HOME": str(caddy_home / "data"),
        }
        if shutil.which("caddy") is None:
            raise StackError("caddy is not installed (scripts/setup installs it)")
        process = self.processes.start(
            "gateway",
            argv,
            env=env,
            cwd=self.root,
            ready=http_ready(f"http://127.0.0.1:{self.ports.admin}/config/"),
            ready_what="admin API",
        )
        wait_until(
            lambda: requests.get(self.url(f"{self.prefix}/nonexistent"), timeout=2).status_code < 500,
            timeout=10,
            what="gateway routes to the gatekeeper",
            process=process,
        )
        return process

    def _load_gateway_config(self) -> None:
        """Caddy's live reload through its admin API (the config is swapped without a restart)."""
        text, content_type = self.gateway_config()
        answer = requests.post(
            f"http://127.0.0.1:{self.ports.admin}/load",
            data=text.encode(),
            headers={"Content-Type": content_type},
            timeout=10,
        )
        if answer.status_code != 200:
            raise StackError(f"Caddy refused the new config: {answer.status_code} {answer.text[:500]}")

    # --- helpers for tests -------------------------------------------------------------------

    def logs(self) -> dict[str, str]:
        return self.processes.logs()

    def save_artifacts(self, target: Path) -> None:
        """Logs, the rendered outputs and the gateway config, for a failed test."""
        target.mkdir(parents=True, exist_ok=True)
        for name, text in self.logs().items():
            (target / name).write_text(text)
        if self.outputs is not None:
            (target / "dex-config.yaml").write_text(self.outputs.dex_config)
            (target / "ambassador-resources.json").write_text(json.dumps(self.outputs.resources, indent=2))
            try:
                (target / f"gateway-config.{self.gateway_mode}.txt").write_text(self.gateway_config()[0])
            except (caddy.GatewayConfigError, StackError) as err:
                (target / "gateway-config.error.txt").write_text(str(err))
