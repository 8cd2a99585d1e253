"""The do-nothing ASGI app, served exactly as `python -m gatekeeper` serves the gatekeeper.

It answers every request 200 with an empty body, so its rate is the ceiling of the gatekeeper's
server stack (granian, ASGI, same workers and options) on this machine.

    python -m bench.noop_app --port N [--workers W]
"""

from __future__ import annotations

import argparse
from typing import Any

_START = {"type": "http.response.start", "status": 200, "headers": []}
_BODY = {"type": "http.response.body", "body": b""}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send(_START)
        await send(_BODY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    # The same options as src/gatekeeper/__main__.py, so only the app differs.
    Granian(
        "bench.noop_app:app",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        websockets=False,
        log_level=LogLevels.warning,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    main()
