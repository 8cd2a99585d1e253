"""Logged-out tokens and revoked users, refused until they would have expired anyway, in every worker.

With a file (GATEKEEPER_REVOCATIONS_FILE), every logout is appended to it and each worker re-reads
it on `sync` (every 15 s, see app.MAINTENANCE_INTERVAL), so a logout holds across the workers of a
unit and across restarts; without one, a logout holds in the worker that served it. With Redis
(revocation_store.py) every worker of every unit also follows the shared store, and what it
learns from there is written to the file too, so a restart while Redis is away forgets nothing.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from gatekeeper import rules

log = logging.getLogger("gatekeeper.revocations")

# A user's "not before" is kept as long as any credential can live: the longest session lifetime.
USER_REVOCATION_KEPT = rules.MAX_LIFETIME
_USER_LINE = "user"


class Revocations:
    """Revoked token ids, each kept until the token's own expiry, and per-user "not before" times.

    With a file, every change is appended to it and each process re-reads it on `sync`, so it
    holds across the workers of a unit and across gatekeeper restarts (a config change restarts
    the service). Only revocation keys and user ids are written: a random `jti` or a hash of a
    token's signed part, never a token. An flock serialises the writers. `on_change` is called
    with every new entry, whoever made it (this worker, the file, the shared store).
    """

    def __init__(self, limit: int = 200_000, path: str = "") -> None:
        self._expiry: dict[str, float] = {}
        self.keys = self._expiry.keys()  # a live view, for membership tests on the hot path
        self.not_before: dict[str, float] = {}
        self.limit = limit
        self.path = path
        self.on_change: Callable[[Revoked], None] | None = None

    def __contains__(self, key: str) -> bool:
        return key in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def items(self) -> list[tuple[str, float]]:
        return list(self._expiry.items())

    def refuses(self, user: str, issued_at: float) -> bool:
        """A credential of `user` issued at or before the second of a revoke-user is refused."""
        return issued_at <= self.not_before.get(user, -1.0)

    def revoke(self, key: str, expires_at: float, now: float | None = None) -> bool:
        """Refuse `key` until `expires_at`; False when it was known already (or has expired)."""
        now = time.time() if now is None else now
        if expires_at <= now or not self._remember(key, expires_at, now):
            return False
        self._append(f"{int(expires_at)} {key}\n")
        return True

    def revoke_user(self, user: str, not_before: float, now: float | None = None) -> bool:
        """Refuse what `user` was issued up to `not_before`; False when an equal or later one was known."""
        now = time.time() if now is None else now
        if not_before <= now - USER_REVOCATION_KEPT or not self._remember_user(user, int(not_before)):
            return False
        self._append(f"{_USER_LINE} {int(not_before)} {json.dumps(user)}\n")
        return True

    def _remember(self, key: str, expires_at: float, now: float) -> bool:
        if key in self._expiry:
            return False
        if len(self._expiry) >= self.limit:
            self.purge(now)
            while len(self._expiry) >= self.limit:  # keep the ones that stay dangerous longest
                self._expiry.pop(min(self._expiry, key=self._expiry.__getitem__))
        self._expiry[key] = expires_at
        if self.on_change is not None:
            self.on_change(Revoked(key, expires_at))
        return True

    def _remember_user(self, user: str, not_before: int) -> bool:
        if self.not_before.get(user, -1.0) >= not_before:
            return False
        self.not_before[user] = not_before
        if self.on_change is not None:
            self.on_change(Revoked("", not_before, user))
        return True

    def _append(self, line: str) -> None:
        if not self.path:
            return
        try:
            with _locked(self.path) as file:
                file.seek(0, os.SEEK_END)
                file.write(line)
        except OSError as exc:
            log.warning("revocation kept in memory only: %s", exc.strerror, extra={"event": "revocations_file_error"})

    def purge(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for key in [k for k, exp in self._expiry.items() if exp <= now]:
            del self._expiry[key]
        for user in [u for u, nb in self.not_before.items() if nb <= now - USER_REVOCATION_KEPT]:
            del self.not_before[user]

    def sync(self, now: float | None = None) -> None:
        """Forget what expired; take in other processes' entries; drop expired and repeated lines."""
        now = time.time() if now is None else now
        self.purge(now)
        if not self.path:
            return
        try:
            with _locked(self.path) as file:
                file.seek(0)
                live = dict.fromkeys(line for line in file.read().splitlines() if self._take_line(line, now))
                file.seek(0)
                file.truncate()
                file.write("".join(f"{line}\n" for line in live))
        except OSError as exc:
            log.warning("cannot read the revocations file: %s", exc.strerror, extra={"event": "revocations_file_error"})

    def _take_line(self, line: str, now: float) -> bool:
        """Remember what a live line says; False for an expired or garbled one."""
        first, _, rest = line.partition(" ")
        if first.isdigit() and rest and int(first) > now:
            self._remember(rest, int(first), now)
            return True
        if first == _USER_LINE:
            when, _, user = rest.partition(" ")
            try:
                name = json.loads(user)
            except ValueError:
                return False
            if when.isdigit() and isinstance(name, str) and int(when) > now - USER_REVOCATION_KEPT:
                self._remember_user(name, int(when))
                return True
        return False


class Revoked:
    """One new entry: a token's revocation key and expiry, or (key "") a user's "not before"."""

    __slots__ = ("key", "until", "user")

    def __init__(self, key: str, until: float, user: str = "") -> None:
        self.key, self.until, self.user = key, until, user


@contextmanager
def _locked(path: str) -> Iterator[TextIO]:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+", encoding="ascii", errors="replace") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield file
