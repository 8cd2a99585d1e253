"""A person in a real browser: headless Debian Chromium driven by Playwright, through the chain."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.configs import base_config
from harness.stack import GATEWAY_MODES, REPO, Stack
from harness.upstream import Echo
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup (Debian package chromium)", pytrace=False)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


class Steps:
    """Screenshots of each step, kept only when the test fails."""

    def __init__(self, page, target: Path):
        self.page, self.target, self.count = page, target, 0
        self.shots: list[tuple[str, bytes]] = []

    def shot(self, name: str) -> None:
        self.count += 1
        self.shots.append((f"{self.count:02d}-{name}.png", self.page.screenshot(full_page=True)))

    def save(self) -> None:
        self.target.mkdir(parents=True, exist_ok=True)
        for name, data in self.shots:
            (self.target / name).write_bytes(data)


def echo_on_page(page) -> Echo:
    return Echo.parse(page.content())


def test_person_logs_in_lands_on_the_page_reloads_logs_out_and_a_tampered_cookie_means_login(
    browser, stack: Stack, artifacts: Path, request: pytest.FixtureRequest
) -> None:
    context = browser.new_context()
    page = context.new_page()
    steps = Steps(page, artifacts / "screenshots")
    try:
        wanted = stack.url("/jupyter/lab/tree?folder=work")
        page.goto(wanted)
        page.wait_for_selector("#login", timeout=10_000)
        assert page.url.startswith(stack.issuer + "/"), page.url
        steps.shot("login-page")

        page.fill("#login", stack.username)
        page.fill("#password", stack.password)
        steps.shot("filled")
        page.click("#submit-login")
        page.wait_for_url(wanted, timeout=10_000)
        steps.shot("landed")
        echo = echo_on_page(page)
        assert echo.path == "/jupyter/lab/tree?folder=work"
        assert echo.values(stack.userid_header) == [stack.username]
        cookie = next(c for c in context.cookies() if c["name"] == "authservice_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
        assert page.inner_text("#user") == stack.username  # the demo app's page: who, then the headers
        assert cookie["value"] not in page.content()  # and never the session cookie itself

        page.reload()
        assert page.url == wanted
        assert echo_on_page(page).values(stack.userid_header) == [stack.username]
        steps.shot("reloaded")

        page.goto(stack.url(f"{stack.prefix}/logout"))
        steps.shot("logged-out")
        assert not [c for c in context.cookies() if c["name"] == "authservice_session"]
        page.goto(stack.url("/after/logout"))
        page.wait_for_selector("#login", timeout=10_000)
        steps.shot("login-again")

        page.fill("#login", stack.username)
        page.fill("#password", stack.password)
        page.click("#submit-login")
        page.wait_for_url(stack.url("/after/logout"), timeout=10_000)
        good = next(c for c in context.cookies() if c["name"] == "authservice_session")
        head, payload, signature = good["value"].split(".")
        tampered = {**good, "value": f"{head}.{payload}.{signature[:-3]}{'AAA' if signature[-3:] != 'AAA' else 'BBB'}"}
        context.add_cookies([{k: tampered[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
        page.goto(stack.url("/tampered"))
        page.wait_for_selector("#login", timeout=10_000)
        steps.shot("tampered-cookie-login")
        assert page.url.startswith(stack.issuer + "/")
    except BaseException:
        try:
            steps.shot("failure")
        finally:
            steps.save()
            (artifacts / "browser-cookies.json").write_text(json.dumps(context.cookies(), indent=2))
        raise
    finally:
        context.close()


def test_wrong_password_shows_dex_error_and_no_session(browser, stack: Stack, artifacts: Path) -> None:
    context = browser.new_context()
    page = context.new_page()
    steps = Steps(page, artifacts / "screenshots")
    try:
        page.goto(stack.url("/private"))
        page.wait_for_selector("#login", timeout=10_000)
        page.fill("#login", stack.username)
        page.fill("#password", "not-the-password")
        page.click("#submit-login")
        page.wait_for_selector("#login-error", timeout=10_000)
        steps.shot("wrong-password")
        assert not [c for c in context.cookies() if c["name"] == "authservice_session"]
    except BaseException:
        steps.save()
        raise
    finally:
        context.close()


# --- issue 12: logins without dead ends, in Chromium, through both gateway styles ---------------

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
MEASUREMENTS = REPO / "test-artifacts" / "login-measurements.json"
TABS = 8


# Behind Istio the pages are under /dex/authservice and the app under /app/ (test_istio.py);
# the Traefik mode is the forward-auth one fed from relation data (test_traefik.py).
@pytest.fixture(scope="module", params=[mode for mode in GATEWAY_MODES if mode not in ("istio", "traefik")])
def styled(stacks, request: pytest.FixtureRequest) -> Stack:
    """A stack of its own per gateway style: these tests stop and restart its processes."""
    return stacks.start(base_config(), request.param, name=f"browser-{request.param}")


def screenshot(page, name: str, stack: Stack) -> None:
    """Kept whatever the outcome: the report lists these pages."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{stack.gateway_mode}.png"), full_page=True)


def login_cookies(context) -> list[dict]:
    """What the gatekeeper keeps in the browser for sign-ins in progress (old design: authservice_state_*)."""
    return [c for c in context.cookies() if c["name"].startswith("authservice_") and c["name"] != "authservice_session"]


def sign_in(page, stack: Stack) -> None:
    page.fill("#login", stack.username)
    page.fill("#password", stack.password)
    page.click("#submit-login")


def on_login_form(page, stack: Stack) -> bool:
    return page.url.startswith(stack.issuer + "/") and page.locator("#login").count() == 1


def record(key: str, value: float) -> None:
    """Numbers the report quotes (login cookies held with 8 tabs, seconds to the login after Dex is back)."""
    found = json.loads(MEASUREMENTS.read_text()) if MEASUREMENTS.exists() else {}
    found[key] = value
    MEASUREMENTS.parent.mkdir(parents=True, exist_ok=True)
    MEASUREMENTS.write_text(json.dumps(found, indent=2, sort_keys=True))


def tab_order(order: str) -> list[int]:
    if order == "oldest-first":
        return list(range(TABS))
    if order == "newest-first":
        return list(reversed(range(TABS)))
    shuffled = list(range(TABS))
    random.Random(12).shuffle(shuffled)
    return shuffled


@pytest.mark.parametrize("order", ["oldest-first", "newest-first", "random"])
def test_eight_tabs_each_end_on_their_own_page_with_one_password_entry(browser, styled: Stack, order: str) -> None:
    context = browser.new_context()
    try:
        wanted = [styled.url(f"/tab/{i}/{order}?n={i}") for i in range(TABS)]
        tabs = []
        for url in wanted:
            tab = context.new_page()
            tab.goto(url)
            tab.wait_for_selector("#login", timeout=10_000)
            tabs.append(tab)
        held = login_cookies(context)
        record(f"login cookies with {TABS} tabs, {styled.gateway_mode}, {order}", len(held))
        assert [c["name"] for c in held] == ["authservice_login"], held
        entries = 0
        for i in tab_order(order):
            tab = tabs[i]
            if on_login_form(tab, styled):  # at most one entry per tab: no second form is ever filled
                sign_in(tab, styled)
                entries += 1
            tab.wait_for_url(wanted[i], timeout=10_000)
            echo = echo_on_page(tab)
            assert echo.path == f"/tab/{i}/{order}?n={i}"
            assert echo.values(styled.userid_header) == [styled.username]
        record(f"password entries for {TABS} tabs, {styled.gateway_mode}, {order}", entries)
        assert [c["name"] for c in login_cookies(context)] == ["authservice_login"]
    finally:
        context.close()


def test_a_form_completed_after_the_clock_moved_30_minutes_lands_on_its_page(browser, styled: Stack) -> None:
    context = browser.new_context()
    wanted = styled.url("/long/form?left=open")
    try:
        page = context.new_page()
        page.goto(wanted)
        page.wait_for_selector("#login", timeout=10_000)
        styled.stop_gatekeeper()  # a restart too: nothing of the attempt lived in the process
        styled.start_gatekeeper(extra_env={"GATEKEEPER_TEST_CLOCK_OFFSET": "1800"})
        sign_in(page, styled)
        page.wait_for_url(wanted, timeout=10_000)
        assert echo_on_page(page).values(styled.userid_header) == [styled.username]
        # Past login-timeout (24 h) the same steps start over for the same page: the offset is real.
        late = context.new_page()
        late_url = styled.url("/very/late")
        context.clear_cookies(name="authservice_session")
        late.goto(late_url)
        late.wait_for_selector("#login", timeout=10_000)
        styled.stop_gatekeeper()
        styled.start_gatekeeper(extra_env={"GATEKEEPER_TEST_CLOCK_OFFSET": str(86400 + 1800 + 60)})
        sign_in(late, styled)
        late.wait_for_selector("#login", timeout=10_000)
        assert on_login_form(late, styled), late.url
        sign_in(late, styled)
        late.wait_for_url(late_url, timeout=10_000)
    finally:
        context.close()
        styled.stop_gatekeeper()
        styled.start_gatekeeper()


def test_a_state_from_another_browser_or_used_already_gives_no_session(browser, styled: Stack) -> None:
    first, second = browser.new_context(), browser.new_context()
    wanted = styled.url("/first/browser")
    try:
        page = first.new_page()
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url) if f"{styled.prefix}/oidc/callback" in r.url else None)
        page.goto(wanted)
        page.wait_for_selector("#login", timeout=10_000)
        sign_in(page, styled)
        page.wait_for_url(wanted, timeout=10_000)
        [callback] = seen  # its code and state, now used
        other = second.new_page()
        other.goto(styled.url("/second/browser"))  # its own sign-in: its own login cookie
        other.wait_for_selector("#login", timeout=10_000)
        other.goto(callback)
        other.wait_for_selector("#login", timeout=10_000)
        assert on_login_form(other, styled), other.url
        assert not [c for c in second.cookies() if c["name"] == "authservice_session"]
        first.clear_cookies(name="authservice_session")
        page.goto(callback)  # replayed in its own browser: no session, a fresh login
        page.wait_for_selector("#login", timeout=10_000)
        assert on_login_form(page, styled), page.url
        assert not [c for c in first.cookies() if c["name"] == "authservice_session"]
        sign_in(page, styled)  # and that fresh login returns to the page of the replayed state
        page.wait_for_url(wanted, timeout=10_000)
    finally:
        first.close()
        second.close()


def test_gatekeeper_started_with_the_provider_down_shows_our_page_then_the_login(browser, styled: Stack) -> None:
    context = browser.new_context()
    wanted = styled.url("/wanted/page?x=1")
    try:
        styled.stop_provider()
        styled.stop_gatekeeper()
        styled.start_gatekeeper(wait_ready=False)
        page = context.new_page()
        answer = page.goto(wanted)
        assert answer is not None and answer.status == 503, answer.status if answer else None  # not Envoy's 403
        assert page.url.startswith(styled.url(f"{styled.prefix}/unavailable?rd=")), page.url
        assert "Sign-in is not available yet" in page.content()
        screenshot(page, "unavailable", styled)
        styled.start_provider()  # returns once its discovery answers
        started = time.monotonic()
        page.wait_for_selector("#login", timeout=10_000)
        elapsed = time.monotonic() - started
        record(f"seconds from the provider answering to the login form, {styled.gateway_mode}", round(elapsed, 2))
        assert elapsed <= 5.0, f"the login form came {elapsed:.1f}s after the provider answered"
        sign_in(page, styled)
        page.wait_for_url(wanted, timeout=10_000)
    finally:
        context.close()
        if not styled.processes.processes["provider"].running():
            styled.start_provider()


def test_a_hundred_background_calls_without_a_session_add_no_cookie(browser, styled: Stack) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(styled.url("/app/with/background/calls"))
        page.wait_for_selector("#login", timeout=10_000)
        before = sorted((c["name"], c["value"]) for c in context.cookies())
        statuses = page.evaluate(
            """async () => {
                const out = [];
                for (let i = 0; i < 50; i++) {
                    out.push((await fetch('/api/poll/' + i, {credentials: 'same-origin'})).status);
                    out.push(await new Promise(done => {
                        const xhr = new XMLHttpRequest();
                        xhr.open('GET', '/api/xhr/' + i);
                        xhr.onload = () => done(xhr.status);
                        xhr.onerror = () => done(-1);
                        xhr.send();
                    }));
                }
                return out;
            }"""
        )
        assert statuses == [401] * 100
        assert sorted((c["name"], c["value"]) for c in context.cookies()) == before
    finally:
        context.close()


def test_every_gatekeeper_page_a_person_can_meet(browser, styled: Stack) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(styled.url("/blocked/cookies"))
        page.wait_for_selector("#login", timeout=10_000)
        context.clear_cookies(name="authservice_login")  # what a browser that keeps no cookies does
        sign_in(page, styled)
        page.wait_for_selector("text=Your browser is not keeping cookies", timeout=10_000)
        assert "dex-auth" in page.inner_text("header")
        screenshot(page, "cookies-blocked", styled)

        page.goto(styled.url(f"{styled.prefix}/oidc/callback?error=access_denied&error_description=cancelled&state=x"))
        assert "Sign-in did not complete" in page.content()
        screenshot(page, "sign-in-did-not-complete", styled)

        page.goto(styled.url("/then/out"))
        page.wait_for_selector("#login", timeout=10_000)
        sign_in(page, styled)
        page.wait_for_url(styled.url("/then/out"), timeout=10_000)
        page.goto(styled.url(f"{styled.prefix}/logout"))
        assert page.url == styled.url(f"{styled.prefix}/signed-out")
        assert "You are signed out" in page.content()
        screenshot(page, "signed-out", styled)
        page.click("a.button")
        page.wait_for_load_state()
        assert on_login_form(page, styled), (page.url, page.content()[:2000])
    finally:
        context.close()
