"""Apache httpd + mod_auth_openidc (Debian) protecting a location against the stack's provider.

This is what a platform team would otherwise pick. Its client is registered the way a Dex admin
would do it: one more entry in the Dex config's `staticClients`, after which the provider is
restarted on that config (its signing keys survive the restart, so nothing else notices).
Sessions are `client-cookie` (an encrypted cookie, no server-side store), the closest match to the
gatekeeper's self-contained JWT session.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from harness import form_login
from harness.processes import ManagedProcess, ProcessGroup, free_port, http_ready

MODULES = Path("/usr/lib/apache2/modules")
NEEDED_MODULES = {
    "mpm_event_module": "mod_mpm_event.so",
    "authn_core_module": "mod_authn_core.so",
    "authz_core_module": "mod_authz_core.so",
    "authz_user_module": "mod_authz_user.so",
    "mime_module": "mod_mime.so",
    "auth_openidc_module": "mod_auth_openidc.so",
}
PROTECTED = "/protected"
PAGE = PROTECTED + "/page.txt"
SESSION_COOKIE_PREFIX = "mod_auth_openidc_session"


class ApacheError(RuntimeError):
    """Apache or mod_auth_openidc is missing, did not start, or the login through it failed."""


@dataclass(frozen=True)
class ApacheClient:
    """The relying party Apache is at the provider."""

    port: int
    client_id: str = "bench-apache"
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}{PROTECTED}/redirect_uri"


def with_client(dex_config_text: str, client: ApacheClient) -> str:
    """The Dex config with Apache's client added to `staticClients` (replacing an older copy)."""
    config: dict[str, Any] = yaml.safe_load(dex_config_text)
    if not isinstance(config, dict) or "issuer" not in config:
        raise ApacheError("the Dex config is not a mapping with an issuer")
    clients = [c for c in config.get("staticClients") or [] if c.get("id") != client.client_id]
    clients.append(
        {
            "id": client.client_id,
            "name": "mod_auth_openidc (benchmark)",
            "secret": client.secret,
            "redirectURIs": [client.redirect_uri],
        }
    )
    config["staticClients"] = clients
    return yaml.safe_dump(config, sort_keys=False)


def httpd_config(client: ApacheClient, issuer: str, work: Path, passphrase: str) -> str:
    """A self-contained httpd.conf: one listener, one protected location, no logs on the hot path.

    `MaxKeepAliveRequests 0` lets wrk keep its connections, as it does with every other server
    measured here (Debian's default of 100 would make Apache reconnect all the time), and the
    spare-thread bounds keep the event MPM from reaping a child (and its connections) mid-run.
    """
    loads = [f"LoadModule {name} {MODULES / so}" for name, so in NEEDED_MODULES.items()]
    return "\n".join(
        [
            *loads,
            f"ServerRoot {work}",
            "ServerName 127.0.0.1",
            f"Listen 127.0.0.1:{client.port}",
            f"DefaultRuntimeDir {work / 'run'}",
            f"PidFile {work / 'run' / 'httpd.pid'}",
            f"ErrorLog {work / 'apache-error.log'}",
            "LogLevel warn",
            "User www-data",
            "Group www-data",
            "KeepAlive On",
            "MaxKeepAliveRequests 0",
            "StartServers 4",
            "ThreadsPerChild 25",
            "MinSpareThreads 100",
            "MaxSpareThreads 150",
            "MaxRequestWorkers 150",
            f"DocumentRoot {work / 'htdocs'}",
            "TypesConfig /etc/mime.types",
            f"OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration",
            f"OIDCClientID {client.client_id}",
            f"OIDCClientSecret {client.secret}",
            f"OIDCRedirectURI {client.redirect_uri}",
            f"OIDCCryptoPassphrase {passphrase}",
            "OIDCSessionType client-cookie",
            'OIDCScope "openid email profile groups"',
            "OIDCPKCEMethod S256",
            "OIDCRemoteUserClaim email",
            f"<Location {PROTECTED}>",
            "    AuthType openid-connect",
            "    Require valid-user",
            "</Location>",
            "",
        ]
    )


def check_installed() -> None:
    missing = [so for so in NEEDED_MODULES.values() if not (MODULES / so).exists()]
    if shutil.which("apache2") is None or missing:
        raise ApacheError(
            "apache2 or its modules are missing (" + ", ".join(missing or ["apache2"]) + "):"
            " run WITH_BENCH=1 scripts/setup (apache2 libapache2-mod-auth-openidc)"
        )


def start(group: ProcessGroup, work: Path, client: ApacheClient, issuer: str) -> ManagedProcess:
    check_installed()
    work.mkdir(parents=True, exist_ok=True)
    (work / "run").mkdir(exist_ok=True)
    (work / "htdocs" / PROTECTED.strip("/")).mkdir(parents=True, exist_ok=True)
    (work / "htdocs" / "ok.txt").write_text("ok\n")
    (work / "htdocs" / PAGE.strip("/")).write_text("protected\n")
    for path in (work.parent, work):  # www-data must reach the document root (work is in our temp dir)
        path.chmod(path.stat().st_mode | 0o055)
    conf = work / "httpd.conf"
    conf.write_text(httpd_config(client, issuer, work, secrets.token_urlsafe(24)))
    conf.chmod(0o600)
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C"}
    return group.start(
        "apache",
        ["apache2", "-f", str(conf), "-DFOREGROUND"],
        env=env,
        cwd=work,
        ready=http_ready(f"{client.url}/ok.txt"),
        ready_what="/ok.txt",
    )


def login(client: ApacheClient, username: str, password: str) -> str:
    """Log in through Apache as a browser would; returns the Cookie header of its session."""
    with requests.Session() as browser:
        result = form_login.login(browser, client.url + PAGE, username, password)
        if result.response.status_code != 200 or result.response.text != "protected\n":
            raise ApacheError(
                f"login through mod_auth_openidc ended at {result.response.status_code}:\n" + result.describe()
            )
        cookies = [(c.name, c.value) for c in browser.cookies if c.name.startswith(SESSION_COOKIE_PREFIX)]
    if not cookies:
        raise ApacheError("mod_auth_openidc set no session cookie")
    return "; ".join(f"{name}={value}" for name, value in cookies)


def free_client() -> ApacheClient:
    return ApacheClient(port=free_port())
