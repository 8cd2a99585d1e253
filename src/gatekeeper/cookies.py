"""A tolerant, bounded Cookie-header reader and the Set-Cookie lines the gatekeeper writes.

http.cookies.SimpleCookie drops every cookie after the first malformed one and has no size
bound; a crafted header must neither hide the session cookie nor cost more than a fixed budget.
"""

from __future__ import annotations

SESSION_COOKIE = "authservice_session"
MAX_COOKIE_HEADER = 16 * 1024
MAX_COOKIE_PAIRS = 100
MAX_SET_COOKIE_BYTES = 3800


def parse_cookies(header: str) -> list[tuple[str, str]]:
    """(name, value) pairs in header order; junk is skipped, input beyond the bounds is ignored."""
    if len(header) > MAX_COOKIE_HEADER:
        header = header[:MAX_COOKIE_HEADER].rsplit(";", 1)[0]
    pairs: list[tuple[str, str]] = []
    for chunk in header.split(";", MAX_COOKIE_PAIRS)[:MAX_COOKIE_PAIRS]:
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        pairs.append((name, value))
    return pairs


_SESSION_NEEDLE = SESSION_COOKIE + "="
_NEEDLE_LEN = len(_SESSION_NEEDLE)


def session_cookie_value(header: str) -> str | None:
    """The first session cookie's raw value, found without parsing the whole header.

    For the hot path only: quoted or oddly placed values return None or miss the token cache,
    and the thorough path (parse_cookies) handles them.
    """
    index = header.find(_SESSION_NEEDLE)
    if index < 0 or (index and header[index - 1] not in "; \t"):
        return None
    end = header.find(";", index + _NEEDLE_LEN)
    return (header[index + _NEEDLE_LEN :] if end < 0 else header[index + _NEEDLE_LEN : end]).strip()


def set_cookie(name: str, value: str, *, max_age: int, secure: bool, path: str = "/", same_site: str = "Lax") -> str:
    """A Set-Cookie value with the flags every gatekeeper cookie carries."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", f"SameSite={same_site}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def expire_cookie(name: str, *, secure: bool) -> str:
    return set_cookie(name, "", max_age=0, secure=secure)
