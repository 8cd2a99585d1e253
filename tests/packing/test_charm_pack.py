"""The charm packs complete: charmcraft's own charm plugin, run through craft-parts up to PRIME.

`charmcraft pack` needs LXD, which these machines lack, but its charm plugin runs here: the same
`charm` part from charmcraft.yaml, on a clean export of the repository (tracked files only), with
craft-parts' LifecycleManager. The prime directory is what the .charm zip holds. The checks are
what Juju needs from it: `dispatch` (without it no hook ever runs), the entry point and every
module it imports, the charm libraries, and a venv from which the charm imports and renders with
nothing else on the path, as `dispatch` runs it (PYTHONPATH=lib:venv, `./src/charm.py`).
"""

from __future__ import annotations

import ast
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def export_tree(destination: pathlib.Path) -> pathlib.Path:
    """The files git tracks (plus new, not ignored ones): what a fresh clone holds."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return destination


def prime_charm(source: pathlib.Path, work: pathlib.Path) -> pathlib.Path:
    """Run the charm part of charmcraft.yaml to PRIME, as `charmcraft pack` would inside LXD."""
    from charmcraft import parts
    from craft_parts import LifecycleManager, Step, packages
    from craft_parts.packages import base

    # The part asks for Debian build packages (python3-venv, ...); they are present here, and
    # craft-parts would otherwise call apt-get.
    packages.Repository = base.DummyRepository
    parts.setup_parts()
    charm_parts = yaml.safe_load((source / "charmcraft.yaml").read_text())["parts"]
    for part in charm_parts.values():
        part["source"] = str(source / part.get("source", "."))
    manager = LifecycleManager(
        {"parts": charm_parts}, application_name="charmcraft", work_dir=work, cache_dir=work / "cache"
    )
    with manager.action_executor() as executor:
        executor.execute(manager.plan(Step.PRIME))
    return work / "prime"


@pytest.fixture(scope="module")
def prime(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    source = export_tree(tmp_path_factory.mktemp("export"))
    return prime_charm(source, tmp_path_factory.mktemp("work"))


def local_imports(path: pathlib.Path, roots: list[pathlib.Path]) -> set[pathlib.Path]:
    """Files of the modules `path` imports at module level or in functions, found under `roots`."""
    found: set[pathlib.Path] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            for root in roots:
                base = root.joinpath(*name.split("."))
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.is_file():
                        found.add(candidate)
    return found


def import_closure(entry: pathlib.Path, roots: list[pathlib.Path]) -> set[pathlib.Path]:
    seen: set[pathlib.Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(local_imports(path, roots))
        if path.name != "__init__.py" and (path.parent / "__init__.py").is_file():
            todo.append(path.parent / "__init__.py")  # importing a submodule runs its package
    return seen


def test_dispatch_runs_the_entry_point(prime: pathlib.Path):
    dispatch = prime / "dispatch"
    assert dispatch.is_file() and os.access(dispatch, os.X_OK)
    text = dispatch.read_text()
    assert "PYTHONPATH=lib:venv" in text and "./src/charm.py" in text
    for hook in ("install", "start", "upgrade-charm"):
        assert (prime / "hooks" / hook).resolve() == dispatch.resolve()


def test_every_module_the_charm_imports_is_packed(prime: pathlib.Path):
    roots = [ROOT / "src", ROOT / "lib"]
    needed = import_closure(ROOT / "src" / "charm.py", roots)
    assert len(needed) > 10  # the closure walk itself works: charm.py, its modules, the libraries
    missing = [str(p.relative_to(ROOT)) for p in needed if not (prime / p.relative_to(ROOT)).is_file()]
    assert not missing, f"imported by the charm but not in the packed charm: {missing}"
    for lib in (ROOT / "lib" / "charms" / "dex_auth" / "v0").glob("*.py"):
        assert (prime / lib.relative_to(ROOT)).is_file(), lib.name


def test_the_data_files_the_charm_reads_are_packed(prime: pathlib.Path):
    data = [ROOT / "src" / "dex_connector_fields.json", *sorted((ROOT / "src" / "grafana_dashboards").glob("*.json"))]
    assert len(data) >= 2
    missing = [str(p.relative_to(ROOT)) for p in data if not (prime / p.relative_to(ROOT)).is_file()]
    assert not missing, f"read by the charm but not in the packed charm: {missing}"


def test_the_charm_imports_and_renders_from_its_own_venv(prime: pathlib.Path):
    # -S: no site-packages at all, so only lib, venv and src (the script's folder) are searched.
    program = (
        "import sys, charm, rendering\n"
        "out = rendering.render_from_config({'public-url': 'https://kf.example.com'},\n"
        "    secrets=rendering.SharedSecrets('c' * 32, 'k1=' + 's' * 40, '$2b$10$' + 'a' * 53))\n"
        "assert 'issuer: https://kf.example.com/dex' in out.dex_config\n"
        "outside = sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)\n"
        "                  and '/site-packages/' in m.__file__})\n"
        "print('ok', charm.DexAuthCharm.__name__, outside)\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", program],
        cwd=prime,
        env={"PYTHONPATH": "src:lib:venv", "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok DexAuthCharm []"
    assert (prime / "venv" / "ops" / "__init__.py").is_file()


def test_what_only_development_needs_is_left_out(prime: pathlib.Path):
    for name in ("tests", "docs", "scripts", ".venv", "src/dex_auth_login", "pytest.ini", "rockcraft.yaml"):
        assert not (prime / name).exists(), f"{name} should not be in the packed charm"
    for name in ("metadata.yaml", "config.yaml", "actions.yaml", "charmcraft.yaml"):
        assert (prime / name).is_file(), name
