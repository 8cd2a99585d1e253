"""Signing a user out everywhere: the operations endpoint, the signed-out page's offer, the rules.

In-process (ASGI) against the fake provider; the same across units with a real Redis is
tests/e2e/test_scale_out.py.
"""

from __future__ import annotations

import asyncio
import json
import time

from gatekeeper_fixtures import asgi, log_in, ready_app

from gatekeeper import revocation_store
from gatekeeper.cookies import SESSION_COOKIE
from gatekeeper.revocations import Revocations

TOKEN = "t" * 40
OPS = {"GATEKEEPER_OPERATIONS_TOKEN": TOKEN}
JSON = {"accept": "application/json"}


def run(dex, scenario, **env):
    async def main():
        app = await ready_app(dex, **env)
        try:
            return await scenario(app)
        finally:
            await app.provider.aclose()

    return asyncio.run(main())


def session_of(reply) -> str:
    return reply.set_cookies()[SESSION_COOKIE]


async def checked(app, token: str) -> int:
    return (await asgi(app, "GET", "/authservice/check/x", {"cookie": f"{SESSION_COOKIE}={token}", **JSON})).status


async def revoke(app, user: str, token: str = TOKEN):
    body = json.dumps({"user": user}).encode()
    return await asgi(app, "POST", "/revoke-user", {"authorization": f"Bearer {token}"}, body)


def test_revoke_user_refuses_what_the_user_had_and_nobody_else(dex):
    async def scenario(app):
        mine = [session_of(await log_in(app, dex, email="ann@example.com")) for _ in range(2)]
        other = session_of(await log_in(app, dex, email="bob@example.com"))
        assert [await checked(app, t) for t in [*mine, other]] == [200, 200, 200]  # cached verdicts
        reply = await revoke(app, "ann@example.com")
        assert reply.status == 200, reply.text
        body = json.loads(reply.body)
        assert body["user"] == "ann@example.com" and body["shared"] is False and "this unit only" in body["store"]
        assert abs(body["notBefore"] - time.time()) < 2
        assert [await checked(app, t) for t in [*mine, other]] == [401, 401, 200]
        refused = await asgi(app, "GET", "/authservice/check/x", {"cookie": f"{SESSION_COOKIE}={mine[0]}", **JSON})
        assert json.loads(refused.body)["error"] == "revoked"

    run(dex, scenario, **OPS)


def test_revoke_user_refuses_the_users_id_tokens_too(dex):
    async def scenario(app):
        id_token = dex.id_token(email="ann@example.com")
        bearer = {"authorization": f"Bearer {id_token}", **JSON}
        assert (await asgi(app, "GET", "/authservice/check/x", bearer)).status == 200
        assert (await revoke(app, "ann@example.com")).status == 200
        assert (await asgi(app, "GET", "/authservice/check/x", bearer)).status == 401

    run(dex, scenario, **OPS)


def test_revoke_user_is_off_without_a_token_and_refuses_a_wrong_one(dex):
    async def off(app):
        return (await revoke(app, "ann@example.com")).status

    assert run(dex, off) == 404

    async def guarded(app):
        wrong = await revoke(app, "ann@example.com", token="w" * 40)
        assert wrong.status == 401 and wrong.header("www-authenticate")
        assert (await asgi(app, "GET", "/revoke-user", {"authorization": f"Bearer {TOKEN}"})).status == 405
        auth = {"authorization": f"Bearer {TOKEN}"}
        for body in (b"{", b"[]", b'{"user": ""}', b'{"user": 3}', json.dumps({"user": "a\nb"}).encode()):
            reply = await asgi(app, "POST", "/revoke-user", auth, body)
            assert reply.status == 400, body
            assert "user" in json.loads(reply.body)["reason"]
        big = await asgi(app, "POST", "/revoke-user", auth, b"{" + b" " * 5000 + b"}")
        assert big.status == 400

    run(dex, guarded, **OPS)


def test_the_signed_out_page_offers_to_sign_out_everywhere_and_it_works(dex):
    async def scenario(app):
        laptop = session_of(await log_in(app, dex, email="ann@example.com"))
        phone = session_of(await log_in(app, dex, email="ann@example.com"))
        out = await asgi(app, "GET", "/authservice/logout", {"cookie": f"{SESSION_COOKIE}={laptop}"})
        proof = out.set_cookies()["authservice_signed_out"]
        proof_line = next(line for line in out.all("set-cookie") if line.startswith("authservice_signed_out="))
        assert "SameSite=Strict" in proof_line and "HttpOnly" in proof_line and "Path=/authservice/" in proof_line
        page = await asgi(app, "GET", "/authservice/signed-out", {"cookie": f"authservice_signed_out={proof}"})
        assert 'action="/authservice/logout/everywhere"' in page.text and "Sign out of all devices" in page.text
        bare = await asgi(app, "GET", "/authservice/signed-out")
        assert "Sign out of all devices" not in bare.text  # no proof, no offer
        assert await checked(app, phone) == 200
        # A GET (a link or image on another site) does nothing; nor does a POST without the proof.
        get = await asgi(app, "GET", "/authservice/logout/everywhere", {"cookie": f"authservice_signed_out={proof}"})
        assert get.status == 405
        assert (await asgi(app, "POST", "/authservice/logout/everywhere")).status == 400
        assert await checked(app, phone) == 200
        done = await asgi(app, "POST", "/authservice/logout/everywhere", {"cookie": f"authservice_signed_out={proof}"})
        assert done.status == 302 and done.header("location").endswith("/authservice/signed-out?everywhere=1")
        assert "authservice_signed_out" in done.expired_cookies()
        assert await checked(app, phone) == 401
        final = await asgi(app, "GET", "/authservice/signed-out?everywhere=1")
        assert "every device" in final.text

    run(dex, scenario)


def test_a_scripts_logout_can_end_every_session_of_its_user(dex):
    async def scenario(app):
        first = session_of(await log_in(app, dex, email="ann@example.com"))
        second = session_of(await log_in(app, dex, email="ann@example.com"))
        jar = {"cookie": f"{SESSION_COOKIE}={first}", **JSON}
        assert (await asgi(app, "GET", "/authservice/logout?everywhere=1", jar)).status == 200
        assert await checked(app, second) == 200  # GET: this session only (a link cannot do more)
        third = session_of(await log_in(app, dex, email="ann@example.com"))
        jar = {"cookie": f"{SESSION_COOKIE}={third}", **JSON}
        assert (await asgi(app, "POST", "/authservice/logout?everywhere=1", jar)).status == 200
        assert await checked(app, second) == 401

    run(dex, scenario)


def test_user_revocations_survive_in_the_file_and_reach_other_workers(tmp_path):
    path = str(tmp_path / "revocations")
    worker_a, worker_b = Revocations(path=path), Revocations(path=path)
    now = time.time()
    assert worker_a.revoke_user('ann "the admin" @example.com', now, now)
    assert not worker_a.revoke_user('ann "the admin" @example.com', now - 10, now)  # an earlier time adds nothing
    worker_b.sync(now)
    assert worker_b.refuses('ann "the admin" @example.com', now - 5)
    assert not worker_b.refuses('ann "the admin" @example.com', now + 5)
    assert not worker_b.refuses("bob@example.com", now - 5)
    restarted = Revocations(path=path)
    restarted.sync(now)
    assert restarted.refuses('ann "the admin" @example.com', int(now))


def test_store_problems_are_said_without_connection_details():
    from redis import exceptions

    cases = {
        exceptions.AuthenticationError("WRONGPASS invalid username-password pair"): "refused the password",
        exceptions.AuthenticationError("Authentication required."): "asks for a password",
        exceptions.ConnectionError("Error 111 connecting to 10.1.2.3:6379. Connection refused."): "cannot connect",
        exceptions.TimeoutError("Timeout connecting to server 10.1.2.3"): "did not answer",
        exceptions.BusyLoadingError("LOADING"): "loading",
    }
    for error, said in cases.items():
        reason = revocation_store.reason_of(error)
        assert said in reason and "10.1.2.3" not in reason and "6379" not in reason
