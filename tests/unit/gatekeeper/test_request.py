"""The request value the adapters build once, and the router that finds its route."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from gatekeeper import asgi, errors, paths, request, responses


class ServerHeaders(dict):
    """RSGI-like headers: `items()` may list a name twice (two Cookie headers), `get` gives the first."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self.pairs = pairs
        for name, value in pairs:
            self.setdefault(name, value)

    def items(self):  # type: ignore[override]
        return list(self.pairs)


ROUTER = request.Router("/authservice")


@pytest.mark.parametrize(
    "path, route",
    [
        ("/healthz", request.HEALTHZ),
        ("/readyz", request.READYZ),
        ("/metrics", request.METRICS),
        ("/authservice/oidc/login", request.LOGIN),
        ("/authservice/oidc/callback", request.CALLBACK),
        ("/authservice/logout", request.LOGOUT),
        ("/authservice/check", request.CHECK),
        ("/authservice/check/", request.CHECK),
        ("/authservice/check/logout", request.CHECK),  # an upstream path is never our endpoint
        ("/authservice/forward-auth", request.FORWARD_AUTH),
        ("/authservice/checkx", request.NOT_FOUND),
        ("/authservice/forward-auth/x", request.NOT_FOUND),
        ("/logout", request.NOT_FOUND),
        ("/healthz/", request.NOT_FOUND),
    ],
)
def test_router_finds_each_route_once(path, route):
    assert ROUTER.route(path) == route


def test_envoy_check_reads_the_original_path_and_query():
    checked = ROUTER.checked_path("/authservice/check/pipeline/runs")
    req = request.build(request.CHECK, "POST", checked, "x=1", {})
    assert (req.route, req.style, req.method, req.target) == (
        request.CHECK,
        request.ENVOY,
        "POST",
        "/pipeline/runs?x=1",
    )
    bare = request.build(request.CHECK, "GET", ROUTER.checked_path("/authservice/check"), "", {})
    assert bare.target == "/"


def test_a_decoded_path_is_read_re_encoded():
    req = request.build(request.CHECK, "GET", "/public/a?b c%", "", {}, decoded=True)
    assert req.target == "/public/a%3Fb%20c%25"


def test_forward_auth_reads_method_and_target_from_its_headers():
    headers = {"x-forwarded-method": "delete", "x-forwarded-uri": "/x?y=1"}
    req = request.build(request.FORWARD_AUTH, "GET", "", "", headers)
    assert (req.route, req.style, req.method, req.target) == (request.CHECK, request.FORWARD_AUTH, "DELETE", "/x?y=1")
    default = request.build(request.FORWARD_AUTH, "GET", "", "", {})
    assert (default.method, default.target) == ("GET", "/")


def test_an_endpoint_has_its_own_method_and_no_cache_key():
    req = request.build(request.LOGOUT, "POST", "", "rd=/x", {"cookie": "authservice_session=t"})
    assert (req.method, req.target, req.token) == ("POST", "", None)


@pytest.mark.parametrize(
    "headers, token",
    [
        ({"authorization": "Bearer abc"}, "abc"),
        ({"authorization": "bearer abc ", "cookie": "authservice_session=s"}, "abc"),
        ({"authorization": "Basic dTpw", "cookie": "a=1; authservice_session=s"}, "s"),
        ({"cookie": "xauthservice_session=junk"}, None),
        ({}, None),
    ],
)
def test_cache_key_prefers_the_bearer_and_lets_basic_through(headers, token):
    assert request.cache_key(headers) == token


def test_credentials_read_every_cookie_header_strictly():
    headers = ServerHeaders(
        [("cookie", "theme=dark"), ("cookie", 'authservice_session="t1"; authservice_session=t2'), ("x", "y")]
    )
    req = request.build(request.CHECK, "GET", "/", "", headers)
    assert req.cookie_header() == 'theme=dark; authservice_session="t1"; authservice_session=t2'
    assert req.credentials() == request.Credentials(bearer=None, sessions=["t1", "t2"])
    assert req.token is None  # the first Cookie header has no session: the hot path misses, the thorough path finds it


def test_wants_json_reads_the_checked_method():
    forward = request.build(request.FORWARD_AUTH, "GET", "", "", {"x-forwarded-method": "POST"})
    assert forward.wants_json()
    assert not request.build(request.CHECK, "GET", "/", "", {"accept": "text/html"}).wants_json()
    assert request.build(request.CHECK, "GET", "/", "", {"authorization": ""}).wants_json()


def test_params_refuse_absurd_queries():
    assert request.build(request.LOGIN, "GET", "", "rd=%2Fx&rd=2&e=", {}).params() == {"rd": "/x", "e": ""}
    for query in ("a=" + "x" * 9000, "&".join(f"a{i}=1" for i in range(60))):
        with pytest.raises(errors.BadQueryError):
            request.build(request.LOGIN, "GET", "", query, {}).params()


def test_asgi_headers_are_read_once_as_text():
    pairs = [(b"cookie", b"a=1"), (b"authorization", b"Bearer x"), (b"cookie", b"b=2"), (b"authorization", b"Bearer y")]
    assert asgi.headers_of(pairs) == {"cookie": "a=1; b=2", "authorization": "Bearer x"}


@pytest.mark.parametrize(
    "path", ["/a/b", "/a b", "/é", "/a%2Fb", "/a?b#c", "/~user/x.y_z-1", "/a;b=c:d@e", "/\x00", ""]
)
def test_raw_path_is_what_urllib_would_give(path):
    assert paths.raw_path(path) == quote(path, safe="/!$&'()*+,;=:@")


def test_every_refusal_says_its_status_and_reason():
    for error, status, reason in [
        (errors.TokenError("expired", "token has expired"), 401, "expired"),
        (errors.UnsafeIdentityError("user id has control characters"), 401, "bad_identity"),
        (errors.ForbiddenHeaderError("kubeflow_userid"), 400, "forbidden_header"),
        (errors.BadQueryError(), 400, "bad_query"),
        (errors.MethodNotAllowedError("use GET"), 405, "method_not_allowed"),
        (errors.NotFoundError(), 404, "not_found"),
        (errors.InternalError(), 503, "internal_error"),
        (errors.CodeExchangeError("invalid_grant"), 400, "invalid_grant"),
    ]:
        answer = responses.refusal(error)
        assert isinstance(error, errors.GatekeeperError)
        assert (answer.status, json.loads(answer.body)) == (status, {"error": reason, "reason": error.detail})


def test_a_provider_refusal_keeps_internal_urls_in_the_log_only():
    error = errors.ProviderUnavailableError("discovery at http://10.0.0.5:5556/dex unreachable: ConnectError")
    answer = responses.refusal(error)
    assert "10.0.0.5" in str(error) and b"10.0.0.5" not in answer.body
    assert answer.status == 503 and (b"retry-after", b"5") in answer.headers
    assert json.loads(answer.body)["error"] == "provider_unavailable"
