"""The check: is this request authenticated, and what do we answer if not?

`Check.decide` is the one decision, for either check style and either server adapter: a 200 with
the identity headers, a 200 without them (skip-auth), a 401 for API callers, a 302 to the login
for browsers, a 400 for a look-alike identity header. Never a 5xx: Envoy turns any 5xx from an
auth service into its own empty 403. While no sign-in can start (provider away), a browser is
sent to the gatekeeper's "not available yet" page on the bypassed prefix, which may answer 503
itself, and an API caller gets its usual 401, whose reason says so.
`Check.cached` is its synchronous front: a token verified before, still valid and not logged
out, answered from the verdict cache with no await, which is what keeps the hot path cheap.
"""

from __future__ import annotations

import logging
from time import time
from typing import NamedTuple

from gatekeeper import cookies, errors, jwts, pages, responses
from gatekeeper.access import AccessPolicy, verified_email
from gatekeeper.assertion_keys import load_keys
from gatekeeper.assertions import AssertionSigner
from gatekeeper.config import Settings
from gatekeeper.headers import IdentityHeaders, usable_groups
from gatekeeper.login import LoginFlow
from gatekeeper.machine_tokens import MachineTokens
from gatekeeper.metrics import Metrics
from gatekeeper.paths import SkipAuth, safe_return_path
from gatekeeper.request import Credentials, Headers, Request
from gatekeeper.revocation_store import RevocationStore
from gatekeeper.revocations import Revocations, Revoked
from gatekeeper.sessions import SessionCodec
from gatekeeper.tokens import IdTokenVerifier, Verified, VerifiedCache, identity_from_claims, token_fingerprint

log = logging.getLogger("gatekeeper.check")

MAX_SESSION_COOKIES_TRIED = 3


class Decision(NamedTuple):
    """What the adapter writes, and the outcome it counts (`metrics.CHECK_OUTCOMES`; "" for no check)."""

    response: responses.Response
    outcome: str


class Claimed(NamedTuple):
    """What a verified token says: who, the revocation key, its dates; `prefix` replaces
    userid-prefix when not None (a machine token's user carries its issuer's already); `email` is
    None for a machine token (not subject to the lists)."""

    user: str
    groups: tuple[str, ...]
    key: str
    exp: float
    issued: float
    prefix: str | None
    email: str | None


class Authenticator:
    """Verifies a session JWT, a provider ID token or an extra issuer's JWT, remembering the
    verdict until it expires."""

    def __init__(
        self,
        settings: Settings,
        codec: SessionCodec,
        id_tokens: IdTokenVerifier,
        identity: IdentityHeaders,
        machine: MachineTokens | None = None,
    ) -> None:
        self.settings, self.codec, self.id_tokens, self.identity = settings, codec, id_tokens, identity
        self.machine = machine if machine else None  # None: no extra issuer, no payload to read
        self.assertions = (
            AssertionSigner(
                settings.assertion_header,
                load_keys(settings.assertion_keys),
                settings.public_url,
                settings.assertion_audience,
            )
            if settings.assertion_header
            else None
        )
        self.audiences = (settings.client_id, *settings.extra_audiences)
        self.access = AccessPolicy.of(settings.allowed_emails, settings.allowed_groups)
        self.revoked = Revocations(path=settings.revocations_file)  # what logouts revoked, read by the hot path
        self.cache = VerifiedCache()  # verdicts by token, read by the hot path
        self.revoked.on_change = self._forget_user
        namespace = f"gatekeeper:{settings.client_id}"
        self.store = RevocationStore(settings.redis_url, namespace, self.revoked) if settings.redis_url else None

    def revoke(self, entry: Verified, now: float) -> None:
        """A logout: refused here at once, then on every other worker and unit."""
        if self.revoked.revoke(entry.revocation_key, entry.exp, now) and self.store is not None:
            self.store.share(Revoked(entry.revocation_key, entry.exp))

    def revoke_user(self, user: str, now: float) -> int:
        """Sign a user out everywhere: what they were issued up to this second is refused."""
        not_before = int(now)
        if self.revoked.revoke_user(user, not_before, now) and self.store is not None:
            self.store.share(Revoked("", not_before, user))
        return not_before

    def store_state(self) -> tuple[bool, str]:
        """Whether logouts reach every unit now, and in words what the store is doing."""
        store = self.store
        if store is None:
            return False, "this unit only (no Redis)"
        if store.connected:
            return True, "redis: connected"
        return False, f"redis unreachable: {store.problem}; kept here and sent when it is back"

    def _forget_user(self, revoked: Revoked) -> None:
        """A revoked user's cached verdicts go, so the hot path never needs to ask about users."""
        if revoked.user:
            self.cache.discard_user(revoked.user)

    async def verify(self, token: str, now: float) -> Verified:
        """The verdict on one token: from the cache while it holds, else verified once and cached."""
        entry = self.cache.get(token)
        if entry is not None:
            if entry.exp <= now:
                self.cache.discard(token)
                raise errors.TokenError("expired", "token has expired", entry.user)
            if entry.revocation_key in self.revoked or self.revoked.refuses(entry.user, entry.issued_at):
                raise errors.TokenError("revoked", "token was logged out", entry.user)
            if entry.fresh_until > now:
                return entry
            self.cache.discard(token)  # its identity assertion is due: verified and signed afresh
        user, groups, key, exp, issued, prefix, email = await self._verified(token)
        if exp <= now:  # the verifiers' leeway is for clocks that differ, not for a verdict past its token
            raise errors.TokenError("expired", "token has expired", user)
        if key in self.revoked:
            raise errors.TokenError("revoked", "token was logged out", user)
        if self.revoked.refuses(user, float(issued)):
            raise errors.TokenError("revoked", "the user was signed out everywhere after this was issued", user)
        headers = self.identity.text_for_user(user, groups, prefix)
        # A machine token is let in by its issuer and audience, listed for it; the lists are for people.
        allowed = email is None or self.access.allows(email, groups)
        fresh_until = float(exp)
        if self.assertions is not None:
            assertion, due = self.assertions.sign(headers[0][1], email, usable_groups(groups), now, float(exp))
            headers, fresh_until = (*headers, (self.assertions.header, assertion)), min(fresh_until, due)
        entry = Verified(float(exp), key, headers, user, float(issued), allowed, fresh_until)
        self.cache.put(token, entry, now)
        return entry

    async def _verified(self, token: str) -> Claimed:
        """Who a token names, once the verifier its header and issuer pick has checked it."""
        header = jwts.header_of(token)  # read once: it says which verifier, and each reuses it
        machine = self.machine
        if header.get("alg") == "HS256":
            session = self.codec.verify(token, header)
            return Claimed(session.user, session.groups, session.jti, session.exp, session.iat, None, session.email)
        if machine is not None and (issuer_keys := machine.issuer_of(token)) is not None:
            claims = await machine.verify(token, issuer_keys, header)
            user, groups = machine.identity(claims, issuer_keys.issuer)
            # With its issuer's prefix, as the header shows it: what revoke-user and logouts name.
            user, prefix, email = issuer_keys.issuer.userid_prefix + user, "", None
        else:  # an ID token is accepted in the cookie too: it proves the same as in a header
            claims = await self.id_tokens.verify(token, audiences=self.audiences, header=header)
            user, groups = identity_from_claims(claims, self.settings)
            prefix, email = None, verified_email(claims)
        return Claimed(user, groups, token_fingerprint(token), claims["exp"], claims.get("iat", 0), prefix, email)

    async def authenticate(self, bearer: str | None, session_cookies: list[str], now: float) -> Verified:
        """The first credential that verifies (bearer first); else the most telling refusal."""
        first_error: errors.TokenError | None = None
        if bearer is not None:
            try:
                return await self.verify(bearer, now)
            except errors.TokenError as exc:
                first_error = exc
        for value in session_cookies[:MAX_SESSION_COOKIES_TRIED]:
            try:
                return await self.verify(value, now)
            except errors.TokenError as exc:
                first_error = first_error or exc
        raise first_error or errors.TokenError("no_credentials", "no session cookie or bearer token")


class Check:
    """The check's parts, and the decision."""

    def __init__(self, settings: Settings, auth: Authenticator, login: LoginFlow, metrics: Metrics) -> None:
        self.settings = settings
        self.auth = auth
        self.login = login
        self.metrics = metrics
        self.identity = auth.identity
        self.skip = SkipAuth(settings.skip_auth_paths)
        self._skip_enabled = bool(self.skip)
        self._lookalike_names = self.identity.lookalike_names
        self._cached = auth.cache.get  # bound C methods: no Python call on the hot path for these
        self._revoked_keys = auth.revoked.keys

    def cached(self, request: Request) -> Verified | None:
        """The verdict of a token verified before, still valid, not logged out; else None.

        None also when the request needs the thorough path: a possible look-alike identity header
        (see `verdict`), or a skip-auth target (answered without identity, whoever asks).
        """
        entry = self.verdict(request.token, request.headers)
        if entry is not None and self._skip_enabled and self.skip.matches(request.target):
            return None
        return entry

    def verdict(self, token: str | None, headers: Headers) -> Verified | None:
        """`cached` before the skip-auth test, from the credential and headers alone: with no
        skip-auth path configured, the RSGI adapter answers from this without building a request.

        A possible look-alike identity header (asked for by name, or any name with "_" when there
        are too many spellings to ask for) sends the request the thorough way, which refuses it.
        One function, no generator: this runs for every request the gateway sends.
        """
        if not token:
            return None
        entry = self._cached(token)
        if (
            entry is None
            or entry.fresh_until <= time()
            or entry.revocation_key in self._revoked_keys
            or not entry.allowed
        ):
            return None
        names = self._lookalike_names
        if names is None:
            if "_" in "".join(headers.keys()):
                return None
        else:
            for name in names:
                if name in headers:
                    return None
        return entry

    @property
    def skips_any_path(self) -> bool:
        return self._skip_enabled

    async def decide(self, request: Request) -> Decision:
        """The answer to a check, whichever its style, as one value the adapter writes."""
        entry = self.cached(request)
        if entry is not None:
            return Decision(responses.Response(200, entry.headers), "allowed")
        lookalike = self.identity.first_lookalike(request.headers.keys())
        if lookalike is not None:
            log.info(
                "request denied", extra={"event": "denied", "reason": "identity_header_lookalike", "header": lookalike}
            )
            return Decision(responses.refusal(errors.ForbiddenHeaderError(lookalike)), "bad_request")
        if self._skip_enabled and self.skip.matches(request.target):
            return Decision(responses.Response(200, self.identity.empty), "skipped")
        credentials = request.credentials()
        try:
            entry = await self.auth.authenticate(credentials.bearer, credentials.sessions, time())
        except errors.TokenError as error:
            return self._refuse(request, credentials, error)
        if not entry.allowed:
            return self._forbid(request, entry)
        return Decision(responses.Response(200, entry.headers), "allowed")

    def _forbid(self, request: Request, entry: Verified) -> Decision:
        """Signed in, but not someone allowed-emails or allowed-groups lets in: say who, offer a sign-out."""
        log.info("request refused", extra={"event": "forbidden", "reason": "not_allowed", "user": entry.user})
        sign_out = f"{self.settings.public_url}{self.settings.prefix}/logout"
        if request.wants_json():
            payload = {
                "error": "forbidden",
                "reason": "signed in, but not as a user or group allowed here",
                "user": entry.user,
                "logout": sign_out,
            }
            return Decision(responses.json_response(403, payload), "forbidden")
        return Decision(responses.html_response(403, pages.forbidden(entry.user, sign_out)), "forbidden")

    def _refuse(self, request: Request, credentials: Credentials, error: errors.TokenError) -> Decision:
        if error.reason != "no_credentials":
            self.metrics.token_error(error.reason)
            log.info("request denied", extra={"event": "denied", "reason": error.reason, "user": error.user or None})
        if request.wants_json():
            return Decision(self._unauthorized(credentials, error), "unauthorized")
        return_path = safe_return_path(request.target, self.settings.public_url) or "/"
        try:
            response = self.login.start(return_path, request.cookie_header())
        except errors.ProviderUnavailableError:
            return Decision(self.login.unavailable(return_path), "unavailable")
        if credentials.sessions:
            response.add_cookie(cookies.expire_cookie(cookies.SESSION_COOKIE, secure=self.settings.secure_cookies))
        log.debug("login started", extra={"event": "login_redirect", "reason": error.reason})
        return Decision(response, "redirected")

    def _unauthorized(self, credentials: Credentials, error: errors.TokenError) -> responses.Response:
        """A 401 with a Bearer challenge: what scripts and XHR can act on."""
        challenge = f'Bearer realm="{self.settings.public_url}"'
        if credentials.bearer is not None:
            challenge += ', error="invalid_token"'
        if error.reason == "no_credentials":
            payload = {"error": "unauthenticated", "reason": "log in first, or send Authorization: Bearer <ID token>"}
            if not self.login.provider.ready:
                payload["login"] = "unavailable: the identity provider is not reachable yet; retry shortly"
        else:
            payload = {"error": error.reason, "reason": error.detail}
        return responses.json_response(401, payload, [(b"www-authenticate", challenge.encode())])
