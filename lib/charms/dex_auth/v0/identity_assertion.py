"""The identity assertion, for upstream apps that verify who the gateway let in.

Interface `dex-auth-identity-assertion`. With `identity-assertion-header` set, dex-auth's
gatekeeper sends every request it lets through with a short-lived ES256 JWT of the identity in
that header (`iss`, `aud`, `sub`, `email`, `groups`, `iat`, `exp`, at most 5 minutes). An
upstream that checks it is not fooled by a plain `kubeflow-userid` header sent past the gateway.
dex-auth (provider, leader) writes in its application databag:

- `header`: the request header that carries the assertion
- `issuer`, `audience`: the `iss` and `aud` to require
- `jwks`: the public keys (a JSON Web Key Set, as text), so nothing needs fetching
- `jwks-url`: the same keys over HTTPS, for an app that refreshes them itself

All keys are absent while the assertion is off. The requirer reads them::

    from charms.dex_auth.v0.identity_assertion import IdentityAssertionRequirer

    assertion = IdentityAssertionRequirer(self, "identity-assertion").assertion  # None while off
    # then in the app, with PyJWT:
    #   key = jwt.PyJWKSet.from_dict(assertion.jwks)[jwt.get_unverified_header(token)["kid"]]
    #   jwt.decode(token, key, algorithms=["ES256"], audience=assertion.audience, issuer=assertion.issuer)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ops

LIBID = "88cccac08de840b28fa667e275cbdcea"
LIBAPI = 0
LIBPATCH = 1

KEYS = ("header", "issuer", "audience", "jwks", "jwks-url")


@dataclass(frozen=True)
class IdentityAssertion:
    header: str
    issuer: str
    audience: str
    jwks: dict[str, Any]
    jwks_url: str


def parse(data: Mapping[str, str]) -> IdentityAssertion | None:
    """The published assertion, or None when it is off or the data is incomplete or malformed."""
    if any(not data.get(key) for key in KEYS):
        return None
    try:
        jwks = json.loads(data["jwks"])
    except ValueError:
        return None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        return None
    return IdentityAssertion(data["header"], data["issuer"], data["audience"], jwks, data["jwks-url"])


class IdentityAssertionProvider(ops.Object):
    """dex-auth's side."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = "identity-assertion"):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name

    def publish(self, data: Mapping[str, str]) -> None:
        """Leader only: exactly `data` (empty: the assertion is off), written only when it changed."""
        if not self._charm.unit.is_leader():
            return
        for relation in self._charm.model.relations[self._relation_name]:
            databag = relation.data[self._charm.app]
            if dict(databag) == dict(data):
                continue
            for key in set(databag) - set(data):
                del databag[key]
            databag.update(data)


class IdentityAssertionRequirer(ops.Object):
    """The upstream app's side."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = "identity-assertion"):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name

    @property
    def assertion(self) -> IdentityAssertion | None:
        relation = self._charm.model.get_relation(self._relation_name)
        if relation is None or relation.app is None:
            return None
        return parse(relation.data[relation.app])
