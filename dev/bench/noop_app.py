"""The do-nothing app, served exactly as `python -m gatekeeper` serves the gatekeeper (RSGI).

It answers every request 200 with an empty body, so its rate is the ceiling of the gatekeeper's
server stack (granian, RSGI, same workers and options) on this machine.

With `--least-check` it does the least any check must do on this stack, and nothing more: it
reads the two credential headers and asks for the two look-alike identity names, as the
gatekeeper's cached path does, and answers 200 with a user's two identity headers (granian
converts both ways). What the gatekeeper costs beyond this is its own code.

    python -m bench.noop_app --port N [--workers W] [--least-check]
"""

from __future__ import annotations

import argparse
from typing import Any


class NoopApp:
    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        proto.response_empty(200, [])


IDENTITY = [("kubeflow-userid", "user@example.com"), ("kubeflow-groups", "kubeflow-users,team-1")]


class LeastCheckApp:
    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        headers = scope.headers
        if (
            headers.get("authorization") is None
            and "kubeflow_userid" not in headers
            and "kubeflow_groups" not in headers
        ):
            headers.get("cookie")
            proto.response_empty(200, IDENTITY)
        else:
            proto.response_empty(401, [])


app = NoopApp()
least_check = LeastCheckApp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--least-check", action="store_true", help="read the credentials, answer identity headers")
    args = parser.parse_args()

    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    # The same options as src/gatekeeper/__main__.py, so only the app differs.
    Granian(
        "bench.noop_app:least_check" if args.least_check else "bench.noop_app:app",
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
