import asyncio
import time

import pytest
from gatekeeper_fixtures import ready_app

from gatekeeper import request
from gatekeeper.errors import TokenError
from gatekeeper.request import bearer_token, is_api_call


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("BEARER abc", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(value, expected):
    assert bearer_token(value) == expected


@pytest.mark.parametrize(
    "method, accept, xrw, sfm, authz, api",
    [
        ("GET", None, None, None, False, False),  # curl, plain links
        ("GET", "*/*", None, None, False, False),
        ("GET", "text/html,application/xhtml+xml", None, "navigate", False, False),
        ("GET", "application/json, text/html", None, None, False, False),
        ("GET", "application/json", None, None, False, True),
        ("GET", "application/vnd.api+json", None, None, False, True),
        ("GET", "text/html", "XMLHttpRequest", None, False, True),
        ("GET", "text/html", None, "cors", False, True),
        ("GET", "text/html", None, "no-cors", False, True),
        ("GET", None, None, None, True, True),
        ("POST", "text/html", None, None, False, True),
        ("POST", "text/html", None, "navigate", False, False),  # a form post from a page
        ("HEAD", None, None, None, False, False),
    ],
)
def test_api_call_detection(method, accept, xrw, sfm, authz, api):
    assert is_api_call(method, accept, xrw, sfm, authz) is api


def test_verified_tokens_are_cached_and_expire(dex):
    async def scenario():
        app = await ready_app(dex)
        try:
            token = dex.id_token(exp=int(time.time()) + 2)
            entry = await app.auth.verify(token, time.time())
            assert app.cache.get(token) is entry
            fetches = dex.jwks_fetches
            assert await app.auth.verify(token, time.time()) is entry and dex.jwks_fetches == fetches
            with pytest.raises(TokenError) as info:
                await app.auth.verify(token, time.time() + 5)
            assert info.value.reason == "expired" and app.cache.get(token) is None
            app.revoked.revoke(entry.revocation_key, entry.exp + 100)
            with pytest.raises(TokenError) as info:
                await app.auth.verify(token, time.time())
            assert info.value.reason == "revoked"
        finally:
            await app.provider.aclose()

    asyncio.run(scenario())


def test_bearer_wins_but_a_bad_bearer_falls_back_to_the_cookie(dex):
    async def scenario():
        app = await ready_app(dex)
        try:
            session, _ = app.codec.issue(user="cookie@x", groups=(), sub="s")
            entry = await app.auth.authenticate(dex.id_token(email="bearer@x"), [session], time.time())
            assert entry.user == "bearer@x"
            entry = await app.auth.authenticate("garbage", [session], time.time())
            assert entry.user == "cookie@x"
            with pytest.raises(TokenError) as info:
                await app.auth.authenticate("garbage", ["also-garbage"], time.time())
            assert info.value.reason == "malformed"
            with pytest.raises(TokenError) as info:
                await app.auth.authenticate(None, [], time.time())
            assert info.value.reason == "no_credentials"
        finally:
            await app.provider.aclose()

    asyncio.run(scenario())


def _check_request(path="/x", headers=None, style="envoy"):
    headers = headers or {}
    if style == "envoy":
        return request.build(request.CHECK, "GET", path, "", headers)
    return request.build(request.FORWARD_AUTH, "GET", "", "", {**headers, "x-forwarded-uri": path})


@pytest.mark.parametrize("style", ["envoy", "forward-auth"])
def test_decide_gives_one_decision_per_check_whatever_its_style(dex, style):
    async def scenario():
        app = await ready_app(dex, GATEKEEPER_SKIP_AUTH_PATHS="/public")
        try:
            token, _ = app.codec.issue(user="u@x", groups=("g",), sub="s")
            cookie = {"cookie": f"authservice_session={token}"}
            decisions = {}
            for name, req in {
                "allowed": _check_request("/x", cookie, style),
                "skipped": _check_request("/public/a", cookie, style),
                "lookalike": _check_request("/x", {**cookie, "kubeflow_userid": "admin"}, style),
                "api": _check_request("/x", {"accept": "application/json"}, style),
                "browser": _check_request("/x", {"accept": "text/html"}, style),
            }.items():
                decision = await app.check.decide(req)
                decisions[name] = (decision.outcome, decision.response.status)
            return decisions
        finally:
            await app.provider.aclose()

    assert asyncio.run(scenario()) == {
        "allowed": ("allowed", 200),
        "skipped": ("skipped", 200),
        "lookalike": ("bad_request", 400),
        "api": ("unauthorized", 401),
        "browser": ("redirected", 302),
    }


def test_cached_answers_only_a_verified_unrevoked_token_with_nothing_to_look_at(dex):
    async def scenario():
        app = await ready_app(dex, GATEKEEPER_SKIP_AUTH_PATHS="/public")
        try:
            token, _ = app.codec.issue(user="u@x", groups=(), sub="s")
            cookie = {"cookie": f"authservice_session={token}"}
            assert app.check.cached(_check_request("/x", cookie)) is None  # not verified yet
            entry = await app.auth.verify(token, time.time())
            assert app.check.cached(_check_request("/x", cookie)) is entry
            assert app.check.cached(_check_request("/x", cookie, "forward-auth")) is entry
            assert app.check.cached(_check_request("/public/x", cookie)) is None  # skip-auth: the thorough path
            assert app.check.cached(_check_request("/x", {**cookie, "kubeflow_groups": ""})) is None
            app.revoked.revoke(entry.revocation_key, entry.exp)
            assert app.check.cached(_check_request("/x", cookie)) is None
        finally:
            await app.provider.aclose()

    asyncio.run(scenario())
