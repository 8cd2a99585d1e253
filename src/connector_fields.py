"""What Dex reads in each connector type's config, and the rules Dex applies to those fields.

From Dex's source: the fields it needs, the ones it reads as files or as base64 bytes, the json
tags of every Config struct (dex_connector_fields.json, made by dev/dex_connector_fields.py),
and the combinations it refuses. connectors.py checks the option's shape and uses these for
what goes inside `config`. Pure.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Problem = Callable[["str | None", str], None]
"""Records one problem of the connector being checked: (field or None, what is wrong)."""

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


def kind(value: Any) -> str:
    """What a YAML value is, in the words a status line uses ("a mapping", "empty")."""
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
            problem(f"config.{required}", f"must be a string, not {kind(value)}")
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


def check(ctype: str, config: dict[str, Any], issuer: str, problem: Problem) -> None:
    """Everything Dex would refuse in a config of this type (keys already resolved)."""
    _check_twins(config, problem)
    _check_required(ctype, config, issuer, problem)
    type_check = _TYPE_CHECKS.get(ctype)
    if type_check is not None:
        type_check(config, problem)


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


def suggestion(word: str, choices: tuple[str, ...]) -> str:
    """` (did you mean "x"?)` for the nearest choice, or nothing: a typo is the usual mistake."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f' (did you mean "{close[0]}"?)' if close else ""


def check_spelling(config: dict[str, Any], ctype: str, problem: Problem) -> None:
    """A key Dex would silently ignore but that nearly matches one it reads is a problem."""
    if ctype in KNOWN_FIELDS:
        _check_spelling(config, KNOWN_FIELDS[ctype], "config", ctype, problem)
