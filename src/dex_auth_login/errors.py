"""Failures of a login, each with its own exit code so scripts can tell them apart."""

from __future__ import annotations


class LoginError(Exception):
    """Base of every failure the login tool reports; the message is one line, with no secret."""

    exit_code = 1


class UsageError(LoginError):
    """Something the caller must supply is missing or malformed."""

    exit_code = 2


class UnreachableError(LoginError):
    """The deployment's URL did not answer (DNS, refused connection, TLS, timeout)."""

    exit_code = 3


class NotAnIssuerError(LoginError):
    """The URL answered, but not with Dex's OpenID discovery document."""

    exit_code = 4


class InvalidCredentialsError(LoginError):
    """Dex refused the username or password."""

    exit_code = 5


class GrantDisabledError(LoginError):
    """The deployment does not allow this way of logging in (grant or flow turned off)."""

    exit_code = 6


class ClientRejectedError(LoginError):
    """Dex does not know the login tool's client, or refused it."""

    exit_code = 7


class DeviceLoginError(LoginError):
    """The device login was denied in the browser or was not approved in time."""

    exit_code = 8


class CacheError(LoginError):
    """The token cache file could not be read or written safely."""

    exit_code = 9


class ProviderError(LoginError):
    """Dex answered with an error this tool has no specific advice for."""

    exit_code = 10
