"""Generate and rotate the credentials the charm keeps in Juju secrets.

Session keys travel to the gatekeeper as `kid=secret[,kid=secret]`: the first signs, all verify.
A rotated-out key keeps verifying for as long as anything it signed can still be valid (the longer
of the session lifetime and the login timeout, counted from when it stopped signing), so a rotation
logs nobody out; only more than MAX_SESSION_KEYS - 1 rotations within that time drop a key early.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from gatekeeper import config as gatekeeper_config

MAX_SESSION_KEYS = 16  # the signing key and up to 15 that still verify


class SessionKeysError(ValueError):
    """The stored session keys are not in `kid=secret[,kid=secret]` form."""


@dataclass(frozen=True)
class SessionKey:
    kid: str
    secret: str

    def __str__(self) -> str:
        return f"{self.kid}={self.secret}"


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def new_operations_token() -> str:
    """What the revoke-user action shows the gatekeeper's operations endpoint (43 characters)."""
    return secrets.token_urlsafe(32)


def new_password() -> str:
    return secrets.token_urlsafe(18)


def new_session_key() -> SessionKey:
    return SessionKey(kid=f"k{secrets.token_hex(4)}", secret=secrets.token_urlsafe(48))


def parse_session_keys(value: str) -> list[SessionKey]:
    """Read stored keys by the gatekeeper's own rules, so the charm never hands it keys it refuses."""
    try:
        parsed = gatekeeper_config.parse_session_keys("session keys", value)
    except gatekeeper_config.ConfigError as err:
        raise SessionKeysError(str(err)) from None
    return [SessionKey(key.kid, key.secret.decode()) for key in parsed]


def format_session_keys(keys: list[SessionKey]) -> str:
    return ",".join(str(key) for key in keys)


@dataclass(frozen=True)
class Rotation:
    keys: str  # the new `kid=secret,...` value, signing key first
    retired: dict[str, float]  # kid -> when it stopped signing, for every key kept but the first
    fresh: SessionKey
    previous: SessionKey


def rotate_session_keys(value: str, retired: Mapping[str, float], now: float, keep_for: float) -> Rotation:
    """New key first; the keys before it kept while what they signed may still be valid.

    `retired` says when each key stopped signing; a key it does not know (kept by an older charm)
    is taken as retired now, so it is kept a whole `keep_for` longer rather than dropped too soon.
    """
    current = parse_session_keys(value)
    fresh = new_session_key()
    while fresh.kid in {key.kid for key in current}:
        fresh = new_session_key()
    since = {key.kid: float(retired.get(key.kid, now)) for key in current[1:]}
    since[current[0].kid] = now
    still_verifying = [key for key in current if now - since[key.kid] < keep_for]
    kept = [fresh, *still_verifying][:MAX_SESSION_KEYS]
    return Rotation(format_session_keys(kept), {key.kid: since[key.kid] for key in kept[1:]}, fresh, current[0])
