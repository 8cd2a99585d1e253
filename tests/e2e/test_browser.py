"""A person in a real browser: headless Debian Chromium driven by Playwright, through the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.stack import Stack
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
    return Echo.parse(page.inner_text("body"))


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
