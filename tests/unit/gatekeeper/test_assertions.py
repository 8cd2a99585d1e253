"""The identity assertion: what an upstream receives and verifies with the served JWKS, how often
it is signed, and what an answer without identity or a client's own copy of the header gets."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from gatekeeper_fixtures import PUBLIC_URL, asgi, make_settings, ready_app
from test_app import session_of

from gatekeeper import assertions
from gatekeeper.assertion_keys import generate_pem, load_keys, thumbprint
from gatekeeper.config import ConfigError
from gatekeeper.rules import InvalidValue

HEADER = "kubeflow-identity-assertion"
KEY, OLD_KEY = generate_pem(), generate_pem()
API = {"accept": "application/json"}


def run(dex, scenario, **env):
    async def main():
        app = await ready_app(dex, GATEKEEPER_ASSERTION_HEADER=HEADER, GATEKEEPER_ASSERTION_KEYS=KEY + OLD_KEY, **env)
        try:
            return await scenario(app)
        finally:
            await app.provider.aclose()

    return asyncio.run(main())


def verified(app_jwks: dict, token: str, audience: str = PUBLIC_URL) -> dict:
    """What an upstream does: the key the kid names, from the published set, ES256 only."""
    key = jwt.PyJWKSet.from_dict(app_jwks)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key, algorithms=["ES256"], audience=audience, issuer=PUBLIC_URL)


def test_a_signed_in_request_carries_an_assertion_the_served_keys_verify(dex) -> None:
    async def scenario(app):
        token = dex.id_token(email="jane@example.com", groups=["admins", "ml"])
        reply = await asgi(app, "GET", "/authservice/check/x", {"authorization": f"Bearer {token}", **API})
        keys = await asgi(app, "GET", "/authservice/.well-known/jwks.json")
        assert keys.status == 200 and keys.header("cache-control") == "public, max-age=300"
        claims = verified(keys.json(), reply.header(HEADER))
        assert claims["sub"] == reply.header("kubeflow-userid") == "jane@example.com"
        assert (claims["email"], claims["groups"]) == ("jane@example.com", ["admins", "ml"])
        assert claims["exp"] - claims["iat"] == assertions.ASSERTION_LIFETIME <= 300
        assert [k["kid"] for k in keys.json()["keys"]] == [k.kid for k in load_keys(KEY + OLD_KEY)]
        assert jwt.get_unverified_header(reply.header(HEADER))["kid"] == load_keys(KEY)[0].kid
        assert all("d" not in k for k in keys.json()["keys"])  # never the private part

    run(dex, scenario)


def test_the_assertion_names_the_audience_configured_and_the_prefixed_user_id(dex) -> None:
    async def scenario(app):
        reply = await asgi(app, "GET", "/authservice/check/x", {"authorization": f"Bearer {dex.id_token()}"})
        keys = (await asgi(app, "GET", "/authservice/.well-known/jwks.json")).json()
        claims = verified(keys, reply.header(HEADER), audience="notebooks.kubeflow")
        assert claims["sub"] == reply.header("kubeflow-userid") == "oidc:jane@example.com"

    run(dex, scenario, GATEKEEPER_ASSERTION_AUDIENCE="notebooks.kubeflow", GATEKEEPER_USERID_PREFIX="oidc:")


def test_one_signature_per_verdict_until_it_is_due_then_a_fresh_one(dex, monkeypatch) -> None:
    signed: list[str] = []
    original = assertions.AssertionSigner.sign

    def counting(self, *args, **kwargs):
        token, due = original(self, *args, **kwargs)
        signed.append(token)
        return token, due

    monkeypatch.setattr(assertions.AssertionSigner, "sign", counting)

    async def scenario(app):
        headers = {"authorization": f"Bearer {dex.id_token()}"}
        first = [await asgi(app, "GET", "/authservice/check/x", headers) for _ in range(5)]
        assert len(signed) == 1 and {r.header(HEADER) for r in first} == {signed[0]}
        entry = next(iter(app.cache._entries.values()))
        assert entry.fresh_until == jwt.decode(signed[0], options={"verify_signature": False})["exp"] - 60
        entry.fresh_until = time.time() - 1  # as if four minutes had passed
        again = await asgi(app, "GET", "/authservice/check/x", headers)
        assert len(signed) == 2 and again.header(HEADER) == signed[1]

    run(dex, scenario)


def test_answers_without_identity_blank_the_header_and_a_look_alike_is_refused(dex) -> None:
    async def scenario(app):
        skipped = await asgi(app, "GET", "/authservice/check/public/x", {HEADER: "forged"})
        assert skipped.status == 200 and skipped.all(HEADER) == [""]
        lookalike = await asgi(
            app,
            "GET",
            "/authservice/check/x",
            {"authorization": f"Bearer {dex.id_token()}", "kubeflow_identity_assertion": "forged", **API},
        )
        assert lookalike.status == 400

    run(dex, scenario, GATEKEEPER_SKIP_AUTH_PATHS="/public")


def test_a_session_cookie_gets_an_assertion_too(dex) -> None:
    from gatekeeper_fixtures import log_in

    async def scenario(app):
        cookie = session_of(await log_in(app, dex))
        reply = await asgi(app, "GET", "/authservice/check/x", {"cookie": f"authservice_session={cookie}"})
        keys = (await asgi(app, "GET", "/authservice/.well-known/jwks.json")).json()
        assert verified(keys, reply.header(HEADER))["sub"] == "jane@example.com"

    run(dex, scenario)


def test_without_the_header_no_keys_are_served(dex) -> None:
    async def scenario(app):
        return await asgi(app, "GET", "/authservice/.well-known/jwks.json")

    async def main():
        app = await ready_app(dex)
        try:
            return await scenario(app)
        finally:
            await app.provider.aclose()

    assert asyncio.run(main()).status == 404


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"GATEKEEPER_ASSERTION_HEADER": HEADER}, "GATEKEEPER_ASSERTION_KEYS is required"),
        ({"GATEKEEPER_ASSERTION_HEADER": "Kubeflow_UserID", "GATEKEEPER_ASSERTION_KEYS": KEY}, "must differ from"),
        ({"GATEKEEPER_ASSERTION_HEADER": HEADER, "GATEKEEPER_ASSERTION_KEYS": "secret"}, "PEM private keys"),
        ({"GATEKEEPER_ASSERTION_AUDIENCE": "a b"}, "one audience"),
    ],
)
def test_settings_refusals(env, problem) -> None:
    with pytest.raises(ConfigError, match=problem):
        make_settings(**env)


def test_only_unencrypted_p256_keys_load_and_the_kid_is_the_thumbprint() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    (key,) = load_keys(KEY)
    assert key.kid == thumbprint(key.private_key) and len(key.kid) == 43
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for other in (p384, rsa_key):
        pem = other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        with pytest.raises(InvalidValue, match="key 2 of 2 is not a P-256"):
            load_keys(KEY + pem)
    with pytest.raises(InvalidValue, match="key 1 of 1 is not a readable"):
        load_keys("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----")


def test_the_assertion_never_outlives_the_credential_it_vouches_for(dex) -> None:
    token_exp = int(time.time()) + 100

    async def scenario(app):
        reply = await asgi(
            app, "GET", "/authservice/check/x", {"authorization": f"Bearer {dex.id_token(exp=token_exp)}"}
        )
        keys = (await asgi(app, "GET", "/authservice/.well-known/jwks.json")).json()
        assert verified(keys, reply.header(HEADER))["exp"] == token_exp
        entry = next(iter(app.cache._entries.values()))
        assert entry.fresh_until == token_exp  # handed out to the end: a new one could not last longer

    run(dex, scenario)


def test_a_rotation_puts_a_new_key_first_and_keeps_earlier_ones_ten_minutes() -> None:
    from gatekeeper.assertion_keys import KEEP_PREVIOUS, rotate

    first = load_keys(KEY)[0].kid
    once = rotate(KEY, {}, 1000.0)
    assert [k.kid for k in load_keys(once.pem)] == [once.fresh, first] and once.previous == first
    assert once.retired == {first: 1000.0}
    twice = rotate(once.pem, once.retired, 1000.0 + KEEP_PREVIOUS - 1)
    assert [k.kid for k in load_keys(twice.pem)] == [twice.fresh, once.fresh, first]
    thrice = rotate(twice.pem, twice.retired, 1000.0 + KEEP_PREVIOUS + 1)
    assert [k.kid for k in load_keys(thrice.pem)] == [thrice.fresh, twice.fresh, once.fresh]
    dropped = rotate(thrice.pem, thrice.retired, 2000.0, drop_previous=True)
    assert [k.kid for k in load_keys(dropped.pem)] == [dropped.fresh] and dropped.retired == {}
