"""The `connectors` option: YAML and JSON alike, every mistake named by connector and field."""

import json

import pytest
import yaml

import connectors
from connectors import (
    ConnectorsShapeError,
    ConnectorsSyntaxError,
    ConnectorValidationError,
    SecretLookupError,
)

ISSUER = "https://kf.example.com/dex"
CALLBACK = f"{ISSUER}/callback"

GITHUB = {
    "type": "github",
    "id": "github",
    "name": "GitHub",
    "config": {"clientID": "abc", "clientSecret": "s3cr3t", "redirectURI": CALLBACK, "orgs": [{"name": "acme"}]},
}
LDAP = {
    "type": "ldap",
    "id": "ldap",
    "name": "Corp LDAP",
    "config": {
        "host": "ldap.example.com:636",
        "bindDN": "cn=admin,dc=example,dc=com",
        "bindPW": "pa$$word",
        "userSearch": {"baseDN": "ou=people,dc=example,dc=com", "username": "uid"},
    },
}


def message(text: str, resolve=None) -> str:
    with pytest.raises(connectors.ConnectorsError) as caught:
        connectors.load(text, ISSUER, resolve)
    return str(caught.value)


def test_yaml_and_json_give_the_same_connectors():
    as_yaml = yaml.safe_dump([GITHUB, LDAP])
    as_json = json.dumps([GITHUB, LDAP])
    assert connectors.load(as_yaml, ISSUER) == connectors.load(as_json, ISSUER) == [GITHUB, LDAP]


def test_empty_option_means_no_connectors():
    assert connectors.load("", ISSUER) == []
    assert connectors.load("  \n", ISSUER) == []
    assert connectors.load("[]", ISSUER) == []
    assert connectors.load("connectors:\n", ISSUER) == []


def test_whole_connectors_mapping_is_unwrapped(caplog):
    caplog.set_level("INFO")
    text = yaml.safe_dump({"connectors": [GITHUB]})
    assert connectors.load(text, ISSUER) == [GITHUB]
    assert "removed the outer 'connectors:' key" in caplog.text


def test_a_whole_dex_config_is_refused_with_the_keys_found():
    text = yaml.safe_dump({"issuer": ISSUER, "connectors": [GITHUB]})
    with pytest.raises(ConnectorsShapeError, match="not a Dex config \\(found keys issuer\\)"):
        connectors.parse(text)


def test_a_single_connector_mapping_asks_for_a_list():
    assert "must be a list: put '- ' before" in message(yaml.safe_dump(GITHUB))


@pytest.mark.parametrize("text, kind", [("github", "a string"), ("42", "a number"), ("{a: 1}", "a mapping")])
def test_other_shapes_are_named(text, kind):
    assert message(text) == f"connectors must be a list of connectors, not {kind}"


def test_malformed_yaml_names_line_and_column():
    text = "- type: github\n  id: github\n   name: x\n"
    with pytest.raises(ConnectorsSyntaxError) as caught:
        connectors.load(text, ISSUER)
    assert (caught.value.line, caught.value.column) == (3, 8)
    assert str(caught.value).startswith("connectors is not valid YAML or JSON at line 3, column 8:")


def test_malformed_json_names_line_and_column():
    text = '[\n  {"type": "github",\n   "id": "github"\n   "name": "x"}\n]'
    err = message(text)
    assert "at line 4, column 4" in err


def test_aliases_are_refused_before_they_expand():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    with pytest.raises(ConnectorsSyntaxError) as caught:
        connectors.parse(bomb)
    assert str(caught.value) == (
        "connectors is not valid YAML or JSON at line 2, column 8: YAML aliases (*name) are not supported here"
    )


@pytest.mark.parametrize("levels", [40, 2000])
def test_deep_nesting_is_refused_not_a_crash(levels):
    deep = '[{"type": "github", "id": "gh", "name": "GH", "config": {"orgs": ' + "[" * levels + "]" * levels + "}}]"
    with pytest.raises(ConnectorsSyntaxError) as caught:
        connectors.parse(deep)
    assert "nested more than 32 levels deep" in str(caught.value)


def test_syntax_errors_do_not_echo_the_text():
    text = '- type: oidc\n  config: {clientSecret: "topsecretvalue\n'
    err = message(text)
    assert "topsecretvalue" not in err


def test_missing_required_field_names_connector_and_field():
    bad = {**GITHUB, "config": {"clientID": "abc", "redirectURI": CALLBACK}}
    assert message(json.dumps([LDAP, bad])) == (
        'connectors[1] (id "github"): config.clientSecret is required for type github'
    )


def test_nested_required_field():
    bad = json.loads(json.dumps(LDAP))
    del bad["config"]["userSearch"]["username"]
    assert message(json.dumps([bad])) == (
        'connectors[0] (id "ldap"): config.userSearch.username is required for type ldap'
    )


def test_missing_redirect_uri_says_what_to_set():
    bad = {**GITHUB, "config": {"clientID": "abc", "clientSecret": "x"}}
    assert message(json.dumps([bad])) == (
        f'connectors[0] (id "github"): config.redirectURI is required for type github (set it to {CALLBACK})'
    )


def test_wrong_redirect_uri():
    bad = {**GITHUB, "config": {**GITHUB["config"], "redirectURI": "https://kf.example.com/callback"}}
    assert message(json.dumps([bad])) == (
        f'connectors[0] (id "github"): config.redirectURI must be {CALLBACK} (Dex\'s callback), '
        "not https://kf.example.com/callback"
    )


def test_unknown_type_suggests_the_close_one():
    bad = {**GITHUB, "type": "gihub"}
    assert message(json.dumps([bad])) == (
        'connectors[0] (id "github"): type "gihub" is not a Dex connector type (did you mean "github"?)'
    )


def test_mock_is_not_a_type():
    bad = {"type": "mock", "id": "m", "name": "M"}
    assert 'type "mock" is not a Dex connector type' in message(json.dumps([bad]))


def test_connector_without_id_is_named_by_position():
    bad = {k: v for k, v in GITHUB.items() if k != "id"}
    assert message(json.dumps([LDAP, bad])) == "connectors[1]: id is required"


def test_duplicate_ids():
    assert message(json.dumps([GITHUB, GITHUB])) == (
        'connectors[1] (id "github"): id is also used by connectors[0]; ids must be unique'
    )


def test_local_id_is_reserved():
    bad = {**GITHUB, "id": "local"}
    assert 'id "local" is reserved for the static password database' in message(json.dumps([bad]))


def test_unknown_top_level_key_is_a_typo():
    bad = {**GITHUB, "confg": GITHUB["config"]}
    del bad["config"]
    err = message(json.dumps([bad]))
    assert err.startswith('connectors[0] (id "github"): has unknown key "confg" (did you mean "config"?)')


def test_entry_that_is_not_a_mapping():
    assert message("- github\n") == ("connectors[0]: must be a mapping with type, id, name and config, not a string")


def test_name_is_required():
    bad = {k: v for k, v in GITHUB.items() if k != "name"}
    assert "name is required" in message(json.dumps([bad]))


def test_config_must_be_a_mapping():
    bad = {**GITHUB, "config": ["clientID"]}
    assert 'connectors[0] (id "github"): config must be a mapping, not a list' in message(json.dumps([bad]))


def test_required_field_must_be_a_string():
    bad = {**GITHUB, "config": {**GITHUB["config"], "clientID": ["a"]}}
    assert "config.clientID must be a string, not a list" in message(json.dumps([bad]))


def test_keys_are_matched_like_dex_does_without_case():
    lower = {**GITHUB, "config": {"clientid": "abc", "clientsecret": "x", "redirecturi": CALLBACK}}
    assert connectors.load(json.dumps([lower]), ISSUER)[0]["config"]["clientid"] == "abc"


def test_the_same_key_twice_in_different_case_is_refused():
    bad = {**GITHUB, "config": {**GITHUB["config"], "clientid": "other"}}
    assert "config.clientID is given more than once (clientID, clientid)" in message(json.dumps([bad]))


def test_every_problem_is_counted():
    bad = {"type": "github", "id": "gh", "name": "GH", "config": {}}
    with pytest.raises(ConnectorValidationError) as caught:
        connectors.load(json.dumps([bad]), ISSUER)
    assert len(caught.value.problems) == 3
    assert str(caught.value).endswith("(and 2 more)")


@pytest.mark.parametrize(
    "ctype, config, expected",
    [
        (
            "saml",
            {"ssoURL": "https://idp/sso", "usernameAttr": "u", "emailAttr": "e", "redirectURI": CALLBACK},
            "config.ca or config.caData is required",
        ),
        (
            "github",
            {**GITHUB["config"], "org": "a", "orgs": [{"name": "b"}]},
            "config.org and config.orgs cannot both be set",
        ),
        ("github", {**GITHUB["config"], "hostName": "https://ghe.example.com"}, "config.hostName must be a host name"),
        ("github", {**GITHUB["config"], "rootCA": "/etc/ca.pem"}, "config.rootCA needs config.hostName"),
        ("google", {**GITHUB["config"], "serviceAccountFilePath": "/sa.json"}, "needs config.domainToAdminEmail"),
        ("microsoft", {**GITHUB["config"], "groupNameFormat": "upn"}, 'config.groupNameFormat must be "name" or "id"'),
        (
            "oidc",
            {"clientID": "a", "clientSecret": "b", "redirectURI": CALLBACK},
            "config.issuer is required for type oidc",
        ),
        (
            "keystone",
            {"domain": "d", "keystoneHost": "h", "keystoneUsername": "u"},
            "config.keystonePassword is required",
        ),
        ("atlassian-crowd", {}, "config.baseURL is required"),
        ("oauth", {**GITHUB["config"], "tokenURL": "t", "authorizationURL": "a"}, "config.userInfoURL is required"),
        ("mockPassword", {"username": "u"}, "config.password is required"),
    ],
)
def test_type_specific_rules(ctype, config, expected):
    entry = {"type": ctype, "id": "x", "name": "X", "config": config}
    assert expected in message(json.dumps([entry]))


def test_saml_with_one_ca_is_fine():
    entry = {
        "type": "saml",
        "id": "s",
        "name": "S",
        "config": {
            "ssoURL": "https://idp/sso",
            "usernameAttr": "u",
            "emailAttr": "e",
            "redirectURI": CALLBACK,
            "caData": "Zm9v",
        },
    }
    assert connectors.load(json.dumps([entry]), ISSUER)[0]["id"] == "s"


def test_types_without_required_fields_need_no_config():
    assert connectors.load('[{"type": "mockCallback", "id": "mock", "name": "Mock"}]', ISSUER)[0]["config"] == {}


def test_dollar_in_a_value_is_kept_verbatim():
    (ldap,) = connectors.load(yaml.safe_dump([LDAP]), ISSUER)
    assert ldap["config"]["bindPW"] == "pa$$word"


def test_secret_references_are_resolved_with_the_key():
    calls = []

    def resolve(uri, key):
        calls.append((uri, key))
        return {"client-secret": "from$juju"}[key]

    ref = "secret:cs8abcdefghijklmnopq/client-secret"
    entry = {**GITHUB, "config": {**GITHUB["config"], "clientSecret": ref}}
    (github,) = connectors.load(json.dumps([entry]), ISSUER, resolve)
    assert github["config"]["clientSecret"] == "from$juju"
    assert calls == [("secret:cs8abcdefghijklmnopq", "client-secret")]


def test_secret_reference_without_key_and_inside_lists():
    entry = {
        **LDAP,
        "config": {
            **LDAP["config"],
            "bindPW": "secret:cs8abcdefghijklmnopq",
            "groupSearch": {"userMatchers": [{"userAttr": "secret:cs8abcdefghijklmnopq/filter"}]},
        },
    }
    values = {None: "pw", "filter": "(objectClass=group)"}
    (ldap,) = connectors.load(json.dumps([entry]), ISSUER, lambda uri, key: values[key])
    assert ldap["config"]["bindPW"] == "pw"
    assert ldap["config"]["groupSearch"]["userMatchers"] == [{"userAttr": "(objectClass=group)"}]


def test_secret_lookup_failure_names_the_field():
    def resolve(uri, key):
        raise SecretLookupError(f"secret {uri} is not found or not granted")

    entry = {**GITHUB, "config": {**GITHUB["config"], "clientSecret": "secret:cs8abcdefghijklmnopq"}}
    assert message(json.dumps([entry]), resolve) == (
        'connectors[0] (id "github"): config.clientSecret secret secret:cs8abcdefghijklmnopq '
        "is not found or not granted"
    )


def test_malformed_secret_reference():
    entry = {**GITHUB, "config": {**GITHUB["config"], "clientSecret": "secret:nope"}}
    assert "config.clientSecret looks like a Juju secret reference but is not one" in message(
        json.dumps([entry]), lambda uri, key: "x"
    )


def test_password_connector_choice():
    assert connectors.password_connector([GITHUB, LDAP], password_db=True) == "local"
    assert connectors.password_connector([GITHUB, LDAP], password_db=False) == "ldap"
    assert connectors.password_connector([GITHUB], password_db=False) is None


def test_a_misspelt_optional_field_is_caught():
    bad = {**GITHUB, "config": {**GITHUB["config"], "loadAllGroup": True}}
    assert message(json.dumps([bad])) == (
        'connectors[0] (id "github"): config.loadAllGroup is not a github field '
        '(did you mean "loadAllGroups"?); Dex would silently ignore it'
    )


def test_a_misspelt_nested_field_is_caught():
    bad = json.loads(json.dumps(LDAP))
    bad["config"]["groupSearch"] = {"baseDN": "ou=groups", "nameAtr": "cn"}
    assert 'config.groupSearch.nameAtr is not a ldap field (did you mean "nameAttr"?)' in message(json.dumps([bad]))


def test_a_misspelt_required_field_gets_both_messages():
    bad = {**GITHUB, "config": {"clientID": "abc", "clientSecert": "x", "redirectURI": CALLBACK}}
    with pytest.raises(ConnectorValidationError) as caught:
        connectors.load(json.dumps([bad]), ISSUER)
    texts = [str(p) for p in caught.value.problems]
    assert 'connectors[0] (id "github"): config.clientSecret is required for type github' in texts
    assert any('config.clientSecert is not a github field (did you mean "clientSecret"?)' in t for t in texts)


def test_an_unknown_but_unlike_field_passes(caplog):
    caplog.set_level("INFO")
    entry = {**GITHUB, "config": {**GITHUB["config"], "brandNewDexOption": True}}
    assert connectors.load(json.dumps([entry]), ISSUER)[0]["config"]["brandNewDexOption"] is True
    assert "brandNewDexOption is not one the charm knows" in caplog.text
