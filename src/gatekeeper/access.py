"""Who may pass the door once signed in: the allowed addresses, domains and groups.

Decided once per verified token and kept in its verdict, so the hot path pays one attribute
test. Addresses compare in one normal form, ASCII letters lower-cased and nothing else changed.
An address with a second '@', a blank, a quote or any non-ASCII character never matches: a
quoted local part can hide an '@' (`"a@evil"@corp`), and Unicode case mapping folds look-alikes
into ASCII (the Kelvin sign lower-cases to 'k'), so neither may reach a comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")
_DOMAIN_ONLY = re.compile(_DOMAIN)
MAX_ADDRESS_LENGTH = 254
ANY_LOCAL_PART = "*@"


def normal_address(value: object) -> str | None:
    """The address in the form patterns are matched in, or None when it is not a plain address."""
    if not isinstance(value, str) or len(value) > MAX_ADDRESS_LENGTH or not value.isascii():
        return None
    if _ADDRESS.fullmatch(value) is None:
        return None
    return value.lower()  # ASCII only, so only A-Z change


def normal_domain(value: str) -> str | None:
    """A domain as `*@domain` names it, or None."""
    if not value.isascii() or len(value) > MAX_ADDRESS_LENGTH or _DOMAIN_ONLY.fullmatch(value) is None:
        return None
    return value.lower()


def verified_email(claims: Mapping[str, Any]) -> str:
    """The token's address, unless the provider says it is not verified (then nothing)."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        return ""
    return email


@dataclass(frozen=True)
class AccessPolicy:
    """allowed-emails and allowed-groups: with neither set, every signed-in user passes;
    otherwise a user passes who has a listed address, an address in a listed domain, or a
    listed group (group names compare exactly, as the provider sends them)."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, patterns: Iterable[str], groups: Iterable[str]) -> AccessPolicy:
        """From patterns already in normal form (rules.email_patterns) and group names."""
        emails = {p for p in patterns if not p.startswith(ANY_LOCAL_PART)}
        domains = {p[len(ANY_LOCAL_PART) :] for p in patterns if p.startswith(ANY_LOCAL_PART)}
        return cls(frozenset(emails), frozenset(domains), frozenset(groups))

    @property
    def restricted(self) -> bool:
        return bool(self.emails or self.domains or self.groups)

    def allows(self, email: str, groups: Iterable[str]) -> bool:
        if not self.restricted:
            return True
        if self.groups and not self.groups.isdisjoint(groups):
            return True
        address = normal_address(email)
        if address is None:
            return False
        return address in self.emails or address.rpartition("@")[2] in self.domains
