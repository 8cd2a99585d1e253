"""The token cache's refresh lock against another process holding it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dex_auth_login.cache import TokenCache
from dex_auth_login.errors import CacheError


def test_the_lock_excludes_another_process_and_gives_up_after_its_timeout(cache_file: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(Path(__file__).resolve().parents[3] / "src")!r})
            from dex_auth_login.cache import TokenCache
            with TokenCache({str(cache_file)!r}).locked():
                print("locked", flush=True)
                time.sleep(2)
            time.sleep(5)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        locked_at = started = time.monotonic()
        with (
            pytest.raises(CacheError, match="another dex-auth-login"),
            TokenCache(cache_file, lock_timeout=0.3).locked(),
        ):
            pass
        assert 0.25 < time.monotonic() - started < 2
        with TokenCache(cache_file, lock_timeout=10).locked():
            waited = time.monotonic() - locked_at
        assert 1.5 < waited < 4  # acquired once the holder let go, not before
    finally:
        holder.kill()
        holder.wait()
