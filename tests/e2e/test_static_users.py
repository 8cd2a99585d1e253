"""static-users end to end: a Juju secret's list of users, rendered by the charm into the Dex
config the provider stand-in runs, each user signing in through the gateway in both check
styles, the password grant for scripts, and allowed-emails telling two of them apart."""

from __future__ import annotations

import bcrypt
import pytest
import requests
from harness import form_login
from harness.configs import base_config
from harness.stack import Stack
from harness.upstream import Echo
from ops import testing

pytestmark = pytest.mark.e2e

SECRET_ID = "secret:cs8abcdefghijklmnops"
USERS = {"alice@example.com": "alices-password", "bob@example.com": "bobs-password", "carol@example.com": "carols-pw-1"}
CAROL_HASH = bcrypt.hashpw(USERS["carol@example.com"].encode(), bcrypt.gensalt(rounds=10)).decode()
LIST = f"""
- email: alice@example.com
  password: {USERS["alice@example.com"]}
- email: bob@example.com
  username: Bob
  password: {USERS["bob@example.com"]}
- email: carol@example.com
  hash: "{CAROL_HASH}"
"""


@pytest.fixture(scope="module", params=["ambassador", "forward-auth"])
def gw(stacks, request, tmp_path_factory) -> Stack:
    config = base_config(
        **{"static-users": SECRET_ID, "allowed-emails": "alice@example.com,carol@example.com,user@example.com"}
    )
    stack = Stack(tmp_path_factory.mktemp(f"static-users-{request.param}"), config, gateway_mode=request.param)
    stack.runner.user_secrets = [testing.Secret({"users": LIST}, id=SECRET_ID)]
    stacks.stacks.append(stack)
    return stack.start()


def sign_in(stack: Stack, email: str, password: str) -> requests.Response:
    return form_login.login(requests.Session(), stack.url("/who"), email, password).response


@pytest.mark.parametrize("email", ["alice@example.com", "carol@example.com"])
def test_each_listed_user_signs_in_with_their_own_password(gw: Stack, email: str) -> None:
    page = sign_in(gw, email, USERS[email])
    assert page.status_code == 200, page.text[:300]
    assert Echo.parse(page.text).values(gw.userid_header) == [email]


def test_the_single_static_user_still_signs_in_beside_them(gw: Stack) -> None:
    page = sign_in(gw, gw.username, gw.password)
    assert page.status_code == 200 and Echo.parse(page.text).values(gw.userid_header) == [gw.username]


def test_a_wrong_password_or_another_users_password_does_not_sign_in(gw: Stack) -> None:
    for email, password in (("alice@example.com", USERS["bob@example.com"]), ("carol@example.com", "carols-pw-2")):
        page = sign_in(gw, email, password)
        assert page.status_code != 200 or gw.userid_header not in page.text, page.text[:300]


def test_a_listed_user_outside_allowed_emails_signs_in_and_is_refused_at_the_door(gw: Stack) -> None:
    page = sign_in(gw, "bob@example.com", USERS["bob@example.com"])
    assert page.status_code == 403 and "You are signed in as bob@example.com." in page.text


def test_scripts_get_a_token_for_a_listed_user_with_the_password_grant(gw: Stack) -> None:
    data = {"grant_type": "password", "username": "alice@example.com", "password": USERS["alice@example.com"]}
    answer = requests.post(
        gw.url("/dex/token"), data={**data, "scope": "openid email groups", "client_id": gw.cli_client_id}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    run = requests.get(
        gw.url("/api/v1/runs"),
        headers={"Authorization": f"Bearer {answer.json()['id_token']}", "Accept": "application/json"},
        timeout=10,
    )
    assert run.status_code == 200 and Echo.parse(run.text).values(gw.userid_header) == ["alice@example.com"]


def test_only_hashes_reach_the_dex_config(gw: Stack) -> None:
    text = gw.dex_config_path.read_text()
    assert all(password not in text for password in USERS.values())
    assert CAROL_HASH in text and text.count("$2b$") == 4
