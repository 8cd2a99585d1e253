"""What the charm publishes on `grafana-dashboard` (interface grafana_dashboard) for COS.

charm-relation-interfaces has no schema for this interface (4cf84d1), so the data follows what
Grafana's side reads, in canonical/grafana-k8s-operator lib/charms/grafana_k8s/v0/
grafana_dashboard.py (LIBPATCH 48, commit 382e463): app data `dashboards`, JSON with
`templates` keyed `file:<name>`, each with `charm`, `content` (the dashboard JSON, LZMA then
base64), `juju_topology`, `inject_dropdowns` and `dashboard_alt_uid`. Grafana adds the topology
dropdowns ($juju_model, $juju_application, $juju_unit, ...) and binds `${prometheusds}`
to its Prometheus. The library sends a fresh random `uuid` on every update so Juju sees a
change; here it is the content's hash, so an unchanged dashboard does not wake Grafana up.
Pure: no `ops`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import lzma
from pathlib import Path
from typing import Any

ENDPOINT = "grafana-dashboard"
CHARM_NAME = "dex-auth"
DASHBOARDS_DIR = Path(__file__).parent / "grafana_dashboards"
# The path the uid is made from, as the library does with the path under the charm's root.
_CHARM_RELATIVE_DIR = "src/grafana_dashboards"


def _hash(text: str, length: int) -> str:
    return hashlib.shake_256(text.encode()).hexdigest(length // 2)


def dashboard_uid(file_name: str) -> str:
    """Grafana's 40-character limit; the same for every deployment of this charm, so a link to
    the dashboard survives a redeploy (the library's DashboardPath40UID rule)."""
    return _hash(f"{CHARM_NAME}-{_CHARM_RELATIVE_DIR}/{file_name}", 40)


def _compress(text: str) -> str:
    return base64.b64encode(lzma.compress(text.encode())).decode()


def _template(path: Path, topology: dict[str, str]) -> dict[str, Any]:
    dashboard = json.loads(path.read_text())
    dashboard["uid"] = dashboard_uid(path.name)
    dashboard["tags"] = [*dashboard.get("tags", []), f"charm: {CHARM_NAME}"]
    key = f"file:{path.stem}"
    return {
        "charm": CHARM_NAME,
        "content": _compress(json.dumps(dashboard, sort_keys=True)),
        "juju_topology": topology,
        "inject_dropdowns": True,
        "dashboard_alt_uid": _hash(f"{CHARM_NAME}-{key}", 16),
    }


def app_databag(app_name: str, model: str, model_uuid: str, unit_name: str) -> dict[str, str]:
    topology = {"model": model, "model_uuid": model_uuid, "application": app_name, "unit": unit_name}
    templates = {f"file:{path.stem}": _template(path, topology) for path in sorted(DASHBOARDS_DIR.glob("*.json"))}
    # The unit that wrote it is in the topology; it changes with the leader, not with each hook.
    digest = _hash(json.dumps(templates, sort_keys=True), 32)
    return {"dashboards": json.dumps({"templates": templates, "uuid": digest}, sort_keys=True)}
