"""The connector probe's pure parts: the config Dex runs with, and what its log says."""

from __future__ import annotations

import json

import yaml

import connector_probe as probe

CONFIG = yaml.safe_dump(
    {
        "issuer": "https://kf.example.com/dex",
        "storage": {"type": "kubernetes", "config": {"inCluster": True}},
        "web": {"http": "0.0.0.0:5556"},
        "telemetry": {"http": "0.0.0.0:5558"},
        "connectors": [{"type": "ldap", "id": "corp", "name": "Corp", "config": {"host": "ldap:636"}}],
        "staticClients": [{"id": "c", "name": "C", "secret": "s", "redirectURIs": ["https://x/cb"]}],
    }
)


def test_the_probe_keeps_connectors_and_drops_storage_and_listeners() -> None:
    config = yaml.safe_load(probe.probe_config(CONFIG))
    assert config["storage"] == {"type": "memory"}
    assert config["telemetry"]["http"] == config["web"]["http"] == "127.0.0.1:-1"
    assert config["connectors"] == yaml.safe_load(CONFIG)["connectors"]
    assert config["logger"]["format"] == "json"


def test_failures_are_read_from_dexs_json_log() -> None:
    log = "\n".join(
        [
            json.dumps({"level": "INFO", "msg": "config connector", "connector_id": "corp"}),
            json.dumps(
                {
                    "level": "ERROR",
                    "msg": "server: Failed to open connector",
                    "id": "corp",
                    "err": "ldap: read ca file: open /x: no such file or directory",
                }
            ),
            "not json",
            "error: listening (telemetry) on 127.0.0.1:-1: listen tcp: address -1: invalid port",
        ]
    )
    assert probe.failures_from_log(log) == [
        probe.ConnectorFailure("corp", "ldap: read ca file: open /x: no such file or directory")
    ]
    assert probe.failures_from_log("") == []


def test_a_result_counts_only_for_the_connectors_it_probed() -> None:
    key = probe.probe_key(CONFIG, {})
    stored = probe.result_text(key, [probe.ConnectorFailure("corp", "boom")])
    assert probe.read_result(stored, key) == [probe.ConnectorFailure("corp", "boom")]
    assert probe.read_result(stored, probe.probe_key(CONFIG, {"/f": "new CA"})) is None
    assert probe.read_result("garbage", key) is None and probe.read_result(None, key) is None
    other_logging = CONFIG.replace("0.0.0.0:5558", "0.0.0.0:9999")
    assert probe.probe_key(other_logging, {}) == key
