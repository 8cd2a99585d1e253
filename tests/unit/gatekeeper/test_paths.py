import pytest

from gatekeeper.paths import SkipAuth, normalise_path, safe_return_path

PUBLIC = "https://kubeflow.example.com"


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/", "/"),
        ("/a/b/", "/a/b"),
        ("/a//b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/x/../b", "/a/b"),
        ("/a/%2e%2e/b", "/b"),
        ("/a/%2E%2E/b", "/b"),
        ("/a;jsessionid=1/b", "/a/b"),
        ("/a/..;x/b", "/b"),
        ("/a/b?x=/../c", "/a/b"),
        ("/%61/b", "/a/b"),
        ("/caf%C3%A9", "/café"),
    ],
)
def test_normalise(target, expected):
    assert normalise_path(target) == expected


@pytest.mark.parametrize(
    "target",
    [
        "",
        "a/b",
        "/..",
        "/a/../..",
        "/a%2fb",
        "/a%2Fb",
        "/a%5cb",
        "/a\\b",
        "/a%00",
        "/a\x00b",
        "/a#b",
        "/a%252e%252e",
        "/a%zz",
        "/a b",
        "/a%0a",
        "/%ff",
        "/" + "a" * 5000,
    ],
)
def test_ambiguous_paths_are_refused(target):
    assert normalise_path(target) is None


@pytest.fixture
def skip():
    return SkipAuth(("/public", "/static/js"))


@pytest.mark.parametrize(
    "target", ["/public", "/public/", "/public/x/y", "/public/./x", "/static/js/app.js?v=1", "/public/a/../b"]
)
def test_skip_auth_matches(skip, target):
    assert skip.matches(target)


@pytest.mark.parametrize(
    "target",
    [
        "/publicity",
        "/admin",
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2e/admin",
        "/public/..;/admin",
        "/public;x/../admin",
        "//public",
        "/./public",
        "/admin/../public",
        "/admin?/public",
        "/public#/../admin",
        "/public/..%2fadmin",
        "/public\\..\\admin",
        "/static/jsx",
        "/static/js/../../admin",
        "/Public",
        "/public%2f../admin",
        "/public/%252e%252e/admin",
    ],
)
def test_skip_auth_cannot_be_stretched(skip, target):
    assert not skip.matches(target)


def test_no_skip_paths_matches_nothing():
    assert not SkipAuth(()).matches("/anything")
    assert not SkipAuth(())


@pytest.mark.parametrize(
    "value, expected",
    [
        ("/", "/"),
        ("/pipeline/#/runs?x=1", "/pipeline/#/runs?x=1"),
        ("/a?b=c&d=%2F", "/a?b=c&d=%2F"),
        ("/notebook/My%20Folder/", "/notebook/My%20Folder/"),
        (PUBLIC, "/"),
        (PUBLIC + "/jupyter/", "/jupyter/"),
        (PUBLIC + "?x=1", "/?x=1"),
    ],
)
def test_safe_return_paths(value, expected):
    assert safe_return_path(value, PUBLIC) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "//evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "https://evil.com",
        "http://evil.com/",
        "javascript:alert(1)",
        "/%09/evil.com",
        "/%0d%0aSet-Cookie:x=1",
        "/\t/evil.com",
        "/%2F%2Fevil.com",
        "/%2f%2fevil.com",
        "/%5cevil.com",
        "/%5C%5Cevil.com",
        " /x",
        "/x y",
        "evil.com",
        "///evil.com",
        PUBLIC + ".evil.com/",
        PUBLIC + "@evil.com/",
        "https://kubeflow.example.com:444/",
        "/é",
        "/" + "a" * 3000,
    ],
)
def test_unsafe_return_paths(value):
    assert safe_return_path(value, PUBLIC) is None
