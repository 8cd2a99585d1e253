"""The gatekeeper's refusals: one base class whose subclasses each carry a status and a reason.

Code that cannot go on raises one of these; the request spine (`app.Gatekeeper.answer`) turns
any of them into the JSON refusal the client reads (`responses.refusal`), so no handler builds
its own error answer and nothing is ever parsed out of a message. Two texts are kept apart:
`detail` is safe to show the client, while `str(error)` may carry what only the log should see
(a provider's internal URL, say). `reason` is a short, log-safe code, also a metrics label.
"""

from __future__ import annotations


class GatekeeperError(Exception):
    """A refusal: `status` and `reason` are typed on the class, or set per instance."""

    status: int = 400
    reason: str = "bad_request"
    detail: str = "the request cannot be answered"
    headers: tuple[tuple[bytes, bytes], ...] = ()  # sent with the refusal, e.g. Retry-After

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.detail)
        if detail:
            self.detail = detail


class TokenError(GatekeeperError):
    """A credential was refused; the reason says why (never the token itself)."""

    status = 401

    def __init__(self, reason: str, detail: str = "", user: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.user = user  # who the refused token named, when it got that far (for the log)


class UnsafeIdentityError(TokenError):
    """A user id or group cannot be put in an HTTP header as it is."""

    def __init__(self, detail: str) -> None:
        super().__init__("bad_identity", detail)


class ProviderUnavailableError(GatekeeperError):
    """The provider cannot be used yet (not discovered, unreachable, or answering nonsense).

    The message (for the log and /readyz) may name internal URLs; the client reads `detail`.
    """

    status = 503
    reason = "provider_unavailable"
    detail = "the identity provider is not reachable yet; retry shortly"
    headers = ((b"retry-after", b"5"),)

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)


class CodeExchangeError(GatekeeperError):
    """The token endpoint refused the code; `reason` is the provider's short error code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ForbiddenHeaderError(GatekeeperError):
    """The request carries a header that reads as an identity header the gateway will not overwrite."""

    reason = "forbidden_header"

    def __init__(self, name: str) -> None:
        super().__init__(f"the request carries {name!r}, which reads as an identity header")


class BadQueryError(GatekeeperError):
    reason = "bad_query"
    detail = "the query string is not usable"


class BadRequestError(GatekeeperError):
    """A body or parameter an endpoint cannot use; the detail says which and why."""


class UnauthorizedError(GatekeeperError):
    """An operations call without the operations token (or with another)."""

    status = 401
    reason = "unauthorized"
    detail = "send Authorization: Bearer <the operations token>"
    headers = ((b"www-authenticate", b'Bearer realm="gatekeeper-operations"'),)


class MethodNotAllowedError(GatekeeperError):
    status = 405
    reason = "method_not_allowed"


class NotFoundError(GatekeeperError):
    status = 404
    reason = "not_found"
    detail = "no such gatekeeper endpoint"


class InternalError(GatekeeperError):
    """What a bug answers: a reason, never a traceback or a bare 500."""

    status = 503
    reason = "internal_error"
    detail = "the gatekeeper hit an unexpected error"
