"""What the cache keeps of the password that made a token: enough to tell a wrong one, no more.

A script that passes its password on every call must not get a cached token back for a password
Dex would refuse. Keeping a salted scrypt digest next to the tokens lets the cache answer only the
password that logged in, offline and cheaply; any other password goes to Dex, which decides.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

_SCHEME = "scrypt-n4096-r8-p1"
_SALT_BYTES = 16


def _digest(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=4096, r=8, p=1, dklen=32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def make_verifier(password: str) -> str:
    salt = os.urandom(_SALT_BYTES)
    return f"{_SCHEME}${_b64(salt)}${_b64(_digest(password, salt))}"


@functools.lru_cache(maxsize=8)
def matches(password: str, verifier: str | None) -> bool:
    """False for a missing or foreign verifier too: then Dex checks the password."""
    scheme, _, rest = (verifier or "").partition("$")
    salt_text, _, digest_text = rest.partition("$")
    if scheme != _SCHEME or not salt_text or not digest_text:
        return False
    try:
        salt = base64.urlsafe_b64decode(salt_text + "=" * (-len(salt_text) % 4))
        digest = base64.urlsafe_b64decode(digest_text + "=" * (-len(digest_text) % 4))
    except ValueError:
        return False
    return hmac.compare_digest(_digest(password, salt), digest)
