"""Extra JWT issuers at the check: Kubernetes-shaped ServiceAccount tokens from a real issuer
process (discovery + JWKS, RS256 and ES256, rotation, bearer-protected discovery, TLS), verified
by the app in-process; the refusals are 401s with a reason, never a 500."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from gatekeeper_fixtures import FakeDex, asgi, ready_app
from harness.jwt_issuer import JwtIssuer
from harness.processes import ProcessGroup
from harness.tls import make_tls_files

pytestmark = pytest.mark.e2e

AUD = "pipelines.kubeflow.org"
API = {"accept": "application/json"}


@pytest.fixture
def issuer(group: ProcessGroup, tmp_path: Path) -> JwtIssuer:
    return JwtIssuer.start(group, root=tmp_path / "issuer")


async def machine_app(dex: FakeDex, **env: str):
    """The app once each extra issuer's first fetch has run, as its background task would have."""
    app = await ready_app(dex, **env)
    for keys in app.machine.issuers.values():
        await keys.fetch()
    return app


def check(dex: FakeDex, scenario, **env: str) -> Any:
    async def main() -> Any:
        app = await machine_app(dex, **env)
        try:
            return await scenario(app)
        finally:
            await app.provider.aclose()
            await app.machine.aclose()

    return asyncio.run(main())


async def ask(app, token: str, path: str = "/pipeline/apis/v2beta1/runs"):
    return await asgi(app, "GET", "/authservice/check" + path, {"authorization": f"Bearer {token}", **API})


def sa_token(issuer: JwtIssuer, **overrides: Any) -> str:
    return issuer.service_account_token("team-a", "pipeline-runner", [AUD], **overrides)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_service_account_token_passes_as_its_subject_with_empty_groups(dex, issuer, alg) -> None:
    token = sa_token(issuer, alg=alg, groups=["system:masters"])  # a groups claim nobody asked to read

    async def scenario(app):
        reply = await ask(app, token)
        assert reply.status == 200, reply.text
        assert reply.header("kubeflow-userid") == "system:serviceaccount:team-a:pipeline-runner"
        assert reply.header("kubeflow-groups") == ""

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}", GATEKEEPER_USERID_PREFIX="oidc:")


def test_the_issuers_claims_name_the_user_and_groups_when_configured(dex, issuer) -> None:
    token = issuer.mint(
        {
            "iss": issuer.url,
            "aud": "ci",
            "sub": "x",
            "email": "robot@ci.example",
            "roles": ["deployers", "bad,group"],
            "exp": int(time.time()) + 600,
        }
    )

    async def scenario(app):
        reply = await ask(app, token)
        assert (reply.status, reply.header("kubeflow-userid"), reply.header("kubeflow-groups")) == (
            200,
            "ci:robot@ci.example",
            "deployers",
        )

    entry = f"{issuer.url}=ci;userid-claim=email;groups-claim=roles;userid-prefix=ci:"
    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=entry)


def test_every_audience_listed_for_the_issuer_passes_and_no_other(dex, issuer) -> None:
    async def scenario(app):
        for audience, status in ((AUD, 200), ("notebooks", 200), ("kubernetes", 401)):
            token = issuer.service_account_token("ns", "sa", [audience])
            reply = await ask(app, token)
            assert reply.status == status, (audience, reply.text)
        refused = await ask(app, issuer.service_account_token("ns", "sa", ["kubernetes"]))
        assert refused.json()["error"] == "bad_audience"

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD},{issuer.url}=notebooks")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _forged(issuer: JwtIssuer, alg: str) -> str:
    """A token whose header names `alg` on the issuer's RSA kid: unsigned (none), or HS256 keyed
    with the issuer's public key as text, the classic key confusion."""
    jwk = next(k for k in issuer.jwks()["keys"] if k["kty"] == "RSA")
    claims = {"iss": issuer.url, "aud": [AUD], "sub": "system:serviceaccount:x:y", "exp": int(time.time()) + 600}
    signing_input = (
        _b64(json.dumps({"alg": alg, "kid": jwk["kid"]}).encode()) + b"." + _b64(json.dumps(claims).encode())
    )
    if alg == "none":
        return (signing_input + b".").decode()
    public_pem = jwt.PyJWK(jwk).key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _b64(signature)).decode()


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_alg_none_and_hmac_on_the_rsa_key_are_401(dex, issuer, alg) -> None:
    token = _forged(issuer, alg)

    async def scenario(app):
        reply = await ask(app, token)
        assert reply.status == 401 and reply.json()["error"] in ("bad_algorithm", "unknown_key"), reply.text

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not_yet_valid"),
        ({"iat": int(time.time()) + 3600, "nbf": None}, "not_yet_valid"),
        ({"exp": None}, "invalid"),
    ],
)
def test_tokens_out_of_date_or_without_exp_are_401(dex, issuer, bad, reason) -> None:
    token = sa_token(issuer, **bad)

    async def scenario(app):
        reply = await ask(app, token)
        assert (reply.status, reply.json()["error"]) == (401, reason)

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


def test_a_token_naming_an_issuer_not_listed_is_401_and_that_issuer_is_never_contacted(
    dex, issuer, group, tmp_path
) -> None:
    stranger = JwtIssuer.start(group, root=tmp_path / "stranger", name="stranger")
    token = sa_token(stranger)

    async def scenario(app):
        for _ in range(3):
            reply = await ask(app, token)
            assert reply.status == 401 and reply.json()["error"] in ("unknown_key", "bad_issuer"), reply.text
        assert stranger.stats()["discovery"] == stranger.stats()["jwks"] == 0

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


def test_a_rotated_key_is_fetched_once_and_unknown_kids_refetch_at_most_once_per_interval(dex, issuer) -> None:
    async def scenario(app):
        keys = app.machine.issuers[issuer.url]
        assert (await ask(app, sa_token(issuer))).status == 200
        fetched = issuer.stats()["jwks"]
        new_kid = issuer.rotate("ES256")
        keys._last_fetch = 0.0  # the interval since the first fetch has passed
        reply = await ask(app, sa_token(issuer, alg="ES256"))
        assert reply.status == 200 and new_kid in keys.keys, reply.text
        assert issuer.stats()["jwks"] == fetched + 1
        for n in range(5):  # unknown kids, each its own token: one refetch at most within the interval
            reply = await ask(app, sa_token(issuer, header={"kid": f"nobody-{n}"}))
            assert (reply.status, reply.json()["error"]) == (401, "unknown_key")
        assert issuer.stats()["jwks"] == fetched + 1

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


def test_the_issuer_away_never_blocks_a_known_key_and_a_first_contact_failure_is_a_401(dex, issuer) -> None:
    async def scenario(app):
        assert (await ask(app, sa_token(issuer))).status == 200
        issuer.down(True)
        started = time.monotonic()
        reply = await ask(app, sa_token(issuer, jti="another"))
        assert reply.status == 200 and time.monotonic() - started < 0.5
        fresh = await machine_app(dex, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")
        try:
            refused = await ask(fresh, sa_token(issuer))
            assert (refused.status, refused.json()["error"]) == (401, "issuer_unavailable")
        finally:
            await fresh.provider.aclose()
            await fresh.machine.aclose()

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


def _service_account_dir(root: Path, token: str, ca: Path | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "token").write_text(token)
    if ca is not None:
        (root / "ca.crt").write_bytes(ca.read_bytes())
    return root


def test_the_pods_token_and_cluster_ca_reach_an_api_server_style_issuer(dex, group, tmp_path, caplog) -> None:
    tls = make_tls_files(tmp_path / "tls")
    pod_token = "pod-service-account-token-" + "x" * 40
    issuer = JwtIssuer.start(group, root=tmp_path / "api", tls=(tls.cert, tls.key), ca=tls.ca, require_bearer=pod_token)
    entry = f"{issuer.url}={AUD};credentials=serviceaccount"

    async def scenario(app):
        assert (await ask(app, sa_token(issuer))).status == 200
        assert issuer.stats()["unauthorized"] == 0

    check(
        dex,
        scenario,
        GATEKEEPER_EXTRA_JWT_ISSUERS=entry,
        GATEKEEPER_SERVICE_ACCOUNT_DIR=str(_service_account_dir(tmp_path / "sa", pod_token, tls.ca)),
    )

    async def refused(app):
        reply = await ask(app, sa_token(issuer))
        assert (reply.status, reply.json()["error"]) == (401, "issuer_unavailable")

    with caplog.at_level(logging.WARNING, logger="gatekeeper.machine_tokens"):
        check(dex, refused, GATEKEEPER_EXTRA_JWT_ISSUERS=entry, GATEKEEPER_SERVICE_ACCOUNT_DIR=str(tmp_path / "none"))
    reasons = [r.reason for r in caplog.records if getattr(r, "event", "") == "issuer_error"]
    assert reasons and "service-account token" in reasons[0] and "cannot be read" in reasons[0]
    assert pod_token not in caplog.text

    with caplog.at_level(logging.WARNING, logger="gatekeeper.machine_tokens"):
        check(  # the token but not the cluster's CA: the certificate is named, not trusted
            dex,
            refused,
            GATEKEEPER_EXTRA_JWT_ISSUERS=entry,
            GATEKEEPER_SERVICE_ACCOUNT_DIR=str(_service_account_dir(tmp_path / "sa-no-ca", pod_token)),
        )
    assert any("TLS certificate not trusted" in getattr(r, "reason", "") for r in caplog.records)


def test_the_pods_token_goes_to_no_issuer_without_credentials_serviceaccount(dex, group, tmp_path) -> None:
    pod_token = "pod-service-account-token-" + "y" * 40
    issuer = JwtIssuer.start(group, root=tmp_path / "api", require_bearer=pod_token, name="api")

    async def scenario(app):
        reply = await ask(app, sa_token(issuer))
        assert (reply.status, reply.json()["error"]) == (401, "issuer_unavailable")
        assert issuer.stats()["unauthorized"] >= 1  # asked without the pod's token

    check(
        dex,
        scenario,
        GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}",
        GATEKEEPER_SERVICE_ACCOUNT_DIR=str(_service_account_dir(tmp_path / "sa", pod_token)),
    )


def test_revoke_user_refuses_a_service_accounts_tokens_issued_before(dex, issuer) -> None:
    token = sa_token(issuer, iat=int(time.time()) - 5)

    async def scenario(app):
        assert (await ask(app, token)).status == 200
        app.auth.revoke_user("system:serviceaccount:team-a:pipeline-runner", time.time())
        reply = await ask(app, token)
        assert (reply.status, reply.json()["error"]) == (401, "revoked")

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


def test_allowed_lists_govern_people_and_leave_listed_machine_tokens_in(dex, issuer) -> None:
    async def scenario(app):
        assert (await ask(app, sa_token(issuer))).status == 200
        person = await ask(app, dex.id_token(email="someone@else.example", groups=["ml"]))
        assert person.status == 403

    check(
        dex,
        scenario,
        GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}",
        GATEKEEPER_ALLOWED_GROUPS="admins-only",
    )


def test_an_issuer_whose_iss_ends_in_a_slash_is_matched_exactly(dex, group, tmp_path) -> None:
    """Auth0 and Azure AD v1 name themselves with a trailing slash; the `iss` must be the one listed."""
    issuer = JwtIssuer.start(group, root=tmp_path / "slash", name="slash")
    with_slash = issuer.url + "/"
    slashed = issuer.mint({"iss": with_slash, "aud": "api", "sub": "robot", "exp": int(time.time()) + 600})
    plain = issuer.mint({"iss": issuer.url, "aud": "api", "sub": "robot", "exp": int(time.time()) + 600})

    async def listed_without(app):
        assert (await ask(app, plain)).status == 200
        refused = await ask(app, slashed)
        assert (refused.status, refused.json()["error"]) == (401, "bad_issuer")

    check(dex, listed_without, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}=api")

    async def listed_with(app):
        keys = app.machine.issuers[issuer.url]
        keys.jwks_url = issuer.jwks_url  # its discovery names the issuer without the slash
        assert await keys.fetch()
        assert (await ask(app, slashed)).status == 200
        refused = await ask(app, plain)
        assert (refused.status, refused.json()["error"]) == (401, "bad_issuer")

    check(dex, listed_with, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{with_slash}=api")


def test_forged_tokens_naming_an_issuer_that_is_away_never_make_the_gatekeeper_fetch(dex, issuer) -> None:
    """Unsigned junk naming a listed issuer costs the issuer nothing: before the first keys only the
    background task fetches, and afterwards an unknown kid refetches at most once per interval."""
    issuer.down(True)
    junk = [
        f"{_b64(json.dumps({'alg': 'RS256', 'kid': f'k{n}'}).encode()).decode()}."
        f"{_b64(json.dumps({'iss': issuer.url}).encode()).decode()}.x"
        for n in range(20)
    ]

    async def scenario(app):
        before = issuer.stats()
        started = time.monotonic()
        for token in junk:
            reply = await ask(app, token)
            assert (reply.status, reply.json()["error"]) == (401, "issuer_unavailable")
        assert time.monotonic() - started < 2.0
        assert issuer.stats()["discovery"] == before["discovery"]  # not one more
        issuer.down(False)
        assert await app.machine.issuers[issuer.url].fetch()
        fetched = issuer.stats()["jwks"]
        for token in junk:
            assert (await ask(app, token)).json()["error"] in ("unknown_key", "invalid")
        assert issuer.stats()["jwks"] == fetched  # the fetch just made counts for the interval

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


def test_json_nested_thousands_deep_is_a_401_not_a_503(dex, issuer) -> None:
    deep_header = _b64(b"[" * 1500).decode() + ".e30.x"
    deep_payload = _b64(b'{"alg":"RS256"}').decode() + "." + _b64(b"[" * 5000).decode() + ".x"

    async def scenario(app):
        for token in (deep_header, deep_payload):
            reply = await ask(app, token)
            assert reply.status == 401, reply.text

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


def test_a_token_past_its_exp_is_refused_every_time_even_within_the_clock_leeway(dex, issuer) -> None:
    token = sa_token(issuer, exp=int(time.time()) - 5, iat=int(time.time()) - 600)

    async def scenario(app):
        for _ in range(3):
            reply = await ask(app, token)
            assert (reply.status, reply.json()["error"]) == (401, "expired")

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}={AUD}")


def test_a_prefixed_machine_identity_is_revoked_by_the_name_the_header_shows(dex, issuer) -> None:
    token = issuer.mint({"iss": issuer.url, "aud": "ci", "sub": "alice@corp.example", "exp": int(time.time()) + 600})

    async def scenario(app):
        person = dex.id_token(email="alice@corp.example")
        assert (await ask(app, token)).header("kubeflow-userid") == "ci:alice@corp.example"
        app.auth.revoke_user("alice@corp.example", time.time() + 1)  # the person, not the CI identity
        assert (await ask(app, token)).status == 200
        assert (await ask(app, person)).status == 401
        app.auth.revoke_user("ci:alice@corp.example", time.time() + 1)
        assert (await ask(app, token)).json()["error"] == "revoked"

    check(dex, scenario, GATEKEEPER_EXTRA_JWT_ISSUERS=f"{issuer.url}=ci;userid-prefix=ci:")
