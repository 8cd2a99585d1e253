"""The four flows of the design, bearer tokens, logout, parallel logins, Dex down, lost state:
all through Caddy-as-Ambassador, the gatekeeper and the Dex stand-in, as the charm rendered them."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from harness import form_login
from harness.stack import Stack
from harness.upstream import Echo

pytestmark = pytest.mark.e2e

API = {"Accept": "application/json"}


def password_grant(stack: Stack, scope: str = "openid email groups profile") -> dict:
    """What the README tells scripts to do: the password grant with the CLI client at Dex."""
    answer = requests.post(
        stack.url("/dex/token"),
        data={
            "grant_type": "password",
            "username": stack.username,
            "password": stack.password,
            "scope": scope,
            "client_id": stack.cli_client_id,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def session_cookie(session: requests.Session) -> str:
    values = [c.value for c in session.cookies if c.name == "authservice_session"]
    assert len(values) == 1, [c.name for c in session.cookies]
    return values[0]


# --- flow 1: unauthenticated ------------------------------------------------------------------


def test_browser_without_session_is_sent_to_dex_with_state_nonce_and_pkce(stack: Stack) -> None:
    answer = requests.get(
        stack.url("/pipeline/runs?page=2"), headers=form_login.BROWSER_HEADERS, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == stack.issuer + "/auth"
    query = parse_qs(location.query)
    assert query["client_id"] == [stack.client_id]
    assert query["redirect_uri"] == [stack.url(f"{stack.prefix}/oidc/callback")]
    assert query["code_challenge_method"] == ["S256"]
    for name in ("state", "nonce", "code_challenge"):
        assert len(query[name][0]) >= 22, name
    # One browser-bound login cookie; the attempt itself travels in the signed state.
    assert [c.name for c in answer.cookies] == ["authservice_login"]
    assert answer.cookies["authservice_login"] not in answer.headers["Location"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json"},
        {"X-Requested-With": "XMLHttpRequest", "Accept": "*/*"},
        {"Sec-Fetch-Mode": "cors", "Accept": "*/*"},
        {"Authorization": "Bearer not-a-token"},
    ],
    ids=["json", "xhr", "fetch", "bad-bearer"],
)
def test_api_call_without_session_gets_401_and_no_cookie(stack: Stack, headers: dict) -> None:
    answer = requests.get(stack.url("/api/v1/things"), headers=headers, allow_redirects=False, timeout=10)
    assert answer.status_code == 401, answer.text
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Set-Cookie" not in answer.headers
    assert answer.json()["error"]


# --- flows 2-4: log in, come back, go upstream with the identity ------------------------------


def test_login_lands_on_the_page_first_asked_for_and_upstream_sees_the_user(stack: Stack) -> None:
    session = requests.Session()
    result = form_login.login(session, stack.url("/notebooks/lab?tab=2"), stack.username, stack.password)
    assert result.response.status_code == 200, result.describe()
    assert result.hops[-1].url == stack.url("/notebooks/lab?tab=2"), result.describe()
    echo = Echo.parse(result.response.text)
    assert echo.path == "/notebooks/lab?tab=2"
    assert echo.values(stack.userid_header) == [stack.username]
    # The browser holds its login cookie (for other tabs) and the session cookie, a JWT.
    ours = sorted(c.name for c in session.cookies if c.name.startswith("authservice"))
    assert ours == ["authservice_login", "authservice_session"]
    assert session_cookie(session).count(".") == 2


def test_session_cookie_attributes(stack: Stack) -> None:
    session = requests.Session()
    hops: list[form_login.Hop] = []
    page, form = form_login.open_login_page(session, stack.url("/"), hops)
    data = {**form.fields, "login": stack.username, "password": stack.password}
    answer = session.post(page.url, data=data, allow_redirects=False, timeout=10)
    for _ in range(5):  # up to the gatekeeper's callback answer
        if f"{stack.prefix}/oidc/callback" in answer.url:
            break
        answer = session.get(
            requests.compat.urljoin(answer.url, answer.headers["Location"]), allow_redirects=False, timeout=10
        )
    set_cookie = [v for k, v in answer.raw.headers.items() if k.lower() == "set-cookie"]
    session_line = next(v for v in set_cookie if v.startswith("authservice_session="))
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in session_line.split(";")[1:]}
    assert "httponly" in flags
    assert flags["samesite"].lower() == "samesite=lax"
    assert flags["path"] == "Path=/"
    assert "secure" not in flags  # plain-http public URL: the charm turns Secure off


def test_authenticated_request_keeps_method_path_query_and_body(stack: Stack, login) -> None:
    session = login("/")
    answer = session.post(
        stack.url("/api/runs/%7Bid%7D?x=1&y=two"),
        data=b'{"a": 1}',
        headers={"Content-Type": "application/json", **API},
        timeout=10,
    )
    assert answer.status_code == 200
    echo = Echo.parse(answer.text)
    assert (echo.method, echo.path, echo.body) == ("POST", "/api/runs/%7Bid%7D?x=1&y=two", '{"a": 1}')
    assert echo.values(stack.userid_header) == [stack.username]


def test_reload_with_session_needs_no_new_login(stack: Stack, login) -> None:
    session = login("/a")
    for path in ("/a", "/b", "/c?d=e"):
        answer = session.get(stack.url(path), headers=form_login.BROWSER_HEADERS, allow_redirects=False, timeout=10)
        assert answer.status_code == 200, (path, answer.status_code, answer.headers.get("Location"))


# --- scripts: bearer tokens -------------------------------------------------------------------


def test_bearer_id_token_from_the_password_grant_reaches_upstream_as_the_user(stack: Stack) -> None:
    tokens = password_grant(stack)
    answer = requests.get(
        stack.url("/pipeline/apis/v2beta1/runs"), headers={"Authorization": f"Bearer {tokens['id_token']}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert Echo.parse(answer.text).values(stack.userid_header) == [stack.username]


def test_session_jwt_works_as_bearer_token_like_kfp_existing_token(stack: Stack, login) -> None:
    cookie = session_cookie(login("/"))
    answer = requests.get(stack.url("/pipeline/"), headers={"Authorization": f"Bearer {cookie}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert Echo.parse(answer.text).values(stack.userid_header) == [stack.username]


def test_kfp_style_cookies_argument_works(stack: Stack, login) -> None:
    cookie = session_cookie(login("/"))
    answer = requests.get(stack.url("/pipeline/"), cookies={"authservice_session": cookie}, headers=API, timeout=10)
    assert answer.status_code == 200, answer.text


def test_device_flow_through_the_real_verification_pages(stack: Stack) -> None:
    start = requests.post(
        stack.url("/dex/device/code"),
        data={"client_id": stack.cli_client_id, "scope": "openid email groups"},
        timeout=10,
    )
    assert start.status_code == 200, start.text
    device = start.json()
    browser = requests.Session()
    hops: list[form_login.Hop] = []
    page = form_login.follow(browser, "GET", device["verification_uri_complete"], hops)
    for _ in range(3):  # the code page, then the confirmation page, then Dex's login form
        found = form_login.forms(page.text)
        login_form = next((f for f in found if "password" in f.fields), None)
        if login_form is not None or not found:
            break
        page = form_login.follow(
            browser, "POST", requests.compat.urljoin(page.url, found[0].action), hops, data=found[0].fields
        )
    assert login_form is not None, page.text[:1000]
    done = form_login.submit_login(browser, page, login_form, stack.username, stack.password, hops)
    assert done.response.status_code == 200, done.describe()
    token = requests.post(
        stack.url("/dex/token"),
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": device["device_code"],
            "client_id": stack.cli_client_id,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    answer = requests.get(stack.url("/x"), headers={"Authorization": f"Bearer {token.json()['id_token']}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert Echo.parse(answer.text).values(stack.userid_header) == [stack.username]


# --- logout -----------------------------------------------------------------------------------


def test_logout_clears_the_cookie_and_a_replay_is_refused(stack: Stack, login) -> None:
    session = login("/")
    stolen = session_cookie(session)
    answer = session.get(
        stack.url(f"{stack.prefix}/logout"), headers=form_login.BROWSER_HEADERS, allow_redirects=False, timeout=10
    )
    assert answer.status_code in (302, 303)
    assert urlsplit(answer.headers["Location"]).netloc == urlsplit(stack.public_url).netloc
    assert not [c for c in session.cookies if c.name == "authservice_session"]
    replay = requests.get(stack.url("/x"), cookies={"authservice_session": stolen}, headers=API, timeout=10)
    assert replay.status_code == 401, replay.text
    bearer = requests.get(stack.url("/x"), headers={"Authorization": f"Bearer {stolen}"}, timeout=10)
    assert bearer.status_code == 401
    # and the next visit shows Dex's login form again (Dex keeps no login session)
    form_login.open_login_page(session, stack.url("/after-logout"))


def test_logout_by_post_with_bearer_revokes_the_session_jwt(stack: Stack, login) -> None:
    token = session_cookie(login("/"))
    answer = requests.post(
        stack.url(f"{stack.prefix}/logout"), headers={"Authorization": f"Bearer {token}", **API}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert requests.get(stack.url("/x"), headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401


def test_a_logout_survives_a_gatekeeper_restart(stack: Stack, login) -> None:
    stolen = session_cookie(login("/"))
    answer = requests.post(
        stack.url(f"{stack.prefix}/logout"), headers={"Authorization": f"Bearer {stolen}", **API}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    stack.stop_gatekeeper()  # what Pebble does when the charm changes the gatekeeper's settings
    stack.start_gatekeeper()
    replay = requests.get(stack.url("/x"), cookies={"authservice_session": stolen}, headers=API, timeout=10)
    assert replay.status_code == 401, replay.text
    assert login("/").get(stack.url("/x"), headers=API, timeout=10).status_code == 200


# --- no dead ends -----------------------------------------------------------------------------


def test_two_tabs_logging_in_at_once_both_succeed(stack: Stack) -> None:
    browser = requests.Session()  # one cookie jar, two tabs
    tab1_page, tab1_form = form_login.open_login_page(browser, stack.url("/tab/one"))
    tab2_page, tab2_form = form_login.open_login_page(browser, stack.url("/tab/two"))
    first = form_login.submit_login(browser, tab2_page, tab2_form, stack.username, stack.password)
    second = form_login.submit_login(browser, tab1_page, tab1_form, stack.username, stack.password)
    assert Echo.parse(first.response.text).path == "/tab/two", first.describe()
    assert Echo.parse(second.response.text).path == "/tab/one", second.describe()


def test_callback_with_another_browsers_login_cookie_starts_a_fresh_login_for_the_same_page(stack: Stack) -> None:
    browser = requests.Session()
    page, form = form_login.open_login_page(browser, stack.url("/lost/state"))
    [cookie] = [c for c in browser.cookies if c.name == "authservice_login"]
    browser.cookies.set(cookie.name, "x" * 43, domain=cookie.domain, path=cookie.path)  # not this state's browser
    result = form_login.submit_login(browser, page, form, stack.username, stack.password)
    # The callback restarted the login: the browser is back on Dex's form, not on an error page.
    assert "csrf" not in result.response.text.lower()
    assert not [c for c in browser.cookies if c.name == "authservice_session"], result.describe()
    assert any(h.url.startswith(stack.issuer + "/auth") for h in result.hops[2:]), result.describe()
    fresh = [f for f in form_login.forms(result.response.text) if "password" in f.fields]
    assert result.response.status_code == 200 and fresh, result.describe()
    again = form_login.submit_login(browser, result.response, fresh[0], stack.username, stack.password)
    # The page asked for travelled in the signed state: the fresh login lands on it.
    assert again.response.status_code == 200, again.describe()
    assert Echo.parse(again.response.text).path == "/lost/state", again.describe()
    assert Echo.parse(again.response.text).values(stack.userid_header) == [stack.username]


def test_browser_that_keeps_no_cookies_gets_a_page_that_says_so(stack: Stack) -> None:
    class NoCookies(requests.cookies.RequestsCookieJar):
        def set_cookie(self, cookie, *args, **kwargs):  # a browser with cookies blocked
            return None

    browser = requests.Session()
    browser.cookies = NoCookies()
    result = None
    hops: list[form_login.Hop] = []
    response = form_login.follow(browser, "GET", stack.url("/blocked"), hops)
    submitted = 0
    for _ in range(3):  # each time Dex's form comes back, fill it in again (bounded)
        found = [f for f in form_login.forms(response.text) if "password" in f.fields]
        if not found:
            break
        result = form_login.submit_login(browser, response, found[0], stack.username, stack.password, hops)
        response = result.response
        submitted += 1
    assert result is not None, "never reached the login form"
    assert submitted == 1, "the page must come at the first failed round trip"
    assert 400 <= response.status_code < 500, "\n".join(f"{h.method} {h.url} -> {h.status}" for h in hops)
    assert "cookie" in response.text.lower()
    assert "csrf" not in response.text.lower()


def test_error_from_dex_shows_a_page_with_a_retry(stack: Stack) -> None:
    browser = requests.Session()
    first = requests.get(stack.url("/denied"), headers=form_login.BROWSER_HEADERS, allow_redirects=False, timeout=10)
    state = parse_qs(urlsplit(first.headers["Location"]).query)["state"][0]
    browser.cookies.update(first.cookies)
    answer = browser.get(
        stack.url(f"{stack.prefix}/oidc/callback"),
        params={"error": "access_denied", "error_description": "user said no", "state": state},
        headers=form_login.BROWSER_HEADERS,
        allow_redirects=False,
        timeout=10,
    )
    assert 400 <= answer.status_code < 500
    assert "access_denied" in answer.text or "denied" in answer.text.lower()
    assert f"{stack.prefix}/oidc/login" in answer.text  # the retry link


# --- Dex down -----------------------------------------------------------------------------------


def test_dex_down_existing_sessions_keep_working_and_new_logins_get_a_clear_503(stack: Stack, login) -> None:
    session = login("/before")
    tokens = password_grant(stack)
    stack.stop_provider()
    try:
        answer = session.get(stack.url("/during"), headers=API, timeout=10)
        assert answer.status_code == 200, answer.text
        bearer = requests.get(
            stack.url("/during"), headers={"Authorization": f"Bearer {tokens['id_token']}"}, timeout=10
        )
        assert bearer.status_code == 200, bearer.text
        newcomer = requests.get(
            stack.url(f"{stack.prefix}/oidc/login?rd=/x"),
            headers=form_login.BROWSER_HEADERS,
            allow_redirects=False,
            timeout=15,
        )
        # Either discovery is cached (302 to Dex, which then fails at the gateway) or a clear 503.
        assert newcomer.status_code in (302, 503), newcomer.status_code
        if newcomer.status_code == 503:
            assert "Retry-After" in newcomer.headers
        dex = requests.get(stack.url("/dex/.well-known/openid-configuration"), timeout=10)
        assert dex.status_code >= 500
    finally:
        stack.start_provider()
    deadline = time.monotonic() + 20
    while requests.get(f"{stack.gatekeeper_url}/readyz", timeout=2).status_code != 200:
        assert time.monotonic() < deadline, "gatekeeper never became ready again"
        time.sleep(0.2)
    assert login("/after").get(stack.url("/after"), headers=API, timeout=10).status_code == 200


def test_gatekeeper_operations_endpoints_are_not_routed_publicly(stack: Stack) -> None:
    assert requests.get(f"{stack.gatekeeper_url}/healthz", timeout=5).status_code == 200
    metrics = requests.get(f"{stack.gatekeeper_url}/metrics", timeout=5)
    assert metrics.status_code == 200 and "gatekeeper" in metrics.text
    # Through the gateway /metrics is just an upstream path behind the check.
    public = requests.get(stack.url("/metrics"), headers=API, timeout=5)
    assert public.status_code == 401


def test_the_gatekeepers_own_pages_are_served_through_the_gateway_without_a_check(stack: Stack) -> None:
    ready = requests.get(stack.url(f"{stack.prefix}/unavailable?rd=/x%3Fy%3D1"), allow_redirects=False, timeout=10)
    assert ready.status_code == 302 and ready.headers["Location"] == stack.url("/x?y=1")
    page = requests.get(stack.url(f"{stack.prefix}/signed-out"), headers=form_login.BROWSER_HEADERS, timeout=10)
    assert page.status_code == 200 and "You are signed out" in page.text
    assert f'href="{stack.prefix}/oidc/login?rd=/"' in page.text
    out = requests.get(stack.url(f"{stack.prefix}/logout"), headers=API, timeout=10)
    assert out.json() == {"afterLogoutURL": stack.url(f"{stack.prefix}/signed-out")}
