"""The operations endpoints, at the root of the listener and never routed publicly: health,
readiness, the revocation store's state, metrics, and `POST /revoke-user` (the charm's action).

The gateway only sends the gatekeeper `<prefix>/...` (its own pages and the checks), so these
paths are reached from inside the pod; `revoke-user` also asks for the operations token, since
anything in the cluster can reach the pod's port.
"""

from __future__ import annotations

import hmac
import json
import logging
from time import time

from gatekeeper import errors, request
from gatekeeper.check import Authenticator
from gatekeeper.endpoints import Handler
from gatekeeper.metrics import Metrics
from gatekeeper.provider import Provider
from gatekeeper.request import Request
from gatekeeper.responses import Response, json_response, text_response

log = logging.getLogger("gatekeeper.operations")

MAX_USER_ID = 1024


class Operations:
    def __init__(self, provider: Provider, auth: Authenticator, metrics: Metrics, token: str) -> None:
        self.provider, self.auth, self.metrics = provider, auth, metrics
        self._token = token.encode()

    def handlers(self) -> dict[str, Handler]:
        return {
            request.HEALTHZ: self.healthz,
            request.READYZ: self.readyz,
            request.STORE_READY: self.store_ready,
            request.METRICS: self.metrics_page,
            request.REVOKE_USER: self.revoke_user,
        }

    async def healthz(self, _: Request) -> Response:
        return text_response(200, "ok\n")

    async def readyz(self, _: Request) -> Response:
        """Ready once the provider is known; a Redis away degrades the unit but keeps it serving."""
        if not self.provider.ready:
            return text_response(503, f"not ready: {self.provider.last_error}\n")
        shared, state = self.auth.store_state()
        if self.auth.store is not None and not shared:
            return text_response(200, f"ready; degraded: {state}\n")
        return text_response(200, "ready\n")

    async def store_ready(self, _: Request) -> Response:
        """For a Pebble check with no level: 503 while a configured Redis is away, else 200."""
        store = self.auth.store
        if store is not None and not store.connected:
            return text_response(503, f"revocation store unreachable: {store.problem}\n")
        return text_response(200, f"revocation store: {self.auth.store_state()[1]}\n")

    async def metrics_page(self, _: Request) -> Response:
        body = self.metrics.render() + (
            "# HELP gatekeeper_provider_ready 1 when discovery and keys are loaded.\n"
            "# TYPE gatekeeper_provider_ready gauge\n"
            f"gatekeeper_provider_ready {int(self.provider.ready)}\n"
        )
        store = self.auth.store
        if store is not None:
            body += (
                "# HELP gatekeeper_revocation_store_up 1 while this worker follows the shared Redis store.\n"
                "# TYPE gatekeeper_revocation_store_up gauge\n"
                f"gatekeeper_revocation_store_up {int(store.connected)}\n"
                "# HELP gatekeeper_revocation_store_pending Revocations made here that Redis has not taken yet.\n"
                "# TYPE gatekeeper_revocation_store_pending gauge\n"
                f"gatekeeper_revocation_store_pending {store.pending}\n"
            )
        return text_response(200, body, b"text/plain; version=0.0.4; charset=utf-8")

    async def revoke_user(self, req: Request) -> Response:
        """`POST /revoke-user` `{"user": "<user id>"}`: every credential of the user issued until now is refused."""
        if not self._token:
            raise errors.NotFoundError
        if req.method != "POST":
            raise errors.MethodNotAllowedError("use POST")
        offered = request.bearer_token(req.headers.get("authorization")) or ""
        if not hmac.compare_digest(offered.encode(), self._token):
            raise errors.UnauthorizedError
        user = _user_of(await req.body())
        not_before = self.auth.revoke_user(user, time())
        shared, state = self.auth.store_state()
        log.info("user revoked", extra={"event": "revoke_user", "user": user, "shared": shared})
        return json_response(200, {"user": user, "notBefore": not_before, "shared": shared, "store": state})


def _user_of(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        raise errors.BadRequestError('the body must be JSON: {"user": "<user id>"}') from None
    user = payload.get("user") if isinstance(payload, dict) else None
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_ID or not user.isprintable():
        raise errors.BadRequestError('"user" must be the user id, as the userid claim gives it')
    return user
