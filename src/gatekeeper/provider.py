"""The OpenID Provider (Dex) as the gatekeeper sees it: discovery, signing keys, code exchange.

Nothing here is on the hot path: sessions verify with no network. Discovery and keys are fetched
in the background with backoff, so the gatekeeper starts (and serves existing sessions) while
Dex is still down; logins wait until `ready`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt

from gatekeeper import errors
from gatekeeper.config import Settings

log = logging.getLogger("gatekeeper.provider")

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
# How often discovery is tried while the provider is away. Short, so that a sign-in works within
# seconds of Dex answering again (pages.provider_unavailable promises 5 s); one GET a second
# against a Dex that is down costs nothing.
DISCOVERY_RETRY = 1.0
MAX_DOCUMENT = 1024 * 1024  # a discovery document or a JWKS is a few KB
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}


@dataclass(frozen=True)
class ProviderMetadata:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    client_secret_basic: bool


@dataclass(frozen=True)
class SigningKey:
    key: Any
    algorithms: frozenset[str]


def parse_jwks(document: Any) -> dict[str, SigningKey]:
    """Asymmetric signing keys by kid; symmetric, encryption and unusable keys are left out."""
    keys: dict[str, SigningKey] = {}
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise errors.ProviderUnavailableError("JWKS document has no 'keys' list")
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kty, alg = entry.get("kty"), entry.get("alg")
        if kty == "RSA":
            family = RSA_ALGORITHMS
        elif kty == "EC" and entry.get("crv") in EC_ALGORITHMS:
            family = frozenset({EC_ALGORITHMS[entry["crv"]]})
        elif kty == "OKP":
            family = frozenset({"EdDSA"})
        else:
            continue
        if alg is not None:
            if alg not in family:
                continue
            family = frozenset({alg})
        try:
            key = jwt.PyJWK(entry, algorithm=alg or ("RS256" if kty == "RSA" else next(iter(family)))).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
        keys[str(entry.get("kid", ""))] = SigningKey(key=key, algorithms=family)
    return keys


def key_named(keys: dict[str, SigningKey], kid: str) -> SigningKey | None:
    """The key a token's `kid` names; a token without one may use the only key published."""
    key = keys.get(kid)
    if key is None and kid == "" and len(keys) == 1:
        key = next(iter(keys.values()))
    return key


def _why(exc: httpx.HTTPError) -> str:
    """The error's kind, and the one cause an admin can act on: a certificate not trusted."""
    cause = exc.__context__
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__context__
    if cause is not None:
        return f"{type(exc).__name__}: TLS certificate not trusted ({cause.verify_message}); set the CA bundle"
    return type(exc).__name__


async def get_json(client: httpx.AsyncClient, url: str, what: str, headers: dict[str, str] | None = None) -> Any:
    """A JSON document an issuer publishes, read up to MAX_DOCUMENT bytes; ProviderUnavailableError
    says why not, never with a header's value."""
    body = bytearray()
    try:
        async with client.stream("GET", url, headers={"Accept": "application/json", **(headers or {})}) as response:
            if response.status_code != 200:
                raise errors.ProviderUnavailableError(f"{what} at {url} answered HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT:
                    raise errors.ProviderUnavailableError(f"{what} at {url} is larger than {MAX_DOCUMENT} bytes")
    except httpx.HTTPError as exc:
        raise errors.ProviderUnavailableError(f"{what} at {url} unreachable: {_why(exc)}") from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise errors.ProviderUnavailableError(f"{what} at {url} is not JSON") from None


def tls_verification(ca_bundle: str) -> ssl.SSLContext | bool:
    """httpx's usual trust, plus the configured CA certificates when there are any."""
    if not ca_bundle:
        return True
    context = httpx.create_ssl_context()
    context.load_verify_locations(cadata=ca_bundle)
    return context


class Provider:
    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        *,
        max_backoff: float = DISCOVERY_RETRY,
        keys_interval: float = 600.0,
        unknown_kid_interval: float = 10.0,
    ) -> None:
        self.settings = settings
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(5.0), follow_redirects=False, verify=tls_verification(settings.ca_bundle)
        )
        self.metadata: ProviderMetadata | None = None
        self.keys: dict[str, SigningKey] = {}
        self.last_error = "not contacted yet"
        self.max_backoff = max_backoff
        self.keys_interval = keys_interval
        self.unknown_kid_interval = unknown_kid_interval
        self._last_key_fetch = 0.0
        self._key_lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self.metadata is not None and bool(self.keys)

    def _internal(self, url: str) -> str:
        """Where the gatekeeper itself reaches an endpoint the issuer advertises publicly."""
        issuer, provider = self.settings.issuer_url, self.settings.provider_url
        if issuer != provider and url.startswith(issuer + "/"):
            return provider + url[len(issuer) :]
        return url

    async def _get_json(self, url: str, what: str) -> Any:
        return await get_json(self.client, url, what)

    async def discover(self) -> ProviderMetadata:
        url = self.settings.provider_url + "/.well-known/openid-configuration"
        doc = await self._get_json(url, "discovery")
        if not isinstance(doc, dict):
            raise errors.ProviderUnavailableError(f"discovery at {url} is not a JSON object")
        issuer = doc.get("issuer")
        if not isinstance(issuer, str) or issuer.rstrip("/") != self.settings.issuer_url:
            raise errors.ProviderUnavailableError(
                f"discovery at {url} names issuer {str(issuer)[:200]!r}, but GATEKEEPER_ISSUER_URL is "
                f"{self.settings.issuer_url!r}: they must be identical"
            )
        fields = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(name)
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise errors.ProviderUnavailableError(f"discovery at {url} lacks a valid {name}")
            fields[name] = value
        methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        basic = "client_secret_basic" in methods or "client_secret_post" not in methods
        self.metadata = ProviderMetadata(
            authorization_endpoint=fields["authorization_endpoint"],
            token_endpoint=self._internal(fields["token_endpoint"]),
            jwks_uri=self._internal(fields["jwks_uri"]),
            client_secret_basic=basic,
        )
        return self.metadata

    async def refresh_keys(self) -> None:
        if self.metadata is None:
            raise errors.ProviderUnavailableError("discovery has not succeeded yet")
        self._last_key_fetch = time.monotonic()
        keys = parse_jwks(await self._get_json(self.metadata.jwks_uri, "JWKS"))
        if not keys:
            raise errors.ProviderUnavailableError(f"JWKS at {self.metadata.jwks_uri} holds no usable signing key")
        self.keys = keys

    async def key_for(self, kid: str) -> SigningKey | None:
        """The key for `kid`, refetching the JWKS (at most every few seconds) when it is unknown."""
        key = self.keys.get(kid)
        if key is not None or self.metadata is None:
            return key
        async with self._key_lock:
            if kid not in self.keys and time.monotonic() - self._last_key_fetch >= self.unknown_kid_interval:
                try:
                    await self.refresh_keys()
                except errors.ProviderUnavailableError as exc:
                    log.warning("key refresh failed", extra={"event": "jwks_error", "reason": str(exc)})
        return key_named(self.keys, kid)

    async def run(self) -> None:
        """Background task: discover with backoff, then refresh the keys periodically."""
        delay = min(1.0, self.max_backoff)
        while True:
            try:
                if self.metadata is None:
                    await self.discover()
                await self.refresh_keys()
            except errors.ProviderUnavailableError as exc:
                if str(exc) != self.last_error:
                    log.warning(
                        "identity provider not usable yet", extra={"event": "provider_error", "reason": str(exc)}
                    )
                self.last_error = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            if self.last_error:
                log.info("identity provider ready", extra={"event": "provider_ready", "keys": len(self.keys)})
            self.last_error = ""
            delay = min(1.0, self.max_backoff)
            await asyncio.sleep(self.keys_interval)

    async def exchange_code(self, code: str, verifier: str) -> str:
        """The ID token for an authorization code (PKCE verifier and client secret attached)."""
        if self.metadata is None:
            raise errors.ProviderUnavailableError("identity provider not discovered yet")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.callback_url,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json"}
        if self.metadata.client_secret_basic:
            pair = f"{quote(self.settings.client_id, safe='')}:{quote(self.settings.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.settings.client_id
            form["client_secret"] = self.settings.client_secret
        try:
            response = await self.client.post(self.metadata.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise errors.ProviderUnavailableError(f"token endpoint unreachable: {_why(exc)}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            reason = error if isinstance(error, str) and error.isascii() else f"http_{response.status_code}"
            raise errors.CodeExchangeError(reason[:64])
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise errors.CodeExchangeError("no_id_token")
        return id_token

    async def aclose(self) -> None:
        await self.client.aclose()
