"""Both workloads' logs to Loki (`logging`, interface loki_push_api), by Pebble's log forwarding.

Each Loki unit publishes `endpoint`, JSON `{"url": ".../loki/api/v1/push"}`, in its unit data
(canonical/loki-k8s-operator lib/charms/loki_k8s/v1/loki_push_api.py, LIBPATCH 30, 8bcecbf2f:
`_endpoint`, and `LogForwarder._extract_urls` on our side of it). Pebble forwards every
service's output to each `log-targets` entry (canonical/pebble internals/plan/plan.go,
e712a584): `type` loki, a non-empty `location`, `services` naming `all` or a service of the
plan, no label starting `pebble_`. A layer cannot take a target out of the plan again, so a
target whose Loki went away is kept with `services: [-all]`, which stops its forwarding
(`Service.LogsTo` reads the list from the end). Pure: no `ops`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENDPOINT = "logging"
LAYER = "log-forwarding"


@dataclass(frozen=True)
class LokiEndpoints:
    urls: dict[str, str]  # target name (the Loki unit) -> push URL
    unusable: tuple[str, ...] = ()  # Loki units whose `endpoint` could not be read


def endpoints(units: Mapping[str, Mapping[str, str]]) -> LokiEndpoints:
    """From each related Loki unit's data; a unit that has not published yet is no problem."""
    urls: dict[str, str] = {}
    unusable: list[str] = []
    for unit, data in sorted(units.items()):
        text = data.get("endpoint")
        if not text:
            continue
        try:
            url = json.loads(text)["url"]
        except (ValueError, TypeError, KeyError):
            unusable.append(unit)
            continue
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            urls[unit] = url
        else:
            unusable.append(unit)
    return LokiEndpoints(urls, tuple(unusable))


def topology_labels(app_name: str, model: str, model_uuid: str, unit_name: str) -> dict[str, str]:
    """The labels COS queries logs by, as the library sets them; Pebble adds `pebble_service`."""
    return {
        "product": "Juju",
        "charm": "dex-auth",
        "juju_model": model,
        "juju_model_uuid": model_uuid,
        "juju_application": app_name,
        "juju_unit": unit_name,
        "job": f"juju_{model}_{model_uuid[:8]}_{app_name}",
    }


def app_databag(app_name: str, model: str, model_uuid: str, unit_name: str) -> dict[str, str]:
    """Who the logs are from, as the library's consumer publishes it (Loki names alert files by it)."""
    topology = {
        "model": model,
        "model_uuid": model_uuid,
        "application": app_name,
        "unit": unit_name,
        "charm_name": "dex-auth",
    }
    return {"metadata": json.dumps(topology)}


def layer(wanted: Mapping[str, str], planned: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, Any] | None:
    """Forward to every wanted Loki; stop forwarding to a planned one that is no longer wanted.

    `planned` is the plan's targets that still forward (name -> location). None: nothing to change.
    """
    targets: dict[str, Any] = {
        name: {"override": "replace", "type": "loki", "location": url, "services": ["all"], "labels": dict(labels)}
        for name, url in wanted.items()
    }
    for name, location in planned.items():
        if name not in wanted:
            targets[name] = {"override": "replace", "type": "loki", "location": location, "services": ["-all"]}
    if not targets:
        return None
    return {"summary": "dex-auth log forwarding to Loki", "log-targets": targets}
