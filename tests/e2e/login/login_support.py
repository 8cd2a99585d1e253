"""A real OpenID Provider (tests/e2e/provider, the Dex stand-in) for the login tool's tests.

Each test gets a provider configured from a Dex config written here, the way the charm renders
it: the public client `dex-auth-cli`, the static password DB as `oauth2.passwordConnector`.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt

from dex_config import cli_client

REPO = Path(__file__).resolve().parents[3]
PROVIDER_JS = REPO / "tests" / "e2e" / "provider" / "provider.js"
USER, PASSWORD = "user@example.com", "correct horse battery"
OTHER_USER, OTHER_PASSWORD = "other@example.com", "another-Pa55word"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningProvider:
    url: str  # the "deployment URL": Dex is at <url>/dex
    issuer: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def dex_config(issuer: str, port: int, **overrides: Any) -> dict[str, Any]:
    """A Dex config like the charm's: public CLI client, password DB as the password connector."""
    hashes = [bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode() for p in (PASSWORD, OTHER_PASSWORD)]
    config: dict[str, Any] = {
        "issuer": issuer,
        "storage": {"type": "memory"},
        "web": {"http": f"127.0.0.1:{port}"},
        "oauth2": {"skipApprovalScreen": True, "passwordConnector": "local"},
        "enablePasswordDB": True,
        "staticPasswords": [
            {"email": USER, "hash": hashes[0], "username": "user", "userID": "user-1", "groups": ["team-a"]},
            {"email": OTHER_USER, "hash": hashes[1], "username": "other", "userID": "user-2"},
        ],
        "staticClients": [cli_client("dex-auth-cli").to_dex()],
    }
    for key, value in overrides.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config
