"""OIDC client registration with dex-auth, the client secret travelling as a Juju secret.

Interface `dex-auth-oidc-client`. The client app (requirer) writes in its application databag:
`client-id`, `name`, `redirect-uris` (a JSON list). dex-auth (provider) adds the client to Dex,
creates a Juju secret holding `client-secret`, grants it to the relation and answers with
`client-id`, `secret-id` and `issuer-url` (or `error` when the request is invalid). The secret
value never appears in relation data.

Client charm::

    from charms.dex_auth.v0.oidc_client import OidcClientRequirer

    self.oidc = OidcClientRequirer(self, "oidc-client")
    # leader, e.g. on relation-joined:
    self.oidc.register("my-app", "My App", ["https://example.com/my-app/callback"])
    # any unit, e.g. on relation-changed / secret-changed:
    secret = self.oidc.client_secret()     # None until dex-auth has answered
    issuer = self.oidc.issuer_url()
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import ops

LIBID = "37805745aea744dea6a92dc437726d8f"
LIBAPI = 0
LIBPATCH = 2

logger = logging.getLogger(__name__)

SECRET_KEY = "client-secret"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class InvalidClientRequestError(ValueError):
    """A client app's registration is incomplete or malformed."""


@dataclass(frozen=True)
class ClientRequest:
    """One client app's registration."""

    relation_id: int
    app_name: str
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]


def parse_request(relation_id: int, app_name: str, data: dict[str, str]) -> ClientRequest | None:
    """None when the app has not registered yet; InvalidClientRequestError when it did so badly."""
    client_id = data.get("client-id")
    if not client_id:
        return None
    if not _CLIENT_ID.match(client_id):
        raise InvalidClientRequestError("client-id may only contain letters, digits, '.', '_' and '-'")
    try:
        uris = json.loads(data.get("redirect-uris", "[]"))
    except json.JSONDecodeError:
        raise InvalidClientRequestError("redirect-uris must be a JSON list of URLs") from None
    if (
        not isinstance(uris, list)
        or not uris
        or not all(isinstance(u, str) and re.match(r"^https?://\S+$", u) for u in uris)
    ):
        raise InvalidClientRequestError("redirect-uris must be a non-empty JSON list of http(s) URLs")
    return ClientRequest(relation_id, app_name, client_id, data.get("name") or client_id, tuple(uris))


class OidcClientProvider(ops.Object):
    """dex-auth's side: read registrations, answer with the secret id."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = "oidc-client"):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name

    @property
    def relations(self) -> list[ops.Relation]:
        return list(self._charm.model.relations[self._relation_name])

    def requests(self) -> tuple[list[ClientRequest], dict[int, str]]:
        """Valid registrations, and the problems of the invalid ones by relation id."""
        valid: list[ClientRequest] = []
        invalid: dict[int, str] = {}
        for relation in self.relations:
            if relation.app is None:
                continue
            try:
                request = parse_request(relation.id, relation.app.name, dict(relation.data[relation.app]))
            except InvalidClientRequestError as err:
                invalid[relation.id] = str(err)
                continue
            if request is not None:
                valid.append(request)
        return valid, invalid

    def publish(self, relation: ops.Relation, client_id: str, secret: ops.Secret, issuer_url: str) -> None:
        """Leader only: grant the secret to the client app and tell it where to find it."""
        secret.grant(relation)
        secret_id = secret.id or secret.get_info().id
        answer = {"client-id": client_id, "secret-id": secret_id, "issuer-url": issuer_url, "error": ""}
        self._write(relation, answer)

    def publish_error(self, relation: ops.Relation, problem: str) -> None:
        self._write(relation, {"error": problem, "secret-id": "", "client-id": ""})

    def _write(self, relation: ops.Relation, answer: dict[str, str]) -> None:
        bag = relation.data[self._charm.app]
        for key, value in answer.items():
            if not value:
                bag.pop(key, None)
            elif bag.get(key) != value:
                bag[key] = value


class OidcClientRequirer(ops.Object):
    """The client app's side."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = "oidc-client"):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name

    @property
    def _relation(self) -> ops.Relation | None:
        return self._charm.model.get_relation(self._relation_name)

    def register(self, client_id: str, name: str, redirect_uris: list[str]) -> None:
        """Leader only; does nothing on other units or before the relation exists."""
        relation = self._relation
        if relation is None or not self._charm.unit.is_leader():
            return
        bag = relation.data[self._charm.app]
        bag.update({"client-id": client_id, "name": name, "redirect-uris": json.dumps(list(redirect_uris))})

    def _remote(self) -> dict[str, str]:
        relation = self._relation
        if relation is None or relation.app is None:
            return {}
        return dict(relation.data[relation.app])

    def error(self) -> str | None:
        return self._remote().get("error") or None

    def issuer_url(self) -> str | None:
        return self._remote().get("issuer-url") or None

    def client_secret(self) -> str | None:
        secret_id = self._remote().get("secret-id")
        if not secret_id:
            return None
        try:
            content = self._charm.model.get_secret(id=secret_id).get_content(refresh=True)
        except (ops.SecretNotFoundError, ops.ModelError) as err:
            logger.warning("cannot read the OIDC client secret yet: %s", type(err).__name__)
            return None
        return content.get(SECRET_KEY)
