"""Failures of a login, each with its own exit code so scripts can tell them apart."""

from __future__ import annotations


class LoginError(Exception):
    """Base of every failure the login tool reports; the message is one line, with no secret.

    Each kind declares its exit code where it is defined: `class X(LoginError, exit_code=N)`.
    """

    exit_code = 1

    def __init_subclass__(cls, exit_code: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code


class UsageError(LoginError, exit_code=2):
    """Something the caller must supply is missing or malformed."""


class UnreachableError(LoginError, exit_code=3):
    """The deployment's URL did not answer (DNS, refused connection, TLS, timeout)."""


class NotAnIssuerError(LoginError, exit_code=4):
    """The URL answered, but not with Dex's OpenID discovery document."""


class InvalidCredentialsError(LoginError, exit_code=5):
    """Dex refused the username or password."""


class GrantDisabledError(LoginError, exit_code=6):
    """The deployment does not allow this way of logging in (grant or flow turned off)."""


class ClientRejectedError(LoginError, exit_code=7):
    """Dex does not know the login tool's client, or refused it."""


class DeviceLoginError(LoginError, exit_code=8):
    """The device login was denied in the browser or was not approved in time."""


class CacheError(LoginError, exit_code=9):
    """The token cache file could not be read or written safely."""


class ProviderError(LoginError, exit_code=10):
    """Dex answered with an error this tool has no specific advice for."""
