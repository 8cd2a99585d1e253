"""The listener for Istio's ext_authz: every path is a check, the gatekeeper's pages reach the client.

istio-pilot's EnvoyFilter (canonical/istio-operators, charms/istio-pilot/src/manifests/
auth_filter.yaml.j2 at 48a7d11) sends the check to `http://<service>.<namespace>:<port>` with the
original path and no prefix. Envoy lets a request through on exactly 200 and hands any other
status below 500 to the client (ext_authz_http_impl.cc, toResponse). In-process (ASGI).
"""

from __future__ import annotations

import asyncio

import pytest
from gatekeeper_fixtures import asgi, cookie_header, log_in, ready_app

from gatekeeper import request
from gatekeeper.cookies import SESSION_COOKIE

EVERY_PATH = {"GATEKEEPER_CHECK_EVERY_PATH": "true", "GATEKEEPER_OPERATIONS_TOKEN": "t" * 40}
HTML = {"accept": "text/html"}
JSON = {"accept": "application/json"}


def run(dex, scenario, **env):
    async def main():
        app = await ready_app(dex, **{**EVERY_PATH, **env})
        try:
            return await scenario(app)
        finally:
            await app.provider.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/pipeline/runs", request.CHECK),
        ("/", request.CHECK),
        ("/metrics", request.CHECK),
        ("/healthz", request.CHECK),
        ("/readyz/store", request.CHECK),
        ("/revoke-user", request.CHECK),
        ("/authservice/check/x", request.CHECK),
        ("/authservice/forward-auth", request.CHECK),
        ("/authservice/oidc/login", request.LOGIN),
        ("/authservice/oidc/callback", request.CALLBACK),
        ("/authservice/logout", request.LOGOUT),
        ("/authservice/signed-out", request.SIGNED_OUT),
    ],
)
def test_only_the_gatekeepers_own_pages_are_not_checks(path: str, route: str) -> None:
    router = request.EveryPathRouter("/authservice")
    assert router.route(path) == route
    if route == request.CHECK:
        assert router.checked_path(path) == path


def test_an_unauthenticated_browser_is_sent_to_log_in_and_an_api_call_refused(dex):
    async def scenario(app):
        browser = await asgi(app, "GET", "/pipeline/runs?x=1", HTML)
        api = await asgi(app, "GET", "/pipeline/runs", JSON)
        return browser, api

    browser, api = run(dex, scenario)
    assert browser.status == 302 and "/dex/auth?" in (browser.header("location") or "")
    assert api.status == 401


def test_operations_paths_are_checked_like_any_other_never_served(dex):
    """A public `GET /metrics` through the gateway must not be let through as a 200 from the gatekeeper."""

    async def scenario(app):
        return [await asgi(app, method, path, JSON) for method, path in (("GET", "/metrics"), ("GET", "/healthz"))] + [
            await asgi(app, "POST", "/revoke-user", {"authorization": "Bearer " + "t" * 40, **JSON}, b'{"user": "a"}')
        ]

    answers = run(dex, scenario)
    assert [a.status for a in answers] == [401, 401, 401]
    assert all(b"gatekeeper_" not in a.body for a in answers)


def test_a_session_passes_on_any_path_with_the_identity(dex):
    async def scenario(app):
        callback = await log_in(app, dex, path="/pipeline/runs", email="alice@example.com")
        cookie = {"cookie": cookie_header({SESSION_COOKIE: callback.set_cookies()[SESSION_COOKIE]})}
        return callback, await asgi(app, "GET", "/jupyter/lab", cookie)

    callback, checked = run(dex, scenario)
    assert callback.status == 302  # the callback, answered through a check, sets the cookie and redirects
    assert checked.status == 200 and checked.header("kubeflow-userid") == "alice@example.com"


def test_a_page_is_sent_as_203_so_envoy_hands_it_to_the_client(dex):
    async def scenario(app):
        return await asgi(app, "GET", "/authservice/signed-out", HTML)

    page = run(dex, scenario)
    assert page.status == 203 and b"<html" in page.body.lower()


def test_the_listener_for_ambassador_is_unchanged(dex):
    async def scenario(app):
        return await asgi(app, "GET", "/authservice/signed-out", HTML), await asgi(app, "GET", "/healthz")

    page, health = run(dex, scenario, GATEKEEPER_CHECK_EVERY_PATH="false")
    assert page.status == 200 and health.status == 200
