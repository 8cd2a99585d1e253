"""wrk's report, read back: the figures, the error counts, the response check's line."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from bench import wrk

REPORT = """\
Running 10s test @ http://127.0.0.1:40123/authservice/check/some/page
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  310.44us  12.07ms   91.20%
    Req/Sec    16.51k     1.02k   18.20k    70.50%
  Latency Distribution
     50%  1.47ms
     75%  1.60ms
     90%  1.79ms
     99%  2.61ms
  328543 requests in 10.00s, 41.05MB read
Requests/sec:  32846.12
Transfer/sec:      4.10MB
"""


def test_reads_rate_percentiles_and_count() -> None:
    result = wrk.parse(REPORT)
    assert result.requests_per_second == pytest.approx(32846.12)
    assert result.p50_ms == pytest.approx(1.47)
    assert result.p99_ms == pytest.approx(2.61)
    assert result.requests == 328543
    assert result.errors == 0
    assert result.check is None


def test_latency_units_become_milliseconds() -> None:
    text = REPORT.replace("50%  1.47ms", "50%  870.00us").replace("99%  2.61ms", "99%  1.20s")
    result = wrk.parse(text)
    assert result.p50_ms == pytest.approx(0.87)
    assert result.p99_ms == pytest.approx(1200.0)


def test_error_answers_and_socket_errors_are_counted() -> None:
    text = REPORT.replace(
        "Requests/sec:",
        "  Socket errors: connect 0, read 4, write 1, timeout 2\n  Non-2xx or 3xx responses: 17\nRequests/sec:",
    )
    result = wrk.parse(text)
    assert result.errors == 4 + 1 + 2 + 17
    assert result.socket_errors == 4 + 1 + 2


def test_response_check_line_is_read() -> None:
    result = wrk.parse(REPORT + "bench-check: seen=328550 wrong_status=3 missing_header=5\n")
    assert result.check == wrk.CheckCounts(seen=328550, wrong_status=3, missing_header=5)
    assert result.check.failures == 8
    assert result.as_dict()["failed_checks"] == 8


def test_report_without_latency_table_is_refused() -> None:
    text = "\n".join(line for line in REPORT.splitlines() if "%" not in line or "Stdev" in line)
    with pytest.raises(wrk.WrkError, match="--latency"):
        wrk.parse(text)


def test_unknown_latency_unit_is_refused() -> None:
    with pytest.raises(wrk.WrkError, match=r"12\.0h"):
        wrk.parse(REPORT.replace("99%  2.61ms", "99%  12.0h"))


def test_command_puts_script_arguments_after_the_url() -> None:
    argv = wrk.command(
        "http://h/p",
        {"Cookie": "a=b"},
        seconds=5,
        connections=50,
        threads=2,
        script=Path("/tmp/c.lua"),
        script_args=("302", "set-cookie"),
    )
    assert argv == [
        "wrk",
        "-t2",
        "-c50",
        "-d5s",
        "--latency",
        "-H",
        "Cookie: a=b",
        "-s",
        "/tmp/c.lua",
        "http://h/p",
        "--",
        "302",
        "set-cookie",
    ]


class _Answers(BaseHTTPRequestHandler):
    """302 with a state cookie, except every third answer, which has none."""

    protocol_version = "HTTP/1.1"
    count = 0

    def do_GET(self) -> None:
        type(self).count += 1
        self.send_response(302)
        self.send_header("Location", "/login")
        if type(self).count % 3:
            self.send_header("Set-Cookie", "state=x; HttpOnly")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_response_check_counts_answers_without_the_header_on_a_real_server() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with pytest.raises(wrk.WrkError, match=r"lacked 'set-cookie'"):
            wrk.run(url, seconds=1, connections=2, threads=1, check=wrk.ResponseCheck(302, "set-cookie"))
        result = wrk.run(
            url, seconds=1, connections=2, threads=1, expect_errors=True, check=wrk.ResponseCheck(302, "set-cookie")
        )
        assert result.check is not None and result.check.seen > 10
        assert result.check.wrong_status == 0
        assert result.check.missing_header == pytest.approx(result.check.seen / 3, abs=3)
        status = wrk.run(url, seconds=1, connections=2, threads=1, expect_errors=True, check=wrk.ResponseCheck(200))
        assert status.check is not None and status.check.wrong_status == status.check.seen
    finally:
        server.shutdown()
        server.server_close()
