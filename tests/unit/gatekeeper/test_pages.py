import re

import pytest

from gatekeeper import pages

EVERY_PAGE = [
    pages.login_error("access_denied", "no", "/authservice/oidc/login?rd=/"),
    pages.callback_failed("x", "/authservice/oidc/login?rd=/"),
    pages.cookies_blocked(True, "/authservice/oidc/login?rd=/"),
    pages.provider_unavailable("/x"),
    pages.signed_out("/authservice/oidc/login?rd=/"),
    pages.session_too_large(400),
]


def test_values_are_escaped():
    html = pages.login_error("<script>x</script>", 'desc "<b>"', '/authservice/oidc/login?rd=/"><script>')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "Try again" in html
    assert '"><script>' not in pages.signed_out('/"><script>') and '"><script>' not in pages.provider_unavailable(
        '/"><script>'
    )


def test_cookie_page_mentions_secure_cookies_over_http_only_when_relevant():
    assert "https://" in pages.cookies_blocked(True, "/r")
    assert "Secure" not in pages.cookies_blocked(False, "/r")
    assert 'href="/r"' in pages.cookies_blocked(False, "/r")


def test_unavailable_page_reloads_itself_without_script_and_links_to_the_page():
    html = pages.provider_unavailable("/x?a=1&b=2")
    assert 'href="/x?a=1&amp;b=2"' in html
    assert f'<meta http-equiv="refresh" content="{pages.RETRY_SECONDS}">' in html
    assert "5 seconds" in html


@pytest.mark.parametrize("html", EVERY_PAGE)
def test_one_look_no_script_no_external_asset(html):
    assert "<header>dex-auth</header>" in html and 'name="viewport"' in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
