#!/usr/bin/env python3
"""dex-auth: Dex and the gatekeeper in one Kubernetes charm, behind Ambassador.

One reconcile on every event: gather config, secrets and relation data; render (pure, see
rendering.py); push only what changed; report through collect-status. A bad config never
touches the running workloads, so the last good Dex config keeps serving. The side effects
live in app_secrets.py, oidc_clients.py and workloads.py; this module wires events to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

import ops

import app_secrets
import connector_probe
import credentials
import errors
import grafana_dashboard
import identity_platform
import istio_ingress
import log_forwarding
import observability
import oidc_clients
import operations_client
import pebble_layers
import redis_relation
import rendering
import settings
import workloads
from charms.dex_auth.v0 import ambassador_routes, dex_issuer, identity_assertion, oidc_client
from gatekeeper import assertion_keys, rules

logger = logging.getLogger(__name__)

IDENTITY_ASSERTION = "identity-assertion"

_LIFECYCLE_EVENTS = (
    "install",
    "start",
    "config_changed",
    "upgrade_charm",
    "leader_elected",
    "update_status",
    "secret_changed",
    "dex_pebble_ready",
    "gatekeeper_pebble_ready",
)
# Which relation events change what the reconcile reads or writes, per endpoint.
_RELATION_EVENTS = {
    app_secrets.PEER: ("relation_created", "relation_changed"),
    "ambassador": ("relation_created", "relation_changed"),
    "oidc-client": ("relation_changed", "relation_broken"),
    "dex-oidc-config": ("relation_created", "relation_changed"),
    IDENTITY_ASSERTION: ("relation_created",),
    istio_ingress.INGRESS: ("relation_created", "relation_changed"),
    istio_ingress.INGRESS_AUTH: ("relation_created", "relation_changed", "relation_broken"),
    redis_relation.ENDPOINT: ("relation_changed", "relation_departed", "relation_broken"),
    observability.ENDPOINT: ("relation_created",),
    grafana_dashboard.ENDPOINT: ("relation_created",),
    log_forwarding.ENDPOINT: ("relation_created", "relation_changed", "relation_departed", "relation_broken"),
    identity_platform.AUTH_PROXY: ("relation_changed", "relation_broken"),
    identity_platform.FORWARD_AUTH: ("relation_created", "relation_changed"),
}


class KeyIds(NamedTuple):
    """What a key rotation reports: the new key's id, the one it replaced, how many earlier are kept."""

    fresh: str
    previous: str
    kept: int


def _session_key_ids(rotated: credentials.Rotation | None) -> KeyIds | None:
    return None if rotated is None else KeyIds(rotated.fresh.kid, rotated.previous.kid, len(rotated.retired))


def _assertion_key_ids(rotated: assertion_keys.Rotation | None) -> KeyIds | None:
    return None if rotated is None else KeyIds(rotated.fresh, rotated.previous, len(rotated.retired))


def _reconcile_events(on: ops.CharmEvents) -> list[ops.BoundEvent]:
    relation_events = [getattr(on[endpoint], kind) for endpoint, kinds in _RELATION_EVENTS.items() for kind in kinds]
    return [getattr(on, name) for name in _LIFECYCLE_EVENTS] + relation_events


class DexAuthCharm(ops.CharmBase):
    """Runs Dex and the gatekeeper; publishes routes, issuer and OIDC client secrets."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.ambassador = ambassador_routes.AmbassadorRoutesRequirer(self, "ambassador")
        self.issuer = dex_issuer.DexIssuerProvider(self, "dex-oidc-config")
        self.assertion = identity_assertion.IdentityAssertionProvider(self, IDENTITY_ASSERTION)
        self.app_secrets = app_secrets.AppSecrets(self.model)
        self.oidc_clients = oidc_clients.OidcClients(oidc_client.OidcClientProvider(self, "oidc-client"), self.model)
        self.workloads = workloads.Workloads(self.unit)
        self.identity_platform = identity_platform.IdentityPlatform(self, self._identity_headers())
        self._outcome: rendering.Rendered | errors.DexAuthError | None = None

        on = self.on
        for event in _reconcile_events(on):
            framework.observe(event, self._reconcile)
        framework.observe(on.secret_remove, self._on_secret_gone)
        framework.observe(on.secret_expired, self._on_secret_gone)
        framework.observe(on.collect_unit_status, self._on_collect_unit_status)
        framework.observe(on.show_static_password_action, self._on_show_static_password)
        framework.observe(on.rotate_session_key_action, self._on_rotate_session_key)
        framework.observe(on.rotate_assertion_key_action, self._on_rotate_assertion_key)
        framework.observe(on.show_ambassador_resources_action, self._on_show_ambassador_resources)
        framework.observe(on.revoke_user_action, self._on_revoke_user)

    # --- reconcile -------------------------------------------------------------------------

    def _reconcile(self, event: ops.EventBase) -> None:
        self.unit.set_ports(pebble_layers.DEX_WEB_PORT, pebble_layers.GATEKEEPER_PORT, pebble_layers.EXT_AUTHZ_PORT)
        scrape = observability.unit_databag(self.app.name, self.model.name, self.unit.name)
        self._publish({observability.ENDPOINT: scrape}, self.unit)  # whatever the config: Dex's metrics too
        self._forward_logs()
        if self.unit.is_leader():
            self.app_secrets.ensure(self._settings())
            self.oidc_clients.ensure_secrets()
        outcome = self._render()
        if isinstance(outcome, errors.DexAuthError):
            logger.warning("not applying the config: %s", outcome.status_message)
            self._restore_last_good()
            return
        self.workloads.apply(outcome)
        self.workloads.probe_connectors(outcome, retry_failures=isinstance(event, ops.UpdateStatusEvent))
        if self.unit.is_leader():
            self.ambassador.publish(outcome.resources_yaml)
            self._publish(outcome.app_databags, self.app)
            self.identity_platform.publish(self._identity_headers())
            self.issuer.publish(outcome.issuer_url)
            self.assertion.publish(outcome.assertion_databag)
            self.oidc_clients.publish(outcome.issuer_url)
            self.app_secrets.remember_last_good(dict(self.config))

    def _forward_logs(self) -> None:
        units = {
            unit.name: relation.data[unit]
            for relation in self.model.relations[log_forwarding.ENDPOINT]
            for unit in relation.units
        }
        loki = log_forwarding.endpoints(units)
        for unit in loki.unusable:
            logger.warning("Loki unit %s published no usable push endpoint; not forwarding logs to it", unit)
        labels = log_forwarding.topology_labels(self.app.name, self.model.name, self.model.uuid, self.unit.name)
        self.workloads.forward_logs(loki.urls, labels)

    def _settings(self) -> settings.Settings | None:
        """For the leader's secrets; a bad option is reported by the render itself."""
        try:
            return settings.parse_settings(self.config)
        except settings.SettingsError:
            return None

    def _context(self) -> rendering.Context:
        return rendering.Context(
            app_name=self.app.name,
            namespace=self.model.name,
            secrets=self.app_secrets.shared(),
            oidc_clients=self.oidc_clients.static_clients(),
            resolve=lambda uri, key: app_secrets.granted_value(self.model, uri, key),
            related_redis_url=redis.url if (redis := redis_relation.related_address(self.model)) else "",
            ext_authz=self.model.get_relation(istio_ingress.INGRESS_AUTH) is not None,
            proxied_skip_paths=self.identity_platform.proxied().skip_paths,
            model_uuid=self.model.uuid,
            unit_name=self.unit.name,
        )

    def _identity_headers(self) -> list[str]:
        """What Traefik passes on from the check's answer; the defaults while an option is bad."""
        names = []
        for option in ("userid-header", "groups-header", "identity-assertion-header"):
            try:
                names.append(str(settings.option_value(self.config, option)))
            except settings.SettingsError:
                names.append(str(settings.DEFAULTS[option]))
        return [name for name in names if name]

    def _publish(self, databags: dict[str, dict[str, str]], owner: ops.Application | ops.Unit) -> None:
        """What other charms read (istio-pilot, COS), in the app's data (leader) or the unit's."""
        for endpoint, wanted in databags.items():
            for relation in self.model.relations[endpoint]:
                data = relation.data[owner]
                if dict(data) != wanted:
                    data.update(wanted)

    def _render(self) -> rendering.Rendered | errors.DexAuthError:
        """Memoised per hook: reconcile and collect-status see the same result."""
        if self._outcome is None:
            try:
                self._outcome = rendering.render(self.config, self._context())
            except errors.DexAuthError as err:
                log = logger.error if err.status_level == "blocked" else logger.info
                for line in err.details:
                    log("%s", line)
                self._outcome = err
        return self._outcome

    def _restore_last_good(self) -> None:
        """A running workload keeps its config; an empty one (new pod) gets the last good one."""
        if not self.workloads.unconfigured():
            return
        options = self.app_secrets.last_good()
        if options is None:
            return
        try:
            rendered = rendering.render(options, self._context())
        except errors.DexAuthError as err:
            logger.warning("the last good config no longer renders: %s", err.status_message)
            return
        logger.warning("starting the workloads from the last good config until the config is fixed")
        self.workloads.apply(rendered)

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        outcome = self._render()
        if isinstance(outcome, errors.DexAuthError):
            event.add_status(workloads.status_of(outcome.status_level, outcome.status_message))
        if isinstance(outcome, rendering.Rendered):
            # Of equal levels the first added shows: this active message goes before the plain ones.
            event.add_status(self._sharing_status(outcome))
            for status in identity_platform.statuses(self.identity_platform.proxied()):
                event.add_status(status)
            failures = self.workloads.connector_failures(outcome)
            if failures:
                event.add_status(ops.BlockedStatus(connector_probe.status_message(failures)))
        for problem in self.workloads.problems:
            event.add_status(problem)
        for name in workloads.CONTAINERS:
            event.add_status(self.workloads.status(name, self.app.name))

    def _sharing_status(self, outcome: rendering.Rendered) -> ops.StatusBase:
        """Active either way; the message says when a logout does not hold on every unit."""
        if outcome.shares_logouts:
            return self.workloads.store_status()
        if self.model.get_relation(redis_relation.ENDPOINT) is not None:
            return ops.ActiveStatus("redis is related but has given no usable address; logouts are per unit")
        if self.app.planned_units() > 1:
            return ops.ActiveStatus("logouts are per unit: relate to redis or set redis-url")
        return ops.ActiveStatus()

    # --- actions and secret events -----------------------------------------------------------

    def _on_show_static_password(self, event: ops.ActionEvent) -> None:
        try:
            enabled = settings.option_value(self.config, "enable-password-db")
            username = settings.option_value(self.config, "static-username")
            configured = settings.option_value(self.config, "static-password")
        except settings.SettingsError as err:
            event.fail(err.status_message)
            return
        password = self.app_secrets.generated_password()
        if not enabled or not username:
            event.fail("there is no static user: set static-username and enable-password-db=true")
        elif configured:
            event.fail("the password is the static-password option's value; the charm does not show it")
        elif password is None:
            event.fail("no password has been generated yet; try again after the leader has settled")
        else:
            event.set_results({"username": username, "password": password})

    def _on_rotate_session_key(self, event: ops.ActionEvent) -> None:
        keep_for = settings.longest_signed_life(self._settings())
        self._rotate(event, "session key", lambda: _session_key_ids(self.app_secrets.rotate_session_key(keep_for)))

    def _on_rotate_assertion_key(self, event: ops.ActionEvent) -> None:
        drop = bool(event.params.get("drop-previous", False))
        self._rotate(event, "assertion key", lambda: _assertion_key_ids(self.app_secrets.rotate_assertion_key(drop)))

    def _rotate(self, event: ops.ActionEvent, what: str, rotate: Callable[[], KeyIds | None]) -> None:
        """The leader's rotation, applied at once; the results name the new and the previous key ids."""
        if not self.unit.is_leader():
            event.fail(f"run this action on the leader unit: juju run dex-auth/leader rotate-{what.replace(' ', '-')}")
            return
        try:
            rotated = rotate()
        except rules.InvalidValue as err:
            event.fail(f"the {what} in the charm's secret is unreadable ({err.problem}); nothing was changed")
            return
        if rotated is None:
            event.fail(f"the {what}s do not exist yet; try again once the charm has settled")
            return
        logger.info("%s rotated: new key id %s, previous %s", what, rotated.fresh, rotated.previous)
        self._outcome = None
        self._reconcile(event)
        event.set_results(
            {"key-id": rotated.fresh, "previous-key-id": rotated.previous, "previous-keys-kept": rotated.kept}
        )

    def _on_show_ambassador_resources(self, event: ops.ActionEvent) -> None:
        try:
            version = event.params.get("api-version") or settings.option_value(self.config, "ambassador-api-version")
            userid = settings.option_value(self.config, "userid-header")
            groups = settings.option_value(self.config, "groups-header")
            assertion = settings.option_value(self.config, "identity-assertion-header")
        except settings.SettingsError as err:
            event.fail(err.status_message)
            return
        if version not in settings.AMBASSADOR_API_VERSIONS:
            event.fail(f"api-version must be one of {', '.join(settings.AMBASSADOR_API_VERSIONS)}")
            return
        resources = rendering.resources_yaml(self.app.name, self.model.name, str(version), userid, groups, assertion)
        event.set_results({"resources": resources})

    def _on_revoke_user(self, event: ops.ActionEvent) -> None:
        user = str(event.params["user"])
        token = self.app_secrets.operations_token()
        if token is None:
            event.fail("the operations token does not exist yet; try again once the leader has settled")
            return
        try:
            revoked = operations_client.revoke_user(user, token)
        except operations_client.OperationsError as err:
            event.fail(str(err))
            return
        logger.info("revoke-user: credentials of %r issued until %s are refused", user, revoked.not_before)
        event.set_results(revoked.results())

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


if __name__ == "__main__":  # pragma: nocover
    ops.main(DexAuthCharm)
