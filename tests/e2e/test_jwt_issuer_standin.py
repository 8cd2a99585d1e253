"""The Kubernetes service-account issuer stand-in behaves as the extra-JWT-issuer tests assume.

If it didn't, a gatekeeper test could pass against an issuer no cluster resembles, or fail for
the stand-in's sake; these checks keep the two apart.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
import pytest
import requests
from harness.jwt_issuer import JwtIssuer
from harness.processes import ProcessGroup
from harness.tls import make_tls_files

pytestmark = pytest.mark.e2e

AUDIENCE = "kubeflow-gatekeeper"


@pytest.fixture
def issuer(group: ProcessGroup, tmp_path: Path) -> JwtIssuer:
    return JwtIssuer.start(group, root=tmp_path / "issuer")


def verified(issuer: JwtIssuer, token: str, jwks: dict) -> dict:
    """What a relying party does: the key the header's kid names, from the published set."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return jwt.decode(token, key, algorithms=[key.algorithm_name], audience=AUDIENCE, issuer=issuer.url)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_discovery_leads_to_keys_that_verify_a_service_account_token(issuer: JwtIssuer, alg: str) -> None:
    discovery = issuer.discovery()
    assert discovery == {
        "issuer": issuer.url,
        "jwks_uri": issuer.url + "/openid/v1/jwks",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    }
    jwks = requests.get(discovery["jwks_uri"], timeout=10).json()
    assert {(k["alg"], k["use"]) for k in jwks["keys"]} == {("RS256", "sig"), ("ES256", "sig")}

    token = issuer.service_account_token("pipelines", "runner", [AUDIENCE], alg=alg, pod="run-1", node="node-a")
    header = jwt.get_unverified_header(token)
    assert set(header) == {"alg", "kid"} and header["alg"] == alg
    claims = verified(issuer, token, jwks)
    assert claims["sub"] == "system:serviceaccount:pipelines:runner"
    assert claims["aud"] == [AUDIENCE]
    assert claims["iat"] == claims["nbf"] and claims["exp"] - claims["iat"] == 3600
    assert uuid.UUID(claims["jti"])
    k8s = claims["kubernetes.io"]
    assert k8s["namespace"] == "pipelines"
    sa_uid = issuer.object_uid("serviceaccount", "pipelines", "runner")
    assert k8s["serviceaccount"] == {"name": "runner", "uid": sa_uid}
    assert k8s["pod"]["name"] == "run-1" and k8s["node"]["name"] == "node-a"


def test_plain_kubectl_token_has_no_pod_and_overrides_make_bad_tokens(issuer: JwtIssuer) -> None:
    jwks = issuer.jwks()
    plain = verified(issuer, issuer.service_account_token("ns", "sa", [AUDIENCE]), jwks)
    assert set(plain) == {"aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"}
    assert set(plain["kubernetes.io"]) == {"namespace", "serviceaccount"}

    expired = issuer.service_account_token("ns", "sa", [AUDIENCE], exp=int(time.time()) - 60)
    with pytest.raises(jwt.ExpiredSignatureError):
        verified(issuer, expired, jwks)
    with pytest.raises(jwt.InvalidAudienceError):
        verified(issuer, issuer.service_account_token("ns", "sa", ["someone-else"]), jwks)
    with pytest.raises(jwt.InvalidIssuerError):
        verified(issuer, issuer.service_account_token("ns", "sa", [AUDIENCE], iss="https://elsewhere"), jwks)
    no_exp = issuer.service_account_token("ns", "sa", [AUDIENCE], exp=None)
    assert "exp" not in jwt.decode(no_exp, options={"verify_signature": False})


def test_discovery_needs_the_service_account_bearer_when_configured(group: ProcessGroup, tmp_path: Path) -> None:
    issuer = JwtIssuer.start(group, root=tmp_path / "issuer", require_bearer="pod-sa-token")
    for url in (issuer.discovery_url, issuer.jwks_url):
        assert requests.get(url, timeout=10).status_code == 401
        assert issuer.get(url, bearer="not-the-token").status_code == 401
        assert issuer.get(url).status_code == 200
    assert issuer.stats() == {"discovery": 1, "jwks": 1, "unauthorized": 4, "unavailable": 0}

    assert issuer.bearer_file is not None
    issuer.bearer_file.write_text("rotated-by-kubelet\n")
    assert issuer.get(issuer.jwks_url).status_code == 401
    assert issuer.get(issuer.jwks_url, bearer="rotated-by-kubelet").status_code == 200


def test_rotation_adds_a_kid_and_drops_old_ones_only_when_asked(issuer: JwtIssuer) -> None:
    first = {k["alg"]: k["kid"] for k in issuer.jwks()["keys"]}
    second = issuer.rotate("RS256")
    kids = {k["kid"] for k in issuer.jwks()["keys"]}
    assert kids == {first["RS256"], second, first["ES256"]}
    assert jwt.get_unverified_header(issuer.mint({"sub": "x"}))["kid"] == second

    third = issuer.rotate("RS256", drop_old=True)
    assert {k["kid"] for k in issuer.jwks()["keys"]} == {third, first["ES256"]}
    retired = issuer.mint({"sub": "x"}, kid=first["RS256"])
    assert jwt.get_unverified_header(retired)["kid"] == first["RS256"]


def test_down_makes_discovery_and_keys_unavailable_until_up(issuer: JwtIssuer) -> None:
    issuer.down(True)
    assert requests.get(issuer.discovery_url, timeout=10).status_code == 503
    assert requests.get(issuer.jwks_url, timeout=10).status_code == 503
    issuer.down(False)
    assert requests.get(issuer.discovery_url, timeout=10).status_code == 200
    assert issuer.stats() == {"discovery": 1, "jwks": 0, "unauthorized": 0, "unavailable": 2}


def test_tls_and_an_issuer_with_a_path(group: ProcessGroup, tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "tls")
    issuer = JwtIssuer.start(group, root=tmp_path / "issuer", tls=(files.cert, files.key), ca=files.ca)
    assert issuer.url.startswith("https://127.0.0.1:")
    assert requests.get(issuer.discovery_url, verify=str(files.ca), timeout=10).json()["issuer"] == issuer.url
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(issuer.discovery_url, timeout=10)

    other = JwtIssuer.start(group, root=tmp_path / "other", issuer="http://127.0.0.1:1/clusters/a", name="other")
    assert other.discovery_url.endswith("/clusters/a/.well-known/openid-configuration")
    assert other.discovery()["jwks_uri"] == "http://127.0.0.1:1/clusters/a/openid/v1/jwks"
    assert other.jwks()["keys"]
