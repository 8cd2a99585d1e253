"""The auth decision: which credential proves who the caller is, and how to refuse one that doesn't.

The app answers a cached, valid token itself (the hot path); everything that needs thought
comes here.
"""

from __future__ import annotations

import jwt

from gatekeeper import errors
from gatekeeper.config import Settings
from gatekeeper.errors import TokenError
from gatekeeper.headers import IdentityHeaders
from gatekeeper.revocations import Revocations
from gatekeeper.sessions import SessionCodec
from gatekeeper.tokens import IdTokenVerifier, Verified, VerifiedCache, identity_from_claims, token_fingerprint

MAX_SESSION_COOKIES_TRIED = 3


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def is_api_call(
    method: str,
    accept: str | None,
    x_requested_with: str | None,
    sec_fetch_mode: str | None,
    has_authorization: bool,
) -> bool:
    """True when a login redirect would be useless (scripts, XHR/fetch, non-navigation)."""
    if has_authorization or x_requested_with:
        return True
    if sec_fetch_mode:
        return sec_fetch_mode.strip().lower() != "navigate"
    if method not in ("GET", "HEAD"):
        return True
    if accept:
        lowered = accept.lower()
        if "json" in lowered and "text/html" not in lowered:
            return True
    return False


class Authenticator:
    """Verifies a session JWT or a provider ID token, remembering the verdict until it expires."""

    def __init__(
        self,
        settings: Settings,
        codec: SessionCodec,
        revoked: Revocations,
        cache: VerifiedCache,
        id_tokens: IdTokenVerifier,
        identity: IdentityHeaders,
    ) -> None:
        self.audiences = (settings.client_id, *settings.extra_audiences)
        self.settings = settings
        self.codec = codec
        self.revoked = revoked
        self.cache = cache
        self.id_tokens = id_tokens
        self.identity = identity

    async def verify(self, token: str, now: float) -> Verified:
        entry = self.cache.get(token)
        if entry is not None:
            if entry.exp <= now:
                self.cache.discard(token)
                raise TokenError("expired", "token has expired", entry.user)
            if entry.revocation_key in self.revoked:
                raise TokenError("revoked", "token was logged out", entry.user)
            return entry
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise TokenError("malformed", "not a JWT") from None
        if algorithm == "HS256":
            session = self.codec.verify(token)
            user, groups, key, exp = session.user, session.groups, session.jti, float(session.exp)
        else:  # an ID token is accepted in the cookie too: it proves the same as in a header
            claims = await self.id_tokens.verify(token, audiences=self.audiences)
            user, groups = identity_from_claims(claims, self.settings)
            key, exp = token_fingerprint(token), float(claims["exp"])
        if key in self.revoked:
            raise TokenError("revoked", "token was logged out", user)
        try:
            headers = self.identity.for_user(user, groups)
        except errors.UnsafeIdentityError as exc:
            raise TokenError("bad_identity", str(exc)) from None
        entry = Verified(exp=exp, revocation_key=key, headers=headers, user=user)
        self.cache.put(token, entry, now)
        return entry

    async def authenticate(self, bearer: str | None, session_cookies: list[str], now: float) -> Verified:
        """The first credential that verifies (bearer first); else the most telling refusal."""
        first_error: TokenError | None = None
        if bearer is not None:
            try:
                return await self.verify(bearer, now)
            except TokenError as exc:
                first_error = exc
        for value in session_cookies[:MAX_SESSION_COOKIES_TRIED]:
            try:
                return await self.verify(value, now)
            except TokenError as exc:
                first_error = first_error or exc
        raise first_error or TokenError("no_credentials", "no session cookie or bearer token")
