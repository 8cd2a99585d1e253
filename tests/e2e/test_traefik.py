"""Behind Traefik's forward-auth, configured from what the charm wrote on the forward-auth relation.

The charm is related to Traefik (forward-auth, Traefik naming the harness app among its ingress
apps) and to the harness app on auth-proxy (its data as the auth-proxy library's requirer writes
it, with `public` as an allowed endpoint). Caddy's forward_auth then asks `GET <decisions_address>`
with the X-Forwarded-* headers and copies the `headers` the charm named, as Traefik's ForwardAuth
middleware does (harness/stack.py, `_traefik_config`).
"""

from __future__ import annotations

import json

import pytest
import requests
from harness import form_login
from harness.stack import Stack
from harness.upstream import Echo

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def traefik(stacks) -> Stack:
    return stacks.start(gateway_mode="traefik", name="traefik")


def test_what_the_charm_tells_traefik(traefik):
    data = traefik.outputs.app_data["forward-auth"]
    assert data["decisions_address"] == "http://dex-auth.e2e.svc.cluster.local:8080/authservice/forward-auth"
    assert json.loads(data["app_names"]) == ["e2e-upstream"]
    assert json.loads(data["headers"]) == ["kubeflow-userid", "kubeflow-groups"]


def test_a_browser_logs_in_and_the_app_gets_the_identity_not_the_forged_one(traefik):
    session = requests.Session()
    result = form_login.login(session, traefik.url("/notebooks"), traefik.username or "", traefik.password or "")
    assert result.response.status_code == 200, result.describe()
    assert Echo.parse(result.response.text).values("kubeflow-userid") == [traefik.username]
    forged = session.get(traefik.url("/notebooks"), headers={"kubeflow-userid": "admin@example.com"}, timeout=10)
    assert Echo.parse(forged.text).values("kubeflow-userid") == [traefik.username]


def test_the_apps_allowed_endpoint_needs_no_login_and_carries_no_identity(traefik):
    public = requests.get(
        traefik.url("/public/status"), headers={"kubeflow-userid": "admin@example.com", **JSON}, timeout=10
    )
    assert public.status_code == 200
    assert Echo.parse(public.text).values("kubeflow-userid") in ([], [""])
    assert requests.get(traefik.url("/private"), headers=JSON, timeout=10).status_code == 401
