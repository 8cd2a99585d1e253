#!/usr/bin/env python3
"""Regenerate src/dex_connector_fields.json from Dex's own connector Config structs.

    python3 dev/dex_connector_fields.py <dexidp/dex git dir> [tag]   (tag default: v2.45.1)

Dex decodes each connector's `config` into the Go struct server/server.go (ConnectorsConfig)
names for its type, with encoding/json: keys match the json tags case-insensitively and any
other key is dropped without a word. The charm checks spelling against these tags, so they are
read from the source at the pinned tag rather than typed in by hand.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "dex_connector_fields.json"
REGISTRY = "server/server.go"
_ENTRY = re.compile(r'"(?P<type>[\w-]+)":\s*func\(\) ConnectorConfig \{ return new\((?P<pkg>\w+)\.(?P<struct>\w+)\) \}')
_IMPORT = re.compile(r'^\s*(?:(?P<alias>\w+)\s+)?"github\.com/dexidp/dex/(?P<path>connector/[\w/-]+)"', re.M)
_UNTAGGED = re.compile(r"^\s*(?P<name>[A-Z]\w*)\s+(?P<type>[\w.\[\]*]+(?:\[[\w.]+\][\w.*]+)?)\s*$")
_EMBEDDED = re.compile(r"^\s*\*?(?P<type>[A-Z]\w*)\s*$")
_FIELD = re.compile(r'^\s*(?P<name>\w+)?\s*(?P<type>[^`]*?)\s*`[^`]*json:"(?P<tag>[^",]*)[^"]*"[^`]*`')


def git_show(repo: Path, tag: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"{tag}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def package_sources(repo: Path, tag: str, directory: str) -> dict[str, str]:
    names = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "--name-only", f"{tag}:{directory}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {
        f"{directory}/{n}": git_show(repo, tag, f"{directory}/{n}")
        for n in names
        if n.endswith(".go") and not n.endswith("_test.go")
    }


def struct_bodies(sources: dict[str, str]) -> dict[str, tuple[str, list[str]]]:
    """Every `type X struct { ... }` of the package: name -> (file, body lines)."""
    found: dict[str, tuple[str, list[str]]] = {}
    for path, text in sources.items():
        lines = text.splitlines()
        for i, line in enumerate(lines):
            empty = re.match(r"^type (\w+) struct ?\{\}\s*$", line)
            if empty:
                found[empty[1]] = (path, [])
                continue
            match = re.match(r"^type (\w+) struct \{\s*$", line)
            if match:
                body, depth = [], 1
                for inner in lines[i + 1 :]:
                    depth += inner.count("{") - inner.count("}")
                    if depth <= 0:
                        break
                    body.append(inner)
                found[match[1]] = (path, body)
    return found


def fields(body: list[str], structs: dict[str, tuple[str, list[str]]]) -> dict[str, object]:
    """json tag -> None for a leaf, or the nested struct's own fields."""
    result: dict[str, object] = {}
    i = 0
    while i < len(body):
        line = re.sub(r"//.*$", "", body[i]).rstrip()
        inline = re.match(r"^\s*\w+\s+(?:\[\])?struct \{\s*$", line)
        if inline:
            nested, depth = [], 1
            i += 1
            while i < len(body):
                depth += body[i].count("{") - body[i].count("}")
                if depth <= 0:
                    tag = re.search(r'json:"([^",]*)', body[i])
                    if tag and tag[1] != "-":
                        result[tag[1]] = fields(nested, structs)
                    break
                nested.append(body[i])
                i += 1
        else:
            match = _FIELD.match(body[i])
            untagged = _UNTAGGED.match(line)
            embedded = _EMBEDDED.match(line)
            if match and match["tag"] not in ("", "-"):
                result[match["tag"]] = _nested(match["type"], structs)
            elif untagged:  # encoding/json then uses the Go field name itself
                result[untagged["name"]] = _nested(untagged["type"], structs)
            elif embedded and embedded["type"] in structs:
                result.update(fields(structs[embedded["type"]][1], structs))
        i += 1
    return result


def _nested(go_type: str, structs: dict[str, tuple[str, list[str]]]) -> object:
    named = go_type.lstrip("[]*")
    if named.startswith("map["):
        return None
    return fields(structs[named][1], structs) if named in structs else None


def main() -> None:
    repo = Path(sys.argv[1])
    tag = sys.argv[2] if len(sys.argv) > 2 else "v2.45.1"
    registry = git_show(repo, tag, REGISTRY)
    imports = {m["alias"] or m["path"].rsplit("/", 1)[-1]: m["path"] for m in _IMPORT.finditer(registry)}
    table: dict[str, object] = {}
    for entry in _ENTRY.finditer(registry):
        directory = imports[entry["pkg"]]
        structs = struct_bodies(package_sources(repo, tag, directory))
        path, body = structs[entry["struct"]]
        table[entry["type"]] = {"source": path, "struct": entry["struct"], "fields": fields(body, structs)}
    document = {"dex": tag, "registry": REGISTRY, "connectors": dict(sorted(table.items()))}
    OUT.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUT} ({len(table)} connector types from dexidp/dex {tag})")


if __name__ == "__main__":
    main()
