"""Verifying the provider's ID tokens, and the bounded cache of tokens already verified.

The cache is what keeps the check path cheap: a token's signature is checked once, then the
prepared answer is reused until the token expires. Revocation is checked on every hit.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from typing import Any

import jwt

from gatekeeper import errors, jwts
from gatekeeper.config import Settings
from gatekeeper.headers import Header, usable_groups
from gatekeeper.provider import Provider

CLOCK_LEEWAY = 30
DEFAULT_CACHE_LIMIT = 150_000
MAX_ID_TOKEN_LENGTH = 64 * 1024  # big group lists make big ID tokens; headers are bounded by the server


@dataclass(slots=True)
class Verified:
    """A token's verdict: when it stops being valid, how to revoke it, and the 200 to send.

    One is kept per live token, so it holds the identity headers once, as the text pairs RSGI
    writes (names and the groups value shared between entries); the byte form is made on demand
    for the paths that are not the hot one.
    """

    exp: float
    revocation_key: str
    text_headers: tuple[tuple[str, str], ...]
    user: str
    issued_at: float = 0.0
    allowed: bool = True  # by allowed-emails and allowed-groups (access.py), decided once
    fresh_until: float = 0.0  # when the hot path stops handing it out: exp, or sooner when an assertion is due

    def __post_init__(self) -> None:
        self.fresh_until = min(self.fresh_until or self.exp, self.exp)

    @property
    def headers(self) -> list[Header]:
        return [(name.encode("latin-1"), value.encode()) for name, value in self.text_headers]


class VerifiedCache:
    """Verdicts by token text, at most `limit` of them.

    The bound is what memory allows (an entry is about 1 KB with its token, see docs/benchmark.md),
    set above the sessions a large platform keeps live at once. Past it, expired verdicts go first;
    if the cache is still full, a random eighth does. Random, not oldest-first: requests going
    round more live tokens than the bound would find none of them cached under first-in-first-out,
    while random eviction degrades gradually (at 1.5 times the bound, about a third still hit).
    """

    def __init__(self, limit: int = DEFAULT_CACHE_LIMIT) -> None:
        self.limit = limit
        self._entries: dict[str, Verified] = {}
        self.get = self._entries.get  # the bound C method: the hot path makes no Python call for a lookup
        self._random = random.SystemRandom()  # which verdicts go is nothing a client can steer

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, token: str, entry: Verified, now: float | None = None) -> None:
        if len(self._entries) >= self.limit:
            self.purge(time.time() if now is None else now)
            if len(self._entries) >= self.limit:
                for key in self._random.sample(list(self._entries), max(1, self.limit // 8)):
                    del self._entries[key]
        self._entries[token] = entry

    def discard(self, token: str) -> None:
        self._entries.pop(token, None)

    def discard_user(self, user: str) -> None:
        """Forget a user's verdicts, so their next request is verified again (after a revoke-user)."""
        for key in [k for k, v in self._entries.items() if v.user == user]:
            del self._entries[key]

    def purge(self, now: float) -> None:
        for key in [k for k, v in self._entries.items() if v.exp <= now]:
            del self._entries[key]


def token_fingerprint(token: str) -> str:
    """A revocation key for tokens without a jti of ours (never logged, never reversible).

    Only the signed part is hashed: PyJWT also accepts a signature with `=` padding (and ECDSA
    signatures can be rewritten), so hashing the whole text would let a revoked token back in
    under another spelling.
    """
    signed_part = token.rsplit(".", 1)[0]
    return "sha256:" + hashlib.sha256(signed_part.encode()).hexdigest()


def identity_from_claims(claims: dict[str, Any], settings: Settings) -> tuple[str, tuple[str, ...]]:
    user = claims.get(settings.userid_claim)
    if not isinstance(user, str) or not user:
        raise errors.TokenError("missing_claim", f"the token has no {settings.userid_claim!r} claim to use as user id")
    return user, usable_groups(claims.get(settings.groups_claim, []))


class IdTokenVerifier:
    """Checks ID tokens signed by the provider's keys (never HS*/none), issuer, audience, expiry."""

    def __init__(self, settings: Settings, provider: Provider) -> None:
        self.settings = settings
        self.provider = provider

    async def verify(
        self,
        token: str,
        *,
        audiences: tuple[str, ...],
        nonce: str | None = None,
        header: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The claims of a valid ID token; `header` when the caller has read the JOSE header already."""
        header = jwts.unverified_header(token, MAX_ID_TOKEN_LENGTH, header)
        alg, kid = header.get("alg"), header.get("kid", "")
        if not isinstance(alg, str) or not isinstance(kid, str):
            raise errors.TokenError("malformed", "bad JWT header")
        if not self.provider.keys and not self.provider.ready:
            raise errors.TokenError("provider_unavailable", "the identity provider's keys are not loaded yet")
        key = await self.provider.key_for(kid)
        if key is None:
            raise errors.TokenError("unknown_key", "signed with a key the identity provider does not publish")
        if alg not in key.algorithms:
            raise errors.TokenError("bad_algorithm", f"algorithm {alg[:20]!r} does not match the signing key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=list(audiences),
                issuer=self.settings.issuer_url,
                leeway=CLOCK_LEEWAY,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise jwts.refusal(exc) from None
        if nonce is not None and claims.get("nonce") != nonce:
            raise errors.TokenError("bad_nonce", "the ID token's nonce does not match this login attempt")
        return claims
