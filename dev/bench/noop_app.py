"""The do-nothing app, served exactly as `python -m gatekeeper` serves the gatekeeper (RSGI).

It answers every request 200 with an empty body, so its rate is the ceiling of the gatekeeper's
server stack (granian, RSGI, same workers and options) on this machine.

    python -m bench.noop_app --port N [--workers W]
"""

from __future__ import annotations

import argparse
from typing import Any


class NoopApp:
    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        proto.response_empty(200, [])


app = NoopApp()


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
        interface=Interfaces.RSGI,
        workers=args.workers,
        websockets=False,
        log_level=LogLevels.warning,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    main()
