"""JSON log lines on stdout, one object per line, for the gatekeeper and for granian.

Callers pass only log-safe fields through `extra` (user, reason, event...); token, cookie and
secret values are never handed to a logger, and `SECRET_FIELDS` are dropped as a safety net.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import time
from typing import Any

SECRET_FIELDS = frozenset({"token", "cookie", "secret", "password", "code", "id_token", "authorization"})
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in SECRET_FIELDS and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None), list)) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for both our loggers and granian's (granian takes it as log_dictconfig)."""
    numeric = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "gatekeeper.logs.JsonFormatter"}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "loggers": {
            "gatekeeper": {"handlers": ["stdout"], "level": numeric, "propagate": False},
            "_granian": {"handlers": ["stdout"], "level": numeric, "propagate": False},
            "granian.access": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        },
    }


def configure(level: str) -> None:
    logging.config.dictConfig(logging_config(level))


def fail(message: str) -> None:
    """The one line written when the process cannot start (no traceback)."""
    sys.stderr.write(f"gatekeeper: {message}\n")
