"""`juju config` flows through: the charm re-renders, Pebble restarts what changed, the gateway
reloads, and the running chain follows."""

from __future__ import annotations

import pytest
import requests
from harness import form_login
from harness.configs import base_config
from harness.stack import Stack
from harness.upstream import Echo

pytestmark = pytest.mark.e2e

GITHUB = """
- type: github
  id: github
  name: GitHub
  config:
    clientID: abc123
    clientSecret: not-a-real-secret-1234
    redirectURI: {public}/dex/callback
"""


def can_log_in(stack: Stack, username: str, password: str) -> bool:
    session = requests.Session()
    page, form = form_login.open_login_page(session, stack.url("/cfg"))
    result = form_login.submit_login(session, page, form, username, password)
    if result.response.status_code != 200:
        return False
    try:  # the upstream's page; Dex's login form again means the login failed
        return Echo.parse(result.response.text).values(stack.userid_header) == [username]
    except ValueError:
        return False


def test_changing_the_static_user_restarts_dex_only_and_new_credentials_work(stacks) -> None:
    stack = stacks.start(base_config(), name="static-user")
    old_user, old_password = stack.username, stack.password
    assert can_log_in(stack, old_user, old_password)
    session = requests.Session()
    assert form_login.login(session, stack.url("/kept"), old_user, old_password).response.status_code == 200

    done = stack.reconfigure(
        base_config(**{"static-username": "admin@example.com", "static-password": "N3w-pass-word"})
    )
    assert done.provider and not done.gatekeeper and not done.gateway, done
    assert can_log_in(stack, "admin@example.com", "N3w-pass-word")
    assert not can_log_in(stack, old_user, old_password)
    assert not can_log_in(stack, "admin@example.com", old_password)
    # Sessions issued before the change are the gatekeeper's, which did not restart.
    assert session.get(stack.url("/kept"), headers={"Accept": "application/json"}, timeout=10).status_code == 200


def test_a_connector_reaches_the_dex_config_and_the_stand_in_says_it_cannot_emulate_it(stacks) -> None:
    stack = stacks.start(base_config(), name="connectors")
    done = stack.reconfigure(base_config(connectors=GITHUB.format(public=stack.public_url)))
    assert done.provider and not done.gatekeeper, done
    connectors = stack.outputs.dex_config_data["connectors"]
    assert [c["type"] for c in connectors] == ["github"]
    log = stack.processes.processes["provider"].log_text()
    assert "NOT EMULATED" in log and "type=github" in log
    assert "not-a-real-secret-1234" not in log
    # The static user still logs in; the rest of the chain did not notice.
    assert can_log_in(stack, stack.username, stack.password)


def test_a_bad_connectors_value_leaves_the_running_chain_alone(stacks) -> None:
    stack = stacks.start(base_config(), name="bad-connectors")
    before = stack.dex_config_path.read_text()
    done = stack.reconfigure(base_config(connectors="- type: github\n  id: gh\n"))
    assert not (done.provider or done.gatekeeper or done.gateway), done
    assert stack.outputs.unit_status.startswith("blocked"), stack.outputs.unit_status
    assert "connector" in stack.outputs.unit_status.lower()
    assert stack.dex_config_path.read_text() == before
    assert can_log_in(stack, stack.username, stack.password)


def test_changing_the_userid_header_flows_to_gateway_and_gatekeeper(stacks) -> None:
    stack = stacks.start(base_config(), name="userid-header")
    done = stack.reconfigure(base_config(**{"userid-header": "x-auth-user"}))
    assert done.gatekeeper and done.gateway, done
    session = requests.Session()
    result = form_login.login(session, stack.url("/who"), stack.username, stack.password)
    echo = Echo.parse(result.response.text)
    assert echo.values("x-auth-user") == [stack.username]
    assert echo.values("kubeflow-userid") == []
