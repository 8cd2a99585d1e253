"""The login tool as Python functions: a token (or session cookie) for a deployment, cached."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import requests.cookies

from . import password_check
from .browser_flow import DEFAULT_PREFIX, SESSION_COOKIE, browser_login
from .cache import TokenCache, cache_key
from .device import DevicePrompt, print_prompt, run_device_flow
from .errors import UsageError
from .provider import DEFAULT_CLIENT_ID, DEFAULT_SCOPES, Provider, RefreshRejectedError
from .tokens import TokenSet, jwt_expiry
from .transport import new_session

Secret = str | Callable[[], str]


def check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{what} '{url}' is not an http(s) URL such as https://kubeflow.example.com")
    if parts.query or parts.fragment:
        raise UsageError(f"{what} '{url}' must not carry a query or fragment")
    return url.rstrip("/")


def issuer_for(url: str) -> str:
    """Dex's issuer for a deployment URL: `<public-url>/dex` (a URL already ending in /dex is kept)."""
    base = check_url(url, "the deployment URL")
    return base if urlsplit(base).path.endswith("/dex") else f"{base}/dex"


def _credentials(
    wanted_user: str | None, username: Secret | None, password: Secret | None, alternative: str = ""
) -> tuple[str, str]:
    """The username and password, asking (through the callables) only now that a login is needed."""
    user = wanted_user or _resolve(username)
    if not user:
        raise UsageError(f"no username: pass --username (or set DEX_AUTH_USERNAME){alternative}")
    secret = _resolve(password)
    if not secret:
        raise UsageError("no password: use --password-stdin or set DEX_AUTH_PASSWORD")
    return user, secret


def _resolve(value: Secret | None) -> str | None:
    return value() if callable(value) else value


def obtain_tokens(
    url: str | None = None,
    *,
    issuer: str | None = None,
    username: Secret | None = None,
    password: Secret | None = None,
    device: bool = False,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str | None = None,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    cache: TokenCache | None = None,
    refresh: bool = True,
    force: bool = False,
    min_validity: float = 60.0,
    on_device_prompt: Callable[[DevicePrompt], None] = print_prompt,
    timeout: float = 10.0,
    verify: bool | str = True,
) -> TokenSet:
    """Return valid tokens: from the cache, by refreshing them, or by a new login.

    `username` and `password` may be callables so that a prompt appears only when a new password
    login is really needed. With `device=True` the device flow replaces the password grant.
    """
    issuer = _issuer(url, issuer)
    provider = _provider(issuer, client_id, client_secret, scopes, verify, timeout)
    key = cache_key(issuer, client_id)
    wanted = Wanted.of(username, password, device)
    if cache is not None and not force:
        cached = _cached_tokens(cache, key, provider, wanted, refresh=refresh, min_validity=min_validity)
        if cached is not None:
            return cached
    provider.discovery()  # an unreachable or wrong URL is reported before any prompt
    if device:
        tokens = run_device_flow(provider, on_device_prompt)
    else:
        tokens = _password_login(provider, wanted, username, password)
    if cache is not None:
        with cache.locked():
            cache.put(key, tokens.to_json())
    return tokens


def _password_login(provider: Provider, wanted: Wanted, username: Secret | None, password: Secret | None) -> TokenSet:
    user, secret = _credentials(wanted.user, username, password, ", or use --device")
    return replace(provider.password_grant(user, secret), password_verifier=password_check.make_verifier(secret))


def _provider(
    issuer: str, client_id: str, client_secret: str | None, scopes: tuple[str, ...], verify: bool | str, timeout: float
) -> Provider:
    session = new_session(verify)
    return Provider(
        issuer, client_id=client_id, client_secret=client_secret, scopes=scopes, session=session, timeout=timeout
    )


def _issuer(url: str | None, issuer: str | None) -> str:
    if issuer:
        return check_url(issuer, "the issuer")
    if url is None:
        raise UsageError("no deployment URL: pass it (e.g. https://kubeflow.example.com) or set DEX_AUTH_URL")
    return issuer_for(url)


@dataclass(frozen=True)
class Wanted:
    """What the caller insisted on: a cached login serves only that user, made with that password."""

    user: str | None = None
    password: str | None = None

    @classmethod
    def of(cls, username: Secret | None, password: Secret | None, device: bool = False) -> Wanted:
        """Only values given outright count; a callable (a prompt) is asked only when a login is needed."""
        if device:
            return cls()
        return cls(username if isinstance(username, str) else None, password if isinstance(password, str) else None)

    def served_by(self, username: str | None, verifier: str | None) -> bool:
        if self.user not in (None, username):
            return False
        return self.password is None or password_check.matches(self.password, verifier)


def _cached_tokens(
    cache: TokenCache, key: str, provider: Provider, wanted: Wanted, *, refresh: bool, min_validity: float
) -> TokenSet | None:
    """The cached tokens while fresh, else renewed with their refresh token; None means log in."""
    with cache.locked():
        cached = TokenSet.from_json(cache.get(key))
        if cached is None or not wanted.served_by(cached.username, cached.password_verifier):
            return None
        if cached.is_fresh(min_validity):
            return cached
        if not (cached.refresh_token and refresh):
            return None
        try:
            renewed = provider.refresh(cached)
        except RefreshRejectedError:
            cache.remove(key)
            return None
        renewed = replace(renewed, password_verifier=cached.password_verifier)
        cache.put(key, renewed.to_json())
        return renewed


def login(
    url: str | None = None,
    *,
    username: Secret | None = None,
    password: Secret | None = None,
    device: bool = False,
    cache_path: Path | str | None = None,
    use_cache: bool = True,
    **options: object,
) -> str:
    """An ID token for the deployment at `url`, to send as `Authorization: Bearer <token>`.

    Tokens are cached (`~/.cache/dex-auth/tokens.json` unless `cache_path` says otherwise) and
    renewed with their refresh token, so calling this before every request is cheap.
    """
    cache = TokenCache(cache_path) if use_cache else None
    return obtain_tokens(url, username=username, password=password, device=device, cache=cache, **options).id_token  # type: ignore[arg-type]


def session_cookie(
    url: str,
    *,
    username: Secret,
    password: Secret,
    cache_path: Path | str | None = None,
    use_cache: bool = True,
    force: bool = False,
    min_validity: float = 60.0,
    prefix: str = DEFAULT_PREFIX,
    connector_id: str = "local",
    timeout: float = 10.0,
    verify: bool | str = True,
) -> str:
    """`authservice_session=<value>`: the gatekeeper's session cookie, obtained with the browser flow.

    The fallback for clients that need a cookie (e.g. `kfp.Client(cookies=...)`); it depends on
    Dex's login form, the token modes do not.
    """
    base = check_url(url, "the deployment URL")
    wanted = Wanted.of(username, password)
    cache = TokenCache(cache_path) if use_cache else None
    key = f"{base} {SESSION_COOKIE}"
    if cache is not None and not force:
        cached = _cached_cookie(cache.get(key), wanted, min_validity)
        if cached is not None:
            return f"{SESSION_COOKIE}={cached}"
    user, secret = _credentials(wanted.user, username, password)
    jar = browser_login(
        base, user, secret, session=new_session(verify), prefix=prefix, connector_id=connector_id, timeout=timeout
    )
    value = jar[SESSION_COOKIE]  # browser_login returns only once it is set
    expires_at = _cookie_expiry(jar, value)
    if cache is not None and expires_at is not None:
        entry = {"cookie": value, "expires_at": expires_at, "username": user}
        with cache.locked():
            cache.put(key, {**entry, "password_verifier": password_check.make_verifier(secret)})
    return f"{SESSION_COOKIE}={value}"


def _cached_cookie(entry: object, wanted: Wanted, min_validity: float) -> str | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("cookie"), str):
        return None
    expires_at, verifier = entry.get("expires_at"), entry.get("password_verifier")
    if not wanted.served_by(entry.get("username"), verifier if isinstance(verifier, str) else None):
        return None
    if not isinstance(expires_at, (int, float)):
        return None
    return entry["cookie"] if expires_at - time.time() >= min_validity else None


def _cookie_expiry(jar: requests.cookies.RequestsCookieJar, value: str) -> float | None:
    """When the session ends: the cookie's own expiry, or its JWT `exp` (the gatekeeper's session is a JWT)."""
    for cookie in jar:
        if cookie.name == SESSION_COOKIE and cookie.expires:
            return float(cookie.expires)
    try:
        return jwt_expiry(value)
    except ValueError:
        return None
