"""Machine tokens (`extra-jwt-issuers`) through the whole chain, in both gateway styles.

A real issuer process (harness/jwt_issuer.py, the Kubernetes API server's service-account issuer
as the gatekeeper sees it: OpenID discovery + JWKS) mints ServiceAccount-shaped tokens; the charm
is configured with its URL, so the gatekeeper fetches its keys the way it would in a cluster.
The upstream is the Kubeflow Pipelines stand-in of test_programmatic.py, which records every
request it receives: "never reached the app" is checked on that record, not guessed from a status.

The chains also set allowed-groups to a group nobody is in: a listed issuer's tokens are let in
by issuer and audience (documented), so every passing ServiceAccount test here shows that too,
while a person is refused (test_allowed_groups_keep_people_out_and_let_service_accounts_in).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import kfp
import pytest
import requests
from harness.configs import base_config
from harness.jwt_issuer import JwtIssuer
from harness.upstream import Echo
from test_programmatic import PipelinesStack

from gatekeeper.machine_tokens import UNKNOWN_KID_INTERVAL

pytestmark = pytest.mark.e2e

AUD = "pipelines.kubeflow.org"
NAMESPACE, ACCOUNT = "team-a", "pipeline-runner"
SA_USER = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
NOBODYS_GROUP = "a-group-nobody-is-in"
API = {"Accept": "application/json"}
RUNS = "/pipeline/apis/v2beta1/runs"
# What the upstream receives for an identity header the gatekeeper answers empty (harness/caddy.py):
# the Ambassador emulation deletes the client's copy and sets only non-empty answers (absent);
# Caddy 2.6.2's own forward_auth sets every copied header from the answer (present, empty).
EMPTY_HEADER = {"ambassador": [], "forward-auth": [""]}


@dataclass
class Chain:
    stack: PipelinesStack
    issuer: JwtIssuer  # listed in extra-jwt-issuers
    stranger: JwtIssuer  # a second, working issuer that is not listed

    @property
    def mode(self) -> str:
        return self.stack.gateway_mode

    def sa_token(self, **overrides: Any) -> str:
        return self.issuer.service_account_token(NAMESPACE, ACCOUNT, [AUD], **overrides)

    def get(self, token: str, path: str = RUNS, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.get(
            self.stack.url(path), headers={"Authorization": f"Bearer {token}", **API, **(headers or {})}, timeout=20
        )


@pytest.fixture(scope="module", params=["ambassador", "forward-auth"])
def chain(stacks, request) -> Chain:
    """The issuers start first (their URL goes into the charm config), in the stack's process group
    so they stop with it and their logs are saved with the stack's when a test fails."""
    root = stacks.tmp / f"{request.param}-{len(stacks.stacks)}"
    stack = PipelinesStack(root, base_config(), gateway_mode=request.param)
    stacks.stacks.append(stack)  # the pool stops it (issuers included) at the end of the module
    issuer = JwtIssuer.start(stack.processes, root=root / "issuer", name="jwt-issuer")
    stranger = JwtIssuer.start(stack.processes, root=root / "stranger", name="stranger-issuer")
    config = base_config(**{"extra-jwt-issuers": f"{issuer.url}={AUD}", "allowed-groups": NOBODYS_GROUP})
    stack.charm_config = {**config, "public-url": stack.public_url}
    stack.start()
    assert stack.env["GATEKEEPER_EXTRA_JWT_ISSUERS"] == f"{issuer.url}={AUD}"
    return Chain(stack, issuer, stranger)


@pytest.fixture
def _no_kfp_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """KFP reads ~/.config/kfp/context.json; keep the test independent of the machine's."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield


def seen_headers(call: dict[str, Any], name: str) -> list[str]:
    return [v for n, v in call["headers"] if n.lower() == name.lower()]


def assert_reached_as_the_service_account(chain: Chain, answer: requests.Response) -> Echo:
    assert answer.status_code == 200, answer.text[:500]
    echo = Echo.parse(answer.text)
    assert echo.values(chain.stack.userid_header) == [SA_USER], echo.headers
    assert echo.values(chain.stack.groups_header) == EMPTY_HEADER[chain.mode], echo.headers
    return echo


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _alg_none(chain: Chain) -> str:
    """Unsigned, naming the issuer's own RSA key: what a forger without the key would send."""
    kid = next(k["kid"] for k in chain.issuer.jwks()["keys"] if k["kty"] == "RSA")
    now = int(time.time())
    claims = {"iss": chain.issuer.url, "aud": [AUD], "sub": "system:serviceaccount:kube-system:admin"}
    claims |= {"iat": now, "nbf": now, "exp": now + 600}
    header = {"alg": "none", "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _expired(chain: Chain) -> str:
    now = int(time.time())
    return chain.sa_token(iat=now - 7200, nbf=now - 7200, exp=now - 3600)


def _early(chain: Chain) -> str:
    now = int(time.time())
    return chain.sa_token(iat=now + 3600, nbf=now + 3600, exp=now + 7200)


BAD_TOKENS: dict[str, tuple[Callable[[Chain], str], str]] = {
    "wrong-audience": (
        lambda c: c.issuer.service_account_token(NAMESPACE, ACCOUNT, ["https://kubernetes.default.svc"]),
        "bad_audience",
    ),
    "expired": (_expired, "expired"),
    "not-yet-valid": (_early, "not_yet_valid"),
    "expired-es256": (lambda c: c.sa_token(alg="ES256", exp=int(time.time()) - 3600), "expired"),
    "alg-none": (_alg_none, "bad_algorithm"),
}


# --- service-account tokens let in, as their service account ----------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_service_account_token_reaches_the_app_as_its_service_account(chain: Chain, alg: str) -> None:
    token = chain.sa_token(alg=alg, pod="run-1", node="node-a", groups=["system:masters"])  # a claim nobody reads
    assert jwt.get_unverified_header(token)["alg"] == alg
    forged = {chain.stack.userid_header: "admin@example.com", chain.stack.groups_header: "admins,system:masters"}
    before = len(chain.stack.seen)
    echo = assert_reached_as_the_service_account(chain, chain.get(token, headers=forged))
    assert echo.path == RUNS
    assert len(chain.stack.seen) == before + 1
    for header in forged:
        for name in echo.names_like(header):
            assert all(v in ("", SA_USER) for v in echo.values(name)), echo.headers
    # The same token again: answered from the gatekeeper's verdict cache, same identity.
    assert_reached_as_the_service_account(chain, chain.get(token, headers=forged))


@pytest.mark.usefixtures("_no_kfp_context")
def test_the_kfp_sdk_with_a_service_account_token(chain: Chain) -> None:
    token = chain.sa_token()
    before = len(chain.stack.seen)
    client = kfp.Client(host=f"{chain.stack.public_url}/pipeline", existing_token=token)
    experiments = client.list_experiments()
    assert experiments.total_size == 1
    assert experiments.experiments[0].display_name == f"seen as {SA_USER}"
    calls = chain.stack.seen[before:]
    assert [c["path"].split("?")[0] for c in calls] == [
        "/pipeline/apis/v2beta1/healthz",
        "/pipeline/apis/v2beta1/experiments",
    ]
    for call in calls:
        assert seen_headers(call, "authorization") == [f"Bearer {token}"]
        assert seen_headers(call, chain.stack.userid_header) == [SA_USER]
        assert seen_headers(call, chain.stack.groups_header) == EMPTY_HEADER[chain.mode]


# --- refused at the gateway: 401, never the app, never a 5xx -----------------------------------------


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_service_account_token_is_401_at_the_gateway_and_never_reaches_the_app(chain: Chain, case: str) -> None:
    make, reason = BAD_TOKENS[case]
    token = make(chain)
    before = len(chain.stack.seen)
    for _ in range(2):  # the second answer too (nothing about a refusal is cached as a pass)
        answer = chain.get(token)
        assert answer.status_code == 401, (answer.status_code, answer.text[:500])
        assert answer.json()["error"] == reason, answer.text
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    assert len(chain.stack.seen) == before, chain.stack.seen[before:]


def test_a_token_of_an_issuer_not_listed_is_401_and_that_issuer_is_never_contacted(chain: Chain) -> None:
    token = chain.stranger.service_account_token(NAMESPACE, ACCOUNT, [AUD])
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == chain.stranger.url != chain.issuer.url
    before = len(chain.stack.seen)
    for _ in range(3):
        answer = chain.get(token)
        assert answer.status_code == 401, (answer.status_code, answer.text[:500])
        assert answer.json()["error"] in ("unknown_key", "bad_issuer"), answer.text
    assert len(chain.stack.seen) == before
    stats = chain.stranger.stats()
    assert (stats["discovery"], stats["jwks"]) == (0, 0), stats
    assert chain.issuer.stats()["jwks"] >= 1  # the listed one was fetched: the counters do count


# --- key rotation at the issuer ------------------------------------------------------------------------


def test_a_key_rotated_in_at_the_issuer_is_fetched_and_its_tokens_pass(chain: Chain) -> None:
    """The gatekeeper refetches an unknown kid at most once per UNKNOWN_KID_INTERVAL after its last
    fetch, so the new key's token may be refused (401 unknown_key, never a 5xx) until then; the
    test asks once a second for up to two intervals and more, and requires a pass."""
    assert_reached_as_the_service_account(chain, chain.get(chain.sa_token(alg="ES256")))  # keys loaded
    fetched = chain.issuer.stats()["jwks"]
    new_kid = chain.issuer.rotate("ES256")
    token = chain.sa_token(alg="ES256")
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    started = time.monotonic()
    refusals: list[str] = []
    while True:
        answer = chain.get(token)
        if answer.status_code == 200:
            break
        assert answer.status_code == 401, (answer.status_code, answer.text[:500])
        assert answer.json()["error"] == "unknown_key", answer.text
        refusals.append(answer.json()["error"])
        assert time.monotonic() - started < 2 * UNKNOWN_KID_INTERVAL + 15, refusals
        time.sleep(1)
    elapsed = time.monotonic() - started
    assert_reached_as_the_service_account(chain, answer)
    refetches = chain.issuer.stats()["jwks"] - fetched
    assert 1 <= refetches <= 2 + int(elapsed // UNKNOWN_KID_INTERVAL), (refetches, elapsed)
    # Older keys stay published: tokens of the other key (RS256) and of the rotated-out ES256 key pass.
    assert_reached_as_the_service_account(chain, chain.get(chain.sa_token(alg="RS256")))
    old_kid = next(k["kid"] for k in chain.issuer.jwks()["keys"] if k["alg"] == "ES256" and k["kid"] != new_kid)
    assert_reached_as_the_service_account(chain, chain.get(chain.sa_token(alg="ES256", kid=old_kid)))


# --- allowed-groups govern people, not listed machine tokens -------------------------------------------


def test_allowed_groups_keep_people_out_and_let_service_accounts_in(chain: Chain) -> None:
    assert chain.stack.env["GATEKEEPER_ALLOWED_GROUPS"] == NOBODYS_GROUP
    grant = chain.stack.password_grant()
    assert grant.status_code == 200, grant.text
    before = len(chain.stack.seen)
    person = chain.get(grant.json()["id_token"])
    assert person.status_code == 403, (person.status_code, person.text[:500])
    assert person.json()["error"] == "forbidden" and person.json()["user"] == chain.stack.username
    assert len(chain.stack.seen) == before
    assert_reached_as_the_service_account(chain, chain.get(chain.sa_token()))
