"""Render the Pebble layers of the `dex` and `gatekeeper` containers; the containers' paths.

Pure (plain dicts, no `ops`), so the end-to-end harness starts the gatekeeper with exactly the
environment the charm would give it. A service restarts on replan only when its layer changes,
so the Dex layer carries a hash of the config file it reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import settings as settings_module

# Both containers run as the rock's _daemon_ (metadata.yaml: Juju refuses uids 1000-9999, so
# not the upstream image's dex user 1001, and /etc/dex there belongs to 1001). The Dex config
# therefore lives in a directory the charm creates, mode 0700, in the image's sticky /tmp.
WORKLOAD_UID = WORKLOAD_GID = 584792
DEX_CONFIG_DIR = "/tmp/dex-auth"  # noqa: S108 - made 0700 by the charm, in a container of one user
DEX_CONFIG_PATH = f"{DEX_CONFIG_DIR}/config.yaml"
DEX_FILES_DIR = f"{DEX_CONFIG_DIR}/files"  # connector files (CA certificates, keys), 0600
# The ca-bundle option's certificates, added by Go to the system roots for every connector: with
# SSL_CERT_DIR set, crypto/x509 (root_unix.go, loadSystemRoots) still reads the system bundle file,
# then every file of the listed directories instead of the default directories.
DEX_CA_DIR = f"{DEX_CONFIG_DIR}/ca-certs"
DEX_CA_FILE = f"{DEX_CA_DIR}/ca-bundle.pem"
DEX_BINARY = "/usr/local/bin/dex"
DEX_COMMAND = f"{DEX_BINARY} serve {DEX_CONFIG_PATH}"
GATEKEEPER_COMMAND = "python3 -m gatekeeper"
GATEKEEPER_PORT = 8080
# Istio's ext_authz asks at the root with any path (ingress-auth): its own listener, no operations.
EXT_AUTHZ_SERVICE = "gatekeeper-ext-authz"
EXT_AUTHZ_PORT = 8081
GATEKEEPER_PREFIX = "/authservice"
# In the container's filesystem: outlives service restarts (not pod restarts), shared by workers.
GATEKEEPER_REVOCATIONS_FILE = "/var/lib/gatekeeper/revocations"
DEX_TELEMETRY_PORT = 5558
DEX_WEB_PORT = 5556
# The gatekeeper reaches Dex inside the pod; browsers go to the public issuer.
DEX_LOCAL_ISSUER = f"http://127.0.0.1:{DEX_WEB_PORT}/dex"
DEX_PATH = "/dex"  # Dex's own pages, which every browser must reach before it has a session
# Behind Istio the gatekeeper's pages are answered through the check, and Envoy checks only a
# request that matches a route (ext_authz.cc, getPerRouteFlags: no route, no check). istio-pilot
# gives each app one route, Dex's, so the pages live under it.
EXT_AUTHZ_PREFIX = DEX_PATH + GATEKEEPER_PREFIX
DEX_READY_CHECK = "dex-ready"
GATEKEEPER_READY_CHECK = "gatekeeper-ready"
GATEKEEPER_STORE_CHECK = "gatekeeper-store"
GATEKEEPER_LOCAL_URL = f"http://localhost:{GATEKEEPER_PORT}"  # the pod's containers share one network


def config_hash(text: str, files: Mapping[str, str] | None = None) -> str:
    digest = hashlib.sha256(text.encode())
    for path, content in sorted((files or {}).items()):
        digest.update(b"\0" + path.encode() + b"\0" + content.encode())
    return digest.hexdigest()[:16]


def gatekeeper_environment(
    settings: settings_module.Settings,
    client_secret: str,
    session_keys: str,
    *,
    redis_url: str = "",
    operations_token: str = "",
    extra_skip_paths: tuple[str, ...] = (),
    ca_bundle: str = "",
    assertion_keys: str = "",
) -> dict[str, str]:
    """The options' variables (settings.py declares which), and those the charm fixes or relates."""
    return {
        **settings_module.gatekeeper_variables(settings),
        "GATEKEEPER_ISSUER_URL": settings.issuer_url,
        "GATEKEEPER_PROVIDER_URL": DEX_LOCAL_ISSUER,
        "GATEKEEPER_CLIENT_SECRET": client_secret,
        "GATEKEEPER_SESSION_KEYS": session_keys,
        "GATEKEEPER_PREFIX": GATEKEEPER_PREFIX,
        "GATEKEEPER_SKIP_AUTH_PATHS": ",".join(dict.fromkeys([*settings.all_skip_auth_paths, *extra_skip_paths])),
        "GATEKEEPER_SECURE_COOKIES": "true" if settings.secure_cookies else "false",
        "GATEKEEPER_HOST": "0.0.0.0",  # noqa: S104 - the gateway reaches the pod on its IP
        "GATEKEEPER_PORT": str(GATEKEEPER_PORT),
        "GATEKEEPER_REVOCATIONS_FILE": GATEKEEPER_REVOCATIONS_FILE,
        "GATEKEEPER_CHECK_EVERY_PATH": "false",  # the ext_authz listener's own layer sets it
        "GATEKEEPER_REDIS_URL": redis_url,
        "GATEKEEPER_OPERATIONS_TOKEN": operations_token,
        "GATEKEEPER_CA_BUNDLE": ca_bundle,
        "GATEKEEPER_ASSERTION_KEYS": assertion_keys,
    }


def _http_check(level: str | None, url: str) -> dict[str, Any]:
    """Every check alike: a failure counts after 3 misses 10 s apart, so a slow start is no failure.

    A check without a level only reports: it makes a service neither unready nor restarted.
    """
    return {
        "override": "replace",
        **({"level": level} if level else {}),
        "period": "10s",
        "timeout": "3s",
        "threshold": 3,
        "http": {"url": url},
    }


def _service(name: str, summary: str, command: str, environment: dict[str, str]) -> dict[str, Any]:
    """The workload user runs it; the alive check restarts it."""
    return {
        "override": "replace",
        "summary": summary,
        "command": command,
        "startup": "enabled",
        "user-id": WORKLOAD_UID,
        "group-id": WORKLOAD_GID,
        "environment": environment,
        "on-check-failure": {f"{name}-alive": "restart"},
    }


def ext_authz_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The same gatekeeper on EXT_AUTHZ_PORT, where every path is a check: Istio checks Dex's
    pages too, so they are skipped (answered without identity, as any skip-auth path)."""
    skip = [path for path in environment.get("GATEKEEPER_SKIP_AUTH_PATHS", "").split(",") if path]
    return {
        **environment,
        "GATEKEEPER_PORT": str(EXT_AUTHZ_PORT),
        "GATEKEEPER_PREFIX": EXT_AUTHZ_PREFIX,
        "GATEKEEPER_CHECK_EVERY_PATH": "true",
        "GATEKEEPER_SKIP_AUTH_PATHS": ",".join([*skip, DEX_PATH]),
        "GATEKEEPER_OPERATIONS_TOKEN": "",
    }


def gatekeeper_layer(environment: dict[str, str], *, ext_authz: bool = False) -> dict[str, Any]:
    """Ready (/readyz) only once it has Dex's discovery document and keys.

    `gatekeeper-store` fails while a configured Redis is away, for the unit status; it has no
    level, since a gatekeeper without Redis keeps serving. It is there without Redis too (and
    passes), because a layer combined into the plan cannot take a check out again. For the
    same reason the ext_authz listener is always declared, started only with `ext_authz`; it has
    no check of its own (it serves no path but checks) and Pebble restarts it if it exits.
    """
    base = GATEKEEPER_LOCAL_URL
    checks = {
        "gatekeeper-alive": _http_check("alive", f"{base}/healthz"),
        GATEKEEPER_READY_CHECK: _http_check("ready", f"{base}/readyz"),
        GATEKEEPER_STORE_CHECK: _http_check(None, f"{base}/readyz/store"),
    }
    return {
        "summary": "dex-auth gatekeeper",
        "services": {
            "gatekeeper": _service(
                "gatekeeper", "authentication service for the gateway", GATEKEEPER_COMMAND, environment
            ),
            EXT_AUTHZ_SERVICE: {
                "override": "replace",
                "summary": "the gatekeeper for Istio's ext_authz: every path is a check",
                "command": GATEKEEPER_COMMAND,
                "startup": "enabled" if ext_authz else "disabled",
                "user-id": WORKLOAD_UID,
                "group-id": WORKLOAD_GID,
                "environment": ext_authz_environment(environment),
            },
        },
        "checks": checks,
    }


def dex_layer(config_text: str, files: Mapping[str, str] | None = None) -> dict[str, Any]:
    """DEX_EXPAND_ENV=false keeps a `$` in a connector secret from being eaten by Dex.

    Dex reads its connector files only when it starts, so their content is in the hash too.
    """
    environment = {"DEX_EXPAND_ENV": "false", "DEX_CONFIG_HASH": config_hash(config_text, files)}
    if files and DEX_CA_FILE in files:
        environment["SSL_CERT_DIR"] = DEX_CA_DIR
    base = f"http://localhost:{DEX_TELEMETRY_PORT}"
    return {
        "summary": "dex",
        "services": {"dex": _service("dex", "Dex OpenID Connect provider", DEX_COMMAND, environment)},
        "checks": {
            "dex-alive": _http_check("alive", f"{base}/healthz/live"),
            DEX_READY_CHECK: _http_check("ready", f"{base}/healthz"),
        },
    }
