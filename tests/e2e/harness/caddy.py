"""Caddy configured from rendered Ambassador resources: the gateway of the end-to-end stack.

Two gateway styles, both driven by the same Mappings:

* ``ambassador``: Caddy JSON that behaves like Emissary's AuthService (Envoy ext_authz HTTP).
  For a Mapping without ``bypass_auth`` the request is first sent to the auth service with its
  own method and the path ``path_prefix`` + original path and query (escaping kept), no body,
  and only ``allowed_request_headers`` plus the headers Envoy always sends. On exactly 200 the
  ``allowed_authorization_headers`` of the answer replace the client's copies on the upstream
  request and the headers named in ``x-envoy-auth-headers-to-remove`` are removed; a 5xx (or no
  answer) becomes ``status_on_error`` (403); any other answer goes back to the client with only
  the headers Envoy lets through. Caddy cannot drop "all headers but these" on a proxied request
  and then add some back (2.6.2 deletes after it sets, and ``*`` alone panics), so the check goes
  through a second, internal Caddy server that filters the headers in place first.
* ``forward-auth``: a Caddyfile using Caddy's own ``forward_auth`` directive, as a Caddy user
  would write it (GET to ``<prefix>/forward-auth`` with ``X-Forwarded-*``).

What Envoy does, as read at its source (envoyproxy/envoy, commit 9c276e34,
``source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc``, ``toResponse``) and how
Emissary configures it (emissary-ingress/emissary ``python/ambassador/envoy/v3/v3httpfilter.py``,
``V3HTTPFilter_authv1``), each rule emulated here and tested in ``tests/e2e/test_gateway_emulation.py``:

- only status 200 allows; any 5xx, like a reset or a timeout, is an error: the client gets
  ``status_on_error`` (403 unless set) with no body and none of the auth service's headers;
- any other status (another 2xx, a 3xx, a 4xx) is a deny: the client gets that status and the
  auth service's body, with the headers in ``allowed_client_headers``, which Emissary sets to
  ``allowed_authorization_headers`` plus location, authorization, proxy-authenticate,
  set-cookie and www-authenticate (Envoy adds Content-Length, WWW-Authenticate and Location);
- on a 200, the same list is ``allowed_upstream_headers``: those headers of the answer replace
  the client's on the upstream request, and ``x-envoy-auth-headers-to-remove`` names headers to
  drop from it.

Known differences from Envoy, on purpose or by necessity (tests must not rely on them): a deny
keeps all the auth service's headers (Content-Type too), because Caddy 2.6.2's ``copy_response``
copies every header;
an identity header the auth service answers *empty* reaches the upstream absent rather than
empty, and one it leaves out is dropped instead of letting the client's copy through (a direct
gatekeeper test checks it always sends every identity header); ``x-envoy-auth-headers-to-remove``
is honoured for the ``-``/``_`` spellings of the identity headers only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ENVOY_ALWAYS_SENT = ("authorization", "cookie", "from", "proxy-authorization", "user-agent")
ENVOY_ALWAYS_COPIED = ("location", "authorization", "proxy-authenticate", "set-cookie", "www-authenticate")
ENVOY_HEADERS_TO_REMOVE = "X-Envoy-Auth-Headers-To-Remove"

_MAPPING_FIELDS = {
    "prefix",
    "rewrite",
    "service",
    "bypass_auth",
    "timeout_ms",
    "hostname",
    "host",
    "ambassador_id",
    "connect_timeout_ms",
    "idle_timeout_ms",
}
_AUTH_FIELDS = {
    "auth_service",
    "path_prefix",
    "allowed_request_headers",
    "allowed_authorization_headers",
    "proto",
    "timeout_ms",
    "status_on_error",
    "failure_mode_allow",
    "ambassador_id",
}


class GatewayConfigError(ValueError):
    """The resources use something this emulation cannot reproduce faithfully."""


@dataclass(frozen=True)
class Route:
    """One Ambassador Mapping."""

    name: str
    prefix: str
    rewrite: str
    service: str
    bypass_auth: bool = False
    timeout_ms: int | None = None


@dataclass(frozen=True)
class AuthService:
    """The AuthService (HTTP, ext_authz)."""

    name: str
    service: str
    path_prefix: str
    allowed_request_headers: tuple[str, ...]
    allowed_authorization_headers: tuple[str, ...]
    timeout_ms: int = 5000
    status_on_error: int = 403
    failure_mode_allow: bool = False
    # On an allow, what else of the answer replaces the client's copy upstream: Emissary adds these
    # to allowed_upstream_headers; istio-pilot's EnvoyFilter lists the identity headers only.
    upstream_also: tuple[str, ...] = ENVOY_ALWAYS_COPIED


@dataclass(frozen=True)
class GatewayPorts:
    listen: int
    authz: int
    admin: int


def parse_resources(resources: Sequence[MappingType[str, Any]]) -> tuple[list[Route], AuthService | None]:
    """Mappings and the AuthService from whole resources (v2 or v3alpha1)."""
    routes: list[Route] = []
    auth: AuthService | None = None
    for index, resource in enumerate(resources):
        kind = resource.get("kind")
        name = (resource.get("metadata") or {}).get("name", f"resources[{index}]")
        spec = resource.get("spec") or {}
        if not str(resource.get("apiVersion", "")).startswith("getambassador.io/"):
            raise GatewayConfigError(f"{name}: apiVersion {resource.get('apiVersion')!r} is not getambassador.io")
        if kind == "Mapping":
            routes.append(_mapping(name, spec))
        elif kind == "AuthService":
            if auth is not None:
                raise GatewayConfigError(f"AuthService {name}: a second AuthService is not emulated")
            auth = _auth_service(name, spec)
        else:
            raise GatewayConfigError(f"{name}: kind {kind!r} is not emulated")
    return routes, auth


def _mapping(name: str, spec: MappingType[str, Any]) -> Route:
    unknown = set(spec) - _MAPPING_FIELDS
    if unknown:
        raise GatewayConfigError(f"Mapping {name}: fields {sorted(unknown)} are not emulated")
    hostname = spec.get("hostname", spec.get("host", "*"))
    if hostname not in ("*", None):
        raise GatewayConfigError(f"Mapping {name}: host/hostname {hostname!r} is not emulated (only '*')")
    if not spec.get("prefix") or not spec.get("service"):
        raise GatewayConfigError(f"Mapping {name}: prefix and service are required")
    return Route(
        name=name,
        prefix=spec["prefix"],
        rewrite=spec.get("rewrite", "/"),
        service=spec["service"],
        bypass_auth=bool(spec.get("bypass_auth", False)),
        timeout_ms=spec.get("timeout_ms"),
    )


def _auth_service(name: str, spec: MappingType[str, Any]) -> AuthService:
    unknown = set(spec) - _AUTH_FIELDS
    if unknown:
        raise GatewayConfigError(f"AuthService {name}: fields {sorted(unknown)} are not emulated")
    if spec.get("proto", "http") != "http":
        raise GatewayConfigError(f"AuthService {name}: proto {spec['proto']!r} is not emulated (http only)")
    return AuthService(
        name=name,
        service=spec["auth_service"],
        path_prefix=spec.get("path_prefix", ""),
        allowed_request_headers=tuple(h.lower() for h in spec.get("allowed_request_headers", [])),
        allowed_authorization_headers=tuple(h.lower() for h in spec.get("allowed_authorization_headers", [])),
        timeout_ms=int(spec.get("timeout_ms", 5000)),
        status_on_error=int((spec.get("status_on_error") or {}).get("code", 403)),
        failure_mode_allow=bool(spec.get("failure_mode_allow", False)),
    )


def dial(service: str, services: MappingType[str, str]) -> str:
    """Where the harness runs an Ambassador `service` (`name.ns:port`, optional scheme)."""
    key = re.sub(r"^https?://", "", service)
    if ":" not in key:
        key = f"{key}:80"
    if key not in services:
        raise GatewayConfigError(f"service {service!r} has no local process (known: {sorted(services)})")
    return services[key]


def _ordered(routes: Sequence[Route]) -> list[Route]:
    """Envoy tries longer prefixes first."""
    return sorted(routes, key=lambda r: len(r.prefix), reverse=True)


def _rewrite_handler(route: Route) -> list[dict[str, Any]]:
    if route.rewrite == "" or route.rewrite == route.prefix:
        return []
    return [{"handler": "rewrite", "path_regexp": [{"find": "^" + re.escape(route.prefix), "replace": route.rewrite}]}]


def _proxy(upstream: str, timeout_ms: int | None = None, **extra: Any) -> dict[str, Any]:
    """`upstream` may name several addresses (one service, several units): then round robin, as a
    Kubernetes Service spreads connections over its pods."""
    dials = upstream.split()
    handler: dict[str, Any] = {"handler": "reverse_proxy", "upstreams": [{"dial": d} for d in dials], **extra}
    if len(dials) > 1:
        handler["load_balancing"] = {"selection_policy": {"policy": "round_robin"}}
    if timeout_ms:
        handler["transport"] = {"protocol": "http", "response_header_timeout": f"{timeout_ms}ms"}
    return handler


def _cel_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _spellings(name: str) -> list[str]:
    """A header name with each `-` or `_` separator swapped, e.g. kubeflow-userid, kubeflow_userid."""
    parts = re.split(r"[-_]", name)
    out = [parts[0]]
    for part in parts[1:]:
        out = [f"{prefix}{sep}{part}" for prefix in out for sep in ("-", "_")]
    return out


def _check_hop(auth: AuthService, authz_port: int) -> dict[str, Any]:
    """Public server -> internal filter: GET (so the body stays for the upstream), stash what Envoy would use."""
    copied = list(dict.fromkeys([*auth.allowed_authorization_headers, *auth.upstream_also]))
    # The vars handler turns an absent header into "" (a placeholder used directly would stay literal).
    stash = {f"auth{i}": f"{{http.reverse_proxy.header.{_canonical(name)}}}" for i, name in enumerate(copied)}
    on_allow: list[dict[str, Any]] = [{"handle": [{"handler": "vars", **stash}]}]
    for name in auth.allowed_authorization_headers:
        on_allow.append({"handle": [{"handler": "headers", "request": {"delete": [name]}}]})
    for i, name in enumerate(copied):
        on_allow.append(
            {
                "match": [{"not": [{"vars": {f"auth{i}": [""]}}]}],
                "handle": [{"handler": "headers", "request": {"set": {_canonical(name): [f"{{http.vars.auth{i}}}"]}}}],
            }
        )
    for name in auth.allowed_authorization_headers:
        for spelling in _spellings(name):
            pattern = r"(?i)(^|,)\s*" + re.escape(spelling) + r"\s*(,|$)"
            on_allow.append(
                {
                    "match": [
                        {
                            "vars_regexp": {
                                f"{{http.reverse_proxy.header.{ENVOY_HEADERS_TO_REMOVE}}}": {
                                    "name": "remove",
                                    "pattern": pattern,
                                }
                            }
                        }
                    ],
                    "handle": [{"handler": "headers", "request": {"delete": [spelling]}}],
                }
            )
    on_error = (
        [{"handle": [{"handler": "vars"}]}]
        if auth.failure_mode_allow
        else [{"handle": [{"handler": "static_response", "status_code": auth.status_on_error}]}]
    )
    return _proxy(
        f"127.0.0.1:{authz_port}",
        rewrite={"method": "GET", "path_regexp": [{"find": "^/", "replace": auth.path_prefix.rstrip("/") + "/"}]},
        headers={
            "request": {
                "set": {
                    "Dexauth-Method": ["{http.request.method}"],
                    "Dexauth-Remote": ["{http.request.remote.host}"],
                    "Dexauth-Xff": ["{http.request.header.X-Forwarded-For}"],
                    "Dexauth-Xfh": ["{http.request.header.X-Forwarded-Host}"],
                }
            }
        },
        handle_response=[
            {"match": {"status_code": [200]}, "routes": on_allow},
            {"match": {"status_code": [5]}, "routes": on_error},
        ],
    )


def _authz_server(auth: AuthService, gatekeeper: str, port: int) -> dict[str, Any]:
    """Internal server: keep only the headers Envoy sends, restore method, X-Forwarded-*, then ask."""
    forwarded = {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "host", "content-length"}
    kept = [h for h in dict.fromkeys([*auth.allowed_request_headers, *ENVOY_ALWAYS_SENT]) if h not in forwarded]
    stash: dict[str, Any] = {
        "handler": "vars",
        "method": "{http.request.header.Dexauth-Method}",
        "remote": "{http.request.header.Dexauth-Remote}",
        "xff": "{http.request.header.Dexauth-Xff}",
        "xfh": "{http.request.header.Dexauth-Xfh}",
    }
    for i, name in enumerate(kept):
        stash[f"keep{i}"] = f"{{http.request.header.{_canonical(name)}}}"
    routes: list[dict[str, Any]] = [
        {"handle": [stash]},
        {"handle": [{"handler": "headers", "request": {"delete": ["**"]}}]},
    ]
    for i, name in enumerate(kept):
        routes.append(
            {
                "match": [{"not": [{"vars": {f"keep{i}": [""]}}]}],
                "handle": [{"handler": "headers", "request": {"set": {_canonical(name): [f"{{http.vars.keep{i}}}"]}}}],
            }
        )
    routes += [
        {"match": [{"vars": {"xff": [""]}}], "handle": [{"handler": "vars", "xff_out": "{http.vars.remote}"}]},
        {
            "match": [{"not": [{"vars": {"xff": [""]}}]}],
            "handle": [{"handler": "vars", "xff_out": "{http.vars.xff}, {http.vars.remote}"}],
        },
        {"handle": [{"handler": "rewrite", "method": "{http.vars.method}"}]},
    ]
    base = {"X-Forwarded-For": ["{http.vars.xff_out}"], "X-Forwarded-Proto": ["http"]}
    routes += [
        {
            "match": [{"not": [{"vars": {"xfh": [""]}}]}],
            "terminal": True,
            "handle": [
                _proxy(
                    gatekeeper,
                    auth.timeout_ms,
                    headers={"request": {"set": {**base, "X-Forwarded-Host": ["{http.vars.xfh}"]}}},
                )
            ],
        },
        {
            "terminal": True,
            "handle": [
                _proxy(gatekeeper, auth.timeout_ms, headers={"request": {"set": base, "delete": ["X-Forwarded-Host"]}})
            ],
        },
    ]
    return {"listen": [f"127.0.0.1:{port}"], "automatic_https": {"disable": True}, "routes": routes}


def ambassador_config(
    resources: Sequence[MappingType[str, Any]], services: MappingType[str, str], ports: GatewayPorts
) -> dict[str, Any]:
    """Caddy JSON emulating Ambassador for these resources."""
    routes, auth = parse_resources(resources)
    return envoy_config(routes, auth, services, ports)


def envoy_config(
    routes: Sequence[Route], auth: AuthService | None, services: MappingType[str, str], ports: GatewayPorts
) -> dict[str, Any]:
    """Caddy JSON emulating Envoy with these routes and this ext_authz (from Emissary or Istio).

    A path no route matches is answered 404 unchecked, as Envoy skips ext_authz without a route
    (ext_authz.cc, `getPerRouteFlags`).
    """
    public_routes: list[dict[str, Any]] = []
    for route in _ordered(routes):
        upstream = dial(route.service, services)
        handlers = [*_rewrite_handler(route), _proxy(upstream, route.timeout_ms)]
        if not route.bypass_auth and auth is not None:
            handlers = [
                {"handler": "vars", "dexauth_phase": "check"},
                _check_hop(auth, ports.authz),
                {"handler": "vars", "dexauth_phase": "upstream"},
                *handlers,
            ]
        public_routes.append(
            {
                "match": [{"expression": f"{{http.request.uri}}.startsWith({_cel_string(route.prefix)})"}],
                "handle": handlers,
                "terminal": True,
            }
        )
    public_routes.append(
        {"handle": [{"handler": "static_response", "status_code": 404, "body": "no Mapping matches this path\n"}]}
    )
    servers: dict[str, Any] = {
        "gateway": {
            "listen": [f"127.0.0.1:{ports.listen}"],
            "automatic_https": {"disable": True},
            "routes": public_routes,
            "errors": {
                "routes": [
                    {
                        "match": [{"vars": {"dexauth_phase": ["check"]}}],
                        "handle": [
                            {"handler": "static_response", "status_code": auth.status_on_error if auth else 403}
                        ],
                    },
                    {"handle": [{"handler": "static_response", "status_code": "{http.error.status_code}"}]},
                ]
            },
        },
    }
    if auth is not None:
        servers["authz"] = _authz_server(auth, dial(auth.service, services), ports.authz)
    return {
        "admin": {"listen": f"127.0.0.1:{ports.admin}", "config": {"persist": False}},
        "apps": {"http": {"servers": servers}},
    }


def _caddy_path_matcher(prefix: str) -> str:
    return f"{prefix}*"


def forward_auth_caddyfile(
    resources: Sequence[MappingType[str, Any]],
    services: MappingType[str, str],
    ports: GatewayPorts,
    check_uri: str,
    *,
    check_service: str | None = None,
    copy_headers: Sequence[str] | None = None,
) -> str:
    """A Caddyfile with Caddy's own forward_auth for the protected Mappings.

    `check_service` and `copy_headers` replace the AuthService's, for a gateway told them another
    way (Traefik, from the forward-auth relation).
    """
    routes, auth = parse_resources(resources)
    if copy_headers is None:
        copy_headers = auth.allowed_authorization_headers if auth else ()
    copy = " ".join(copy_headers)
    lines = [
        "{",
        f"\tadmin 127.0.0.1:{ports.admin}",
        "\tauto_https off",
        "}",
        "",
        f"http://127.0.0.1:{ports.listen} {{",
        "\troute {",
    ]
    for index, route in enumerate(_ordered(routes)):
        matcher = f"@m{index}"
        lines.append(f"\t\t{matcher} path {_caddy_path_matcher(route.prefix)}")
        lines.append(f"\t\thandle {matcher} {{")
        if not route.bypass_auth and auth is not None:
            lines += [
                f"\t\t\tforward_auth {dial(check_service or auth.service, services)} {{",
                "\t\t\t\tlb_policy round_robin",
                f"\t\t\t\turi {check_uri}",
                f"\t\t\t\tcopy_headers {copy}",
                "\t\t\t}",
            ]
        if route.rewrite not in ("", route.prefix):
            lines.append(f"\t\t\turi path_regexp ^{re.escape(route.prefix)} {route.rewrite}")
        lines.append(f"\t\t\treverse_proxy {dial(route.service, services)}")
        lines.append("\t\t}")
    lines += ['\t\trespond "no Mapping matches this path" 404', "\t}", "}", ""]
    return "\n".join(lines)


def dumps(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2)
