"""The unverified header: read from the first segment only, and nothing odd gets past it as a header."""

import base64
import json

import pytest

from gatekeeper import jwts
from gatekeeper.config import SessionKey
from gatekeeper.errors import TokenError


def segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_header_of_a_signed_token_is_what_was_signed():
    token = jwts.Signer((SessionKey("k1", "s" * 40),), "aud").sign({"exp": 2, "iat": 1})
    assert jwts.header_of(token) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}


@pytest.mark.parametrize(
    "token",
    [
        "",
        "no-dot-at-all",
        "!!!.payload.signature",
        segment(b"[1, 2]") + ".p.s",
        segment(b"not json") + ".p.s",
        segment(b"\xff\xfe") + ".p.s",
        segment(json.dumps({"alg": "HS256", "pad": "x" * 3000}).encode()) + ".p.s",
    ],
    ids=["empty", "no-dot", "not-base64", "not-an-object", "not-json", "not-utf8", "oversized"],
)
def test_what_is_not_a_jwt_header_is_malformed(token):
    with pytest.raises(TokenError) as caught:
        jwts.header_of(token)
    assert caught.value.reason == "malformed"


def test_a_header_swapped_onto_a_signed_token_still_fails_the_signature():
    signer = jwts.Signer((SessionKey("k1", "s" * 40),), "aud")
    _, payload, signature = signer.sign({"exp": 9_999_999_999, "iat": 1}).split(".")
    forged = segment(json.dumps({"alg": "HS256", "kid": "k1", "x": 1}).encode()) + f".{payload}.{signature}"
    assert jwts.header_of(forged)["x"] == 1
    with pytest.raises(TokenError) as caught:
        signer.verify(forged)
    assert caught.value.reason == "bad_signature"
