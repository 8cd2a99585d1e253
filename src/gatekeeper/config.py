"""Settings from the GATEKEEPER_* environment variables (docs/architecture.md is the contract).

Everything is checked once at start-up so that a bad value stops the process with one line
naming the variable, instead of surfacing later as a confusing answer to a user.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gatekeeper.paths import normalise_path, safe_return_path

MIN_SESSION_KEY_BYTES = 32
MAX_SESSION_LIFETIME = 366 * 86400

_TOKEN_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_KID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_LIFETIME_RE = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A GATEKEEPER_* variable is missing or invalid; the message starts with its name.

    `variable` lets the charm, which renders these variables, point at its own option instead.
    """

    def __init__(self, message: str):
        super().__init__(message)
        first = message.split(" ", 1)[0]
        self.variable = first if first.startswith("GATEKEEPER_") else None


@dataclass(frozen=True)
class SessionKey:
    kid: str
    secret: bytes


@dataclass(frozen=True)
class Settings:
    public_url: str
    issuer_url: str
    provider_url: str
    client_id: str
    client_secret: str
    session_keys: tuple[SessionKey, ...]
    session_lifetime: int
    prefix: str
    userid_header: str
    userid_prefix: str
    userid_claim: str
    groups_header: str
    groups_claim: str
    skip_auth_paths: tuple[str, ...]
    extra_audiences: tuple[str, ...]
    scopes: str
    secure_cookies: bool
    after_logout_url: str
    host: str
    port: int
    workers: int
    log_level: str
    revocations_file: str = ""

    @property
    def callback_url(self) -> str:
        return f"{self.public_url}{self.prefix}/oidc/callback"

    def __repr__(self) -> str:  # never print the secrets
        return f"Settings(public_url={self.public_url!r}, issuer_url={self.issuer_url!r}, client_id={self.client_id!r})"


def _get(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name)
    if value is None or value.strip() == "":
        if default is None:
            raise ConfigError(f"{name} is required but not set")
        return default
    return value.strip()


def _http_url(name: str, value: str, *, origin_only: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL such as https://kubeflow.example.com, got {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{name} must not carry a query, fragment or credentials: {value!r}")
    try:
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise ConfigError(f"{name} has an invalid port: {value!r}") from None
    if origin_only and parts.path not in ("", "/"):
        raise ConfigError(f"{name} must be an origin (scheme://host[:port]) without a path, got {value!r}")
    if origin_only:
        return f"{parts.scheme}://{parts.netloc}"
    return value.rstrip("/")


def parse_lifetime(name: str, value: str) -> int:
    """Seconds from '86400', '30m', '12h' or '7d'."""
    match = _LIFETIME_RE.match(value.strip().lower())
    if not match:
        raise ConfigError(f"{name} must be seconds or a number with s/m/h/d (e.g. 12h), got {value!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 60 <= seconds <= MAX_SESSION_LIFETIME:
        raise ConfigError(f"{name} must be between 1 minute and 366 days, got {value!r}")
    return seconds


def parse_session_keys(name: str, value: str) -> tuple[SessionKey, ...]:
    keys: list[SessionKey] = []
    for index, item in enumerate(value.split(","), start=1):
        kid, sep, secret = item.strip().partition("=")
        kid = kid.strip()
        if not sep or not kid:
            raise ConfigError(f"{name} entry {index} must look like kid=secret")
        if not _KID_RE.match(kid):
            raise ConfigError(
                f"{name} entry {index}: key id {kid!r} may only use letters, digits, '.', '_', '-' (max 64)"
            )
        if len(secret.encode()) < MIN_SESSION_KEY_BYTES:
            raise ConfigError(
                f"{name} key {kid!r} is too short: at least {MIN_SESSION_KEY_BYTES} bytes are needed for HS256"
            )
        if any(k.kid == kid for k in keys):
            raise ConfigError(f"{name} lists key id {kid!r} twice")
        keys.append(SessionKey(kid=kid, secret=secret.encode()))
    return tuple(keys)


def _header_name(name: str, value: str) -> str:
    if not _TOKEN_RE.match(value):
        raise ConfigError(f"{name} must be a valid HTTP header name, got {value!r}")
    return value.lower()


def _bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _int(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {number}")
    return number


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _skip_paths(name: str, value: str) -> tuple[str, ...]:
    paths: list[str] = []
    for item in _csv(value):
        if not item.startswith("/"):
            raise ConfigError(f"{name} entry {item!r} must start with '/'")
        normal = normalise_path(item)
        if normal == "/":
            raise ConfigError(f"{name} entry {item!r} would turn authentication off for every path")
        if normal is None or normal != item.rstrip("/"):
            raise ConfigError(f"{name} entry {item!r} must be a plain path (no '..', '//', '%', ';', '?', '#')")
        paths.append(normal)
    return tuple(paths)


def _absolute_path(name: str, value: str) -> str:
    value = value.strip()
    if value and (not value.startswith("/") or "\0" in value):
        raise ConfigError(f"{name} must be an absolute file path, got {value!r}")
    return value


def _after_logout(name: str, value: str, public_url: str) -> str:
    path = safe_return_path(value, public_url)
    if path is None:
        raise ConfigError(f"{name} must be a path on {public_url} (e.g. / or /welcome), got {value!r}")
    return path


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and check every GATEKEEPER_* variable; raise ConfigError naming the first bad one."""
    public_url = _http_url("GATEKEEPER_PUBLIC_URL", _get(env, "GATEKEEPER_PUBLIC_URL"), origin_only=True)
    issuer_url = _http_url("GATEKEEPER_ISSUER_URL", _get(env, "GATEKEEPER_ISSUER_URL"), origin_only=False)
    provider_url = _http_url(
        "GATEKEEPER_PROVIDER_URL", _get(env, "GATEKEEPER_PROVIDER_URL", issuer_url), origin_only=False
    )
    client_id = _get(env, "GATEKEEPER_CLIENT_ID")
    client_secret = _get(env, "GATEKEEPER_CLIENT_SECRET")
    session_keys = parse_session_keys("GATEKEEPER_SESSION_KEYS", _get(env, "GATEKEEPER_SESSION_KEYS"))
    lifetime = parse_lifetime("GATEKEEPER_SESSION_LIFETIME", _get(env, "GATEKEEPER_SESSION_LIFETIME", "86400"))
    prefix = _get(env, "GATEKEEPER_PREFIX", "/authservice").rstrip("/")
    if not _PREFIX_RE.match(prefix) or any(seg in (".", "..") for seg in prefix.split("/")):
        raise ConfigError(f"GATEKEEPER_PREFIX must be a path like /authservice, got {prefix!r}")
    userid_header = _header_name("GATEKEEPER_USERID_HEADER", _get(env, "GATEKEEPER_USERID_HEADER", "kubeflow-userid"))
    groups_header = _header_name("GATEKEEPER_GROUPS_HEADER", _get(env, "GATEKEEPER_GROUPS_HEADER", "kubeflow-groups"))
    if userid_header.replace("_", "-") == groups_header.replace("_", "-"):
        raise ConfigError("GATEKEEPER_USERID_HEADER and GATEKEEPER_GROUPS_HEADER must differ")
    userid_prefix = env.get("GATEKEEPER_USERID_PREFIX", "")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in userid_prefix):
        raise ConfigError("GATEKEEPER_USERID_PREFIX must not contain control characters")
    scopes = " ".join(_get(env, "GATEKEEPER_SCOPES", "openid email profile groups").split())
    if "openid" not in scopes.split():
        raise ConfigError(f"GATEKEEPER_SCOPES must include 'openid', got {scopes!r}")
    log_level = _get(env, "GATEKEEPER_LOG_LEVEL", "info").lower()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"GATEKEEPER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    return Settings(
        public_url=public_url,
        issuer_url=issuer_url,
        provider_url=provider_url,
        client_id=client_id,
        client_secret=client_secret,
        session_keys=session_keys,
        session_lifetime=lifetime,
        prefix=prefix,
        userid_header=userid_header,
        userid_prefix=userid_prefix,
        userid_claim=_get(env, "GATEKEEPER_USERID_CLAIM", "email"),
        groups_header=groups_header,
        groups_claim=_get(env, "GATEKEEPER_GROUPS_CLAIM", "groups"),
        skip_auth_paths=_skip_paths("GATEKEEPER_SKIP_AUTH_PATHS", env.get("GATEKEEPER_SKIP_AUTH_PATHS", "")),
        extra_audiences=_csv(env.get("GATEKEEPER_EXTRA_AUDIENCES", "")),
        scopes=scopes,
        secure_cookies=_bool("GATEKEEPER_SECURE_COOKIES", _get(env, "GATEKEEPER_SECURE_COOKIES", "true")),
        after_logout_url=_after_logout(
            "GATEKEEPER_AFTER_LOGOUT_URL", _get(env, "GATEKEEPER_AFTER_LOGOUT_URL", "/"), public_url
        ),
        host=_get(env, "GATEKEEPER_HOST", "0.0.0.0"),  # noqa: S104 - a pod's port, reached through the gateway
        port=_int("GATEKEEPER_PORT", _get(env, "GATEKEEPER_PORT", "8080"), 1, 65535),
        workers=_int("GATEKEEPER_WORKERS", _get(env, "GATEKEEPER_WORKERS", "1"), 1, 64),
        log_level=log_level,
        revocations_file=_absolute_path("GATEKEEPER_REVOCATIONS_FILE", env.get("GATEKEEPER_REVOCATIONS_FILE", "")),
    )
