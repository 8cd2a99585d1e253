"""The OIDC clients other apps register on the `oidc-client` relation, and their secrets.

The leader makes one app secret per client relation (label `oidc-client-<relation id>`),
grants it to the remote app and removes it when the relation goes; the ids go in peer data so
every unit can put the client in Dex's config. The secret travels as a granted Juju secret,
never as relation data.
"""

from __future__ import annotations

import json
import logging

import ops

import app_secrets
import credentials
import dex_config
import settings
from charms.dex_auth.v0 import oidc_client

logger = logging.getLogger(__name__)

SECRET_IDS_KEY = "oidc-client-secrets"  # noqa: S105 - peer app data key: {relation id: secret id}
RESERVED_IDS = (settings.GATEKEEPER_CLIENT_ID, settings.CLI_CLIENT_ID)


def _label(relation_id: int) -> str:
    return f"oidc-client-{relation_id}"


def _conflict(request: oidc_client.ClientRequest, requests: list[oidc_client.ClientRequest]) -> str | None:
    """A client id is the charm's own, or another relation registered it first."""
    if request.client_id in RESERVED_IDS:
        return f"client-id {request.client_id} is reserved by dex-auth"
    first = next(r for r in requests if r.client_id == request.client_id)
    if first.relation_id != request.relation_id:
        return f"client-id {request.client_id} is already registered by {first.app_name}"
    return None


class OidcClients:
    """The lifecycle of the per-relation client secrets, and what Dex and the clients are told."""

    def __init__(self, provider: oidc_client.OidcClientProvider, model: ops.Model) -> None:
        self._provider = provider
        self._model = model

    def _secret_ids(self) -> dict[str, str]:
        peer = app_secrets.peer_data(self._model)
        return json.loads(peer.get(SECRET_IDS_KEY, "{}")) if peer is not None else {}

    def ensure_secrets(self) -> None:
        """Leader: a secret for each client relation, none for a relation that is gone."""
        requests, _ = self._provider.requests()
        ids: dict[str, str] = {}
        for request in requests:
            label = _label(request.relation_id)
            secret = app_secrets.owned_secret(self._model, label)
            if secret is None:
                secret = self._model.app.add_secret(
                    {oidc_client.SECRET_KEY: credentials.new_client_secret()},
                    label=label,
                    description=f"OIDC client secret of {request.app_name}",
                )
            ids[str(request.relation_id)] = app_secrets.secret_id(secret)
        live = {str(r.id) for r in self._provider.relations}
        for relation_id in set(self._secret_ids()) - live:
            gone = app_secrets.owned_secret(self._model, _label(int(relation_id)))
            if gone is not None:
                gone.remove_all_revisions()
        peer = app_secrets.peer_data(self._model)
        text = json.dumps(ids, sort_keys=True)
        if peer is not None and peer.get(SECRET_IDS_KEY, "{}") != text:
            peer[SECRET_IDS_KEY] = text

    def _client_secret(self, relation_id: int, ids: dict[str, str]) -> str | None:
        """The leader finds the secret by label, the other units by the id in peer data."""
        try:
            if self._model.unit.is_leader():
                secret = app_secrets.owned_secret(self._model, _label(relation_id))
            else:
                found = ids.get(str(relation_id))
                secret = self._model.get_secret(id=found) if found else None
            return secret.get_content(refresh=True).get(oidc_client.SECRET_KEY) if secret is not None else None
        except (ops.SecretNotFoundError, ops.ModelError):
            logger.warning("the client secret of relation %s is gone; leaving that client out", relation_id)
            return None

    def static_clients(self) -> list[dex_config.StaticClient]:
        """The valid registrations whose secret this unit can read, for Dex's staticClients."""
        requests, invalid = self._provider.requests()
        for relation_id, problem in invalid.items():
            logger.warning("ignoring the OIDC client on relation %s: %s", relation_id, problem)
        ids = self._secret_ids()
        clients = []
        for request in requests:
            if _conflict(request, requests):
                continue
            secret = self._client_secret(request.relation_id, ids)
            if secret:
                clients.append(dex_config.StaticClient(request.client_id, request.name, request.redirect_uris, secret))
        return clients

    def publish(self, issuer_url: str) -> None:
        """Leader: each client relation gets its granted secret, or the reason it gets none."""
        requests, invalid = self._provider.requests()
        by_relation = {r.id: r for r in self._provider.relations}
        for relation_id, problem in invalid.items():
            self._provider.publish_error(by_relation[relation_id], problem)
        for request in requests:
            problem = _conflict(request, requests)
            relation = by_relation[request.relation_id]
            secret = app_secrets.owned_secret(self._model, _label(request.relation_id))
            if problem:
                self._provider.publish_error(relation, problem)
            elif secret is not None:
                self._provider.publish(relation, request.client_id, secret, issuer_url)
