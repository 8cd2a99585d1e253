"""Dex's issuer URL for apps that verify dex-auth's tokens themselves.

Interface `dex-auth-issuer`. dex-auth (provider, leader) writes `issuer-url` in its application
databag; the requirer reads it::

    from charms.dex_auth.v0.dex_issuer import DexIssuerRequirer

    issuer = DexIssuerRequirer(self, "dex-oidc-config").issuer_url  # None until published
"""

from __future__ import annotations

import ops

LIBID = "24d1591a9bc047c9bc3fe54cd3cd86ca"
LIBAPI = 0
LIBPATCH = 1

ISSUER_KEY = "issuer-url"


class DexIssuerProvider(ops.Object):
    """dex-auth's side."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = "dex-oidc-config"):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name

    def publish(self, issuer_url: str) -> None:
        """Leader only; writes to every relation, and only when the value changed."""
        if not self._charm.unit.is_leader():
            return
        for relation in self._charm.model.relations[self._relation_name]:
            if relation.data[self._charm.app].get(ISSUER_KEY) != issuer_url:
                relation.data[self._charm.app][ISSUER_KEY] = issuer_url


class DexIssuerRequirer(ops.Object):
    """The consuming app's side."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = "dex-oidc-config"):
        super().__init__(charm, relation_name)
        self._charm = charm
        self._relation_name = relation_name

    @property
    def issuer_url(self) -> str | None:
        relation = self._charm.model.get_relation(self._relation_name)
        if relation is None or relation.app is None:
            return None
        return relation.data[relation.app].get(ISSUER_KEY) or None
