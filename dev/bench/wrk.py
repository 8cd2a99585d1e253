"""Load one URL with wrk and read back req/s and latency percentiles.

wrk is the load generator of record here (Debian package); its `--latency` table gives the
percentiles, and its summary the request rate and the non-2xx/3xx count, which must be zero
for a figure to mean anything. wrk counts a 3xx as a success, so a run whose answer matters
beyond "not an error" either checks every answer with `ResponseCheck` (a Lua hook: it costs
wrk some CPU, so it is kept for the runs that need it) or is verified by the caller from the
server's own counters.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_CHECK_LINE = re.compile(r"^bench-check: seen=(\d+) wrong_status=(\d+) missing_header=(\d+)$", re.M)

# Counts, over every answer of every wrk thread, those with another status or without a header.
_CHECK_SCRIPT = """\
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  want_status = tonumber(args[1])
  want_header = string.lower(args[2] or "")
  seen, wrong_status, missing_header = 0, 0, 0
end
function response(status, headers, body)
  seen = seen + 1
  if status ~= want_status then wrong_status = wrong_status + 1 end
  if want_header ~= "" then
    local found = false
    for name, _ in pairs(headers) do
      if string.lower(name) == want_header then found = true end
    end
    if not found then missing_header = missing_header + 1 end
  end
end
function done(summary, latency, requests)
  local s, w, m = 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("seen"); w = w + t:get("wrong_status"); m = m + t:get("missing_header")
  end
  io.write(string.format("bench-check: seen=%d wrong_status=%d missing_header=%d\\n", s, w, m))
end
"""


class WrkError(RuntimeError):
    """wrk is missing, failed, or the run saw error answers."""


@dataclass(frozen=True)
class ResponseCheck:
    """Every answer must have this status and (when given) carry this header."""

    status: int
    header: str = ""


@dataclass(frozen=True)
class CheckCounts:
    seen: int
    wrong_status: int
    missing_header: int

    @property
    def failures(self) -> int:
        return self.wrong_status + self.missing_header


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    check: CheckCounts | None = None
    socket_errors: int = 0

    def as_dict(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {
            "rps": round(self.requests_per_second, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "requests": self.requests,
            "errors": self.errors,
            "socket_errors": self.socket_errors,
        }
        if self.check is not None:
            out["checked_answers"] = self.check.seen
            out["failed_checks"] = self.check.failures
        return out


def _millis(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        raise WrkError(f"cannot read wrk latency {value!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse(output: str) -> WrkResult:
    """Read wrk's text report (run with --latency), and the response check's line if present."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise WrkError(f"unexpected wrk output (was it run with --latency?):\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(n) for n in sock.groups()) if sock else 0
    errors = (int(non2xx[1]) if non2xx else 0) + socket_errors
    check_line = _CHECK_LINE.search(output)
    check = CheckCounts(*(int(n) for n in check_line.groups())) if check_line else None
    return WrkResult(float(rps[1]), _millis(p50[1]), _millis(p99[1]), int(total[1]), errors, check, socket_errors)


def _open_files_to_hard_limit() -> None:
    """wrk holds one descriptor per connection; the caller's soft limit may be a container's 1024."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def command(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    seconds: int,
    connections: int,
    threads: int,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
) -> list[str]:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    return argv


def run(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    seconds: int = 10,
    connections: int = 50,
    threads: int = 2,
    expect_errors: bool = False,
    check: ResponseCheck | None = None,
    tolerated_socket_errors: float = 0.0,
    lua: tuple[str, tuple[str, ...]] | None = None,
) -> WrkResult:
    """Load `url`; a run with error answers (or failed checks) raises unless `expect_errors`.

    `lua`: another wrk script and its arguments (not with `check`), e.g. one that varies a header.

    `tolerated_socket_errors`: a fraction of the requests that may end in a socket error (a server
    closing a keep-alive connection; wrk reconnects). Error answers are never tolerated.
    """
    if shutil.which("wrk") is None:
        raise WrkError("wrk is not installed (apt-get install wrk, or run scripts/setup with WITH_BENCH=1)")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = None
        script_args: tuple[str, ...] = ()
        if check is not None:
            script = Path(tmp) / "check.lua"
            script.write_text(_CHECK_SCRIPT)
            script_args = (str(check.status), check.header)
        elif lua is not None:
            script = Path(tmp) / "script.lua"
            script.write_text(lua[0])
            script_args = lua[1]
        argv = command(
            url,
            headers,
            seconds=seconds,
            connections=connections,
            threads=threads,
            script=script,
            script_args=script_args,
        )
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, preexec_fn=_open_files_to_hard_limit
        )
    if proc.returncode != 0:
        raise WrkError(f"wrk failed ({proc.returncode}) loading {url}: {proc.stderr.strip()}")
    result = parse(proc.stdout)
    if check is not None:
        if result.check is None:
            raise WrkError(f"wrk printed no response-check line loading {url}:\n{proc.stdout}")
        if result.check.failures and not expect_errors:
            raise WrkError(
                f"{result.check.wrong_status} answers were not {check.status} and "
                f"{result.check.missing_header} lacked {check.header!r} loading {url}"
            )
    if not expect_errors and result.errors > result.socket_errors:
        raise WrkError(f"{result.errors - result.socket_errors} error answers loading {url}:\n{proc.stdout}")
    if not expect_errors and result.socket_errors > tolerated_socket_errors * result.requests:
        raise WrkError(f"{result.socket_errors} socket errors loading {url}:\n{proc.stdout}")
    return result
