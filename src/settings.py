"""Turn the charm's Juju config into checked settings.

Every bad value becomes a SettingsError naming the option, so the unit can be Blocked with a
message the admin can act on. No `ops` import: tested directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

AMBASSADOR_API_VERSIONS = ("getambassador.io/v3alpha1", "getambassador.io/v2")
LOG_LEVELS = ("debug", "info", "warning", "error")
CLI_CLIENT_ID = "dex-auth-cli"
GATEKEEPER_CLIENT_ID = "dex-auth-gatekeeper"

# Same as config.yaml (a test keeps them equal), so a partial dict renders like Juju's config.
DEFAULTS: dict[str, Any] = {
    "public-url": "",
    "connectors": "",
    "enable-password-db": True,
    "static-username": "user@example.com",
    "static-password": "",
    "session-lifetime": "24h",
    "id-token-expiry": "24h",
    "userid-header": "kubeflow-userid",
    "userid-prefix": "",
    "userid-claim": "email",
    "groups-header": "kubeflow-groups",
    "groups-claim": "groups",
    "skip-auth-paths": "",
    "extra-bearer-audiences": "",
    "after-logout-url": "/",
    "ambassador-api-version": "getambassador.io/v3alpha1",
    "log-level": "info",
    "gatekeeper-workers": 1,
}

_LIFETIME = re.compile(r"^[1-9][0-9]*[smhd]?$")
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_CLAIM = re.compile(r"^[A-Za-z0-9_.:/-]+$")


class SettingsError(ValueError):
    """A config option has a value the charm cannot use."""

    def __init__(self, option: str, problem: str):
        self.option = option
        self.problem = problem
        super().__init__(f"config {option}: {problem}")


@dataclass(frozen=True)
class Settings:
    """The checked config, minus `connectors` (see connectors.py)."""

    public_url: str
    connectors_text: str
    enable_password_db: bool
    static_username: str
    static_password: str
    session_lifetime: str
    userid_header: str
    userid_prefix: str
    userid_claim: str
    groups_header: str
    groups_claim: str
    skip_auth_paths: tuple[str, ...]
    extra_bearer_audiences: tuple[str, ...]
    after_logout_url: str
    ambassador_api_version: str
    log_level: str
    id_token_expiry: str
    gatekeeper_workers: int

    @property
    def issuer_url(self) -> str:
        return f"{self.public_url}/dex"

    @property
    def secure_cookies(self) -> bool:
        return not self.public_url.startswith("http://")


class MissingPublicUrlError(SettingsError):
    """public-url is not set yet: the normal state right after deploy."""


def parse_public_url(value: str) -> str:
    """Return the origin users type in the browser, without a trailing slash."""
    value = value.strip()
    if not value:
        raise MissingPublicUrlError("public-url", "is not set: run juju config <app> public-url=https://<host>")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("public-url", f"must start with https:// or http:// and name a host, not {value!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(
            "public-url", "must be an origin like https://kubeflow.example.com, without a path, query or fragment"
        )
    if parts.username or parts.password:
        raise SettingsError("public-url", "must not contain a user name or password")
    try:
        _ = parts.port
    except ValueError:
        raise SettingsError("public-url", "has an invalid port") from None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def header_option(config: Mapping[str, Any], option: str) -> str:
    """A header-name option, lower-cased; missing options take DEFAULTS."""
    value = str({**DEFAULTS, **config}[option]).strip()
    if not _HEADER.match(value):
        raise SettingsError(option, f"must be an HTTP header name such as kubeflow-userid, not {value!r}")
    return value.lower()


def _claim(config: Mapping[str, Any], option: str) -> str:
    value = str(config[option]).strip()
    if not _CLAIM.match(value):
        raise SettingsError(option, f"must be an ID-token claim name such as email, not {value!r}")
    return value


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """Check every option; the first bad one raises SettingsError. Missing options take DEFAULTS."""
    config = {**DEFAULTS, **config}
    public_url = parse_public_url(str(config["public-url"]))

    lifetime = str(config["session-lifetime"]).strip()
    if not _LIFETIME.match(lifetime):
        raise SettingsError(
            "session-lifetime",
            f"must be seconds or a number with s, m, h or d (e.g. 86400, 30m, 12h, 7d), not {lifetime!r}",
        )

    id_token_expiry = str(config["id-token-expiry"]).strip()
    if not _GO_DURATION.match(id_token_expiry):
        raise SettingsError("id-token-expiry", f"must be a duration such as 10m, 1h or 24h, not {id_token_expiry!r}")

    skip = _csv(str(config["skip-auth-paths"]))
    for path in skip:
        if not path.startswith("/") or "?" in path or "#" in path:
            raise SettingsError(
                "skip-auth-paths", f"each entry must be a path starting with / (no query), not {path!r}"
            )

    audiences = _csv(str(config["extra-bearer-audiences"]))
    if CLI_CLIENT_ID not in audiences:
        audiences = (CLI_CLIENT_ID, *audiences)

    after_logout = str(config["after-logout-url"]).strip() or "/"
    if not after_logout.startswith("/") or after_logout.startswith("//") or "\\" in after_logout:
        raise SettingsError("after-logout-url", f"must be a path on this site starting with /, not {after_logout!r}")

    api_version = str(config["ambassador-api-version"]).strip()
    if api_version not in AMBASSADOR_API_VERSIONS:
        raise SettingsError(
            "ambassador-api-version", f"must be one of {', '.join(AMBASSADOR_API_VERSIONS)}, not {api_version!r}"
        )

    log_level = str(config["log-level"]).strip().lower()
    if log_level not in LOG_LEVELS:
        raise SettingsError("log-level", f"must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")

    workers = config["gatekeeper-workers"]
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 32:
        raise SettingsError("gatekeeper-workers", "must be a whole number from 1 to 32")

    username = str(config["static-username"]).strip()
    if username and (
        any(c.isspace() for c in username)
        or username.count("@") != 1
        or username.startswith("@")
        or username.endswith("@")
    ):
        raise SettingsError("static-username", f"must be an email address such as user@example.com, not {username!r}")

    userid_header = header_option(config, "userid-header")
    groups_header = header_option(config, "groups-header")
    if userid_header == groups_header:
        raise SettingsError("groups-header", "must differ from userid-header")

    prefix = str(config["userid-prefix"])
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in prefix):
        raise SettingsError("userid-prefix", "must not contain control characters")

    return Settings(
        public_url=public_url,
        connectors_text=str(config["connectors"]),
        enable_password_db=bool(config["enable-password-db"]),
        static_username=username,
        static_password=str(config["static-password"]),
        session_lifetime=lifetime,
        userid_header=userid_header,
        userid_prefix=prefix,
        userid_claim=_claim(config, "userid-claim"),
        groups_header=groups_header,
        groups_claim=_claim(config, "groups-claim"),
        skip_auth_paths=skip,
        extra_bearer_audiences=audiences,
        after_logout_url=after_logout,
        ambassador_api_version=api_version,
        log_level=log_level,
        id_token_expiry=id_token_expiry,
        gatekeeper_workers=workers,
    )
