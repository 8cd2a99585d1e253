"""allowed-emails and allowed-groups: the rules that read them, and who they let in.

The app-level tests drive the ASGI app against the small provider: a login, then the check.
"""

import asyncio
import logging

import pytest
from gatekeeper_fixtures import asgi, base_env, cookie_header, log_in, ready_app

from gatekeeper import rules
from gatekeeper.access import AccessPolicy, normal_address, verified_email
from gatekeeper.config import ConfigError, load_settings
from gatekeeper.cookies import SESSION_COOKIE

BROWSER = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate"}
API = {"accept": "application/json"}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "alice@example.com"),
        ("a.b+tag@sub.example.com", "a.b+tag@sub.example.com"),
        ("a@evil@example.com", None),
        ('"a@evil"@example.com', None),
        ("alice@example.com.", None),
        ("alice@.example.com", None),
        ("alice@example..com", None),
        ("@example.com", None),
        ("alice@", None),
        ("alice", None),
        (" alice@example.com", None),
        ("alice@example.com\n", None),
        ("\u212aarl@example.com", None),  # the Kelvin sign lower-cases to "k"
        ("alice@ex\u0430mple.com", None),  # a Cyrillic a
        ("ALİCE@example.com", None),  # a dotted capital I
        ("a..b@example.com", None),
        ("x" * 250 + "@e.com", None),
        (None, None),
        (42, None),
    ],
)
def test_only_plain_addresses_have_a_normal_form(value, expected):
    assert normal_address(value) == expected


def test_email_patterns_are_normalised_deduplicated_and_bad_ones_named_by_entry():
    assert rules.email_patterns(" Alice@Example.com, *@Research.Example.com ,alice@example.com,") == (
        "alice@example.com",
        "*@research.example.com",
    )
    assert rules.email_patterns("") == ()
    for bad, index in (("a@x.com,a@evil@corp.com", 2), ("*@", 1), ("*", 1), ("x@y.com,*@*.corp.com", 2)):
        with pytest.raises(rules.InvalidValue) as info:
            rules.email_patterns(bad)
        assert f"entry {index} " in info.value.problem


def test_group_names_split_on_commas_or_on_lines_when_there_are_any():
    assert rules.group_names("admins, ml ,,admins") == ("admins", "ml")
    assert rules.group_names("cn=admins,ou=groups,dc=corp\ncn=ml,ou=groups,dc=corp\n") == (
        "cn=admins,ou=groups,dc=corp",
        "cn=ml,ou=groups,dc=corp",
    )
    assert rules.group_names("cn=admins,dc=corp\n") == ("cn=admins,dc=corp",)
    with pytest.raises(rules.InvalidValue) as info:
        rules.group_names("ok,bad\x00group")
    assert "entry 2 " in info.value.problem


def test_a_bad_variable_stops_the_gatekeeper_naming_it():
    with pytest.raises(ConfigError) as info:
        load_settings(base_env(GATEKEEPER_ALLOWED_EMAILS="a@evil@corp.com"))
    assert info.value.variable == "GATEKEEPER_ALLOWED_EMAILS" and "entry 1" in info.value.problem


POLICY = AccessPolicy.of(
    rules.email_patterns("boss@corp.com,kate@corp.com,*@research.corp.com"), rules.group_names("admins\ncn=x,dc=y\n")
)


@pytest.mark.parametrize(
    "email, groups, allowed",
    [
        ("boss@corp.com", (), True),
        ("BOSS@Corp.com", (), True),
        ("anyone@research.corp.com", (), True),
        ("anyone@Research.Corp.Com", (), True),
        ("other@corp.com", (), False),
        ("boss@corp.com.evil.com", (), False),
        ("boss@evilcorp.com", (), False),
        ("x@sub.research.corp.com", (), False),
        ("x@evil-research.corp.com", (), False),
        ("boss@evil@corp.com", (), False),
        ("x@evil.com@research.corp.com", (), False),
        ("KATE@corp.com", (), True),
        ("\u212aate@corp.com", (), False),
        ("", (), False),
        ("nobody@else.com", ("ml", "admins"), True),
        ("nobody@else.com", ("Admins",), False),
        ("nobody@else.com", ("cn=x,dc=y",), True),
        ("nobody@else.com", ("cn=x",), False),
    ],
)
def test_who_the_lists_let_in(email, groups, allowed):
    assert POLICY.allows(email, groups) is allowed


def test_with_no_list_everyone_signed_in_passes_and_a_groups_only_list_ignores_addresses():
    assert AccessPolicy().allows("", ()) and not AccessPolicy().restricted
    only_groups = AccessPolicy.of((), ("admins",))
    assert not only_groups.allows("boss@corp.com", ("ml",)) and only_groups.allows("", ("admins",))


def test_an_address_the_provider_marks_unverified_is_not_one():
    assert verified_email({"email": "a@b.com", "email_verified": True}) == "a@b.com"
    assert verified_email({"email": "a@b.com"}) == "a@b.com"
    assert verified_email({"email": "a@b.com", "email_verified": False}) == ""
    assert verified_email({"email": ["a@b.com"]}) == ""


# -- through the app -------------------------------------------------------------------------
def run(dex, scenario, **env):
    async def main():
        app = await ready_app(dex, **env)
        try:
            return await scenario(app)
        finally:
            await app.provider.aclose()

    return asyncio.run(main())


def _session(reply) -> str:
    assert reply.status == 302, reply.text
    return cookie_header({SESSION_COOKIE: reply.set_cookies()[SESSION_COOKIE]})


def test_a_signed_in_user_outside_the_lists_gets_a_page_naming_them_and_a_sign_out(dex, caplog):
    async def scenario(app):
        cookie = _session(await log_in(app, dex, email="jane@example.com", groups=["ml"]))
        with caplog.at_level(logging.INFO, logger="gatekeeper.check"):
            for _ in range(2):  # the second answer comes from the cached verdict
                page = await asgi(app, "GET", "/authservice/check/pipeline/", {**BROWSER, "cookie": cookie})
                assert page.status == 403 and page.header("content-type").startswith("text/html")
                assert (
                    "jane@example.com" in page.text and "https://kubeflow.example.com/authservice/logout" in page.text
                )
                api = await asgi(app, "GET", "/authservice/check/api/v1/runs", {**API, "cookie": cookie})
                assert api.status == 403
                assert api.json() == {
                    "error": "forbidden",
                    "reason": "signed in, but not as a user or group allowed here",
                    "user": "jane@example.com",
                    "logout": "https://kubeflow.example.com/authservice/logout",
                }
        refusals = [r for r in caplog.records if getattr(r, "event", None) == "forbidden"]
        assert len(refusals) == 4 and all(r.user == "jane@example.com" for r in refusals)
        assert app.metrics.checks["forbidden"] == 4
        out = await asgi(app, "GET", "/authservice/logout", {**BROWSER, "cookie": cookie})
        assert out.status == 302 and SESSION_COOKIE in out.expired_cookies()

    run(dex, scenario, GATEKEEPER_ALLOWED_EMAILS="*@corp.com", GATEKEEPER_ALLOWED_GROUPS="admins")


def test_an_allowed_address_or_group_passes_and_skip_auth_paths_stay_open(dex):
    async def scenario(app):
        by_address = _session(await log_in(app, dex, email="Jane@CORP.com", groups=[]))
        by_group = _session(await log_in(app, dex, email="x@else.com", groups=["admins"]))
        refused = _session(await log_in(app, dex, email="x@else.com", groups=["ml"]))
        for cookie in (by_address, by_group):
            ok = await asgi(app, "GET", "/authservice/check/pipeline/", {**API, "cookie": cookie})
            assert ok.status == 200, ok.text
        assert ok.header("kubeflow-userid") == "x@else.com"
        public = await asgi(app, "GET", "/authservice/check/public/x", {**API, "cookie": refused})
        assert public.status == 200 and public.header("kubeflow-userid") in (None, "")
        denied = await asgi(app, "GET", "/authservice/check/pipeline/", {**API, "cookie": refused})
        assert denied.status == 403

    run(
        dex,
        scenario,
        GATEKEEPER_ALLOWED_EMAILS="jane@corp.com",
        GATEKEEPER_ALLOWED_GROUPS="admins",
        GATEKEEPER_SKIP_AUTH_PATHS="/public",
    )


def test_bearer_id_tokens_are_judged_alike_and_an_unverified_address_does_not_count(dex):
    async def scenario(app):
        allowed = dex.id_token(email="jane@corp.com", groups=[])
        unverified = dex.id_token(email="jane@corp.com", email_verified=False, groups=[])
        ok = await asgi(app, "GET", "/authservice/check/x", {"authorization": f"Bearer {allowed}"})
        assert ok.status == 200
        no = await asgi(app, "GET", "/authservice/check/x", {"authorization": f"Bearer {unverified}"})
        assert no.status == 403 and no.json()["user"] == "jane@corp.com"

    run(dex, scenario, GATEKEEPER_ALLOWED_EMAILS="*@corp.com")


def test_an_unverified_address_is_left_out_of_the_session(dex):
    async def scenario(app):
        cookie = _session(await log_in(app, dex, email="jane@corp.com", email_verified=False, groups=[]))
        denied = await asgi(app, "GET", "/authservice/check/x", {**API, "cookie": cookie})
        assert denied.status == 403

    run(dex, scenario, GATEKEEPER_ALLOWED_EMAILS="*@corp.com")
