"""Cookie mode: the browser login done by a script with a cookie jar.

This is the fallback for tools that need the gatekeeper's session cookie rather than a bearer
token. It starts a login at the gatekeeper, follows the redirects to Dex, fills Dex's password form
(fields `login` and `password`), submits an approval page if one is shown, and follows the
redirect back to the gatekeeper's callback. The gatekeeper's login cookie (one per browser) travels in
the same jar, so there is no "CSRF check failed". It depends on the login page's form, which the
token modes do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import requests.cookies

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


def _form_data(form: Form) -> dict[str, str]:
    """The form's own named fields (hidden state and the like) and its first submit button."""
    data = {name: value for _kind, name, value in form.fields if name}
    if form.submit:
        data.setdefault(*form.submit)
    return data


def fill_login_form(form: Form, username: str, password: str) -> dict[str, str]:
    """The form's own fields plus the credentials."""
    password_name = form.password_field
    names = [name for _kind, name, _ in form.fields if name]
    login_name = (
        "login"
        if "login" in names
        else next((name for kind, name, _ in form.fields if name and kind in ("text", "email")), None)
    )
    if password_name is None or login_name is None:
        raise ProviderError("the login page's form has no login and password fields")
    data = _form_data(form)
    data[login_name] = username
    data[password_name] = password
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


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    data: dict[str, str] | None = None


class _LoginWalk:
    """Decides the next request from the answer to the last one, like a person at a browser.

    The password goes out once; a second password form means Dex refused it. Up to three forms
    after it are taken for Dex's approval page.
    """

    def __init__(self, public_url: str, username: str, password: str, prefix: str, connector_id: str) -> None:
        self.public_url, self.username, self.password = public_url, username, password
        self.prefix, self.connector_id = prefix, connector_id
        self.credentials_sent = False
        self.approvals = 0

    def next_request(self, sent: _Request, response: requests.Response) -> _Request:
        if response.is_redirect:
            return _Request("GET", urljoin(sent.url, response.headers.get("Location", "")))
        self._check_status(sent.url, response)
        page = parse_page(response.text)
        link = None if self.credentials_sent else connector_link(page.links, self.connector_id)
        form, data = self._pick_form(page, sent.url, link)
        if form is None:
            return _Request("GET", urljoin(sent.url, link or ""))
        return _submit(form, data, sent.url)

    def _check_status(self, url: str, response: requests.Response) -> None:
        path = _path_only(url)
        if response.status_code in (401, 403) and self.credentials_sent:
            raise InvalidCredentialsError(f"the login was refused for user '{self.username}'")
        if response.status_code == 404 and not self.credentials_sent and path.startswith(self.prefix):
            raise NotAnIssuerError(
                f"{path} was not found at {self.public_url}: is this a dex-auth deployment "
                f"(gatekeeper prefix {self.prefix})?"
            )
        if response.status_code != 200:
            raise ProviderError(
                f"the login stopped at {path} with HTTP {response.status_code}: {one_line(response.text, 120)}"
            )

    def _pick_form(self, page: PageParser, url: str, link: str | None) -> tuple[Form | None, dict[str, str]]:
        """The form to send and its data; no form when the connector link is the way on."""
        login_form = next((form for form in page.forms if form.password_field), None)
        if login_form is not None:
            if self.credentials_sent:
                raise InvalidCredentialsError(f"Dex refused the username or password for user '{self.username}'")
            self.credentials_sent = True
            return login_form, fill_login_form(login_form, self.username, self.password)
        if page.forms and self.credentials_sent and self.approvals < 3:
            self.approvals += 1  # Dex's approval page: the first form grants access
            return page.forms[0], _form_data(page.forms[0])
        if link:
            return None, {}
        if not self.credentials_sent and any("/auth/" in candidate for candidate in page.links):
            raise UsageError(
                f"Dex offers no connector '{self.connector_id}' with a password form here: pass --connector with "
                "the id of a password connector (local, ldap, ...)"
            )
        raise ProviderError(
            f"the page at {_path_only(url)} has no password form: cookie mode needs Dex's password login "
            "(fields 'login' and 'password'); use the token modes instead"
        )


def _submit(form: Form, data: dict[str, str], url: str) -> _Request:
    target = urljoin(url, form.action) if form.action else url
    if form.method == "post":
        return _Request("POST", target, data)
    if form.password_field:
        raise ProviderError(
            f"the login form at {_path_only(target)} is not sent with POST; refusing to put a password in a URL"
        )
    return _Request("GET", f"{target.split('?')[0]}?{urlencode(data)}")


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
    walk = _LoginWalk(public_url, username, password, prefix, connector_id)
    request = _Request("GET", f"{public_url.rstrip('/')}{prefix}/oidc/login?rd=/")
    for _ in range(MAX_STEPS):
        response = send(http, request.method, request.url, timeout=timeout, data=request.data)
        if http.cookies.get(SESSION_COOKIE):
            return http.cookies
        request = walk.next_request(request, response)
    raise ProviderError(f"the login did not finish within {MAX_STEPS} steps (last at {_path_only(request.url)})")
