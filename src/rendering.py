"""Everything the charm renders, from config + secrets + relation data, in one pure call.

The charm gathers the inputs from Juju and calls `render_all`; tests and the end-to-end harness
call `render_from_config` with a plain config dict and get byte-for-byte what the charm pushes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import connectors as connectors_module
from ambassador import AmbassadorSettings, render_resources, render_resources_yaml
from dex_config import (
    DexSettings,
    StaticClient,
    StaticUser,
    cli_client,
    gatekeeper_client,
    render_dex_config_yaml,
)
from gatekeeper.config import ConfigError
from gatekeeper.config import load_settings as load_gatekeeper_settings
from settings import CLI_CLIENT_ID, GATEKEEPER_CLIENT_ID, Settings, SettingsError, parse_settings
from workloads import DEX_FILES_DIR, GatekeeperSettings, dex_layer, gatekeeper_layer

# The charm option behind each gatekeeper variable a user can get wrong.
_OPTION_OF_VARIABLE = {
    "GATEKEEPER_PUBLIC_URL": "public-url",
    "GATEKEEPER_SESSION_LIFETIME": "session-lifetime",
    "GATEKEEPER_USERID_HEADER": "userid-header",
    "GATEKEEPER_USERID_PREFIX": "userid-prefix",
    "GATEKEEPER_GROUPS_HEADER": "groups-header",
    "GATEKEEPER_SKIP_AUTH_PATHS": "skip-auth-paths",
    "GATEKEEPER_EXTRA_AUDIENCES": "extra-bearer-audiences",
    "GATEKEEPER_AFTER_LOGOUT_URL": "after-logout-url",
    "GATEKEEPER_WORKERS": "gatekeeper-workers",
    "GATEKEEPER_LOG_LEVEL": "log-level",
}


def check_gatekeeper_environment(environment: Mapping[str, str]) -> None:
    """Run the gatekeeper's own start-up check on what we render.

    The gatekeeper refuses to start on a bad value; catching it here keeps the running
    gatekeeper and turns the refusal into a Blocked message naming the charm option.
    """
    try:
        load_gatekeeper_settings(environment)
    except ConfigError as err:
        option = _OPTION_OF_VARIABLE.get(err.variable or "", "")
        if not option:
            raise
        raise SettingsError(option, f"the gatekeeper would refuse it: {err}") from None


@dataclass(frozen=True)
class SharedSecrets:
    """What the leader keeps in app-owned Juju secrets, shared by every unit."""

    client_secret: str
    session_keys: str
    static_password_hash: str | None = None


@dataclass(frozen=True)
class Rendered:
    settings: Settings
    dex_config: str
    dex_layer: dict[str, Any]
    gatekeeper_layer: dict[str, Any]
    resources: list[dict[str, Any]]
    resources_yaml: str
    dex_files: tuple[connectors_module.DexFile, ...] = ()

    dex_connector_ids: tuple[str, ...] = ()

    @property
    def issuer_url(self) -> str:
        return self.settings.issuer_url

    @property
    def gatekeeper_environment(self) -> dict[str, str]:
        return dict(self.gatekeeper_layer["services"]["gatekeeper"]["environment"])


def ambassador_settings(
    api_version: str, userid_header: str, groups_header: str, app_name: str, namespace: str
) -> AmbassadorSettings:
    return AmbassadorSettings(
        app_name=app_name,
        namespace=namespace,
        api_version=api_version,
        userid_header=userid_header,
        groups_header=groups_header,
    )


def render_all(
    settings: Settings,
    connectors: list[dict[str, Any]],
    *,
    app_name: str,
    namespace: str,
    secrets: SharedSecrets,
    oidc_clients: Sequence[StaticClient] = (),
) -> Rendered:
    """Raises dex_config.DexConfigError when Dex would refuse the result, and
    settings.SettingsError when the gatekeeper would refuse its environment."""
    issuer = settings.issuer_url
    connectors, dex_files = connectors_module.place_files(connectors, DEX_FILES_DIR)
    static_user = None
    if settings.enable_password_db and settings.static_username and secrets.static_password_hash:
        static_user = StaticUser(settings.static_username, secrets.static_password_hash)
    clients = (
        gatekeeper_client(settings.public_url, GATEKEEPER_CLIENT_ID, secrets.client_secret),
        cli_client(CLI_CLIENT_ID),
        *sorted(oidc_clients, key=lambda c: c.id),
    )
    dex_settings = DexSettings(
        issuer=issuer,
        connectors=connectors,
        enable_password_db=settings.enable_password_db,
        static_user=static_user,
        clients=clients,
        password_connector=connectors_module.password_connector(connectors, settings.enable_password_db),
        log_level=settings.log_level,
        id_token_expiry=settings.id_token_expiry,
    )
    dex_text = render_dex_config_yaml(dex_settings)
    gatekeeper = GatekeeperSettings(
        public_url=settings.public_url,
        issuer_url=issuer,
        client_id=GATEKEEPER_CLIENT_ID,
        client_secret=secrets.client_secret,
        session_keys=secrets.session_keys,
        session_lifetime=settings.session_lifetime,
        userid_header=settings.userid_header,
        userid_prefix=settings.userid_prefix,
        userid_claim=settings.userid_claim,
        groups_header=settings.groups_header,
        groups_claim=settings.groups_claim,
        skip_auth_paths=settings.skip_auth_paths,
        extra_audiences=settings.extra_bearer_audiences,
        secure_cookies=settings.secure_cookies,
        after_logout_url=settings.after_logout_url,
        log_level=settings.log_level,
        workers=settings.gatekeeper_workers,
    )
    layer = gatekeeper_layer(gatekeeper)
    check_gatekeeper_environment(layer["services"]["gatekeeper"]["environment"])
    routes = ambassador_settings(
        settings.ambassador_api_version, settings.userid_header, settings.groups_header, app_name, namespace
    )
    return Rendered(
        settings=settings,
        dex_config=dex_text,
        dex_layer=dex_layer(dex_text, {f.path: f.content for f in dex_files}),
        gatekeeper_layer=layer,
        resources=render_resources(routes),
        resources_yaml=render_resources_yaml(routes),
        dex_files=dex_files,
        dex_connector_ids=tuple(c["id"] for c in connectors),
    )


def render_from_config(
    config: Mapping[str, Any],
    *,
    secrets: SharedSecrets,
    app_name: str = "dex-auth",
    namespace: str = "kubeflow",
    oidc_clients: Sequence[StaticClient] = (),
    resolve: connectors_module.SecretResolver | None = None,
) -> Rendered:
    """The harness's path: Juju-style config dict (option name -> value) in, everything out.

    Raises settings.SettingsError, connectors.ConnectorsError or dex_config.DexConfigError,
    each with the message the charm would show as Blocked.
    """
    settings = parse_settings(config)
    found = connectors_module.load(settings.connectors_text, settings.issuer_url, resolve)
    return render_all(
        settings, found, app_name=app_name, namespace=namespace, secrets=secrets, oidc_clients=oidc_clients
    )
