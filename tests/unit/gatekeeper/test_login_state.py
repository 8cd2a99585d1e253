"""The login state, the browser-bound cookie and what is derived from both (login_state.py)."""

import jwt
import pytest

from gatekeeper import login_state
from gatekeeper.config import SessionKey
from gatekeeper.jwts import Signer
from gatekeeper.login import pkce_challenge
from gatekeeper.sessions import SESSION_AUDIENCE

NEW, OLD = SessionKey("k2026", b"a" * 40), SessionKey("k2025", b"b" * 40)
BROWSER, OTHER = "B" * 43, "C" * 43


def states(*keys: SessionKey, lifetime: int = 600, offset: int = 0) -> login_state.LoginState:
    return login_state.LoginState(keys or (NEW, OLD), lifetime, offset)


def test_a_state_reads_back_with_its_page_and_expiry():
    codec = states()
    state, issued = codec.issue("/a?b=1", BROWSER)
    attempt = codec.read(state)
    assert attempt == issued and attempt.return_path == "/a?b=1" and attempt.kid == "k2026"
    assert attempt.expires == codec.now() + 600 or attempt.expires == codec.now() + 599
    assert not codec.expired(attempt)
    assert codec.bound_to(attempt, BROWSER) and not codec.bound_to(attempt, OTHER)


def test_tampered_foreign_or_odd_states_do_not_read():
    codec = states()
    state, _ = codec.issue("/", BROWSER)
    assert codec.read(state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB")) is None
    assert codec.read("") is None and codec.read("x" * 5000) is None and codec.read("a.b.c") is None
    assert states(SessionKey("other", b"c" * 40)).read(state) is None  # another deployment's keys
    claims = {"aid": "A" * 22, "rd": "/", "until": 2**40, "bind": "x"}
    session_audience = Signer((NEW,), SESSION_AUDIENCE).sign(claims)
    assert codec.read(session_audience) is None  # a session JWT is not a state
    assert codec.read(codec.signer.sign({**claims, "rd": "//evil"})) is None
    assert codec.read(codec.signer.sign({**claims, "aid": "short"})) is None
    assert codec.read(jwt.encode(claims, None, algorithm="none")) is None


def test_expiry_follows_the_login_clock():
    codec = states(lifetime=60)
    state, _ = codec.issue("/", BROWSER)
    later = states(lifetime=60, offset=61)
    attempt = later.read(state)
    assert attempt is not None and later.expired(attempt)
    assert not states(lifetime=60, offset=30).expired(attempt)


def test_rotation_a_state_signed_with_the_old_key_still_derives_the_same_secrets():
    before = states(OLD)
    state, issued = before.issue("/", BROWSER)
    after = states(NEW, OLD)
    attempt = after.read(state)
    assert attempt is not None and attempt.kid == "k2025"
    assert after.verifier(attempt, BROWSER) == before.verifier(issued, BROWSER)
    assert after.nonce(attempt, BROWSER) == before.nonce(issued, BROWSER)
    assert after.bound_to(attempt, BROWSER)


def test_secrets_depend_on_attempt_browser_and_key_and_are_valid_pkce():
    codec = states()
    _, one = codec.issue("/", BROWSER)
    _, two = codec.issue("/", BROWSER)
    verifier = codec.verifier(one, BROWSER)
    assert len(verifier) == 43 and len(pkce_challenge(verifier)) == 43
    assert verifier != codec.verifier(two, BROWSER) != codec.verifier(one, OTHER)
    assert codec.nonce(one, BROWSER) not in (verifier, codec.nonce(one, OTHER), codec.nonce(two, BROWSER))
    assert states(SessionKey("k2026", b"z" * 40)).verifier(one, BROWSER) != verifier
    assert one.binding not in (verifier, codec.nonce(one, BROWSER))


def test_the_state_carries_no_secret_of_the_attempt():
    codec = states()
    state, attempt = codec.issue("/", BROWSER)
    for secret in (BROWSER, codec.verifier(attempt, BROWSER), codec.nonce(attempt, BROWSER)):
        assert secret not in state


@pytest.mark.parametrize(
    "header, expected",
    [
        (f"authservice_login={BROWSER}", BROWSER),
        (f"a=1; authservice_login=junk; authservice_login={OTHER}", OTHER),
        ("authservice_login=" + "B" * 44, None),
        ("authservice_login=" + "B" * 42 + ";", None),
        (f"xauthservice_login={BROWSER}", None),
        ("", None),
    ],
)
def test_browser_id_takes_the_first_well_formed_login_cookie(header, expected):
    assert login_state.browser_id(header, login_state.LOGIN_COOKIE) == expected


def test_secure_setups_use_the_host_prefix_and_ids_are_fresh():
    assert login_state.login_cookie_name(True) == "__Host-authservice_login"
    assert login_state.login_cookie_name(False) == "authservice_login"
    first, second = login_state.new_browser_id(), login_state.new_browser_id()
    assert first != second and login_state.browser_id(f"authservice_login={first}", "authservice_login") == first
