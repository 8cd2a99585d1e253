"""The identity assertion: the identity once more, as a short-lived JWT the upstream can verify.

A plain `kubeflow-userid` header proves nothing to an upstream reached some other way than
through the gateway (a misconfigured route, a pod next door). With GATEKEEPER_ASSERTION_HEADER
set, every 200 also carries an ES256 JWT signed with the application's key (`iss` the public
URL, `aud` the configured audience, `sub`, `email`, `groups`, at most ASSERTION_LIFETIME
seconds), whose public keys are served at `<prefix>/.well-known/jwks.json`.

Signing costs far more than the cached check itself, so an assertion is signed once per
verified token and kept in its verdict until REFRESH_MARGIN before it expires; the verdict is
then verified and signed afresh (tokens.Verified.fresh_until).
"""

from __future__ import annotations

from typing import Any

import jwt

from gatekeeper.assertion_keys import ALGORITHM, AssertionKey, jwks

ASSERTION_LIFETIME = 300
REFRESH_MARGIN = 60  # an upstream never receives an assertion with less than this left


class AssertionSigner:
    """Signs with the first key; the JWKS lists them all."""

    def __init__(self, header: str, keys: tuple[AssertionKey, ...], issuer: str, audience: str) -> None:
        if not keys:
            raise ValueError("an identity assertion needs a signing key")
        self.header, self.issuer, self.audience = header, issuer, audience
        self._key = keys[0]
        self.jwks: dict[str, Any] = jwks(keys)

    def sign(
        self, user: str, email: str | None, groups: tuple[str, ...], now: float, until: float
    ) -> tuple[str, float]:
        """The assertion, never outliving the credential it vouches for (`until`, its exp), and
        until when a verdict may hand it out."""
        issued = int(now)
        expires = min(issued + ASSERTION_LIFETIME, int(until))
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user,
            "groups": list(groups),
            "iat": issued,
            "exp": expires,
        }
        if email:
            claims["email"] = email
        token = jwt.encode(claims, self._key.private_key, algorithm=ALGORITHM, headers={"kid": self._key.kid})
        # Capped by the credential, a new one would expire no later: hand this one out to the end.
        due = expires if expires >= int(until) else expires - REFRESH_MARGIN
        return token, float(due)
