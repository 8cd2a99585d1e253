"""What the charm publishes to Charmed Kubeflow's istio-pilot on `ingress` and `ingress-auth`.

Read at istio-pilot's source (canonical/istio-operators, charms/istio-pilot at commit 48a7d11):
- the data travels the serialized-data-interface way: the app databag's `_supported_versions`
  (a YAML list) and `data` (a YAML mapping), validated against the schemas in its metadata.yaml;
- `ingress` gives one VirtualService per related application (src/charm.py,
  `get_routes_from_ingress_interface`; src/manifests/virtual_service.yaml.j2): `prefix` matched,
  rewritten to `rewrite`, sent to `<service>.<namespace>.svc.cluster.local:<port>`. One route, so
  the charm routes Dex's pages, and the gatekeeper's own pages live under it (`/dex/authservice`),
  answered through the check: Envoy checks only a request that matches a route (envoyproxy/envoy,
  source/extensions/filters/http/ext_authz/ext_authz.cc, `getPerRouteFlags`);
- `ingress-auth` gives one EnvoyFilter with Envoy's ext_authz (src/manifests/auth_filter.yaml.j2)
  on every request through the gateway, asking `http://<service>.<istio-pilot's namespace>.svc
  .cluster.local:<port>` with the original path and no prefix, passing only
  `allowed-request-headers` and letting `allowed-response-headers` replace the client's on an
  allowed request. Hence a listener of its own where every path is a check (EXT_AUTHZ_PORT), and
  istio-pilot must be in the same model (it assumes the auth service's namespace is its own).
Pure: the charm writes these dicts into the app databags.
"""

from __future__ import annotations

from typing import Any

import yaml

import ambassador
import pebble_layers

INGRESS = "ingress"
INGRESS_AUTH = "ingress-auth"
# Our data is valid under both versions istio-pilot reads (v1 lacks only `namespace`).
VERSIONS = {INGRESS: ["v1", "v2"], INGRESS_AUTH: ["v1"]}


def ingress_route(app_name: str, namespace: str) -> dict[str, Any]:
    """Dex's pages, under the same prefix as in Dex's issuer URL."""
    return {
        "service": app_name,
        "port": pebble_layers.DEX_WEB_PORT,
        "namespace": namespace,
        "prefix": pebble_layers.DEX_PATH,
        "rewrite": pebble_layers.DEX_PATH,
    }


def ingress_auth(app_name: str, *identity_headers: str) -> dict[str, Any]:
    """The check, on the listener where every path is one; what it reads and what it answers."""
    return {
        "service": app_name,
        "port": pebble_layers.EXT_AUTHZ_PORT,
        "allowed-request-headers": ambassador.check_request_headers(*identity_headers),
        "allowed-response-headers": list(identity_headers),
    }


def databag(endpoint: str, data: dict[str, Any]) -> dict[str, str]:
    """serialized-data-interface's nested form, as istio-pilot's `get_interface` reads it."""
    return {"_supported_versions": yaml.safe_dump(VERSIONS[endpoint]), "data": yaml.safe_dump(data)}
