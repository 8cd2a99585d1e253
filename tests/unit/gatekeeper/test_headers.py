import pytest
from gatekeeper_fixtures import make_settings

from gatekeeper.errors import UnsafeIdentityError
from gatekeeper.headers import IdentityHeaders, usable_groups


def test_identity_headers_always_both_present():
    identity = IdentityHeaders(make_settings(GATEKEEPER_USERID_PREFIX="oidc:"))
    assert identity.empty == [(b"kubeflow-userid", b""), (b"kubeflow-groups", b"")]
    assert identity.for_user("jane@example.com", ()) == [
        (b"kubeflow-userid", b"oidc:jane@example.com"),
        (b"kubeflow-groups", b""),
    ]
    assert identity.for_user("j", ("a", "b"))[1] == (b"kubeflow-groups", b"a,b")


def test_configured_header_names_are_lowercased():
    identity = IdentityHeaders(
        make_settings(GATEKEEPER_USERID_HEADER="X-Auth-User", GATEKEEPER_GROUPS_HEADER="X-Auth-Groups")
    )
    assert [name for name, _ in identity.empty] == [b"x-auth-user", b"x-auth-groups"]


@pytest.mark.parametrize("user", ["", "a\r\nSet-Cookie: x=1", "a\x00", "x" * 2000])
def test_unsafe_user_ids_are_refused(user):
    with pytest.raises(UnsafeIdentityError):
        IdentityHeaders(make_settings()).for_user(user, ())


def test_groups_that_would_split_or_inject_are_dropped():
    assert usable_groups(["ok", "a,b", "c\nd", 7, "", "fine"]) == ("ok", "fine")
    assert usable_groups("admins") == ()
    assert usable_groups(None) == ()


@pytest.mark.parametrize(
    "name, expected",
    [
        (b"kubeflow_userid", True),
        (b"kubeflow_groups", True),
        (b"kubeflow-userid", False),  # the exact name is overwritten by the gateway
        (b"kubeflow__userid", False),
        (b"x_forwarded_for", False),
        (b"kubeflow_user_id", False),
    ],
)
def test_lookalike_names(name, expected):
    assert IdentityHeaders(make_settings()).lookalike(name) is expected


@pytest.mark.parametrize(
    "userid, groups, expected",
    [
        ("kubeflow-userid", "kubeflow-groups", ("kubeflow_userid", "kubeflow_groups")),
        ("x-auth-user", "groups", ("x_auth-user", "x-auth_user", "x_auth_user")),
        ("x_user", "x-groups", ("x_groups",)),  # a name with "_" has no look-alike: "_" reads as "-"
        ("x-auth-request-user-id", "g", None),  # too many spellings to ask for one by one
    ],
)
def test_lookalike_names_are_every_spelling_lookalike_refuses(userid, groups, expected):
    identity = IdentityHeaders(make_settings(GATEKEEPER_USERID_HEADER=userid, GATEKEEPER_GROUPS_HEADER=groups))
    names = identity.lookalike_names
    assert (names is None, set(names or ())) == (expected is None, set(expected or ()))
    for name in expected or ():
        assert identity.lookalike(name.encode())
        assert identity.first_lookalike(["host", "x_forwarded_for", name]) == name
