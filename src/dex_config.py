"""Render Dex's config file from checked settings.

Pure: the charm, the unit tests and the end-to-end harness all call `render_dex_config` and get
the same text. Dex ignores unknown keys, so every key written here is one Dex v2.45 reads.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import yaml

import errors
import pebble_layers

BCRYPT_ROUNDS = 10
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
OOB_REDIRECT = "urn:ietf:wg:oauth:2.0:oob"
CLI_LOCAL_REDIRECT = "http://localhost:8000"
# Dex's device flow ends with an authorization request whose redirect_uri is this literal path,
# which must be registered like any other (server/deviceflowhandlers.go, server/oauth2.go).
DEVICE_CALLBACK = "/device/callback"
_DEX_LOG_LEVELS = {"debug": "debug", "info": "info", "warning": "warn", "error": "error"}
_USER_NAMESPACE = uuid.UUID("5b0a0d4e-3c2a-4f51-9a53-6d1f0c5e8a11")


@dataclass(frozen=True)
class StaticUser:
    """A static password user; `password_hash` is bcrypt, `name` the username (default: the local part)."""

    email: str
    password_hash: str
    name: str = ""

    @property
    def username(self) -> str:
        return self.name or self.email.split("@", 1)[0]

    @property
    def user_id(self) -> str:
        """Stable across reconciles and units, so Dex's subject for the user never changes."""
        return str(uuid.uuid5(_USER_NAMESPACE, self.email.lower()))

    def to_dex(self) -> dict[str, str]:
        return {"email": self.email, "hash": self.password_hash, "username": self.username, "userID": self.user_id}


@dataclass(frozen=True)
class StaticClient:
    """An OAuth client Dex knows from its config. Public clients have no secret."""

    id: str
    name: str
    redirect_uris: tuple[str, ...]
    secret: str | None = None
    public: bool = False

    def to_dex(self) -> dict[str, Any]:
        client: dict[str, Any] = {"id": self.id, "name": self.name, "redirectURIs": list(self.redirect_uris)}
        if self.public:
            client["public"] = True
        else:
            client["secret"] = self.secret or ""
        return client


@dataclass(frozen=True)
class DexSettings:
    """Everything the Dex config depends on."""

    issuer: str
    connectors: list[dict[str, Any]] = field(default_factory=list)
    enable_password_db: bool = True
    static_user: StaticUser | None = None
    static_users: tuple[StaticUser, ...] = ()  # the static-users option's, after the single user
    clients: tuple[StaticClient, ...] = ()
    password_connector: str | None = "local"  # noqa: S105 - a connector id
    log_level: str = "info"
    id_token_expiry: str = "24h"  # noqa: S105 - a duration
    auth_request_expiry: str = "24h"  # the gatekeeper's login-timeout: a sign-in form lives as long at both


class DexConfigError(errors.DexAuthError):
    """The settings would make Dex refuse to start; the message says what to change."""


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def password_matches(password: str, password_hash: str) -> bool:
    """Lets the charm keep an existing hash (and Dex's config unchanged) when the password is the same."""
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def gatekeeper_client(public_url: str, client_id: str, secret: str, name: str = "dex-auth gatekeeper") -> StaticClient:
    """The confidential client the gatekeeper logs users in with, on either of its prefixes
    (the second is the one behind Istio: pebble_layers.EXT_AUTHZ_PREFIX)."""
    return StaticClient(
        id=client_id,
        name=name,
        redirect_uris=tuple(
            f"{public_url}{prefix}/oidc/callback"
            for prefix in (pebble_layers.GATEKEEPER_PREFIX, pebble_layers.EXT_AUTHZ_PREFIX)
        ),
        secret=secret,
    )


def cli_client(client_id: str) -> StaticClient:
    """The public client scripts and `dex-auth-login` use (device flow, password grant, loopback)."""
    return StaticClient(
        id=client_id,
        name="dex-auth CLI",
        redirect_uris=(OOB_REDIRECT, CLI_LOCAL_REDIRECT, DEVICE_CALLBACK),
        public=True,
    )


def render_dex_config(settings: DexSettings) -> dict[str, Any]:
    """Dex's config as a dict; raises DexConfigError on what Dex would reject at start-up."""
    if not settings.enable_password_db and not settings.connectors:
        raise DexConfigError("nobody can log in: set connectors or enable-password-db=true")
    ids = [c.id for c in settings.clients]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DexConfigError(f"OAuth client id {duplicates[0]} is registered twice")

    grant_types = ["authorization_code", "refresh_token", DEVICE_GRANT]
    oauth2: dict[str, Any] = {"skipApprovalScreen": True, "responseTypes": ["code"]}
    if settings.password_connector:
        grant_types.insert(2, "password")
        oauth2["passwordConnector"] = settings.password_connector
    oauth2["grantTypes"] = grant_types

    config: dict[str, Any] = {
        "issuer": settings.issuer,
        "storage": {"type": "kubernetes", "config": {"inCluster": True}},
        "web": {"http": f"0.0.0.0:{pebble_layers.DEX_WEB_PORT}"},
        "telemetry": {"http": f"0.0.0.0:{pebble_layers.DEX_TELEMETRY_PORT}"},
        "logger": {"level": _DEX_LOG_LEVELS.get(settings.log_level, "info"), "format": "json"},
        "expiry": {
            "idTokens": settings.id_token_expiry,
            # Dex reads it with Go's time.ParseDuration (cmd/dex/serve.go), so "86400s" is what it takes.
            "authRequests": settings.auth_request_expiry,
            "deviceRequests": "5m",
            "refreshTokens": {"reuseInterval": "3s"},
        },
        "oauth2": oauth2,
        "enablePasswordDB": settings.enable_password_db,
        "staticClients": [c.to_dex() for c in settings.clients],
        "connectors": settings.connectors,
    }
    users = ([settings.static_user] if settings.static_user is not None else []) + list(settings.static_users)
    if settings.enable_password_db and users:
        config["staticPasswords"] = [user.to_dex() for user in users]
    return config


def render_dex_config_yaml(settings: DexSettings) -> str:
    """The content of the Dex config file the charm pushes (pebble_layers.DEX_CONFIG_PATH)."""
    return yaml.safe_dump(render_dex_config(settings), sort_keys=False, default_flow_style=False)
