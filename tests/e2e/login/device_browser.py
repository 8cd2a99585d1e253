"""Approve (or deny) a device login the way a person would in a browser, with requests."""

from __future__ import annotations

from urllib.parse import urljoin

import requests

from dex_auth_login.browser_flow import parse_page


def approve_device(
    verification_uri: str, user_code: str, username: str, password: str, *, deny: bool = False, max_steps: int = 10
) -> str:
    """Enter the user code, log in, confirm; returns the text of the last page."""
    http = requests.Session()
    response = http.get(verification_uri, timeout=10)
    for _ in range(max_steps):
        response.raise_for_status()
        page = parse_page(response.text)
        if not page.forms:
            return response.text
        form = page.forms[0]
        data = {name: value for _, name, value in form.fields if name}
        if "user_code" in data and not data["user_code"]:
            data["user_code"] = user_code
        if deny and "confirm" in data:  # the confirmation page's "Abort" button
            del data["confirm"]
            data["abort"] = "yes"
            return http.post(urljoin(response.url, form.action), data=data, timeout=10).text
        if form.password_field:
            data["login"], data[form.password_field] = username, password
        if form.submit:
            data.setdefault(*form.submit)
        response = http.post(urljoin(response.url, form.action), data=data, timeout=10)
    raise AssertionError(f"the device verification pages did not finish in {max_steps} steps")
