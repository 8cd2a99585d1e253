"""Pebble layers: the gatekeeper gets exactly the environment docs/architecture.md documents."""

import pathlib
import re

from pebble_layers import (
    DEX_COMMAND,
    config_hash,
    dex_layer,
    gatekeeper_environment,
    gatekeeper_layer,
)
from settings import parse_settings

ARCHITECTURE = pathlib.Path(__file__).resolve().parents[3] / "docs" / "architecture.md"

SETTINGS = parse_settings(
    {"public-url": "https://kf.example.com", "skip-auth-paths": "/healthz,/public/", "extra-bearer-audiences": "kfp"}
)
ENVIRONMENT = gatekeeper_environment(SETTINGS, "cs", "k1=abc,k0=def")


def documented_variables() -> set[str]:
    return set(re.findall(r"`(GATEKEEPER_[A-Z_]+)`", ARCHITECTURE.read_text()))


def test_environment_covers_the_contract_and_nothing_else():
    documented = documented_variables()
    assert "GATEKEEPER_CLIENT_SECRET" in documented
    assert set(ENVIRONMENT) == documented


def test_environment_values():
    env = ENVIRONMENT
    assert env["GATEKEEPER_PROVIDER_URL"] == "http://127.0.0.1:5556/dex"
    assert env["GATEKEEPER_ISSUER_URL"] == "https://kf.example.com/dex"
    assert env["GATEKEEPER_SKIP_AUTH_PATHS"] == "/healthz,/public/"
    assert env["GATEKEEPER_EXTRA_AUDIENCES"] == "dex-auth-cli,kfp"
    assert env["GATEKEEPER_SECURE_COOKIES"] == "true"
    assert env["GATEKEEPER_PORT"] == "8080"
    assert all(isinstance(v, str) for v in env.values())


def test_plain_http_turns_secure_cookies_off():
    settings = parse_settings({"public-url": "http://localhost:8000"})
    assert gatekeeper_environment(settings, "cs", "k1=abc,k0=def")["GATEKEEPER_SECURE_COOKIES"] == "false"


def test_gatekeeper_layer_runs_the_module_with_a_health_check():
    layer = gatekeeper_layer(ENVIRONMENT)
    service = layer["services"]["gatekeeper"]
    assert service["command"] == "python3 -m gatekeeper"
    assert service["startup"] == "enabled"
    check = layer["checks"]["gatekeeper-alive"]
    assert check["http"]["url"] == "http://localhost:8080/healthz"
    assert service["on-check-failure"] == {"gatekeeper-alive": "restart"}


def test_dex_layer_turns_env_expansion_off_and_tracks_the_config():
    layer = dex_layer("issuer: a\n")
    service = layer["services"]["dex"]
    assert service["command"] == DEX_COMMAND == "/usr/local/bin/dex serve /tmp/dex-auth/config.yaml"
    assert service["environment"]["DEX_EXPAND_ENV"] == "false"
    assert service["environment"]["DEX_CONFIG_HASH"] == config_hash("issuer: a\n")
    assert layer["checks"]["dex-ready"]["http"]["url"] == "http://localhost:5558/healthz"


def test_dex_layer_changes_only_when_the_config_does():
    assert dex_layer("issuer: a\n") == dex_layer("issuer: a\n")
    assert dex_layer("issuer: a\n") != dex_layer("issuer: b\n")
