"""Generate and rotate the credentials the charm keeps in Juju secrets.

Session keys travel to the gatekeeper as `kid=secret[,kid=secret]`: the first signs, all verify,
so rotating keeps the old key as the second entry and nobody is logged out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from gatekeeper import config as gatekeeper_config

MAX_SESSION_KEYS = 2


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


def rotate_session_keys(value: str) -> tuple[str, SessionKey, SessionKey]:
    """New key first, the current one kept to verify sessions it signed; older ones dropped."""
    current = parse_session_keys(value)
    fresh = new_session_key()
    while fresh.kid in {key.kid for key in current}:
        fresh = new_session_key()
    kept = [fresh, *current][:MAX_SESSION_KEYS]
    return format_session_keys(kept), fresh, current[0]
