"""The device authorization flow: show a code, wait for the user to approve it in a browser."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import DeviceLoginError
from .provider import Provider
from .tokens import TokenSet

SLOW_DOWN_STEP = 5.0


@dataclass(frozen=True)
class DevicePrompt:
    """What the user needs to approve the login in a browser."""

    verification_uri: str
    user_code: str
    verification_uri_complete: str | None
    expires_in: float


def print_prompt(prompt: DevicePrompt) -> None:
    """Default prompt: on stderr, so stdout carries only the token."""
    lines = [f"To log in, open {prompt.verification_uri} in a browser and enter the code {prompt.user_code}"]
    if prompt.verification_uri_complete:
        lines.append(f"(or open {prompt.verification_uri_complete})")
    lines.append(f"Waiting up to {int(prompt.expires_in)} s for the login to be approved...")
    print("\n".join(lines), file=sys.stderr, flush=True)


def run_device_flow(
    provider: Provider,
    on_prompt: Callable[[DevicePrompt], None] = print_prompt,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TokenSet:
    """Poll until the user approves, denies, or the code expires; slow down when Dex asks to."""
    authorization = provider.start_device_authorization()
    on_prompt(
        DevicePrompt(
            authorization.verification_uri,
            authorization.user_code,
            authorization.verification_uri_complete,
            authorization.expires_in,
        )
    )
    deadline = clock() + authorization.expires_in
    interval = max(authorization.interval, 1.0)
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise DeviceLoginError(
                f"the login was not approved within {int(authorization.expires_in)} s; run the command again"
            )
        sleep(min(interval, remaining))
        result = provider.poll_device_token(authorization.device_code)
        if isinstance(result, TokenSet):
            return result
        if result == "slow_down":
            interval += SLOW_DOWN_STEP
