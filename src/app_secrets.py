"""The app-owned Juju secrets every unit reads: gatekeeper credentials, static password, last good config.

The leader creates and updates them and finds them by label; the other units cannot look an
app secret up by label, so the leader also puts each secret's id in the peer relation's app
data. A peer-data bump after each update wakes the other units, which get no secret-changed
for a secret of their own app. Also here: reading the user secrets `connectors` refers to.
"""

from __future__ import annotations

import json
import logging
import secrets
import time

import ops

import connectors
import credentials
import dex_config
import rendering
import settings as settings_module
import static_users
from gatekeeper import assertion_keys

logger = logging.getLogger(__name__)

PEER = "dex-auth-peers"
# Labels of the charm's own Juju secrets (ruff's S105 takes the names for passwords).
GATEKEEPER = "gatekeeper"  # keys: client-secret, session-keys, retired-keys, operations-token, assertion-key
RETIRED_KEYS = "retired-keys"  # JSON: kid -> when that session key stopped signing
OPERATIONS_TOKEN = "operations-token"  # noqa: S105 - a key name; what revoke-user sends the gatekeeper
ASSERTION_KEY = "assertion-key"  # the identity assertion's ES256 private keys, PEM, the signing one first
ASSERTION_RETIRED = "assertion-retired"  # JSON: kid -> when that assertion key stopped signing
PASSWORD = "static-password"  # noqa: S105 - keys: hash, source, and password when generated
LAST_GOOD = "last-good-config"  # keys: options (JSON of the options that rendered)
STATIC_USERS = "static-users"  # keys: key (hex HMAC key), hashes (JSON: fingerprint -> bcrypt hash)
_DESCRIPTIONS = {
    STATIC_USERS: "dex-auth static-users password hashes",
    GATEKEEPER: "dex-auth gatekeeper client secret and session keys",
    PASSWORD: "dex-auth static user password",
    LAST_GOOD: "dex-auth last config that rendered",
}


def peer_data(model: ops.Model) -> ops.RelationDataContent | None:
    """The peer relation's app data, where the leader leaves ids for the other units."""
    relation = model.get_relation(PEER)
    return relation.data[model.app] if relation is not None else None


def owned_secret(model: ops.Model, label: str) -> ops.Secret | None:
    try:
        return model.get_secret(label=label)
    except ops.SecretNotFoundError:
        return None


def secret_id(secret: ops.Secret) -> str:
    """A secret found by label has no id until asked for it."""
    return secret.id or secret.get_info().id


def _retired(content: dict[str, str], key: str) -> dict[str, float]:
    """When each earlier key stopped signing (kid -> seconds); unreadable: none known."""
    try:
        retired = json.loads(content.get(key) or "{}")
    except ValueError:
        return {}
    if not isinstance(retired, dict):
        return {}
    return {str(kid): float(when) for kid, when in retired.items() if isinstance(when, (int, float))}


def _valid_keys(value: str | None) -> bool:
    if not value:
        return False
    try:
        credentials.parse_session_keys(value)
    except credentials.SessionKeysError:
        return False
    return True


class AppSecrets:
    """Reads (every unit) and writes (the leader) the charm's own secrets; one read per hook."""

    def __init__(self, model: ops.Model) -> None:
        self._model = model
        self._cache: dict[str, dict[str, str]] = {}

    def _find(self, name: str) -> ops.Secret | None:
        """The leader finds app secrets by label; other units by the id in peer data."""
        if self._model.unit.is_leader():
            return owned_secret(self._model, name)
        peer = peer_data(self._model)
        found = peer.get(f"{name}-secret-id") if peer is not None else None
        if not found:
            return None
        try:
            return self._model.get_secret(id=found)
        except ops.SecretNotFoundError:
            return None

    def content(self, name: str) -> dict[str, str] | None:
        """The secret's latest content, or None when it is not there (yet) or not readable."""
        if name in self._cache:
            return self._cache[name]
        secret = self._find(name)
        if secret is None:
            return None
        try:
            content = secret.get_content(refresh=True)
        except (ops.SecretNotFoundError, ops.ModelError) as err:
            logger.warning("cannot read the %s secret: %s", name, type(err).__name__)
            return None
        self._cache[name] = content
        return content

    def _store(self, name: str, content: dict[str, str]) -> None:
        """Leader only: create or update an app secret and tell the other units its id."""
        secret = owned_secret(self._model, name)
        if secret is None:
            secret = self._model.app.add_secret(content, label=name, description=_DESCRIPTIONS[name])
        else:
            secret.set_content(content)
        self._cache[name] = content
        self._share_id(name, secret)
        peer = peer_data(self._model)
        if peer is not None:
            # Units of the owning app get no secret-changed: a peer change makes them re-read.
            peer[f"{name}-secret-version"] = secrets.token_hex(8)

    def _share_id(self, name: str, secret: ops.Secret | None = None) -> None:
        """Tell the other units where the secret is; asks Juju for the id only when not yet told."""
        peer = peer_data(self._model)
        key = f"{name}-secret-id"
        if peer is None or (secret is None and peer.get(key)):
            return
        secret = secret if secret is not None else owned_secret(self._model, name)
        if secret is None:
            return
        found = secret_id(secret)
        if peer.get(key) != found:
            peer[key] = found

    def ensure(self, settings: settings_module.Settings | None) -> None:
        """Leader: the gatekeeper's credentials always; the static user's password for these settings."""
        content = self.content(GATEKEEPER)
        if content is None or not content.get("client-secret") or not _valid_keys(content.get("session-keys")):
            content = {
                "client-secret": (content or {}).get("client-secret") or credentials.new_client_secret(),
                "session-keys": str(credentials.new_session_key()),
                OPERATIONS_TOKEN: (content or {}).get(OPERATIONS_TOKEN) or credentials.new_operations_token(),
                ASSERTION_KEY: (content or {}).get(ASSERTION_KEY) or assertion_keys.generate_pem(),
            }
            self._store(GATEKEEPER, content)
        elif not content.get(OPERATIONS_TOKEN) or not content.get(ASSERTION_KEY):  # made before these existed
            added = {
                OPERATIONS_TOKEN: content.get(OPERATIONS_TOKEN) or credentials.new_operations_token(),
                ASSERTION_KEY: content.get(ASSERTION_KEY) or assertion_keys.generate_pem(),
            }
            self._store(GATEKEEPER, {**content, **added})
        else:
            self._share_id(GATEKEEPER)
        if settings is not None and settings.static_user_wanted:
            self._ensure_password(settings.static_password)
        if settings is not None and settings.static_users_secret:
            self._ensure_static_user_hashes(settings.static_users_secret)

    def _ensure_static_user_hashes(self, reference: str) -> None:
        """bcrypt only the passwords that are new; a bad or unreadable list is the render's to report."""
        try:
            entries = static_users.read(reference, lambda uri, key: granted_value(self._model, uri, key))
        except static_users.StaticUsersError:
            return
        current = self.content(STATIC_USERS) or {}
        key_text = current.get("key") or secrets.token_hex(32)
        known = static_users.decode_known(current.get("hashes"))
        wanted = static_users.hashes(entries, bytes.fromhex(key_text), known)
        if current.get("key") == key_text and wanted == known:
            self._share_id(STATIC_USERS)
            return
        logger.info("hashed the passwords of %d static users", len(set(wanted) - set(known)))
        self._store(STATIC_USERS, {"key": key_text, "hashes": static_users.encode_known(wanted)})

    def _ensure_password(self, wanted: str) -> None:
        """Hash only when the password changes, so the Dex config (and Dex) stay put otherwise."""
        current = self.content(PASSWORD) or {}
        if wanted:
            if current.get("source") == "config" and dex_config.password_matches(wanted, current.get("hash", "")):
                self._share_id(PASSWORD)
                return
            content = {"source": "config", "hash": dex_config.hash_password(wanted)}
        else:
            if current.get("source") == "generated" and current.get("password") and current.get("hash"):
                self._share_id(PASSWORD)
                return
            password = credentials.new_password()
            content = {"source": "generated", "password": password, "hash": dex_config.hash_password(password)}
            logger.info("generated a password for the static user (show-static-password action)")
        self._store(PASSWORD, content)

    def shared(self) -> rendering.SharedSecrets | None:
        """What rendering needs; None until the leader has made the gatekeeper's credentials."""
        gatekeeper = self.content(GATEKEEPER)
        if gatekeeper is None or not gatekeeper.get("client-secret") or not _valid_keys(gatekeeper.get("session-keys")):
            return None
        password_hash = (self.content(PASSWORD) or {}).get("hash") or None
        users = self.content(STATIC_USERS) or {}
        return rendering.SharedSecrets(
            gatekeeper["client-secret"],
            gatekeeper["session-keys"],
            password_hash,
            operations_token=gatekeeper.get(OPERATIONS_TOKEN, ""),
            assertion_key=gatekeeper.get(ASSERTION_KEY, ""),
            static_users_key=bytes.fromhex(users.get("key", "")),
            static_user_hashes=static_users.decode_known(users.get("hashes")),
        )

    def operations_token(self) -> str | None:
        """What the gatekeeper asks of revoke-user; None until the leader has made it."""
        return (self.content(GATEKEEPER) or {}).get(OPERATIONS_TOKEN) or None

    def generated_password(self) -> str | None:
        """The static user's password when the charm made it; a configured one is never kept."""
        content = self.content(PASSWORD)
        if not content or content.get("source") != "generated":
            return None
        return content.get("password") or None

    def rotate_session_key(self, keep_for: float) -> credentials.Rotation | None:
        """Leader: a new signing key, the older ones kept `keep_for` seconds after they stopped signing.

        None when there are no keys yet. When each key retired rides in the same secret.
        """
        content = self.content(GATEKEEPER)
        if content is None or not _valid_keys(content.get("session-keys")):
            return None
        retired = _retired(content, RETIRED_KEYS)
        rotation = credentials.rotate_session_keys(content["session-keys"], retired, time.time(), keep_for)
        retired_text = json.dumps(rotation.retired, sort_keys=True)
        self._store(GATEKEEPER, {**content, "session-keys": rotation.keys, RETIRED_KEYS: retired_text})
        return rotation

    def rotate_assertion_key(self, drop_previous: bool) -> assertion_keys.Rotation | None:
        """Leader: a new assertion key signs from the next reconcile on; None while there is none yet."""
        content = self.content(GATEKEEPER)
        if not content or not content.get(ASSERTION_KEY):
            return None
        retired = _retired(content, ASSERTION_RETIRED)
        rotation = assertion_keys.rotate(content[ASSERTION_KEY], retired, time.time(), drop_previous=drop_previous)
        retired_text = json.dumps(rotation.retired, sort_keys=True)
        self._store(GATEKEEPER, {**content, ASSERTION_KEY: rotation.pem, ASSERTION_RETIRED: retired_text})
        return rotation

    def remember_last_good(self, options: dict[str, object]) -> None:
        """Leader: keep the options that rendered, so a new pod can start from them while config is bad."""
        text = json.dumps(options, sort_keys=True)
        current = self.content(LAST_GOOD)
        if current is None or current.get("options") != text:
            self._store(LAST_GOOD, {"options": text})

    def last_good(self) -> dict[str, object] | None:
        """The options that last rendered, for a new pod while the current ones do not."""
        content = self.content(LAST_GOOD)
        if not content:
            return None
        try:
            options = json.loads(content["options"])
        except (KeyError, ValueError):
            logger.warning("the last good config in its secret is unreadable")
            return None
        return options if isinstance(options, dict) else None


def granted_value(model: ops.Model, uri: str, key: str | None) -> str:
    """A value of a user secret named in `connectors`; the admin must have granted it to us."""
    grant = f"juju grant-secret {uri} {model.app.name}"
    try:
        content = model.get_secret(id=uri).get_content(refresh=True)
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
