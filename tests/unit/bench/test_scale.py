"""The scale benchmark's wrk scripts send every credential and count refusals; its figures are read right."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from bench import scale, wrk


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str | None, str | None]]] = []

    def do_GET(self) -> None:
        cookie = self.headers.get("Cookie")
        type(self).seen.append((cookie, self.headers.get("X-Fixed")))
        self.send_response(401 if cookie and cookie.endswith("-refused") else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _load(tmp_path: Path, script: str, values: list[str], threads: int, **options: object) -> wrk.WrkResult:
    """One second of wrk with `script` sending `values` as the Cookie to a recording server."""
    (tmp_path / "values.txt").write_text("\n".join(values) + "\n")
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        lua = (script, (str(tmp_path / "values.txt"), "Cookie", str(threads)))
        return wrk.run(url, seconds=1, connections=threads, threads=threads, lua=lua, **options)  # type: ignore[arg-type]
    finally:
        server.shutdown()
        server.server_close()


def test_the_round_robin_script_sends_every_value_and_keeps_the_other_headers(tmp_path: Path) -> None:
    values = [f"authservice_session=value-{i}" for i in range(40)]
    result = _load(tmp_path, scale.ROUND_ROBIN, values, threads=2, headers={"X-Fixed": "kept"})
    assert result.requests >= 80
    assert {cookie for cookie, _ in _Recorder.seen} == set(values)
    assert {fixed for _, fixed in _Recorder.seen} == {"kept"}


def test_the_checked_script_counts_every_answer_that_is_not_a_200(tmp_path: Path) -> None:
    values = [f"authservice_session=value-{i}" for i in range(9)] + ["authservice_session=x-refused"]
    result = _load(tmp_path, scale.CHECKED_ROUND_ROBIN, values, threads=1, expect_errors=True)
    assert result.check is not None
    assert result.check.seen >= result.requests >= 20
    refused = sum(1 for cookie, _ in _Recorder.seen if cookie == values[-1])
    assert result.check.wrong_status in (refused, refused - 1)  # one may be in flight when wrk stops
    assert result.check.wrong_status >= 2


def run(rps: float, cpu: float, growth: float) -> scale.Run:
    return scale.Run(rps=rps, p99_ms=1.0, cpu_us=cpu, rss_startup_mib=80.0, rss_after_mib=80.0 + growth)


def test_figures_are_the_median_of_the_rounds_with_their_spread() -> None:
    figures = scale.summary([run(100, 30, 1), run(300, 50, 3), run(200, 40, 2)])
    assert figures["rps"] == {"median": 200, "low": 100, "high": 300}
    assert figures["rss_growth_mib"] == {"median": 2, "low": 1, "high": 3}


def test_the_table_puts_each_row_against_one_session() -> None:
    results = {
        "sessions-1": scale.summary([run(100, 40, 1)] * 3),
        "sessions-100000": scale.summary([run(90, 44, 80)] * 3),
    }
    text = scale.table(results)
    assert "| sessions-100000 | 90 (90-90) | 1.00 (1.00-1.00) | 44 (44-44) | 1.10 | 80.0 (80.0-80.0) | 0 |" in text


def test_without_a_one_session_row_there_is_no_ratio() -> None:
    text = scale.table({"bearer-1000": scale.summary([run(100, 40, 1)])})
    assert "| bearer-1000 |" in text and "| - |" in text
