"""The Python API against a real OpenID Provider configured like the charm's Dex."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from login_support import OTHER_PASSWORD, OTHER_USER, PASSWORD, USER, RunningProvider, free_port

from dex_auth_login import (
    ClientRejectedError,
    GrantDisabledError,
    InvalidCredentialsError,
    NotAnIssuerError,
    TokenCache,
    UnreachableError,
    UsageError,
    login,
    obtain_tokens,
)
from dex_auth_login.tokens import jwt_claims

pytestmark = pytest.mark.e2e
SRC = Path(__file__).resolve().parents[3] / "src"


def test_password_grant_yields_an_id_token_for_the_cli_client(provider: RunningProvider, cache_file: Path) -> None:
    token = login(provider.url, username=USER, password=PASSWORD, cache_path=cache_file)
    claims = jwt_claims(token)
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == "dex-auth-cli"
    assert claims["email"] == USER and claims["groups"] == ["team-a"]
    entry = TokenCache(cache_file).get(f"{provider.issuer} dex-auth-cli")
    assert entry["id_token"] == token and entry["refresh_token"] and entry["username"] == USER


def test_a_cached_token_is_reused_without_asking_for_the_password(provider: RunningProvider, cache_file: Path) -> None:
    first = login(provider.url, username=USER, password=PASSWORD, cache_path=cache_file)

    def no_prompt() -> str:
        raise AssertionError("the password was asked for although a valid token was cached")

    assert login(provider.url, username=USER, password=no_prompt, cache_path=cache_file) == first
    assert login(provider.issuer, password=no_prompt, cache_path=cache_file) == first  # issuer URL works too


def test_an_explicit_wrong_password_is_refused_even_with_a_cached_token(
    provider: RunningProvider, cache_file: Path
) -> None:
    first = login(provider.url, username=USER, password=PASSWORD, cache_path=cache_file)
    with pytest.raises(InvalidCredentialsError):
        login(provider.url, username=USER, password="not the password", cache_path=cache_file)
    assert login(provider.url, username=USER, password=PASSWORD, cache_path=cache_file) == first  # still cached
    assert TokenCache(cache_file).get(f"{provider.issuer} dex-auth-cli")["id_token"] == first


def test_the_cache_keeps_a_salted_digest_of_the_password_never_the_password(
    provider: RunningProvider, cache_file: Path
) -> None:
    login(provider.url, username=USER, password=PASSWORD, cache_path=cache_file)
    text = cache_file.read_text()
    entry = TokenCache(cache_file).get(f"{provider.issuer} dex-auth-cli")
    assert PASSWORD not in text
    assert entry["password_verifier"].startswith("scrypt-")


def test_a_cached_token_of_another_user_is_not_reused(provider: RunningProvider, cache_file: Path) -> None:
    login(provider.url, username=USER, password=PASSWORD, cache_path=cache_file)
    other = login(provider.url, username=OTHER_USER, password=OTHER_PASSWORD, cache_path=cache_file)
    assert jwt_claims(other)["email"] == OTHER_USER


def test_an_expired_token_is_refreshed_with_the_rotated_refresh_token(start_provider, cache_file: Path) -> None:
    running = start_provider(expiry={"idTokens": "2s"})
    cache = TokenCache(cache_file)
    key = f"{running.issuer} dex-auth-cli"
    first = obtain_tokens(running.url, username=USER, password=PASSWORD, cache=cache, min_validity=0)
    time.sleep(2.2)

    def no_prompt() -> str:
        raise AssertionError("a refresh must not need the password")

    second = obtain_tokens(running.url, username=USER, password=no_prompt, cache=cache, min_validity=0)
    assert second.id_token != first.id_token and second.expires_at > first.expires_at
    assert second.refresh_token and second.refresh_token != first.refresh_token  # rotated, as Dex does
    assert cache.get(key)["refresh_token"] == second.refresh_token
    assert jwt_claims(second.id_token)["email"] == USER


def test_a_refused_refresh_token_falls_back_to_a_new_login(start_provider, cache_file: Path) -> None:
    running = start_provider(expiry={"idTokens": "2s"})
    cache = TokenCache(cache_file)
    key = f"{running.issuer} dex-auth-cli"
    obtain_tokens(running.url, username=USER, password=PASSWORD, cache=cache)
    entry = cache.get(key)
    cache.put(key, {**entry, "refresh_token": "revoked-or-unknown", "expires_at": 0})
    asked: list[str] = []

    def password() -> str:
        asked.append("yes")
        return PASSWORD

    tokens = obtain_tokens(running.url, username=USER, password=password, cache=cache)
    assert asked == ["yes"] and jwt_claims(tokens.id_token)["email"] == USER
    assert cache.get(key)["refresh_token"] not in (None, "revoked-or-unknown")


def test_concurrent_refreshes_redeem_the_single_use_refresh_token_once(start_provider, cache_file: Path) -> None:
    """Dex's refresh tokens rotate: without the cache lock one of two processes would be refused."""
    running = start_provider(expiry={"idTokens": "2s"})
    obtain_tokens(running.url, username=USER, password=PASSWORD, cache=TokenCache(cache_file), min_validity=0)
    time.sleep(2.2)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from dex_auth_login import login;"
        "print(login(sys.argv[2], cache_path=sys.argv[3], min_validity=0)[:20])"  # no password: refresh or fail
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(SRC), running.url, str(cache_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    assert running.log().count('"msg":"token request refused"') == 0


def test_wrong_password_is_a_clear_error_without_the_password(provider: RunningProvider, cache_file: Path) -> None:
    with pytest.raises(InvalidCredentialsError) as caught:
        login(provider.url, username=USER, password="not-the-password", cache_path=cache_file)
    assert str(caught.value) == f"Dex refused the username or password for user '{USER}'"
    assert not cache_file.exists() or "not-the-password" not in cache_file.read_text()


def test_disabled_password_grant_is_named(start_provider, cache_file: Path) -> None:
    running = start_provider(oauth2={"skipApprovalScreen": True})  # no passwordConnector, as the old charm rendered
    with pytest.raises(GrantDisabledError, match="passwordConnector"):
        login(running.url, username=USER, password=PASSWORD, cache_path=cache_file)


def test_an_unknown_client_is_named(provider: RunningProvider, cache_file: Path) -> None:
    with pytest.raises(ClientRejectedError, match="'not-registered'"):
        login(provider.url, username=USER, password=PASSWORD, client_id="not-registered", cache_path=cache_file)


def test_unreachable_url_is_named(cache_file: Path) -> None:

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UnreachableError, match=f"cannot connect to {url}/dex/.well-known/openid-configuration"):
        login(url, username=USER, password=PASSWORD, cache_path=cache_file, timeout=2)


@pytest.fixture
def not_dex() -> Iterator[str]:
    """A web server that is not Dex: HTML at every path, a redirect at /login-wall."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/wall/"):
                self.send_response(302)
                self.send_header("Location", "/authservice/oidc/login?rd=/")
                self.end_headers()
                return
            if self.path.startswith("/json/"):
                body, kind = json.dumps({"hello": "world"}).encode(), "application/json"
            else:
                body, kind = b"<html>a dashboard</html>", "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "path, words",
    [
        ("", "did not answer with an OpenID discovery document"),
        ("/json", "without 'issuer' and 'token_endpoint'"),
        ("/wall", "redirected to /authservice/oidc/login?rd=/ instead of answering"),
    ],
)
def test_a_url_that_is_not_dex_is_named(not_dex: str, cache_file: Path, path: str, words: str) -> None:
    with pytest.raises(NotAnIssuerError, match="".join("\\" + c if c in "?()[]." else c for c in words)):
        login(not_dex + path, username=USER, password=PASSWORD, cache_path=cache_file)


def test_an_issuer_mismatch_names_the_right_url(provider: RunningProvider, cache_file: Path) -> None:
    other_host = provider.url.replace("127.0.0.1", "localhost")
    with pytest.raises(NotAnIssuerError, match=f"calls itself '{provider.issuer}'"):
        login(other_host, username=USER, password=PASSWORD, cache_path=cache_file)


@pytest.mark.parametrize("url", ["kubeflow.example.com", "ftp://x.example.com", "https://x.example.com/?a=b"])
def test_malformed_urls_are_usage_errors(url: str, cache_file: Path) -> None:
    with pytest.raises(UsageError, match="http"):
        login(url, username=USER, password=PASSWORD, cache_path=cache_file)


def test_missing_username_or_password_is_a_usage_error(provider: RunningProvider) -> None:
    with pytest.raises(UsageError, match="no username"):
        login(provider.url, password=PASSWORD, use_cache=False)
    with pytest.raises(UsageError, match="no password"):
        login(provider.url, username=USER, use_cache=False)
