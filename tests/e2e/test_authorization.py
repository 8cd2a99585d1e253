"""allowed-emails and allowed-groups through the gateway, in both check styles: the 403 page a
browser gets after signing in as someone not let in, its Sign out button, the 403 JSON an API
caller gets, sessions let in by address or group, skip-auth paths open to all, the audit line,
and a change of the lists applying to sessions already issued."""

from __future__ import annotations

import re
from html import unescape

import pytest
import requests
from harness import form_login
from harness.configs import base_config
from harness.stack import Stack
from harness.upstream import Echo

from gatekeeper.config import parse_session_keys
from gatekeeper.cookies import SESSION_COOKIE
from gatekeeper.sessions import SessionCodec

pytestmark = pytest.mark.e2e

LISTS = {"allowed-emails": "boss@corp.example,*@research.example", "allowed-groups": "admins"}
API = {"Accept": "application/json"}


@pytest.fixture(scope="module", params=["ambassador", "forward-auth"])
def gw(stacks, request) -> Stack:
    return stacks.start(base_config(**LISTS, **{"skip-auth-paths": "/public"}), request.param, name=request.param)


def session_for(stack: Stack, **identity) -> str:
    """A session signed with the key the charm gave the gatekeeper, as a login would issue it."""
    keys = parse_session_keys("GATEKEEPER_SESSION_KEYS", stack.env["GATEKEEPER_SESSION_KEYS"])
    return SessionCodec(keys, 3600).issue(sub="sub", **identity)[0]


def test_a_browser_signed_in_as_someone_not_let_in_gets_a_page_naming_them_and_can_sign_out(gw: Stack) -> None:
    browser = requests.Session()
    done = form_login.login(browser, gw.url("/notebooks/"), gw.username, gw.password)
    page = done.response
    assert page.status_code == 403, done.describe()
    assert page.headers["content-type"].startswith("text/html")
    assert f"You are signed in as {gw.username}." in unescape(page.text)
    sign_out = unescape(re.search(r'<a class="button" href="([^"]+)">Sign out</a>', page.text)[1])
    assert sign_out == gw.url("/authservice/logout")
    out = form_login.follow(browser, "GET", sign_out, hops := [])
    assert out.status_code == 200 and "You are signed out" in out.text, hops
    assert SESSION_COOKIE not in browser.cookies
    again = browser.get(gw.url("/notebooks/"), allow_redirects=False, timeout=10)
    assert again.status_code == 302  # a sign-in again, where another account may be used


def test_an_api_caller_not_let_in_gets_403_json_and_the_refusal_is_logged(gw: Stack) -> None:
    id_token = gw.password_grant().json()["id_token"]
    answer = requests.get(gw.url("/api/v1/runs"), headers={"Authorization": f"Bearer {id_token}", **API}, timeout=10)
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "forbidden",
        "reason": "signed in, but not as a user or group allowed here",
        "user": gw.username,
        "logout": gw.url("/authservice/logout"),
    }
    lines = [line for line in gw.logs().get("gatekeeper.log", "").splitlines() if '"event": "forbidden"' in line]
    assert lines and all(f'"user": "{gw.username}"' in line for line in lines), lines[-3:]


@pytest.mark.parametrize(
    "identity",
    [
        {"user": "boss@corp.example", "groups": (), "email": "Boss@Corp.Example"},
        {"user": "ann@research.example", "groups": (), "email": "ann@research.example"},
        {"user": "ops", "groups": ("admins",), "email": ""},
    ],
)
def test_a_listed_address_domain_or_group_passes_with_its_identity(gw: Stack, identity) -> None:
    cookie = {SESSION_COOKIE: session_for(gw, **identity)}
    answer = requests.get(gw.url("/api/v1/runs"), cookies=cookie, headers=API, timeout=10)
    assert answer.status_code == 200, answer.text
    assert Echo.parse(answer.text).values(gw.userid_header) == [identity["user"]]


@pytest.mark.parametrize(
    "identity",
    [
        {"user": "x", "groups": ("Admins", "ml"), "email": "boss@corp.example.evil"},
        {"user": "x", "groups": (), "email": "boss@evil@corp.example"},
        {"user": "x", "groups": (), "email": "x@sub.research.example"},
        {"user": "x", "groups": (), "email": "\u212aboss@corp.example"},
    ],
)
def test_look_alikes_of_the_lists_are_refused(gw: Stack, identity) -> None:
    cookie = {SESSION_COOKIE: session_for(gw, **identity)}
    answer = requests.get(gw.url("/api/v1/runs"), cookies=cookie, headers=API, timeout=10)
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"


def test_skip_auth_paths_stay_open_to_someone_not_let_in(gw: Stack) -> None:
    cookie = {SESSION_COOKIE: session_for(gw, user="x", groups=(), email="x@else.example")}
    answer = requests.get(gw.url("/public/readme"), cookies=cookie, headers=API, timeout=10)
    assert answer.status_code == 200 and not any(Echo.parse(answer.text).values(gw.userid_header))


def test_a_change_of_the_lists_applies_to_sessions_already_issued(stacks) -> None:
    stack = stacks.start(base_config(**LISTS), "forward-auth", name="change")
    browser = requests.Session()
    assert form_login.login(browser, stack.url("/kept"), stack.username, stack.password).response.status_code == 403
    stack.reconfigure(base_config(**{**LISTS, "allowed-emails": f"{stack.username},*@research.example"}))
    answer = browser.get(stack.url("/kept"), headers=API, timeout=10)
    assert answer.status_code == 200 and Echo.parse(answer.text).values(stack.userid_header) == [stack.username]
    stack.reconfigure(base_config(**LISTS))
    assert browser.get(stack.url("/kept"), headers=API, timeout=10).status_code == 403
