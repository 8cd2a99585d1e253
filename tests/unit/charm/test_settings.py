"""Config options: defaults match config.yaml; each bad value names its option."""

import pathlib
import re

import pytest
import yaml

from gatekeeper.config import VARIABLES
from settings import DEFAULTS, OPTIONS, MissingPublicUrlError, SettingsError, parse_settings

ROOT = pathlib.Path(__file__).resolve().parents[3]
GOOD = {"public-url": "https://KF.example.com/"}


def test_defaults_are_those_of_config_yaml():
    options = yaml.safe_load((ROOT / "config.yaml").read_text())["options"]
    assert {name: spec.get("default") for name, spec in options.items()} == DEFAULTS


def test_each_option_has_the_type_config_yaml_declares():
    options = yaml.safe_load((ROOT / "config.yaml").read_text())["options"]
    kinds = {bool: "boolean", int: "int", str: "string"}
    assert {name: kinds[type(option.default)] for name, option in OPTIONS.items()} == {
        name: spec["type"] for name, spec in options.items()
    }


def test_options_feed_variables_the_gatekeeper_reads():
    fed = [option.variable for option in OPTIONS.values() if option.variable]
    assert len(fed) == len(set(fed))
    assert set(fed) <= {variable.name for variable in VARIABLES}


def test_defaults_give_a_working_setup():
    settings = parse_settings(GOOD)
    assert settings.public_url == "https://kf.example.com"
    assert settings.issuer_url == "https://kf.example.com/dex"
    assert settings.secure_cookies is True
    assert settings.extra_bearer_audiences == ("dex-auth-cli",)
    assert settings.static_username == "user@example.com"


def test_missing_public_url():
    with pytest.raises(MissingPublicUrlError):
        parse_settings({})


@pytest.mark.parametrize(
    "url, problem",
    [
        ("kf.example.com", "must start with https:// or http://"),
        ("https://kf.example.com/kubeflow", "without a path"),
        ("https://kf.example.com?x=1", "without a path, query or fragment"),
        ("https://u:p@kf.example.com", "user name or password"),
        ("https://kf.example.com:99999", "invalid port"),
    ],
)
def test_bad_public_url(url, problem):
    with pytest.raises(SettingsError, match="public-url") as caught:
        parse_settings({"public-url": url})
    assert problem in str(caught.value)


def test_http_turns_secure_cookies_off():
    assert parse_settings({"public-url": "http://localhost:8080"}).secure_cookies is False


@pytest.mark.parametrize(
    "option, value, text",
    [
        ("session-lifetime", "3x", "config session-lifetime: must be seconds or a number with s, m, h or d"),
        ("session-lifetime", "0", "config session-lifetime"),
        ("id-token-expiry", "1 day", "config id-token-expiry: must be a duration"),
        ("login-timeout", "30s", "config login-timeout: must be between 1 minute and 7 days"),
        ("login-timeout", "8d", "config login-timeout: must be between 1 minute and 7 days"),
        ("login-timeout", "1 day", "config login-timeout: must be seconds"),
        ("skip-auth-paths", "/ok, nope", "config skip-auth-paths: each entry must be a path starting with /"),
        ("after-logout-url", "https://evil.example.com", "config after-logout-url"),
        ("after-logout-url", "//evil.example.com", "config after-logout-url"),
        ("ambassador-api-version", "getambassador.io/v1", "config ambassador-api-version: must be one of"),
        ("log-level", "verbose", "config log-level: must be one of debug, info, warning, error"),
        ("gatekeeper-workers", 0, "config gatekeeper-workers"),
        ("static-username", "admin", "config static-username: must be an email address"),
        ("userid-header", "kubeflow userid", "config userid-header: must be an HTTP header name"),
        ("userid-claim", "", "config userid-claim"),
        ("groups-header", "KUBEFLOW-USERID", "config groups-header: must differ from userid-header"),
        ("userid-prefix", "a\nb", "config userid-prefix: must not contain control characters"),
    ],
)
def test_bad_values_name_the_option(option, value, text):
    with pytest.raises(SettingsError) as caught:
        parse_settings({**GOOD, option: value})
    assert str(caught.value).startswith(text)
    assert caught.value.option == option


def test_lists_and_audiences():
    settings = parse_settings({**GOOD, "skip-auth-paths": " /healthz , /public/ ,", "extra-bearer-audiences": "kfp,ci"})
    assert settings.skip_auth_paths == ("/healthz", "/public/")
    assert settings.extra_bearer_audiences == ("dex-auth-cli", "kfp", "ci")
    assert parse_settings({**GOOD, "userid-header": "X-User"}).userid_header == "x-user"


def test_the_readme_option_table_names_every_option_once():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Config options", 1)[1].split("\n\n", 2)[1]
    named = re.findall(r"`([a-z-]+)`", "\n".join(line.split(" | ")[0] for line in table.splitlines()[2:]))
    assert sorted(named) == sorted(OPTIONS)
