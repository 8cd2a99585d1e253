"""The gatekeeper as granian serves it (RSGI), over real HTTP.

RSGI hands over a percent-decoded path and leaves some headers out of `items()`; these tests
pin what the hot path and the hand-off to the ASGI code make of that.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gatekeeper_fixtures import PUBLIC_URL, FakeDex
from gatekeeper_process import serving


@pytest.fixture(scope="module")
def dex_module() -> Iterator[FakeDex]:
    server = FakeDex().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base(dex_module) -> Iterator[str]:
    with serving(dex_module, GATEKEEPER_SKIP_AUTH_PATHS="/public") as (url, _):
        yield url


@pytest.fixture(scope="module", params=["skip-auth paths", "no skip-auth path"])
def any_base(request, dex_module) -> Iterator[str]:
    """Both hot paths: with skip-auth paths every request is built first; without, a cached
    verdict is looked up from the credential and headers before any request is built."""
    env = {"GATEKEEPER_SKIP_AUTH_PATHS": "/public"} if request.param == "skip-auth paths" else {}
    with serving(dex_module, **env) as (url, _):
        yield url


def log_in(base: str, dex, path: str = "/start", **claims) -> tuple[str, str]:
    """A browser login through the served process; returns (session cookie, where it landed)."""
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        first = client.get("/authservice/check" + path, headers={"Accept": "text/html"})
        assert first.status_code == 302, first.text
        code, state = dex.authorize(first.headers["location"], **claims)
        done = client.get("/authservice/oidc/callback", params={"code": code, "state": state})
        assert done.status_code == 302, done.text
        return client.cookies["authservice_session"], done.headers["location"]


def check(base: str, path: str, cookie: str | None = None, headers=()) -> httpx.Response:
    sent = [(b"accept", b"application/json"), *headers]
    if cookie:
        sent.append((b"cookie", f"authservice_session={cookie}".encode()))
    return httpx.get(base + path, headers=sent)


def test_hot_path_answers_with_the_identity_bytes_of_a_non_ascii_user(any_base, dex_module):
    base = any_base
    cookie, _ = log_in(base, dex_module, email="jöe@example.com", groups=["data-science", "ü-team"])
    for _ in range(2):  # the first answer verifies and caches, the second is the hot path's
        answer = check(base, "/authservice/check/notebooks", cookie)
        assert answer.status_code == 200
        raw = dict(answer.headers.raw)
        assert raw[b"kubeflow-userid"] == "jöe@example.com".encode()
        assert raw[b"kubeflow-groups"] == "data-science,ü-team".encode()


@pytest.mark.parametrize("value", [b"admin@example.com", b"\xe9vil@example.com"])
@pytest.mark.parametrize("style", ["envoy", "forward-auth"])
def test_identity_lookalike_header_is_refused_even_when_rsgi_drops_its_value(any_base, dex_module, value, style):
    base = any_base
    cookie, _ = log_in(base, dex_module)
    path, extra = (
        ("/authservice/check/x", [])
        if style == "envoy"
        else ("/authservice/forward-auth", [(b"x-forwarded-uri", b"/x"), (b"x-forwarded-method", b"GET")])
    )
    assert check(base, path, cookie, extra).status_code == 200  # the verdict is now cached
    answer = check(base, path, cookie, [*extra, (b"kubeflow_userid", value)])
    assert answer.status_code == 400, answer.text
    assert "kubeflow_userid" in answer.json()["reason"]


@pytest.mark.parametrize("style", ["envoy", "forward-auth"])
def test_skip_path_with_a_valid_session_carries_no_identity(base, dex_module, style):
    cookie, _ = log_in(base, dex_module)
    check(base, "/authservice/check/warm", cookie)  # the token is now in the hot path's cache
    if style == "envoy":
        answer = check(base, "/authservice/check/public/docs", cookie)
    else:
        answer = check(base, "/authservice/forward-auth", cookie, [(b"x-forwarded-uri", b"/public/docs")])
    assert answer.status_code == 200
    assert answer.headers["kubeflow-userid"] == "" and answer.headers["kubeflow-groups"] == ""


@pytest.mark.parametrize(
    "target, status",
    [
        ("/public/docs", 200),
        ("/public/a%3Fb", 200),  # an escaped "?" stays part of the path
        ("/publi%63/docs", 200),  # a plain character's escape reads as that character, as the upstream reads it
        ("/public%2F..%2Fadmin", 401),
        ("/public/%2e%2e/admin", 401),
        ("/public/%252e%252e/admin", 401),  # double encoding: refused, not decoded twice
        ("/public/..%5Cadmin", 401),
        ("/public/%0aadmin", 401),
        ("/admin/..%2Fpublic/x", 401),
        ("/publicity", 401),
    ],
)
def test_skip_auth_over_rsgi_reads_envoy_targets_strictly(base, target, status):
    answer = check(base, "/authservice/check" + target)
    assert answer.status_code == status, (target, answer.text)


def test_return_path_keeps_escapes_that_matter(base, dex_module):
    _, landed = log_in(base, dex_module, path="/files/a%3Fb%25c%20d?x=%2F&y=1")
    assert landed == PUBLIC_URL + "/files/a%3Fb%25c%20d?x=%2F&y=1"


def test_session_cookie_in_a_second_cookie_header_is_found(any_base, dex_module):
    base = any_base
    cookie, _ = log_in(base, dex_module)
    answer = httpx.get(
        base + "/authservice/check/x",
        headers=[
            (b"accept", b"application/json"),
            (b"cookie", b"theme=dark"),
            (b"cookie", f"authservice_session={cookie}".encode()),
        ],
    )
    assert answer.status_code == 200 and answer.headers["kubeflow-userid"] == "jane@example.com"


def test_logged_out_token_is_refused_by_the_hot_path(any_base, dex_module):
    base = any_base
    cookie, _ = log_in(base, dex_module)
    assert check(base, "/authservice/check/x", cookie).status_code == 200
    httpx.get(base + "/authservice/logout", cookies={"authservice_session": cookie})
    assert check(base, "/authservice/check/x", cookie).status_code == 401
    forward = check(base, "/authservice/forward-auth", cookie, [(b"x-forwarded-uri", b"/x")])
    assert forward.status_code == 401
