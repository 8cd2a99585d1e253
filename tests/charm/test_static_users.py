"""static-users: a Juju secret's YAML list of users becomes Dex's staticPasswords, hashed once by
the leader; a bad entry blocks naming the entry and field, and the running config stays."""

from __future__ import annotations

import dataclasses

import bcrypt
import pytest
from charm_state import config_file, context, dex_config, state
from ops import testing

SECRET_ID = "secret:cs8abcdefghijklmnopr"
BOB_HASH = bcrypt.hashpw(b"bobs-password", bcrypt.gensalt(rounds=4)).decode()
USERS = f"""
- email: alice@example.com
  password: alices-password
- email: bob@example.com
  username: Bob
  hash: "{BOB_HASH}"
"""


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def users_secret(text: str = USERS) -> testing.Secret:
    return testing.Secret({"users": text}, id=SECRET_ID)


def passwords(root) -> dict[str, dict]:
    return {entry["email"]: entry for entry in dex_config(root)["staticPasswords"]}


def test_the_listed_users_join_the_static_user_with_bcrypt_hashes(ctx, tmp_path):
    config = {"static-users": SECRET_ID, "static-password": "the-single-users-password"}
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config=config, secrets=(users_secret(),)))
    assert out.unit_status == testing.ActiveStatus()
    found = passwords(tmp_path)
    assert sorted(found) == ["alice@example.com", "bob@example.com", "user@example.com"]
    assert bcrypt.checkpw(b"alices-password", found["alice@example.com"]["hash"].encode())
    assert found["alice@example.com"]["username"] == "alice"
    assert found["bob@example.com"] == {**found["bob@example.com"], "hash": BOB_HASH, "username": "Bob"}
    assert "alices-password" not in config_file(tmp_path).read_text()
    assert len({entry["userID"] for entry in found.values()}) == 3


def test_an_unchanged_list_is_not_hashed_again_and_a_changed_password_is(ctx, tmp_path):
    first = ctx.run(
        ctx.on.config_changed(), state(tmp_path, config={"static-users": SECRET_ID}, secrets=(users_secret(),))
    )
    before = config_file(tmp_path).read_text()
    again = ctx.run(ctx.on.update_status(), first)
    assert config_file(tmp_path).read_text() == before
    changed = users_secret(USERS.replace("alices-password", "alices-new-password"))
    others = {s for s in again.secrets if s.id != SECRET_ID}
    ctx.run(ctx.on.config_changed(), dataclasses.replace(again, secrets=others | {changed}))
    found = passwords(tmp_path)
    assert bcrypt.checkpw(b"alices-new-password", found["alice@example.com"]["hash"].encode())
    assert found["bob@example.com"]["hash"] == BOB_HASH


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "- email: alice@example.com\n  password: alices-password\n  hash: x\n",
            "entry 1 (alice@example.com): give exactly one of password and hash",
        ),
        (
            "- email: a@x.com\n  password: p4ssw0rd-ok\n- email: bob\n  password: p4ssw0rd-ok\n",
            "entry 2: email must be an address such as user@example.com",
        ),
        (
            "- email: bob@x.com\n  password: short\n",
            "entry 1 (bob@x.com): password must be text of at least 8 characters",
        ),
        (
            "- email: bob@x.com\n  hash: not-bcrypt\n",
            "entry 1 (bob@x.com): hash must be a bcrypt hash ($2a$, $2b$ or $2y$, e.g. from htpasswd -B)",
        ),
        (
            "- email: bob@x.com\n  password: p4ssw0rd-ok\n  groups: [a]\n",
            "entry 1 (bob@x.com): groups is not a field (use email, username, password, hash)",
        ),
        (
            "- email: Bob@x.com\n  password: p4ssw0rd-ok\n- email: bob@X.com\n  password: p4ssw0rd-ok\n",
            "entry 2 (bob@X.com): email is the same as entry 1's",
        ),
        (
            "- email: user@example.com\n  password: p4ssw0rd-ok\n",
            "entry 1 (user@example.com): email is static-username's too; remove one, or set static-username=''",
        ),
        ("email: bob@x.com\n", "the secret's content must be a YAML list of {email, username, password | hash}"),
        ("- [unclosed\n", "the secret's content is not valid YAML at line 2"),
    ],
)
def test_a_bad_entry_blocks_naming_it_and_the_running_config_stays(ctx, tmp_path, text, message):
    good = ctx.run(
        ctx.on.config_changed(), state(tmp_path, config={"static-users": SECRET_ID}, secrets=(users_secret(),))
    )
    before = config_file(tmp_path).read_text()
    others = {s for s in good.secrets if s.id != SECRET_ID}
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(good, secrets=others | {users_secret(text)}))
    assert out.unit_status == testing.BlockedStatus(f"config static-users: {message}")
    assert config_file(tmp_path).read_text() == before
    assert "p4ssw0rd-ok" not in str(out.unit_status)


def test_a_secret_not_granted_says_how_to_grant_it(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"static-users": SECRET_ID}))
    assert out.unit_status == testing.BlockedStatus(
        f"config static-users: secret {SECRET_ID} is not found or not granted "
        f"(run: juju grant-secret {SECRET_ID} dex-auth)"
    )


def test_the_option_holds_only_a_reference(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"static-users": "- email: a@b.com"}))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("config static-users: must be a Juju secret reference")
    assert "a@b.com" not in out.unit_status.message


def test_static_users_need_the_password_db(ctx, tmp_path):
    config = {"static-users": SECRET_ID, "enable-password-db": False, "connectors": ""}
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config=config, secrets=(users_secret(),)))
    assert out.unit_status == testing.BlockedStatus(
        "config static-users: needs enable-password-db=true: Dex keeps static users in its password DB"
    )
