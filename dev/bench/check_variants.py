"""The check next to the session cookie: a Kubernetes ServiceAccount token, and the identity assertion.

`check-sa-token`: the bearer is a token shaped as `kubectl create token <sa> --audience=<aud>`
returns it (RS256), minted by the end-to-end harness's issuer process
(tests/e2e/harness/jwt_issuer.py). The issuer starts before the stack and is listed in the
charm's `extra-jwt-issuers`, so the gatekeeper fetches its keys by OpenID discovery as it would
fetch a cluster's, and verifies the token once; wrk's requests then hit its verdict cache as the
other checks do.

`check-envoy-cookie-assertion`: the same session cookie, answered by a second gatekeeper with
`identity-assertion-header` on. The option changes every 200 (a third header, an ES256 JWT signed
once per verdict and again every 4 minutes: src/gatekeeper/assertions.py), so it is never turned
on for the stack's gatekeeper, which measures the plain rows. The second one is started by the
harness's own `Stack.start_gatekeeper`: the Pebble layer's command and environment (the same
session keys, so the same cookie verifies) plus GATEKEEPER_ASSERTION_HEADER and
GATEKEEPER_ASSERTION_KEYS, on its own port and out of the gateway's routes.
"""

from __future__ import annotations

from typing import Any

import jwt
from harness.processes import ManagedProcess, free_port
from harness.stack import Stack

from gatekeeper.assertion_keys import ALGORITHM, generate_pem
from gatekeeper.issuer_list import extra_jwt_issuers

SA_NAMESPACE = "kubeflow"
SA_NAME = "pipeline-runner"
SA_AUDIENCE = "pipelines.kubeflow.org"
ASSERTION_HEADER = "kubeflow-identity-assertion"
DAY = 24 * 3600
ROW_OVERHEAD_S = 120  # per row and round, beyond warm-up and run: server starts, logins, verifications


class VariantError(RuntimeError):
    """A variant's answer is not the one meant to be measured."""


def issuer_entry(issuer_url: str, audience: str = SA_AUDIENCE) -> str:
    """The `extra-jwt-issuers` value listing the issuer for `audience`, as the gatekeeper reads it
    (loopback http is allowed there)."""
    entry = f"{issuer_url}={audience}"
    [parsed] = extra_jwt_issuers(entry)  # raises InvalidValue for what the charm would refuse
    if parsed.issuer != issuer_url.rstrip("/") or parsed.audiences != (audience,):
        raise VariantError(f"extra-jwt-issuers reads {entry!r} as {parsed}")
    return entry


def service_account_userid(namespace: str = SA_NAMESPACE, name: str = SA_NAME) -> str:
    """What the gatekeeper names a ServiceAccount token's holder: its `sub`, as the API server writes it."""
    return f"system:serviceaccount:{namespace}:{name}"


def token_lifetime(rows: int, rounds: int, warmup: int, seconds: int, soak: int) -> int:
    """Seconds a token minted at the start outlives the whole run by a wide margin (a day at least):
    its verdict, cached until it expires, must not turn into refusals mid-run."""
    return DAY + rows * rounds * (warmup + seconds + ROW_OVERHEAD_S) + soak


def assertion_env(keys_pem: str | None = None, header: str = ASSERTION_HEADER) -> dict[str, str]:
    """What the charm adds to the gatekeeper's environment with `identity-assertion-header` set:
    the header, and the application's ES256 key (a new one unless given)."""
    return {"GATEKEEPER_ASSERTION_HEADER": header, "GATEKEEPER_ASSERTION_KEYS": keys_pem or generate_pem()}


def start_second_gatekeeper(stack: Stack, extra_env: dict[str, str]) -> tuple[ManagedProcess, str]:
    """(process, url) of one more gatekeeper from the stack's rendered command and environment
    plus `extra_env`, on its own port.

    It borrows the harness's next unit slot only while `Stack.start_gatekeeper` starts it (the
    layer's command and environment, its own revocations file, ready at /readyz), then gives the
    slot back: the gateway and the chain configs (`Stack._services`) never route to it, and the
    stack stops it with its other processes.
    """
    unit = len(stack.unit_ports)
    stack.unit_ports.append(free_port())
    try:
        url = stack.unit_url(unit)
        return stack.start_gatekeeper(unit=unit, extra_env=extra_env), url
    finally:
        stack.unit_ports.pop()


def verify_assertion(token: str, jwks: dict[str, Any], *, issuer: str, audience: str, subject: str) -> dict[str, Any]:
    """The assertion's claims, once its ES256 signature verifies against the published `jwks` and
    it names `subject`, for `audience`, from `issuer`, in date."""
    if not token:
        raise VariantError("the 200 carries no identity assertion")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = jwt.PyJWKSet.from_dict(jwks)[str(kid)]
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["iss", "aud", "sub", "iat", "exp"]},
        )
    except (jwt.PyJWTError, KeyError) as err:
        raise VariantError(
            f"the identity assertion does not verify against the JWKS: {type(err).__name__}: {err}"
        ) from err
    if claims["sub"] != subject:
        raise VariantError(f"the identity assertion names {claims['sub']!r}, not {subject!r}")
    return claims
