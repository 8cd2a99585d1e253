"""Machine-to-machine bearer tokens: JWTs of the issuers listed in GATEKEEPER_EXTRA_JWT_ISSUERS.

A pipeline step calls the API with `kubectl create token <sa> --audience=<aud>` as its bearer
token; upstream Kubeflow accepts those through Istio's RequestAuthentication, oauth2-proxy through
`--extra-jwt-issuers`. Here each listed issuer gets its own key set, fetched in the background
like Dex's (provider.py), so a cached key never waits on the issuer, and an unknown `kid` costs
at most one refetch per UNKNOWN_KID_INTERVAL. The issuer is picked by the token's unverified
`iss`, and only among the listed ones: a token naming any other issuer never makes the gatekeeper
contact it.

The identity comes from the issuer's own claims (`sub` by default), the groups from its groups
claim or nowhere: a machine token never carries groups the client chose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from gatekeeper import errors, issuer_list, jwts, rules
from gatekeeper.config import Settings
from gatekeeper.headers import usable_groups
from gatekeeper.issuer_list import ExtraIssuer
from gatekeeper.provider import SigningKey, get_json, key_named, parse_jwks, tls_verification

log = logging.getLogger("gatekeeper.machine_tokens")

CLOCK_LEEWAY = 30
KEYS_INTERVAL = 600.0
UNKNOWN_KID_INTERVAL = 10.0
MAX_BACKOFF = 10.0
FETCH_DEADLINE = 10.0  # discovery and keys together, however slowly the issuer answers
FETCH_WAIT = 2.0  # what a request with an unknown kid waits for a fetch under way
MAX_TOKEN_LENGTH = 16 * 1024  # Kubernetes' projected tokens are about 1 KB


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class IssuerKeys:
    """One extra issuer's signing keys, fetched by discovery or from its configured JWKS URL.

    With credentials=serviceaccount the pod's service-account token goes along, read afresh on
    every fetch (the kubelet rotates it), but only to the issuer's own origin and the configured
    JWKS URL's: a discovery document naming a JWKS elsewhere never receives the pod's credential.
    """

    def __init__(
        self,
        issuer: ExtraIssuer,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        *,
        keys_interval: float = KEYS_INTERVAL,
        unknown_kid_interval: float = UNKNOWN_KID_INTERVAL,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.issuer = issuer
        self.service_account_dir = Path(settings.service_account_dir)
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(5.0), follow_redirects=False, verify=self._trust(settings.ca_bundle)
        )
        self.jwks_url = issuer.jwks_url
        self.keys: dict[str, SigningKey] = {}
        self.last_error = "not contacted yet"
        self.keys_interval, self.unknown_kid_interval, self.max_backoff = (
            keys_interval,
            unknown_kid_interval,
            max_backoff,
        )
        self._credential_origins = {_origin(issuer.issuer), *([_origin(issuer.jwks_url)] if issuer.jwks_url else [])}
        self._last_fetch = 0.0
        self._lock = asyncio.Lock()
        self._idle = asyncio.Event()  # clear while a fetch is under way
        self._idle.set()

    def _trust(self, ca_bundle: str) -> ssl.SSLContext | bool:
        """The usual trust and ca-bundle; with the pod's credentials, the cluster's CA too."""
        verification = tls_verification(ca_bundle)
        ca_file = self.service_account_dir / "ca.crt"
        if self.issuer.credentials != issuer_list.SERVICE_ACCOUNT or not ca_file.is_file():
            return verification
        context = verification if isinstance(verification, ssl.SSLContext) else httpx.create_ssl_context()
        context.load_verify_locations(cafile=str(ca_file))
        return context

    def _headers(self, url: str) -> dict[str, str]:
        if self.issuer.credentials != issuer_list.SERVICE_ACCOUNT or _origin(url) not in self._credential_origins:
            return {}
        path = self.service_account_dir / "token"
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise errors.ProviderUnavailableError(
                f"the pod's service-account token at {path} cannot be read ({type(exc).__name__})"
            ) from None
        return {"Authorization": f"Bearer {token}"}

    async def _get(self, url: str, what: str) -> Any:
        return await get_json(self.client, url, what, self._headers(url))

    async def discover(self) -> str:
        url = self.issuer.issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = await self._get(url, "discovery")
        named = doc.get("issuer") if isinstance(doc, dict) else None
        if not isinstance(named, str) or named != self.issuer.issuer:  # OpenID Discovery 1.0 §4.3: identical
            raise errors.ProviderUnavailableError(f"discovery at {url} names issuer {str(named)[:200]!r}, not ours")
        jwks_uri = doc.get("jwks_uri")
        try:
            found = issuer_list.secure_url(jwks_uri if isinstance(jwks_uri, str) else "")
        except rules.InvalidValue as err:
            raise errors.ProviderUnavailableError(f"discovery at {url}: jwks_uri {err.problem}") from None
        if urlsplit(found).scheme != urlsplit(self.issuer.issuer).scheme:  # no plain http from an https issuer
            raise errors.ProviderUnavailableError(f"discovery at {url}: jwks_uri {found[:200]!r} is not https")
        self.jwks_url = found
        return found

    async def refresh(self) -> None:
        """Discovery when no JWKS URL is known yet, then the keys; ProviderUnavailableError says why not."""
        if not self.jwks_url:
            await self.discover()
        keys = parse_jwks(await self._get(self.jwks_url, "JWKS"))
        if not keys:
            raise errors.ProviderUnavailableError(f"JWKS at {self.jwks_url} holds no usable signing key")
        self.keys = keys

    async def fetch(self, min_interval: float = 0.0) -> bool:
        """One fetch at a time, within FETCH_DEADLINE whatever the issuer does; whether it worked.

        The attempt is timed from its start, so a failing issuer is tried no more often than one
        that answers: every request naming it cannot make it a request storm.
        """
        async with self._lock:
            if min_interval and time.monotonic() - self._last_fetch < min_interval:
                return bool(self.keys)  # another request's fetch went first
            self._idle.clear()
            self._last_fetch = time.monotonic()
            try:
                await asyncio.wait_for(self.refresh(), FETCH_DEADLINE)
            except errors.ProviderUnavailableError as exc:
                self._report(str(exc))
                return False
            except TimeoutError:
                self._report(f"discovery and keys took longer than {FETCH_DEADLINE:.0f} s")
                return False
            finally:
                self._idle.set()
        if self.last_error:
            log.info(
                "extra JWT issuer ready",
                extra={"event": "issuer_ready", "issuer": self.issuer.issuer, "keys": len(self.keys)},
            )
        self.last_error = ""
        return True

    async def key_for(self, kid: str) -> SigningKey | None:
        """A known key at once. An unknown one: the fetch under way, waited for at most
        FETCH_WAIT; else one refetch per interval, once keys are known. Before any are, only the
        background task fetches, so no request waits on an issuer that is away."""
        key = self.keys.get(kid)
        if key is not None:
            return key
        if not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), FETCH_WAIT)
        elif self.keys and time.monotonic() - self._last_fetch >= self.unknown_kid_interval:
            await self.fetch(self.unknown_kid_interval)
        return key_named(self.keys, kid)

    def _report(self, reason: str) -> None:
        if reason != self.last_error:
            log.warning(
                "extra JWT issuer not usable",
                extra={"event": "issuer_error", "issuer": self.issuer.issuer, "reason": reason},
            )
        self.last_error = reason

    async def run(self) -> None:
        """Background task: fetch the keys with backoff while the issuer is away, then refresh them."""
        delay = 1.0
        while True:
            try:
                fetched = await self.fetch()
            except Exception:  # a bug here must not end the refreshes for good
                log.exception("extra JWT issuer refresh failed", extra={"event": "internal_error"})
                fetched = False
            if fetched:
                delay = 1.0
                await asyncio.sleep(self.keys_interval)
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    async def aclose(self) -> None:
        await self.client.aclose()


class MachineTokens:
    """The listed issuers by their `iss`; `issuer_of` is free of I/O, `verify` checks in full."""

    def __init__(self, settings: Settings, **key_options: Any) -> None:
        self.issuers = {
            entry.issuer.rstrip("/"): IssuerKeys(entry, settings, **key_options) for entry in settings.extra_jwt_issuers
        }

    def __bool__(self) -> bool:
        return bool(self.issuers)

    def issuer_of(self, token: str) -> IssuerKeys | None:
        """The listed issuer this token names, or None (then it is Dex's, or nobody's). A trailing
        slash picks the issuer too, so that `verify` can say the `iss` differs from the one listed."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        return self.issuers.get(jwts.unverified_issuer(token).rstrip("/"))

    async def verify(self, token: str, keys: IssuerKeys, header: dict[str, Any]) -> dict[str, Any]:
        """The claims of a token signed by one of the issuer's keys, for one of its audiences, in date."""
        alg, kid = header.get("alg"), header.get("kid", "")
        if not isinstance(alg, str) or not isinstance(kid, str):
            raise errors.TokenError("malformed", "bad JWT header")
        key = await keys.key_for(kid)
        if key is None:
            if not keys.keys:
                raise errors.TokenError("issuer_unavailable", "the token's issuer has not published its keys to us yet")
            raise errors.TokenError("unknown_key", "signed with a key its issuer does not publish")
        if alg not in key.algorithms:
            raise errors.TokenError("bad_algorithm", f"algorithm {alg[:20]!r} does not match the signing key")
        entry = keys.issuer
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=list(entry.audiences),
                issuer=entry.issuer,
                leeway=CLOCK_LEEWAY,
                options={"require": ["iss", "aud", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise jwts.refusal(exc) from None
        return claims

    @staticmethod
    def identity(claims: dict[str, Any], entry: ExtraIssuer) -> tuple[str, tuple[str, ...]]:
        """The user id (before the issuer's userid-prefix) and the groups, from the issuer's claims."""
        user = claims.get(entry.userid_claim)
        if not isinstance(user, str) or not user:
            raise errors.TokenError("missing_claim", f"the token has no {entry.userid_claim!r} claim to use as user id")
        groups = usable_groups(claims.get(entry.groups_claim, [])) if entry.groups_claim else ()
        return user, groups

    def jobs(self) -> list[Any]:
        return [keys.run() for keys in self.issuers.values()]

    async def aclose(self) -> None:
        for keys in self.issuers.values():
            await keys.aclose()
