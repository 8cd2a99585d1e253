"""The app driven over ASGI in-process, against a real (small) OpenID Provider in a thread."""

import asyncio
import logging
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from gatekeeper_fixtures import (
    CLIENT_ID,
    PUBLIC_ISSUER,
    PUBLIC_URL,
    asgi,
    cookie_header,
    log_in,
    make_settings,
    ready_app,
)

from gatekeeper.app import Gatekeeper
from gatekeeper.cookies import SESSION_COOKIE
from gatekeeper.login_state import SECURE_LOGIN_COOKIE
from gatekeeper.provider import Provider
from gatekeeper.request import HEALTHZ
from gatekeeper.sessions import SessionCodec

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8", "sec-fetch-mode": "navigate"}


def run(dex, scenario, **env):
    async def main():
        app = await ready_app(dex, **env)
        try:
            return await scenario(app)
        finally:
            await app.provider.aclose()

    return asyncio.run(main())


def session_of(reply):
    return reply.set_cookies()[SESSION_COOKIE]


def state_of(reply):
    return parse_qs(urlsplit(reply.header("location")).query)["state"][0]


# -- the login flow ------------------------------------------------------------------------------
def test_browser_login_flow_end_to_end(dex):
    async def scenario(app):
        first = await asgi(app, "GET", "/authservice/check/pipeline/runs?x=1", BROWSER)
        assert first.status == 302
        location = urlsplit(first.header("location"))
        assert f"{location.scheme}://{location.netloc}{location.path}" == PUBLIC_ISSUER + "/auth"
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["redirect_uri"] == PUBLIC_URL + "/authservice/oidc/callback"
        assert query["scope"] == "openid email profile groups"
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert query["nonce"] and query["state"]
        [login_line] = first.all("set-cookie")
        assert login_line.startswith(SECURE_LOGIN_COOKIE + "=")
        for flag in ("Path=/", "Max-Age=86400", "HttpOnly", "SameSite=Lax", "Secure"):
            assert flag in login_line

        code, state = dex.authorize(first.header("location"))
        done = await asgi(
            app,
            "GET",
            f"/authservice/oidc/callback?code={code}&state={state}",
            {"cookie": cookie_header(first.set_cookies())},
        )
        assert done.status == 302
        assert done.header("location") == PUBLIC_URL + "/pipeline/runs?x=1"
        session_line = next(line for line in done.all("set-cookie") if line.startswith(SESSION_COOKIE + "="))
        for flag in ("Path=/", "Max-Age=86400", "HttpOnly", "SameSite=Lax", "Secure"):
            assert flag in session_line
        assert set(done.set_cookies()) == {SESSION_COOKIE}  # the login cookie stays for other tabs
        token = session_of(done)
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "HS256" and header["kid"] == "k2026"
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["iss"] == "dex-auth-gatekeeper" and claims["aud"] == "dex-auth-session"
        assert claims["uid"] == "jane@example.com" and claims["groups"] == ["admins", "ml"]
        assert {"sub", "iat", "exp", "jti"} <= set(claims)
        assert dex.token_requests[-1]["form"]["code_verifier"]  # PKCE verifier was sent

        ok = await asgi(app, "GET", "/authservice/check/pipeline/runs", {"cookie": f"{SESSION_COOKIE}={token}"})
        assert ok.status == 200
        assert ok.all("kubeflow-userid") == ["jane@example.com"] and ok.all("kubeflow-groups") == ["admins,ml"]
        fwd = await asgi(
            app,
            "GET",
            "/authservice/forward-auth",
            {"x-forwarded-uri": "/x", "x-forwarded-method": "DELETE", "cookie": f"{SESSION_COOKIE}={token}"},
        )
        assert fwd.status == 200 and fwd.header("kubeflow-userid") == "jane@example.com"

    run(dex, scenario)


def test_userid_prefix_and_custom_claims(dex):
    async def scenario(app):
        done = await log_in(app, dex, preferred_username="jane")
        ok = await asgi(app, "GET", "/authservice/check/", {"cookie": f"{SESSION_COOKIE}={session_of(done)}"})
        assert ok.header("x-user") == "oidc:jane" and ok.header("x-groups") == "admins,ml"

    run(
        dex,
        scenario,
        GATEKEEPER_USERID_PREFIX="oidc:",
        GATEKEEPER_USERID_CLAIM="preferred_username",
        GATEKEEPER_USERID_HEADER="X-User",
        GATEKEEPER_GROUPS_HEADER="X-Groups",
    )


def test_two_tabs_logging_in_at_once(dex):
    async def scenario(app):
        a = await asgi(app, "GET", "/authservice/check/tab-a", BROWSER)
        b = await asgi(app, "GET", "/authservice/check/tab-b", {**BROWSER, "cookie": cookie_header(a.set_cookies())})
        jar = {**a.set_cookies(), **b.set_cookies()}
        code_b, state_b = dex.authorize(b.header("location"))
        code_a, state_a = dex.authorize(a.header("location"))
        done_b = await asgi(
            app, "GET", f"/authservice/oidc/callback?code={code_b}&state={state_b}", {"cookie": cookie_header(jar)}
        )
        done_a = await asgi(
            app, "GET", f"/authservice/oidc/callback?code={code_a}&state={state_a}", {"cookie": cookie_header(jar)}
        )
        assert (done_a.status, done_b.status) == (302, 302)
        assert done_a.header("location").endswith("/tab-a") and done_b.header("location").endswith("/tab-b")

    run(dex, scenario)


def test_one_login_cookie_for_any_number_of_tabs_each_returning_to_its_page(dex):
    async def scenario(app):
        jar, starts = {}, []
        for i in range(8):
            reply = await asgi(app, "GET", f"/authservice/check/p{i}", {**BROWSER, "cookie": cookie_header(jar)})
            assert reply.status == 302
            jar.update(reply.set_cookies())
            starts.append(reply)
            assert list(jar) == [SECURE_LOGIN_COOKIE]
        assert len({r.set_cookies()[SECURE_LOGIN_COOKIE] for r in starts}) == 1  # set once, reused
        for i in reversed(range(8)):
            code, state = dex.authorize(starts[i].header("location"))
            done = await asgi(
                app, "GET", f"/authservice/oidc/callback?code={code}&state={state}", {"cookie": cookie_header(jar)}
            )
            assert done.status == 302 and done.header("location") == PUBLIC_URL + f"/p{i}"

    run(dex, scenario)


def test_return_path_is_kept_same_origin(dex):
    async def scenario(app):
        for rd, expected in [
            ("//evil.com/x", "/"),
            ("/\\evil.com", "/"),
            ("https://evil.com", "/"),
            ("/%09/evil.com", "/"),
            ("/jupyter/lab?x=1", "/jupyter/lab?x=1"),
            (PUBLIC_URL + "/volumes/", "/volumes/"),
        ]:
            start = await asgi(app, "GET", "/authservice/oidc/login?rd=" + rd.replace("?", "%3F").replace("&", "%26"))
            assert start.status == 302, start.text
            code, state = dex.authorize(start.header("location"))
            done = await asgi(
                app,
                "GET",
                f"/authservice/oidc/callback?code={code}&state={state}",
                {"cookie": cookie_header(start.set_cookies())},
            )
            assert done.header("location") == PUBLIC_URL + expected, rd

    run(dex, scenario)


def test_check_remembers_unsafe_targets_as_root(dex):
    async def scenario(app):
        reply = await asgi(app, "GET", "/authservice/check//evil.com/x", BROWSER)
        assert jwt.decode(state_of(reply), options={"verify_signature": False})["rd"] == "/"

    run(dex, scenario)


# -- no dead ends --------------------------------------------------------------------------------
def test_callback_without_the_login_cookie_says_cookies_are_blocked_at_once(dex):
    async def scenario(app):
        first = await asgi(app, "GET", "/authservice/check/notebooks", BROWSER)
        code, state = dex.authorize(first.header("location"))
        stuck = await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={state}")  # no cookie jar
        assert stuck.status == 400
        assert "not keeping cookies" in stuck.text and "https://" in stuck.text
        assert 'href="/authservice/oidc/login?rd=/notebooks"' in stuck.text
        assert not stuck.all("location") and not stuck.set_cookies()
        assert not dex.token_requests  # the code was not even spent

    run(dex, scenario)


def test_a_state_from_another_browser_starts_a_fresh_login_and_gives_no_session(dex):
    async def scenario(app):
        victim_start = await asgi(app, "GET", "/authservice/check/victim", BROWSER)
        victim = {"cookie": cookie_header(victim_start.set_cookies())}
        attacker_start = await asgi(app, "GET", "/authservice/check/attacker", BROWSER)
        code, state = dex.authorize(attacker_start.header("location"))
        reply = await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={state}", victim)
        assert reply.status == 302 and reply.header("location").startswith(PUBLIC_ISSUER + "/auth")
        assert SESSION_COOKIE not in reply.set_cookies() and not dex.token_requests
        assert state_of(reply) != state
        # the attacker's own browser still can: the state was refused for the browser, not burnt
        own = {"cookie": cookie_header(attacker_start.set_cookies())}
        done = await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={state}", own)
        assert done.status == 302 and done.header("location") == PUBLIC_URL + "/attacker"

    run(dex, scenario)


def test_a_state_past_the_login_timeout_starts_over_for_the_same_page(dex):
    async def scenario(app):
        first = await asgi(app, "GET", "/authservice/check/slow/form", BROWSER)
        code, state = dex.authorize(first.header("location"))
        app.login.states.clock_offset = 61  # what GATEKEEPER_TEST_CLOCK_OFFSET does
        jar = {"cookie": cookie_header(first.set_cookies())}
        reply = await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={state}", jar)
        assert reply.status == 302 and reply.header("location").startswith(PUBLIC_ISSUER + "/auth")
        assert SESSION_COOKIE not in reply.set_cookies()
        assert jwt.decode(state_of(reply), options={"verify_signature": False})["rd"] == "/slow/form"

    run(dex, scenario, GATEKEEPER_LOGIN_TIMEOUT="60")


def test_a_form_completed_after_thirty_minutes_still_lands_on_its_page(dex):
    async def scenario(app):
        first = await asgi(app, "GET", "/authservice/check/long/form", BROWSER)
        code, state = dex.authorize(first.header("location"))
        app.login.states.clock_offset = 1800
        jar = {"cookie": cookie_header(first.set_cookies())}
        done = await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={state}", jar)
        assert done.status == 302 and done.header("location") == PUBLIC_URL + "/long/form"
        assert SESSION_COOKIE in done.set_cookies()

    run(dex, scenario)


def test_error_from_the_provider_shows_a_page_with_retry(dex):
    async def scenario(app):
        first = await asgi(app, "GET", "/authservice/check/pipelines", BROWSER)
        _, state = dex.authorize(first.header("location"))
        reply = await asgi(
            app,
            "GET",
            f"/authservice/oidc/callback?error=access_denied&error_description=%3Cscript%3E&state={state}",
            {"cookie": cookie_header(first.set_cookies())},
        )
        assert reply.status == 403
        assert "<script>" not in reply.text and "&lt;script&gt;" in reply.text
        assert 'href="/authservice/oidc/login?rd=/pipelines"' in reply.text

    run(dex, scenario)


def test_replayed_state_or_code_gives_no_session(dex):
    async def scenario(app):
        first = await asgi(app, "GET", "/authservice/check/x", BROWSER)
        code, state = dex.authorize(first.header("location"))
        jar = {"cookie": cookie_header(first.set_cookies())}
        assert (await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={state}", jar)).status == 302
        again = await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={state}", jar)
        assert again.status == 302 and again.header("location") == PUBLIC_URL + "/x"  # the check decides there
        assert SESSION_COOKIE not in again.set_cookies()
        second = await asgi(app, "GET", "/authservice/check/y", {**BROWSER, **jar})
        _, fresh_state = dex.authorize(second.header("location"))
        reused = await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={fresh_state}", jar)
        assert reused.status == 400 and "invalid_grant" in reused.text and "Try again" in reused.text
        assert SESSION_COOKIE not in reused.set_cookies()
        nocode = await asgi(app, "GET", f"/authservice/oidc/callback?state={fresh_state}", jar)
        assert nocode.status == 400

    run(dex, scenario)


def test_tampered_state_starts_a_fresh_login(dex):
    async def scenario(app):
        first = await asgi(app, "GET", "/authservice/check/x", BROWSER)
        code, state = dex.authorize(first.header("location"))
        forged = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
        jar = {"cookie": cookie_header(first.set_cookies())}
        reply = await asgi(app, "GET", f"/authservice/oidc/callback?code={code}&state={forged}", jar)
        assert reply.status == 302 and reply.header("location").startswith(PUBLIC_ISSUER + "/auth")
        assert not reply.set_cookies().get(SESSION_COOKIE) and not dex.token_requests

    run(dex, scenario)


def test_id_token_for_another_nonce_is_refused(dex):
    async def scenario(app):
        first = await asgi(app, "GET", "/authservice/check/x", BROWSER)
        code, state = dex.authorize(first.header("location"), nonce="attacker-nonce")
        reply = await asgi(
            app,
            "GET",
            f"/authservice/oidc/callback?code={code}&state={state}",
            {"cookie": cookie_header(first.set_cookies())},
        )
        assert reply.status == 400 and "bad_nonce" in reply.text
        assert SESSION_COOKIE not in reply.set_cookies()

    run(dex, scenario)


def test_huge_group_lists_fail_clearly(dex):
    async def scenario(app):
        reply = await log_in(app, dex, groups=[f"group-number-{i:04d}" for i in range(400)])
        assert reply.status == 400 and "400 groups" in reply.text
        assert SESSION_COOKIE not in reply.set_cookies()

    run(dex, scenario)


# -- API callers, bearer tokens ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, headers",
    [
        ("GET", {"accept": "application/json"}),
        ("GET", {"x-requested-with": "XMLHttpRequest"}),
        ("GET", {"accept": "text/html", "sec-fetch-mode": "cors"}),
        ("GET", {"authorization": "Basic dTpw"}),
        ("POST", {"accept": "*/*"}),
    ],
)
def test_api_calls_get_401_and_no_state_cookie(dex, method, headers):
    async def scenario(app):
        reply = await asgi(app, method, "/authservice/check/apis/v1/runs", headers)
        assert reply.status == 401
        assert reply.json()["error"] == "unauthenticated" and reply.json()["reason"]
        assert reply.header("www-authenticate") == f'Bearer realm="{PUBLIC_URL}"'
        assert not reply.all("set-cookie")

    run(dex, scenario)


def test_bearer_id_tokens(dex):
    async def scenario(app):
        ok = await asgi(app, "GET", "/authservice/check/apis", {"authorization": "Bearer " + dex.id_token()})
        assert ok.status == 200 and ok.header("kubeflow-userid") == "jane@example.com"
        cli = await asgi(
            app,
            "GET",
            "/authservice/check/apis",
            {"authorization": "bearer " + dex.id_token(aud="kfp-cli", email="bot@x")},
        )
        assert cli.status == 200 and cli.header("kubeflow-userid") == "bot@x"
        other = await asgi(
            app, "GET", "/authservice/check/apis", {"authorization": "Bearer " + dex.id_token(aud="someone")}
        )
        assert other.status == 401 and other.json()["error"] == "bad_audience"
        assert 'error="invalid_token"' in other.header("www-authenticate")
        none = jwt.encode(dex.claims(), None, algorithm="none", headers={"kid": dex.kid})
        assert (await asgi(app, "GET", "/authservice/check/apis", {"authorization": "Bearer " + none})).status == 401
        expired = dex.id_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
        assert (await asgi(app, "GET", "/authservice/check/apis", {"authorization": "Bearer " + expired})).json()[
            "error"
        ] == "expired"

    run(dex, scenario, GATEKEEPER_EXTRA_AUDIENCES="kfp-cli")


def test_session_jwt_works_as_bearer_and_id_token_as_cookie(dex):
    async def scenario(app):
        token = session_of(await log_in(app, dex))
        ok = await asgi(app, "GET", "/authservice/check/x", {"authorization": f"Bearer {token}"})
        assert ok.status == 200 and ok.header("kubeflow-userid") == "jane@example.com"
        as_cookie = await asgi(
            app, "GET", "/authservice/check/x", {"cookie": f"{SESSION_COOKIE}={dex.id_token(email='kfp@x')}"}
        )
        assert as_cookie.status == 200 and as_cookie.header("kubeflow-userid") == "kfp@x"
        forged = await asgi(
            app,
            "GET",
            "/authservice/check/x",
            {"cookie": f"{SESSION_COOKIE}={dex.id_token(aud='x')}", "accept": "application/json"},
        )
        assert forged.status == 401 and forged.json()["error"] == "bad_audience"

    run(dex, scenario)


def test_provider_key_rotation_is_followed(dex):
    async def scenario(app):
        dex.rotate()
        reply = await asgi(app, "GET", "/authservice/check/x", {"authorization": "Bearer " + dex.id_token()})
        assert reply.status == 200

    run(dex, scenario)


# -- identity headers ---------------------------------------------------------------------------
def test_every_identity_header_always_present_and_client_values_never_echoed(dex):
    async def scenario(app):
        token = session_of(await log_in(app, dex, groups=[]))
        reply = await asgi(
            app,
            "GET",
            "/authservice/check/x",
            [("cookie", f"{SESSION_COOKIE}={token}"), ("kubeflow-userid", "admin@evil"), ("kubeflow-groups", "root")],
        )
        assert reply.status == 200
        assert reply.all("kubeflow-userid") == ["jane@example.com"] and reply.all("kubeflow-groups") == [""]
        assert "admin@evil" not in str(reply.headers) and "root" not in str(reply.headers)

    run(dex, scenario)


@pytest.mark.parametrize("name", ["kubeflow_userid", "KUBEFLOW_USERID", "Kubeflow_Groups"])
def test_lookalike_identity_headers_are_refused(dex, name):
    async def scenario(app):
        token = session_of(await log_in(app, dex))
        reply = await asgi(
            app, "GET", "/authservice/check/x", [("cookie", f"{SESSION_COOKIE}={token}"), (name, "admin")]
        )
        assert reply.status == 400 and reply.json()["error"] == "forbidden_header"
        skip = await asgi(app, "GET", "/authservice/check/public/x", [(name, "admin")])
        assert skip.status == 400

    run(dex, scenario, GATEKEEPER_SKIP_AUTH_PATHS="/public")


# -- skip-auth -------------------------------------------------------------------------------------
def test_skip_auth_paths_and_bypass_attempts(dex):
    async def scenario(app):
        for target in ["/public", "/public/app.js?v=2", "/static/a/b.css"]:
            reply = await asgi(app, "GET", "/authservice/check" + target, BROWSER)
            assert reply.status == 200, target
            assert reply.all("kubeflow-userid") == [""] and reply.all("kubeflow-groups") == [""]
        for target in [
            "/public/../admin",
            "/public/%2e%2e/admin",
            "/public/..;/admin",
            "//public/../admin",
            "/public%2f..%2fadmin",
            "/admin?/public",
            "/publicity",
            "/admin/../public",
            "/public/..%5cadmin",
        ]:
            reply = await asgi(app, "GET", "/authservice/check" + target, BROWSER)
            assert reply.status in (302, 401), target
        fwd = await asgi(app, "GET", "/authservice/forward-auth", {**BROWSER, "x-forwarded-uri": "/public/x"})
        assert fwd.status == 200
        fwd_evil = await asgi(
            app, "GET", "/authservice/forward-auth", {**BROWSER, "x-forwarded-uri": "/public/../admin"}
        )
        assert fwd_evil.status == 302
        # Envoy style never reads X-Forwarded-Uri
        spoof = await asgi(app, "GET", "/authservice/check/admin", {**BROWSER, "x-forwarded-uri": "/public/x"})
        assert spoof.status == 302

    run(dex, scenario, GATEKEEPER_SKIP_AUTH_PATHS="/public,/static/")


# -- logout ------------------------------------------------------------------------------------
def test_logout_revokes_cookie_and_replay_is_refused(dex):
    async def scenario(app):
        token = session_of(await log_in(app, dex))
        jar = {"cookie": f"{SESSION_COOKIE}={token}"}
        assert (await asgi(app, "GET", "/authservice/check/x", jar)).status == 200
        out = await asgi(app, "GET", "/authservice/logout", jar)
        assert out.status == 302 and out.header("location") == PUBLIC_URL + "/bye"
        assert SESSION_COOKIE in out.expired_cookies()
        replay = await asgi(app, "GET", "/authservice/check/x", {**jar, "accept": "application/json"})
        assert replay.status == 401 and replay.json()["error"] == "revoked"
        browser = await asgi(app, "GET", "/authservice/check/x", {**jar, **BROWSER})
        assert browser.status == 302 and SESSION_COOKIE in browser.expired_cookies()
        as_bearer = await asgi(app, "GET", "/authservice/check/x", {"authorization": f"Bearer {token}"})
        assert as_bearer.status == 401

    run(dex, scenario, GATEKEEPER_AFTER_LOGOUT_URL="/bye")


def test_logout_holds_on_another_worker_sharing_the_revocations_file(dex, tmp_path):
    shared = {"GATEKEEPER_REVOCATIONS_FILE": str(tmp_path / "revocations")}

    async def scenario():
        worker_a, worker_b = await ready_app(dex, **shared), await ready_app(dex, **shared)
        token = session_of(await log_in(worker_a, dex))
        jar = {"cookie": f"{SESSION_COOKIE}={token}", "accept": "application/json"}
        assert (await asgi(worker_b, "GET", "/authservice/check/x", jar)).status == 200
        await asgi(worker_a, "GET", "/authservice/logout", jar)
        worker_b.revoked.sync()  # what worker B's maintenance task does every MAINTENANCE_INTERVAL
        assert (await asgi(worker_b, "GET", "/authservice/check/x", jar)).status == 401
        restarted = await ready_app(dex, **shared)
        await restarted.startup()
        try:
            assert (await asgi(restarted, "GET", "/authservice/check/x", jar)).status == 401
        finally:
            await restarted.shutdown()
        for app in (worker_a, worker_b):
            await app.provider.aclose()

    asyncio.run(scenario())


def test_logout_of_a_bearer_id_token_and_rd_handling(dex):
    async def scenario(app):
        id_token = dex.id_token()
        auth = {"authorization": f"Bearer {id_token}"}
        assert (await asgi(app, "GET", "/authservice/check/x", auth)).status == 200
        out = await asgi(app, "POST", "/authservice/logout?rd=/goodbye", {**auth, "accept": "application/json"})
        assert out.status == 200 and out.json() == {"afterLogoutURL": PUBLIC_URL + "/goodbye"}
        assert (await asgi(app, "GET", "/authservice/check/x", auth)).status == 401
        evil = await asgi(app, "GET", "/authservice/logout?rd=//evil.com")
        assert evil.header("location") == PUBLIC_URL + "/authservice/signed-out"
        page = await asgi(app, "GET", "/authservice/signed-out")
        assert page.status == 200 and "signed out" in page.text
        assert 'href="/authservice/oidc/login?rd=/"' in page.text and "dex-auth" in page.text

    run(dex, scenario)


def test_a_revoked_id_token_stays_revoked_in_another_spelling(dex):
    # PyJWT accepts the signature with base64 padding too: the same token, another string.
    async def scenario(app):
        id_token = dex.id_token()
        padded = {"authorization": f"Bearer {id_token}=="}
        await asgi(
            app, "POST", "/authservice/logout", {"authorization": f"Bearer {id_token}", "accept": "application/json"}
        )
        assert (await asgi(app, "GET", "/authservice/check/x", padded)).status == 401
        as_cookie = {"cookie": f"{SESSION_COOKIE}={id_token}=="}
        assert (
            await asgi(app, "GET", "/authservice/check/x", {**as_cookie, "accept": "application/json"})
        ).status == 401

    run(dex, scenario)


def test_logout_event_is_logged_without_secrets(dex, caplog):
    async def scenario(app):
        done = await log_in(app, dex)
        token = session_of(done)
        await asgi(app, "GET", "/authservice/logout", {"cookie": f"{SESSION_COOKIE}={token}"})
        await asgi(
            app, "GET", "/authservice/check/x", {"cookie": f"{SESSION_COOKIE}={token}", "accept": "application/json"}
        )
        return token

    with caplog.at_level(logging.DEBUG, logger="gatekeeper"):
        token = run(dex, scenario)
    events = {getattr(r, "event", None): r for r in caplog.records}
    assert events["login"].user == "jane@example.com"
    assert events["logout"].user == "jane@example.com"
    assert events["denied"].reason == "revoked" and events["denied"].user == "jane@example.com"
    text = "\n".join(str(vars(r)) for r in caplog.records)
    for secret in (token, token.split(".")[2], "client-secret-value", "a" * 40):
        assert secret not in text


def test_key_rotation_keeps_sessions(dex):
    async def scenario(app):
        old_codec = SessionCodec(make_settings(GATEKEEPER_SESSION_KEYS="k2025=" + "b" * 40).session_keys, 3600)
        old_token, _ = old_codec.issue(user="old@x", groups=(), sub="s")
        reply = await asgi(app, "GET", "/authservice/check/x", {"cookie": f"{SESSION_COOKIE}={old_token}"})
        assert reply.status == 200 and reply.header("kubeflow-userid") == "old@x"

    run(dex, scenario)


def test_expired_session_sends_browser_to_login(dex):
    async def scenario(app):
        token, _ = app.codec.issue(user="u@x", groups=(), sub="s", now=time.time() - 90000)
        reply = await asgi(app, "GET", "/authservice/check/x", {**BROWSER, "cookie": f"{SESSION_COOKIE}={token}"})
        assert reply.status == 302 and SESSION_COOKIE in reply.expired_cookies()

    run(dex, scenario)


# -- the provider being away ----------------------------------------------------------------------
def test_provider_down_sessions_still_work_logins_say_503():
    async def main():
        settings = make_settings(GATEKEEPER_PROVIDER_URL="http://127.0.0.1:9/dex")
        app = Gatekeeper(settings, Provider(settings, max_backoff=0.1))
        await app.startup()
        try:
            await asyncio.sleep(0.2)
            assert (await asgi(app, "GET", "/healthz")).status == 200
            ready = await asgi(app, "GET", "/readyz")
            assert ready.status == 503 and "unreachable" in ready.text
            token, _ = app.codec.issue(user="u@x", groups=("g",), sub="s")
            ok = await asgi(app, "GET", "/authservice/check/x", {"cookie": f"{SESSION_COOKIE}={token}"})
            assert ok.status == 200 and ok.header("kubeflow-userid") == "u@x"
            sent = await asgi(app, "GET", "/authservice/check/x?y=1", BROWSER)
            assert sent.status == 302 and not sent.set_cookies()
            assert sent.header("location") == PUBLIC_URL + "/authservice/unavailable?rd=/x%3Fy%3D1"
            page = await asgi(app, "GET", "/authservice/unavailable?rd=/x%3Fy%3D1", BROWSER)
            assert page.status == 503 and "not available yet" in page.text and page.header("retry-after") == "2"
            assert '<meta http-equiv="refresh" content="2">' in page.text and "<script" not in page.text
            direct = await asgi(app, "GET", "/authservice/oidc/login?rd=/x", BROWSER)
            assert direct.header("location") == PUBLIC_URL + "/authservice/unavailable?rd=/x"
            login = await asgi(app, "GET", "/authservice/oidc/login?rd=/x", {"accept": "application/json"})
            assert login.status == 503 and login.json()["error"] == "provider_unavailable"
            api = await asgi(app, "GET", "/authservice/check/x", {"accept": "application/json"})
            assert api.status == 401 and "unavailable" in api.json()["login"]
            metrics = (await asgi(app, "GET", "/metrics")).text
            assert "gatekeeper_provider_ready 0" in metrics
            assert 'gatekeeper_checks_total{outcome="unavailable"} 1' in metrics
        finally:
            await app.shutdown()

    asyncio.run(main())


def test_lifespan_protocol(dex):
    async def main():
        app = await ready_app(dex)
        inbox = asyncio.Queue()
        sent = []
        for message in ({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}):
            inbox.put_nowait(message)

        async def send(message):
            sent.append(message["type"])

        await app({"type": "lifespan"}, inbox.get, send)
        return sent

    assert asyncio.run(main()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# -- bad input never gives a 500 -------------------------------------------------------------
GARBAGE_HEADERS = [
    {"cookie": "authservice_session=" + "A" * 20000},
    {"cookie": "authservice_session=e30.e30.e30"},
    {"cookie": "authservice_session=%%%; ;;=;==; \x7f=\x01"},
    {"cookie": ";" * 5000},
    {"cookie": "authservice_session=eyJhbGciOiJub25lIn0.eyJ1aWQiOiJ4In0."},
    {"authorization": "Bearer"},
    {"authorization": "Bearer " + "x" * 20000},
    {"authorization": "Bearer e30.e30.e30"},
    {"authorization": "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.AAAA"},
    {"authorization": "Bearer eyJhbGciOiJIUzI1NiIsImtpZCI6ImsyMDI2In0.bm90anNvbg.AAAA"},
    {"authorization": "Bearer \xff\xfe"},
    {"authorization": "Negotiate abc"},
    {"accept": "\xff" * 100, "sec-fetch-mode": "\x00"},
    {"x-forwarded-uri": "\x00\xff//evil"},
]
GARBAGE_TARGETS = [
    "/authservice/check/%00",
    "/authservice/check/%ff%fe",
    "/authservice/check/\xff",
    "/authservice/check/" + "a/" * 3000,
    "/authservice/check",
    "/authservice/checkx",
    "/authservice/forward-auth",
    "/authservice/oidc/callback?state=%00&code=%ff",
    "/authservice/oidc/callback?state=" + "s" * 5000 + "&code=" + "c" * 5000,
    "/authservice/oidc/callback?" + "&".join(f"a{i}=1" for i in range(200)),
    "/authservice/oidc/callback?state=retry-AAAAAAAAAAAAAAAAAAAAAAAA",
    "/authservice/oidc/callback?error=%3Cimg%3E&state=../../x",
    "/authservice/oidc/login?rd=%00",
    "/authservice/oidc/login?rd=" + "/a" * 5000,
    "/authservice/logout?rd=%0d%0a",
    "/authservice/logout",
    "/nope",
]


def test_garbage_never_gives_a_500(dex):
    async def scenario(app):
        statuses = set()
        for target in GARBAGE_TARGETS:
            for headers in [*GARBAGE_HEADERS, BROWSER]:
                for method in ("GET", "POST"):
                    reply = await asgi(app, method, target, headers)
                    assert reply.status < 500 or (reply.status == 503 and b"internal_error" not in reply.body), (
                        target,
                        headers,
                    )
                    statuses.add(reply.status)
        return statuses

    statuses = run(dex, scenario)
    assert {200, 302, 400, 401, 404, 405} <= statuses


def test_unexpected_bug_answers_503_with_reason_and_logs(dex, caplog):
    async def scenario(app):
        async def broken(request):
            raise RuntimeError("bug")

        app.handlers[HEALTHZ] = broken
        return await asgi(app, "GET", "/healthz")

    with caplog.at_level(logging.ERROR, logger="gatekeeper"):
        reply = run(dex, scenario)
    assert reply.status == 503 and reply.json()["error"] == "internal_error"
    assert any(getattr(r, "event", None) == "internal_error" for r in caplog.records)


def test_metrics_endpoint_counts_outcomes(dex):
    async def scenario(app):
        token = session_of(await log_in(app, dex))
        for _ in range(3):
            await asgi(app, "GET", "/authservice/check/x", {"cookie": f"{SESSION_COOKIE}={token}"})
        await asgi(app, "GET", "/authservice/check/x", {"accept": "application/json"})
        await asgi(app, "GET", "/authservice/logout", {"cookie": f"{SESSION_COOKIE}={token}"})
        return (await asgi(app, "GET", "/metrics")).text

    text = run(dex, scenario)
    assert 'gatekeeper_checks_total{outcome="allowed"} 3' in text
    assert 'gatekeeper_checks_total{outcome="unauthorized"} 1' in text
    assert 'gatekeeper_checks_total{outcome="redirected"} 1' in text
    assert 'gatekeeper_logins_total{result="success"} 1' in text
    assert "gatekeeper_logouts_total 1" in text
    assert "gatekeeper_check_duration_seconds_count 5" in text
    assert "gatekeeper_provider_ready 1" in text


def test_basic_authorization_for_the_upstream_does_not_hide_the_session_cookie(dex):
    async def scenario(app):
        token = session_of(await log_in(app, dex))
        for _ in range(2):  # first through the thorough path, then the cached one
            reply = await asgi(
                app,
                "GET",
                "/authservice/check/x",
                {"authorization": "Basic dTpw", "cookie": f"{SESSION_COOKIE}={token}"},
            )
            assert reply.status == 200 and reply.header("kubeflow-userid") == "jane@example.com"

    run(dex, scenario)


def test_cookie_split_over_several_headers_and_odd_spellings(dex):
    async def scenario(app):
        token = session_of(await log_in(app, dex))
        split = await asgi(
            app, "GET", "/authservice/check/x", [("cookie", "a=1"), ("cookie", f"{SESSION_COOKIE}={token}")]
        )
        assert split.status == 200
        shadowed = await asgi(
            app, "GET", "/authservice/check/x", {"cookie": f"x{SESSION_COOKIE}=junk; {SESSION_COOKIE}={token}"}
        )
        assert shadowed.status == 200
        quoted = await asgi(app, "GET", "/authservice/check/x", {"cookie": f'{SESSION_COOKIE}="{token}"'})
        assert quoted.status == 200

    run(dex, scenario)


def test_unavailable_page_sends_the_browser_on_once_a_login_can_start(dex):
    async def scenario(app):
        reply = await asgi(app, "GET", "/authservice/unavailable?rd=/notebooks%3Fa%3D1", BROWSER)
        assert reply.status == 302 and reply.header("location") == PUBLIC_URL + "/notebooks?a=1"
        evil = await asgi(app, "GET", "/authservice/unavailable?rd=//evil.com", BROWSER)
        assert evil.header("location") == PUBLIC_URL + "/"

    run(dex, scenario)


def test_a_used_state_is_refused_by_another_worker_sharing_the_revocations_file(dex, tmp_path):
    shared = {"GATEKEEPER_REVOCATIONS_FILE": str(tmp_path / "revocations")}

    async def scenario():
        worker_a, worker_b = await ready_app(dex, **shared), await ready_app(dex, **shared)
        first = await asgi(worker_a, "GET", "/authservice/check/once", BROWSER)
        code, state = dex.authorize(first.header("location"))
        jar = {"cookie": cookie_header(first.set_cookies())}
        done = await asgi(worker_a, "GET", f"/authservice/oidc/callback?code={code}&state={state}", jar)
        assert SESSION_COOKIE in done.set_cookies()
        worker_b.login.used.sync()
        replay = await asgi(worker_b, "GET", f"/authservice/oidc/callback?code={code}&state={state}", jar)
        assert replay.status == 302 and SESSION_COOKIE not in replay.set_cookies()
        assert len(dex.token_requests) == 1  # refused before the code went to the provider again
        for app in (worker_a, worker_b):
            await app.provider.aclose()

    asyncio.run(scenario())
