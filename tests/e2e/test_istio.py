"""Behind Charmed Kubeflow's Istio: the gateway built the way istio-pilot builds Envoy from our data.

The charm is related to istio-pilot on `ingress` and `ingress-auth`; the harness reads what it
wrote as istio-pilot does (harness/istio_pilot.py) and configures the Envoy emulation with the
VirtualService for Dex, one for the app under `/app/` (as another charm's ingress), and the
EnvoyFilter's ext_authz pointing at the charm's every-path listener. No route covers
`/authservice`, and none covers `/`: the gatekeeper's pages must work under Dex's route.
"""

from __future__ import annotations

import pytest
import requests
from harness import form_login
from harness.stack import ISTIO_APP_PREFIX, Stack
from harness.upstream import Echo
from playwright.sync_api import sync_playwright
from test_browser import CHROMIUM, CHROMIUM_ARGS

APP = ISTIO_APP_PREFIX + "pipeline/runs"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def istio(stacks) -> Stack:
    return stacks.start(gateway_mode="istio", name="istio")


def logged_in(stack: Stack) -> tuple[requests.Session, form_login.FlowResult]:
    session = requests.Session()
    result = form_login.login(session, stack.url(APP), stack.username or "", stack.password or "")
    assert result.response.status_code == 200, result.describe()
    return session, result


def test_a_browser_logs_in_and_the_app_gets_the_identity(istio):
    _, result = logged_in(istio)
    hops = [hop.url for hop in result.hops]
    assert any("/dex/authservice/oidc/callback" in url for url in hops), result.describe()
    assert result.response.url == istio.url(APP)
    echo = Echo.parse(result.response.text)
    assert echo.values("kubeflow-userid") == [istio.username]
    assert echo.path == APP


def test_an_api_call_without_credentials_is_refused_and_a_bearer_id_token_passes(istio):
    assert requests.get(istio.url(APP), headers=JSON, timeout=10).status_code == 401
    token = istio.password_grant().json()["id_token"]
    answer = requests.get(istio.url(APP), headers={"Authorization": f"Bearer {token}", **JSON}, timeout=10)
    assert answer.status_code == 200
    assert Echo.parse(answer.text).values("kubeflow-userid") == [istio.username]


def test_an_identity_header_sent_by_the_client_never_reaches_the_app(istio):
    session, _ = logged_in(istio)
    forged = {"kubeflow-userid": "admin@example.com", "kubeflow-groups": "admins"}
    echo = Echo.parse(session.get(istio.url(APP), headers=forged, timeout=10).text)
    assert echo.values("kubeflow-userid") == [istio.username]
    assert "admins" not in echo.values("kubeflow-groups")
    refused = requests.get(istio.url(APP), headers={**forged, **JSON}, timeout=10)
    assert refused.status_code == 401


def test_operations_paths_are_checks_on_the_every_path_listener(istio):
    """A public `/app/metrics` is checked like any path; the listener itself serves no metrics."""
    assert requests.get(istio.url(ISTIO_APP_PREFIX + "metrics"), headers=JSON, timeout=10).status_code == 401
    direct = requests.get(f"http://127.0.0.1:{istio.ports.ext_authz}/metrics", headers=JSON, timeout=10)
    assert direct.status_code == 401 and b"gatekeeper_" not in direct.content


def test_logout_under_dexs_route_shows_the_page_and_ends_the_session(istio):
    session, _ = logged_in(istio)
    cookie = session.cookies["authservice_session"]
    out = session.get(istio.url("/dex/authservice/logout"), headers=form_login.BROWSER_HEADERS, timeout=10)
    assert out.status_code == 203, out.text[:300]  # the signed-out page, through Envoy's deny path
    assert "signed out" in out.text.lower()
    again = requests.get(istio.url(APP), cookies={"authservice_session": cookie}, headers=JSON, timeout=10)
    assert again.status_code == 401


def test_paths_without_a_route_are_not_served(istio):
    """Envoy checks only routed requests; the Ambassador-style paths have no route behind Istio."""
    assert requests.get(istio.url("/authservice/oidc/login"), timeout=10).status_code == 404
    assert requests.get(istio.url("/elsewhere"), timeout=10).status_code == 404


def test_a_person_in_chromium_logs_in_and_out_behind_istio(istio):
    """Headless Debian Chromium: the login form, the callback and the signed-out page, all
    answered through Envoy's ext_authz as Istio would run it."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context().new_page()
            page.goto(istio.url(APP))
            assert page.url.startswith(istio.issuer + "/") and page.locator("#login").count() == 1, page.url
            page.fill("#login", istio.username or "")
            page.fill("#password", istio.password or "")
            page.click("#submit-login")
            page.wait_for_url(istio.url(APP))
            assert Echo.parse(page.content()).values("kubeflow-userid") == [istio.username]
            page.goto(istio.url("/dex/authservice/logout"))
            assert "/dex/authservice/signed-out" in page.url and "signed out" in page.content().lower()
            page.goto(istio.url(APP))
            assert page.url.startswith(istio.issuer + "/"), page.url  # the session is gone: back to Dex
        finally:
            browser.close()
