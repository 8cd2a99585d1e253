"""Logged-out tokens, refused until they would have expired anyway, in every worker.

With a file (GATEKEEPER_REVOCATIONS_FILE), every logout is appended to it and each worker re-reads
it on `sync` (every 15 s, see app.MAINTENANCE_INTERVAL), so a logout holds across the workers of a
unit and across restarts; without one, a logout holds in the worker that served it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

log = logging.getLogger("gatekeeper.revocations")


class Revocations:
    """Revoked token ids, each kept until the token's own expiry.

    With a file, every logout is appended to it and each process re-reads it on `sync`, so a
    logout holds across the workers of a unit and across gatekeeper restarts (a config change
    restarts the service). Only revocation keys are written: a random `jti` or a hash of a
    token's signed part, never a token. An flock serialises the writers.
    """

    def __init__(self, limit: int = 200_000, path: str = "") -> None:
        self._expiry: dict[str, float] = {}
        self.keys = self._expiry.keys()  # a live view, for membership tests on the hot path
        self.limit = limit
        self.path = path

    def __contains__(self, key: str) -> bool:
        return key in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def revoke(self, key: str, expires_at: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if expires_at <= now:
            return
        self._remember(key, expires_at, now)
        if self.path:
            try:
                with _locked(self.path) as file:
                    file.seek(0, os.SEEK_END)
                    file.write(f"{int(expires_at)} {key}\n")
            except OSError as exc:
                log.warning(
                    "revocation kept in memory only: %s", exc.strerror, extra={"event": "revocations_file_error"}
                )

    def _remember(self, key: str, expires_at: float, now: float) -> None:
        if key in self._expiry:
            return
        if len(self._expiry) >= self.limit:
            self.purge(now)
            while len(self._expiry) >= self.limit:  # keep the ones that stay dangerous longest
                self._expiry.pop(min(self._expiry, key=self._expiry.__getitem__))
        self._expiry[key] = expires_at

    def purge(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for key in [k for k, exp in self._expiry.items() if exp <= now]:
            del self._expiry[key]

    def sync(self, now: float | None = None) -> None:
        """Forget what expired; take in other processes' logouts; drop expired lines from the file."""
        now = time.time() if now is None else now
        self.purge(now)
        if not self.path:
            return
        try:
            with _locked(self.path) as file:
                file.seek(0)
                live = []
                for line in file.read().splitlines():
                    exp, _, key = line.partition(" ")
                    if exp.isdigit() and key and int(exp) > now:
                        live.append(line)
                        self._remember(key, int(exp), now)
                file.seek(0)
                file.truncate()
                file.write("".join(f"{line}\n" for line in live))
        except OSError as exc:
            log.warning("cannot read the revocations file: %s", exc.strerror, extra={"event": "revocations_file_error"})


@contextmanager
def _locked(path: str) -> Iterator[TextIO]:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+", encoding="ascii", errors="replace") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield file
