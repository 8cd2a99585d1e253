#!/usr/bin/env python3
"""dex-auth: Dex and the gatekeeper in one Kubernetes charm, behind Ambassador.

One reconcile on every event: gather config, secrets and relation data; render (pure, see
rendering.py); push only what changed; report through collect-status. A bad config never
touches the running workloads, so the last good Dex config keeps serving.
"""

from __future__ import annotations

import json
import logging
import secrets

import ops

import connector_probe
import connectors
import credentials
from ambassador import render_resources_yaml
from charms.dex_auth.v0.ambassador_routes import AmbassadorRoutesRequirer
from charms.dex_auth.v0.dex_issuer import DexIssuerProvider
from charms.dex_auth.v0.oidc_client import SECRET_KEY, ClientRequest, OidcClientProvider
from dex_config import DexConfigError, StaticClient, hash_password, password_matches
from rendering import Rendered, SharedSecrets, ambassador_settings, render_all
from settings import (
    AMBASSADOR_API_VERSIONS,
    CLI_CLIENT_ID,
    GATEKEEPER_CLIENT_ID,
    MissingPublicUrlError,
    Settings,
    SettingsError,
    header_option,
    parse_settings,
)
from workload_status import CheckReport, dex_status, gatekeeper_status
from workloads import (
    DEX_CONFIG_PATH,
    DEX_FILES_DIR,
    DEX_READY_CHECK,
    DEX_WEB_PORT,
    GATEKEEPER_PORT,
    GATEKEEPER_READY_CHECK,
    WORKLOAD_GID,
    WORKLOAD_UID,
)

logger = logging.getLogger(__name__)

PEER = "dex-auth-peers"
# Labels of the charm's own Juju secrets (ruff's S105 takes the names for passwords).
GATEKEEPER_SECRET = "gatekeeper"  # noqa: S105 - keys: client-secret, session-keys
PASSWORD_SECRET = "static-password"  # noqa: S105 - keys: hash, source, and password when generated
LAST_GOOD_SECRET = "last-good-config"  # noqa: S105 - keys: options (JSON of the options that rendered)
OIDC_SECRETS_KEY = "oidc-client-secrets"  # peer app data: {relation id: secret id}
CONTAINERS = ("dex", "gatekeeper")
READY_CHECKS = {"dex": DEX_READY_CHECK, "gatekeeper": GATEKEEPER_READY_CHECK}
_STATUS_TYPES: dict[str, type[ops.StatusBase]] = {
    "active": ops.ActiveStatus,
    "waiting": ops.WaitingStatus,
    "blocked": ops.BlockedStatus,
}


class DexAuthCharm(ops.CharmBase):
    """Runs Dex and the gatekeeper; publishes routes, issuer and OIDC client secrets."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.ambassador = AmbassadorRoutesRequirer(self, "ambassador")
        self.oidc_clients = OidcClientProvider(self, "oidc-client")
        self.issuer = DexIssuerProvider(self, "dex-oidc-config")
        self._outcome: Rendered | ops.StatusBase | None = None
        self._workload_problems: list[ops.StatusBase] = []
        self._secret_cache: dict[str, dict[str, str]] = {}

        on = self.on
        events = [
            on.install,
            on.start,
            on.config_changed,
            on.upgrade_charm,
            on.leader_elected,
            on.update_status,
            on.secret_changed,
            on.dex_pebble_ready,
            on.gatekeeper_pebble_ready,
            on[PEER].relation_created,
            on[PEER].relation_changed,
            on.ambassador_relation_created,
            on.ambassador_relation_changed,
            on.oidc_client_relation_changed,
            on.oidc_client_relation_broken,
            on.dex_oidc_config_relation_created,
            on.dex_oidc_config_relation_changed,
        ]
        for event in events:
            framework.observe(event, self._reconcile)
        framework.observe(on.secret_remove, self._on_secret_gone)
        framework.observe(on.secret_expired, self._on_secret_gone)
        framework.observe(on.collect_unit_status, self._on_collect_unit_status)
        framework.observe(on.show_static_password_action, self._on_show_static_password)
        framework.observe(on.rotate_session_key_action, self._on_rotate_session_key)
        framework.observe(on.show_ambassador_resources_action, self._on_show_ambassador_resources)

    # --- reconcile -------------------------------------------------------------------------

    def _reconcile(self, _event: ops.EventBase) -> None:
        self.unit.set_ports(DEX_WEB_PORT, GATEKEEPER_PORT)
        if self.unit.is_leader():
            self._ensure_shared_secrets()
            self._ensure_oidc_client_secrets()
        outcome = self._render()
        if not isinstance(outcome, Rendered):
            logger.warning("not applying the config: %s", outcome.message)
            self._restore_last_good()
            return
        self._apply_dex(outcome)
        self._probe_connectors(outcome, retry_failures=isinstance(_event, ops.UpdateStatusEvent))
        self._apply_gatekeeper(outcome)
        if self.unit.is_leader():
            self._publish(outcome)
            self._remember_last_good()

    def _remember_last_good(self) -> None:
        """Keep the options that rendered, so a new pod can start from them while config is bad."""
        options = json.dumps(dict(self.config), sort_keys=True)
        current = self._shared_content(LAST_GOOD_SECRET)
        if current is None or current.get("options") != options:
            self._store_shared(LAST_GOOD_SECRET, {"options": options}, "dex-auth last config that rendered")

    def _restore_last_good(self) -> None:
        """A running workload keeps its config; an empty one (new pod) gets the last good one."""
        dex = self.unit.get_container("dex")
        gatekeeper = self.unit.get_container("gatekeeper")
        if not dex.can_connect() or not gatekeeper.can_connect():
            return
        if _read_file(dex, DEX_CONFIG_PATH) is not None and "gatekeeper" in gatekeeper.get_plan().services:
            return
        snapshot = self._shared_content(LAST_GOOD_SECRET)
        if not snapshot:
            return
        try:
            settings = parse_settings(json.loads(snapshot["options"]))
            found = connectors.load(settings.connectors_text, settings.issuer_url, self._resolve_secret)
            shared = self._shared_secrets(settings)
            if shared is None:
                return
            rendered = render_all(
                settings,
                found,
                app_name=self.app.name,
                namespace=self.model.name,
                secrets=shared,
                oidc_clients=self._oidc_static_clients(),
            )
        except (ValueError, KeyError) as err:
            logger.warning("the last good config no longer renders: %s", err)
            return
        logger.warning("starting the workloads from the last good config until the config is fixed")
        self._apply_dex(rendered)
        self._apply_gatekeeper(rendered)

    def _render(self) -> Rendered | ops.StatusBase:
        """Memoised per hook: reconcile and collect-status see the same result."""
        if self._outcome is None:
            self._outcome = self._compute()
        return self._outcome

    def _compute(self) -> Rendered | ops.StatusBase:
        try:
            settings = parse_settings(self.config)
        except MissingPublicUrlError:
            return ops.BlockedStatus(f"set public-url: juju config {self.app.name} public-url=https://<host>")
        except SettingsError as err:
            return ops.BlockedStatus(str(err))
        try:
            found = connectors.load(settings.connectors_text, settings.issuer_url, self._resolve_secret)
        except connectors.ConnectorValidationError as err:
            for problem in err.problems:
                logger.error("bad connector: %s", problem)
            return ops.BlockedStatus(str(err))
        except connectors.ConnectorsError as err:
            logger.error("bad connectors option: %s", err)
            return ops.BlockedStatus(str(err))

        shared = self._shared_secrets(settings)
        if shared is None:
            return ops.WaitingStatus("waiting for the leader unit to create the shared secrets")
        try:
            return render_all(
                settings,
                found,
                app_name=self.app.name,
                namespace=self.model.name,
                secrets=shared,
                oidc_clients=self._oidc_static_clients(),
            )
        except (DexConfigError, SettingsError) as err:
            return ops.BlockedStatus(str(err))

    def _apply_dex(self, rendered: Rendered) -> None:
        container = self.unit.get_container("dex")
        if not container.can_connect():
            return
        try:
            _sync_dex_files(container, rendered)
            if _read_file(container, DEX_CONFIG_PATH) != rendered.dex_config:
                _push_private(container, DEX_CONFIG_PATH, rendered.dex_config)
                logger.info("pushed a new Dex config")
            container.add_layer("dex", rendered.dex_layer, combine=True)
            container.replan()
        except ops.pebble.ChangeError:
            logger.exception("dex did not start")
            self._workload_problems.append(ops.BlockedStatus("dex failed to start (see juju debug-log)"))
        except (ops.pebble.APIError, ops.pebble.ConnectionError, ops.pebble.PathError) as err:
            logger.warning("could not update the dex container: %s", err)
            self._workload_problems.append(ops.WaitingStatus("waiting for the dex container"))

    def _probe_connectors(self, rendered: Rendered, retry_failures: bool) -> None:
        """Run Dex's probe (connector_probe.py) when the connectors changed, or to retry failures."""
        if not rendered.dex_connector_ids:
            return
        container = self.unit.get_container("dex")
        if not container.can_connect():
            return
        key = connector_probe.probe_key(rendered.dex_config, _files_of(rendered))
        try:
            previous = connector_probe.read_result(_read_file(container, connector_probe.PROBE_RESULT_PATH), key)
            if previous is not None and not (retry_failures and previous):
                return
            _push_private(
                container, connector_probe.PROBE_CONFIG_PATH, connector_probe.probe_config(rendered.dex_config)
            )
            try:
                stdout, stderr = container.exec(
                    list(connector_probe.PROBE_COMMAND),
                    environment=connector_probe.PROBE_ENVIRONMENT,
                    user_id=WORKLOAD_UID,
                    group_id=WORKLOAD_GID,
                    timeout=connector_probe.PROBE_TIMEOUT,
                ).wait_output()
            except ops.pebble.ExecError as err:  # the probe always exits 1: it cannot listen
                stdout, stderr = str(err.stdout or ""), str(err.stderr or "")
            failures = connector_probe.failures_from_log(f"{stdout}\n{stderr}")
            for failure in failures:
                logger.error("Dex cannot open connector %s: %s", failure.connector_id, failure.reason)
            _push_private(container, connector_probe.PROBE_RESULT_PATH, connector_probe.result_text(key, failures))
        except (
            ops.pebble.APIError,
            ops.pebble.ConnectionError,
            ops.pebble.PathError,
            ops.pebble.ChangeError,
            ops.pebble.TimeoutError,
        ) as err:
            logger.warning("could not probe Dex's connectors: %s", type(err).__name__)

    def _connector_failures(self) -> list[connector_probe.ConnectorFailure]:
        rendered = self._render()
        container = self.unit.get_container("dex")
        if not isinstance(rendered, Rendered) or not rendered.dex_connector_ids or not container.can_connect():
            return []
        key = connector_probe.probe_key(rendered.dex_config, _files_of(rendered))
        try:
            text = _read_file(container, connector_probe.PROBE_RESULT_PATH)
        except (ops.pebble.APIError, ops.pebble.ConnectionError):
            return []
        return connector_probe.read_result(text, key) or []

    def _apply_gatekeeper(self, rendered: Rendered) -> None:
        container = self.unit.get_container("gatekeeper")
        if not container.can_connect():
            return
        try:
            container.add_layer("gatekeeper", rendered.gatekeeper_layer, combine=True)
            container.replan()
        except ops.pebble.ChangeError:
            logger.exception("gatekeeper did not start")
            self._workload_problems.append(ops.BlockedStatus("gatekeeper failed to start (see juju debug-log)"))
        except (ops.pebble.APIError, ops.pebble.ConnectionError) as err:
            logger.warning("could not update the gatekeeper container: %s", err)
            self._workload_problems.append(ops.WaitingStatus("waiting for the gatekeeper container"))

    def _publish(self, rendered: Rendered) -> None:
        self.ambassador.publish(rendered.resources_yaml)
        self.issuer.publish(rendered.issuer_url)
        requests, invalid = self.oidc_clients.requests()
        by_relation = {r.id: r for r in self.oidc_clients.relations}
        for relation_id, problem in invalid.items():
            self.oidc_clients.publish_error(by_relation[relation_id], problem)
        for request in requests:
            problem = self._client_conflict(request, requests)
            secret = self._owned_secret(_oidc_label(request.relation_id))
            if problem:
                self.oidc_clients.publish_error(by_relation[request.relation_id], problem)
            elif secret is not None:
                self.oidc_clients.publish(
                    by_relation[request.relation_id], request.client_id, secret, rendered.issuer_url
                )

    # --- shared secrets ---------------------------------------------------------------------

    def _peer_data(self) -> ops.RelationDataContent | None:
        relation = self.model.get_relation(PEER)
        return relation.data[self.app] if relation is not None else None

    def _owned_secret(self, label: str) -> ops.Secret | None:
        try:
            return self.model.get_secret(label=label)
        except ops.SecretNotFoundError:
            return None

    def _shared_secret(self, name: str) -> ops.Secret | None:
        """The leader finds app secrets by label; other units by the id in peer data."""
        if self.unit.is_leader():
            return self._owned_secret(name)
        peer = self._peer_data()
        secret_id = peer.get(f"{name}-secret-id") if peer is not None else None
        if not secret_id:
            return None
        try:
            return self.model.get_secret(id=secret_id)
        except ops.SecretNotFoundError:
            return None

    def _shared_content(self, name: str) -> dict[str, str] | None:
        if name in self._secret_cache:
            return self._secret_cache[name]
        secret = self._shared_secret(name)
        if secret is None:
            return None
        try:
            content = secret.get_content(refresh=True)
        except (ops.SecretNotFoundError, ops.ModelError) as err:
            logger.warning("cannot read the %s secret: %s", name, type(err).__name__)
            return None
        self._secret_cache[name] = content
        return content

    def _store_shared(self, name: str, content: dict[str, str], description: str) -> None:
        """Leader only: create or update an app secret and tell the other units its id."""
        secret = self._owned_secret(name)
        if secret is None:
            secret = self.app.add_secret(content, label=name, description=description)
        else:
            secret.set_content(content)
        self._secret_cache[name] = content
        self._store_shared_id_only(name, secret)
        peer = self._peer_data()
        if peer is not None:
            # Units of the owning app get no secret-changed: a peer change makes them re-read.
            peer[f"{name}-secret-version"] = secrets.token_hex(8)

    def _ensure_shared_secrets(self) -> None:
        content = self._shared_content(GATEKEEPER_SECRET)
        if content is None or not content.get("client-secret") or not _valid_keys(content.get("session-keys")):
            content = {
                "client-secret": (content or {}).get("client-secret") or credentials.new_client_secret(),
                "session-keys": str(credentials.new_session_key()),
            }
            self._store_shared(GATEKEEPER_SECRET, content, "dex-auth gatekeeper client secret and session keys")
        else:
            self._store_shared_id_only(GATEKEEPER_SECRET)
        self._ensure_static_password()

    def _store_shared_id_only(self, name: str, secret: ops.Secret | None = None) -> None:
        """Tell the other units where the secret is; asks Juju for the id only when not yet told."""
        peer = self._peer_data()
        key = f"{name}-secret-id"
        if peer is None or (secret is None and peer.get(key)):
            return
        secret = secret if secret is not None else self._owned_secret(name)
        if secret is None:
            return
        secret_id = _secret_id(secret)
        if peer.get(key) != secret_id:
            peer[key] = secret_id

    def _ensure_static_password(self) -> None:
        """Hash only when the password changes, so the Dex config (and Dex) stay put otherwise."""
        if not self.config.get("enable-password-db") or not str(self.config.get("static-username", "")).strip():
            return
        wanted = str(self.config.get("static-password", ""))
        current = self._shared_content(PASSWORD_SECRET) or {}
        if wanted:
            if current.get("source") == "config" and password_matches(wanted, current.get("hash", "")):
                self._store_shared_id_only(PASSWORD_SECRET)
                return
            content = {"source": "config", "hash": hash_password(wanted)}
        else:
            if current.get("source") == "generated" and current.get("password") and current.get("hash"):
                self._store_shared_id_only(PASSWORD_SECRET)
                return
            password = credentials.new_password()
            content = {"source": "generated", "password": password, "hash": hash_password(password)}
            logger.info("generated a password for the static user (show-static-password action)")
        self._store_shared(PASSWORD_SECRET, content, "dex-auth static user password")

    def _shared_secrets(self, settings: Settings) -> SharedSecrets | None:
        gatekeeper = self._shared_content(GATEKEEPER_SECRET)
        if gatekeeper is None or not _valid_keys(gatekeeper.get("session-keys")):
            return None
        password_hash = None
        if settings.enable_password_db and settings.static_username:
            password = self._shared_content(PASSWORD_SECRET)
            if not password or not password.get("hash"):
                return None
            password_hash = password["hash"]
        client_secret = gatekeeper.get("client-secret")
        if not client_secret:
            return None
        return SharedSecrets(client_secret, gatekeeper["session-keys"], password_hash)

    def _resolve_secret(self, uri: str, key: str | None) -> str:
        """Read a user secret named in `connectors`; the admin must have granted it to us."""
        grant = f"juju grant-secret {uri} {self.app.name}"
        try:
            content = self.model.get_secret(id=uri).get_content(refresh=True)
        except ops.SecretNotFoundError:
            raise connectors.SecretLookupError(f"secret {uri} is not found or not granted (run: {grant})") from None
        except ops.ModelError:
            raise connectors.SecretLookupError(f"secret {uri} cannot be read (run: {grant})") from None
        if key is None:
            if len(content) == 1:
                return next(iter(content.values()))
            raise connectors.SecretLookupError(
                f"secret {uri} has keys {', '.join(sorted(content))}: name one as {uri}/<key>"
            )
        if key not in content:
            raise connectors.SecretLookupError(f"secret {uri} has no key {key} (it has {', '.join(sorted(content))})")
        return content[key]

    # --- OIDC clients -----------------------------------------------------------------------

    def _ensure_oidc_client_secrets(self) -> None:
        """Leader: one app secret per client relation; ids shared with the other units."""
        requests, _ = self.oidc_clients.requests()
        live = {str(r.id) for r in self.oidc_clients.relations}
        mapping: dict[str, str] = {}
        for request in requests:
            label = _oidc_label(request.relation_id)
            secret = self._owned_secret(label)
            if secret is None:
                secret = self.app.add_secret(
                    {SECRET_KEY: credentials.new_client_secret()},
                    label=label,
                    description=f"OIDC client secret of {request.app_name}",
                )
            mapping[str(request.relation_id)] = _secret_id(secret)
        peer = self._peer_data()
        previous = json.loads(peer.get(OIDC_SECRETS_KEY, "{}")) if peer is not None else {}
        for relation_id in set(previous) - live:
            gone = self._owned_secret(_oidc_label(int(relation_id)))
            if gone is not None:
                gone.remove_all_revisions()
        if peer is not None:
            text = json.dumps(mapping, sort_keys=True)
            if peer.get(OIDC_SECRETS_KEY, "{}") != text:
                peer[OIDC_SECRETS_KEY] = text

    def _client_conflict(self, request: ClientRequest, requests: list[ClientRequest]) -> str | None:
        if request.client_id in (GATEKEEPER_CLIENT_ID, CLI_CLIENT_ID):
            return f"client-id {request.client_id} is reserved by dex-auth"
        first = next(r for r in requests if r.client_id == request.client_id)
        if first.relation_id != request.relation_id:
            return f"client-id {request.client_id} is already registered by {first.app_name}"
        return None

    def _oidc_static_clients(self) -> list[StaticClient]:
        requests, invalid = self.oidc_clients.requests()
        for relation_id, problem in invalid.items():
            logger.warning("ignoring the OIDC client on relation %s: %s", relation_id, problem)
        peer = self._peer_data()
        mapping = json.loads(peer.get(OIDC_SECRETS_KEY, "{}")) if peer is not None else {}
        clients = []
        for request in requests:
            if self._client_conflict(request, requests):
                continue
            try:
                if self.unit.is_leader():
                    secret = self._owned_secret(_oidc_label(request.relation_id))
                else:
                    secret_id = mapping.get(str(request.relation_id))
                    secret = self.model.get_secret(id=secret_id) if secret_id else None
                if secret is None:
                    continue
                client_secret = secret.get_content(refresh=True).get(SECRET_KEY)
            except (ops.SecretNotFoundError, ops.ModelError):
                logger.warning("the client secret of relation %s is gone; leaving that client out", request.relation_id)
                continue
            if client_secret:
                clients.append(StaticClient(request.client_id, request.name, request.redirect_uris, client_secret))
        return clients

    # --- status -----------------------------------------------------------------------------

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        outcome = self._render()
        if isinstance(outcome, ops.StatusBase):
            event.add_status(outcome)
        for problem in self._workload_problems:
            event.add_status(problem)
        for name in CONTAINERS:
            event.add_status(self._workload_status(name))
        failures = self._connector_failures()
        if failures:
            event.add_status(ops.BlockedStatus(connector_probe.status_message(failures)))
        event.add_status(ops.ActiveStatus())

    def _workload_status(self, name: str) -> ops.StatusBase:
        """What the service and its readiness check say; running alone is not ready."""
        container = self.unit.get_container(name)
        if not container.can_connect():
            return ops.WaitingStatus(f"waiting for the {name} container")
        service = container.get_services(name).get(name)
        if service is None:
            return ops.WaitingStatus(f"waiting for a valid config to start {name}")
        if not service.is_running():
            return ops.MaintenanceStatus(f"{name} is not running yet")
        check_name = READY_CHECKS[name]
        info = container.get_checks(check_name).get(check_name)
        if info is None:
            return ops.WaitingStatus(f"{name} is starting")
        report = CheckReport(
            name=check_name,
            up=info.status == ops.pebble.CheckStatus.UP,
            failures=info.failures,
            threshold=info.threshold,
            successes=info.successes,
            last_log="" if info.status == ops.pebble.CheckStatus.UP else _last_check_log(container, info),
        )
        verdict = dex_status(report, self.app.name) if name == "dex" else gatekeeper_status(report)
        return _STATUS_TYPES[verdict.level](verdict.message)

    # --- actions ----------------------------------------------------------------------------

    def _on_show_static_password(self, event: ops.ActionEvent) -> None:
        username = str(self.config.get("static-username", "")).strip()
        if not self.config.get("enable-password-db") or not username:
            event.fail("there is no static user: set static-username and enable-password-db=true")
            return
        if self.config.get("static-password"):
            event.fail("the password is the static-password option's value; the charm does not show it")
            return
        content = self._shared_content(PASSWORD_SECRET)
        if not content or content.get("source") != "generated" or not content.get("password"):
            event.fail("no password has been generated yet; try again after the leader has settled")
            return
        event.set_results({"username": username, "password": content["password"]})

    def _on_rotate_session_key(self, event: ops.ActionEvent) -> None:
        if not self.unit.is_leader():
            event.fail("run this action on the leader unit: juju run dex-auth/leader rotate-session-key")
            return
        content = self._shared_content(GATEKEEPER_SECRET)
        if content is None or not _valid_keys(content.get("session-keys")):
            event.fail("the session keys do not exist yet; try again once the charm has settled")
            return
        keys, fresh, previous = credentials.rotate_session_keys(content["session-keys"])
        self._store_shared(
            GATEKEEPER_SECRET, {**content, "session-keys": keys}, "dex-auth gatekeeper client secret and session keys"
        )
        logger.info("session key rotated: new key id %s, previous %s", fresh.kid, previous.kid)
        self._outcome = None
        self._reconcile(event)
        event.set_results({"key-id": fresh.kid, "previous-key-id": previous.kid})

    def _on_show_ambassador_resources(self, event: ops.ActionEvent) -> None:
        version = str(event.params.get("api-version") or self.config.get("ambassador-api-version"))
        if version not in AMBASSADOR_API_VERSIONS:
            event.fail(f"api-version must be one of {', '.join(AMBASSADOR_API_VERSIONS)}")
            return
        try:
            userid = header_option(self.config, "userid-header")
            groups = header_option(self.config, "groups-header")
        except SettingsError as err:
            event.fail(str(err))
            return
        routes = ambassador_settings(version, userid, groups, self.app.name, self.model.name)
        event.set_results({"resources": render_resources_yaml(routes)})

    def _on_secret_gone(self, event: ops.SecretRemoveEvent | ops.SecretExpiredEvent) -> None:
        """Drop a revision nobody tracks (or that expired); it may be gone already.

        `remove_all_revisions()` on a client secret still leaves Juju to send secret-remove for
        the revisions it removed, and a hook error here would stop the unit.
        """
        try:
            event.remove_revision()
        except (ops.SecretNotFoundError, ops.ModelError) as err:
            logger.info(
                "revision %s of secret %s is already gone (%s)",
                event.revision,
                event.secret.id or event.secret.label,
                type(err).__name__,
            )


def _push_private(container: ops.Container, path: str, content: str) -> None:
    """Secrets in a file only the workload user can read, in a directory only it can list."""
    directory = path.rsplit("/", 1)[0]
    if not container.exists(directory):
        container.make_dir(directory, make_parents=True, permissions=0o700, user_id=WORKLOAD_UID, group_id=WORKLOAD_GID)
    container.push(path, content, permissions=0o600, user_id=WORKLOAD_UID, group_id=WORKLOAD_GID)


def _files_of(rendered: Rendered) -> dict[str, str]:
    return {f.path: f.content for f in rendered.dex_files}


def _sync_dex_files(container: ops.Container, rendered: Rendered) -> None:
    """Write the connector files before the config that names them; drop the ones no longer named."""
    wanted = _files_of(rendered)
    for path, content in wanted.items():
        if _read_file(container, path) != content:
            _push_private(container, path, content)
    if container.exists(DEX_FILES_DIR):
        for info in container.list_files(DEX_FILES_DIR):
            if info.path not in wanted:
                container.remove_path(info.path)


def _read_file(container: ops.Container, path: str) -> str | None:
    try:
        return container.pull(path).read()
    except ops.pebble.PathError:
        return None


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


def _secret_id(secret: ops.Secret) -> str:
    """A secret found by label has no id until asked for it."""
    return secret.id or secret.get_info().id


def _valid_keys(value: str | None) -> bool:
    if not value:
        return False
    try:
        credentials.parse_session_keys(value)
    except credentials.SessionKeysError:
        return False
    return True


def _oidc_label(relation_id: int) -> str:
    return f"oidc-client-{relation_id}"


if __name__ == "__main__":  # pragma: nocover
    ops.main(DexAuthCharm)
