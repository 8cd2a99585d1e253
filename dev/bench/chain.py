"""The whole chain, gateway -> auth hop -> upstream, against the same gateway without the hop.

Both configs come from the harness's Caddy emulation of the charm's Ambassador resources; the
"without" config is the same resources minus the AuthService, so the only difference is the auth
hop. The upstream is the benchmark's Caddy `respond 200`, not the harness's Python echo app
(that one is so slow that any auth hop would look free next to it).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import caddy
from harness.processes import ManagedProcess, ProcessGroup, free_port, http_ready
from harness.stack import UPSTREAM_SERVICE, Stack, upstream_mapping

from bench.baseline import caddy_env

CHAIN_STYLES = ("ambassador", "forward-auth")
CADDY_IDLE_PER_HOST = 32  # Caddy 2.6's default pool of idle upstream connections per host


@dataclass(frozen=True)
class ChainConfig:
    name: str
    text: str
    adapter: str  # "json" or "caddyfile"
    port: int
    admin_port: int


def without_auth(resources: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The resources minus the AuthService: every Mapping then goes straight to its service."""
    kept = [r for r in resources if r.get("kind") != "AuthService"]
    if len(kept) == len(resources):
        raise ValueError("the resources hold no AuthService: there is no auth hop to take away")
    return kept


def chain_config(
    style: str, with_auth: bool, resources: Sequence[Mapping[str, Any]], services: Mapping[str, str], check_uri: str
) -> ChainConfig:
    if style not in CHAIN_STYLES:
        raise ValueError(f"chain style must be one of {CHAIN_STYLES}, not {style!r}")
    used = list(resources) if with_auth else without_auth(resources)
    ports = caddy.GatewayPorts(free_port(), free_port(), free_port())
    name = f"chain-{style}-{'auth' if with_auth else 'direct'}"
    if style == "ambassador":
        text = caddy.dumps(caddy.ambassador_config(used, services, ports))
        return ChainConfig(name, text, "json", ports.listen, ports.admin)
    return ChainConfig(
        name, caddy.forward_auth_caddyfile(used, services, ports, check_uri), "caddyfile", ports.listen, ports.admin
    )


def with_idle_pool(config: dict[str, Any], idle_per_host: int) -> dict[str, Any]:
    """Every reverse proxy (forward_auth is one) keeps up to `idle_per_host` idle connections.

    With 50 client connections, Caddy's default of 32 makes each proxy close and reopen upstream
    connections all the time; Envoy (Ambassador) keeps its pool, so a faithful chain raises it.
    """

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("handler") == "reverse_proxy":
                transport = node.setdefault("transport", {"protocol": "http"})
                transport.setdefault("keep_alive", {})["max_idle_conns_per_host"] = idle_per_host
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    copy = json.loads(json.dumps(config))
    visit(copy)
    return copy


def adapted(config: ChainConfig) -> dict[str, Any]:
    """The config as Caddy JSON (a Caddyfile goes through `caddy adapt`)."""
    if config.adapter == "json":
        return json.loads(config.text)
    done = subprocess.run(
        ["caddy", "adapt", "--adapter", "caddyfile", "--config", "/dev/stdin"],
        input=config.text,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        raise ValueError(f"caddy adapt refused the {config.name} Caddyfile: {done.stderr.strip()[:500]}")
    return json.loads(done.stdout)


def auth_service_key(resources: Sequence[Mapping[str, Any]]) -> str:
    """The AuthService's `auth_service` as the harness's service map spells it (`name:port`)."""
    for resource in resources:
        if resource.get("kind") == "AuthService":
            name = str(resource["spec"]["auth_service"]).split("://")[-1]
            return name if ":" in name else f"{name}:80"
    raise ValueError("the resources hold no AuthService")


def stack_chain_config(
    stack: Stack,
    style: str,
    with_auth: bool,
    upstream_url: str,
    idle_per_host: int = CADDY_IDLE_PER_HOST,
    auth_url: str | None = None,
) -> ChainConfig:
    """A chain config for the running stack, its app Mapping pointed at `upstream_url`.

    `auth_url` replaces the gatekeeper as the auth service: pointed at a `respond 200` server it
    gives the chain with a free auth hop, i.e. what the gateway's own sub-request costs.
    """
    assert stack.outputs is not None, "start the stack first"
    services = dict(stack._services())  # the harness's own name -> local address map
    services[UPSTREAM_SERVICE] = urlsplit(upstream_url).netloc
    if auth_url is not None:
        services[auth_service_key(stack.outputs.resources)] = urlsplit(auth_url).netloc
    resources = [*stack.outputs.resources, upstream_mapping()]
    config = chain_config(style, with_auth, resources, services, f"{stack.prefix}/forward-auth")
    if auth_url is not None:
        config = ChainConfig(
            config.name.replace("-auth", "-freeauth"), config.text, config.adapter, config.port, config.admin_port
        )
    if idle_per_host == CADDY_IDLE_PER_HOST:
        return config
    text = json.dumps(with_idle_pool(adapted(config), idle_per_host), indent=1)
    return ChainConfig(config.name, text, "json", config.port, config.admin_port)


def start_chain(group: ProcessGroup, work: Path, config: ChainConfig) -> tuple[ManagedProcess, str]:
    path = work / f"{config.name}.{config.adapter}"
    path.write_text(config.text)
    argv = ["caddy", "run", "--config", str(path)]
    if config.adapter == "caddyfile":
        argv += ["--adapter", "caddyfile"]
    process = group.start(
        config.name,
        argv,
        env=caddy_env(work / "caddy-home"),
        cwd=work,
        ready=http_ready(f"http://127.0.0.1:{config.admin_port}/config/"),
        ready_what="admin API",
    )
    return process, f"http://127.0.0.1:{config.port}"
