"""The redis relation and the redis-url secret become the gatekeeper's GATEKEEPER_REDIS_URL.

The relation data is what redis-k8s publishes (src/redis_relation.py cites where): `leader-host`
in its app data, `hostname` and `port` in each unit's. Neither the URL nor its password may reach
a status or a log line.
"""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import quote

import pytest
from charm_state import context, gatekeeper_env, secret_by_label, state, with_config
from ops import pebble, testing

SECRET_ID = "secret:cs8redisabcdefghijkl"
PASSWORD = "p@ss/w0rd:with#marks"


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def redis_k8s(leader_host: str = "redis-k8s-0.redis-k8s-endpoints", **unit: str) -> testing.Relation:
    units = {0: {"hostname": "10.1.2.3", "port": "6379", **unit}, 1: {"hostname": "10.1.2.4", "port": "6379"}}
    app = {"leader-host": leader_host} if leader_host else {}
    return testing.Relation("redis", remote_app_name="redis-k8s", remote_app_data=app, remote_units_data=units)


def run(ctx: testing.Context, tmp_path, **kwargs) -> testing.State:
    return ctx.run(ctx.on.config_changed(), state(tmp_path, **kwargs))


def test_redis_k8s_on_the_relation_gives_the_primarys_address(ctx, tmp_path):
    out = run(ctx, tmp_path, relations=(redis_k8s(),))
    assert gatekeeper_env(out)["GATEKEEPER_REDIS_URL"] == "redis://redis-k8s-0.redis-k8s-endpoints:6379"
    assert out.unit_status == testing.ActiveStatus()


def test_without_leader_host_the_first_units_hostname_is_used(ctx, tmp_path):
    out = run(ctx, tmp_path, relations=(redis_k8s(leader_host=""),))
    assert gatekeeper_env(out)["GATEKEEPER_REDIS_URL"] == "redis://10.1.2.3:6379"


def test_a_password_on_the_relation_is_escaped_into_the_url_and_never_logged(ctx, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    out = run(ctx, tmp_path, relations=(redis_k8s(password=PASSWORD),))
    url = gatekeeper_env(out)["GATEKEEPER_REDIS_URL"]
    assert url == "redis://:p%40ss%2Fw0rd%3Awith%23marks@redis-k8s-0.redis-k8s-endpoints:6379"
    assert PASSWORD not in caplog.text and url not in caplog.text


def test_a_relation_changed_event_picks_the_address_up_and_broken_drops_it(ctx, tmp_path):
    empty = testing.Relation("redis", remote_app_name="redis-k8s", remote_units_data={0: {}})
    out = run(ctx, tmp_path, relations=(empty,))
    assert gatekeeper_env(out)["GATEKEEPER_REDIS_URL"] == ""
    assert out.unit_status == testing.ActiveStatus(
        "redis is related but has given no usable address; logouts are per unit"
    )
    published = dataclasses.replace(empty, remote_units_data={0: {"hostname": "10.1.2.3", "port": "6380"}})
    out = ctx.run(
        ctx.on.relation_changed(published, remote_unit=0),
        dataclasses.replace(
            out,
            relations={
                *(r for r in out.relations if r.endpoint != "redis"),
                published,
            },
        ),
    )
    assert gatekeeper_env(out)["GATEKEEPER_REDIS_URL"] == "redis://10.1.2.3:6380"
    out = ctx.run(ctx.on.relation_broken(published), out)
    assert gatekeeper_env(out)["GATEKEEPER_REDIS_URL"] == ""


@pytest.mark.parametrize(
    ("unit", "logged"),
    [
        ({"port": "63a79"}, "its port '63a79' is not a port number"),
        ({"hostname": "bad host/x"}, "is neither an IP address nor a host name"),
    ],
)
def test_unusable_relation_data_is_ignored_and_said(ctx, tmp_path, caplog, unit, logged):
    out = run(ctx, tmp_path, relations=(redis_k8s(leader_host="", **unit),))
    assert gatekeeper_env(out)["GATEKEEPER_REDIS_URL"] == ""
    assert "not using the related Redis" in caplog.text and logged in caplog.text
    assert "per unit" in out.unit_status.message


def managed(value: str = f"rediss://:{quote(PASSWORD, safe='')}@redis.example.net:6380/2") -> testing.Secret:
    return testing.Secret({"url": value}, id=SECRET_ID)


@pytest.mark.parametrize("reference", [SECRET_ID, f"{SECRET_ID}/url"])
def test_the_redis_url_secret_wins_over_the_relation(ctx, tmp_path, reference):
    secret = managed()
    out = run(ctx, tmp_path, config={"redis-url": reference}, relations=(redis_k8s(),), secrets=(secret,))
    assert gatekeeper_env(out)["GATEKEEPER_REDIS_URL"] == secret.tracked_content["url"]
    assert out.unit_status == testing.ActiveStatus()


def test_a_redis_url_given_in_plain_is_refused_without_showing_it(ctx, tmp_path):
    good = run(ctx, tmp_path, relations=(redis_k8s(),))
    plain = f"redis://:{PASSWORD}@redis.example.net:6379"
    out = ctx.run(ctx.on.config_changed(), with_config(good, redis_url=plain))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("config redis-url: must be a Juju secret reference")
    assert PASSWORD not in out.unit_status.message and "example.net" not in out.unit_status.message
    assert gatekeeper_env(out) == gatekeeper_env(good)  # the running gatekeeper keeps its config


def test_a_redis_url_secret_not_granted_is_blocked_with_the_grant_command(ctx, tmp_path):
    out = run(ctx, tmp_path, config={"redis-url": SECRET_ID})
    assert out.unit_status == testing.BlockedStatus(
        f"config redis-url: secret {SECRET_ID} is not found or not granted"
        f" (run: juju grant-secret {SECRET_ID} dex-auth)"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"http://:{PASSWORD}@redis.example.net", "must look like redis://"),
        ("redis://redis.example.net:6379/zero", "must name its database by number"),
    ],
)
def test_a_bad_url_in_the_secret_is_blocked_without_quoting_it(ctx, tmp_path, caplog, value, problem):
    out = run(ctx, tmp_path, config={"redis-url": SECRET_ID}, secrets=(managed(value),))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert (
        out.unit_status.message.startswith("config redis-url: the secret's value")
        and problem in out.unit_status.message
    )
    assert "example.net" not in out.unit_status.message and "example.net" not in caplog.text


def test_the_leader_makes_an_operations_token_for_the_gatekeeper(ctx, tmp_path):
    out = run(ctx, tmp_path)
    token = secret_by_label(out, "gatekeeper").latest_content["operations-token"]
    assert len(token) >= 32
    assert gatekeeper_env(out)["GATEKEEPER_OPERATIONS_TOKEN"] == token
    again = ctx.run(ctx.on.config_changed(), out)
    assert secret_by_label(again, "gatekeeper").latest_content["operations-token"] == token


def test_an_upgrade_adds_the_token_and_keeps_the_keys(ctx, tmp_path):
    """A gatekeeper secret from before revoke-user: same client secret and keys, a token added."""
    old = {"client-secret": "c" * 43, "session-keys": "k1=" + "s" * 64, "retired-keys": '{"k0": 1}'}
    secret = testing.Secret(old, label="gatekeeper", owner="app")
    out = ctx.run(ctx.on.upgrade_charm(), state(tmp_path, secrets=(secret,)))
    content = secret_by_label(out, "gatekeeper").latest_content
    assert {k: content[k] for k in old} == old and len(content["operations-token"]) >= 32
    assert gatekeeper_env(out)["GATEKEEPER_SESSION_KEYS"] == old["session-keys"]


def test_the_store_check_reports_without_a_level(ctx, tmp_path):
    for relations in ((), (redis_k8s(),)):
        out = run(ctx, tmp_path, relations=relations)
        check = out.get_container("gatekeeper").layers["gatekeeper"].checks["gatekeeper-store"]
        assert check.http == {"url": "http://localhost:8080/readyz/store"}
        assert check.level in (None, "", pebble.CheckLevel.UNSET)


def with_store_check(out: testing.State, status: pebble.CheckStatus) -> testing.State:
    container = out.get_container("gatekeeper")
    infos = {
        testing.CheckInfo("gatekeeper-ready", level=pebble.CheckLevel.READY, successes=5),
        testing.CheckInfo("gatekeeper-store", status=status, successes=0, failures=3),
    }
    dex = out.get_container("dex")
    dex_ready = testing.CheckInfo("dex-ready", level=pebble.CheckLevel.READY, successes=5)
    ready = dataclasses.replace(dex, check_infos=frozenset({dex_ready}))
    return dataclasses.replace(out, containers={ready, dataclasses.replace(container, check_infos=frozenset(infos))})


def test_a_redis_that_does_not_answer_leaves_the_unit_active_but_degraded(ctx, tmp_path):
    out = with_store_check(run(ctx, tmp_path, relations=(redis_k8s(),)), pebble.CheckStatus.DOWN)
    status = ctx.run(ctx.on.update_status(), out).unit_status
    assert status == testing.ActiveStatus("degraded: its check fails; logouts stay on this unit until Redis answers")
    healthy = with_store_check(out, pebble.CheckStatus.UP)
    assert ctx.run(ctx.on.update_status(), healthy).unit_status == testing.ActiveStatus()


def test_several_units_without_redis_are_warned_that_logouts_are_per_unit(ctx, tmp_path):
    alone = dataclasses.replace(state(tmp_path), planned_units=3)
    out = ctx.run(ctx.on.config_changed(), alone)
    assert out.unit_status == testing.ActiveStatus("logouts are per unit: relate to redis or set redis-url")
    related = dataclasses.replace(state(tmp_path, relations=(redis_k8s(),)), planned_units=3)
    assert ctx.run(ctx.on.config_changed(), related).unit_status == testing.ActiveStatus()
    one = dataclasses.replace(state(tmp_path), planned_units=1)
    assert ctx.run(ctx.on.config_changed(), one).unit_status == testing.ActiveStatus()
