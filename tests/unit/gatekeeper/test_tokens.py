import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from gatekeeper_fixtures import CLIENT_ID, make_settings, ready_app

from gatekeeper.errors import TokenError
from gatekeeper.headers import IdentityHeaders
from gatekeeper.tokens import IdTokenVerifier, Verified, VerifiedCache, identity_from_claims, token_fingerprint


def _verify(dex, token, audiences=(CLIENT_ID,), nonce=None, **env):
    async def scenario():
        app = await ready_app(dex, **env)
        try:
            return await IdTokenVerifier(app.settings, app.provider).verify(token, audiences=audiences, nonce=nonce)
        finally:
            await app.provider.aclose()

    return asyncio.run(scenario())


def _reason(dex, token, **kwargs):
    with pytest.raises(TokenError) as info:
        _verify(dex, token, **kwargs)
    return info.value.reason


def test_valid_id_token(dex):
    claims = _verify(dex, dex.id_token(nonce="n"), nonce="n")
    assert claims["email"] == "jane@example.com"


def test_extra_audience_accepted_only_when_configured(dex):
    token = dex.id_token(aud="kfp-cli")
    assert _reason(dex, token) == "bad_audience"
    assert _verify(dex, token, audiences=(CLIENT_ID, "kfp-cli"))["aud"] == "kfp-cli"


def test_key_rotation_at_the_provider_is_picked_up(dex):
    dex.rotate()
    assert _verify(dex, dex.id_token())["sub"]


def test_hs256_signed_with_the_public_key_is_refused(dex):
    public_pem = dex.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = jwt.api_jws.PyJWS()
    forged._algorithms["HS256"].prepare_key = lambda key: key  # let the attacker's library use a PEM as HMAC key
    token = forged.encode(
        jwt.utils.force_bytes(__import__("json").dumps(dex.claims())),
        public_pem,
        algorithm="HS256",
        headers={"kid": dex.kid},
    )
    assert _reason(dex, token) == "bad_algorithm"


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda d: jwt.encode(d.claims(), None, algorithm="none", headers={"kid": d.kid}), "bad_algorithm"),
        (
            lambda d: d.sign(d.claims(), key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "bad_signature",
        ),
        (lambda d: d.sign(d.claims(), kid="unknown"), "unknown_key"),
        (lambda d: d.sign(d.claims(), key=ec.generate_private_key(ec.SECP256R1()), alg="ES256"), "bad_algorithm"),
        (lambda d: d.id_token(iss="https://evil.example.com/dex"), "bad_issuer"),
        (lambda d: d.id_token(aud="other-client"), "bad_audience"),
        (lambda d: d.id_token(exp=int(time.time()) - 3600), "expired"),
        (lambda d: d.id_token(iat=None), "invalid"),
        (lambda d: "garbage", "malformed"),
        (lambda d: "x" * 70000, "malformed"),
    ],
)
def test_bad_id_tokens(dex, make, reason):
    assert _reason(dex, make(dex)) == reason


def test_nonce_must_match(dex):
    assert _reason(dex, dex.id_token(nonce="a"), nonce="b") == "bad_nonce"
    assert _reason(dex, dex.id_token(), nonce="b") == "bad_nonce"


def test_identity_from_claims():
    settings = make_settings(GATEKEEPER_USERID_CLAIM="preferred_username", GATEKEEPER_GROUPS_CLAIM="roles")
    assert identity_from_claims({"preferred_username": "jane", "roles": ["a", "b,c"]}, settings) == ("jane", ("a",))
    with pytest.raises(TokenError, match="preferred_username"):
        identity_from_claims({"email": "jane@example.com"}, settings)


def test_cache_is_bounded_and_purges_expired():
    cache = VerifiedCache(limit=4)
    for i in range(4):
        cache.put(f"t{i}", Verified(exp=100 + i, revocation_key=f"k{i}", text_headers=(), user="u"), now=0)
    cache.put("t4", Verified(exp=200, revocation_key="k4", text_headers=(), user="u"), now=102)  # t0..t2 expired
    assert len(cache) == 2 and cache.get("t3") and cache.get("t4")
    for i in range(5, 12):
        cache.put(f"t{i}", Verified(exp=999, revocation_key="k", text_headers=(), user="u"), now=102)
    assert len(cache) <= 4 and cache.get("t11")


def test_fingerprint_does_not_contain_the_token():
    token = "header.payload.signature"
    assert token not in token_fingerprint(token) and token_fingerprint(token) == token_fingerprint(token)


def test_past_the_bound_requests_going_round_more_tokens_still_find_a_share_cached():
    """Oldest-first eviction would find none: each token would be gone by the time its turn came again."""
    cache = VerifiedCache(limit=1000)
    tokens = [f"t{i}" for i in range(1500)]
    hits = 0
    for _ in range(10):
        for token in tokens:
            if cache.get(token) is not None:
                hits += 1
            else:
                cache.put(token, Verified(exp=999, revocation_key=token, text_headers=(), user="u"), now=0)
            assert len(cache) <= 1000
    assert hits / (10 * len(tokens)) > 0.25  # about a third; oldest-first finds none


def test_a_cached_verdict_shares_the_header_names_and_a_common_groups_value():
    identity = IdentityHeaders(make_settings())
    one = identity.text_for_user("a@example.com", ("kubeflow-users", "team-a"))
    other = identity.text_for_user("b@example.com", ("kubeflow-users", "team-a"))
    assert one[0][0] is other[0][0] and one[1][0] is other[1][0] and one[1][1] is other[1][1]
    assert one[0][1] == "a@example.com" and one[1][1] == "kubeflow-users,team-a"
    verdict = Verified(exp=1, revocation_key="k", text_headers=one, user="a@example.com")
    assert verdict.headers == identity.for_user("a@example.com", ("kubeflow-users", "team-a"))
