"""The one-call rendering path the charm and the end-to-end harness share."""

import pytest
import yaml

from connectors import ConnectorsError
from dex_config import DexConfigError, StaticClient, hash_password
from errors import DexAuthError
from rendering import Context, SharedSecrets, render, render_from_config
from settings import SettingsError

SECRETS = SharedSecrets("client-secret", "k1=" + "key-one-" * 5, hash_password("pw"))


def test_partial_config_takes_the_defaults():
    rendered = render_from_config({"public-url": "http://127.0.0.1:8000"}, secrets=SECRETS)
    dex = yaml.safe_load(rendered.dex_config)
    assert dex["staticPasswords"][0]["email"] == "user@example.com"
    assert rendered.gatekeeper_environment["GATEKEEPER_SESSION_KEYS"] == "k1=" + "key-one-" * 5
    assert rendered.gatekeeper_environment["GATEKEEPER_SECURE_COOKIES"] == "false"
    assert rendered.issuer_url == "http://127.0.0.1:8000/dex"
    assert yaml.safe_load(rendered.resources_yaml) == rendered.resources


def test_relation_clients_are_sorted_after_the_built_in_ones():
    clients = [StaticClient("zeta", "Z", ("https://z/cb",), "s"), StaticClient("alpha", "A", ("https://a/cb",), "s")]
    rendered = render_from_config({"public-url": "https://kf.example.com"}, secrets=SECRETS, oidc_clients=clients)
    ids = [c["id"] for c in yaml.safe_load(rendered.dex_config)["staticClients"]]
    assert ids == ["dex-auth-gatekeeper", "dex-auth-cli", "alpha", "zeta"]


def test_no_static_user_without_a_hash():
    rendered = render_from_config({"public-url": "https://kf.example.com"}, secrets=SharedSecrets("c", "k=" + "v" * 32))
    assert "staticPasswords" not in yaml.safe_load(rendered.dex_config)


@pytest.mark.parametrize(
    "config, error",
    [
        ({"public-url": "ftp://x"}, SettingsError),
        ({"public-url": "https://x", "connectors": "- [1"}, ConnectorsError),
        ({"public-url": "https://x", "enable-password-db": False}, DexConfigError),
    ],
)
def test_each_kind_of_bad_input_has_its_error(config, error):
    with pytest.raises(error):
        render_from_config(config, secrets=SECRETS)


def test_a_gatekeeper_refusal_names_the_option_in_a_field():
    with pytest.raises(SettingsError) as caught:
        render_from_config({"public-url": "https://x", "skip-auth-paths": "/"}, secrets=SECRETS)
    assert caught.value.option == "skip-auth-paths"
    assert caught.value.problem.startswith("the gatekeeper would refuse it: GATEKEEPER_SKIP_AUTH_PATHS ")
    assert caught.value.status_level == "blocked"
    assert caught.value.status_message == f"config skip-auth-paths: {caught.value.problem}"


def test_without_the_shared_secrets_a_unit_waits():
    context = Context(app_name="dex-auth", namespace="kubeflow", secrets=None)
    with pytest.raises(DexAuthError) as caught:
        render({"public-url": "https://x"}, context)
    assert caught.value.status_level == "waiting"
    assert caught.value.status_message == "waiting for the leader unit to create the shared secrets"


def test_a_unit_waits_for_the_static_users_hash_too():
    context = Context(app_name="dex-auth", namespace="kubeflow", secrets=SharedSecrets("c", "k=" + "v" * 32))
    with pytest.raises(DexAuthError) as caught:
        render({"public-url": "https://x"}, context)
    assert caught.value.status_level == "waiting"


def test_login_timeout_reaches_dex_and_the_gatekeeper_as_one_value():
    default = render_from_config({"public-url": "https://kf.example.com"}, secrets=SECRETS)
    assert yaml.safe_load(default.dex_config)["expiry"]["authRequests"] == "86400s"
    assert default.gatekeeper_environment["GATEKEEPER_LOGIN_TIMEOUT"] == "86400"
    short = render_from_config({"public-url": "https://kf.example.com", "login-timeout": "30m"}, secrets=SECRETS)
    assert yaml.safe_load(short.dex_config)["expiry"]["authRequests"] == "1800s"
    assert short.gatekeeper_environment["GATEKEEPER_LOGIN_TIMEOUT"] == "1800"
    assert "GATEKEEPER_TEST_CLOCK_OFFSET" not in short.gatekeeper_environment  # tests only, never the charm
