"""The identity headers the gatekeeper answers with, prepared as ASGI byte pairs.

Every 200 carries every identity header (empty when anonymous): gateways overwrite the client's
copies with ours, and Caddy 2.6 would otherwise forward its placeholder text. Look-alike names
(`kubeflow_userid`) are not overwritten by gateways, so a request carrying one is refused.
"""

from __future__ import annotations

from gatekeeper.config import Settings

Header = tuple[bytes, bytes]


class UnsafeIdentityError(ValueError):
    """A user id or group cannot be put in an HTTP header as it is."""


def _unsafe(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def usable_groups(groups: object) -> tuple[str, ...]:
    """The groups that can travel in a comma-separated header; anything else is dropped."""
    if not isinstance(groups, (list, tuple)):
        return ()
    return tuple(g for g in groups if isinstance(g, str) and g and "," not in g and not _unsafe(g))


class IdentityHeaders:
    def __init__(self, settings: Settings) -> None:
        self.userid_name = settings.userid_header.encode()
        self.groups_name = settings.groups_header.encode()
        self.userid_prefix = settings.userid_prefix
        self.empty: list[Header] = [(self.userid_name, b""), (self.groups_name, b"")]
        self._canonical = {self.userid_name, self.groups_name}

    def for_user(self, user: str, groups: tuple[str, ...]) -> list[Header]:
        if not user or _unsafe(user) or len(user) > 1024:
            raise UnsafeIdentityError("user id is empty, too long or has control characters")
        value = (self.userid_prefix + user).encode()
        return [(self.userid_name, value), (self.groups_name, ",".join(usable_groups(groups)).encode())]

    def lookalike(self, name: bytes) -> bool:
        """True for a header name that is not ours but reads as ours once `_` becomes `-`."""
        return name not in self._canonical and name.replace(b"_", b"-") in self._canonical
