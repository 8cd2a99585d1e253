"""The password digest a cached login keeps: it answers the one password, and nothing else."""

from __future__ import annotations

from dex_auth_login import password_check
from dex_auth_login.login import Wanted


def test_the_password_that_made_the_verifier_matches_and_no_other() -> None:
    verifier = password_check.make_verifier("correct horse")
    assert password_check.matches("correct horse", verifier)
    assert not password_check.matches("correct horse ", verifier)
    assert not password_check.matches("Correct horse", verifier)


def test_each_verifier_has_its_own_salt_and_never_the_password() -> None:
    first, second = password_check.make_verifier("pw-123456"), password_check.make_verifier("pw-123456")
    assert first != second
    assert "pw-123456" not in first


def test_a_missing_damaged_or_foreign_verifier_never_matches() -> None:
    good = password_check.make_verifier("pw")
    for verifier in (None, "", "pw", "bcrypt$x$y", good.rsplit("$", 1)[0], good[:-4] + "!!!!"):
        assert not password_check.matches("pw", verifier)


def test_a_cached_login_serves_only_what_the_caller_insisted_on() -> None:
    verifier = password_check.make_verifier("pw")
    assert Wanted().served_by("alice", None)  # nothing given outright: a prompt comes only if needed
    assert Wanted("alice", "pw").served_by("alice", verifier)
    assert not Wanted("alice", "other").served_by("alice", verifier)
    assert not Wanted("alice", "pw").served_by("alice", None)  # made before digests were kept: ask Dex
    assert not Wanted("bob").served_by("alice", verifier)
    assert Wanted.of("alice", lambda: "pw") == Wanted("alice", None)
    assert Wanted.of("alice", "pw", device=True) == Wanted()
