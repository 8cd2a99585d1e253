import asyncio
import time

import jwt
from gatekeeper_fixtures import ready_app

from gatekeeper.cookies import STATE_COOKIE_PREFIX
from gatekeeper.jwts import Signer
from gatekeeper.login import MAX_EXPIRED_PER_ANSWER, MAX_STATE_COOKIES, pkce_challenge


def test_pkce_challenge_matches_rfc7636_example():
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def _login(dex):
    async def scenario():
        app = await ready_app(dex)
        await app.provider.aclose()
        return app.login

    return asyncio.run(scenario())


def test_surplus_state_cookies_oldest_first(dex):
    login = _login(dex)
    now = int(time.time())
    values = {f"{STATE_COOKIE_PREFIX}s{i}": jwt.encode({"iat": now - 100 + i}, "k" * 32) for i in range(6)}
    values[f"{STATE_COOKIE_PREFIX}junk"] = "not-a-jwt"
    header = "; ".join(f"{k}={v}" for k, v in reversed(list(values.items())))
    surplus = login.surplus_state_cookies(header + "; other=1")
    assert surplus == [f"{STATE_COOKIE_PREFIX}junk", f"{STATE_COOKIE_PREFIX}s0", f"{STATE_COOKIE_PREFIX}s1"]
    assert len(values) - len(surplus) == MAX_STATE_COOKIES - 1
    assert login.surplus_state_cookies("a=1") == []


def test_expired_state_cookies_per_answer_are_capped(dex):
    login = _login(dex)
    crafted = "; ".join(f"{STATE_COOKIE_PREFIX}{i:04d}=x.y.z" for i in range(500))
    assert len(login.surplus_state_cookies(crafted)) == MAX_EXPIRED_PER_ANSWER


def test_read_attempt_checks_name_binding_and_signature(dex):
    login = _login(dex)
    response = login.start("/x", "")
    name, value = response.headers[-1][1].decode().split(";", 1)[0].split("=", 1)
    state = name[len(STATE_COOKIE_PREFIX) :]
    attempt = login.read_attempt(state, f"{name}={value}")
    assert attempt and attempt.return_path == "/x" and attempt.verifier and attempt.nonce
    assert (
        login.read_attempt("otherstate-AAAAAAAAAAAA", f"{STATE_COOKIE_PREFIX}otherstate-AAAAAAAAAAAA={value}") is None
    )
    assert login.read_attempt(state, f"{name}={value}x") is None
    assert login.read_attempt("../../etc", "") is None
    session_like = Signer(login.settings.session_keys, "dex-auth-session").sign(
        {"st": state, "nonce": "n", "pkce": "p", "rd": "/", "iat": 1, "exp": 2**40}
    )
    assert login.read_attempt(state, f"{name}={session_like}") is None
