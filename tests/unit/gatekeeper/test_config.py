import pytest
from gatekeeper_fixtures import base_env

from gatekeeper import rules
from gatekeeper.config import ConfigError, load_settings


def test_defaults_follow_the_contract():
    s = load_settings(base_env())
    assert s.public_url == "https://kubeflow.example.com"
    assert s.provider_url == s.issuer_url == "https://kubeflow.example.com/dex"
    assert s.prefix == "/authservice"
    assert s.callback_url == "https://kubeflow.example.com/authservice/oidc/callback"
    assert s.session_lifetime == 86400
    assert (s.userid_header, s.userid_prefix, s.userid_claim) == ("kubeflow-userid", "", "email")
    assert (s.groups_header, s.groups_claim) == ("kubeflow-groups", "groups")
    assert s.skip_auth_paths == () and s.extra_audiences == ()
    assert s.scopes == "openid email profile groups"
    assert s.secure_cookies is True
    assert s.after_logout_url == "/"
    assert (s.host, s.port, s.workers, s.log_level) == ("0.0.0.0", 8080, 1, "info")
    assert [k.kid for k in s.session_keys] == ["k2026", "k2025"]


def test_every_variable_is_read():
    s = load_settings(
        base_env(
            GATEKEEPER_PUBLIC_URL="http://localhost:8000/",
            GATEKEEPER_ISSUER_URL="http://localhost:8000/dex/",
            GATEKEEPER_PROVIDER_URL="http://127.0.0.1:5556/dex",
            GATEKEEPER_SESSION_LIFETIME="12h",
            GATEKEEPER_PREFIX="/auth/",
            GATEKEEPER_USERID_HEADER="X-Remote-User",
            GATEKEEPER_USERID_PREFIX="oidc:",
            GATEKEEPER_USERID_CLAIM="preferred_username",
            GATEKEEPER_GROUPS_HEADER="X-Remote-Groups",
            GATEKEEPER_GROUPS_CLAIM="roles",
            GATEKEEPER_SKIP_AUTH_PATHS="/static/, /healthz",
            GATEKEEPER_EXTRA_AUDIENCES="cli, kfp",
            GATEKEEPER_SCOPES="openid  email",
            GATEKEEPER_SECURE_COOKIES="false",
            GATEKEEPER_AFTER_LOGOUT_URL="http://localhost:8000/bye?x=1",
            GATEKEEPER_HOST="127.0.0.1",
            GATEKEEPER_PORT="9000",
            GATEKEEPER_WORKERS="2",
            GATEKEEPER_LOG_LEVEL="DEBUG",
        )
    )
    assert s.public_url == "http://localhost:8000"
    assert s.issuer_url == "http://localhost:8000/dex"
    assert s.provider_url == "http://127.0.0.1:5556/dex"
    assert s.session_lifetime == 12 * 3600
    assert s.prefix == "/auth"
    assert (s.userid_header, s.userid_prefix, s.userid_claim) == ("x-remote-user", "oidc:", "preferred_username")
    assert (s.groups_header, s.groups_claim) == ("x-remote-groups", "roles")
    assert s.skip_auth_paths == ("/static", "/healthz")
    assert s.extra_audiences == ("cli", "kfp")
    assert s.scopes == "openid email"
    assert s.secure_cookies is False
    assert s.after_logout_url == "/bye?x=1"
    assert (s.host, s.port, s.workers, s.log_level) == ("127.0.0.1", 9000, 2, "debug")


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"GATEKEEPER_PUBLIC_URL": ""}, "GATEKEEPER_PUBLIC_URL is required"),
        ({"GATEKEEPER_PUBLIC_URL": "kubeflow.example.com"}, "GATEKEEPER_PUBLIC_URL"),
        ({"GATEKEEPER_PUBLIC_URL": "https://kubeflow.example.com/app"}, "GATEKEEPER_PUBLIC_URL must be an origin"),
        ({"GATEKEEPER_PUBLIC_URL": "ftp://x"}, "GATEKEEPER_PUBLIC_URL"),
        ({"GATEKEEPER_ISSUER_URL": "https://x/dex?q=1"}, "GATEKEEPER_ISSUER_URL"),
        ({"GATEKEEPER_PROVIDER_URL": "http://h:99999/dex"}, "GATEKEEPER_PROVIDER_URL has an invalid port"),
        ({"GATEKEEPER_CLIENT_ID": " "}, "GATEKEEPER_CLIENT_ID is required"),
        ({"GATEKEEPER_CLIENT_SECRET": ""}, "GATEKEEPER_CLIENT_SECRET is required"),
        ({"GATEKEEPER_SESSION_KEYS": "nokid"}, "kid=secret"),
        ({"GATEKEEPER_SESSION_KEYS": "k=short"}, "too short"),
        ({"GATEKEEPER_SESSION_KEYS": f"k={'x' * 40},k={'y' * 40}"}, "twice"),
        ({"GATEKEEPER_SESSION_KEYS": f"bad kid={'x' * 40}"}, "key id"),
        ({"GATEKEEPER_SESSION_LIFETIME": "forever"}, "GATEKEEPER_SESSION_LIFETIME"),
        ({"GATEKEEPER_SESSION_LIFETIME": "5"}, "between 1 minute"),
        ({"GATEKEEPER_PREFIX": "authservice"}, "GATEKEEPER_PREFIX"),
        ({"GATEKEEPER_PREFIX": "/a/../b"}, "GATEKEEPER_PREFIX"),
        ({"GATEKEEPER_USERID_HEADER": "bad header"}, "GATEKEEPER_USERID_HEADER"),
        ({"GATEKEEPER_GROUPS_HEADER": "kubeflow_userid"}, "must differ"),
        ({"GATEKEEPER_USERID_PREFIX": "a\nb"}, "GATEKEEPER_USERID_PREFIX"),
        ({"GATEKEEPER_SKIP_AUTH_PATHS": "static"}, "each entry must be a path starting with /"),
        ({"GATEKEEPER_SKIP_AUTH_PATHS": "/a/../b"}, "plain path"),
        ({"GATEKEEPER_SKIP_AUTH_PATHS": "/a%2fb"}, "plain path"),
        ({"GATEKEEPER_SKIP_AUTH_PATHS": "/"}, "every path"),
        ({"GATEKEEPER_SCOPES": "email profile"}, "openid"),
        ({"GATEKEEPER_SECURE_COOKIES": "maybe"}, "GATEKEEPER_SECURE_COOKIES"),
        ({"GATEKEEPER_AFTER_LOGOUT_URL": "https://evil.example.com/"}, "GATEKEEPER_AFTER_LOGOUT_URL"),
        ({"GATEKEEPER_AFTER_LOGOUT_URL": "//evil.example.com"}, "GATEKEEPER_AFTER_LOGOUT_URL"),
        ({"GATEKEEPER_PORT": "http"}, "GATEKEEPER_PORT"),
        ({"GATEKEEPER_PORT": "0"}, "GATEKEEPER_PORT"),
        ({"GATEKEEPER_WORKERS": "0"}, "GATEKEEPER_WORKERS"),
        ({"GATEKEEPER_LOG_LEVEL": "loud"}, "GATEKEEPER_LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(overrides, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(base_env(**overrides))


def test_secrets_never_appear_in_errors_or_repr():
    secret = "s3cr3t-" + "z" * 40
    settings = load_settings(base_env(GATEKEEPER_CLIENT_SECRET=secret, GATEKEEPER_SESSION_KEYS=f"k={secret}"))
    assert secret not in repr(settings)
    with pytest.raises(ConfigError) as info:
        load_settings(base_env(GATEKEEPER_SESSION_KEYS=f"k={secret},k={secret}"))
    assert secret not in str(info.value)


@pytest.mark.parametrize(
    "value, seconds", [("86400", 86400), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("90s", 90)]
)
def test_lifetime_units(value, seconds):
    assert rules.session_lifetime(value) == seconds


def test_a_bad_value_carries_its_variable_and_problem_apart():
    with pytest.raises(ConfigError) as info:
        load_settings(base_env(GATEKEEPER_LOG_LEVEL="loud"))
    assert (info.value.variable, info.value.problem) == (
        "GATEKEEPER_LOG_LEVEL",
        "must be one of debug, info, warning, error, not 'loud'",
    )
