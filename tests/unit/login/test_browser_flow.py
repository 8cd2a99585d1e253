"""Reading login pages for cookie mode: Dex's password form, approval page and connector chooser."""

from __future__ import annotations

import pytest

from dex_auth_login.browser_flow import connector_link, fill_login_form, parse_page
from dex_auth_login.errors import ProviderError

# The shape of Dex's password.html, approval.html and login.html templates (v2.4x).
# (HTML kept on one line per element, as in the templates.)
DEX_PASSWORD_PAGE = """
<div class="theme-panel"><h2 class="theme-heading">Log in to Your Account</h2>
<form method="post" action="/dex/auth/local/login?back=&amp;state=abc123">
  <div class="theme-form-row"><label for="userid">Email Address</label>
    <input tabindex="1" required id="login" name="login" type="text" class="theme-form-input" placeholder="email address" value="" autofocus/></div>
  <div class="theme-form-row"><label for="password">Password</label>
    <input tabindex="2" required id="password" name="password" type="password" class="theme-form-input" placeholder="password"/></div>
  <button tabindex="3" id="submit-login" type="submit" class="dex-btn theme-btn--primary">Login</button>
</form></div>
"""
DEX_APPROVAL_PAGE = """
<form method="post"><input type="hidden" name="req" value="reqid"/><input type="hidden" name="approval" value="approve">
<button type="submit" class="dex-btn theme-btn--success"><span class="dex-btn-text">Grant Access</span></button></form>
<form method="post"><input type="hidden" name="req" value="reqid"/><input type="hidden" name="approval" value="rejected">
<button type="submit" class="dex-btn theme-btn-provider"><span class="dex-btn-text">Cancel</span></button></form>
"""
DEX_CHOOSER_PAGE = """
<div class="theme-form-row"><a href="/dex/auth/github?client_id=x&amp;state=s" target="_self"><button class="dex-btn">Log in with GitHub</button></a></div>
<div class="theme-form-row"><a href="/dex/auth/local?client_id=x&amp;state=s" target="_self"><button class="dex-btn">Log in with Email</button></a></div>
"""


def test_dex_password_form_is_filled_with_its_own_fields() -> None:
    page = parse_page(DEX_PASSWORD_PAGE)
    [form] = page.forms
    assert (form.method, form.action, form.password_field) == (
        "post",
        "/dex/auth/local/login?back=&state=abc123",
        "password",
    )
    assert fill_login_form(form, "ann@example.com", "pw") == {"login": "ann@example.com", "password": "pw"}


def test_other_login_field_names_and_hidden_fields_are_kept() -> None:
    page = parse_page(
        '<form method="post" action="/x"><input type="hidden" name="csrf" value="c1">'
        '<input type="email" name="username"><input type="password" name="pw">'
        '<input type="checkbox" name="remember"><button type="submit" name="go" value="1">Go</button></form>'
    )
    assert fill_login_form(page.forms[0], "ann", "pw") == {"csrf": "c1", "username": "ann", "pw": "pw", "go": "1"}


def test_a_form_without_a_login_field_is_refused() -> None:
    page = parse_page('<form method="post"><input type="password" name="pin"></form>')
    with pytest.raises(ProviderError, match="no login and password fields"):
        fill_login_form(page.forms[0], "ann", "pw")


def test_approval_page_first_form_grants_access() -> None:
    page = parse_page(DEX_APPROVAL_PAGE)
    assert page.forms[0].fields == [("hidden", "req", "reqid"), ("hidden", "approval", "approve")]
    assert page.forms[0].password_field is None


def test_connector_chooser_link_is_found_by_id() -> None:
    page = parse_page(DEX_CHOOSER_PAGE)
    assert connector_link(page.links, "local") == "/dex/auth/local?client_id=x&state=s"
    assert connector_link(page.links, "ldap") is None
