"""Render the Ambassador (Emissary) resources that put Dex and the gatekeeper behind the gateway.

Pure. Two Mappings with auth bypassed (Dex's pages, the gatekeeper's own endpoints) and one
AuthService that sends every other request to the gatekeeper's check endpoint.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import yaml

import pebble_layers

DEX_PREFIX = "/dex/"
# Headers the gatekeeper reads to tell a browser from a script; Ambassador always adds
# authorization, cookie, user-agent and x-forwarded-* on top.
CHECK_REQUEST_HEADERS = (
    "accept",
    "authorization",
    "cookie",
    "x-requested-with",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "x-forwarded-proto",
    "x-forwarded-host",
)


def lookalike_spellings(header: str) -> list[str]:
    """The spellings of `header` with some `-` written as `_`.

    Ambassador replaces only the exact identity header on an allowed request, while Envoy
    passes `kubeflow_userid` upstream untouched (headers_with_underscores_action defaults to
    ALLOW) and some apps read it as the identity. Sending these to the gatekeeper lets it
    refuse the request. Long names get only the all-underscore spelling to bound the list.
    """
    parts = header.lower().split("-")
    if len(parts) == 1:
        return []
    if len(parts) > 5:
        return ["_".join(parts)]
    spellings = []
    for separators in itertools.product("-_", repeat=len(parts) - 1):
        if "_" in separators:
            spellings.append(parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:], strict=True)))
    return spellings


@dataclass(frozen=True)
class AmbassadorSettings:
    """Where the workloads are reachable inside the cluster and what the gateway must pass."""

    app_name: str
    namespace: str
    api_version: str = "getambassador.io/v3alpha1"
    userid_header: str = "kubeflow-userid"
    groups_header: str = "kubeflow-groups"
    assertion_header: str = ""  # empty: no identity assertion
    dex_port: int = pebble_layers.DEX_WEB_PORT
    gatekeeper_port: int = pebble_layers.GATEKEEPER_PORT
    prefix: str = pebble_layers.GATEKEEPER_PREFIX
    check_timeout_ms: int = 5000

    @property
    def identity_headers(self) -> tuple[str, ...]:
        return tuple(h for h in (self.userid_header, self.groups_header, self.assertion_header) if h)

    def service(self, port: int) -> str:
        return f"{self.app_name}.{self.namespace}:{port}"


def _resource(settings: AmbassadorSettings, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    if kind == "Mapping" and settings.api_version.endswith("v3alpha1"):
        spec = {"hostname": "*", **spec}
    return {
        "apiVersion": settings.api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": settings.namespace},
        "spec": spec,
    }


def _bypass_mapping(settings: AmbassadorSettings, name: str, prefix: str, port: int) -> dict[str, Any]:
    """Served without the AuthService: Dex's pages and the gatekeeper's own endpoints."""
    spec = {"prefix": prefix, "rewrite": prefix, "service": settings.service(port), "bypass_auth": True}
    return _resource(settings, "Mapping", name, {**spec, "timeout_ms": 10000})


def check_request_headers(*identity_headers: str) -> list[str]:
    """What the gateway passes to the check: credentials, what tells a browser from a script,
    and the look-alike spellings of the identity headers, so the check can refuse them."""
    return [*CHECK_REQUEST_HEADERS, *(name for header in identity_headers for name in lookalike_spellings(header))]


def _auth_service(settings: AmbassadorSettings) -> dict[str, Any]:
    """Every other request is checked at <prefix>/check; the gateway fails closed."""
    spec = {
        "auth_service": settings.service(settings.gatekeeper_port),
        "proto": "http",
        "path_prefix": f"{settings.prefix.rstrip('/')}/check",
        "timeout_ms": settings.check_timeout_ms,
        "allowed_request_headers": check_request_headers(*settings.identity_headers),
        "allowed_authorization_headers": list(settings.identity_headers),
        "failure_mode_allow": False,
    }
    return _resource(settings, "AuthService", settings.app_name, spec)


def render_resources(settings: AmbassadorSettings) -> list[dict[str, Any]]:
    """The Mapping for Dex, the Mapping for the gatekeeper's endpoints, the AuthService."""
    prefix = settings.prefix.rstrip("/") + "/"
    return [
        _bypass_mapping(settings, f"{settings.app_name}-dex", DEX_PREFIX, settings.dex_port),
        _bypass_mapping(settings, f"{settings.app_name}-gatekeeper", prefix, settings.gatekeeper_port),
        _auth_service(settings),
    ]


def render_resources_yaml(settings: AmbassadorSettings) -> str:
    """The `resources` value of the ambassador relation: one YAML list of whole resources."""
    return yaml.safe_dump(render_resources(settings), sort_keys=False, default_flow_style=False)
