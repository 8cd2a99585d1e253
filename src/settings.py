"""The charm's options, one declaration each, and the checked settings they become.

Each field of Settings declares its option: the name in config.yaml, the default, the rule that
reads the value and, when the option feeds the gatekeeper, the GATEKEEPER_* variable. The rule
of such an option is the gatekeeper's own (gatekeeper/rules.py), so the charm refuses what the
gatekeeper would and says so in its own option's name. DEFAULTS, the gatekeeper's variables and
the option named in a Blocked message all come from these declarations. No `ops` import.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import connectors
import errors
from gatekeeper import issuer_list, rules

AMBASSADOR_API_VERSIONS = ("getambassador.io/v3alpha1", "getambassador.io/v2")
CLI_CLIENT_ID = "dex-auth-cli"
GATEKEEPER_CLIENT_ID = "dex-auth-gatekeeper"
DEX_ISSUER_PATH = "/dex"
DEX_PORT = 5556
MIN_CLIENT_SECRET = 16
MAX_GATEKEEPER_WORKERS = 32

_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_OPTION = "option"


class SettingsError(errors.OptionError):
    """A config option has a value the charm cannot use."""


class MissingPublicUrlError(SettingsError):
    """public-url is not set yet: the normal state right after deploy, with its own hint."""

    def __init__(self, app_name: str = "<app>") -> None:
        super().__init__("public-url", f"is not set: run juju config {app_name} public-url=https://<host>")
        self.status_message = f"set public-url: juju config {app_name} public-url=https://<host>"


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of config.yaml: its default, the rule that reads it, the variable it feeds."""

    name: str
    default: str | bool | int
    rule: Callable[[Any], Any] = str
    variable: str | None = None

    def read(self, config: Mapping[str, Any]) -> Any:
        """Booleans reach the rule as Juju gives them, everything else as text."""
        value = config.get(self.name, self.default)
        try:
            return self.rule(value if isinstance(self.default, bool) else str(value))
        except rules.InvalidValue as err:
            raise SettingsError(self.name, err.problem) from None


def _declare(name: str, default: str | bool | int, rule: Callable[[Any], Any] = str, variable: str = "") -> Any:
    """A Settings field that declares its option. It has no default of its own: parse_settings
    fills every field from the option (or the option's default), so no two defaults can drift."""
    return dataclasses.field(metadata={_OPTION: Option(name, default, rule, variable or None)})


def _go_duration(value: str) -> str:
    value = value.strip()
    if not _GO_DURATION.match(value):
        raise rules.InvalidValue(f"must be a duration such as 10m, 1h or 24h, not {value!r}")
    return value


def _email_or_empty(value: str) -> str:
    value = value.strip()
    malformed = any(c.isspace() for c in value) or value.count("@") != 1 or value.startswith("@")
    if value and (malformed or value.endswith("@")):
        raise rules.InvalidValue(f"must be an email address such as user@example.com, not {value!r}")
    return value


def _lifetime_text(value: str) -> str:
    """The gatekeeper's duration form, kept as written: the gatekeeper turns it into seconds."""
    rules.duration_seconds(value)
    return value.strip()


def _audiences(value: str) -> tuple[str, ...]:
    """The CLI client's tokens are always accepted: dex-auth-login and scripts use them."""
    audiences = rules.csv(value)
    return audiences if CLI_CLIENT_ID in audiences else (CLI_CLIENT_ID, *audiences)


def _path_or_root(value: str) -> str:
    return value.strip() or "/"


def _issuer_origin_or_empty(value: str) -> str:
    """Charmed Kubeflow's dex-auth took Dex's issuer; here Dex is always at `<public-url>/dex`."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    if not value.endswith(DEX_ISSUER_PATH):
        raise rules.InvalidValue(f"must be <public-url>{DEX_ISSUER_PATH}, such as https://kf.example.com/dex")
    return rules.origin(value[: -len(DEX_ISSUER_PATH)])


def _dex_port(value: str) -> int:
    """Kept so a Charmed Kubeflow config still applies; Dex listens on one port here."""
    if value.strip() != str(DEX_PORT):
        raise rules.InvalidValue(f"Dex listens on {DEX_PORT} in this charm: reset it (juju config <app> --reset port)")
    return DEX_PORT


def _client_id(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value) or value == CLI_CLIENT_ID:
        raise rules.InvalidValue(f"must be 1 to 64 letters, digits, '.', '_' or '-', other than {CLI_CLIENT_ID}")
    return value


def _secret_or_empty(value: str) -> str:
    """Empty: the charm makes the secret. The message never quotes the value."""
    value = value.strip()
    if value and (len(value) < MIN_CLIENT_SECRET or not value.isascii() or not value.isprintable()):
        raise rules.InvalidValue(f"must be at least {MIN_CLIENT_SECRET} printable ASCII characters, or empty")
    return value


def _openid_scopes(value: str) -> str:
    """oidc-gatekeeper's default lists no `openid` (oidc-authservice adds it); it is put first here."""
    words = [word for word in value.split() if word != "openid"]
    return " ".join(["openid", *words])


def _pem_or_secret_reference(value: str) -> str:
    """The certificates themselves, or the Juju secret that holds them (read when rendering)."""
    value = value.strip()
    if not value or connectors.SECRET_REFERENCE.match(value):
        return value
    return rules.pem_certificates(value)


def _issuer_list_text(value: str) -> str:
    """Checked by the gatekeeper's own rule, handed on as written (the gatekeeper parses it again)."""
    issuer_list.extra_jwt_issuers(value)
    return value.strip()


def _header_or_empty(value: str) -> str:
    return rules.header_name(value) if value.strip() else ""


def _secret_reference(holds: str, example: str) -> Callable[[str], str]:
    """What may carry a password is only ever named in an option, as a Juju secret to read."""

    def rule(value: str) -> str:
        value = value.strip()
        if value and not connectors.SECRET_REFERENCE.match(value):
            raise rules.InvalidValue(
                f"must be a Juju secret reference, secret:<id> or secret:<id>/<key>, to a secret that holds "
                f"{holds} ({example}, then juju grant-secret <secret> <app>); the value itself is not shown"
            )
        return value

    return rule


@dataclasses.dataclass(frozen=True)
class Settings:
    """The checked config, minus the connectors themselves (connectors.py reads those)."""

    public_url: str = _declare("public-url", "", rules.origin, "GATEKEEPER_PUBLIC_URL")
    connectors_text: str = _declare("connectors", "")
    enable_password_db: bool = _declare("enable-password-db", True, bool)
    static_username: str = _declare("static-username", "user@example.com", _email_or_empty)
    static_password: str = _declare("static-password", "")
    session_lifetime: str = _declare("session-lifetime", "24h", _lifetime_text, "GATEKEEPER_SESSION_LIFETIME")
    id_token_expiry: str = _declare("id-token-expiry", "24h", _go_duration)
    login_timeout: int = _declare("login-timeout", "24h", rules.login_timeout, "GATEKEEPER_LOGIN_TIMEOUT")
    userid_header: str = _declare("userid-header", "kubeflow-userid", rules.header_name, "GATEKEEPER_USERID_HEADER")
    userid_prefix: str = _declare("userid-prefix", "", rules.control_free, "GATEKEEPER_USERID_PREFIX")
    userid_claim: str = _declare("userid-claim", "email", rules.claim_name, "GATEKEEPER_USERID_CLAIM")
    groups_header: str = _declare("groups-header", "kubeflow-groups", rules.header_name, "GATEKEEPER_GROUPS_HEADER")
    groups_claim: str = _declare("groups-claim", "groups", rules.claim_name, "GATEKEEPER_GROUPS_CLAIM")
    skip_auth_paths: tuple[str, ...] = _declare("skip-auth-paths", "", rules.path_list, "GATEKEEPER_SKIP_AUTH_PATHS")
    extra_bearer_audiences: tuple[str, ...] = _declare(
        "extra-bearer-audiences", "", _audiences, "GATEKEEPER_EXTRA_AUDIENCES"
    )
    after_logout_url: str = _declare("after-logout-url", "/", _path_or_root, "GATEKEEPER_AFTER_LOGOUT_URL")
    ambassador_api_version: str = _declare(
        "ambassador-api-version", AMBASSADOR_API_VERSIONS[0], rules.one_of(AMBASSADOR_API_VERSIONS)
    )
    log_level: str = _declare("log-level", "info", rules.log_level, "GATEKEEPER_LOG_LEVEL")
    gatekeeper_workers: int = _declare(
        "gatekeeper-workers", 1, rules.whole_number(1, MAX_GATEKEEPER_WORKERS), "GATEKEEPER_WORKERS"
    )
    redis_url_secret: str = _declare(
        "redis-url", "", _secret_reference("the URL", "juju add-secret redis url=redis://...")
    )
    # The names Charmed Kubeflow's dex-auth and oidc-gatekeeper charms use (README, Migrating).
    issuer_origin: str = _declare("issuer-url", "", _issuer_origin_or_empty)
    dex_port: int = _declare("port", DEX_PORT, _dex_port)
    client_id: str = _declare("client-id", GATEKEEPER_CLIENT_ID, _client_id, "GATEKEEPER_CLIENT_ID")
    client_name: str = _declare("client-name", "dex-auth gatekeeper", rules.control_free)
    client_secret: str = _declare("client-secret", "", _secret_or_empty)
    oidc_scopes: str = _declare("oidc-scopes", "openid profile email groups", _openid_scopes, "GATEKEEPER_SCOPES")
    ca_bundle_source: str = _declare("ca-bundle", "", _pem_or_secret_reference)
    skip_auth_urls: tuple[str, ...] = _declare("skip-auth-urls", "", rules.skip_auth_paths)
    static_users_secret: str = _declare(
        "static-users", "", _secret_reference("a YAML list of users", "juju add-secret users users#file=users.yaml")
    )
    allowed_emails: tuple[str, ...] = _declare("allowed-emails", "", rules.email_patterns, "GATEKEEPER_ALLOWED_EMAILS")
    allowed_groups: tuple[str, ...] = _declare("allowed-groups", "", rules.group_names, "GATEKEEPER_ALLOWED_GROUPS")
    extra_jwt_issuers: str = _declare("extra-jwt-issuers", "", _issuer_list_text, "GATEKEEPER_EXTRA_JWT_ISSUERS")
    assertion_header: str = _declare("identity-assertion-header", "", _header_or_empty, "GATEKEEPER_ASSERTION_HEADER")
    identity_assertion_audience: str = _declare(
        "identity-assertion-audience", "", rules.audience, "GATEKEEPER_ASSERTION_AUDIENCE"
    )

    @property
    def issuer_url(self) -> str:
        return f"{self.public_url}/dex"

    @property
    def all_skip_auth_paths(self) -> tuple[str, ...]:
        """skip-auth-paths and oidc-gatekeeper's skip-auth-urls, both honoured."""
        return tuple(dict.fromkeys([*self.skip_auth_paths, *self.skip_auth_urls]))

    @property
    def secure_cookies(self) -> bool:
        return not self.public_url.startswith("http://")

    @property
    def identity_headers(self) -> tuple[str, ...]:
        """Every header the check answers with, which the gateway must copy to the upstream request."""
        headers = (self.userid_header, self.groups_header, self.assertion_header)
        return tuple(header for header in headers if header)

    @property
    def assertion_audience(self) -> str:
        return self.identity_assertion_audience or self.public_url

    @property
    def static_user_wanted(self) -> bool:
        return self.enable_password_db and bool(self.static_username)


def longest_signed_life(checked: Settings | None) -> float:
    """How long a session key must keep verifying after it stops signing: the longer of the
    session lifetime and the login timeout (login states are signed with the same keys). With
    the options unreadable, the longest either may be, so a rotation never logs anyone out."""
    if checked is None:
        return float(max(rules.MAX_LIFETIME, rules.MAX_LOGIN_TIMEOUT))
    return float(max(rules.duration_seconds(checked.session_lifetime), checked.login_timeout))


def _declared() -> Iterator[tuple[str, Option]]:
    """(Settings field, its option), in config.yaml's order."""
    for field in dataclasses.fields(Settings):
        yield field.name, field.metadata[_OPTION]


OPTIONS: dict[str, Option] = {option.name: option for _, option in _declared()}
_OPTION_OF_FIELD: dict[str, Option] = dict(_declared())
# The defaults as config.yaml declares them (a test keeps the two equal).
DEFAULTS: dict[str, Any] = {name: option.default for name, option in OPTIONS.items()}
OPTION_OF_VARIABLE: dict[str, str] = {o.variable: o.name for o in OPTIONS.values() if o.variable}


def option_value(config: Mapping[str, Any], name: str) -> Any:
    """One option, checked alone; for the actions, which must work while another option is bad."""
    return OPTIONS[name].read(config)


def parse_settings(config: Mapping[str, Any], *, app_name: str = "<app>") -> Settings:
    """Check every option; the first bad one raises SettingsError. Missing options take DEFAULTS."""
    issuer_origin = OPTIONS["issuer-url"].read(config)
    if not str(config.get("public-url", "")).strip():
        if not issuer_origin:
            raise MissingPublicUrlError(app_name)
        config = {**config, "public-url": issuer_origin}
    values = {field: option.read(config) for field, option in _declared()}
    if issuer_origin and issuer_origin != values["public_url"]:
        raise SettingsError(
            "issuer-url", f"must be {values['public_url']}{DEX_ISSUER_PATH} (public-url + /dex), or unset"
        )
    try:
        rules.check_related(values, lambda field: _OPTION_OF_FIELD[field].name)
    except rules.InvalidValue as err:
        raise SettingsError(_OPTION_OF_FIELD[err.field or ""].name, err.problem) from None
    return Settings(**values)


def _variable_text(value: str | bool | int | tuple[str, ...]) -> str:
    """As the gatekeeper's rule reads it back: a list whose items hold commas goes one per line."""
    if isinstance(value, tuple):
        if any("," in item for item in value):
            return "".join(f"{item}\n" for item in value)
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def gatekeeper_variables(settings: Settings) -> dict[str, str]:
    """The GATEKEEPER_* variables that carry an option, as the gatekeeper reads them."""
    return {
        option.variable: _variable_text(getattr(settings, field)) for field, option in _declared() if option.variable
    }
