"""The identity headers the gatekeeper answers with, prepared as ASGI byte pairs.

Every 200 carries every identity header (empty when anonymous): gateways overwrite the client's
copies with ours, and Caddy 2.6 would otherwise forward its placeholder text. Look-alike names
(`kubeflow_userid`) are not overwritten by gateways, so a request carrying one is refused.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from itertools import product

from gatekeeper import errors
from gatekeeper.config import Settings

Header = tuple[bytes, bytes]
MAX_LOOKALIKE_HYPHENS = 3  # beyond this, the hot path scans header names instead of asking for each


def _unsafe(text: str) -> bool:
    """Control characters, and the Unicode line and paragraph separators some readers split on."""
    return not text.isprintable()


def usable_groups(groups: object) -> tuple[str, ...]:
    """The groups that can travel in a comma-separated header; anything else is dropped."""
    if not isinstance(groups, (list, tuple)):
        return ()
    return tuple(g for g in groups if isinstance(g, str) and g and "," not in g and not _unsafe(g))


def _underscored(name: str) -> list[str] | None:
    """Every spelling of `name` with some of its `-` written as `_` (the names `lookalike` refuses).

    None when there are more than are worth asking for one by one. A name that has a `_` already
    has no look-alikes: `lookalike` compares with every `_` read as `-`.
    """
    parts = name.split("-")
    if "_" in name:
        return []
    if len(parts) > MAX_LOOKALIKE_HYPHENS + 1:
        return None
    spellings = (
        parts[0] + "".join(map("".join, zip(seps, parts[1:], strict=True)))
        for seps in product("-_", repeat=len(parts) - 1)
    )
    return [spelling for spelling in spellings if spelling != name]


class IdentityHeaders:
    """The identity headers of a 200, and the look-alike names a request must not carry."""

    def __init__(self, settings: Settings) -> None:
        self.userid_name = settings.userid_header.encode()
        self.groups_name = settings.groups_header.encode()
        self.userid_prefix = settings.userid_prefix
        self._userid_text, self._groups_text = settings.userid_header, settings.groups_header
        names = [settings.userid_header, settings.groups_header]
        if settings.assertion_header:
            names.append(settings.assertion_header)
        self.empty: list[Header] = [(name.encode(), b"") for name in names]
        self._canonical = {name.encode() for name in names}
        spellings = [_underscored(name) for name in names]
        # What the hot path asks the request for one by one; None: too many, it scans every name for "_".
        self.lookalike_names = None if None in spellings else tuple(s for names in spellings for s in names or ())

    def for_user(self, user: str, groups: tuple[str, ...]) -> list[Header]:
        """The 200's identity headers; a user id that cannot travel in a header is refused, not cleaned."""
        return [(name.encode("latin-1"), value.encode()) for name, value in self.text_for_user(user, groups)]

    def text_for_user(
        self, user: str, groups: tuple[str, ...], prefix: str | None = None
    ) -> tuple[tuple[str, str], ...]:
        """The same as text, kept by every cached verdict: the names and a groups value many users
        share are one object each, so a large working set costs little more than its tokens.
        `prefix` replaces userid-prefix (an extra issuer's machine identities have their own)."""
        if not user or _unsafe(user) or len(user) > 1024:
            raise errors.UnsafeIdentityError("user id is empty, too long or has control characters")
        group_value = sys.intern(",".join(usable_groups(groups)))
        user_value = (self.userid_prefix if prefix is None else prefix) + user
        return ((self._userid_text, user_value), (self._groups_text, group_value))

    def lookalike(self, name: bytes) -> bool:
        """True for a header name that is not ours but reads as ours once `_` becomes `-`."""
        return name not in self._canonical and name.replace(b"_", b"-") in self._canonical

    def first_lookalike(self, names: Iterable[str]) -> str | None:
        """The first of a request's header names that `lookalike` refuses (names as the server lowercased them)."""
        for name in names:
            if "_" in name and self.lookalike(name.encode("latin-1")):
                return name
        return None
