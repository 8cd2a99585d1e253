import pytest

from gatekeeper.cookies import (
    MAX_COOKIE_HEADER,
    MAX_COOKIE_PAIRS,
    expire_cookie,
    parse_cookies,
    session_cookie_value,
    set_cookie,
)


def test_parse_normal_header():
    assert parse_cookies("a=1; b=2;c=3") == [("a", "1"), ("b", "2"), ("c", "3")]


def test_parse_survives_junk_that_breaks_simplecookie():
    header = 'junk; =nothing; bad"name=1; x=[1,2]; authservice_session=tok.en.value; ;;; q="quoted"'
    pairs = dict(parse_cookies(header))
    assert pairs["authservice_session"] == "tok.en.value"
    assert pairs["q"] == "quoted"
    assert "junk" not in pairs and "" not in pairs


def test_parse_is_bounded():
    header = "; ".join(f"c{i}=v" for i in range(10_000))
    pairs = parse_cookies(header)
    assert len(pairs) <= MAX_COOKIE_PAIRS
    huge = "a=" + "x" * (MAX_COOKIE_HEADER * 4) + "; b=2"
    assert all(len(v) <= MAX_COOKIE_HEADER for _, v in parse_cookies(huge))


@pytest.mark.parametrize(
    "header, expected",
    [
        ("authservice_session=abc", "abc"),
        ("x=1; authservice_session=abc; y=2", "abc"),
        ("x=1;authservice_session=abc ", "abc"),
        ("x_authservice_session=evil; authservice_session=good", None),  # left to the thorough parser
        ("authservice_session_old=evil", None),
        ("x=authservice_session=evil", None),
        ("", None),
        ("authservice_session=first; authservice_session=second", "first"),
    ],
)
def test_session_cookie_value(header, expected):
    assert session_cookie_value(header) == expected


def test_set_cookie_flags():
    line = set_cookie("authservice_session", "v", max_age=60, secure=True)
    assert line == "authservice_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
    assert "Secure" not in set_cookie("n", "v", max_age=1, secure=False)
    assert expire_cookie("n", secure=False) == "n=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
