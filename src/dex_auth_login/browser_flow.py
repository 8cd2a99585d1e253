"""Cookie mode: the browser login done by a script with a cookie jar.

This is the fallback for tools that need the gatekeeper's session cookie rather than a bearer
token. It starts a login at the gatekeeper, follows the redirects to Dex, fills Dex's password form
(fields `login` and `password`), submits an approval page if one is shown, and follows the
redirect back to the gatekeeper's callback. The gatekeeper's per-attempt state cookie travels in
the same jar, so there is no "CSRF check failed". It depends on the login page's form, which the
token modes do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import requests

from .errors import (
    InvalidCredentialsError,
    NotAnIssuerError,
    ProviderError,
    UsageError,
)
from .provider import one_line
from .transport import new_session, send

SESSION_COOKIE = "authservice_session"
DEFAULT_PREFIX = "/authservice"
MAX_STEPS = 25


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, value)
    submit: tuple[str, str] | None = None  # the first named submit button

    @property
    def password_field(self) -> str | None:
        return next((name for kind, name, _ in self.fields if kind == "password" and name), None)


class PageParser(HTMLParser):
    """Collects the forms and links of a login page; enough for Dex's and similar templates."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = Form(attributes.get("action", ""), attributes.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        elif self._form is not None and tag in ("input", "button"):
            kind = attributes.get("type", "text" if tag == "input" else "submit").lower()
            name = attributes.get("name", "")
            if kind == "submit":
                if name and self._form.submit is None:
                    self._form.submit = (name, attributes.get("value", ""))
            elif kind not in ("button", "reset", "image", "file", "checkbox", "radio") or "checked" in attributes:
                self._form.fields.append((kind, name, attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def parse_page(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


def fill_login_form(form: Form, username: str, password: str) -> dict[str, str]:
    """The form's own fields (hidden state and the like) plus the credentials."""
    password_name = form.password_field
    names = [name for kind, name, _ in form.fields if name]
    login_name = (
        "login"
        if "login" in names
        else next((name for kind, name, _ in form.fields if name and kind in ("text", "email")), None)
    )
    if password_name is None or login_name is None:
        raise ProviderError("the login page's form has no login and password fields")
    data = {name: value for kind, name, value in form.fields if name}
    data[login_name] = username
    data[password_name] = password
    if form.submit:
        data.setdefault(*form.submit)
    return data


def connector_link(links: list[str], connector_id: str) -> str | None:
    """The link of Dex's connector chooser that leads to `connector_id`."""
    for link in links:
        path = urlsplit(link).path.rstrip("/")
        if path.endswith(f"/auth/{connector_id}"):
            return link
    return None


def _path_only(url: str) -> str:
    return urlsplit(url).path or "/"


def browser_login(
    public_url: str,
    username: str,
    password: str,
    *,
    session: requests.Session | None = None,
    prefix: str = DEFAULT_PREFIX,
    connector_id: str = "local",
    timeout: float = 10.0,
) -> requests.cookies.RequestsCookieJar:
    """Log in like a browser; returns the cookie jar holding the gatekeeper's session cookie."""
    http = session if session is not None else new_session()
    http.headers["Accept"] = "text/html,application/xhtml+xml"
    url = f"{public_url.rstrip('/')}{prefix}/oidc/login?rd=/"
    method, data = "GET", None
    credentials_sent = approvals = 0
    for _ in range(MAX_STEPS):
        response = send(http, method, url, timeout=timeout, data=data)
        if http.cookies.get(SESSION_COOKIE):
            return http.cookies
        if response.is_redirect:
            location = response.headers.get("Location", "")
            url, method, data = urljoin(url, location), "GET", None
            continue
        if response.status_code in (401, 403) and credentials_sent:
            raise InvalidCredentialsError(f"the login was refused for user '{username}'")
        if response.status_code == 404 and not credentials_sent and _path_only(url).startswith(prefix):
            raise NotAnIssuerError(
                f"{_path_only(url)} was not found at {public_url}: is this a dex-auth deployment "
                f"(gatekeeper prefix {prefix})?"
            )
        if response.status_code != 200:
            raise ProviderError(
                f"the login stopped at {_path_only(url)} with HTTP {response.status_code}: "
                f"{one_line(response.text, 120)}"
            )
        page = parse_page(response.text)
        login_form = next((form for form in page.forms if form.password_field), None)
        if login_form is not None:
            if credentials_sent:
                raise InvalidCredentialsError(f"Dex refused the username or password for user '{username}'")
            data, credentials_sent = fill_login_form(login_form, username, password), 1
        elif page.forms and credentials_sent and approvals < 3:
            form = page.forms[0]  # Dex's approval page: the first form grants access
            data = {name: value for kind, name, value in form.fields if name}
            if form.submit:
                data.setdefault(*form.submit)
            approvals += 1
            login_form = form
        elif not credentials_sent and (link := connector_link(page.links, connector_id)):
            url, method, data = urljoin(url, link), "GET", None
            continue
        elif not credentials_sent and page.links and any("/auth/" in link for link in page.links):
            raise UsageError(
                f"Dex offers no connector '{connector_id}' with a password form here: pass --connector with "
                "the id of a password connector (local, ldap, ...)"
            )
        else:
            raise ProviderError(
                f"the page at {_path_only(url)} has no password form: cookie mode needs Dex's password login "
                "(fields 'login' and 'password'); use the token modes instead"
            )
        method = "POST" if login_form.method == "post" else "GET"
        url = urljoin(url, login_form.action) if login_form.action else url
        if method == "GET" and login_form.password_field:
            raise ProviderError(
                f"the login form at {_path_only(url)} is not sent with POST; refusing to put a password in a URL"
            )
        if method == "GET":
            url, data = f"{url.split('?')[0]}?{urlencode(data or {})}", None
    raise ProviderError(f"the login did not finish within {MAX_STEPS} steps (last at {_path_only(url)})")
