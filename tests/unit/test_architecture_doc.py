"""docs/architecture.md lists every module with one line, and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "docs" / "architecture.md"


def code_modules() -> set[str]:
    """Each module of the charm, the gatekeeper, the login tool and the charm libraries.

    A package's `__init__.py` is described by the package's own row.
    """
    found = set()
    for root in ("src", "lib"):
        for path in (REPO / root).rglob("*.py"):
            if path.name != "__init__.py" and "__pycache__" not in path.parts:
                found.add(str(path.relative_to(REPO)))
    return found


def documented_modules() -> dict[str, str]:
    """Rows of the module table: `path` | what it is for."""
    section = ARCHITECTURE.read_text().split("## Modules", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `((?:src|lib)/[^`]+\.py)` \| (.*) \|$", section, re.MULTILINE))


def test_the_table_is_found() -> None:
    assert "src/charm.py" in documented_modules()


def test_every_module_has_a_row_and_every_row_a_module() -> None:
    documented = set(documented_modules())
    actual = code_modules()
    assert sorted(actual - documented) == [], "modules without a row in docs/architecture.md"
    assert sorted(documented - actual) == [], "rows in docs/architecture.md for modules that do not exist"


def test_each_row_says_what_the_module_is_for() -> None:
    thin = [path for path, line in documented_modules().items() if len(line.strip()) < 15]
    assert thin == []
