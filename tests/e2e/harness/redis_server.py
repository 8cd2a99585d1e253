"""A real `redis-server` (Debian's package) for the shared revocation store, on a free port.

No persistence (`--save ""`, no AOF): a Redis that restarts comes back empty, the hardest case,
which the gatekeepers must refill from what they hold.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from harness.processes import ManagedProcess, ProcessGroup, free_port

NAME = "redis"


class RedisServer:
    """One redis-server process, stopped and started again on the same port and password."""

    def __init__(self, processes: ProcessGroup, root: Path, password: str = "") -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (scripts/setup installs it)")
        self.processes, self.root, self.password = processes, root, password
        self.port = free_port()

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def relation_data(self) -> dict[str, str]:
        """What a Redis unit puts in its data on the `redis` relation (src/redis_relation.py).

        redis-k8s turns its password off on that relation; the reactive Redis charm gave it as
        `password`, which is how a password reaches the charm here.
        """
        data = {"hostname": "127.0.0.1", "port": str(self.port)}
        return {**data, "password": self.password} if self.password else data

    def url_with_password(self, password: str) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/0"

    def start(self) -> ManagedProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(self.root)]
        if self.password:
            argv += ["--requirepass", self.password]
        return self.processes.start(NAME, argv, cwd=self.root, ready=self._answers, ready_what="PING")

    def stop(self) -> None:
        self.processes.stop(NAME)

    def _answers(self) -> bool:
        """PING over a raw socket: a NOAUTH error is an answer too."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64)[:1] in (b"+", b"-")
        except OSError:
            return False
