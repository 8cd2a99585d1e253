"""The smallest AuthService + Mapping pair the gateway emulation takes, and where its services run.

For tests of the configs built around a gateway (the benchmark's chains), not of the charm's
own resources.
"""

from __future__ import annotations

from typing import Any

RESOURCES: list[dict[str, Any]] = [
    {
        "apiVersion": "getambassador.io/v3alpha1",
        "kind": "AuthService",
        "metadata": {"name": "auth"},
        "spec": {
            "auth_service": "dex-auth.m:8080",
            "path_prefix": "/authservice/check",
            "allowed_request_headers": ["cookie"],
            "allowed_authorization_headers": ["kubeflow-userid"],
        },
    },
    {
        "apiVersion": "getambassador.io/v3alpha1",
        "kind": "Mapping",
        "metadata": {"name": "app"},
        "spec": {"prefix": "/", "rewrite": "/", "service": "app:80"},
    },
]
SERVICES = {"dex-auth.m:8080": "127.0.0.1:9001", "app:80": "127.0.0.1:9002"}
