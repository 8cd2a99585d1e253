"""Log in the way a person does, with `requests`: follow the redirects to Dex's login page,
fill in its form, follow the redirects back. Every hop goes through the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

MAX_HOPS = 15
BROWSER_HEADERS = {
    "Accept": "text/html,application/xhtml+xml",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "User-Agent": "e2e-browser/1.0",
}


class LoginFlowError(AssertionError):
    """The flow did not go where a browser would have gone; the message shows the hops."""


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


@dataclass
class Hop:
    method: str
    url: str
    status: int
    location: str | None


@dataclass
class FlowResult:
    response: requests.Response
    hops: list[Hop]

    def describe(self) -> str:
        return "\n".join(f"  {h.method} {h.url} -> {h.status} {h.location or ''}" for h in self.hops)


def follow(session: requests.Session, method: str, url: str, hops: list[Hop], **kwargs) -> requests.Response:
    """One request, then the redirect chain by hand (so each hop is recorded)."""
    headers = {**BROWSER_HEADERS, **kwargs.pop("headers", {})}
    for _ in range(MAX_HOPS):
        response = session.request(method, url, headers=headers, allow_redirects=False, timeout=15, **kwargs)
        location = response.headers.get("Location")
        hops.append(Hop(method, url, response.status_code, location))
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            return response
        url = urljoin(url, location)
        if response.status_code in (301, 302, 303):
            method, kwargs = "GET", {}
    raise LoginFlowError("too many redirects:\n" + "\n".join(f"  {h.method} {h.url} -> {h.status}" for h in hops))


def open_login_page(
    session: requests.Session, url: str, hops: list[Hop] | None = None
) -> tuple[requests.Response, Form]:
    """Navigate to a protected URL and land on the login form."""
    hops = [] if hops is None else hops
    page = follow(session, "GET", url, hops)
    found = [f for f in forms(page.text) if "login" in f.fields or "password" in f.fields]
    if page.status_code != 200 or not found:
        raise LoginFlowError(
            f"expected Dex's login form, got {page.status_code}:\n"
            + "\n".join(f"  {h.method} {h.url} -> {h.status} {h.location or ''}" for h in hops)
            + f"\n{page.text[:500]}"
        )
    return page, found[0]


def submit_login(
    session: requests.Session,
    page: requests.Response,
    form: Form,
    username: str,
    password: str,
    hops: list[Hop] | None = None,
) -> FlowResult:
    hops = [] if hops is None else hops
    data = {**form.fields, "login": username, "password": password}
    response = follow(session, form.method.upper() or "POST", urljoin(page.url, form.action), hops, data=data)
    return FlowResult(response, hops)


def login(session: requests.Session, url: str, username: str, password: str) -> FlowResult:
    """Open `url`, log in on Dex's form, return where the browser ends up (normally `url` itself)."""
    hops: list[Hop] = []
    page, form = open_login_page(session, url, hops)
    return submit_login(session, page, form, username, password, hops)
