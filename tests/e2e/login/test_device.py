"""The device flow: approved, denied and expired logins against the real provider, and polling rules."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests
from device_browser import approve_device
from login_support import PASSWORD, USER, RunningProvider

from dex_auth_login import DeviceLoginError, DevicePrompt, GrantDisabledError, TokenCache, obtain_tokens
from dex_auth_login.device import run_device_flow
from dex_auth_login.provider import DeviceAuthorization
from dex_auth_login.tokens import TokenSet, jwt_claims


def approving(*, deny: bool = False, results: list[str] | None = None):
    """A prompt callback that approves the code in a 'browser' on another thread, as a person would."""
    threads: list[threading.Thread] = []

    def on_prompt(prompt: DevicePrompt) -> None:
        def work() -> None:
            page = approve_device(prompt.verification_uri, prompt.user_code, USER, PASSWORD, deny=deny)
            if results is not None:
                results.append(page)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)

    on_prompt.threads = threads  # type: ignore[attr-defined]
    return on_prompt


@pytest.mark.e2e
def test_device_login_approved_in_the_browser(provider: RunningProvider, cache_file: Path) -> None:
    pages: list[str] = []
    prompts: list[DevicePrompt] = []
    approve = approving(results=pages)

    def on_prompt(prompt: DevicePrompt) -> None:
        prompts.append(prompt)
        approve(prompt)

    tokens = obtain_tokens(provider.url, device=True, cache=TokenCache(cache_file), on_device_prompt=on_prompt)
    assert prompts[0].verification_uri == f"{provider.issuer}/device"
    assert prompts[0].user_code and prompts[0].expires_in > 0
    claims = jwt_claims(tokens.id_token)
    assert (claims["email"], claims["aud"], claims["iss"]) == (USER, "dex-auth-cli", provider.issuer)
    assert TokenCache(cache_file).get(f"{provider.issuer} dex-auth-cli")["id_token"] == tokens.id_token
    for thread in approve.threads:
        thread.join(10)
    assert "Success" in pages[0]


@pytest.mark.e2e
def test_device_login_denied_in_the_browser(provider: RunningProvider) -> None:
    with pytest.raises(DeviceLoginError, match="denied"):
        obtain_tokens(provider.url, device=True, on_device_prompt=approving(deny=True))


@pytest.mark.e2e
def test_device_login_not_approved_in_time(start_provider) -> None:
    running = start_provider(expiry={"deviceRequests": "2s"})
    with pytest.raises(DeviceLoginError, match=r"not approved within 2 s|expired"):
        obtain_tokens(running.url, device=True, on_device_prompt=lambda prompt: None)


@pytest.mark.e2e
def test_device_flow_turned_off_is_named(start_provider) -> None:
    running = start_provider(
        oauth2={
            "skipApprovalScreen": True,
            "passwordConnector": "local",
            "grantTypes": ["authorization_code", "refresh_token", "password"],
        }
    )
    with pytest.raises(GrantDisabledError, match="device flow"):
        obtain_tokens(running.url, device=True, on_device_prompt=lambda prompt: None)


def start_device_login(url: str, client_id: str) -> dict:
    answer = requests.post(f"{url}/dex/device/code", data={"client_id": client_id, "scope": "openid email"}, timeout=10)
    answer.raise_for_status()
    return answer.json()


@pytest.mark.e2e
def test_device_login_needs_the_device_callback_registered_as_dex_matches_it(start_provider) -> None:
    """Dex sends the literal `/device/callback` as redirect_uri; an absolute URL under the issuer does not match."""
    absolute = {
        "id": "dex-auth-cli",
        "name": "CLI",
        "public": True,
        "redirectURIs": ["urn:ietf:wg:oauth:2.0:oob", "http://127.0.0.1:9/dex/device/callback"],
    }
    running = start_provider(staticClients=[absolute])
    device = start_device_login(running.url, "dex-auth-cli")
    with pytest.raises(requests.HTTPError) as refused:
        approve_device(device["verification_uri"], device["user_code"], USER, PASSWORD)
    assert refused.value.response.status_code == 400
    assert "Unregistered redirect_uri." in refused.value.response.text


@pytest.mark.e2e
def test_device_login_works_for_a_public_client_with_no_redirect_uris(start_provider) -> None:
    """Dex lets a public client that registers no URIs use /device/callback (server/oauth2.go)."""
    running = start_provider(staticClients=[{"id": "bare", "name": "Bare", "public": True}])
    device = start_device_login(running.url, "bare")
    assert "Success" in approve_device(device["verification_uri"], device["user_code"], USER, PASSWORD)


class ScriptedProvider:
    """Answers the poll with a fixed script; only for the polling arithmetic, the protocol is tested above."""

    def __init__(self, answers: list[object], expires_in: float = 30, interval: float = 5) -> None:
        self.answers = answers
        self.authorization = DeviceAuthorization("dc", "ABCD-EFGH", "https://x/dex/device", None, expires_in, interval)

    def start_device_authorization(self) -> DeviceAuthorization:
        return self.authorization

    def poll_device_token(self, device_code: str) -> object:
        assert device_code == "dc"
        return self.answers.pop(0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_polling_waits_the_interval_and_slows_down_when_asked() -> None:
    tokens = TokenSet("id", 1e10)
    clock = FakeClock()
    provider = ScriptedProvider(["authorization_pending", "slow_down", "authorization_pending", tokens])
    result = run_device_flow(provider, lambda p: None, sleep=clock.sleep, clock=lambda: clock.now)  # type: ignore[arg-type]
    assert result is tokens
    assert clock.sleeps == [5, 5, 10, 10]


def test_polling_stops_at_the_expiry_of_the_code() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(["authorization_pending"] * 100, expires_in=12, interval=5)
    with pytest.raises(DeviceLoginError, match="not approved within 12 s"):
        run_device_flow(provider, lambda p: None, sleep=clock.sleep, clock=lambda: clock.now)  # type: ignore[arg-type]
    assert clock.sleeps == [5, 5, 2]


def test_a_zero_interval_is_not_a_busy_loop() -> None:
    clock = FakeClock()
    provider = ScriptedProvider(["authorization_pending", TokenSet("id", 1)], interval=0)
    run_device_flow(provider, lambda p: None, sleep=clock.sleep, clock=lambda: clock.now)  # type: ignore[arg-type]
    assert clock.sleeps == [1, 1]
