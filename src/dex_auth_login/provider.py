"""Dex's OAuth endpoints as the login tool uses them: discovery, token grants, device codes.

Every transport failure and every OAuth error answer becomes one of the exceptions in `errors`,
with a message that names the URL or the grant and never a credential or token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import requests

from . import errors
from .tokens import TokenSet, token_set_from_response
from .transport import new_session, send

DEFAULT_CLIENT_ID = "dex-auth-cli"
DEFAULT_SCOPES = ("openid", "email", "profile", "groups", "offline_access")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

Grant = Literal["password", "refresh_token", "device_code"]
GRANT_NAMES: dict[str, str] = {
    "password": "the password grant",
    "refresh_token": "refresh tokens",
    "device_code": "the device flow",
}


class RefreshRejectedError(errors.LoginError):
    """Dex no longer accepts a cached refresh token; the caller logs in again instead."""


@dataclass(frozen=True)
class Discovery:
    """The parts of Dex's discovery document the login tool uses."""

    issuer: str
    token_endpoint: str
    device_authorization_endpoint: str | None


@dataclass(frozen=True)
class DeviceAuthorization:
    """Dex's answer to a device code request (RFC 8628 section 3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float


def one_line(text: object, limit: int = 200) -> str:
    """Squeeze a server-supplied text into a short single line fit for an error message."""
    flat = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def token_error(
    grant: Grant, status: int, body: Any, *, client_id: str, token_endpoint: str, username: str | None = None
) -> errors.LoginError:
    """Map a token endpoint's error answer to the exception that tells the user what to do."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return errors.ProviderError(
            f"{token_endpoint} answered HTTP {status} without an OAuth error: is this Dex's token endpoint?"
        )
    code = body["error"]
    described = f"{code}: {one_line(body['error_description'])}" if body.get("error_description") else code
    name = GRANT_NAMES[grant]
    return (
        _client_refused(grant, code, described, client_id)
        or _grant_refused(grant, code, described, username)
        or errors.ProviderError(f"Dex's token endpoint refused {name} (HTTP {status}, {described})")
    )


def _client_refused(grant: Grant, code: str, described: str, client_id: str) -> errors.LoginError | None:
    """Refusals of the grant type or of the client itself, whatever was sent."""
    name = GRANT_NAMES[grant]
    if code == "unsupported_grant_type":
        if grant == "password":
            return errors.GrantDisabledError(
                "this deployment does not allow the password grant (Dex has no oauth2.passwordConnector: "
                "turn on the static password DB or use an LDAP connector), or use --device"
            )
        return errors.GrantDisabledError(f"this deployment does not allow {name} ({described})")
    if code == "unauthorized_client":
        return errors.GrantDisabledError(f"client '{client_id}' may not use {name} at this deployment ({described})")
    if code == "invalid_client":
        return errors.ClientRejectedError(
            f"Dex does not accept client '{client_id}' ({described}): the deployment must register it "
            "as a public client (dex-auth renders it), or pass the right --client-id"
        )
    return None


def _grant_refused(grant: Grant, code: str, described: str, username: str | None) -> errors.LoginError | None:
    """Refusals of what this grant carried: a password, a refresh token, a device code, scopes."""
    if grant == "password" and code in ("invalid_grant", "access_denied", "invalid_user_password"):
        who = f" for user '{username}'" if username else ""
        return errors.InvalidCredentialsError(f"Dex refused the username or password{who}")
    if grant == "refresh_token" and code in ("invalid_grant", "invalid_request"):
        return RefreshRejectedError(f"Dex refused the cached refresh token ({described})")
    if grant == "device_code" and code == "access_denied":
        return errors.DeviceLoginError("the device login was denied in the browser")
    if grant == "device_code" and code == "expired_token":
        return errors.DeviceLoginError("the device code expired before the login was approved; run the command again")
    if code == "invalid_scope":
        return errors.ProviderError(f"Dex refused the requested scopes ({described}); try --scopes openid email groups")
    return None


class Provider:
    """One Dex issuer, reached with a requests session and a public client."""

    def __init__(
        self,
        issuer: str,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str | None = None,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        session: requests.Session | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.session = session if session is not None else new_session()
        self.timeout = timeout
        self._discovery: Discovery | None = None

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return send(self.session, method, url, timeout=self.timeout, **kwargs)

    def discovery(self) -> Discovery:
        """Fetch (once) and check the issuer's OpenID discovery document."""
        if self._discovery is None:
            self._discovery = self._fetch_discovery()
        return self._discovery

    def _fetch_discovery(self) -> Discovery:
        url = f"{self.issuer}/.well-known/openid-configuration"
        response = self._send("GET", url, headers={"Accept": "application/json"})
        if response.is_redirect:
            raise errors.NotAnIssuerError(
                f"{url} redirected to {one_line(response.headers.get('Location', '?'), 120)} instead of "
                "answering: the gateway must route /dex to Dex without authentication, "
                "and the URL must be the deployment's public URL"
            )
        if response.status_code != 200:
            raise errors.NotAnIssuerError(
                f"no OpenID discovery at {url} (HTTP {response.status_code}): give the deployment's "
                "public URL (Dex is expected under /dex) or --issuer"
            )
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise errors.NotAnIssuerError(f"{url} did not answer with an OpenID discovery document (JSON)")
        issuer, token_endpoint = document.get("issuer"), document.get("token_endpoint")
        if not isinstance(issuer, str) or not isinstance(token_endpoint, str):
            raise errors.NotAnIssuerError(f"{url} answered JSON without 'issuer' and 'token_endpoint': not Dex")
        if issuer.rstrip("/") != self.issuer:
            raise errors.NotAnIssuerError(
                f"Dex at {self.issuer} calls itself '{one_line(issuer, 120)}': use that URL, "
                "tokens would not be accepted otherwise"
            )
        device = document.get("device_authorization_endpoint")
        return Discovery(
            issuer=issuer,
            token_endpoint=token_endpoint,
            device_authorization_endpoint=device if isinstance(device, str) and device else None,
        )

    def _client_fields(self) -> dict[str, str]:
        fields = {"client_id": self.client_id}
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        return fields

    def _post_form(
        self, grant: Grant, endpoint: str, form: dict[str, str], username: str | None = None
    ) -> dict[str, Any]:
        """POST a form with the client's fields; Dex's JSON answer, or its error as a LoginError."""
        response = self._send(
            "POST", endpoint, data={**form, **self._client_fields()}, headers={"Accept": "application/json"}
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            raise token_error(
                grant, response.status_code, body, client_id=self.client_id, token_endpoint=endpoint, username=username
            )
        return body

    def _token_request(self, grant: Grant, form: dict[str, str], username: str | None = None) -> dict[str, Any]:
        return self._post_form(grant, self.discovery().token_endpoint, form, username)

    def _tokens(self, body: dict[str, Any], **kwargs: Any) -> TokenSet:
        try:
            return token_set_from_response(body, **kwargs)
        except ValueError as exc:
            raise errors.ProviderError(f"Dex's token answer is unusable: {exc}") from None

    def password_grant(self, username: str, password: str) -> TokenSet:
        """Exchange a username and password for tokens (Dex's oauth2.passwordConnector)."""
        body = self._token_request(
            "password",
            {"grant_type": "password", "username": username, "password": password, "scope": " ".join(self.scopes)},
            username=username,
        )
        return self._tokens(body, username=username)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """Renew an expired ID token; raises RefreshRejectedError when a new login is needed."""
        if not tokens.refresh_token:
            raise RefreshRejectedError("no refresh token cached")
        body = self._token_request(
            "refresh_token", {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        return self._tokens(body, username=tokens.username, previous_refresh_token=tokens.refresh_token)

    def start_device_authorization(self) -> DeviceAuthorization:
        """Ask Dex for a device code and the code the user types in the browser."""
        endpoint = self.discovery().device_authorization_endpoint
        if endpoint is None:
            raise errors.GrantDisabledError(f"Dex at {self.issuer} offers no device flow (needs Dex 2.25 or later)")
        body = self._post_form("device_code", endpoint, {"scope": " ".join(self.scopes)})
        try:
            return DeviceAuthorization(
                device_code=str(body["device_code"]),
                user_code=str(body["user_code"]),
                verification_uri=str(body["verification_uri"]),
                verification_uri_complete=str(body["verification_uri_complete"])
                if body.get("verification_uri_complete")
                else None,
                expires_in=float(body.get("expires_in") or 300),
                interval=float(body.get("interval") or 5),
            )
        except (KeyError, TypeError, ValueError):
            raise errors.ProviderError(
                f"{endpoint} answered without device_code, user_code and verification_uri"
            ) from None

    def poll_device_token(self, device_code: str) -> TokenSet | Literal["authorization_pending", "slow_down"]:
        """One poll of the token endpoint for a device code (RFC 8628 section 3.4)."""
        endpoint = self.discovery().token_endpoint
        response = self._send(
            "POST",
            endpoint,
            data={"grant_type": DEVICE_CODE_GRANT, "device_code": device_code, **self._client_fields()},
            headers={"Accept": "application/json"},
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return self._tokens(body)
        if isinstance(body, dict) and body.get("error") in ("authorization_pending", "slow_down"):
            return body["error"]
        raise token_error("device_code", response.status_code, body, client_id=self.client_id, token_endpoint=endpoint)
