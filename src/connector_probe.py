"""Find the connectors Dex cannot open, without stopping the ones it can.

Dex opens every connector when it starts and, with ContinueOnConnectorFailure (its default,
pkg/featureflags/set.go), logs "server: Failed to open connector" with the connector's `id` and
`err` and serves the others (server/server.go, NewServer). The running Dex's log is out of the
charm's reach (ops has no Pebble logs API), and turning the flag off would stop every login for
one broken connector. So the charm runs Dex once more, as a probe: the same connectors and
files, memory storage, and a telemetry address Dex cannot listen on, so that it exits right
after opening the connectors (cmd/dex/serve.go opens them in NewServer, before listening). Pure:
the charm runs the command and hands the output back here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import yaml

import pebble_layers

PROBE_CONFIG_PATH = f"{pebble_layers.DEX_CONFIG_DIR}/probe.yaml"
PROBE_RESULT_PATH = f"{pebble_layers.DEX_CONFIG_DIR}/probe-result.json"
PROBE_COMMAND = (pebble_layers.DEX_BINARY, "serve", PROBE_CONFIG_PATH)
PROBE_ENVIRONMENT = {"DEX_EXPAND_ENV": "false", "DEX_CONTINUE_ON_CONNECTOR_FAILURE": "true"}
PROBE_TIMEOUT = 60.0
# A port Go's net.Listen refuses at once ("invalid port"): Dex stops before serving anything.
_UNLISTENABLE = "127.0.0.1:-1"
_FAILED = "server: Failed to open connector"
MAX_REASON = 200


@dataclass(frozen=True)
class ConnectorFailure:
    connector_id: str
    reason: str


def probe_config(dex_config_text: str) -> str:
    """Dex's config with memory storage and no listener; connectors and files untouched."""
    config: dict[str, Any] = yaml.safe_load(dex_config_text)
    config["storage"] = {"type": "memory"}
    config["telemetry"] = {"http": _UNLISTENABLE}
    config["web"] = {"http": _UNLISTENABLE}
    config["logger"] = {"level": "error", "format": "json"}
    return yaml.safe_dump(config, sort_keys=False)


def probe_key(dex_config_text: str, files: dict[str, str]) -> str:
    """What a probe result holds for: the connectors and the files they read."""
    config = yaml.safe_load(dex_config_text) or {}
    digest = hashlib.sha256(json.dumps(config.get("connectors") or [], sort_keys=True).encode())
    for path, content in sorted(files.items()):
        digest.update(b"\0" + path.encode() + b"\0" + content.encode())
    return digest.hexdigest()[:16]


def failures_from_log(output: str) -> list[ConnectorFailure]:
    """Dex's JSON log lines (slog, on stderr) for the connectors it could not open."""
    found: list[ConnectorFailure] = []
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("msg") == _FAILED and isinstance(record.get("id"), str):
            reason = " ".join(str(record.get("err") or "unknown error").split())
            if len(reason) > MAX_REASON:
                reason = reason[: MAX_REASON - 1] + "…"
            found.append(ConnectorFailure(record["id"], reason))
    return found


def result_text(key: str, failures: list[ConnectorFailure]) -> str:
    return json.dumps({"key": key, "failures": [{"id": f.connector_id, "reason": f.reason} for f in failures]})


def read_result(text: str | None, key: str) -> list[ConnectorFailure] | None:
    """The failures a stored probe found, or None when it was for other connectors (or none ran)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        if data.get("key") != key:
            return None
        return [ConnectorFailure(str(f["id"]), str(f["reason"])) for f in data["failures"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def status_message(failures: list[ConnectorFailure]) -> str:
    first = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return (
        f'connector "{first.connector_id}" cannot be opened by Dex: {first.reason}{more}; '
        "Dex leaves it out (see juju debug-log)"
    )
