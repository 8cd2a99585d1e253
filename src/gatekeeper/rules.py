"""The rules a gatekeeper setting must follow, one function per rule.

The gatekeeper applies them to its GATEKEEPER_* variables at start-up (config.py); the charm
applies the same functions to the options that feed those variables, so a value is judged by
one rule wherever it is checked. Standard library only: this package ships in the image without
the charm. Each rule returns the value in the form the reader keeps, or raises InvalidValue with
a `problem` that completes a sentence whose subject (a variable, an option) the caller names.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from gatekeeper import access, paths

LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_LIFETIME = 60
MAX_LIFETIME = 366 * 86400
MAX_LOGIN_TIMEOUT = 7 * 86400
MIN_TOKEN_LENGTH = 32

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_CLAIM = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.+?-----END CERTIFICATE-----", re.S)
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN (?:EC )?PRIVATE KEY-----\r?\n.+?-----END (?:EC )?PRIVATE KEY-----", re.S)
_DURATION = re.compile(r"^([1-9][0-9]*)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class InvalidValue(ValueError):  # noqa: N818 - a value, not an error of the program
    """A value breaks a rule; `problem` is the rest of the sentence, e.g. "must differ from x".

    `field` names the setting (a gatekeeper Settings field) when a rule of two settings broke.
    """

    def __init__(self, problem: str, field: str | None = None) -> None:
        self.problem = problem
        self.field = field
        super().__init__(problem)


def _url(value: str, *, origin_only: bool) -> tuple[str, str, str]:
    """Scheme, lower-cased netloc and path of an http(s) URL without query, fragment or credentials."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(f"must start with https:// or http:// and name a host, not {value!r}")
    if origin_only and (parts.path not in ("", "/") or parts.query or parts.fragment):
        raise InvalidValue("must be an origin like https://kubeflow.example.com, without a path, query or fragment")
    if parts.query or parts.fragment:
        raise InvalidValue(f"must not carry a query or fragment: {value!r}")
    if parts.username or parts.password:
        raise InvalidValue("must not contain a user name or password")
    try:
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise InvalidValue("has an invalid port") from None
    return parts.scheme, parts.netloc.lower(), parts.path


def origin(value: str) -> str:
    """The origin users type in the browser, `scheme://host[:port]`, lower-cased."""
    scheme, netloc, _ = _url(value.strip(), origin_only=True)
    return f"{scheme}://{netloc}"


def http_url(value: str) -> str:
    """An http(s) URL with a path allowed (Dex's issuer), without the trailing slash."""
    value = value.strip()
    _url(value, origin_only=False)
    return value.rstrip("/")


def duration_seconds(value: str) -> int:
    """Seconds from '86400', '30m', '12h' or '7d'."""
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise InvalidValue(f"must be seconds or a number with s, m, h or d (e.g. 86400, 30m, 12h, 7d), not {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def session_lifetime(value: str) -> int:
    """A duration the session cookie can sensibly live: a minute at least, a year at most."""
    seconds = duration_seconds(value)
    if not MIN_LIFETIME <= seconds <= MAX_LIFETIME:
        raise InvalidValue(f"must be between 1 minute and 366 days, got {value!r}")
    return seconds


def login_timeout(value: str) -> int:
    """How long a started sign-in may take, in seconds; Dex's `expiry.authRequests` gets the same.

    A minute at least (a person must be able to type a password), a week at most: a login state
    older than that is a link someone kept, not a sign-in in progress.
    """
    seconds = duration_seconds(value)
    if not MIN_LIFETIME <= seconds <= MAX_LOGIN_TIMEOUT:
        raise InvalidValue(f"must be between 1 minute and 7 days, got {value!r}")
    return seconds


def header_name(value: str) -> str:
    """An HTTP header name (RFC 9110 token), lower-cased as HTTP/2 sends it."""
    value = value.strip()
    if not _TOKEN.match(value):
        raise InvalidValue(f"must be an HTTP header name such as kubeflow-userid, not {value!r}")
    return value.lower()


def same_header(first: str, second: str) -> bool:
    """Envoy and many apps read `_` in a header name as `-`, so those spellings are one header."""
    return first.lower().replace("_", "-") == second.lower().replace("_", "-")


def claim_name(value: str) -> str:
    """An ID-token claim name; odd characters would be a mistake in a claim name, not a claim."""
    value = value.strip()
    if not _CLAIM.match(value):
        raise InvalidValue(f"must be an ID-token claim name such as email, not {value!r}")
    return value


def control_free(value: str) -> str:
    """Text that goes into a header as given: a control character would split or end it."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidValue("must not contain control characters")
    return value


def csv(value: str) -> tuple[str, ...]:
    """Comma-separated items, blanks around and empty items dropped."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def audience(value: str) -> str:
    """One JWT audience, or empty: a URL or a name, without blanks or control characters."""
    value = value.strip()
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value) or len(value) > 256:
        raise InvalidValue("must be one audience, such as https://kubeflow.example.com, without blanks")
    return value


def pem_private_keys(value: str) -> str:
    """PEM private keys, one block each (assertion_keys.py reads them); the problem never quotes one."""
    blocks = PEM_PRIVATE_KEY.findall(value)
    if not blocks:
        raise InvalidValue("must hold PEM private keys (-----BEGIN PRIVATE KEY----- ...)")
    return "\n".join(blocks) + "\n"


def pem_certificates(value: str) -> str:
    """CA certificates in PEM, each one parsed by OpenSSL; kept one block per certificate."""
    blocks = _PEM_CERTIFICATE.findall(value)
    if not blocks:
        raise InvalidValue("must be PEM certificates (-----BEGIN CERTIFICATE----- ...)")
    for index, block in enumerate(blocks, start=1):
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=block)
        except (ssl.SSLError, ValueError):
            raise InvalidValue(f"certificate {index} of {len(blocks)} is not a valid PEM certificate") from None
    return "\n".join(blocks) + "\n"


def email_patterns(value: str) -> tuple[str, ...]:
    """Comma-separated addresses (alice@example.com) and domains (*@example.com), in normal form."""
    patterns: list[str] = []
    for index, item in enumerate(csv(value), start=1):
        if item.startswith(access.ANY_LOCAL_PART):
            domain = access.normal_domain(item[len(access.ANY_LOCAL_PART) :])
            normal = None if domain is None else access.ANY_LOCAL_PART + domain
        else:
            normal = access.normal_address(item)
        if normal is None:
            raise InvalidValue(
                f"entry {index} ({item[:80]!r}) must be an address like alice@example.com or a domain like "
                "*@example.com, in plain ASCII (one '@', no quotes or blanks)"
            )
        patterns.append(normal)
    return tuple(dict.fromkeys(patterns))


def group_names(value: str) -> tuple[str, ...]:
    """Group names, one per line, or comma-separated on one line; with a line break anywhere
    (even only at the end), commas are part of names, as in an LDAP DN."""
    items = value.splitlines() if "\n" in value else value.split(",")
    names: list[str] = []
    for index, item in enumerate((item.strip() for item in items if item.strip()), start=1):
        try:
            control_free(item)
        except InvalidValue:
            raise InvalidValue(f"entry {index} must not contain control characters") from None
        names.append(item)
    return tuple(dict.fromkeys(names))


def path_list(value: str) -> tuple[str, ...]:
    """Comma-separated paths, as given."""
    items = csv(value)
    for item in items:
        if not item.startswith("/"):
            raise InvalidValue(f"each entry must be a path starting with /, not {item!r}")
    return items


def skip_auth_paths(value: str) -> tuple[str, ...]:
    """Path prefixes served without a login, normalised the way requests are matched (paths.py)."""
    normalised = []
    for item in path_list(value):
        normal = paths.normalise_path(item)
        if normal == "/":
            raise InvalidValue(f"entry {item!r} would turn authentication off for every path")
        if normal is None or normal != item.rstrip("/"):
            raise InvalidValue(f"entry {item!r} must be a plain path (no '..', '//', '%', ';', '?', '#')")
        normalised.append(normal)
    return tuple(normalised)


def return_path(value: str, public_url: str) -> str:
    """A place on this site to send the browser to, as a local path (paths.safe_return_path)."""
    path = paths.safe_return_path(value, public_url)
    if path is None:
        raise InvalidValue(f"must be a path on {public_url} such as / or /welcome, not {value!r}")
    return path


def path_prefix(value: str) -> str:
    """The gatekeeper's public prefix: plain path segments, no trailing slash."""
    prefix = value.rstrip("/")
    if not _PREFIX.match(prefix) or any(segment in (".", "..") for segment in prefix.split("/")):
        raise InvalidValue(f"must be a path like /authservice, got {prefix!r}")
    return prefix


def scopes(value: str) -> str:
    """Space-separated scopes; without openid Dex sends no ID token, and the login cannot work."""
    words = value.split()
    if "openid" not in words:
        raise InvalidValue(f"must include 'openid', got {' '.join(words)!r}")
    return " ".join(words)


def absolute_file(value: str) -> str:
    """An absolute file path, or empty for none."""
    value = value.strip()
    if value and (not value.startswith("/") or "\0" in value):
        raise InvalidValue(f"must be an absolute file path, got {value!r}")
    return value


def redis_url(value: str) -> str:
    """A Redis URL (redis:// or rediss:// with a host, optional password and database), or empty.

    Its problems never quote it: a Redis URL may carry a password.
    """
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise InvalidValue("must look like redis://[:password@]host[:port][/db] or rediss://...")
    try:
        _ = parts.port
    except ValueError:
        raise InvalidValue("has an invalid port") from None
    if parts.path.strip("/") and not parts.path.strip("/").isdigit():
        raise InvalidValue("must name its database by number, as in redis://host:6379/0")
    if parts.fragment or any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidValue("must not carry a fragment, blanks or control characters")
    return value


def secret_token(value: str) -> str:
    """A bearer secret of at least MIN_TOKEN_LENGTH visible ASCII characters, or empty for none."""
    value = value.strip()
    if value and (len(value) < MIN_TOKEN_LENGTH or not value.isascii() or not value.isprintable() or " " in value):
        raise InvalidValue(f"must be at least {MIN_TOKEN_LENGTH} visible ASCII characters, without blanks")
    return value


def boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise InvalidValue(f"must be true or false, got {value!r}")


def one_of(choices: tuple[str, ...], *, fold_case: bool = False) -> Callable[[str], str]:
    """A rule that accepts exactly one of `choices` (after lower-casing, with `fold_case`)."""

    def rule(value: str) -> str:
        value = value.strip().lower() if fold_case else value.strip()
        if value not in choices:
            raise InvalidValue(f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    return rule


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A rule that accepts a whole number from `low` to `high`."""

    def rule(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise InvalidValue(f"must be a whole number from {low} to {high}, not {value!r}") from None
        if not low <= number <= high:
            raise InvalidValue(f"must be a whole number from {low} to {high}, not {number}")
        return number

    return rule


log_level = one_of(LOG_LEVELS, fold_case=True)


def _distinct_header(value: str, other: str, other_name: str) -> str:
    if same_header(value, other):
        raise InvalidValue(f"must differ from {other_name}")
    return value


def _return_path_on(value: str, public_url: str, _other_name: str) -> str:
    return return_path(value, public_url)


# (setting, the setting it depends on, rule): the rules that relate two settings, by the
# gatekeeper's field names, which the charm's Settings shares for these.
RELATED = (
    ("groups_header", "userid_header", _distinct_header),
    ("assertion_header", "userid_header", _distinct_header),
    ("assertion_header", "groups_header", _distinct_header),
    ("after_logout_url", "public_url", _return_path_on),
)


def check_related(values: dict[str, Any], name_of: Callable[[str], str]) -> None:
    """Apply RELATED to `values` (field -> value), in place; `name_of` names a field in the
    caller's words (a variable, an option). Raises InvalidValue with the field that broke."""
    for field, other, rule in RELATED:
        try:
            values[field] = rule(values[field], values[other], name_of(other))
        except InvalidValue as err:
            raise InvalidValue(err.problem, field) from None
