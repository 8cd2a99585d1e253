"""Ambassador routes: apps publish whole Emissary resources, the gateway charm applies them.

Interface `ambassador-routes`. The app that needs routing (the requirer, e.g. dex-auth) writes
the application databag key `resources`: a YAML list of whole resources (`apiVersion`, `kind`,
`metadata{name, namespace}`, `spec`). The gateway charm (the provider) reads every related
app's list and applies it.

Gateway charm (provider)::

    from charms.dex_auth.v0.ambassador_routes import AmbassadorRoutesProvider

    class AmbassadorCharm(ops.CharmBase):
        def __init__(self, framework):
            super().__init__(framework)
            self.routes = AmbassadorRoutesProvider(self, "ambassador")
            framework.observe(self.routes.on.routes_changed, self._apply)

        def _apply(self, event):
            for resource in self.routes.resources():   # list of dicts, validated shape
                apply_to_kubernetes(resource)

App charm (requirer), leader only::

    AmbassadorRoutesRequirer(self, "ambassador").publish(resources)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import ops
import yaml

LIBID = "fa3ef413d0a24836abd33c7fc9e46e9a"
LIBAPI = 0
LIBPATCH = 1

logger = logging.getLogger(__name__)

RESOURCES_KEY = "resources"
ALLOWED_KINDS = frozenset({"Mapping", "AuthService", "TCPMapping", "TLSContext", "Host"})
API_GROUP = "getambassador.io/"


class InvalidResourcesError(ValueError):
    """A related app published something that is not a list of Ambassador resources."""


@dataclass(frozen=True)
class AppRoutes:
    """The resources one related application asked for."""

    app_name: str
    relation_id: int
    resources: list[dict[str, Any]]


def parse_resources(text: str) -> list[dict[str, Any]]:
    """Load and shape-check a `resources` value; raises InvalidResourcesError."""
    try:
        data = yaml.safe_load(text) if text else []
    except yaml.YAMLError as err:
        raise InvalidResourcesError(f"resources is not valid YAML: {err}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidResourcesError("resources must be a YAML list")
    for position, resource in enumerate(data):
        where = f"resources[{position}]"
        if not isinstance(resource, dict):
            raise InvalidResourcesError(f"{where} must be a mapping")
        api_version = resource.get("apiVersion")
        if not isinstance(api_version, str) or not api_version.startswith(API_GROUP):
            raise InvalidResourcesError(f"{where}.apiVersion must be {API_GROUP}<version>")
        if resource.get("kind") not in ALLOWED_KINDS:
            raise InvalidResourcesError(f"{where}.kind must be one of {', '.join(sorted(ALLOWED_KINDS))}")
        metadata = resource.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise InvalidResourcesError(f"{where}.metadata.name is required")
        if not isinstance(resource.get("spec"), dict):
            raise InvalidResourcesError(f"{where}.spec must be a mapping")
    return data


class AmbassadorRoutesRequirer(ops.Object):
    """The app side: publish the resources (leader only; others are ignored)."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = "ambassador"):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name

    def publish(self, resources: list[dict[str, Any]] | str) -> None:
        if not self._charm.unit.is_leader():
            return
        text = resources if isinstance(resources, str) else yaml.safe_dump(resources, sort_keys=False)
        for relation in self._charm.model.relations[self._relation_name]:
            if relation.data[self._charm.app].get(RESOURCES_KEY) != text:
                relation.data[self._charm.app][RESOURCES_KEY] = text


class RoutesChangedEvent(ops.EventBase):
    """A related app published, changed or withdrew its resources."""


class AmbassadorRoutesEvents(ops.ObjectEvents):
    routes_changed = ops.EventSource(RoutesChangedEvent)


class AmbassadorRoutesProvider(ops.Object):
    """The gateway side: read every related app's resources."""

    on = AmbassadorRoutesEvents()  # type: ignore[reportAssignmentType]

    def __init__(self, charm: ops.CharmBase, relation_name: str = "ambassador"):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name
        for event in (charm.on[relation_name].relation_changed, charm.on[relation_name].relation_broken):
            self.framework.observe(event, self._on_relation_event)

    def _on_relation_event(self, event: ops.RelationEvent) -> None:
        self.on.routes_changed.emit()

    def routes(self) -> list[AppRoutes]:
        """Each related app's valid resources; an app with bad data is logged and skipped."""
        result = []
        for relation in self._charm.model.relations[self._relation_name]:
            if relation.app is None:
                continue
            try:
                resources = parse_resources(relation.data[relation.app].get(RESOURCES_KEY, ""))
            except InvalidResourcesError as err:
                logger.warning("ignoring routes from %s: %s", relation.app.name, err)
                continue
            result.append(AppRoutes(relation.app.name, relation.id, resources))
        return result

    def resources(self) -> list[dict[str, Any]]:
        """All valid resources from all related apps, in one list."""
        return [resource for app in self.routes() for resource in app.resources]
