"""Parse and validate the `connectors` option before Dex ever sees it.

Dex ignores unknown keys and fails at start-up on a bad connector, so every mistake a user can
make in this option is caught here and reported by connector (position and id) and field.
No `ops` import: the charm passes a resolver for Juju secret references.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml.composer

import connector_fields
import errors

logger = logging.getLogger(__name__)

CONNECTOR_KEYS = ("type", "id", "name", "config")
RESERVED_IDS = frozenset({"local"})

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# `secret:<id>` or `secret://<model-uuid>/<id>`, optionally `/<key>` (Juju's key syntax).
SECRET_REFERENCE = re.compile(r"^(?P<uri>secret:(?://[0-9a-f-]+/)?[0-9a-z]{20})(?:/(?P<key>[a-z](?:-?[a-z0-9]){2,}))?$")

SecretResolver = Callable[[str, "str | None"], str]
"""(secret uri, key or None) -> value; raises SecretLookupError with a reason."""


class ConnectorsError(errors.DexAuthError):
    """The `connectors` option cannot be used; the message is fit for a status line."""


class ConnectorsSyntaxError(ConnectorsError):
    """The option is not valid YAML or JSON."""

    def __init__(self, problem: str, line: int | None, column: int | None) -> None:
        self.problem = problem
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"connectors is not valid YAML or JSON{where}: {problem}")


class _ConnectorsLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases: a few hundred bytes of aliases can expand into
    gigabytes (a "YAML bomb") and hang the hook, and a list of connectors never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not supported here", mark)
        return super().compose_node(parent, index)


MAX_DEPTH = 32


def _depth(data: Any) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


class ConnectorsShapeError(ConnectorsError):
    """The option parsed but is not a list of connectors."""


@dataclass(frozen=True)
class ConnectorProblem:
    """One thing wrong with one connector."""

    position: int
    connector_id: str | None
    field: str | None
    problem: str

    def __str__(self) -> str:
        who = f"connectors[{self.position}]"
        if self.connector_id:
            who += f' (id "{self.connector_id}")'
        what = f"{self.field} {self.problem}" if self.field else self.problem
        return f"{who}: {what}"


class ConnectorValidationError(ConnectorsError):
    """One or more connectors are wrong; the first is in the message, all in `problems`."""

    def __init__(self, problems: list[ConnectorProblem]) -> None:
        self.problems = problems
        message = str(problems[0])
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more)"
        super().__init__(message, tuple(f"bad connector: {p}" for p in problems))


@dataclass(frozen=True)
class FileContent:
    """What a file-valued field holds until `place_files` gives it a path; never shown."""

    content: str = field(repr=False)


@dataclass(frozen=True)
class DexFile:
    """A file the charm writes into the Dex container for a connector."""

    path: str
    content: str = field(repr=False)


def place_files(connectors: list[dict[str, Any]], directory: str) -> tuple[list[dict[str, Any]], tuple[DexFile, ...]]:
    """Swap each FileContent for the path of a file under `directory`, named by connector and field."""
    files: list[DexFile] = []

    def swap(value: Any, name: str) -> Any:
        if isinstance(value, FileContent):
            files.append(DexFile(f"{directory}/{name}", value.content))
            return files[-1].path
        if isinstance(value, dict):
            return {k: swap(v, f"{name}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v, f"{name}.{i}") for i, v in enumerate(value)]
        return value

    placed = [{**c, "config": swap(c["config"], c["id"])} for c in connectors]
    return placed, tuple(files)


class SecretLookupError(errors.DexAuthError):
    """A Juju secret reference could not be read; the message says why and what to do."""


def _load_yaml(text: str) -> Any:
    """The option as data, or ConnectorsSyntaxError with YAML's line and column."""
    try:
        data = yaml.load(text, Loader=_ConnectorsLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ConnectorsSyntaxError(f"nested more than {MAX_DEPTH} levels deep", None, None) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "unreadable"
        if mark is None:
            raise ConnectorsSyntaxError(problem, None, None) from None
        raise ConnectorsSyntaxError(problem, mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as err:
        raise ConnectorsSyntaxError(type(err).__name__, None, None) from None
    if data is not None and _depth(data) > MAX_DEPTH:
        raise ConnectorsSyntaxError(f"nested more than {MAX_DEPTH} levels deep", None, None)
    return data


def _unwrap(data: dict[Any, Any]) -> Any:
    """A mapping is either Dex's `connectors:` key (taken) or one connector without its `- `."""
    if "connectors" in data:
        others = sorted(str(k) for k in data if k != "connectors")
        if others:
            raise ConnectorsShapeError(
                "connectors must be the list that goes inside Dex's connectors: key, "
                f"not a Dex config (found keys {', '.join(others)})"
            )
        logger.info("connectors: removed the outer 'connectors:' key; using its list")
        return data["connectors"]
    if "type" in data:
        raise ConnectorsShapeError(
            "connectors must be a list: put '- ' before the connector's first key (or [ ] around the JSON object)"
        )
    return data


def parse(text: str) -> list[Any]:
    """Load the option as YAML (JSON is a subset) and return the connector list.

    A whole `connectors: [...]` mapping is accepted and unwrapped, since that is what users
    copy from Dex's documentation.
    """
    data = _load_yaml(text) if text.strip() else None
    if isinstance(data, dict):
        data = _unwrap(data)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConnectorsShapeError(f"connectors must be a list of connectors, not {connector_fields.kind(data)}")
    return data


def validate(entries: list[Any], issuer: str, resolve: SecretResolver | None = None) -> list[dict[str, Any]]:
    """Check every connector and return them ready for Dex, secret references resolved.

    Raises ConnectorValidationError listing every problem found.
    """
    problems: list[ConnectorProblem] = []
    result: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for position, entry in enumerate(entries):
        checked, found = _check_connector(position, entry, issuer, resolve)
        problems.extend(found)
        if checked is None:
            continue
        cid = checked["id"]
        if cid in seen:
            problems.append(
                ConnectorProblem(position, cid, "id", f"is also used by connectors[{seen[cid]}]; ids must be unique")
            )
        seen.setdefault(cid, position)
        result.append(checked)
    if problems:
        raise ConnectorValidationError(problems)
    return result


def load(text: str, issuer: str, resolve: SecretResolver | None = None) -> list[dict[str, Any]]:
    """Parse and validate the option in one step."""
    return validate(parse(text), issuer, resolve)


def password_connector(connectors: list[dict[str, Any]], password_db: bool) -> str | None:
    """The connector the password grant uses: the static DB, else the first able connector."""
    if password_db:
        return "local"
    for connector in connectors:
        if connector["type"] in connector_fields.PASSWORD_TYPES:
            return connector["id"]
    return None


def _check_keys(entry: dict[Any, Any], problem: connector_fields.Problem) -> None:
    for key in entry:
        if key not in CONNECTOR_KEYS:
            problem(
                None,
                f'has unknown key "{key}"{connector_fields.suggestion(str(key), CONNECTOR_KEYS)}; '
                "a connector has only type, id, name and config",
            )


def _checked_type(ctype: Any, problem: connector_fields.Problem) -> str | None:
    """The connector's type when Dex knows it (else None, and the problem said)."""
    if ctype is None:
        problem("type", f"is required (one of {', '.join(connector_fields.KNOWN_TYPES)})")
        return None
    if not isinstance(ctype, str) or ctype not in connector_fields.REQUIRED_FIELDS:
        shown = ctype if isinstance(ctype, str) else connector_fields.kind(ctype)
        hint = connector_fields.suggestion(str(ctype), connector_fields.KNOWN_TYPES)
        problem("type", f'"{shown}" is not a Dex connector type{hint}')
        return None
    return ctype


def _check_id(raw_id: Any, problem: connector_fields.Problem) -> None:
    if raw_id is None:
        problem("id", "is required")
    elif not isinstance(raw_id, str) or not raw_id:
        problem("id", "must be a non-empty string")
    elif raw_id in RESERVED_IDS:
        problem("id", f'"{raw_id}" is reserved for the static password database; choose another')
    elif not _ID_PATTERN.match(raw_id):
        problem("id", "may only contain letters, digits, '.', '_' and '-'")


def _check_name(name: Any, problem: connector_fields.Problem) -> None:
    if name is None:
        problem("name", "is required (the label on Dex's login button)")
    elif not isinstance(name, str) or not name.strip():
        problem("name", "must be a non-empty string")


def _config_of(entry: dict[Any, Any], problem: connector_fields.Problem) -> dict[str, Any]:
    config = entry.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        problem("config", f"must be a mapping, not {connector_fields.kind(config)}")
        return {}
    return config


def _checked_config(
    ctype: str | None,
    config: dict[str, Any],
    issuer: str,
    resolve: SecretResolver | None,
    problem: connector_fields.Problem,
) -> dict[str, Any]:
    """Secret references resolved, file contents marked, fields checked against the type."""
    resolved = _resolve_secrets(config, "config", resolve, problem)
    if ctype is None:
        return resolved
    resolved = _take_file_contents(ctype, config, resolved, problem)
    connector_fields.check(ctype, resolved, issuer, problem)
    connector_fields.check_spelling(config, ctype, problem)
    return resolved


def _check_connector(
    position: int, entry: Any, issuer: str, resolve: SecretResolver | None
) -> tuple[dict[str, Any] | None, list[ConnectorProblem]]:
    """The connector ready for Dex, or None and everything wrong with it."""
    if not isinstance(entry, dict):
        text = f"must be a mapping with type, id, name and config, not {connector_fields.kind(entry)}"
        return None, [ConnectorProblem(position, None, None, text)]
    raw_id = entry.get("id")
    cid = raw_id if isinstance(raw_id, str) and raw_id else None
    problems: list[ConnectorProblem] = []

    def problem(field: str | None, text: str) -> None:
        problems.append(ConnectorProblem(position, cid, field, text))

    _check_keys(entry, problem)
    ctype = _checked_type(entry.get("type"), problem)
    _check_id(raw_id, problem)
    _check_name(entry.get("name"), problem)
    resolved = _checked_config(ctype, _config_of(entry, problem), issuer, resolve, problem)
    if problems:
        return None, problems
    return {"type": ctype, "id": raw_id, "name": entry.get("name"), "config": resolved}, []


def _resolve_secrets(value: Any, path: str, resolve: SecretResolver | None, problem: connector_fields.Problem) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_secrets(v, f"{path}.{k}", resolve, problem) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v, f"{path}[{i}]", resolve, problem) for i, v in enumerate(value)]
    if not isinstance(value, str) or not value.startswith("secret:"):
        return value
    match = SECRET_REFERENCE.match(value)
    if match is None:
        problem(path, "looks like a Juju secret reference but is not one (expected secret:<id> or secret:<id>/<key>)")
        return value
    if resolve is None:
        problem(path, "refers to a Juju secret, which cannot be read here")
        return value
    try:
        return resolve(match["uri"], match["key"])
    except SecretLookupError as err:
        problem(path, str(err))
        return value


def _looks_like_content(value: str) -> bool:
    """A path is one line; a certificate, key or service-account JSON is not a path."""
    text = value.strip()
    return "\n" in text or text.startswith(("-----BEGIN ", "{"))


def _key_of(config: dict[str, Any], name: str) -> Any:
    """The key Dex would read `name` from: keys match case-insensitively."""
    return next((k for k in config if str(k).lower() == name.lower()), None)


def _file_value(value: Any, given: Any, where: str, problem: connector_fields.Problem) -> Any:
    """Content (from a secret, or PEM/JSON text) becomes a FileContent; a path stays a path."""
    if not isinstance(value, str) or not value.strip():
        problem(where, f"must be a path, PEM text or a Juju secret reference, not {connector_fields.kind(value)}")
        return value
    if (isinstance(given, str) and given.startswith("secret:")) or _looks_like_content(value):
        return FileContent(value)
    return value


def _take_file_list(key: Any, values: Any, given: Any, problem: connector_fields.Problem) -> Any:
    """A `[]` file field: a list of files, each judged alone."""
    if not isinstance(values, list):
        problem(
            f"config.{key}",
            f"must be a list of files (PEM text, a path, or a Juju secret), not {connector_fields.kind(values)}",
        )
        return values
    givens = given if isinstance(given, list) else values
    pairs = zip(values, givens, strict=False)
    return [_file_value(value, raw, f"config.{key}[{index}]", problem) for index, (value, raw) in enumerate(pairs)]


def _encode_data_field(key: Any, value: Any, problem: connector_fields.Problem) -> Any:
    """A []byte field: Go's encoding/json wants base64, so PEM text is encoded here."""
    if not isinstance(value, str) or not value.strip():
        problem(f"config.{key}", f"must be base64 of PEM data or PEM text, not {connector_fields.kind(value)}")
    elif value.lstrip().startswith("-----BEGIN "):
        return base64.b64encode(value.encode()).decode()
    else:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problem(f"config.{key}", "must be base64 of PEM data (Dex decodes it as bytes) or PEM text")
    return value


def _take_file_contents(
    ctype: str, raw: dict[str, Any], resolved: dict[str, Any], problem: connector_fields.Problem
) -> dict[str, Any]:
    """Mark file-field contents for `place_files`; check and encode []byte fields."""
    result = dict(resolved)
    for name in connector_fields.FILE_FIELDS.get(ctype, ()):
        key = _key_of(result, name.removesuffix("[]"))
        if key is None:
            continue
        if name.endswith("[]"):
            result[key] = _take_file_list(key, result[key], raw.get(key), problem)
        else:
            result[key] = _file_value(result[key], raw.get(key), f"config.{key}", problem)
    for name in connector_fields.DATA_FIELDS.get(ctype, ()):
        key = _key_of(result, name)
        if key is not None:
            result[key] = _encode_data_field(key, result[key], problem)
    return result
