"""The token cache file: owner-only modes, atomic writes, damaged files, the refresh lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dex_auth_login.cache import TokenCache, cache_key, default_cache_path
from dex_auth_login.errors import CacheError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_is_0600_and_folder_0700_even_with_a_permissive_umask(cache_file: Path) -> None:
    old = os.umask(0)
    try:
        TokenCache(cache_file).put("k", {"id_token": "x"})
    finally:
        os.umask(old)
    assert mode(cache_file) == 0o600
    assert mode(cache_file.parent) == 0o700
    assert [p.name for p in cache_file.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_an_existing_open_folder_and_file_are_tightened(cache_file: Path) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.parent.chmod(0o755)
    cache_file.write_text("{}")
    cache_file.chmod(0o644)
    TokenCache(cache_file).put("k", 1)
    assert (mode(cache_file.parent), mode(cache_file)) == (0o700, 0o600)


def test_entries_are_kept_per_key_and_removed_one_by_one(cache_file: Path) -> None:
    cache = TokenCache(cache_file)
    a, b = (
        cache_key("https://a.example.com/dex/", "dex-auth-cli"),
        cache_key("https://b.example.com/dex", "dex-auth-cli"),
    )
    assert a == "https://a.example.com/dex dex-auth-cli"
    cache.put(a, {"n": 1})
    cache.put(b, {"n": 2})
    assert (cache.get(a), cache.get(b)) == ({"n": 1}, {"n": 2})
    assert cache.remove(a) is True and cache.remove(a) is False
    assert (cache.get(a), cache.get(b)) == (None, {"n": 2})


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"version": 99, "entries": {"k": 1}}', '{"version": 1, "entries": []}']
)
def test_a_damaged_cache_reads_as_empty_and_is_rewritten(cache_file: Path, content: str) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text(content)
    cache = TokenCache(cache_file)
    assert cache.get("k") is None
    cache.put("k", 2)
    assert cache.get("k") == 2


def test_unwritable_location_is_a_cache_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CacheError, match="cannot create the token cache folder"):
        TokenCache(blocker / "dex-auth" / "tokens.json").put("k", 1)


def test_default_path_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "dex-auth" / "tokens.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_path() == tmp_path / "home" / ".cache" / "dex-auth" / "tokens.json"
