"""The shape limits the house keeps (issue 11): short functions, classes that fit in a head.

Complexity is ruff's C901 (`tox -e lint`); length is not something ruff measures, so it is here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
MAX_FUNCTION_LINES = 40
MAX_CLASS_LINES = 250


def _nodes(kind: tuple[type, ...]) -> list[tuple[str, ast.AST]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, kind):
                found.append((f"{path.relative_to(SRC)}:{node.lineno} {node.name}", node))
    return found


def _length(node: ast.AST) -> int:
    """Lines from the signature to the last statement, docstring included, decorators not."""
    return node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]


def test_the_source_tree_is_found() -> None:
    assert len(_nodes((ast.FunctionDef, ast.AsyncFunctionDef))) > 100


@pytest.mark.parametrize(
    ("kind", "limit"),
    [((ast.FunctionDef, ast.AsyncFunctionDef), MAX_FUNCTION_LINES), ((ast.ClassDef,), MAX_CLASS_LINES)],
    ids=["functions", "classes"],
)
def test_nothing_in_src_is_longer_than_the_limit(kind: tuple[type, ...], limit: int) -> None:
    too_long = [f"{where} ({_length(node)} lines)" for where, node in _nodes(kind) if _length(node) > limit]
    assert too_long == [], f"over {limit} lines: " + "; ".join(too_long)
