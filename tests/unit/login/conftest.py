"""Fixtures of the login tool's in-process tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "dex-auth" / "tokens.json"
