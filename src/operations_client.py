"""The charm's side of the gatekeeper's operations endpoint, for the revoke-user action.

The charm container shares the pod's network with the gatekeeper, so the action reaches the
operations listener on localhost, a path the gateway never routes; the token from the charm's
own secret shows the gatekeeper the caller is the charm. No `ops` import.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

import pebble_layers

TIMEOUT_SECONDS = 5.0
GATEKEEPER_URL = pebble_layers.GATEKEEPER_LOCAL_URL


class OperationsError(Exception):
    """The gatekeeper did not do what was asked; the message says why and what to try."""


@dataclass(frozen=True)
class RevokedUser:
    user: str
    not_before: int
    shared: bool
    store: str

    def results(self) -> dict[str, str]:
        """Juju action results: text only."""
        return {
            "user": self.user,
            "not-before": datetime.fromtimestamp(self.not_before, UTC).isoformat().replace("+00:00", "Z"),
            "shared": "true" if self.shared else "false",
            "store": self.store,
        }


def _refusal(err: urllib.error.HTTPError) -> OperationsError:
    """The gatekeeper's JSON error says why; a status it should not answer says so plainly."""
    try:
        reason = str(json.loads(err.read(4096)).get("reason") or "")
    except (ValueError, AttributeError, OSError):
        reason = ""
    if err.code == 401:
        return OperationsError(
            "the gatekeeper refused the operations token: it has not restarted with the current one "
            "yet; try again once the unit is active"
        )
    if err.code == 404:
        return OperationsError("the gatekeeper has no operations token yet; try again once the unit is active")
    if err.code == 400:
        return OperationsError(f"the gatekeeper refused the request: {reason or 'bad user id'}")
    return OperationsError(f"the gatekeeper answered HTTP {err.code}{': ' + reason if reason else ''}")


def revoke_user(user: str, token: str, base_url: str | None = None, timeout: float = TIMEOUT_SECONDS) -> RevokedUser:
    """Ask this unit's gatekeeper to refuse every credential `user` holds; it shares it with Redis."""
    call = urllib.request.Request(  # noqa: S310 - a fixed http URL to the pod's own gatekeeper
        f"{base_url or GATEKEEPER_URL}/revoke-user",
        data=json.dumps({"user": user}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(call, timeout=timeout) as answer:  # noqa: S310 - see above
            payload = json.loads(answer.read(65536))
    except urllib.error.HTTPError as err:
        raise _refusal(err) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        raise OperationsError(
            f"the gatekeeper on this unit does not answer ({type(reason).__name__}); is it running? see juju debug-log"
        ) from None
    except ValueError:
        raise OperationsError("the gatekeeper's answer is not JSON") from None
    try:
        return RevokedUser(
            str(payload["user"]), int(payload["notBefore"]), bool(payload["shared"]), str(payload["store"])
        )
    except (KeyError, TypeError, ValueError):
        raise OperationsError("the gatekeeper's answer lacks user, notBefore, shared or store") from None
