"""Traefik's `forward-auth` and the Identity Platform's `auth-proxy`, through Canonical's libraries.

With `charmlibs-interfaces-forward-auth` and `-auth-proxy` 1.0.0 (canonical/charmlibs caaf741),
the same roles as oauth2-proxy-k8s: apps declare on `auth-proxy` what they want protected, and
the charm tells Traefik on `forward-auth` where to ask (`decisions_address`), for which apps
(`app_names`) and which answer headers to pass on. Traefik sends `GET <decisions_address>` as
given, with `X-Forwarded-Method/Proto/Host/Uri/For`, and on a 2xx deletes the client's copies of
the listed headers before copying ours (traefik-k8s 8ab4a7e, src/traefik.py
`_generate_middleware_config`; Traefik's pkg/middlewares/auth/forward.go). `proxied` is pure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ops
from charmlibs.interfaces import auth_proxy, forward_auth

import pebble_layers
from gatekeeper import rules

logger = logging.getLogger(__name__)

FORWARD_AUTH = "forward-auth"
AUTH_PROXY = "auth-proxy"


@dataclass(frozen=True)
class Proxied:
    """What the apps on auth-proxy asked for, as far as the gatekeeper can honour it."""

    app_names: tuple[str, ...] = ()
    skip_paths: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # an endpoint that stays behind the login, said why
    email_limited: tuple[str, ...] = ()  # apps that asked for an allow-list of emails


def _bases(protected_urls: Sequence[str]) -> list[str]:
    return sorted({urlsplit(url).path.rstrip("/") for url in protected_urls}) or [""]


def _endpoint_paths(endpoint: str, protected_urls: Sequence[str]) -> list[str]:
    """An allowed endpoint as skip paths: `/path` as is, `path` under each protected URL's path."""
    endpoint = endpoint.strip().removeprefix("^")
    if endpoint.startswith("/"):
        return [endpoint]
    return [f"{base}/{endpoint}" for base in _bases(protected_urls)]


def _own(path: str, protected_urls: Sequence[str]) -> bool:
    """Skip paths hold for the whole gateway: an app may only open paths of its own URLs."""
    return any(base == "" or path == base or path.startswith(base + "/") for base in _bases(protected_urls))


def proxied(decoded: Sequence[dict[str, Any]], app_names: Sequence[str]) -> Proxied:
    """The apps' declarations in, what to skip and what cannot be honoured out."""
    skip: list[str] = []
    problems: list[str] = []
    limited: list[str] = []
    for data in decoded:
        app = str(data.get("app_name") or "?")
        if data.get("authenticated_emails") or data.get("authenticated_email_domains"):
            limited.append(app)
        for endpoint in data.get("allowed_endpoints") or []:
            protected = data.get("protected_urls") or []
            for path in _endpoint_paths(str(endpoint), protected):
                try:
                    normal = rules.skip_auth_paths(path)
                except rules.InvalidValue as err:
                    problems.append(
                        f"{app}: allowed endpoint {str(endpoint)[:80]!r} still needs a login ({err.problem})"
                    )
                    continue
                if not all(_own(p, protected) for p in normal):
                    problems.append(f"{app}: allowed endpoint {path[:80]!r} is outside its protected URLs")
                    continue
                skip.extend(normal)
    return Proxied(tuple(sorted(set(app_names))), tuple(dict.fromkeys(skip)), tuple(problems), tuple(limited))


def statuses(found: Proxied) -> list[ops.StatusBase]:
    """An allow-list of emails is not enforced yet: said as Blocked, since every user gets in."""
    said: list[ops.StatusBase] = []
    if found.email_limited:
        apps = ", ".join(sorted(found.email_limited))
        said.append(ops.BlockedStatus(f"auth-proxy: {apps} admit only some emails, which dex-auth does not enforce"))
    for problem in found.problems:
        logger.warning("auth-proxy %s", problem)
    if found.problems:
        said.append(ops.ActiveStatus(f"auth-proxy: {found.problems[0]}"))
    return said


def decisions_address(app_name: str, namespace: str) -> str:
    port, prefix = pebble_layers.GATEKEEPER_PORT, pebble_layers.GATEKEEPER_PREFIX
    return f"http://{app_name}.{namespace}.svc.cluster.local:{port}{prefix}/forward-auth"


class IdentityPlatform:
    """Both providers; the reconcile reads `proxied()` and calls `publish` as the leader."""

    def __init__(self, charm: ops.CharmBase, identity_headers: Sequence[str]) -> None:
        self._model = charm.model
        self._proxied: Proxied | None = None
        self.auth_proxy = auth_proxy.AuthProxyProvider(charm, relation_name=AUTH_PROXY)
        # Built complete from the start: the library reads our app_names when Traefik writes first.
        self.forward_auth = forward_auth.ForwardAuthProvider(
            charm, relation_name=FORWARD_AUTH, forward_auth_config=self._config(identity_headers)
        )

    def proxied(self) -> Proxied:
        """Read once per hook: the init, the reconcile and collect-status all ask."""
        if self._proxied is None:
            self._proxied = proxied(self.auth_proxy.get_decoded_relations_data(), self.auth_proxy.get_app_names())
        return self._proxied

    def _config(self, identity_headers: Sequence[str]) -> forward_auth.ForwardAuthConfig:
        return forward_auth.ForwardAuthConfig(
            decisions_address=decisions_address(self._model.app.name, self._model.name),
            app_names=list(self.proxied().app_names),
            headers=list(identity_headers),
        )

    def publish(self, identity_headers: Sequence[str]) -> None:
        """Leader: Traefik's view follows the apps on auth-proxy and the header options."""
        for relation in self._model.relations[FORWARD_AUTH]:
            self.forward_auth.update_forward_auth_config(self._config(identity_headers), relation.id)
