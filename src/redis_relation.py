"""Where the related Redis is, read from the `redis` relation as Canonical's charms publish it.

redis-k8s (its src/charm.py and lib charms/redis_k8s/v0/redis.py, LIBPATCH 7, read at commit
e5cb646): every Redis unit puts its pod IP as `hostname` and its `port` in its unit data, and
the leader puts the current primary's host in the app data as `leader-host`, which is where
writes must go. On this legacy interface redis-k8s turns its password off (`enable-password`
false on relation-created); the older reactive charm gave one in the unit data as `password`,
so one is used when present. `address_from` is pure; `related_address` reads the relation.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import ops

from gatekeeper import rules

logger = logging.getLogger(__name__)

ENDPOINT = "redis"
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    password: str = ""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{host}:{self.port}"


class RedisRelationError(ValueError):
    """The related Redis published something unusable; the message never quotes a password."""


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        raise RedisRelationError(f"its host {value[:64]!r} is neither an IP address nor a host name")
    return value


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise RedisRelationError(f"its port {value[:16]!r} is not a port number")
    return int(value)


def address_from(app_data: Mapping[str, str], units_data: Sequence[Mapping[str, str]]) -> RedisAddress | None:
    """The primary's address, or None while the Redis units have not published one yet.

    Raises RedisRelationError when what they published cannot be an address.
    """
    published = [data for data in units_data if data.get("hostname") and data.get("port")]
    if not published:
        return None
    first = published[0]
    host = _host((app_data.get("leader-host") or first["hostname"]).strip())
    address = RedisAddress(host, _port(first["port"].strip()), first.get("password", ""))
    try:
        rules.redis_url(address.url)
    except rules.InvalidValue as err:
        raise RedisRelationError(f"its address {err.problem}") from None
    return address


def related_address(model: ops.Model) -> RedisAddress | None:
    """What the `redis` relation gives now: None when not related, not published or unusable."""
    relation = model.get_relation(ENDPOINT)
    if relation is None:
        return None
    app_data = relation.data[relation.app] if relation.app is not None else {}
    units = sorted(relation.units, key=lambda unit: unit.name)
    try:
        return address_from(app_data, [relation.data[unit] for unit in units])
    except RedisRelationError as err:
        logger.warning("not using the related Redis: %s", err)
        return None
