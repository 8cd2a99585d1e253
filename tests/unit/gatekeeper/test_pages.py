from gatekeeper import pages


def test_values_are_escaped():
    html = pages.login_error("<script>x</script>", 'desc "<b>"', '/authservice/oidc/login?rd=/"><script>')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "Try again" in html


def test_cookie_page_mentions_secure_cookies_over_http_only_when_relevant():
    assert "https://" in pages.cookies_blocked(True)
    assert "Secure" not in pages.cookies_blocked(False)


def test_unavailable_page_offers_retry():
    html = pages.provider_unavailable("/authservice/oidc/login?rd=/x")
    assert 'href="/authservice/oidc/login?rd=/x"' in html
