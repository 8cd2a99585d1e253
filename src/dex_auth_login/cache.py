"""The token cache: one JSON file readable by its owner only, shared by every deployment.

Entries are keyed by issuer and client. A lock file serialises refreshes, because Dex's refresh
tokens are single-use: two processes redeeming the same one would log each other out.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import CacheError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, the cache still works for one process.
    fcntl = None  # type: ignore[assignment]

FORMAT_VERSION = 1


def default_cache_path() -> Path:
    """`$XDG_CACHE_HOME/dex-auth/tokens.json`, by default `~/.cache/dex-auth/tokens.json`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dex-auth" / "tokens.json"


def cache_key(issuer: str, client_id: str) -> str:
    return f"{issuer.rstrip('/')} {client_id}"


class TokenCache:
    """Read and write entries of the cache file, atomically and with owner-only modes."""

    def __init__(self, path: Path | str | None = None, *, lock_timeout: float = 30.0) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.lock_timeout = lock_timeout

    def _read_all(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return {}
        except OSError as exc:
            raise CacheError(f"cannot read the token cache {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            return {}  # a damaged cache only costs a new login
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def _prepare_dir(self) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if directory.stat().st_mode & 0o077:
                directory.chmod(0o700)
        except OSError as exc:
            raise CacheError(f"cannot create the token cache folder {directory}: {exc.strerror}") from None

    def _write_all(self, entries: dict[str, Any]) -> None:
        self._prepare_dir()
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        payload = json.dumps({"version": FORMAT_VERSION, "entries": entries}, indent=1, sort_keys=True)
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise CacheError(f"cannot write the token cache {self.path}: {exc.strerror}") from None

    def get(self, key: str) -> Any:
        return self._read_all().get(key)

    def put(self, key: str, entry: Any) -> None:
        entries = self._read_all()
        entries[key] = entry
        self._write_all(entries)

    def remove(self, key: str) -> bool:
        """Forget one entry; True when there was one."""
        entries = self._read_all()
        if key not in entries:
            return False
        del entries[key]
        self._write_all(entries)
        return True

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cache's lock file (bounded wait) around a read-refresh-write sequence."""
        if fcntl is None:
            yield
            return
        self._prepare_dir()
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CacheError(f"cannot open the lock file {lock_path}: {exc.strerror}") from None
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise CacheError(
                            f"another dex-auth-login has held {lock_path} for {self.lock_timeout:g} s"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
