"""Session-key rotation keeps every key whose sessions may still be valid, so nobody is logged out."""

import pytest

from credentials import MAX_SESSION_KEYS, SessionKeysError, new_session_key, parse_session_keys, rotate_session_keys

DAY = 86400.0


def test_rotation_puts_the_new_key_first_and_keeps_the_one_it_replaces():
    first = str(new_session_key())
    rotation = rotate_session_keys(first, {}, now=1000.0, keep_for=DAY)
    assert [k.kid for k in parse_session_keys(rotation.keys)] == [rotation.fresh.kid, rotation.previous.kid]
    assert str(rotation.previous) == first
    assert rotation.retired == {rotation.previous.kid: 1000.0}


def test_a_key_keeps_verifying_for_a_whole_lifetime_after_it_stopped_signing():
    one = rotate_session_keys(str(new_session_key()), {}, now=0.0, keep_for=DAY)
    two = rotate_session_keys(one.keys, one.retired, now=3600.0, keep_for=DAY)
    assert [k.kid for k in parse_session_keys(two.keys)] == [two.fresh.kid, one.fresh.kid, one.previous.kid]
    three = rotate_session_keys(two.keys, two.retired, now=DAY + 1, keep_for=DAY)  # the first retired a day ago
    assert [k.kid for k in parse_session_keys(three.keys)] == [three.fresh.kid, two.fresh.kid, one.fresh.kid]
    assert three.retired == {two.fresh.kid: DAY + 1, one.fresh.kid: 3600.0}


def test_a_key_of_unknown_age_is_kept_a_whole_lifetime_and_the_list_is_bounded():
    keys = ",".join(str(new_session_key()) for _ in range(3))
    rotation = rotate_session_keys(keys, {}, now=50.0, keep_for=DAY)  # written by a charm that kept no dates
    assert len(parse_session_keys(rotation.keys)) == 4 and set(rotation.retired.values()) == {50.0}
    for hour in range(40):
        rotation = rotate_session_keys(rotation.keys, rotation.retired, now=3600.0 * hour, keep_for=10 * DAY)
    assert len(parse_session_keys(rotation.keys)) == MAX_SESSION_KEYS


def test_keys_are_random_and_long():
    a, b = new_session_key(), new_session_key()
    assert a.secret != b.secret and len(a.secret) >= 64


@pytest.mark.parametrize("bad", ["", "nokey", "=x", "k1="])
def test_malformed_keys(bad):
    with pytest.raises(SessionKeysError):
        parse_session_keys(bad)
