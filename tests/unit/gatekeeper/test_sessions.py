import base64
import json
import time

import jwt
import pytest

from gatekeeper.config import SessionKey
from gatekeeper.errors import TokenError
from gatekeeper.jwts import SESSION_ISSUER, Signer
from gatekeeper.revocations import Revocations
from gatekeeper.sessions import SESSION_AUDIENCE, SessionCodec

OLD = SessionKey("old", b"o" * 40)
NEW = SessionKey("new", b"n" * 40)


def test_issue_and_verify_round_trip():
    codec = SessionCodec((NEW,), 3600)
    token, session = codec.issue(user="jane@example.com", groups=("a", "b"), sub="sub-1")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "kid": "new", "typ": "JWT"}
    claims = jwt.decode(token, NEW.secret, algorithms=["HS256"], audience=SESSION_AUDIENCE)
    assert claims["iss"] == SESSION_ISSUER and claims["uid"] == "jane@example.com"
    assert claims["groups"] == ["a", "b"] and claims["sub"] == "sub-1"
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"] == session.jti
    assert codec.verify(token) == session


def test_rotation_old_tokens_still_verify_new_ones_use_new_key():
    old_token, _ = SessionCodec((OLD,), 3600).issue(user="u", groups=(), sub="s")
    rotated = SessionCodec((NEW, OLD), 3600)
    assert rotated.verify(old_token).user == "u"
    new_token, _ = rotated.issue(user="u", groups=(), sub="s")
    assert jwt.get_unverified_header(new_token)["kid"] == "new"
    with pytest.raises(TokenError) as info:
        SessionCodec((NEW,), 3600).verify(old_token)  # old key retired
    assert info.value.reason == "unknown_key"


def test_expired_session_is_refused():
    codec = SessionCodec((NEW,), 60)
    token, _ = codec.issue(user="u", groups=(), sub="s", now=time.time() - 120)
    with pytest.raises(TokenError) as info:
        codec.verify(token)
    assert info.value.reason == "expired"


def _forge(payload, key=b"", alg="HS256", kid="new"):
    return (
        jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})
        if alg != "none"
        else jwt.encode(payload, None, algorithm="none", headers={"kid": kid})
    )


def _payload(**over):
    now = int(time.time())
    p = {
        "iss": SESSION_ISSUER,
        "aud": SESSION_AUDIENCE,
        "sub": "s",
        "uid": "evil",
        "groups": [],
        "iat": now,
        "exp": now + 60,
        "jti": "j",
    }
    p.update(over)
    return p


@pytest.mark.parametrize(
    "token, reason",
    [
        (_forge(_payload(), alg="none"), "bad_algorithm"),
        (_forge(_payload(), b"x" * 40), "bad_signature"),
        (_forge(_payload(), NEW.secret, kid="nope"), "unknown_key"),
        (_forge(_payload(aud="dex-auth-login-state"), NEW.secret), "bad_audience"),
        (_forge(_payload(iss="someone-else"), NEW.secret), "bad_issuer"),
        (_forge({k: v for k, v in _payload().items() if k != "jti"}, NEW.secret), "invalid"),
        (_forge(_payload(uid=""), NEW.secret), "invalid"),
        (_forge(_payload(groups="admins"), NEW.secret), "invalid"),
        ("not-a-jwt", "malformed"),
        ("a.b.c", "malformed"),
        ("", "malformed"),
        ("x" * 10_000, "malformed"),
    ],
)
def test_forged_or_broken_tokens_are_refused(token, reason):
    with pytest.raises(TokenError) as info:
        SessionCodec((NEW,), 3600).verify(token)
    assert info.value.reason == reason


def test_kid_header_of_wrong_type_is_refused():
    good = jwt.encode(_payload(), NEW.secret, algorithm="HS256", headers={"kid": "new"})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": ["new"]}).encode()).rstrip(b"=").decode()
    token = header + "." + good.split(".", 1)[1]
    with pytest.raises(TokenError):
        SessionCodec((NEW,), 3600).verify(token)


def test_state_tokens_are_not_sessions():
    state = Signer((NEW,), "dex-auth-login-state").sign({"uid": "u", "jti": "j", "sub": "s", "iat": 1, "exp": 2**40})
    with pytest.raises(TokenError):
        SessionCodec((NEW,), 3600).verify(state)


def test_revocations_expire_with_the_token_and_are_bounded():
    revoked = Revocations(limit=3)
    revoked.revoke("a", expires_at=100, now=50)
    revoked.revoke("gone", expires_at=10, now=50)  # already expired: nothing to remember
    assert "a" in revoked and "gone" not in revoked
    revoked.purge(now=101)
    assert "a" not in revoked
    for i, exp in enumerate([200, 300, 400, 500]):
        revoked.revoke(f"k{i}", expires_at=exp, now=150)
    assert len(revoked) == 3 and "k0" not in revoked and "k3" in revoked


def test_revocations_file_carries_logouts_to_other_workers_and_restarts(tmp_path):
    path = str(tmp_path / "revocations")
    now = time.time()
    worker_a, worker_b = Revocations(path=path), Revocations(path=path)
    worker_a.revoke("jti-1", now + 600, now)
    assert "jti-1" in worker_a and "jti-1" not in worker_b
    worker_b.sync(now)
    assert "jti-1" in worker_b
    restarted = Revocations(path=path)
    restarted.sync(now)
    assert "jti-1" in restarted
    assert (tmp_path / "revocations").stat().st_mode & 0o777 == 0o600


def test_revocations_file_drops_expired_and_garbage_lines(tmp_path):
    path = tmp_path / "revocations"
    now = time.time()
    path.write_text(f"{int(now) - 5} old\nnot a line\n{int(now) + 60} live\n-3 negative\n")
    revoked = Revocations(path=str(path))
    revoked.sync(now)
    assert "live" in revoked and "old" not in revoked and len(revoked) == 1
    assert path.read_text() == f"{int(now) + 60} live\n"


def test_unwritable_revocations_file_keeps_the_revocation_in_memory(tmp_path, caplog):
    (tmp_path / "a-file").write_text("")
    revoked = Revocations(path=str(tmp_path / "a-file" / "revocations"))
    revoked.revoke("jti-2", time.time() + 60)
    revoked.sync()
    assert "jti-2" in revoked
    assert any(getattr(r, "event", "") == "revocations_file_error" for r in caplog.records)
