"""What Charmed Kubeflow's istio-pilot makes of our `ingress` and `ingress-auth` data, for the gateway.

Read at its source (canonical/istio-operators, charms/istio-pilot at commit 48a7d11):
- it reads app data the serialized-data-interface way (sdi.py 0.7.0, `get_version`, `unwrap`):
  the highest version in both sides' `_supported_versions`, then `data` (YAML) validated against
  that version's `requires` schema in its metadata.yaml (tests/data/istio_pilot_relations.yaml);
- each `ingress` app becomes one VirtualService (src/manifests/virtual_service.yaml.j2): match
  `uri.prefix`, rewrite to `rewrite or prefix`, route to `<service>.<namespace>.svc.cluster.local
  :<port>` (`namespace` defaults to istio-pilot's own, src/charm.py `_reconcile_ingress`);
- `ingress-auth` becomes one EnvoyFilter (src/manifests/auth_filter.yaml.j2): Envoy's ext_authz
  HTTP service at `http://<service>.<istio-pilot's namespace>.svc.cluster.local:<port>`, no path
  prefix, timeout 10 s, `allowed_headers` = allowed-request-headers, `allowed_upstream_headers` =
  allowed-response-headers, `allowed_client_headers` unset (Envoy then passes every header of a
  deny to the client), no `status_on_error` (Envoy's 403), `failure_mode_allow` unset (false).
The Envoy rules themselves (what allows, what a deny carries, no route means no check) are the
emulation's, in caddy.py.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jsonschema
import yaml

from harness import caddy

ENDPOINTS = ("ingress", "ingress-auth")
METADATA = yaml.safe_load((pathlib.Path(__file__).parents[2] / "data" / "istio_pilot_relations.yaml").read_text())[
    "provides"
]
CHECK_TIMEOUT_MS = 10_000


def remote_app_data(endpoint: str) -> dict[str, str]:
    """istio-pilot's side of the relation: its versions (`send_versions`)."""
    return {"_supported_versions": yaml.safe_dump(METADATA[endpoint]["versions"])}


def read(endpoint: str, app_data: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(version, data) as istio-pilot unwraps our app data; raises if it would refuse it."""
    ours = set(yaml.safe_load(app_data["_supported_versions"]))
    shared = ours & set(METADATA[endpoint]["versions"])
    if not shared:
        raise caddy.GatewayConfigError(f"{endpoint}: no version in common with istio-pilot ({sorted(ours)})")
    version = max(shared, key=lambda v: int(v.lstrip("v")))
    data = yaml.safe_load(app_data["data"])
    jsonschema.validate(data, METADATA[endpoint]["schema"][version]["requires"])
    return version, data


def host(service: str, namespace: str, port: int) -> str:
    return f"{service}.{namespace}.svc.cluster.local:{port}"


def virtual_service(route: dict[str, Any], istio_namespace: str) -> caddy.Route:
    """One app's VirtualService as a route of the emulation; Istio checks every routed request."""
    namespace = route.get("namespace") or istio_namespace
    return caddy.Route(
        name=route["service"],
        prefix=route["prefix"],
        rewrite=route.get("rewrite") or route["prefix"],
        service=host(route["service"], namespace, route["port"]),
    )


def ext_authz(auth: dict[str, Any], istio_namespace: str) -> caddy.AuthService:
    return caddy.AuthService(
        name=f"{auth['service']}-authn-filter",
        service=host(auth["service"], istio_namespace, auth["port"]),
        path_prefix="",
        allowed_request_headers=tuple(h.lower() for h in auth.get("allowed-request-headers", [])),
        allowed_authorization_headers=tuple(h.lower() for h in auth.get("allowed-response-headers", [])),
        timeout_ms=CHECK_TIMEOUT_MS,
        upstream_also=(),
    )
