"""Serving over granian's RSGI, the production interface: the hot path and the request value.

Every request becomes one `request.Request`, read in place from RSGI's scope (its headers are
never converted). A check carrying a token verified before, still valid and not logged out, is
answered with one synchronous `proto.response_empty`; anything else goes through the spine
(`Gatekeeper.answer`) and its Response is written with one `response_bytes`.

Two RSGI facts shape the request value (checked on granian 2.8.7, the first also on 2.8.9):

- `scope.path` arrives percent-decoded, with no raw form. It is re-encoded (`paths.raw_path`,
  when the check reads its target), so a character
  that needs escaping comes back escaped (`%` as `%25`, `?` as `%3F`) and the path checks still
  refuse what they refused before; an escape of a plain character (`%61`, `%2F`) comes back as
  that character, read the way the upstream app will read it.
- `headers.items()` and `get()` leave out a header whose value is not visible ASCII, while
  `keys()` and `in` keep its name. A name must not vanish with its value: a look-alike identity
  header is refused for its name alone, so the check reads names through `keys()` and `in`.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any

from gatekeeper import request
from gatekeeper.responses import Response

if TYPE_CHECKING:
    from gatekeeper.app import Gatekeeper


def request_of(scope: Any, router: request.Router, proto: Any = None) -> request.Request:
    """The request value of an RSGI scope, its headers object kept as granian gave it."""
    path = scope.path
    route = router.route(path)
    checked = router.checked_path(path) if route == request.CHECK else ""
    return request.build(route, scope.method, checked, scope.query_string, scope.headers, decoded=True, read_body=proto)


def write(response: Response, proto: Any) -> None:
    """A Response through RSGI, which takes text headers (identity values are UTF-8)."""
    headers = [(name.decode("latin-1"), value.decode("utf-8")) for name, value in response.headers]
    proto.response_bytes(response.status, headers, response.body)


class Server:
    """granian's `__rsgi__` for one app: its parts bound once, so the hot path only looks them up.

    With no skip-auth path configured, a check's verdict depends on its credential and headers
    only, so a cached one is looked up before any request value is built; with skip-auth paths
    the target must be read first, and every request is built.
    """

    __slots__ = ("allowed", "app", "cached", "router", "token_first", "verdict")

    def __init__(self, app: Gatekeeper) -> None:
        self.app = app
        self.router = app.router
        self.cached = app.check.cached
        self.verdict = app.check.verdict
        self.token_first = not app.check.skips_any_path
        self.allowed = app.metrics.allowed

    async def __call__(self, scope: Any, proto: Any) -> None:
        started = perf_counter()
        req = None
        if self.token_first and self.router.route(scope.path) in _CHECKS:
            headers = scope.headers
            entry = self.verdict(request.cache_key(headers), headers)
        else:
            req = request_of(scope, self.router, proto)
            entry = self.cached(req)  # None at once for all but a check: only a check has a token to look up
        if entry is not None:
            proto.response_empty(200, entry.text_headers)
            self.allowed(perf_counter() - started)
            return
        if req is None:
            req = request_of(scope, self.router, proto)
        decision = await self.app.answer(req)
        write(decision.response, proto)
        self.app.count(decision.outcome, started)


_CHECKS = frozenset((request.CHECK, request.FORWARD_AUTH))
