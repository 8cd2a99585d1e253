"""Render the Pebble layers of the `dex` and `gatekeeper` containers.

Pure (plain dicts, no `ops`), so the end-to-end harness starts the gatekeeper with exactly the
environment the charm would give it. A service restarts on replan only when its layer changes,
so the Dex layer carries a hash of the config file it reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Both containers run as the rock's _daemon_ (metadata.yaml: Juju refuses uids 1000-9999, so
# not the upstream image's dex user 1001, and /etc/dex there belongs to 1001). The Dex config
# therefore lives in a directory the charm creates, mode 0700, in the image's sticky /tmp.
WORKLOAD_UID = WORKLOAD_GID = 584792
DEX_CONFIG_DIR = "/tmp/dex-auth"  # noqa: S108 - made 0700 by the charm, in a container of one user
DEX_CONFIG_PATH = f"{DEX_CONFIG_DIR}/config.yaml"
DEX_FILES_DIR = f"{DEX_CONFIG_DIR}/files"  # connector files (CA certificates, keys), 0600
DEX_BINARY = "/usr/local/bin/dex"
DEX_COMMAND = f"{DEX_BINARY} serve {DEX_CONFIG_PATH}"
GATEKEEPER_COMMAND = "python3 -m gatekeeper"
GATEKEEPER_PORT = 8080
# In the container's filesystem: outlives service restarts (not pod restarts), shared by workers.
GATEKEEPER_REVOCATIONS_FILE = "/var/lib/gatekeeper/revocations"
DEX_TELEMETRY_PORT = 5558
DEX_WEB_PORT = 5556
DEX_READY_CHECK = "dex-ready"
GATEKEEPER_READY_CHECK = "gatekeeper-ready"


@dataclass(frozen=True)
class GatekeeperSettings:
    """The gatekeeper's environment, as docs/architecture.md documents it."""

    public_url: str
    issuer_url: str
    client_id: str
    client_secret: str
    session_keys: str
    provider_url: str = f"http://127.0.0.1:{DEX_WEB_PORT}/dex"
    session_lifetime: str = "86400"
    prefix: str = "/authservice"
    userid_header: str = "kubeflow-userid"
    userid_prefix: str = ""
    userid_claim: str = "email"
    groups_header: str = "kubeflow-groups"
    groups_claim: str = "groups"
    skip_auth_paths: tuple[str, ...] = ()
    extra_audiences: tuple[str, ...] = ()
    secure_cookies: bool = True
    after_logout_url: str = "/"
    scopes: str = "openid email profile groups"
    log_level: str = "info"
    workers: int = 1


def config_hash(text: str, files: Mapping[str, str] | None = None) -> str:
    digest = hashlib.sha256(text.encode())
    for path, content in sorted((files or {}).items()):
        digest.update(b"\0" + path.encode() + b"\0" + content.encode())
    return digest.hexdigest()[:16]


def gatekeeper_environment(settings: GatekeeperSettings) -> dict[str, str]:
    return {
        "GATEKEEPER_PUBLIC_URL": settings.public_url,
        "GATEKEEPER_ISSUER_URL": settings.issuer_url,
        "GATEKEEPER_PROVIDER_URL": settings.provider_url,
        "GATEKEEPER_CLIENT_ID": settings.client_id,
        "GATEKEEPER_CLIENT_SECRET": settings.client_secret,
        "GATEKEEPER_SESSION_KEYS": settings.session_keys,
        "GATEKEEPER_SESSION_LIFETIME": settings.session_lifetime,
        "GATEKEEPER_PREFIX": settings.prefix,
        "GATEKEEPER_USERID_HEADER": settings.userid_header,
        "GATEKEEPER_USERID_PREFIX": settings.userid_prefix,
        "GATEKEEPER_USERID_CLAIM": settings.userid_claim,
        "GATEKEEPER_GROUPS_HEADER": settings.groups_header,
        "GATEKEEPER_GROUPS_CLAIM": settings.groups_claim,
        "GATEKEEPER_SKIP_AUTH_PATHS": ",".join(settings.skip_auth_paths),
        "GATEKEEPER_EXTRA_AUDIENCES": ",".join(settings.extra_audiences),
        "GATEKEEPER_SCOPES": settings.scopes,
        "GATEKEEPER_SECURE_COOKIES": "true" if settings.secure_cookies else "false",
        "GATEKEEPER_AFTER_LOGOUT_URL": settings.after_logout_url,
        "GATEKEEPER_HOST": "0.0.0.0",  # noqa: S104 - the gateway reaches the pod on its IP
        "GATEKEEPER_PORT": str(GATEKEEPER_PORT),
        "GATEKEEPER_WORKERS": str(settings.workers),
        "GATEKEEPER_LOG_LEVEL": settings.log_level,
        "GATEKEEPER_REVOCATIONS_FILE": GATEKEEPER_REVOCATIONS_FILE,
    }


def gatekeeper_layer(settings: GatekeeperSettings) -> dict[str, Any]:
    return {
        "summary": "dex-auth gatekeeper",
        "services": {
            "gatekeeper": {
                "override": "replace",
                "summary": "authentication service for the gateway",
                "command": GATEKEEPER_COMMAND,
                "startup": "enabled",
                "user-id": WORKLOAD_UID,
                "group-id": WORKLOAD_GID,
                "environment": gatekeeper_environment(settings),
                "on-check-failure": {"gatekeeper-alive": "restart"},
            }
        },
        "checks": {
            "gatekeeper-alive": {
                "override": "replace",
                "level": "alive",
                "period": "10s",
                "timeout": "3s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{GATEKEEPER_PORT}/healthz"},
            },
            # 503 until it has Dex's discovery document and keys.
            GATEKEEPER_READY_CHECK: {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "timeout": "3s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{GATEKEEPER_PORT}/readyz"},
            },
        },
    }


def dex_layer(config_text: str, files: Mapping[str, str] | None = None) -> dict[str, Any]:
    """DEX_EXPAND_ENV=false keeps a `$` in a connector secret from being eaten by Dex.

    Dex reads its connector files only when it starts, so their content is in the hash too.
    """
    return {
        "summary": "dex",
        "services": {
            "dex": {
                "override": "replace",
                "summary": "Dex OpenID Connect provider",
                "command": DEX_COMMAND,
                "startup": "enabled",
                "user-id": WORKLOAD_UID,
                "group-id": WORKLOAD_GID,
                "environment": {
                    "DEX_EXPAND_ENV": "false",
                    "DEX_CONFIG_HASH": config_hash(config_text, files),
                },
                "on-check-failure": {"dex-alive": "restart"},
            }
        },
        "checks": {
            "dex-alive": {
                "override": "replace",
                "level": "alive",
                "period": "10s",
                "timeout": "3s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{DEX_TELEMETRY_PORT}/healthz/live"},
            },
            DEX_READY_CHECK: {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "timeout": "3s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{DEX_TELEMETRY_PORT}/healthz"},
            },
        },
    }
