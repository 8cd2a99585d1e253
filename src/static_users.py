"""The static-users option: several password users, read from a Juju secret the admin owns.

The secret holds a YAML list of `{email, username, password | hash}`. Passwords are bcrypt-hashed
by the leader, once: each hash is kept in the charm's own secret beside an HMAC of the address
and password under a key that lives there too, so a reconcile can tell a password is unchanged
without paying bcrypt, and Dex's config (and Dex) stay put. No `ops` import.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

import connectors
import dex_config
import errors
from gatekeeper import access

OPTION = "static-users"
MIN_PASSWORD = 8
MAX_USERS = 500
_BCRYPT = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
_USERNAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
_FIELDS = ("email", "username", "password", "hash")


class StaticUsersError(errors.OptionError):
    """The static-users secret's content is not a usable list; the message names the entry and field."""

    def __init__(self, problem: str) -> None:
        super().__init__(OPTION, problem)


@dataclass(frozen=True)
class Entry:
    """One user as the admin wrote it: exactly one of `password` and `hash` is set."""

    email: str
    username: str
    password: str = ""
    hash: str = ""


def parse(text: str) -> tuple[Entry, ...]:
    """The entries of the secret's YAML; StaticUsersError names the first bad entry and field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise StaticUsersError(f"the secret's content is not valid YAML{where}") from None
    if not isinstance(data, list) or not data:
        raise StaticUsersError("the secret's content must be a YAML list of {email, username, password | hash}")
    if len(data) > MAX_USERS:
        raise StaticUsersError(f"lists {len(data)} users; at most {MAX_USERS} (use a connector for more)")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(data, start=1):
        entry = _entry(index, item)
        key = entry.email.lower()
        if key in seen:
            raise StaticUsersError(f"entry {index} ({entry.email}): email is the same as entry {seen[key]}'s")
        seen[key] = index
        entries.append(entry)
    return tuple(entries)


def _entry(index: int, item: Any) -> Entry:
    if not isinstance(item, dict):
        raise StaticUsersError(f"entry {index}: must be a mapping with email, username and password or hash")
    email = item.get("email")
    if not isinstance(email, str) or access.normal_address(email.strip()) is None:
        raise StaticUsersError(f"entry {index}: email must be an address such as user@example.com")
    email = email.strip()
    where = f"entry {index} ({email})"
    unknown = sorted(str(k) for k in item if k not in _FIELDS)
    if unknown:
        raise StaticUsersError(f"{where}: {unknown[0]} is not a field (use {', '.join(_FIELDS)})")
    username = item.get("username", email.split("@", 1)[0])
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise StaticUsersError(f"{where}: username must be 1 to 64 characters without control characters")
    password, hashed = item.get("password"), item.get("hash")
    if (password is None) == (hashed is None):
        raise StaticUsersError(f"{where}: give exactly one of password and hash")
    if password is not None:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise StaticUsersError(f"{where}: password must be text of at least {MIN_PASSWORD} characters")
        return Entry(email, username, password=password)
    if not isinstance(hashed, str) or not _BCRYPT.match(hashed):
        raise StaticUsersError(f"{where}: hash must be a bcrypt hash ($2a$, $2b$ or $2y$, e.g. from htpasswd -B)")
    return Entry(email, username, hash=hashed)


def read(reference: str, resolve: connectors.SecretResolver | None) -> tuple[Entry, ...]:
    """The entries of the secret the option names; StaticUsersError says why not."""
    match = connectors.SECRET_REFERENCE.match(reference)
    if match is None or resolve is None:
        raise StaticUsersError("refers to a Juju secret, which cannot be read here")
    try:
        return parse(resolve(match["uri"], match["key"]))
    except connectors.SecretLookupError as err:
        raise StaticUsersError(str(err)) from None


def fingerprint(key: bytes, entry: Entry) -> str:
    """What says a password is unchanged, without bcrypt; keyed, so it reveals nothing on its own."""
    return hmac.new(key, f"{entry.email.lower()}\0{entry.password}".encode(), hashlib.sha256).hexdigest()


def hashes(entries: Sequence[Entry], key: bytes, known: Mapping[str, str]) -> dict[str, str]:
    """The leader's work: fingerprint -> bcrypt hash for every password entry, reusing `known`."""
    wanted = {fingerprint(key, e): e for e in entries if e.password}
    return {fp: known.get(fp) or dex_config.hash_password(e.password) for fp, e in wanted.items()}


def dex_users(
    entries: Sequence[Entry], key: bytes, known: Mapping[str, str]
) -> tuple[dex_config.StaticUser, ...] | None:
    """The users for Dex's config; None while a password has no hash yet (the leader makes it)."""
    users = []
    for entry in entries:
        hashed = entry.hash or known.get(fingerprint(key, entry))
        if not hashed:
            return None
        users.append(dex_config.StaticUser(entry.email, hashed, entry.username))
    return tuple(users)


def encode_known(known: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(known.items())))


def decode_known(text: str | None) -> dict[str, str]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
