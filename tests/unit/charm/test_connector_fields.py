"""The connector field tables, as read from Dex's source at the pinned tag (dev/dex_connector_fields.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import connector_fields
import connectors
from connector_fields import DATA_FIELDS, FILE_FIELDS, KNOWN_FIELDS, REQUIRED_FIELDS
from connectors import ConnectorValidationError

ROOT = Path(__file__).resolve().parents[3]
ISSUER = "https://kf.example.com/dex"


def lowered(fields: dict) -> dict:
    return {k.lower(): (lowered(v) if isinstance(v, dict) else v) for k, v in fields.items()}


def has(ctype: str, dotted: str) -> bool:
    node = lowered(KNOWN_FIELDS[ctype])
    for part in dotted.removesuffix("[]").lower().split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_the_table_is_from_the_dex_the_charm_deploys() -> None:
    image = yaml.safe_load((ROOT / "metadata.yaml").read_text())["resources"]["dex-image"]["upstream-source"]
    assert image.endswith(":" + connector_fields.DEX_VERSION)
    document = json.loads((ROOT / "src" / "dex_connector_fields.json").read_text())
    for ctype, entry in document["connectors"].items():
        assert entry["source"].startswith("connector/") and entry["source"].endswith(".go"), ctype
    assert set(REQUIRED_FIELDS) == set(KNOWN_FIELDS)  # every type server/server.go registers


@pytest.mark.parametrize(
    ("ctype", "field", "present"),
    [
        ("oidc", "insecureIssuer", False),
        ("oidc", "issuerAlias", True),
        ("oidc", "hostedDomains", True),
        ("ldap", "groupSearch.recursionGroupAttr", True),
        ("gitlab", "rootCAData", True),
        ("google", "adminEmail", True),  # untagged Go field: encoding/json matches its name
    ],
)
def test_fields_the_old_hand_written_table_had_wrong(ctype: str, field: str, present: bool) -> None:
    assert has(ctype, field) is present


def test_every_field_the_charm_treats_specially_is_a_dex_field() -> None:
    for table in (REQUIRED_FIELDS, FILE_FIELDS, DATA_FIELDS):
        for ctype, fields in table.items():
            for field in fields:
                assert has(ctype, field), (ctype, field)


def test_a_misspelt_new_field_is_caught() -> None:
    entry = {
        "type": "oidc",
        "id": "o",
        "name": "O",
        "config": {
            "issuer": "https://idp.example",
            "clientID": "c",
            "clientSecret": "s",
            "redirectURI": f"{ISSUER}/callback",
            "issuerAlais": "https://old.example",
        },
    }
    with pytest.raises(
        ConnectorValidationError, match=r'config\.issuerAlais is not a oidc field \(did you mean "issuerAlias"'
    ):
        connectors.load(json.dumps([entry]), ISSUER)


def test_an_oidc_client_with_pkce_needs_no_secret() -> None:
    base = {"issuer": "https://idp.example", "clientID": "c", "redirectURI": f"{ISSUER}/callback"}
    entry = {"type": "oidc", "id": "o", "name": "O", "config": {**base, "pkceChallenge": "S256"}}
    assert connectors.load(json.dumps([entry]), ISSUER)[0]["config"]["pkceChallenge"] == "S256"
    with pytest.raises(ConnectorValidationError, match="clientSecret is required for type oidc unless pkceChallenge"):
        connectors.load(json.dumps([{**entry, "config": base}]), ISSUER)


def test_file_fields_take_content_and_keep_paths() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    entry = {
        "type": "oidc",
        "id": "okta",
        "name": "Okta",
        "config": {
            "issuer": "https://idp.example",
            "clientID": "c",
            "clientSecret": "s",
            "redirectURI": f"{ISSUER}/callback",
            "rootCAs": [pem, "/etc/ssl/certs/ca-certificates.crt"],
        },
    }
    found = connectors.load(json.dumps([entry]), ISSUER)
    placed, files = connectors.place_files(found, "/d")
    assert placed[0]["config"]["rootCAs"] == ["/d/okta.rootCAs.0", "/etc/ssl/certs/ca-certificates.crt"]
    assert [(f.path, f.content) for f in files] == [("/d/okta.rootCAs.0", pem)]
    assert pem not in repr(files) and pem not in repr(found)
    with pytest.raises(ConnectorValidationError, match=r"config.rootCAs must be a list of files"):
        connectors.load(json.dumps([{**entry, "config": {**entry["config"], "rootCAs": pem}}]), ISSUER)
