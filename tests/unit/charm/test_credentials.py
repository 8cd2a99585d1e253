"""Session-key rotation keeps the previous key so nobody is logged out."""

import pytest

from credentials import SessionKeysError, new_session_key, parse_session_keys, rotate_session_keys


def test_rotation_puts_the_new_key_first_and_keeps_one_previous():
    first = str(new_session_key())
    second, fresh, previous = rotate_session_keys(first)
    assert [k.kid for k in parse_session_keys(second)] == [fresh.kid, previous.kid]
    assert str(previous) == first
    third, newest, _ = rotate_session_keys(second)
    assert [k.kid for k in parse_session_keys(third)] == [newest.kid, fresh.kid]


def test_keys_are_random_and_long():
    a, b = new_session_key(), new_session_key()
    assert a.secret != b.secret and len(a.secret) >= 64


@pytest.mark.parametrize("bad", ["", "nokey", "=x", "k1="])
def test_malformed_keys(bad):
    with pytest.raises(SessionKeysError):
        parse_session_keys(bad)
