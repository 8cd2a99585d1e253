"""Token bookkeeping: reading expiry from ID tokens, freshness, cache entry validation."""

from __future__ import annotations

import base64
import json

import pytest

from dex_auth_login.tokens import TokenSet, jwt_claims, jwt_expiry, token_set_from_response


def fake_jwt(claims: object) -> str:
    """An unsigned JWT-shaped string: the tool reads claims only, never trusts them."""

    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'k'})}.{part(claims)}.c2ln"


def test_expiry_is_read_from_the_exp_claim() -> None:
    assert jwt_expiry(fake_jwt({"exp": 1_900_000_000, "sub": "x"})) == 1_900_000_000.0
    assert jwt_claims(fake_jwt({"email": "a@b.c", "exp": 5}))["email"] == "a@b.c"


@pytest.mark.parametrize(
    "token, problem",
    [
        ("abc", "three dot-separated parts"),
        ("a.!!!.c", "base64url"),
        (fake_jwt([1, 2]), "not a JSON object"),
        (fake_jwt({"sub": "x"}), "no numeric exp"),
        (fake_jwt({"exp": "tomorrow"}), "no numeric exp"),
        (fake_jwt({"exp": True}), "no numeric exp"),
    ],
)
def test_malformed_tokens_are_named(token: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        jwt_expiry(token)


def test_freshness_keeps_a_margin() -> None:
    tokens = TokenSet("t", expires_at=1000.0)
    assert tokens.is_fresh(min_validity=60, now=900)
    assert not tokens.is_fresh(min_validity=60, now=941)
    assert not tokens.is_fresh(min_validity=0, now=1001)


def test_cache_entries_round_trip_and_bad_entries_are_ignored() -> None:
    tokens = TokenSet("id", 12.5, "refresh", "user@example.com")
    assert TokenSet.from_json(json.loads(json.dumps(tokens.to_json()))) == tokens
    for bad in (
        None,
        [],
        {"id_token": 1, "expires_at": 3},
        {"id_token": "x"},
        {"id_token": "x", "expires_at": True},
        {"id_token": "x", "expires_at": 1, "refresh_token": 7},
        {"id_token": "x", "expires_at": 1, "username": ["u"]},
    ):
        assert TokenSet.from_json(bad) is None


def test_a_rotated_refresh_token_replaces_the_old_one_and_a_missing_one_keeps_it() -> None:
    token = fake_jwt({"exp": 2000})
    rotated = token_set_from_response({"id_token": token, "refresh_token": "new"}, previous_refresh_token="old")
    kept = token_set_from_response({"id_token": token}, previous_refresh_token="old")
    assert (rotated.refresh_token, kept.refresh_token, kept.expires_at) == ("new", "old", 2000.0)


def test_a_response_without_an_id_token_is_refused() -> None:
    with pytest.raises(ValueError, match="openid"):
        token_set_from_response({"access_token": "opaque"})
