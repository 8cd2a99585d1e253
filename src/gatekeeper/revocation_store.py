"""The shared revocation store: every worker of every unit follows Redis; the check reads memory.

In Redis, under a prefix of the gatekeeper's client id (one dex-auth app per prefix):
- `<prefix>:revoked`, a sorted set: a revocation key (a session's random `jti`, or an ID
  token's fingerprint) scored by that credential's expiry, so expired entries are cut by score;
- `<prefix>:not-before`, a sorted set: a user id scored by its revoke-user time;
- `<prefix>:events`, a pub/sub channel: one JSON message per new entry.

Each (re)connection subscribes first, then reads both sets, so nothing published in between is
missed, and then writes what this worker holds that Redis lacks: logouts recorded while Redis was
away, or before a restart. Redis is never on a check's path: a logout updates memory (and the
file) at once, and is written to Redis right after, in the background. While Redis is away the
gatekeeper serves as before and says so (`/readyz`, `/readyz/store`, the metrics); the reason it
gives never holds the URL, the host or the password.
"""

from __future__ import annotations

import asyncio
import json
import logging
from time import time
from typing import Any

import redis.asyncio as redis
from redis import exceptions
from redis.backoff import NoBackoff
from redis.retry import Retry

from gatekeeper.revocations import USER_REVOCATION_KEPT, Revocations, Revoked

log = logging.getLogger("gatekeeper.revocation_store")

RETRY_SECONDS = 0.5  # how soon a lost connection is tried again: a logout waits at most this for Redis
HEALTH_CHECK_SECONDS = 5.0
CONNECT_TIMEOUT = 2.0
WRITE_CHUNK = 500


def reason_of(error: BaseException) -> str:
    """What went wrong, in words that hold no connection detail (redis-py's messages name the host)."""
    if isinstance(error, exceptions.AuthenticationError):
        text = str(error).lower()
        if "required" in text or "noauth" in text:
            return "Redis asks for a password the URL does not give"
        return "Redis refused the password"
    if isinstance(error, exceptions.NoPermissionError | exceptions.AuthorizationError):
        return "the Redis user may not run the commands the gatekeeper needs"
    if isinstance(error, exceptions.BusyLoadingError):
        return "Redis is loading its data"
    if isinstance(error, exceptions.TimeoutError | asyncio.TimeoutError):
        return "Redis did not answer in time"
    if isinstance(error, exceptions.ConnectionError | OSError):
        return "cannot connect to Redis, or the connection was lost"
    return f"Redis error ({type(error).__name__})"


class RevocationStore:
    """One worker's link to Redis: it keeps `revocations` current and shares what this worker adds."""

    def __init__(self, url: str, namespace: str, revocations: Revocations) -> None:
        self._url = url
        self.revoked_set, self.users_set, self.channel = (
            f"{namespace}:{n}" for n in ("revoked", "not-before", "events")
        )
        self.revocations = revocations
        self.connected = False
        self.problem = "not connected yet"
        self._pending: list[Revoked] = []
        self._client: Any = None
        self._wake = asyncio.Event()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def share(self, entry: Revoked) -> None:
        """Send an entry this worker made to every other worker, as soon as Redis takes it."""
        self._pending.append(entry)
        self._wake.set()

    async def run(self) -> None:
        """Connect, follow, reconnect, for the worker's life."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure of the link means: try again
                self._lost(error.exceptions[0] if isinstance(error, ExceptionGroup) else error)
            await asyncio.sleep(RETRY_SECONDS)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _follow(self) -> None:
        await self.aclose()
        self._client = client = redis.from_url(
            self._url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=HEALTH_CHECK_SECONDS,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(self.channel)
            await self._load(client)
            await self._write_missing(client)
            if not self.connected:
                log.info("revocation store connected", extra={"event": "revocation_store_up"})
            self.connected, self.problem = True, ""
            async with asyncio.TaskGroup() as group:  # either failing ends both: then reconnect
                group.create_task(self._listen(pubsub))
                group.create_task(self._send(client))

    async def _listen(self, pubsub: Any) -> None:
        while True:  # the timeout lets redis-py ping an idle connection, so a silent loss shows
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=HEALTH_CHECK_SECONDS)
            if message is not None:
                self._apply(message.get("data"))

    async def _send(self, client: Any) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush(client)

    def _lost(self, error: BaseException) -> None:
        reason = reason_of(error)
        if self.connected or reason != self.problem:
            log.warning(
                "revocation store unreachable: %s; logouts are kept here and sent when it is back",
                reason,
                extra={"event": "revocation_store_down"},
            )
        self.connected, self.problem = False, reason

    async def _load(self, client: Any) -> None:
        now = time()
        for key, until in await client.zrangebyscore(self.revoked_set, now, "+inf", withscores=True):
            self.revocations.revoke(key, until, now)
        oldest = now - USER_REVOCATION_KEPT
        for user, when in await client.zrangebyscore(self.users_set, oldest, "+inf", withscores=True):
            self.revocations.revoke_user(user, when, now)

    async def _write_missing(self, client: Any) -> None:
        """Everything this worker holds goes to Redis (NX keeps a revocation once; GT the later time):
        what was pending is in it, so pending is done once the whole write is."""
        waiting = len(self._pending)
        entries = [Revoked(k, u) for k, u in self.revocations.items()]
        entries += [Revoked("", nb, user) for user, nb in self.revocations.not_before.items()]
        for start in range(0, len(entries), WRITE_CHUNK):
            await self._write(client, entries[start : start + WRITE_CHUNK])
        del self._pending[:waiting]

    async def _flush(self, client: Any) -> None:
        while self._pending:
            chunk = self._pending[:WRITE_CHUNK]
            await self._write(client, chunk)
            del self._pending[: len(chunk)]

    async def _write(self, client: Any, chunk: list[Revoked]) -> None:
        """Add each entry, publish the ones Redis did not have, and cut what has expired."""
        now = time()
        async with client.pipeline(transaction=False) as pipe:
            for entry in chunk:
                if entry.user:
                    pipe.zadd(self.users_set, {entry.user: entry.until}, gt=True, ch=True)
                else:
                    pipe.zadd(self.revoked_set, {entry.key: entry.until}, nx=True)
            added = await pipe.execute()
            for entry, count in zip(chunk, added, strict=True):
                if count:
                    pipe.publish(self.channel, _message(entry))
            pipe.zremrangebyscore(self.revoked_set, "-inf", now)
            pipe.zremrangebyscore(self.users_set, "-inf", now - USER_REVOCATION_KEPT)
            await pipe.execute()

    def _apply(self, data: Any) -> None:
        """One message from another worker (or our own, already known: then nothing changes)."""
        try:
            message = json.loads(data)
            if "user" in message:
                self.revocations.revoke_user(str(message["user"]), float(message["notBefore"]))
            else:
                self.revocations.revoke(str(message["key"]), float(message["exp"]))
        except (TypeError, ValueError, KeyError):
            log.warning("a revocation message was not understood", extra={"event": "revocation_store_bad_message"})


def _message(entry: Revoked) -> str:
    if entry.user:
        return json.dumps({"user": entry.user, "notBefore": entry.until})
    return json.dumps({"key": entry.key, "exp": entry.until})
