"""GATEKEEPER_EXTRA_JWT_ISSUERS: entries, options, audiences merged by issuer, and every refusal."""

from __future__ import annotations

import pytest
from gatekeeper_fixtures import PUBLIC_ISSUER, base_env

from gatekeeper.config import ConfigError, load_settings
from gatekeeper.issuer_list import NO_CREDENTIALS, SERVICE_ACCOUNT, ExtraIssuer, extra_jwt_issuers, secure_url
from gatekeeper.rules import InvalidValue

K8S = "https://kubernetes.default.svc.cluster.local"


def test_an_entry_is_issuer_and_audience_with_the_defaults() -> None:
    assert extra_jwt_issuers("https://ci.example.com=kubeflow") == (
        ExtraIssuer("https://ci.example.com", ("kubeflow",)),
    )


def test_the_same_issuer_again_adds_an_audience_and_blank_items_are_dropped() -> None:
    found = extra_jwt_issuers(f" {K8S}=pipelines.kubeflow.org ,, \n{K8S}=notebooks ,")
    assert [(e.issuer, e.audiences) for e in found] == [(K8S, ("pipelines.kubeflow.org", "notebooks"))]


def test_the_in_cluster_api_server_uses_the_pods_credentials_unless_told_otherwise() -> None:
    assert extra_jwt_issuers(f"{K8S}=a")[0].credentials == SERVICE_ACCOUNT
    assert extra_jwt_issuers("https://kubernetes.default.svc=a")[0].credentials == SERVICE_ACCOUNT
    assert extra_jwt_issuers(f"{K8S}=a;credentials=none")[0].credentials == NO_CREDENTIALS
    assert extra_jwt_issuers("https://ci.example.com=a")[0].credentials == NO_CREDENTIALS
    assert extra_jwt_issuers("http://127.0.0.1:9=a;credentials=serviceaccount")[0].credentials == SERVICE_ACCOUNT


def test_options_after_the_entry() -> None:
    (found,) = extra_jwt_issuers(
        "https://ci.example.com/=kf;userid-claim=email;groups-claim=groups;jwks-url=https://keys.example.com/jwks;"
        "userid-prefix=ci:"
    )
    assert found == ExtraIssuer(  # the issuer as written: a token's `iss` is compared exactly
        "https://ci.example.com/", ("kf",), "email", "groups", "https://keys.example.com/jwks", NO_CREDENTIALS, "ci:"
    )


def test_options_may_be_given_once_for_an_issuer_but_must_not_disagree() -> None:
    (found,) = extra_jwt_issuers("https://ci.example.com=a;groups-claim=g, https://ci.example.com=b")
    assert (found.audiences, found.groups_claim) == (("a", "b"), "g")
    with pytest.raises(InvalidValue, match=r"entry 2 .* other options"):
        extra_jwt_issuers("https://ci.example.com=a;groups-claim=g, https://ci.example.com=b;groups-claim=h")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://ci.example.com", "entry 1 must look like https://issuer=audience"),
        ("=aud", "entry 1 must look like"),
        ("https://ci.example.com=", "entry 1 must look like"),
        ("http://ci.example.com=a", "must be https://"),
        ("http://localhost:8080=a", "must be https://"),  # a name may resolve anywhere: only addresses
        ("http://10.0.0.1=a", "must be https://"),
        ("ftp://x=a", "must start with https://"),
        ("https://ci.example.com?x=1=a", "query"),
        ("https://ci.example.com=a b", "audience"),
        ("https://ci.example.com=a;colour=blue", "unknown option 'colour=blue'"),
        ("https://ci.example.com=a;userid-claim=e mail", "claim name"),
        ("https://ci.example.com=a;jwks-url=http://keys.example.com", "must be https://"),
        ("https://ci.example.com=a;credentials=root", "credentials must be one of serviceaccount, none"),
        ("https://ci.example.com=a;userid-prefix=\x01", "control characters"),
        (",".join(f"https://i{n}.example.com=a" for n in range(17)), "at most 16"),
        ("https://ci.example.com=a;credentials=serviceaccount", "sends the pod's own token: only to the in-cluster"),
        (f"{K8S}=https://kubernetes.default.svc.cluster.local", "the API server's own, which every pod's default"),
        ("https://ci.example.com=a,https://ci.example.com/=b", "entry 2 .* with another trailing slash"),
    ],
)
def test_refusals_name_the_entry_and_what_is_wrong(value: str, problem: str) -> None:
    with pytest.raises(InvalidValue, match=problem.replace("?", r"\?")):
        extra_jwt_issuers(value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:80", "https://x.example"])
def test_loopback_may_be_plain_http(url: str) -> None:
    assert secure_url(url) == url


def test_the_gatekeeper_reads_the_variable_and_refuses_dexs_own_issuer() -> None:
    settings = load_settings(base_env(GATEKEEPER_EXTRA_JWT_ISSUERS=f"{K8S}=kf"))
    assert settings.extra_jwt_issuers[0].issuer == K8S
    assert settings.service_account_dir == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert load_settings(base_env()).extra_jwt_issuers == ()
    with pytest.raises(ConfigError, match=r"GATEKEEPER_EXTRA_JWT_ISSUERS lists .*Dex's own issuer"):
        load_settings(base_env(GATEKEEPER_EXTRA_JWT_ISSUERS=f"{PUBLIC_ISSUER}=kf"))
    with pytest.raises(ConfigError, match="GATEKEEPER_EXTRA_JWT_ISSUERS entry 1"):
        load_settings(base_env(GATEKEEPER_EXTRA_JWT_ISSUERS="http://ci.example.com=kf"))
