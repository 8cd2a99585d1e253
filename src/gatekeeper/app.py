"""The application: its parts put together, their background upkeep, and the request spine.

Each server adapter (rsgi.py for granian, asgi.py for tests and other servers) builds one request
value and hands it to `Gatekeeper.answer`, which routes it once: the check (check.py) or one of
the gatekeeper's own endpoints (endpoints.py). Any `errors.GatekeeperError` becomes its refusal
here, and a bug becomes a 503 with a reason, never a traceback. The adapter writes the answer.

Logouts hold in every worker: they go to the revocations file every worker re-reads within
MAINTENANCE_INTERVAL (revocations.py); so do used login states, in a file beside it. With Redis,
every worker of every unit also follows the shared store within a second (revocation_store.py).
Sessions verify in any worker, with no network.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from time import perf_counter, time
from typing import Any

from gatekeeper import (
    asgi,
    check,
    config,
    endpoints,
    errors,
    headers,
    login,
    logs,
    machine_tokens,
    metrics,
    operations,
    request,
    responses,
    rsgi,
    sessions,
    tokens,
)
from gatekeeper.provider import Provider

log = logging.getLogger("gatekeeper.app")

MAINTENANCE_INTERVAL = 15.0  # also how soon a logout on another worker is seen


class Gatekeeper:
    """One worker's gatekeeper: the parts, wired once; `answer` is the only way a request goes in."""

    def __init__(self, settings: config.Settings, provider: Provider | None = None) -> None:
        self.settings = settings
        self.provider = provider or Provider(settings)
        self.metrics = metrics.Metrics()
        identity = headers.IdentityHeaders(settings)
        self.codec = sessions.SessionCodec(settings.session_keys, settings.session_lifetime)
        id_tokens = tokens.IdTokenVerifier(settings, self.provider)
        self.machine = machine_tokens.MachineTokens(settings)
        self.auth = check.Authenticator(settings, self.codec, id_tokens, identity, self.machine)
        self.revoked, self.cache = self.auth.revoked, self.auth.cache
        self.login = login.LoginFlow(settings, self.provider, self.codec, id_tokens, identity, self.metrics)
        self.check = check.Check(settings, self.auth, self.login, self.metrics)
        router = request.EveryPathRouter if settings.check_every_path else request.Router
        self.router = router(settings.prefix)
        self._page_status = responses.EXT_AUTHZ_PAGE_STATUS if settings.check_every_path else 200
        operations_endpoints = operations.Operations(self.provider, self.auth, self.metrics, settings.operations_token)
        self.handlers = {**endpoints.Endpoints(self.login, self.auth).handlers(), **operations_endpoints.handlers()}
        self.__rsgi__ = rsgi.Server(self)  # granian looks it up on the instance
        self._tasks: list[asyncio.Task[None]] = []

    # -- the spine ---------------------------------------------------------------------------
    async def answer(self, req: request.Request) -> check.Decision:
        """The answer to any request; the outcome is the check's, or "" for the other endpoints."""
        try:
            if req.route == request.CHECK:
                return await self.check.decide(req)
            handler = self.handlers.get(req.route)
            if handler is None:
                raise errors.NotFoundError
            response = await handler(req)
            if response.status == 200:  # a page, reached through a check when every path is one
                response.status = self._page_status
            return check.Decision(response, "")
        except errors.GatekeeperError as error:
            return check.Decision(responses.refusal(error), "")
        except Exception:  # a bug must not leak a traceback or a bare 500 to the client
            log.exception("unexpected error", extra={"event": "internal_error", "route": req.route})
            return check.Decision(responses.refusal(errors.InternalError()), "")

    def count(self, outcome: str, started: float) -> None:
        """Count a check's outcome and its time, once its answer is written."""
        if outcome:
            self.metrics.check(outcome, perf_counter() - started)

    async def __call__(self, scope: dict[str, Any], receive: asgi.Receive, send: asgi.Send) -> None:
        """ASGI, for the unit tests and any ASGI server; granian uses `__rsgi__` (rsgi.Server)."""
        await asgi.serve(self, scope, receive, send)

    # -- lifecycle -------------------------------------------------------------------------
    async def startup(self) -> None:
        """Take in the logouts other workers recorded, then discover the provider in the background."""
        self.revoked.sync()
        self.login.used.sync()
        self._tasks = [asyncio.create_task(job) for job in self._jobs()]

    def _jobs(self) -> list[Coroutine[Any, Any, None]]:
        """What runs beside the requests: discovery, upkeep, and following the shared store."""
        jobs: list[Coroutine[Any, Any, None]] = [self.provider.run(), self._maintain(), *self.machine.jobs()]
        if self.auth.store is not None:
            jobs.append(self.auth.store.run())
        return jobs

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.provider.aclose()
        await self.machine.aclose()
        if self.auth.store is not None:
            await self.auth.store.aclose()

    async def _maintain(self) -> None:
        """Every MAINTENANCE_INTERVAL: other workers' logouts in, expired verdicts and revocations out."""
        while True:
            await asyncio.sleep(MAINTENANCE_INTERVAL)
            now = time()
            self.revoked.sync(now)
            self.login.used.sync(now)
            self.cache.purge(now)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """granian's startup hook (RSGI has no lifespan messages): what `startup` does, on its loop."""
        self.revoked.sync()
        self.login.used.sync()
        self._tasks = [loop.create_task(job) for job in self._jobs()]

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.shutdown())


def create_app() -> Gatekeeper:
    """The factory granian calls in each worker: settings come from the environment."""
    settings = config.load_settings(os.environ)
    logs.configure(settings.log_level)
    return Gatekeeper(settings)
