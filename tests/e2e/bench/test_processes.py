"""The benchmark's parts that start a process: a child's memory, Caddy adapting a chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import chain, process_tree
from harness.minimal_gateway import RESOURCES, SERVICES


def test_tree_rss_of_this_process_counts_a_child(tmp_path: Path) -> None:
    alone = process_tree.tree_rss_kib(os.getpid())
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline() == b"up\n"  # measure the interpreter, not a half-started fork
        with_child = process_tree.tree_rss_kib(os.getpid())
    finally:
        child.communicate(b"")
    assert with_child > alone + 1000  # a Python interpreter is several MiB


def test_a_caddyfile_chain_is_adapted_to_json() -> None:
    config = chain.adapted(chain.chain_config("forward-auth", True, RESOURCES, SERVICES, "/authservice/forward-auth"))
    pooled = json.dumps(chain.with_idle_pool(config, 64))
    assert pooled.count('"max_idle_conns_per_host": 64') == 2  # forward_auth and the app's reverse_proxy
