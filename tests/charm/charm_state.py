"""Building blocks for the ops[testing] tests: a unit of dex-auth with real container folders."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import yaml
from ops import testing

from charm import DexAuthCharm

PUBLIC_URL = "https://kf.example.com"
ISSUER = f"{PUBLIC_URL}/dex"
MODEL = testing.Model(name="kubeflow")


def context() -> testing.Context:
    return testing.Context(DexAuthCharm, app_name="dex-auth")


def dex_probe(failures: dict[str, str] | None = None) -> testing.Exec:
    """What `dex serve` prints for the charm's connector probe: slog JSON on stderr, one line per
    connector it could not open (server/server.go, NewServer), then the listen error it exits on."""
    lines = [
        json.dumps(
            {
                "time": "2026-12-02T07:00:00Z",
                "level": "ERROR",
                "msg": "server: Failed to open connector",
                "id": cid,
                "err": err,
            }
        )
        for cid, err in (failures or {}).items()
    ]
    lines.append("error: listening (telemetry) on 127.0.0.1:-1: listen tcp: address -1: invalid port")
    return testing.Exec(["/usr/local/bin/dex", "serve"], return_code=1, stderr="\n".join(lines) + "\n")


def dex_container(
    root: pathlib.Path, can_connect: bool = True, probe: testing.Exec | None = None, **kwargs: Any
) -> testing.Container:
    folder = root / "dex-etc"
    folder.mkdir(parents=True, exist_ok=True)
    return testing.Container(
        "dex",
        can_connect=can_connect,
        execs={probe or dex_probe()},
        mounts={"etc-dex": testing.Mount(location="/tmp/dex-auth", source=folder)},
        **kwargs,
    )


def gatekeeper_container(can_connect: bool = True, **kwargs: Any) -> testing.Container:
    return testing.Container("gatekeeper", can_connect=can_connect, **kwargs)


def state(
    root: pathlib.Path,
    *,
    config: dict[str, Any] | None = None,
    leader: bool = True,
    relations: tuple = (),
    secrets: tuple = (),
    dex_ready: bool = True,
    gatekeeper_ready: bool = True,
    peer: testing.PeerRelation | None = None,
) -> testing.State:
    peer = peer if peer is not None else testing.PeerRelation("dex-auth-peers")
    return testing.State(
        leader=leader,
        model=MODEL,
        config={"public-url": PUBLIC_URL, **(config or {})},
        containers={dex_container(root, dex_ready), gatekeeper_container(gatekeeper_ready)},
        relations={peer, *relations},
        secrets=set(secrets),
    )


def config_file(root: pathlib.Path) -> pathlib.Path:
    return root / "dex-etc" / "config.yaml"


def dex_config(root: pathlib.Path) -> dict[str, Any]:
    return yaml.safe_load(config_file(root).read_text())


def service(out: testing.State, name: str) -> dict[str, Any]:
    return out.get_container(name).plan.services[name].to_dict()


def gatekeeper_env(out: testing.State) -> dict[str, str]:
    return service(out, "gatekeeper")["environment"]


def secret_by_label(out: testing.State, label: str) -> testing.Secret:
    return next(s for s in out.secrets if s.label == label)


def peer_of(out: testing.State) -> testing.PeerRelation:
    return next(r for r in out.relations if r.endpoint == "dex-auth-peers")


def with_config(out: testing.State, **config: Any) -> testing.State:
    """The next event after `juju config`: same state, options changed (a_b means a-b)."""
    merged = {**out.config, **{k.replace("_", "-"): v for k, v in config.items()}}
    return dataclasses.replace(out, config=merged)
