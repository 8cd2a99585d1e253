"""Bad `connectors` values: Blocked with the connector and field named, last good config kept."""

import base64
import dataclasses
import json

import pytest
import yaml
from charm_state import ISSUER, config_file, context, dex_config, service, state, with_config
from ops import testing

GITHUB = {
    "type": "github",
    "id": "github",
    "name": "GitHub",
    "config": {"clientID": "abc", "clientSecret": "s3cr3t", "redirectURI": f"{ISSUER}/callback"},
}
SECRET_ID = "secret:cs8abcdefghijklmnopq"


@pytest.fixture
def ctx() -> testing.Context:
    return context()


@pytest.fixture
def good(ctx, tmp_path) -> testing.State:
    ambassador = testing.Relation("ambassador", remote_app_name="ambassador")
    out = ctx.run(
        ctx.on.config_changed(),
        state(tmp_path, config={"connectors": yaml.safe_dump([GITHUB])}, relations=(ambassador,)),
    )
    assert out.unit_status == testing.ActiveStatus()
    return out


BAD = {
    "malformed YAML": (
        "- type: github\n  id: github\n   name: GitHub\n",
        "connectors is not valid YAML or JSON at line 3, column 8: mapping values are not allowed here",
    ),
    "malformed JSON": (
        '[{"type": "github", "id": "github" "name": "GitHub"}]',
        "connectors is not valid YAML or JSON at line 1, column 36: expected ',' or '}', but got '<scalar>'",
    ),
    "missing secret": (
        json.dumps([{**GITHUB, "config": {"clientID": "abc", "redirectURI": f"{ISSUER}/callback"}}]),
        'connectors[0] (id "github"): config.clientSecret is required for type github',
    ),
    "wrong redirect": (
        json.dumps(
            [
                {
                    "type": "oidc",
                    "id": "okta",
                    "name": "Okta",
                    "config": {
                        "issuer": "https://okta.example.com",
                        "clientID": "a",
                        "clientSecret": "b",
                        "redirectURI": "https://kf.example.com/callback",
                    },
                }
            ]
        ),
        'connectors[0] (id "okta"): config.redirectURI must be https://kf.example.com/dex/callback '
        "(Dex's callback), not https://kf.example.com/callback",
    ),
    "unknown type": (
        yaml.safe_dump([GITHUB, {"type": "gitlabb", "id": "gitlab", "name": "GitLab", "config": {}}]),
        'connectors[1] (id "gitlab"): type "gitlabb" is not a Dex connector type (did you mean "gitlab"?)',
    ),
    "reserved id": (
        json.dumps([{**GITHUB, "id": "local"}]),
        'connectors[0] (id "local"): id "local" is reserved for the static password database; choose another',
    ),
    "duplicate id": (
        json.dumps([GITHUB, GITHUB]),
        'connectors[1] (id "github"): id is also used by connectors[0]; ids must be unique',
    ),
    "not a list": (
        json.dumps(GITHUB),
        "connectors must be a list: put '- ' before the connector's first key (or [ ] around the JSON object)",
    ),
    "secret not granted": (
        json.dumps([{**GITHUB, "config": {**GITHUB["config"], "clientSecret": f"{SECRET_ID}/client-secret"}}]),
        f'connectors[0] (id "github"): config.clientSecret secret {SECRET_ID} is not found or not granted '
        f"(run: juju grant-secret {SECRET_ID} dex-auth)",
    ),
}


@pytest.mark.parametrize("value, message", list(BAD.values()), ids=list(BAD))
def test_bad_connectors_block_and_keep_the_last_good_config(ctx, tmp_path, good, value, message):
    before = config_file(tmp_path).read_bytes()
    layers = {c.name: c.plan.to_dict() for c in good.containers}
    relation_data = {r.id: dict(r.local_app_data) for r in good.relations}

    out = ctx.run(ctx.on.config_changed(), with_config(good, connectors=value))

    assert out.unit_status == testing.BlockedStatus(message)
    assert config_file(tmp_path).read_bytes() == before
    assert {c.name: c.plan.to_dict() for c in out.containers} == layers
    assert {r.id: dict(r.local_app_data) for r in out.relations} == relation_data


def test_fixing_the_value_applies_it(ctx, tmp_path, good):
    broken = ctx.run(ctx.on.config_changed(), with_config(good, connectors="- type: [\n"))
    assert broken.unit_status.name == "blocked"
    fixed = [{**GITHUB, "name": "GitHub Enterprise"}]
    out = ctx.run(ctx.on.config_changed(), with_config(broken, connectors=json.dumps(fixed)))
    assert out.unit_status == testing.ActiveStatus()
    assert dex_config(tmp_path)["connectors"][0]["name"] == "GitHub Enterprise"


def test_blocked_message_never_shows_a_secret(ctx, tmp_path, good):
    value = json.dumps([{**GITHUB, "type": "githu", "config": {**GITHUB["config"], "clientSecret": "hunter2-value"}}])
    out = ctx.run(ctx.on.config_changed(), with_config(good, connectors=value))
    assert "hunter2-value" not in out.unit_status.message


def test_the_whole_connectors_mapping_is_accepted(ctx, tmp_path):
    wrapped = yaml.safe_dump({"connectors": [GITHUB]})
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"connectors": wrapped}))
    assert out.unit_status == testing.ActiveStatus()
    assert dex_config(tmp_path)["connectors"] == [GITHUB]


def test_juju_secret_reference_is_resolved_and_dollars_survive(ctx, tmp_path):
    user_secret = testing.Secret({"client-secret": "pa$$word${HOME}"}, id=SECRET_ID)
    value = [{**GITHUB, "config": {**GITHUB["config"], "clientSecret": f"{SECRET_ID}/client-secret"}}]
    out = ctx.run(
        ctx.on.config_changed(), state(tmp_path, config={"connectors": json.dumps(value)}, secrets=(user_secret,))
    )
    assert out.unit_status == testing.ActiveStatus()
    assert dex_config(tmp_path)["connectors"][0]["config"]["clientSecret"] == "pa$$word${HOME}"
    assert service(out, "dex")["environment"]["DEX_EXPAND_ENV"] == "false"


def test_a_secret_with_several_keys_needs_one_named(ctx, tmp_path):
    user_secret = testing.Secret({"id": "a", "secret": "b"}, id=SECRET_ID)
    value = [{**GITHUB, "config": {**GITHUB["config"], "clientSecret": SECRET_ID}}]
    out = ctx.run(
        ctx.on.config_changed(), state(tmp_path, config={"connectors": json.dumps(value)}, secrets=(user_secret,))
    )
    assert out.unit_status == testing.BlockedStatus(
        f'connectors[0] (id "github"): config.clientSecret secret {SECRET_ID} has keys id, secret: '
        f"name one as {SECRET_ID}/<key>"
    )


def test_a_changed_user_secret_is_picked_up(ctx, tmp_path):
    user_secret = testing.Secret({"value": "old"}, id=SECRET_ID)
    value = [{**GITHUB, "config": {**GITHUB["config"], "clientSecret": SECRET_ID}}]
    out = ctx.run(
        ctx.on.config_changed(), state(tmp_path, config={"connectors": json.dumps(value)}, secrets=(user_secret,))
    )
    assert dex_config(tmp_path)["connectors"][0]["config"]["clientSecret"] == "old"
    rotated = testing.Secret({"value": "old"}, latest_content={"value": "new"}, id=SECRET_ID)
    others = {s for s in out.secrets if s.id != SECRET_ID}
    out = ctx.run(
        ctx.on.secret_changed(rotated),
        testing.State(
            **{
                **{f: getattr(out, f) for f in ("leader", "model", "config", "containers", "relations")},
                "secrets": others | {rotated},
            }
        ),
    )
    assert dex_config(tmp_path)["connectors"][0]["config"]["clientSecret"] == "new"


def test_a_new_pod_with_a_bad_config_starts_from_the_last_good_one(ctx, tmp_path, good):
    """Pod restarts wipe the containers; the last config that rendered is kept in a Juju secret."""
    bad = ctx.run(ctx.on.config_changed(), with_config(good, connectors="- {type: nope}"))
    fresh = state(
        tmp_path / "new-pod",
        config=dict(bad.config),
        relations=tuple(r for r in bad.relations if r.endpoint != "dex-auth-peers"),
        peer=next(r for r in bad.relations if r.endpoint == "dex-auth-peers"),
        secrets=tuple(bad.secrets),
    )
    out = ctx.run(ctx.on.upgrade_charm(), fresh)
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith("connectors[0]: ")
    assert config_file(tmp_path / "new-pod").read_text() == config_file(tmp_path).read_text()
    assert service(out, "gatekeeper") == service(good, "gatekeeper")


CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUXYZ\n-----END CERTIFICATE-----\n"
LDAP = {
    "type": "ldap",
    "id": "corp",
    "name": "Corp LDAP",
    "config": {
        "host": "ldap.corp.example:636",
        "bindDN": "cn=dex,dc=corp",
        "bindPW": "pw",
        "userSearch": {"baseDN": "ou=people,dc=corp", "username": "uid"},
    },
}


def test_ldap_root_ca_from_a_secret_becomes_a_private_file_for_dex(ctx, tmp_path):
    """The common enterprise case: LDAPS with a private CA, given as a Juju secret."""
    user_secret = testing.Secret({"ca-cert": CA_PEM}, id=SECRET_ID)
    value = [{**LDAP, "config": {**LDAP["config"], "rootCA": f"{SECRET_ID}/ca-cert"}}]
    out = ctx.run(
        ctx.on.config_changed(), state(tmp_path, config={"connectors": json.dumps(value)}, secrets=(user_secret,))
    )
    assert out.unit_status == testing.ActiveStatus()
    path = dex_config(tmp_path)["connectors"][0]["config"]["rootCA"]
    assert path == "/tmp/dex-auth/files/corp.rootCA"
    on_disk = tmp_path / "dex-etc" / "files" / "corp.rootCA"  # the container's /tmp/dex-auth
    assert on_disk.read_text() == CA_PEM
    # Only the workload user may read it; the owner (584792, the Dex service's user-id) is set
    # by Pebble from the push arguments, which ops.testing does not record.
    assert on_disk.stat().st_mode & 0o777 == 0o600
    assert service(out, "dex")["user-id"] == 584792
    assert CA_PEM not in config_file(tmp_path).read_text()


def test_a_changed_ca_restarts_dex_and_a_removed_one_is_deleted(ctx, tmp_path):
    first = testing.Secret({"ca-cert": CA_PEM}, id=SECRET_ID)
    value = [{**LDAP, "config": {**LDAP["config"], "rootCA": f"{SECRET_ID}/ca-cert"}}]
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"connectors": json.dumps(value)}, secrets=(first,)))
    before = service(out, "dex")["environment"]["DEX_CONFIG_HASH"]
    rotated = testing.Secret({"ca-cert": CA_PEM.replace("XYZ", "ABC")}, id=SECRET_ID)
    out = ctx.run(ctx.on.secret_changed(rotated), dataclasses.replace(out, secrets={rotated}))
    assert service(out, "dex")["environment"]["DEX_CONFIG_HASH"] != before
    assert "ABC" in (tmp_path / "dex-etc" / "files" / "corp.rootCA").read_text()
    out = ctx.run(ctx.on.config_changed(), with_config(out, connectors=json.dumps([LDAP])))
    assert not (tmp_path / "dex-etc" / "files" / "corp.rootCA").exists()


def test_inline_pem_in_a_data_field_is_encoded_and_a_bad_one_is_named(ctx, tmp_path):
    value = [{**LDAP, "config": {**LDAP["config"], "rootCAData": CA_PEM}}]
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"connectors": json.dumps(value)}))
    assert out.unit_status == testing.ActiveStatus()
    assert base64.b64decode(dex_config(tmp_path)["connectors"][0]["config"]["rootCAData"]).decode() == CA_PEM
    bad = [{**LDAP, "config": {**LDAP["config"], "rootCAData": "not base64!"}}]
    blocked = ctx.run(ctx.on.config_changed(), with_config(out, connectors=json.dumps(bad)))
    assert blocked.unit_status == testing.BlockedStatus(
        'connectors[0] (id "corp"): config.rootCAData must be base64 of PEM data (Dex decodes it as bytes) or PEM text'
    )


def probed_state(tmp_path, probe, connectors=(LDAP, GITHUB)):
    from charm_state import dex_container, gatekeeper_container

    base = state(tmp_path, config={"connectors": json.dumps(list(connectors))})
    return dataclasses.replace(base, containers={dex_container(tmp_path, probe=probe), gatekeeper_container()})


def test_a_connector_dex_cannot_open_is_named_while_the_others_keep_working(ctx, tmp_path):
    from charm_state import dex_probe

    reason = "ldap: read ca file: open /missing.pem: no such file or directory"
    out = ctx.run(ctx.on.config_changed(), probed_state(tmp_path, dex_probe({"corp": reason})))
    assert out.unit_status == testing.BlockedStatus(
        f'connector "corp" cannot be opened by Dex: {reason}; Dex leaves it out (see juju debug-log)'
    )
    # Dex runs with both connectors: it serves GitHub and opens LDAP again on demand.
    assert [c["id"] for c in dex_config(tmp_path)["connectors"]] == ["corp", "github"]
    assert out.get_container("dex").service_statuses["dex"].value == "active"
    probe = ctx.exec_history["dex"][-1]
    assert probe.command == ["/usr/local/bin/dex", "serve", "/tmp/dex-auth/probe.yaml"]
    probe_config = yaml.safe_load((tmp_path / "dex-etc" / "probe.yaml").read_text())
    assert (
        probe_config["storage"] == {"type": "memory"}
        and probe_config["connectors"] == dex_config(tmp_path)["connectors"]
    )


def test_the_probe_is_retried_on_update_status_and_clears(ctx, tmp_path):
    from charm_state import dex_probe

    out = ctx.run(ctx.on.config_changed(), probed_state(tmp_path, dex_probe({"corp": "ldap: dial tcp: i/o timeout"})))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    healed = dataclasses.replace(
        out, containers={c if c.name != "dex" else dataclasses.replace(c, execs={dex_probe()}) for c in out.containers}
    )
    assert ctx.run(ctx.on.update_status(), healed).unit_status == testing.ActiveStatus()


def test_the_probe_runs_only_when_the_connectors_change(ctx, tmp_path):
    from charm_state import dex_probe

    out = ctx.run(ctx.on.config_changed(), probed_state(tmp_path, dex_probe()))
    assert out.unit_status == testing.ActiveStatus()
    runs = len(ctx.exec_history["dex"])
    out = ctx.run(ctx.on.update_status(), out)
    out = ctx.run(ctx.on.config_changed(), with_config(out, log_level="debug"))
    assert len(ctx.exec_history["dex"]) == runs
    ctx.run(ctx.on.config_changed(), with_config(out, connectors=json.dumps([GITHUB])))
    assert len(ctx.exec_history["dex"]) == runs + 1
