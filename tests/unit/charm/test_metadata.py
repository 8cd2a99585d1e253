"""charmcraft's own models validate the charm's metadata, config and actions."""

import copy
import keyword
import pathlib
import re

import jsonschema
import pydantic
import pytest
import yaml
from charmcraft import linters, parts, preprocess
from charmcraft.models.actions import JujuActions
from charmcraft.models.config import JujuConfig
from charmcraft.models.metadata import CharmMetadataLegacy
from charmcraft.models.project import CharmcraftProject
from craft_application.errors import CraftValidationError

ROOT = pathlib.Path(__file__).resolve().parents[3]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def project_data() -> dict:
    parts.setup_parts()
    data = load("charmcraft.yaml")
    preprocess.add_default_parts(data)
    preprocess.add_metadata(ROOT, data)
    preprocess.add_config(ROOT, data)
    preprocess.add_actions(ROOT, data)
    return data


def test_project_model(project_data):
    project = CharmcraftProject.unmarshal(copy.deepcopy(project_data))
    assert project.name == "dex-auth"
    assert project.base == "ubuntu@24.04"
    charm_part = project.parts["charm"]
    assert charm_part["charm-requirements"] == ["requirements-charm.txt"]
    assert charm_part["charm-strict-dependencies"] is True
    assert "prime" not in charm_part  # a prime list keeps only the files it names (tests/packing)


def test_config_model():
    config = JujuConfig.model_validate(load("config.yaml"))
    assert {
        "public-url",
        "connectors",
        "enable-password-db",
        "static-username",
        "static-password",
        "session-lifetime",
        "userid-header",
        "userid-claim",
        "groups-header",
        "skip-auth-paths",
        "extra-bearer-audiences",
        "ambassador-api-version",
        "log-level",
    } <= set(config.options)
    assert linters.JujuConfig().run(ROOT) == linters.JujuConfig.Result.OK


def check_actions(actions: dict) -> None:
    """charmcraft 4.5's JujuActions model fails on every input under pydantic 2.14 (its validators
    read a private attribute through the class), so apply its name rule and Juju's JSON-schema
    rule for params directly."""
    name_rule = JujuActions.__private_attributes__["_action_name_regex"].default
    for name, action in actions.items():
        assert name_rule.match(name) and not keyword.iskeyword(name), f"bad action name {name!r}"
        assert isinstance(action, dict) and action.get("description"), f"{name} needs a description"
        schema = {"type": "object", "properties": action.get("params", {})}
        schema.update({k: v for k, v in action.items() if k in ("required", "additionalProperties")})
        jsonschema.Draft7Validator.check_schema(schema)


def test_actions():
    actions = load("actions.yaml")
    check_actions(actions)
    assert set(actions) == {
        "show-static-password",
        "rotate-session-key",
        "rotate-assertion-key",
        "show-ambassador-resources",
        "revoke-user",
    }
    rotate = actions["rotate-assertion-key"]
    rotate_schema = {"type": "object", "properties": rotate["params"], "additionalProperties": False}
    jsonschema.validate({"drop-previous": True}, rotate_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"drop-previous": "yes"}, rotate_schema)
    revoke = actions["revoke-user"]
    schema = {"type": "object", "properties": revoke["params"], "required": revoke["required"]}
    schema["additionalProperties"] = revoke["additionalProperties"]
    jsonschema.validate({"user": "alice@example.com"}, schema)
    for refused in ({}, {"user": "a", "users": "b"}):  # Juju checks params against this schema
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(refused, schema)
    assert linters.JujuActions().run(ROOT) == linters.JujuActions.Result.OK


def test_metadata_model():
    metadata = CharmMetadataLegacy.unmarshal(load("metadata.yaml"))
    assert set(metadata.containers) == {"dex", "gatekeeper"}
    assert metadata.resources["dex-image"]["upstream-source"] == "ghcr.io/dexidp/dex:v2.45.1"
    assert set(metadata.resources) == {"dex-image", "gatekeeper-image"}
    assert metadata.requires["ambassador"]["interface"] == "ambassador-routes"
    # The interface name redis-k8s provides (its metadata.yaml); optional, one Redis at most.
    assert metadata.requires["redis"] == {"interface": "redis", "limit": 1, "optional": True}
    assert metadata.peers and metadata.provides


def test_the_charm_and_its_workloads_are_non_root():
    metadata = load("metadata.yaml")
    assert metadata["charm-user"] == "non-root"
    assert "juju >= 3.6" in metadata["assumes"]  # charm-user and container uid/gid
    for name, container in metadata["containers"].items():
        # Juju refuses 1000-9999 (juju/juju internal/charm/meta.go, parseContainers).
        for key in ("uid", "gid"):
            assert container[key] == 584792, (name, key)
            assert not 1000 <= container[key] < 10000


def test_every_option_says_format_and_example():
    for name, option in load("config.yaml")["options"].items():
        assert len(option["description"]) > 30, name


def test_the_models_catch_a_typo():
    bad = load("config.yaml")
    bad["options"]["log-level"]["type"] = "strnig"
    with pytest.raises(pydantic.ValidationError):
        JujuConfig.model_validate(bad)
    with pytest.raises(AssertionError, match="bad action name"):
        check_actions({"Bad Name": {"description": "x"}})
    with pytest.raises(jsonschema.SchemaError):
        check_actions({"ok": {"description": "x", "params": {"p": {"type": "strnig"}}}})


def test_duplicate_metadata_is_refused(project_data):
    with pytest.raises(CraftValidationError):
        preprocess.add_metadata(ROOT, {"name": "dex-auth"})


def test_rock_installs_the_gatekeeper_with_its_pins():
    rock = load("rockcraft.yaml")
    assert rock["base"] == "ubuntu@24.04"
    deps = rock["parts"]["dependencies"]
    assert deps["source"] == "src/gatekeeper" and deps["python-requirements"] == ["requirements.lock"]
    assert rock["services"]["gatekeeper"]["command"] == "python3 -m gatekeeper"
    assert rock["services"]["gatekeeper"]["startup"] == "enabled"
    pins = (ROOT / "requirements-charm.txt").read_text()
    assert re.search(r"^ops==", pins, re.M) and re.search(r"^bcrypt==", pins, re.M)


def _lock() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from src/gatekeeper/requirements.lock."""
    text = (ROOT / "src" / "gatekeeper" / "requirements.lock").read_text()
    entries = {}
    for block in re.split(r"\n(?=\S)", text):
        first = block.split()[0] if block.strip() else ""
        match = re.match(r"^([A-Za-z0-9._-]+)==([^ \\]+)", first)
        if match:
            entries[canonical(match[1])] = (match[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return entries


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_rock_lock_pins_every_direct_pin_with_hashes():
    lock = _lock()
    for line in (ROOT / "src" / "gatekeeper" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, version = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)$", line).groups()
        assert lock[canonical(name)][0] == version, name
    assert all(hashes for _, hashes in lock.values()), "every locked package needs a hash (pip --require-hashes)"


def test_the_rock_lock_is_closed_under_dependencies():
    """Every dependency (for Python 3.12 on Linux) of a locked package is locked too; read from the
    metadata of the same versions installed in this virtualenv."""
    from importlib import metadata

    from packaging.requirements import Requirement

    lock = _lock()
    environment = {
        "python_version": "3.12",
        "python_full_version": "3.12.3",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    }
    checked = 0
    for name, (version, _) in lock.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        extras = ["crypto"] if name == "pyjwt" else [""]
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not any(
                requirement.marker.evaluate({**environment, "extra": extra}) for extra in extras
            ):
                continue
            assert canonical(requirement.name) in lock, f"{name} needs {requirement.name}, which is not locked"
    assert checked >= 5, "too few locked packages are installed here to check the lock"


@pytest.mark.parametrize("lib", ["ambassador_routes", "oidc_client", "dex_issuer", "identity_assertion"])
def test_libraries_carry_their_ids(lib):
    text = (ROOT / "lib" / "charms" / "dex_auth" / "v0" / f"{lib}.py").read_text()
    assert re.search(r'^LIBID = "[0-9a-f]{32}"$', text, re.M)
    assert re.search(r"^LIBAPI = 0$", text, re.M)
    assert re.search(r"^LIBPATCH = [1-9][0-9]*$", text, re.M)
