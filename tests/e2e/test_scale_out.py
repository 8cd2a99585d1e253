"""Three gatekeeper units behind one gateway, one real redis-server: they act as one.

Each unit is its own process with its own environment (the Pebble layer's, its own port and its
own revocations file, as its own pod would have) and Caddy spreads the gateway's checks across
them round robin. Checks aimed at one unit go to that unit's listener directly, Envoy style
(`<prefix>/check/...`), the way the gateway's own check reaches whichever unit it picked.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from harness import form_login
from harness.configs import base_config
from harness.redis_server import RedisServer
from harness.stack import Stack

import operations_client
from gatekeeper.config import parse_session_keys
from gatekeeper.sessions import SessionCodec

UNITS = 3
LOGOUTS = 50
PROPAGATION_LIMIT = 1.0
REDIS_PASSWORD = "redis-" + secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, RedisServer]]:
    root = tmp_path_factory.mktemp("scale-out")
    stack = Stack(root / "stack", base_config(), units=UNITS)
    redis = RedisServer(stack.processes, root / "redis", password=REDIS_PASSWORD)
    stack.runner.related_redis = redis.relation_data  # the charm renders the URL from the relation
    redis.start()
    try:
        stack.start()
        assert stack.env["GATEKEEPER_REDIS_URL"] == f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis.port}"
        wait_connected(stack, range(UNITS))
        yield stack, redis
    finally:
        stack.stop()


def wait_connected(stack: Stack, which: range | list[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    for unit in which:
        while requests.get(stack.unit_url(unit) + "/readyz/store", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, f"unit {unit} did not reach Redis"
            time.sleep(0.05)


def check(stack: Stack, unit: int, *, cookie: str = "", bearer: str = "") -> int:
    """What one unit answers the gateway's check for this credential (JSON caller: 200 or 401)."""
    headers = {"Accept": "application/json"}
    if cookie:
        headers["Cookie"] = f"authservice_session={cookie}"
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    url = f"{stack.unit_url(unit)}{stack.prefix}/check/notebooks"
    return requests.get(url, headers=headers, timeout=5).status_code


def browser_session(stack: Stack) -> str:
    session = requests.Session()
    result = form_login.login(session, stack.url("/"), stack.username or "", stack.password or "")
    assert result.response.status_code == 200, result.describe()
    return session.cookies["authservice_session"]


_issued: set[str] = set()


def id_token(stack: Stack) -> str:
    """A new ID token: the stand-in signs the same claims into the same token within one second."""
    while (token := _password_grant(stack)) in _issued:
        time.sleep(0.2)
    _issued.add(token)
    return token


def _password_grant(stack: Stack) -> str:
    answer = requests.post(
        stack.url("/dex/token"),
        data={
            "grant_type": "password",
            "username": stack.username,
            "password": stack.password,
            "scope": "openid email groups",
            "client_id": stack.cli_client_id,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["id_token"]


def other_user_session(stack: Stack, user: str) -> str:
    """A session of another user, signed with the units' own key (the static database has one user)."""
    keys = parse_session_keys("GATEKEEPER_SESSION_KEYS", stack.env["GATEKEEPER_SESSION_KEYS"])
    return SessionCodec(keys, 3600).issue(user=user, groups=(), sub=user)[0]


def logout(stack: Stack, unit: int, cookie: str, bearer: str = "") -> None:
    headers = {"Cookie": f"authservice_session={cookie}"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    answer = requests.post(f"{stack.unit_url(unit)}{stack.prefix}/logout", headers=headers, timeout=5)
    assert answer.status_code in (200, 302), answer.text


def until_refused(probes: list[Callable[[], int]], limit: float = 5.0) -> float:
    """Seconds until every probe answers 401 (or `limit`, then the test fails on the figure)."""
    started = time.monotonic()
    pending = list(probes)
    while pending and time.monotonic() - started < limit:
        pending = [probe for probe in pending if probe() != 401]
        if pending:
            time.sleep(0.005)
    return time.monotonic() - started if not pending else float("inf")


def operations_token(stack: Stack) -> str:
    """The token the leader made and rendered into every unit's layer (app_secrets.py)."""
    return stack.env["GATEKEEPER_OPERATIONS_TOKEN"]


def revoke_user(stack: Stack, unit: int, user: str) -> operations_client.RevokedUser:
    """What the revoke-user action does on that unit: the charm's own client, against the real gatekeeper."""
    return operations_client.revoke_user(user, operations_token(stack), base_url=stack.unit_url(unit))


def test_a_session_made_through_the_gateway_works_on_every_unit(units):
    stack, _ = units
    cookie = browser_session(stack)
    assert [check(stack, unit, cookie=cookie) for unit in range(UNITS)] == [200] * UNITS
    through_gateway = [
        requests.get(stack.url("/x"), cookies={"authservice_session": cookie}, timeout=5) for _ in range(6)
    ]
    assert {r.status_code for r in through_gateway} == {200}


def test_a_logout_on_one_unit_is_refused_on_the_others_within_a_second(units):
    stack, _ = units
    delays = []
    for _ in range(LOGOUTS):
        cookie, token = browser_session(stack), id_token(stack)
        for unit in range(1, UNITS):  # the other units hold a cached verdict: the hot path must drop it
            assert check(stack, unit, cookie=cookie) == 200 and check(stack, unit, bearer=token) == 200
        logout(stack, 0, cookie, token)
        probes = [
            lambda unit=unit, kind=kind, value=value: check(stack, unit, **{kind: value})
            for unit in range(1, UNITS)
            for kind, value in (("cookie", cookie), ("bearer", token))
        ]
        delays.append(until_refused(probes))
    delays.sort()
    print(
        f"\nlogout propagation over {LOGOUTS} logouts, {UNITS} units: worst {delays[-1] * 1000:.1f} ms,"
        f" median {delays[len(delays) // 2] * 1000:.1f} ms"
    )
    assert delays[-1] < PROPAGATION_LIMIT


def test_revoke_user_refuses_every_credential_of_that_user_on_every_unit(units):
    stack, _ = units
    cookies_before = [browser_session(stack) for _ in range(2)]
    token_before = id_token(stack)
    bystander = other_user_session(stack, "bystander@example.com")
    for unit in range(UNITS):
        assert check(stack, unit, bearer=token_before) == 200 and check(stack, unit, cookie=bystander) == 200

    answer = revoke_user(stack, 1, stack.username or "")
    assert answer.shared and answer.user == stack.username and answer.store == "redis: connected"
    assert abs(answer.not_before - time.time()) < 5
    results = answer.results()
    assert results["shared"] == "true" and results["not-before"].endswith("Z")
    probes = [lambda unit=unit, c=c: check(stack, unit, cookie=c) for unit in range(UNITS) for c in cookies_before]
    probes += [lambda unit=unit: check(stack, unit, bearer=token_before) for unit in range(UNITS)]
    delay = until_refused(probes)
    print(f"\nrevoke-user refused everywhere after {delay * 1000:.1f} ms")
    assert delay < PROPAGATION_LIMIT
    assert [check(stack, unit, cookie=bystander) for unit in range(UNITS)] == [200] * UNITS

    time.sleep(1.1)  # what is issued from the next second on is the user's new life
    fresh = browser_session(stack)
    assert [check(stack, unit, cookie=fresh) for unit in range(UNITS)] == [200] * UNITS


def test_revoke_user_asks_for_the_operations_token(units):
    stack, _ = units
    with pytest.raises(operations_client.OperationsError, match="refused the operations token"):
        operations_client.revoke_user("x@example.com", "wrong-" + "x" * 40, base_url=stack.unit_url(0))
    assert requests.post(stack.unit_url(0) + "/revoke-user", json={"user": "x"}, timeout=5).status_code == 401
    assert requests.get(stack.unit_url(0) + "/revoke-user", timeout=5).status_code == 405
    bad_body = requests.post(
        stack.unit_url(0) + "/revoke-user",
        data=b"{",
        headers={"Authorization": f"Bearer {operations_token(stack)}"},
        timeout=5,
    )
    assert bad_body.status_code == 400 and "user" in bad_body.json()["reason"]
    with pytest.raises(operations_client.OperationsError, match='refused the request: "user" must be the user id'):
        revoke_user(stack, 0, " ")
    # Never through the gateway: the public side only reaches the gatekeeper under its prefix.
    assert requests.post(stack.url("/revoke-user"), json={"user": "x"}, timeout=5).status_code != 200


def test_with_redis_down_units_keep_serving_and_logouts_arrive_when_it_is_back(units):
    stack, redis = units
    revoked_before = browser_session(stack)
    logout(stack, 0, revoked_before)
    assert until_refused([lambda: check(stack, 2, cookie=revoked_before)]) < PROPAGATION_LIMIT
    made_during = browser_session(stack)
    for unit in range(UNITS):
        assert check(stack, unit, cookie=made_during) == 200

    redis.stop()
    try:
        wait_store(stack, 0, 503)
        store = requests.get(stack.unit_url(0) + "/readyz/store", timeout=2).text
        assert "unreachable" in store and str(redis.port) not in store and REDIS_PASSWORD not in store
        ready = requests.get(stack.unit_url(0) + "/readyz", timeout=2)
        assert ready.status_code == 200 and "degraded" in ready.text
        metrics = requests.get(stack.unit_url(0) + "/metrics", timeout=2).text
        assert "gatekeeper_revocation_store_up 0" in metrics
        new_login = browser_session(stack)  # logins and checks go on
        assert check(stack, 1, cookie=new_login) == 200
        logout(stack, 0, made_during)  # recorded on unit 0, kept for Redis
        assert check(stack, 0, cookie=made_during) == 401
        assert check(stack, 1, cookie=made_during) == 200  # cannot travel yet: the stated limit
        stack.stop_gatekeeper(2)  # a unit restarted while Redis is away keeps what it had learned
        stack.start_gatekeeper(unit=2)
        assert check(stack, 2, cookie=revoked_before) == 401
    finally:
        redis.start()  # empty: no persistence; the units fill it again
    back = time.monotonic()
    delay = until_refused([lambda u=u: check(stack, u, cookie=made_during) for u in range(1, UNITS)])
    print(f"\nlogout made while Redis was down refused everywhere {delay * 1000:.0f} ms after Redis came back")
    assert delay < PROPAGATION_LIMIT, f"{time.monotonic() - back:.2f}s"
    assert [check(stack, u, cookie=revoked_before) for u in range(UNITS)] == [401] * UNITS


def wait_store(stack: Stack, unit: int, status: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while requests.get(stack.unit_url(unit) + "/readyz/store", timeout=2).status_code != status:
        assert time.monotonic() < deadline, f"unit {unit}'s store never answered {status}"
        time.sleep(0.05)


def test_revocations_survive_restarting_every_unit(units):
    stack, _ = units
    wait_connected(stack, range(UNITS))
    cookie = browser_session(stack)
    logout(stack, 1, cookie)
    assert until_refused([lambda u=u: check(stack, u, cookie=cookie) for u in range(UNITS)]) < PROPAGATION_LIMIT
    for unit in range(UNITS):
        stack.stop_gatekeeper(unit)
    for unit in range(UNITS):
        stack.start_gatekeeper(unit=unit)
    assert [check(stack, u, cookie=cookie) for u in range(UNITS)] == [401] * UNITS


def test_a_wrong_or_missing_redis_password_is_said_plainly_and_never_logged(units, tmp_path):
    stack, redis = units
    wrong = "wrong-" + secrets.token_urlsafe(12)
    stack.stop_gatekeeper(2)
    with pytest.raises(operations_client.OperationsError, match="on this unit does not answer"):
        revoke_user(stack, 2, "x@example.com")  # the action, on a unit whose gatekeeper is down
    try:
        for url, said in (
            (redis.url_with_password(wrong), "refused the password"),
            (redis.url.replace(f":{REDIS_PASSWORD}@", ""), "asks for a password"),
        ):
            stack.start_gatekeeper(unit=2, extra_env={"GATEKEEPER_REDIS_URL": url})
            wait_store(stack, 2, 503)
            assert said in requests.get(stack.unit_url(2) + "/readyz/store", timeout=2).text
            assert check(stack, 2, cookie=browser_session(stack)) == 200  # it serves regardless
            stack.stop_gatekeeper(2)
    finally:
        stack.start_gatekeeper(unit=2)
    logs = "\n".join(stack.logs().values())
    assert "revocation store unreachable" in logs
    assert REDIS_PASSWORD in stack.secret_values() and operations_token(stack) in stack.secret_values()
    for secret in (wrong, *stack.secret_values()):
        assert secret not in logs
