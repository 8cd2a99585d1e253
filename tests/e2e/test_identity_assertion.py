"""The identity assertion (`identity-assertion-header`) through the whole chain, in both gateway styles.

Every 200 of the check carries an ES256 JWT naming the user; the gateway copies it onto the
upstream request like the identity headers. The upstream (the echo app) verifies it here as an app
would: with PyJWT, against the JWKS fetched through the gateway at
`<public-url>/authservice/.well-known/jwks.json`. A client's own copy of the header must never
reach the app as sent: replaced by the real one when signed in, blanked on a skip-auth path, and a
look-alike spelling is refused by the check.

How the gateways copy an answer the gatekeeper sends empty (harness/caddy.py): the Ambassador
emulation deletes the client's copy and sets only non-empty answers (the header is absent
upstream); Caddy 2.6.2's own forward_auth sets every copied header from the answer (present, empty).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from harness import form_login
from harness.configs import base_config
from harness.jwt_issuer import JwtIssuer
from harness.raw_http import raw_request
from harness.stack import Stack
from harness.upstream import Echo

pytestmark = pytest.mark.e2e

HEADER = "kubeflow-identity-assertion"
LIFETIME = 300
SKIP = "/public"
AUD = "pipelines.kubeflow.org"
NAMESPACE, ACCOUNT = "team-a", "pipeline-runner"
SA_USER = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
API = {"Accept": "application/json"}
EMPTY_HEADER = {"ambassador": [], "forward-auth": [""]}


@dataclass
class Chain:
    stack: Stack
    issuer: JwtIssuer

    @property
    def mode(self) -> str:
        return self.stack.gateway_mode

    def config(self, **options: str) -> dict[str, Any]:
        return chain_config(self.issuer, **options)


def chain_config(issuer: JwtIssuer, **options: str) -> dict[str, Any]:
    return base_config(
        **{
            "identity-assertion-header": HEADER,
            "extra-jwt-issuers": f"{issuer.url}={AUD}",
            "skip-auth-paths": SKIP,
            **options,
        }
    )


@pytest.fixture(scope="module", params=["ambassador", "forward-auth"])
def chain(stacks, request) -> Chain:
    """The issuer starts first (its URL goes into the charm config), in the stack's process group."""
    root = stacks.tmp / f"{request.param}-{len(stacks.stacks)}"
    stack = Stack(root, base_config(), gateway_mode=request.param)
    stacks.stacks.append(stack)  # the pool stops it, the issuer with it, at the end of the module
    issuer = JwtIssuer.start(stack.processes, root=root / "issuer", name="jwt-issuer")
    stack.charm_config = {**chain_config(issuer), "public-url": stack.public_url}
    stack.start()
    assert stack.env["GATEKEEPER_ASSERTION_HEADER"] == HEADER
    return Chain(stack, issuer)


# --- what an app does with the header ----------------------------------------------------------------


def jwks_through_the_gateway(stack: Stack) -> dict[str, Any]:
    """The public keys, fetched as an app would, with no credentials (the route bypasses the check)."""
    answer = requests.get(stack.url(f"{stack.prefix}/.well-known/jwks.json"), timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Type"].startswith("application/json")
    jwks = answer.json()
    assert jwks["keys"], jwks
    for key in jwks["keys"]:
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig"), key
        assert "d" not in key, "the JWKS must not publish the private key"
    return jwks


def verified(stack: Stack, assertion: str, audience: str | None = None) -> dict[str, Any]:
    header = jwt.get_unverified_header(assertion)
    assert header["alg"] == "ES256", header
    key = jwt.PyJWKSet.from_dict(jwks_through_the_gateway(stack))[header["kid"]]
    claims = jwt.decode(
        assertion,
        key,
        algorithms=["ES256"],
        audience=audience or stack.public_url,
        issuer=stack.public_url,
        options={"require": ["iss", "aud", "sub", "iat", "exp"]},
    )
    assert 0 < claims["exp"] - claims["iat"] <= LIFETIME, claims
    assert claims["iat"] <= time.time() + 5 and claims["exp"] > time.time(), claims
    return claims


def assertion_of(chain: Chain, echo: Echo, audience: str | None = None) -> dict[str, Any]:
    """The one assertion the app received, verified, its sub equal to the user id header it got."""
    stack = chain.stack
    values = echo.values(HEADER)
    assert len(values) == 1 and values[0], echo.headers
    claims = verified(stack, values[0], audience)
    assert claims["sub"] == echo.values(stack.userid_header)[0], (claims, echo.headers)
    groups = echo.values(stack.groups_header)
    assert claims["groups"] == ([g for g in groups[0].split(",") if g] if groups else []), (claims, echo.headers)
    return claims


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **API, **headers}


def id_token(stack: Stack) -> str:
    grant = stack.password_grant()
    assert grant.status_code == 200, grant.text
    return grant.json()["id_token"]


def forged_assertion(stack: Stack, sub: str = "admin@example.com") -> str:
    """Well formed, right iss and aud, but signed by a key that is not the application's."""
    now = int(time.time())
    claims = {"iss": stack.public_url, "aud": stack.public_url, "sub": sub, "groups": ["admins"]}
    claims |= {"email": sub, "iat": now, "exp": now + LIFETIME}
    return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "forged"})


# --- signed-in requests carry a verifiable assertion ---------------------------------------------------


def test_a_password_grant_bearer_reaches_the_app_with_a_verifiable_assertion(chain: Chain) -> None:
    stack = chain.stack
    token = id_token(stack)
    first = requests.get(stack.url("/notebooks/api/things"), headers=bearer(token), timeout=15)
    assert first.status_code == 200, first.text[:500]
    echo = Echo.parse(first.text)
    assert echo.values(stack.userid_header) == [stack.username]
    claims = assertion_of(chain, echo)
    assert (claims["sub"], claims["email"], claims["aud"], claims["iss"]) == (
        stack.username,
        stack.username,
        stack.public_url,
        stack.public_url,
    )
    again = requests.get(stack.url("/notebooks/api/other"), headers=bearer(token), timeout=15)  # the cached verdict
    assert again.status_code == 200
    assert assertion_of(chain, Echo.parse(again.text))["sub"] == stack.username


def test_a_browser_login_reaches_the_app_with_a_verifiable_assertion(chain: Chain) -> None:
    stack = chain.stack
    browser = requests.Session()
    result = form_login.login(browser, stack.url("/browse/page?x=1"), stack.username or "", stack.password or "")
    assert result.response.status_code == 200, result.describe()
    echo = Echo.parse(result.response.text)
    assert echo.path == "/browse/page?x=1"
    assert echo.values(stack.userid_header) == [stack.username]
    claims = assertion_of(chain, echo)
    assert (claims["sub"], claims["email"]) == (stack.username, stack.username)


def test_a_service_account_token_gets_an_assertion_naming_the_service_account(chain: Chain) -> None:
    token = chain.issuer.service_account_token(NAMESPACE, ACCOUNT, [AUD], alg="ES256")
    answer = requests.get(chain.stack.url("/pipeline/apis/v2beta1/runs"), headers=bearer(token), timeout=15)
    assert answer.status_code == 200, answer.text[:500]
    echo = Echo.parse(answer.text)
    assert echo.values(chain.stack.userid_header) == [SA_USER]
    claims = assertion_of(chain, echo)
    assert (claims["sub"], claims["groups"]) == (SA_USER, [])
    assert "email" not in claims, claims


# --- a client's own copy never reaches the app as sent ---------------------------------------------------


def test_a_forged_assertion_of_a_signed_in_caller_is_replaced_by_the_real_one(chain: Chain) -> None:
    stack = chain.stack
    forged = forged_assertion(stack)
    answer = requests.get(stack.url("/whoami"), headers=bearer(id_token(stack), **{HEADER: forged}), timeout=15)
    assert answer.status_code == 200, answer.text[:500]
    echo = Echo.parse(answer.text)
    assert forged not in [v for name in echo.names_like(HEADER) for v in echo.values(name)], echo.headers
    assert assertion_of(chain, echo)["sub"] == stack.username


def test_a_forged_assertion_without_credentials_never_reaches_the_app(chain: Chain) -> None:
    forged = forged_assertion(chain.stack)
    answer = raw_request(chain.stack.public_url, "GET", "/whoami", [(HEADER, forged), *API.items()])
    assert answer.status == 401, answer.body[:300]
    assert answer.json()["error"] == "unauthenticated"


def test_a_forged_assertion_on_a_skip_auth_path_is_blanked(chain: Chain) -> None:
    forged = forged_assertion(chain.stack)
    headers = [(HEADER, forged), (chain.stack.userid_header, "admin@example.com"), *API.items()]
    answer = raw_request(chain.stack.public_url, "GET", f"{SKIP}/readme", headers)
    assert answer.status == 200, answer.body[:300]
    echo = Echo.parse(answer.body)
    assert echo.path == f"{SKIP}/readme"
    assert echo.values(HEADER) == EMPTY_HEADER[chain.mode], echo.headers
    assert echo.values(chain.stack.userid_header) == EMPTY_HEADER[chain.mode], echo.headers
    assert echo.names_like(HEADER) == ([HEADER.title()] if chain.mode == "forward-auth" else []), echo.headers


@pytest.mark.parametrize(
    "spelling", ["kubeflow_identity_assertion", "KUBEFLOW_IDENTITY_ASSERTION", "kubeflow-identity_assertion"]
)
def test_a_lookalike_assertion_header_is_refused(chain: Chain, spelling: str) -> None:
    stack = chain.stack
    token = id_token(stack)
    headers = [(spelling, forged_assertion(stack)), ("Authorization", f"Bearer {token}"), *API.items()]
    answer = raw_request(stack.public_url, "GET", "/whoami", headers)
    assert answer.status == 400, (answer.status, answer.body[:300])
    assert b'"headers"' not in answer.body  # the gatekeeper's refusal, not the echo app's answer
    # The same caller without the look-alike passes: the refusal was about the header alone.
    assert requests.get(stack.url("/whoami"), headers=bearer(token), timeout=15).status_code == 200


# --- a configured audience ------------------------------------------------------------------------------


def test_a_configured_audience_is_the_assertions_aud(chain: Chain) -> None:
    stack = chain.stack
    audience = "https://apps.kubeflow.example/assertions"
    done = stack.reconfigure(chain.config(**{"identity-assertion-audience": audience}))
    try:
        assert done.gatekeeper and stack.env["GATEKEEPER_ASSERTION_AUDIENCE"] == audience
        answer = requests.get(stack.url("/whoami"), headers=bearer(id_token(stack)), timeout=15)
        assert answer.status_code == 200, answer.text[:500]
        echo = Echo.parse(answer.text)
        claims = assertion_of(chain, echo, audience=audience)
        assert (claims["aud"], claims["sub"]) == (audience, stack.username)
        with pytest.raises(jwt.InvalidAudienceError):
            verified(stack, echo.values(HEADER)[0], audience=stack.public_url)
    finally:
        stack.reconfigure(chain.config())
    assert stack.env.get("GATEKEEPER_ASSERTION_AUDIENCE", "") in ("", stack.public_url)
