"""What the charm publishes on `metrics-endpoint` (interface prometheus_scrape) for COS.

The databags follow the interface's schema in canonical/charm-relation-interfaces
(interfaces/prometheus_scrape/v0/schema.py and docs/json_schemas/prometheus_scrape/v0/
provider.json, commit 4cf84d1): app data `scrape_metadata`, `scrape_jobs` and `alert_rules` as
JSON text, unit data `prometheus_scrape_unit_address`, `_name` and `_path`. A target
`*:<port>` means every unit's address (Prometheus's side expands it). Each job's targets carry a
`workload` label so the alert rules can tell the gatekeeper's series from Dex's. Pure: no `ops`.
"""

from __future__ import annotations

import json
from string import Template
from typing import Any

import pebble_layers

ENDPOINT = "metrics-endpoint"
CHECK_P99_LIMIT_SECONDS = 0.010


def _targets(port: int, workload: str) -> dict[str, Any]:
    return {"targets": [f"*:{port}"], "labels": {"workload": workload}}


def scrape_jobs() -> list[dict[str, Any]]:
    """The gatekeeper's /metrics on every unit, and Dex's telemetry /metrics."""
    return [
        {
            "job_name": "gatekeeper",
            "metrics_path": "/metrics",
            "static_configs": [
                {"targets": [f"*:{pebble_layers.GATEKEEPER_PORT}"], "labels": {"workload": "gatekeeper"}}
            ],
        },
        {
            "job_name": "dex",
            "metrics_path": "/metrics",
            "static_configs": [_targets(pebble_layers.DEX_TELEMETRY_PORT, "dex")],
        },
    ]


def _rule(alert: str, expr: str, wait: str, severity: str, summary: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": wait,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    }


# (alert, PromQL with $gk / $dex for this app's label matchers, for, severity, summary)
_RULES = (
    ("DexAuthGatekeeperDown", "up{$gk} == 0", "2m", "critical",
     "a gatekeeper unit does not answer its scrape: requests checked there are refused"),
    ("DexAuthDexDown", "up{$dex} == 0", "2m", "critical",
     "Dex does not answer its telemetry scrape: nobody can log in"),
    ("DexAuthDenialSpike",
     'sum(rate(gatekeeper_checks_total{$gk,outcome="unauthorized"}[5m]))'
     " > 0.5 * sum(rate(gatekeeper_checks_total{$gk}[5m])) and sum(rate(gatekeeper_checks_total{$gk}[5m])) > 1",
     "10m", "warning", "more than half of the checks are refused"),
    ("DexAuthCheckErrors",
     'sum(rate(gatekeeper_checks_total{$gk,outcome=~"unavailable|bad_request"}[5m]))'
     " > 0.05 * sum(rate(gatekeeper_checks_total{$gk}[5m]))",
     "10m", "warning", "more than 5% of the checks end in an error"),
    ("DexAuthSlowCheck",
     "histogram_quantile(0.99, sum by (le) (rate(gatekeeper_check_duration_seconds_bucket{$gk}[5m])))"
     f" > {CHECK_P99_LIMIT_SECONDS}",
     "10m", "warning", "the check's p99 is over 10 ms"),
    ("DexAuthLoginsFailing",
     'sum(rate(gatekeeper_logins_total{$gk,result="failure"}[15m]))'
     ' > sum(rate(gatekeeper_logins_total{$gk,result="success"}[15m]))',
     "15m", "warning", "more login callbacks fail than succeed"),
)  # fmt: skip


def alert_rules(app_name: str, model: str) -> dict[str, Any]:
    """Down, refusal or error spikes, a slow check, failing logins; scoped to this application."""
    scope = f'juju_application="{app_name}",juju_model="{model}"'
    selectors = {"gk": f'{scope},workload="gatekeeper"', "dex": f'{scope},workload="dex"'}
    rules = [
        _rule(alert, Template(expr).substitute(selectors), wait, severity, summary)
        for alert, expr, wait, severity, summary in _RULES
    ]
    return {"groups": [{"name": f"{app_name}-gatekeeper", "rules": rules}]}


def app_databag(app_name: str, model: str, model_uuid: str, unit_name: str) -> dict[str, str]:
    metadata = {
        "model": model,
        "model_uuid": model_uuid,
        "application": app_name,
        "unit": unit_name,
        "charm_name": "dex-auth",
    }
    return {
        "scrape_metadata": json.dumps(metadata),
        "scrape_jobs": json.dumps(scrape_jobs()),
        "alert_rules": json.dumps(alert_rules(app_name, model)),
    }


def unit_databag(app_name: str, model: str, unit_name: str) -> dict[str, str]:
    """The unit's pod address through the application's headless service, as Juju names it."""
    pod = unit_name.replace("/", "-")
    return {
        "prometheus_scrape_unit_address": f"{pod}.{app_name}-endpoints.{model}.svc.cluster.local",
        "prometheus_scrape_unit_name": unit_name,
        "prometheus_scrape_unit_path": "",  # no ingress in front: the address is scraped as is
    }
