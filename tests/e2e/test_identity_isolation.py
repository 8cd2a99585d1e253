"""Under concurrent load, every request reaches the app with its own user's identity.

The gateway sends many users' checks over a few pooled keep-alive connections to the gatekeeper.
A server that mixed up two answers on one connection would hand one user another's identity,
and no single-request test would see it. wrk sends the sessions of 20 users at random, each to a
path naming its user, and a Lua hook checks that the echo upstream got that user's header.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from harness.configs import base_config
from harness.stack import Stack

from gatekeeper.config import parse_session_keys
from gatekeeper.sessions import SessionCodec

pytestmark = pytest.mark.e2e

USERS = [f"user{i}@example.com" for i in range(20)]
SECONDS = 4

LUA = """
users = {%(users)s}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) good = 0; bad = 0; seen = "" end
function request()
  local user = users[math.random(#users)]
  return wrk.format("GET", "/u/" .. user[1], {["Cookie"] = "authservice_session=" .. user[2],
                                              ["Accept"] = "application/json"})
end
function response(status, headers, body)
  local path = body:match('"path": "/u/([^"]*)"')
  local who = body:match('"[Kk]ubeflow%%-[Uu]serid", "([^"]*)"')
  if status == 200 and path ~= nil and who == path then
    good = good + 1
  else
    bad = bad + 1
    if #seen < 400 then seen = seen .. status .. " " .. tostring(path) .. " got " .. tostring(who) .. "; " end
  end
end
function done(summary, latency, requests)
  local good_all, bad_all, seen_all = 0, 0, ""
  for _, t in ipairs(threads) do
    good_all = good_all + t:get("good"); bad_all = bad_all + t:get("bad"); seen_all = seen_all .. t:get("seen")
  end
  io.write(string.format("ISOLATION good=%%d bad=%%d seen=%%s\\n", good_all, bad_all, seen_all))
end
"""


@pytest.fixture(scope="module", params=["ambassador", "forward-auth"])
def gw(stacks, request) -> Stack:
    return stacks.start(base_config(), request.param, name=request.param)


def sessions(stack: Stack) -> list[tuple[str, str]]:
    """A session per user, signed with the key the charm gave the gatekeeper."""
    keys = parse_session_keys("GATEKEEPER_SESSION_KEYS", stack.env["GATEKEEPER_SESSION_KEYS"])
    codec = SessionCodec(keys, 3600)
    return [(user, codec.issue(user=user, groups=(), sub=f"sub-{user}")[0]) for user in USERS]


def test_each_user_gets_their_own_identity_under_concurrent_load(gw: Stack, tmp_path: Path) -> None:
    users = ", ".join(f'{{"{user}", "{token}"}}' for user, token in sessions(gw))
    script = tmp_path / "isolation.lua"
    script.write_text(LUA % {"users": users})
    done = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{SECONDS}s", "-s", str(script), gw.url("/")],
        capture_output=True,
        text=True,
        timeout=SECONDS + 30,
    )
    found = re.search(r"ISOLATION good=(\d+) bad=(\d+) seen=(.*)", done.stdout)
    assert found, done.stdout + done.stderr
    good, bad, seen = int(found[1]), int(found[2]), found[3]
    assert bad == 0, f"{bad} answers reached the app with another identity or none: {seen}"
    assert good >= 500, f"only {good} requests in {SECONDS}s: too few to say anything\n{done.stdout}"
