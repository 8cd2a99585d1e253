"""The static-users list: what the leader hashes, what it reuses, and when rendering must wait."""

from __future__ import annotations

import bcrypt

import static_users

KEY = b"k" * 32
TEXT = "- {email: Alice@Example.com, password: alices-password}\n- {email: bob@example.com, password: bobs-password}\n"


def test_known_hashes_are_reused_and_only_new_passwords_hashed():
    entries = static_users.parse(TEXT)
    first = static_users.hashes(entries, KEY, {})
    assert len(first) == 2
    assert static_users.hashes(entries, KEY, first) == first
    changed = static_users.parse(TEXT.replace("bobs-password", "bobs-new-password"))
    second = static_users.hashes(changed, KEY, first)
    alice = static_users.fingerprint(KEY, entries[0])
    assert second[alice] == first[alice] and len(second) == 2 and set(second) != set(first)
    bob = static_users.fingerprint(KEY, changed[1])
    assert bcrypt.checkpw(b"bobs-new-password", second[bob].encode())


def test_the_fingerprint_depends_on_the_key_the_address_and_the_password():
    alice, bob = static_users.parse(TEXT)
    assert static_users.fingerprint(KEY, alice) != static_users.fingerprint(b"x" * 32, alice)
    assert static_users.fingerprint(KEY, alice) != static_users.fingerprint(KEY, bob)
    same_address = static_users.Entry("alice@example.com", "alice", password="alices-password")
    assert static_users.fingerprint(KEY, alice) == static_users.fingerprint(KEY, same_address)


def test_rendering_waits_while_a_password_has_no_hash():
    entries = static_users.parse(TEXT)
    assert static_users.dex_users(entries, KEY, {}) is None
    users = static_users.dex_users(entries, KEY, static_users.hashes(entries, KEY, {}))
    assert users is not None and [u.email for u in users] == ["Alice@Example.com", "bob@example.com"]


def test_the_known_hashes_survive_their_text_form_and_garbage_reads_as_none():
    known = {"b": "2", "a": "1"}
    assert static_users.decode_known(static_users.encode_known(known)) == known
    assert static_users.decode_known("not json") == {} and static_users.decode_known("[1]") == {}
