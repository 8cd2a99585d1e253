"""Each OAuth error answer maps to its own exception, exit code and actionable one-line message."""

from __future__ import annotations

import pytest

from dex_auth_login import errors
from dex_auth_login.provider import RefreshRejectedError, one_line, token_error

KW = {"client_id": "dex-auth-cli", "token_endpoint": "https://k.example.com/dex/token"}


@pytest.mark.parametrize(
    "grant, code, expected, words",
    [
        ("password", "invalid_grant", errors.InvalidCredentialsError, "username or password for user 'ann'"),
        ("password", "access_denied", errors.InvalidCredentialsError, "username or password"),
        ("password", "unsupported_grant_type", errors.GrantDisabledError, "passwordConnector"),
        ("device_code", "unsupported_grant_type", errors.GrantDisabledError, "device flow"),
        ("password", "unauthorized_client", errors.GrantDisabledError, "'dex-auth-cli' may not use the password grant"),
        ("password", "invalid_client", errors.ClientRejectedError, "public client"),
        ("refresh_token", "invalid_grant", RefreshRejectedError, "refresh token"),
        ("device_code", "access_denied", errors.DeviceLoginError, "denied"),
        ("device_code", "expired_token", errors.DeviceLoginError, "expired"),
        ("password", "invalid_scope", errors.ProviderError, "--scopes"),
        ("password", "server_error", errors.ProviderError, "HTTP 400, server_error"),
    ],
)
def test_token_errors_map_to_specific_exceptions(grant, code, expected, words) -> None:
    error = token_error(grant, 400, {"error": code}, username="ann", **KW)
    assert type(error) is expected
    assert words in str(error)
    assert "\n" not in str(error)


def test_a_non_oauth_answer_names_the_endpoint() -> None:
    error = token_error("password", 502, None, **KW)
    assert isinstance(error, errors.ProviderError)
    assert "https://k.example.com/dex/token answered HTTP 502" in str(error)


def test_server_descriptions_are_flattened_and_bounded() -> None:
    error = token_error(
        "password", 400, {"error": "weird", "error_description": "line1\nline2\x1b[31m" + "x" * 500}, **KW
    )
    assert "\n" not in str(error) and "\x1b" not in str(error)
    assert len(str(error)) < 300
    assert one_line("a\r\nb") == "a b"


def test_exit_codes_are_distinct_per_failure() -> None:
    classes = [
        errors.UsageError,
        errors.UnreachableError,
        errors.NotAnIssuerError,
        errors.InvalidCredentialsError,
        errors.GrantDisabledError,
        errors.ClientRejectedError,
        errors.DeviceLoginError,
        errors.CacheError,
        errors.ProviderError,
    ]
    codes = [cls.exit_code for cls in classes]
    assert len(set(codes)) == len(codes)
    assert all(
        issubclass(cls, errors.LoginError) and code not in (0, 1) for cls, code in zip(classes, codes, strict=True)
    )
