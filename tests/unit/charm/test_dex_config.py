"""Dex's config: only keys Dex reads, and never a config Dex would refuse at start-up."""

import bcrypt
import pytest
import yaml

from dex_config import (
    DexConfigError,
    DexSettings,
    StaticClient,
    StaticUser,
    cli_client,
    gatekeeper_client,
    hash_password,
    password_matches,
    render_dex_config,
    render_dex_config_yaml,
)

ISSUER = "https://kf.example.com/dex"
# Top-level keys of Dex v2.45's config (dex.md); Dex ignores anything else silently.
DEX_KEYS = {
    "issuer",
    "storage",
    "web",
    "telemetry",
    "expiry",
    "logger",
    "oauth2",
    "staticClients",
    "enablePasswordDB",
    "staticPasswords",
    "connectors",
    "frontend",
    "signer",
    "grpc",
}
LDAP = {
    "type": "ldap",
    "id": "ldap",
    "name": "LDAP",
    "config": {"host": "h:636", "userSearch": {"baseDN": "dc=x", "username": "uid"}},
}


@pytest.fixture(scope="module")
def user() -> StaticUser:
    return StaticUser("admin@example.com", hash_password("correct horse"))


def settings(**overrides) -> DexSettings:
    base = dict(
        issuer=ISSUER,
        clients=(gatekeeper_client("https://kf.example.com", "dex-auth-gatekeeper", "cs"), cli_client("dex-auth-cli")),
    )
    return DexSettings(**{**base, **overrides})


def test_core_keys(user):
    config = render_dex_config(settings(static_user=user))
    assert set(config) <= DEX_KEYS
    assert config["issuer"] == ISSUER
    assert config["storage"] == {"type": "kubernetes", "config": {"inCluster": True}}
    assert config["web"] == {"http": "0.0.0.0:5556"}
    assert config["telemetry"] == {"http": "0.0.0.0:5558"}
    assert config["oauth2"]["skipApprovalScreen"] is True
    assert config["expiry"]["idTokens"] == "24h"


def test_password_grant_uses_the_local_database(user):
    oauth2 = render_dex_config(settings(static_user=user))["oauth2"]
    assert oauth2["passwordConnector"] == "local"
    assert set(oauth2["grantTypes"]) == {
        "authorization_code",
        "refresh_token",
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
    }


def test_no_password_connector_means_no_password_grant():
    config = render_dex_config(settings(enable_password_db=False, connectors=[LDAP], password_connector=None))
    assert "passwordConnector" not in config["oauth2"]
    assert "password" not in config["oauth2"]["grantTypes"]


def test_static_user_is_a_bcrypt_hash_dex_accepts(user):
    (entry,) = render_dex_config(settings(static_user=user))["staticPasswords"]
    assert entry["email"] == "admin@example.com"
    assert entry["username"] == "admin"
    assert entry["hash"].startswith("$2b$10$")
    assert bcrypt.checkpw(b"correct horse", entry["hash"].encode())
    assert entry["userID"] == StaticUser("ADMIN@example.com", "other").user_id  # stable, case-blind


def test_static_user_is_left_out_without_the_password_db(user):
    config = render_dex_config(settings(static_user=user, enable_password_db=False, connectors=[LDAP]))
    assert "staticPasswords" not in config
    assert config["enablePasswordDB"] is False


def test_no_way_to_log_in_is_refused():
    with pytest.raises(DexConfigError, match="nobody can log in"):
        render_dex_config(settings(enable_password_db=False))


def test_clients():
    clients = render_dex_config(settings())["staticClients"]
    gatekeeper, cli = clients
    assert gatekeeper == {
        "id": "dex-auth-gatekeeper",
        "name": "dex-auth gatekeeper",
        "redirectURIs": [
            "https://kf.example.com/authservice/oidc/callback",
            "https://kf.example.com/dex/authservice/oidc/callback",  # behind Istio: under Dex's route
        ],
        "secret": "cs",
    }
    assert cli["public"] is True and "secret" not in cli
    assert cli["redirectURIs"] == ["urn:ietf:wg:oauth:2.0:oob", "http://localhost:8000", "/device/callback"]


def test_duplicate_client_ids_are_refused():
    twice = StaticClient("dex-auth-cli", "x", ("https://a/cb",), "s")
    with pytest.raises(DexConfigError, match="dex-auth-cli is registered twice"):
        render_dex_config(settings(clients=(cli_client("dex-auth-cli"), twice)))


def test_connectors_pass_through_unchanged():
    assert render_dex_config(settings(connectors=[LDAP]))["connectors"] == [LDAP]


def test_yaml_round_trip_keeps_dollars(user):
    connector = {**LDAP, "config": {**LDAP["config"], "bindPW": "a$b${c}"}}
    text = render_dex_config_yaml(settings(static_user=user, connectors=[connector]))
    assert yaml.safe_load(text)["connectors"][0]["config"]["bindPW"] == "a$b${c}"


def test_log_level_maps_to_dex_names():
    assert render_dex_config(settings(log_level="warning"))["logger"]["level"] == "warn"


def test_password_matches():
    hashed = hash_password("pw")
    assert password_matches("pw", hashed)
    assert not password_matches("PW", hashed)
    assert not password_matches("pw", "not a hash")
