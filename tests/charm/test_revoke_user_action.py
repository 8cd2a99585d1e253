"""The revoke-user action: the charm sends its operations token and the user to the gatekeeper.

Here the gatekeeper is a recording HTTP listener on a free port, so these tests show the charm's
side only: which token, which body, what the action returns or says when it fails. What the real
gatekeeper answers this same client is tested against real units in tests/e2e/test_scale_out.py.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from charm_state import context, secret_by_label, state
from ops import testing

import operations_client


class Recorder(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, str, bytes]]] = []
    answer: ClassVar[tuple[int, dict]] = (200, {})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Recorder.calls.append((self.path, self.headers.get("Authorization", ""), body))
        status, payload = Recorder.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def gatekeeper(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Recorder]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(operations_client, "GATEKEEPER_URL", f"http://127.0.0.1:{server.server_address[1]}")
    Recorder.calls = []
    try:
        yield Recorder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settled(tmp_path) -> testing.State:
    return context().run(context().on.config_changed(), state(tmp_path))


def run_action(out: testing.State, user: str = "alice@example.com") -> tuple[testing.Context, testing.State]:
    ctx = context()
    return ctx, ctx.run(ctx.on.action("revoke-user", params={"user": user}), out)


def test_the_action_sends_the_token_and_returns_what_the_gatekeeper_did(gatekeeper, settled):
    gatekeeper.answer = (
        200,
        {"user": "alice@example.com", "notBefore": 1796256000, "shared": True, "store": "redis: connected"},
    )
    ctx, _ = run_action(settled)
    token = secret_by_label(settled, "gatekeeper").latest_content["operations-token"]
    assert gatekeeper.calls == [("/revoke-user", f"Bearer {token}", b'{"user": "alice@example.com"}')]
    assert ctx.action_results == {
        "user": "alice@example.com",
        "not-before": "2026-12-03T00:00:00Z",
        "shared": "true",
        "store": "redis: connected",
    }


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ((401, {"error": "unauthorized", "reason": "x"}), "refused the operations token"),
        ((404, {"error": "not_found", "reason": "x"}), "has no operations token yet"),
        (
            (400, {"error": "bad_request", "reason": '"user" must be the user id'}),
            'refused the request: "user" must be',
        ),
        ((200, {"user": "a"}), "lacks user, notBefore, shared or store"),
    ],
)
def test_a_refusal_fails_the_action_with_the_reason_and_no_token(gatekeeper, settled, answer, said):
    gatekeeper.answer = answer
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(settled)
    token = secret_by_label(settled, "gatekeeper").latest_content["operations-token"]
    assert said in failed.value.message and token not in failed.value.message


def test_a_gatekeeper_that_does_not_answer_fails_the_action_plainly(settled, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(operations_client, "GATEKEEPER_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(testing.ActionFailed, match="the gatekeeper on this unit does not answer"):
        run_action(settled)


def test_before_the_leader_made_the_token_the_action_says_to_wait(gatekeeper, tmp_path):
    follower = context().run(context().on.config_changed(), state(tmp_path, leader=False))
    with pytest.raises(testing.ActionFailed, match="operations token does not exist yet"):
        run_action(follower)
    assert gatekeeper.calls == []
