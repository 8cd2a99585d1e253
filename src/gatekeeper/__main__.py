"""`python3 -m gatekeeper`: check the settings, then serve the app with granian (RSGI).

The settings are loaded here first so a bad variable stops the process with exit status 2 and
one readable line, before any worker starts; each worker then builds its own app from the
environment through the `create_app` factory.
"""

from __future__ import annotations

import os
import sys

from gatekeeper.assertion_keys import load_keys
from gatekeeper.config import ConfigError, load_settings
from gatekeeper.logs import fail, logging_config
from gatekeeper.rules import InvalidValue


def main() -> int:
    try:
        settings = load_settings(os.environ)
        if settings.assertion_keys:  # read with cryptography, which config.py does without
            load_keys(settings.assertion_keys)
    except ConfigError as exc:
        fail(f"configuration error: {exc}")
        return 2
    except InvalidValue as exc:
        fail(f"configuration error: GATEKEEPER_ASSERTION_KEYS {exc.problem}")
        return 2

    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    server = Granian(
        "gatekeeper.app:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,
        workers=settings.workers,
        websockets=False,
        log_level=LogLevels(settings.log_level),
        log_dictconfig=logging_config(settings.log_level),
        log_access=False,
    )
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
