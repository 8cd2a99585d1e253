"""The identity assertion's signing keys: ES256 (P-256) private keys in PEM, their public JWKs.

Shared by the charm, which makes the application's key and publishes the public half over the
identity-assertion relation, and the gatekeeper, which signs with it and serves the same JWKS.
`cryptography` only (no PyJWT), so the charm needs nothing more than it ships.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.rules import PEM_PRIVATE_KEY, InvalidValue

ALGORITHM = "ES256"
# How long a key that stopped signing stays published: an assertion's 5 minutes, plus the 5
# minutes an upstream may cache the JWKS (endpoints.py).
KEEP_PREVIOUS = 600.0


@dataclass(frozen=True)
class AssertionKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_jwk(self) -> dict[str, str]:
        return {**_public_members(self.private_key), "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()


def _public_members(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x), "y": _b64(numbers.y)}


def thumbprint(key: ec.EllipticCurvePrivateKey) -> str:
    """RFC 7638's JWK thumbprint: a kid that names the key itself, the same wherever it is computed."""
    canonical = json.dumps(_public_members(key), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def generate_pem() -> str:
    """A new P-256 private key, PKCS#8 PEM, unencrypted (it lives in a Juju secret)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_keys(text: str) -> tuple[AssertionKey, ...]:
    """P-256 private keys in PEM, the first signs; the others stay in the JWKS while upstreams
    may still hold assertions they signed. The problem never quotes a key."""
    blocks = PEM_PRIVATE_KEY.findall(text)
    if not blocks:
        raise InvalidValue("must hold PEM private keys (-----BEGIN PRIVATE KEY----- ...)")
    keys: list[AssertionKey] = []
    for index, block in enumerate(blocks, start=1):
        try:
            key = serialization.load_pem_private_key(block.encode(), password=None)
        except (ValueError, TypeError):
            raise InvalidValue(f"key {index} of {len(blocks)} is not a readable unencrypted PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise InvalidValue(f"key {index} of {len(blocks)} is not a P-256 (ES256) key")
        keys.append(AssertionKey(thumbprint(key), key))
    return tuple(keys)


@dataclass(frozen=True)
class Rotation:
    """The keys after a rotation (PEM, the new one first), when each earlier one stopped signing."""

    pem: str
    retired: dict[str, float]
    fresh: str  # kids
    previous: str


def rotate(pem: str, retired: Mapping[str, float], now: float, *, drop_previous: bool = False) -> Rotation:
    """A new signing key first; earlier keys stay published KEEP_PREVIOUS after they stopped
    signing, so assertions already sent keep verifying. `drop_previous` (a key that leaked): none.

    A key `retired` does not know is taken as retired now, so it is kept rather than dropped early.
    """
    blocks = PEM_PRIVATE_KEY.findall(pem)
    current = load_keys(pem)
    since = {key.kid: float(retired.get(key.kid, now)) for key in current[1:]}
    since[current[0].kid] = now
    fresh = generate_pem()
    kept = (
        []
        if drop_previous
        else [(b, k) for b, k in zip(blocks, current, strict=True) if now - since[k.kid] < KEEP_PREVIOUS]
    )
    text = fresh + "".join(block + "\n" for block, _ in kept)
    return Rotation(text, {key.kid: since[key.kid] for _, key in kept}, load_keys(fresh)[0].kid, current[0].kid)


def jwks(keys: tuple[AssertionKey, ...]) -> dict[str, Any]:
    return {"keys": [key.public_jwk for key in keys]}
