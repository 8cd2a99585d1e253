"""Settings from the GATEKEEPER_* environment variables (docs/architecture.md is the contract).

Everything is checked once at start-up so that a bad value stops the process with one line
naming the variable, instead of surfacing later as a confusing answer to a user. Each variable
is one row of VARIABLES; its rule lives in rules.py, where the charm finds it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gatekeeper import issuer_list, rules

MIN_SESSION_KEY_BYTES = 32

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"  # where the kubelet mounts it
_KID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ConfigError(ValueError):
    """A GATEKEEPER_* variable is missing or invalid: `variable` says which, `problem` what is wrong.

    Two fields, so the charm, which renders these variables, can name its own option instead.
    """

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable} {problem}")


@dataclass(frozen=True)
class SessionKey:
    kid: str
    secret: bytes


@dataclass(frozen=True)
class Settings:
    """Every GATEKEEPER_* variable, checked and converted; one field per row of VARIABLES."""

    public_url: str
    issuer_url: str
    provider_url: str
    client_id: str
    client_secret: str
    session_keys: tuple[SessionKey, ...]
    session_lifetime: int
    prefix: str
    userid_header: str
    userid_prefix: str
    userid_claim: str
    groups_header: str
    groups_claim: str
    skip_auth_paths: tuple[str, ...]
    extra_audiences: tuple[str, ...]
    scopes: str
    secure_cookies: bool
    after_logout_url: str
    host: str
    port: int
    workers: int
    log_level: str
    revocations_file: str = ""
    allowed_emails: tuple[str, ...] = ()
    ca_bundle: str = ""
    allowed_groups: tuple[str, ...] = ()
    login_timeout: int = 86400
    redis_url: str = ""
    operations_token: str = ""
    check_every_path: bool = False
    extra_jwt_issuers: tuple[issuer_list.ExtraIssuer, ...] = ()
    service_account_dir: str = SERVICE_ACCOUNT_DIR
    assertion_header: str = ""
    assertion_audience: str = ""
    assertion_keys: str = ""
    test_clock_offset: int = 0

    @property
    def callback_url(self) -> str:
        return f"{self.public_url}{self.prefix}/oidc/callback"

    def __repr__(self) -> str:  # never print the secrets
        return f"Settings(public_url={self.public_url!r}, issuer_url={self.issuer_url!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class Variable:
    """One GATEKEEPER_* variable: the Settings field it fills, its rule, its default.

    A blank value takes the default (None: the variable is required). A `verbatim` variable is
    read as given, blanks included: a user id prefix may well end in a space.
    """

    name: str
    field: str
    rule: Callable[[str], Any]
    default: str | None = None
    verbatim: bool = False

    def read(self, env: Mapping[str, str]) -> Any:
        """The variable's value by its rule; ConfigError names the variable."""
        value = env.get(self.name)
        if self.verbatim:
            value = value or ""
        elif value is None or not value.strip():
            if self.default is None:
                raise ConfigError(self.name, "is required but not set")
            value = self.default
        try:
            return self.rule(value if self.verbatim else value.strip())
        except rules.InvalidValue as err:
            raise ConfigError(self.name, err.problem) from None


def _optional(rule: Callable[[str], Any]) -> Callable[[str], Any]:
    """Empty stays empty (the default is another variable's value)."""
    return lambda value: rule(value) if value else ""


def _session_keys(value: str) -> tuple[SessionKey, ...]:
    return parse_session_keys("GATEKEEPER_SESSION_KEYS", value)


VARIABLES = (
    Variable("GATEKEEPER_PUBLIC_URL", "public_url", rules.origin),
    Variable("GATEKEEPER_ISSUER_URL", "issuer_url", rules.http_url),
    Variable("GATEKEEPER_PROVIDER_URL", "provider_url", _optional(rules.http_url), default=""),
    Variable("GATEKEEPER_CLIENT_ID", "client_id", str),
    Variable("GATEKEEPER_CLIENT_SECRET", "client_secret", str),
    Variable("GATEKEEPER_SESSION_KEYS", "session_keys", _session_keys),
    Variable("GATEKEEPER_SESSION_LIFETIME", "session_lifetime", rules.session_lifetime, default="86400"),
    Variable("GATEKEEPER_PREFIX", "prefix", rules.path_prefix, default="/authservice"),
    Variable("GATEKEEPER_USERID_HEADER", "userid_header", rules.header_name, default="kubeflow-userid"),
    Variable("GATEKEEPER_USERID_PREFIX", "userid_prefix", rules.control_free, verbatim=True),
    Variable("GATEKEEPER_USERID_CLAIM", "userid_claim", rules.claim_name, default="email"),
    Variable("GATEKEEPER_GROUPS_HEADER", "groups_header", rules.header_name, default="kubeflow-groups"),
    Variable("GATEKEEPER_GROUPS_CLAIM", "groups_claim", rules.claim_name, default="groups"),
    Variable("GATEKEEPER_SKIP_AUTH_PATHS", "skip_auth_paths", rules.skip_auth_paths, verbatim=True),
    Variable("GATEKEEPER_EXTRA_AUDIENCES", "extra_audiences", rules.csv, verbatim=True),
    # Empty both: every signed-in user passes; else only the listed addresses, domains and groups.
    Variable("GATEKEEPER_ALLOWED_EMAILS", "allowed_emails", rules.email_patterns, verbatim=True),
    Variable("GATEKEEPER_ALLOWED_GROUPS", "allowed_groups", rules.group_names, verbatim=True),
    # PEM: CA certificates trusted, beside the usual ones, when the provider is reached over https.
    Variable("GATEKEEPER_CA_BUNDLE", "ca_bundle", _optional(rules.pem_certificates), verbatim=True),
    Variable("GATEKEEPER_SCOPES", "scopes", rules.scopes, default="openid email profile groups"),
    Variable("GATEKEEPER_SECURE_COOKIES", "secure_cookies", rules.boolean, default="true"),
    Variable("GATEKEEPER_AFTER_LOGOUT_URL", "after_logout_url", str, default="/"),
    Variable("GATEKEEPER_HOST", "host", str, default="0.0.0.0"),  # noqa: S104 - a pod's port, behind the gateway
    Variable("GATEKEEPER_PORT", "port", rules.whole_number(1, 65535), default="8080"),
    Variable("GATEKEEPER_WORKERS", "workers", rules.whole_number(1, 64), default="1"),
    Variable("GATEKEEPER_LOG_LEVEL", "log_level", rules.log_level, default="info"),
    Variable("GATEKEEPER_REVOCATIONS_FILE", "revocations_file", rules.absolute_file, verbatim=True),
    Variable("GATEKEEPER_LOGIN_TIMEOUT", "login_timeout", rules.login_timeout, default="86400"),
    # Secret: may carry the Redis password. Empty: logouts are shared through the file only.
    Variable("GATEKEEPER_REDIS_URL", "redis_url", rules.redis_url, default=""),
    # Secret: what POST /revoke-user on the operations listener asks for. Empty: that endpoint is off.
    Variable("GATEKEEPER_OPERATIONS_TOKEN", "operations_token", rules.secret_token, default=""),
    # Istio's ext_authz (istio-pilot's EnvoyFilter) asks at the listener's root with the original
    # path: every path is a check but the gatekeeper's own pages, and no operations endpoint is served.
    Variable("GATEKEEPER_CHECK_EVERY_PATH", "check_every_path", rules.boolean, default="false"),
    # Issuers besides Dex whose JWTs pass as bearer tokens (issuer_list.py), e.g. Kubernetes'.
    Variable("GATEKEEPER_EXTRA_JWT_ISSUERS", "extra_jwt_issuers", issuer_list.extra_jwt_issuers, verbatim=True),
    # The pod's service-account token and cluster CA, for an issuer with credentials=serviceaccount.
    Variable("GATEKEEPER_SERVICE_ACCOUNT_DIR", "service_account_dir", rules.absolute_file, default=SERVICE_ACCOUNT_DIR),
    # The identity assertion (assertions.py): off while the header is empty.
    Variable("GATEKEEPER_ASSERTION_HEADER", "assertion_header", _optional(rules.header_name), verbatim=True),
    Variable("GATEKEEPER_ASSERTION_AUDIENCE", "assertion_audience", rules.audience, verbatim=True),
    # Secret: PEM P-256 private keys, the first signs. Required with the header.
    Variable("GATEKEEPER_ASSERTION_KEYS", "assertion_keys", _optional(rules.pem_private_keys), verbatim=True),
    # Seconds added to the clock login states are judged by: for tests only, the charm never sets it.
    Variable("GATEKEEPER_TEST_CLOCK_OFFSET", "test_clock_offset", rules.whole_number(0, 366 * 86400), default="0"),
)


def parse_session_keys(name: str, value: str) -> tuple[SessionKey, ...]:
    keys: list[SessionKey] = []
    for index, item in enumerate(value.split(","), start=1):
        kid, sep, secret = item.strip().partition("=")
        kid = kid.strip()
        if not sep or not kid:
            raise ConfigError(name, f"entry {index} must look like kid=secret")
        if not _KID_RE.match(kid):
            raise ConfigError(
                name, f"entry {index}: key id {kid!r} may only use letters, digits, '.', '_', '-' (max 64)"
            )
        if len(secret.encode()) < MIN_SESSION_KEY_BYTES:
            raise ConfigError(
                name, f"key {kid!r} is too short: at least {MIN_SESSION_KEY_BYTES} bytes are needed for HS256"
            )
        if any(k.kid == kid for k in keys):
            raise ConfigError(name, f"lists key id {kid!r} twice")
        keys.append(SessionKey(kid=kid, secret=secret.encode()))
    return tuple(keys)


_VARIABLE_OF_FIELD = {variable.field: variable.name for variable in VARIABLES}


def _check_together(values: dict[str, Any]) -> None:
    """The rules that relate two variables (rules.RELATED), and the provider's default."""
    values["provider_url"] = values["provider_url"] or values["issuer_url"]
    for extra in values["extra_jwt_issuers"]:
        if extra.issuer.rstrip("/") == values["issuer_url"]:
            raise ConfigError(
                "GATEKEEPER_EXTRA_JWT_ISSUERS", f"lists {extra.issuer}, which is Dex's own issuer: remove it"
            )
    if values["assertion_header"] and not values["assertion_keys"]:
        raise ConfigError("GATEKEEPER_ASSERTION_KEYS", "is required when GATEKEEPER_ASSERTION_HEADER is set")
    values["assertion_audience"] = values["assertion_audience"] or values["public_url"]
    try:
        rules.check_related(values, _VARIABLE_OF_FIELD.__getitem__)
    except rules.InvalidValue as err:
        raise ConfigError(_VARIABLE_OF_FIELD[err.field or ""], err.problem) from None


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and check every GATEKEEPER_* variable; raise ConfigError naming the first bad one."""
    values = {variable.field: variable.read(env) for variable in VARIABLES}
    _check_together(values)
    return Settings(**values)
