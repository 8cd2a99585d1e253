"""Path normalisation for skip-auth matching, and same-origin checks for redirect targets.

Skip-auth is granted only when the strict reading of a path (percent-decoded, `..` resolved,
`;` parameters dropped) and its literal reading both fall under the same allowed prefix, so no
component on the way (gateway, upstream app) can read a different, protected path out of it.
An Envoy-style target reaches us decoded once by the server (see rsgi.py) and re-encoded; its
literal reading is then the decoded one, which is how the upstream app reads it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MAX_PATH_LENGTH = 4096
MAX_RETURN_PATH_LENGTH = 2048

# RFC 3986 pchar minus "%": what may stand unescaped in a path segment, plus the separator;
# and a test for anything else (quote() leaves letters, digits and "_.-~" alone too).
_PATH_SAFE = "/!$&'()*+,;=:@"
_NEEDS_ESCAPING = re.compile(r"[^A-Za-z0-9_.~/!$&'()*+,;=:@-]")

# Encoded '/', '\', '%', NUL and control characters make different readers disagree.
_AMBIGUOUS_ESCAPE = re.compile(r"%(?:2[fF]|5[cC]|25|[01][0-9a-fA-F]|7[fF])")


def raw_path(decoded_path: str) -> str:
    """An encoded path that decodes to `decoded_path`: what RSGI's decoded path was, as near as can be."""
    if _NEEDS_ESCAPING.search(decoded_path) is None:
        return decoded_path  # the usual path: nothing to escape
    return quote(decoded_path, safe=_PATH_SAFE)


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def normalise_path(target: str) -> str | None:
    """The canonical path of a request target (query dropped), or None when it is ambiguous."""
    path = target.split("?", 1)[0]
    if not path.startswith("/") or len(path) > MAX_PATH_LENGTH:
        return None
    if "#" in path or "\\" in path or any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in path):
        return None
    if _AMBIGUOUS_ESCAPE.search(path):
        return None
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if "%" in decoded or _has_control(decoded):
        return None  # a malformed escape, or one we refused above in another spelling
    segments: list[str] = []
    for segment in decoded.split("/")[1:]:
        segment = segment.split(";", 1)[0]
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                return None
            segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class SkipAuth:
    """Matches request targets against the configured skip-auth prefixes, segment by segment."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes

    def __bool__(self) -> bool:
        """False when no prefix is configured: the check then need not look at the target at all."""
        return bool(self.prefixes)

    def matches(self, target: str) -> bool:
        if not self.prefixes:
            return False
        normal = normalise_path(target)
        if normal is None:
            return False
        literal = target.split("?", 1)[0]
        return any(_under(normal, p) and _under(literal, p) for p in self.prefixes)


def safe_return_path(value: str, public_url: str) -> str | None:
    """A local path (with query) safe to append to the public origin, or None.

    Accepts `/path?query` or an absolute URL on the public origin; refuses anything a browser
    could read as another host (`//x`, `/\\x`, schemes, encoded slashes or control characters).
    """
    if value.startswith(public_url):
        rest = value[len(public_url) :]
        if rest == "":
            return "/"
        if rest[0] not in "/?#":
            return None
        value = rest if rest[0] == "/" else "/" + rest
    if not value or len(value) > MAX_RETURN_PATH_LENGTH:
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in value):
        return None
    decoded = unquote(value, errors="replace")
    if "\\" in decoded or _has_control(decoded) or decoded.startswith("//"):
        return None
    return value
