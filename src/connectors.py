"""Parse and validate the `connectors` option before Dex ever sees it.

Dex ignores unknown keys and fails at start-up on a bad connector, so every mistake a user can
make in this option is caught here and reported by connector (position and id) and field.
No `ops` import: the charm passes a resolver for Juju secret references.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
import yaml.composer

import errors

logger = logging.getLogger(__name__)

_CLIENT = ("clientID", "clientSecret", "redirectURI")

# Fields Dex refuses to start (or to log anyone in) without, per connector type (dex.md).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "ldap": ("host", "userSearch.baseDN", "userSearch.username"),
    # clientSecret may be empty: a public upstream client with pkceChallenge (connector/oidc/oidc.go).
    "oidc": ("issuer", "clientID", "redirectURI"),
    "saml": ("ssoURL", "usernameAttr", "emailAttr", "redirectURI"),
    "samlExperimental": ("ssoURL", "usernameAttr", "emailAttr", "redirectURI"),
    "github": _CLIENT,
    "gitlab": _CLIENT,
    "gitea": _CLIENT,
    "google": _CLIENT,
    "microsoft": _CLIENT,
    "keystone": ("domain", "keystoneHost", "keystoneUsername", "keystonePassword"),
    "atlassian-crowd": ("baseURL",),
    "authproxy": (),
    "openshift": ("issuer", *_CLIENT),
    "oauth": (*_CLIENT, "tokenURL", "authorizationURL", "userInfoURL"),
    "bitbucket-cloud": _CLIENT,
    "linkedin": _CLIENT,
    "mockCallback": (),
    "mockPassword": ("username", "password"),
}
KNOWN_TYPES = tuple(REQUIRED_FIELDS)

# The json tags of each connector's Config struct in Dex's source, by dev/dex_connector_fields.py
# (which names the Go file of every type). Dex silently ignores a key that is not one of them, so
# a key that is not here but nearly matches one that is gets reported.
_DEX_FIELDS = json.loads((Path(__file__).parent / "dex_connector_fields.json").read_text())
DEX_VERSION: str = _DEX_FIELDS["dex"]
KNOWN_FIELDS: dict[str, dict[str, Any]] = {t: c["fields"] for t, c in _DEX_FIELDS["connectors"].items()}

# Fields whose value Dex reads as a file path; the charm writes the content (a Juju secret, or
# PEM/JSON text) into the Dex container and puts the path in. `[]` marks a list of paths.
FILE_FIELDS: dict[str, tuple[str, ...]] = {
    "ldap": ("rootCA", "clientCert", "clientKey"),  # connector/ldap/ldap.go: os.ReadFile, tls.LoadX509KeyPair
    "saml": ("ca",),  # connector/saml/saml.go: os.ReadFile
    "samlExperimental": ("ca",),
    "google": ("serviceAccountFilePath",),  # connector/google/google.go: os.ReadFile
    "github": ("rootCA",),  # connector/github/github.go -> pkg/httpclient/httpclient.go
    "openshift": ("rootCA",),  # connector/openshift/openshift.go -> pkg/httpclient
    "oidc": ("rootCAs[]",),  # connector/oidc/oidc.go -> pkg/httpclient
    "oauth": ("rootCAs[]",),  # connector/oauth/oauth.go -> pkg/httpclient
}
# []byte fields: Go's encoding/json wants them base64 (connector/ldap/ldap.go, saml/saml.go,
# gitlab/gitlab.go). PEM text given here is encoded by the charm.
DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "ldap": ("rootCAData",),
    "saml": ("caData",),
    "samlExperimental": ("caData",),
    "gitlab": ("rootCAData",),
}

# Connectors whose users come back through Dex's callback: their redirectURI is fixed.
REDIRECT_TYPES = frozenset(t for t, fields in REQUIRED_FIELDS.items() if "redirectURI" in fields)
# Connectors that can check a username and password themselves (password grant).
PASSWORD_TYPES = ("ldap", "keystone", "atlassian-crowd", "mockPassword")
CONNECTOR_KEYS = ("type", "id", "name", "config")
RESERVED_IDS = frozenset({"local"})

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# `secret:<id>` or `secret://<model-uuid>/<id>`, optionally `/<key>` (Juju's key syntax).
SECRET_REFERENCE = re.compile(r"^(?P<uri>secret:(?://[0-9a-f-]+/)?[0-9a-z]{20})(?:/(?P<key>[a-z](?:-?[a-z0-9]){2,}))?$")

SecretResolver = Callable[[str, "str | None"], str]
"""(secret uri, key or None) -> value; raises SecretLookupError with a reason."""
Problem = Callable[["str | None", str], None]
"""Records one problem of the connector being checked: (field or None, what is wrong)."""


class ConnectorsError(errors.DexAuthError):
    """The `connectors` option cannot be used; the message is fit for a status line."""


class ConnectorsSyntaxError(ConnectorsError):
    """The option is not valid YAML or JSON."""

    def __init__(self, problem: str, line: int | None, column: int | None):
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

    def __init__(self, problems: list[ConnectorProblem]):
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
        raise ConnectorsShapeError(f"connectors must be a list of connectors, not {_kind(data)}")
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
        if connector["type"] in PASSWORD_TYPES:
            return connector["id"]
    return None


def _kind(value: Any) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "empty",
    }
    return names.get(type(value), type(value).__name__)


def _check_keys(entry: dict[Any, Any], problem: Problem) -> None:
    for key in entry:
        if key not in CONNECTOR_KEYS:
            problem(
                None,
                f'has unknown key "{key}"{_suggest(str(key), CONNECTOR_KEYS)}; '
                "a connector has only type, id, name and config",
            )


def _checked_type(ctype: Any, problem: Problem) -> str | None:
    """The connector's type when Dex knows it (else None, and the problem said)."""
    if ctype is None:
        problem("type", f"is required (one of {', '.join(KNOWN_TYPES)})")
        return None
    if not isinstance(ctype, str) or ctype not in REQUIRED_FIELDS:
        shown = ctype if isinstance(ctype, str) else _kind(ctype)
        problem("type", f'"{shown}" is not a Dex connector type{_suggest(str(ctype), KNOWN_TYPES)}')
        return None
    return ctype


def _check_id(raw_id: Any, problem: Problem) -> None:
    if raw_id is None:
        problem("id", "is required")
    elif not isinstance(raw_id, str) or not raw_id:
        problem("id", "must be a non-empty string")
    elif raw_id in RESERVED_IDS:
        problem("id", f'"{raw_id}" is reserved for the static password database; choose another')
    elif not _ID_PATTERN.match(raw_id):
        problem("id", "may only contain letters, digits, '.', '_' and '-'")


def _check_name(name: Any, problem: Problem) -> None:
    if name is None:
        problem("name", "is required (the label on Dex's login button)")
    elif not isinstance(name, str) or not name.strip():
        problem("name", "must be a non-empty string")


def _config_of(entry: dict[Any, Any], problem: Problem) -> dict[str, Any]:
    config = entry.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        problem("config", f"must be a mapping, not {_kind(config)}")
        return {}
    return config


def _checked_config(
    ctype: str | None, config: dict[str, Any], issuer: str, resolve: SecretResolver | None, problem: Problem
) -> dict[str, Any]:
    """Secret references resolved, file contents marked, fields checked against the type."""
    resolved = _resolve_secrets(config, "config", resolve, problem)
    if ctype is None:
        return resolved
    resolved = _take_file_contents(ctype, config, resolved, problem)
    _check_fields(ctype, resolved, issuer, problem)
    if ctype in KNOWN_FIELDS:
        _check_spelling(config, KNOWN_FIELDS[ctype], "config", ctype, problem)
    return resolved


def _check_connector(
    position: int, entry: Any, issuer: str, resolve: SecretResolver | None
) -> tuple[dict[str, Any] | None, list[ConnectorProblem]]:
    """The connector ready for Dex, or None and everything wrong with it."""
    if not isinstance(entry, dict):
        text = f"must be a mapping with type, id, name and config, not {_kind(entry)}"
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


def _resolve_secrets(value: Any, path: str, resolve: SecretResolver | None, problem: Problem) -> Any:
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


def _file_value(value: Any, given: Any, where: str, problem: Problem) -> Any:
    """Content (from a secret, or PEM/JSON text) becomes a FileContent; a path stays a path."""
    if not isinstance(value, str) or not value.strip():
        problem(where, f"must be a path, PEM text or a Juju secret reference, not {_kind(value)}")
        return value
    if (isinstance(given, str) and given.startswith("secret:")) or _looks_like_content(value):
        return FileContent(value)
    return value


def _take_file_list(key: Any, values: Any, given: Any, problem: Problem) -> Any:
    """A `[]` file field: a list of files, each judged alone."""
    if not isinstance(values, list):
        problem(f"config.{key}", f"must be a list of files (PEM text, a path, or a Juju secret), not {_kind(values)}")
        return values
    givens = given if isinstance(given, list) else values
    pairs = zip(values, givens, strict=False)
    return [_file_value(value, raw, f"config.{key}[{index}]", problem) for index, (value, raw) in enumerate(pairs)]


def _encode_data_field(key: Any, value: Any, problem: Problem) -> Any:
    """A []byte field: Go's encoding/json wants base64, so PEM text is encoded here."""
    if not isinstance(value, str) or not value.strip():
        problem(f"config.{key}", f"must be base64 of PEM data or PEM text, not {_kind(value)}")
    elif value.lstrip().startswith("-----BEGIN "):
        return base64.b64encode(value.encode()).decode()
    else:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problem(f"config.{key}", "must be base64 of PEM data (Dex decodes it as bytes) or PEM text")
    return value


def _take_file_contents(ctype: str, raw: dict[str, Any], resolved: dict[str, Any], problem: Problem) -> dict[str, Any]:
    """Mark file-field contents for `place_files`; check and encode []byte fields."""
    result = dict(resolved)
    for name in FILE_FIELDS.get(ctype, ()):
        key = _key_of(result, name.removesuffix("[]"))
        if key is None:
            continue
        if name.endswith("[]"):
            result[key] = _take_file_list(key, result[key], raw.get(key), problem)
        else:
            result[key] = _file_value(result[key], raw.get(key), f"config.{key}", problem)
    for name in DATA_FIELDS.get(ctype, ()):
        key = _key_of(result, name)
        if key is not None:
            result[key] = _encode_data_field(key, result[key], problem)
    return result


def _lookup(config: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """Find a field the way Dex does: keys match case-insensitively."""
    current: Any = config
    for part in dotted.split("."):
        if not isinstance(current, dict):
            return False, None
        matches = [k for k in current if isinstance(k, str) and k.lower() == part.lower()]
        if not matches:
            return False, None
        current = current[matches[0]]
    return True, current


def _check_twins(config: dict[str, Any], problem: Problem) -> None:
    for key in config:
        twins = [k for k in config if str(k).lower() == str(key).lower()]
        if len(twins) > 1 and key == twins[0]:
            problem(
                f"config.{key}",
                f"is given more than once ({', '.join(map(str, twins))}); Dex matches keys without regard to case",
            )


def _check_required(ctype: str, config: dict[str, Any], issuer: str, problem: Problem) -> None:
    for required in REQUIRED_FIELDS[ctype]:
        present, value = _lookup(config, required)
        if not present or value is None or value == "":
            hint = f" (set it to {issuer}/callback)" if required == "redirectURI" else ""
            problem(f"config.{required}", f"is required for type {ctype}{hint}")
        elif not isinstance(value, str):
            problem(f"config.{required}", f"must be a string, not {_kind(value)}")
    if ctype in REDIRECT_TYPES:
        present, value = _lookup(config, "redirectURI")
        expected = f"{issuer}/callback"
        if present and isinstance(value, str) and value and value != expected:
            problem("config.redirectURI", f"must be {expected} (Dex's callback), not {value}")


def _check_saml(config: dict[str, Any], problem: Problem) -> None:
    _, skip = _lookup(config, "insecureSkipSignatureValidation")
    if not skip and _lookup(config, "ca")[0] == _lookup(config, "caData")[0]:
        problem("config.ca", "or config.caData is required, not both (unless insecureSkipSignatureValidation is true)")


def _check_github(config: dict[str, Any], problem: Problem) -> None:
    if _lookup(config, "org")[0] and _lookup(config, "orgs")[0]:
        problem("config.org", "and config.orgs cannot both be set; use orgs")
    present, host = _lookup(config, "hostName")
    if present and isinstance(host, str) and "/" in host:
        problem("config.hostName", "must be a host name without a scheme or '/'")
    if _lookup(config, "rootCA")[0] and not present:
        problem("config.rootCA", "needs config.hostName (GitHub Enterprise)")


def _check_oidc(config: dict[str, Any], problem: Problem) -> None:
    present, secret = _lookup(config, "clientSecret")
    if (not present or not secret) and not _lookup(config, "pkceChallenge")[1]:
        problem(
            "config.clientSecret",
            "is required for type oidc unless pkceChallenge is set (a public client at the upstream provider)",
        )


def _check_google(config: dict[str, Any], problem: Problem) -> None:
    if _lookup(config, "serviceAccountFilePath")[0] and not _lookup(config, "domainToAdminEmail")[0]:
        problem("config.serviceAccountFilePath", "needs config.domainToAdminEmail")


def _check_microsoft(config: dict[str, Any], problem: Problem) -> None:
    present, fmt = _lookup(config, "groupNameFormat")
    if present and fmt not in ("name", "id"):
        problem("config.groupNameFormat", 'must be "name" or "id"')


# What Dex refuses (or silently mishandles) in one type's fields taken together.
_TYPE_CHECKS: dict[str, Callable[[dict[str, Any], Problem], None]] = {
    "saml": _check_saml,
    "samlExperimental": _check_saml,
    "github": _check_github,
    "oidc": _check_oidc,
    "google": _check_google,
    "microsoft": _check_microsoft,
}


def _check_fields(ctype: str, config: dict[str, Any], issuer: str, problem: Problem) -> None:
    _check_twins(config, problem)
    _check_required(ctype, config, issuer, problem)
    check = _TYPE_CHECKS.get(ctype)
    if check is not None:
        check(config, problem)


def _check_spelling(config: dict[str, Any], known: dict[str, Any], path: str, ctype: str, problem: Problem) -> None:
    by_lower = {k.lower(): k for k in known}
    for key, value in config.items():
        name = str(key)
        if name.lower() in by_lower:
            nested = known[by_lower[name.lower()]]
            if isinstance(nested, dict) and isinstance(value, dict):
                _check_spelling(value, nested, f"{path}.{name}", ctype, problem)
            continue
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.8)
        if close:
            problem(
                f"{path}.{name}",
                f'is not a {ctype} field (did you mean "{by_lower[close[0]]}"?); Dex would silently ignore it',
            )
        else:
            logger.info("connector field %s.%s is not one the charm knows for %s; passing it on", path, name, ctype)


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f' (did you mean "{close[0]}"?)' if close else ""
