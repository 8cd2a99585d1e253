"""Everything the charm renders, from config + secrets + relation data, in one pure pipeline.

`render` parses the options, reads the connectors, checks the shared secrets are there and
renders Dex's config, both Pebble layers and the Ambassador resources. Any problem raises an
errors.DexAuthError subclass, whoever calls: the charm's reconcile (which shows it as the
status), its restore of the last good config (which logs it) and `render_from_config`, the
end-to-end harness's path, which gets byte-for-byte what the charm pushes. No `ops` import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ambassador
import connectors as connectors_module
import dex_config
import errors
import grafana_dashboard
import istio_ingress
import log_forwarding
import observability
import pebble_layers
import settings as settings_module
import static_users
from gatekeeper import assertion_keys
from gatekeeper import config as gatekeeper_config
from gatekeeper import rules as gatekeeper_rules


@dataclass(frozen=True)
class SharedSecrets:
    """What the leader keeps in app-owned Juju secrets, shared by every unit."""

    client_secret: str
    session_keys: str
    static_password_hash: str | None = None
    operations_token: str = ""  # what the revoke-user action shows the gatekeeper
    static_users_key: bytes = b""  # static-users' hashes by fingerprint (static_users.py)
    static_user_hashes: Mapping[str, str] = field(default_factory=dict)
    assertion_key: str = ""  # PEM: the identity assertion's ES256 key (assertion_keys.py)


@dataclass(frozen=True)
class Context:
    """What the charm gathers from Juju besides the options.

    `secrets` is None until the leader has made them. A unit waits for the static user's
    password hash too (`wait_for_password_hash`); the harness may render without the user.
    `related_redis_url` is what the redis relation gives; the redis-url option wins over it.
    """

    app_name: str
    namespace: str
    secrets: SharedSecrets | None
    oidc_clients: Sequence[dex_config.StaticClient] = ()
    resolve: connectors_module.SecretResolver | None = None
    wait_for_password_hash: bool = True
    related_redis_url: str = ""
    ext_authz: bool = False  # Istio's ingress-auth is related: run the every-path listener
    proxied_skip_paths: tuple[str, ...] = ()  # what apps on auth-proxy serve without a login
    model_uuid: str = ""
    unit_name: str = ""


@dataclass(frozen=True)
class Rendered:
    """Everything a unit pushes and publishes, as text and plain dicts, ready to compare."""

    settings: settings_module.Settings
    dex_config: str
    dex_layer: dict[str, Any]
    gatekeeper_layer: dict[str, Any]
    resources: list[dict[str, Any]]
    resources_yaml: str
    dex_files: tuple[connectors_module.DexFile, ...] = ()
    dex_connector_ids: tuple[str, ...] = ()
    app_databags: dict[str, dict[str, str]] = field(default_factory=dict)  # endpoint -> the leader's app data
    assertion_databag: dict[str, str] = field(default_factory=dict)  # identity-assertion's; empty while off

    @property
    def issuer_url(self) -> str:
        return self.settings.issuer_url

    @property
    def gatekeeper_environment(self) -> dict[str, str]:
        return dict(self.gatekeeper_layer["services"]["gatekeeper"]["environment"])

    @property
    def ext_authz(self) -> bool:
        return self.gatekeeper_layer["services"][pebble_layers.EXT_AUTHZ_SERVICE]["startup"] == "enabled"

    @property
    def shares_logouts(self) -> bool:
        """With Redis, a logout or revoke-user on one unit holds on every unit."""
        return bool(self.gatekeeper_environment.get("GATEKEEPER_REDIS_URL"))

    @property
    def files(self) -> dict[str, str]:
        """The connector files, by their path in the Dex container."""
        return {f.path: f.content for f in self.dex_files}


class WaitingForSecretsError(errors.NotReadyError):
    """A unit renders nothing until the leader's secrets reach it; rendering without would churn."""

    def __init__(self) -> None:
        super().__init__("waiting for the leader unit to create the shared secrets")


def _check_gatekeeper_environment(environment: Mapping[str, str]) -> None:
    """Run the gatekeeper's own start-up check on what we render.

    The gatekeeper refuses to start on a bad value; catching it here keeps the running
    gatekeeper and turns the refusal into a Blocked message naming the charm option.
    """
    try:
        gatekeeper_config.load_settings(environment)
    except gatekeeper_config.ConfigError as err:
        option = settings_module.OPTION_OF_VARIABLE.get(err.variable)
        if option is None:  # a variable the charm fixes: a bug here, not a bad option
            raise
        raise settings_module.SettingsError(option, f"the gatekeeper would refuse it: {err}") from None


def _redis_url(settings: settings_module.Settings, context: Context) -> str:
    """The redis-url secret's value when the option is set, else the relation's; never quoted."""
    reference = settings.redis_url_secret
    if not reference:
        return context.related_redis_url
    if context.resolve is None:
        raise settings_module.SettingsError("redis-url", "refers to a Juju secret, which cannot be read here")
    match = connectors_module.SECRET_REFERENCE.match(reference)
    if match is None:  # the option's own rule refuses this first
        raise settings_module.SettingsError("redis-url", "is not a Juju secret reference")
    try:
        value = context.resolve(match["uri"], match["key"])
    except connectors_module.SecretLookupError as err:
        raise settings_module.SettingsError("redis-url", str(err)) from None
    try:
        return gatekeeper_rules.redis_url(value)
    except gatekeeper_rules.InvalidValue as err:
        raise settings_module.SettingsError("redis-url", f"the secret's value {err.problem}") from None


def resources_yaml(
    app_name: str, namespace: str, api_version: str, userid_header: str, groups_header: str, assertion_header: str = ""
) -> str:
    """The Ambassador resources for these headers; also what show-ambassador-resources prints."""
    return ambassador.render_resources_yaml(
        ambassador.AmbassadorSettings(app_name, namespace, api_version, userid_header, groups_header, assertion_header)
    )


def _dex_config_text(
    settings: settings_module.Settings,
    connectors: list[dict[str, Any]],
    secrets: SharedSecrets,
    oidc_clients: Sequence[dex_config.StaticClient],
    users: tuple[dex_config.StaticUser, ...],
) -> str:
    """Raises dex_config.DexConfigError when Dex would refuse the result."""
    static_user = None
    if settings.static_user_wanted and secrets.static_password_hash:
        static_user = dex_config.StaticUser(settings.static_username, secrets.static_password_hash)
    clients = (
        dex_config.gatekeeper_client(
            settings.public_url,
            settings.client_id,
            settings.client_secret or secrets.client_secret,
            settings.client_name,
        ),
        dex_config.cli_client(settings_module.CLI_CLIENT_ID),
        *sorted(oidc_clients, key=lambda c: c.id),
    )
    dex_settings = dex_config.DexSettings(
        issuer=settings.issuer_url,
        connectors=connectors,
        enable_password_db=settings.enable_password_db,
        static_user=static_user,
        static_users=users,
        clients=clients,
        password_connector=connectors_module.password_connector(connectors, settings.enable_password_db),
        log_level=settings.log_level,
        id_token_expiry=settings.id_token_expiry,
        auth_request_expiry=f"{settings.login_timeout}s",
    )
    return dex_config.render_dex_config_yaml(dex_settings)


def _app_databags(settings: settings_module.Settings, context: Context) -> dict[str, dict[str, str]]:
    """What the leader publishes to istio-pilot and COS."""
    return {
        istio_ingress.INGRESS: istio_ingress.databag(
            istio_ingress.INGRESS, istio_ingress.ingress_route(context.app_name, context.namespace)
        ),
        istio_ingress.INGRESS_AUTH: istio_ingress.databag(
            istio_ingress.INGRESS_AUTH,
            istio_ingress.ingress_auth(context.app_name, *settings.identity_headers),
        ),
        observability.ENDPOINT: observability.app_databag(
            context.app_name, context.namespace, context.model_uuid, context.unit_name
        ),
        grafana_dashboard.ENDPOINT: grafana_dashboard.app_databag(
            context.app_name, context.namespace, context.model_uuid, context.unit_name
        ),
        log_forwarding.ENDPOINT: log_forwarding.app_databag(
            context.app_name, context.namespace, context.model_uuid, context.unit_name
        ),
    }


def _ca_bundle(settings: settings_module.Settings, context: Context) -> str:
    """ca-bundle's certificates, read from its Juju secret when it names one."""
    source = settings.ca_bundle_source
    match = connectors_module.SECRET_REFERENCE.match(source)
    if match is None:
        return source
    if context.resolve is None:
        raise settings_module.SettingsError("ca-bundle", "refers to a Juju secret, which cannot be read here")
    try:
        return gatekeeper_rules.pem_certificates(context.resolve(match["uri"], match["key"]))
    except connectors_module.SecretLookupError as err:
        raise settings_module.SettingsError("ca-bundle", str(err)) from None
    except gatekeeper_rules.InvalidValue as err:
        raise settings_module.SettingsError("ca-bundle", f"the secret's value {err.problem}") from None


def _assertion_databag(settings: settings_module.Settings, secrets: SharedSecrets) -> dict[str, str]:
    """What upstream charms verify the identity assertion with; empty while it is off."""
    if not settings.assertion_header:
        return {}
    try:
        keys = assertion_keys.load_keys(secrets.assertion_key)
    except gatekeeper_rules.InvalidValue as err:  # the charm made it: a damaged secret, not a bad option
        raise settings_module.SettingsError(
            "identity-assertion-header", f"cannot be served: the key in the charm's gatekeeper secret {err.problem}"
        ) from None
    return {
        "header": settings.assertion_header,
        "issuer": settings.public_url,
        "audience": settings.assertion_audience,
        "jwks": json.dumps(assertion_keys.jwks(keys), sort_keys=True),
        "jwks-url": f"{settings.public_url}{pebble_layers.GATEKEEPER_PREFIX}/.well-known/jwks.json",
    }


def _static_users(
    settings: settings_module.Settings, context: Context, secrets: SharedSecrets
) -> tuple[dex_config.StaticUser, ...]:
    """static-users' entries with their hashes; raises StaticUsersError, or waits for the leader's hashes."""
    if not settings.static_users_secret:
        return ()
    if not settings.enable_password_db:
        raise static_users.StaticUsersError("needs enable-password-db=true: Dex keeps static users in its password DB")
    entries = static_users.read(settings.static_users_secret, context.resolve)
    for index, entry in enumerate(entries, start=1):
        if settings.static_user_wanted and entry.email.lower() == settings.static_username.lower():
            raise static_users.StaticUsersError(
                f"entry {index} ({entry.email}): email is static-username's too; remove one, or set static-username=''"
            )
    users = static_users.dex_users(entries, secrets.static_users_key, secrets.static_user_hashes)
    if users is None:
        if context.wait_for_password_hash:
            raise WaitingForSecretsError
        return ()
    return users


def _routes(settings: settings_module.Settings, context: Context) -> ambassador.AmbassadorSettings:
    return ambassador.AmbassadorSettings(
        context.app_name,
        context.namespace,
        settings.ambassador_api_version,
        settings.userid_header,
        settings.groups_header,
        settings.assertion_header,
    )


def _render_settings(
    settings: settings_module.Settings, connectors: list[dict[str, Any]], context: Context, secrets: SharedSecrets
) -> Rendered:
    if settings.assertion_header and not secrets.assertion_key:  # a secret from before the assertion existed
        raise WaitingForSecretsError  # until the leader adds its key
    placed, dex_files = connectors_module.place_files(connectors, pebble_layers.DEX_FILES_DIR)
    ca_bundle = _ca_bundle(settings, context)
    if ca_bundle:
        dex_files = (*dex_files, connectors_module.DexFile(pebble_layers.DEX_CA_FILE, ca_bundle))
    dex_text = _dex_config_text(
        settings, placed, secrets, context.oidc_clients, _static_users(settings, context, secrets)
    )
    environment = pebble_layers.gatekeeper_environment(
        settings,
        settings.client_secret or secrets.client_secret,
        secrets.session_keys,
        redis_url=_redis_url(settings, context),
        extra_skip_paths=context.proxied_skip_paths,
        operations_token=secrets.operations_token,
        ca_bundle=ca_bundle,
        assertion_keys=secrets.assertion_key if settings.assertion_header else "",
    )
    _check_gatekeeper_environment(environment)
    routes = _routes(settings, context)
    return Rendered(
        settings=settings,
        dex_config=dex_text,
        dex_layer=pebble_layers.dex_layer(dex_text, {f.path: f.content for f in dex_files}),
        gatekeeper_layer=pebble_layers.gatekeeper_layer(environment, ext_authz=context.ext_authz),
        resources=ambassador.render_resources(routes),
        resources_yaml=ambassador.render_resources_yaml(routes),
        dex_files=dex_files,
        dex_connector_ids=tuple(c["id"] for c in placed),
        app_databags=_app_databags(settings, context),
        assertion_databag=_assertion_databag(settings, secrets),
    )


def render(config: Mapping[str, Any], context: Context) -> Rendered:
    """Options (Juju-style: name -> value; missing ones take the defaults) in, everything out.

    Raises an errors.DexAuthError subclass: settings.SettingsError, connectors.ConnectorsError,
    WaitingForSecretsError or dex_config.DexConfigError, in the order they are found.
    """
    settings = settings_module.parse_settings(config, app_name=context.app_name)
    found = connectors_module.load(settings.connectors_text, settings.issuer_url, context.resolve)
    secrets = context.secrets
    if secrets is None:
        raise WaitingForSecretsError
    if context.wait_for_password_hash and settings.static_user_wanted and not secrets.static_password_hash:
        raise WaitingForSecretsError
    return _render_settings(settings, found, context, secrets)


def render_from_config(
    config: Mapping[str, Any],
    *,
    secrets: SharedSecrets,
    app_name: str = "dex-auth",
    namespace: str = "kubeflow",
    oidc_clients: Sequence[dex_config.StaticClient] = (),
    resolve: connectors_module.SecretResolver | None = None,
    related_redis_url: str = "",
) -> Rendered:
    """The harness's path: `render` with the secrets given, the static user left out without a hash."""
    context = Context(
        app_name,
        namespace,
        secrets,
        tuple(oidc_clients),
        resolve,
        wait_for_password_hash=False,
        related_redis_url=related_redis_url,
    )
    return render(config, context)
