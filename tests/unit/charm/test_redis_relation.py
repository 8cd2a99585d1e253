"""Reading redis-k8s's relation data: the primary's host, the port, and a password when given."""

from __future__ import annotations

import pytest

from redis_relation import RedisAddress, RedisRelationError, address_from

UNITS = [{"hostname": "10.1.2.3", "port": "6379"}, {"hostname": "10.1.2.4", "port": "6379"}]


def test_leader_host_in_the_app_data_is_where_writes_go() -> None:
    address = address_from({"leader-host": "redis-k8s-1.redis-k8s-endpoints"}, UNITS)
    assert address == RedisAddress("redis-k8s-1.redis-k8s-endpoints", 6379)
    assert address.url == "redis://redis-k8s-1.redis-k8s-endpoints:6379"


def test_nothing_published_yet_is_no_address() -> None:
    assert address_from({}, []) is None
    assert address_from({"leader-host": "redis-k8s-0"}, [{}, {"hostname": "10.1.2.3"}]) is None


def test_an_ipv6_host_is_bracketed_and_a_password_escaped() -> None:
    address = address_from({}, [{"hostname": "fd00::5", "port": "6380", "password": "a@b:c/d#e"}])
    assert address is not None and address.url == "redis://:a%40b%3Ac%2Fd%23e@[fd00::5]:6380"


@pytest.mark.parametrize(
    ("unit", "problem"),
    [
        ({"hostname": "10.1.2.3", "port": "0"}, "is not a port number"),
        ({"hostname": "10.1.2.3", "port": "70000"}, "is not a port number"),
        ({"hostname": "a b", "port": "6379"}, "neither an IP address nor a host name"),
        ({"hostname": "host@evil", "port": "6379"}, "neither an IP address nor a host name"),
    ],
)
def test_unusable_data_is_refused_without_its_password(unit: dict[str, str], problem: str) -> None:
    with pytest.raises(RedisRelationError, match=problem) as refused:
        address_from({}, [{**unit, "password": "s3cret-value"}])
    assert "s3cret-value" not in str(refused.value)
