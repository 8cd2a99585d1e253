"""The `dex` and `gatekeeper` containers: what the charm pushes into them and what they report.

Apply pushes the connector files, then the Dex config that names them, then the layers, and
replans; Pebble restarts a service only when its layer changed. Secrets go into files only the
workload user can read. A container that is not reachable yet is skipped: the next event
(pebble-ready at the latest) converges it. What went wrong is kept in `problems` for
collect-status rather than failing the hook.
"""

from __future__ import annotations

import logging
import typing

import ops

import connector_probe
import log_forwarding
import pebble_layers
import rendering
import workload_status

logger = logging.getLogger(__name__)

CONTAINERS = ("dex", "gatekeeper")
READY_CHECKS = {"dex": pebble_layers.DEX_READY_CHECK, "gatekeeper": pebble_layers.GATEKEEPER_READY_CHECK}
_PEBBLE_ERRORS = (ops.pebble.APIError, ops.pebble.ConnectionError, ops.pebble.PathError)
_STATUS_TYPES: dict[str, type[ops.StatusBase]] = {
    "active": ops.ActiveStatus,
    "waiting": ops.WaitingStatus,
    "blocked": ops.BlockedStatus,
}


def status_of(level: str, message: str) -> ops.StatusBase:
    """The ops status for a level the pure modules name as text (they do not import ops)."""
    return _STATUS_TYPES[level](message)


def _layer(raw: dict[str, typing.Any]) -> ops.pebble.Layer:
    """pebble_layers renders plain dicts (no `ops` there); they have LayerDict's shape."""
    return ops.pebble.Layer(typing.cast("ops.pebble.LayerDict", raw))


def _read(container: ops.Container, path: str) -> str | None:
    try:
        return container.pull(path).read()
    except ops.pebble.PathError:
        return None


def _push_private(container: ops.Container, path: str, content: str) -> None:
    """Secrets in a file only the workload user can read, in a directory only it can list."""
    directory = path.rsplit("/", 1)[0]
    uid, gid = pebble_layers.WORKLOAD_UID, pebble_layers.WORKLOAD_GID
    if not container.exists(directory):
        container.make_dir(directory, make_parents=True, permissions=0o700, user_id=uid, group_id=gid)
    container.push(path, content, permissions=0o600, user_id=uid, group_id=gid)


def _sync_dex_files(container: ops.Container, rendered: rendering.Rendered) -> None:
    """Write the connector files before the config that names them; drop the ones no longer named."""
    wanted = rendered.files
    for path, content in wanted.items():
        if _read(container, path) != content:
            _push_private(container, path, content)
    for directory in (pebble_layers.DEX_FILES_DIR, pebble_layers.DEX_CA_DIR):
        if container.exists(directory):
            for info in container.list_files(directory):
                if info.path not in wanted:
                    container.remove_path(info.path)


def _last_check_log(container: ops.Container, info: ops.pebble.CheckInfo) -> str:
    """The newest line Pebble logged in the check's change: the failure with its details."""
    if not info.change_id:
        return ""
    try:
        change = container.pebble.get_change(info.change_id)
    except (ops.pebble.APIError, ops.pebble.ConnectionError):
        return ""
    lines = [line for task in change.tasks for line in task.log]
    return lines[-1] if lines else ""


def _check_report(container: ops.Container, name: str) -> workload_status.CheckReport | None:
    info = container.get_checks(name).get(name)
    if info is None:
        return None
    up = info.status == ops.pebble.CheckStatus.UP
    return workload_status.CheckReport(
        name=name,
        up=up,
        failures=info.failures,
        threshold=info.threshold,
        successes=info.successes,
        last_log="" if up else _last_check_log(container, info),
    )


def _run_probe(container: ops.Container, dex_config_text: str) -> list[connector_probe.ConnectorFailure]:
    """Dex once more with the same connectors and no listener (connector_probe.py); it exits 1."""
    _push_private(container, connector_probe.PROBE_CONFIG_PATH, connector_probe.probe_config(dex_config_text))
    try:
        stdout, stderr = container.exec(
            list(connector_probe.PROBE_COMMAND),
            environment=connector_probe.PROBE_ENVIRONMENT,
            user_id=pebble_layers.WORKLOAD_UID,
            group_id=pebble_layers.WORKLOAD_GID,
            timeout=connector_probe.PROBE_TIMEOUT,
        ).wait_output()
    except ops.pebble.ExecError as err:  # the probe always exits 1: it cannot listen
        stdout, stderr = str(err.stdout or ""), str(err.stderr or "")
    return connector_probe.failures_from_log(f"{stdout}\n{stderr}")


class Workloads:
    """Push, replan and probe the two containers; read their checks back."""

    def __init__(self, unit: ops.Unit) -> None:
        self._unit = unit
        self.problems: list[ops.StatusBase] = []

    def _container(self, name: str) -> ops.Container | None:
        container = self._unit.get_container(name)
        return container if container.can_connect() else None

    def apply(self, rendered: rendering.Rendered) -> None:
        """Each container independently: one that is not reachable does not hold up the other."""
        self._apply_dex(rendered)
        self._apply_gatekeeper(rendered)

    def _apply_dex(self, rendered: rendering.Rendered) -> None:
        container = self._container("dex")
        if container is None:
            return
        try:
            _sync_dex_files(container, rendered)
            if _read(container, pebble_layers.DEX_CONFIG_PATH) != rendered.dex_config:
                _push_private(container, pebble_layers.DEX_CONFIG_PATH, rendered.dex_config)
                logger.info("pushed a new Dex config")
            container.add_layer("dex", _layer(rendered.dex_layer), combine=True)
            container.replan()
        except ops.pebble.ChangeError:
            logger.exception("dex did not start")
            self.problems.append(ops.BlockedStatus("dex failed to start (see juju debug-log)"))
        except _PEBBLE_ERRORS as err:
            logger.warning("could not update the dex container: %s", err)
            self.problems.append(ops.WaitingStatus("waiting for the dex container"))

    def _apply_gatekeeper(self, rendered: rendering.Rendered) -> None:
        container = self._container("gatekeeper")
        if container is None:
            return
        try:
            container.add_layer("gatekeeper", _layer(rendered.gatekeeper_layer), combine=True)
            container.replan()
            if not rendered.ext_authz:  # declared disabled: replan does not stop it once started
                service = container.get_services(pebble_layers.EXT_AUTHZ_SERVICE).get(pebble_layers.EXT_AUTHZ_SERVICE)
                if service is not None and service.is_running():
                    container.stop(pebble_layers.EXT_AUTHZ_SERVICE)
        except ops.pebble.ChangeError:
            logger.exception("gatekeeper did not start")
            self.problems.append(ops.BlockedStatus("gatekeeper failed to start (see juju debug-log)"))
        except (ops.pebble.APIError, ops.pebble.ConnectionError) as err:
            logger.warning("could not update the gatekeeper container: %s", err)
            self.problems.append(ops.WaitingStatus("waiting for the gatekeeper container"))

    def forward_logs(self, wanted: dict[str, str], labels: dict[str, str]) -> None:
        """Both containers, whatever the config: a bad config still leaves logs to read.

        Pebble takes a new log target without a replan; only a change is written.
        """
        for name in CONTAINERS:
            container = self._container(name)
            if container is None:
                continue
            try:
                planned = container.get_plan().log_targets
                forwarding = {target: log.location for target, log in planned.items() if log.services[-1:] != ["-all"]}
                layer = log_forwarding.layer(wanted, forwarding, labels)
                if layer is None:
                    continue
                current = {target: log.to_dict() for target, log in planned.items()}
                if any(current.get(target) != value for target, value in layer["log-targets"].items()):
                    container.add_layer(log_forwarding.LAYER, _layer(layer), combine=True)
            except (ops.pebble.APIError, ops.pebble.ConnectionError) as err:
                logger.warning("could not set the %s container's log forwarding: %s", name, err)

    def unconfigured(self) -> bool:
        """Both containers are up and hold nothing of ours: a new pod, to start from the last good config."""
        dex, gatekeeper = self._container("dex"), self._container("gatekeeper")
        if dex is None or gatekeeper is None:
            return False
        return _read(dex, pebble_layers.DEX_CONFIG_PATH) is None or "gatekeeper" not in gatekeeper.get_plan().services

    def probe_connectors(self, rendered: rendering.Rendered, retry_failures: bool) -> None:
        """Run Dex's probe when the connectors changed, or to retry the ones that failed."""
        container = self._container("dex") if rendered.dex_connector_ids else None
        if container is None:
            return
        key = connector_probe.probe_key(rendered.dex_config, rendered.files)
        try:
            previous = connector_probe.read_result(_read(container, connector_probe.PROBE_RESULT_PATH), key)
            if previous is not None and not (retry_failures and previous):
                return
            failures = _run_probe(container, rendered.dex_config)
            for failure in failures:
                logger.error("Dex cannot open connector %s: %s", failure.connector_id, failure.reason)
            _push_private(container, connector_probe.PROBE_RESULT_PATH, connector_probe.result_text(key, failures))
        except (*_PEBBLE_ERRORS, ops.pebble.ChangeError, ops.pebble.TimeoutError) as err:
            logger.warning("could not probe Dex's connectors: %s", type(err).__name__)

    def connector_failures(self, rendered: rendering.Rendered) -> list[connector_probe.ConnectorFailure]:
        """What the last probe of these very connectors found."""
        container = self._container("dex") if rendered.dex_connector_ids else None
        if container is None:
            return []
        key = connector_probe.probe_key(rendered.dex_config, rendered.files)
        try:
            text = _read(container, connector_probe.PROBE_RESULT_PATH)
        except (ops.pebble.APIError, ops.pebble.ConnectionError):
            return []
        return connector_probe.read_result(text, key) or []

    def status(self, name: str, app_name: str) -> ops.StatusBase:
        """What the service and its readiness check say; running alone is not ready."""
        container = self._unit.get_container(name)
        if not container.can_connect():
            return ops.WaitingStatus(f"waiting for the {name} container")
        service = container.get_services(name).get(name)
        if service is None:
            return ops.WaitingStatus(f"waiting for a valid config to start {name}")
        if not service.is_running():
            return ops.MaintenanceStatus(f"{name} is not running yet")
        report = _check_report(container, READY_CHECKS[name])
        if report is None:
            return ops.WaitingStatus(f"{name} is starting")
        if name == "dex":
            verdict = workload_status.dex_status(report, app_name)
        else:
            verdict = workload_status.gatekeeper_status(report)
        return status_of(verdict.level, verdict.message)

    def store_status(self) -> ops.StatusBase:
        """Whether the gatekeeper reaches Redis; only asked when the charm gave it one."""
        container = self._container("gatekeeper")
        report = _check_report(container, pebble_layers.GATEKEEPER_STORE_CHECK) if container else None
        if report is None:
            return ops.ActiveStatus()
        verdict = workload_status.store_status(report)
        return status_of(verdict.level, verdict.message)
