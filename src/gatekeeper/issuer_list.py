"""extra-jwt-issuers: the issuers besides Dex whose JWTs pass as bearer tokens, and their rules.

One entry per issuer and audience, as oauth2-proxy's `--extra-jwt-issuers` takes them
(`issuer=audience`), comma-separated or one per line; the same issuer may come again with
another audience. Options for an issuer follow its entry after `;`:

    https://kubernetes.default.svc.cluster.local=pipelines.kubeflow.org
    https://ci.example.com=kubeflow;userid-claim=email;groups-claim=groups;jwks-url=https://ci.example.com/keys

An issuer is reached over https only: its keys decide who is let in, so a network in between
must not be able to swap them. Loopback addresses are the exception (tests and the demo).
Standard library only: the charm applies this rule to its option too.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from gatekeeper.rules import InvalidValue, claim_name, control_free, http_url

SERVICE_ACCOUNT = "serviceaccount"
NO_CREDENTIALS = "none"
CREDENTIALS = (SERVICE_ACCOUNT, NO_CREDENTIALS)
# The in-cluster API server's names: its issuer discovery wants the pod's own token by default.
KUBERNETES_HOSTS = frozenset({"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
MAX_ISSUERS = 16
_AUDIENCE = re.compile(r"^[^\s,;=]{1,256}$")
_PARAMETERS = ("userid-claim", "groups-claim", "jwks-url", "credentials", "userid-prefix")


@dataclass(frozen=True)
class ExtraIssuer:
    """One issuer: which audiences it may mint for us, and how its claims become the identity.

    `groups_claim` empty: the groups header goes out empty, whatever the token holds.
    `credentials` serviceaccount: discovery and keys are fetched with the pod's service-account
    token, trusting the cluster's CA (the API server's own issuer asks for both by default).
    """

    issuer: str
    audiences: tuple[str, ...]
    userid_claim: str = "sub"
    groups_claim: str = ""
    jwks_url: str = ""
    credentials: str = NO_CREDENTIALS
    userid_prefix: str = ""


def secure_url(value: str) -> str:
    """An https URL, or http to a loopback address; as written (an issuer's `iss` is compared exactly)."""
    url = value.strip()
    http_url(url)
    parts = urlsplit(url)
    if parts.scheme != "https" and not _loopback(url):
        raise InvalidValue(f"must be https:// (plain http only to a loopback address such as 127.0.0.1): {url!r}")
    return url


def _entry(index: int, text: str) -> ExtraIssuer:
    head, *options = text.split(";")
    issuer, sep, audience = head.strip().partition("=")
    if not sep or not issuer.strip() or not audience.strip():
        raise InvalidValue(f"entry {index} must look like https://issuer=audience, not {text[:120]!r}")
    try:
        found = ExtraIssuer(secure_url(issuer), (_audience(audience.strip()),))
        if _kubernetes(found.issuer):
            found = replace(found, credentials=SERVICE_ACCOUNT)
            if _kubernetes(found.audiences[0]):
                raise InvalidValue(
                    f"audience {found.audiences[0]!r} is the API server's own, which every pod's default "
                    "token carries: name one for this use, e.g. pipelines.kubeflow.org"
                )
        for option in options:
            name, sep, value = option.strip().partition("=")
            if not sep or name.strip() not in _PARAMETERS:
                raise InvalidValue(f"has an unknown option {option.strip()[:60]!r}; known: {', '.join(_PARAMETERS)}")
            found = _with(found, name.strip(), value.strip())
    except InvalidValue as err:
        raise InvalidValue(f"entry {index} ({issuer.strip()[:120]}): {err.problem}") from None
    return found


def _audience(value: str) -> str:
    if not _AUDIENCE.match(value):
        raise InvalidValue(f"has an audience that is empty or holds a blank, ',', ';' or '=': {value[:60]!r}")
    return value


def _with(found: ExtraIssuer, name: str, value: str) -> ExtraIssuer:
    if name == "userid-claim":
        return replace(found, userid_claim=claim_name(value))
    if name == "groups-claim":
        return replace(found, groups_claim=claim_name(value) if value else "")
    if name == "jwks-url":
        return replace(found, jwks_url=secure_url(value))
    if name == "userid-prefix":
        return replace(found, userid_prefix=control_free(value))
    if value not in CREDENTIALS:
        raise InvalidValue(f"credentials must be one of {', '.join(CREDENTIALS)}, not {value[:40]!r}")
    if value == SERVICE_ACCOUNT and not (_kubernetes(found.issuer) or _loopback(found.issuer)):
        raise InvalidValue(
            "credentials=serviceaccount sends the pod's own token: only to the in-cluster API server "
            f"({' or '.join(sorted(KUBERNETES_HOSTS))})"
        )
    return replace(found, credentials=value)


def _kubernetes(url: str) -> bool:
    return urlsplit(url).hostname in KUBERNETES_HOSTS


def _loopback(url: str) -> bool:
    try:
        return ipaddress.ip_address(urlsplit(url).hostname or "").is_loopback
    except ValueError:
        return False


def extra_jwt_issuers(value: str) -> tuple[ExtraIssuer, ...]:
    """Entries by issuer, audiences merged; an issuer's options may be given on any of its entries
    but must not disagree."""
    items = [item.strip() for item in re.split(r"[,\n]", value) if item.strip()]
    merged: dict[str, ExtraIssuer] = {}  # by the issuer without a trailing slash: one spelling each
    for index, item in enumerate(items, start=1):
        found = _entry(index, item)
        known = merged.get(found.issuer.rstrip("/"))
        if known is None:
            merged[found.issuer.rstrip("/")] = found
            continue
        if known.issuer != found.issuer:
            raise InvalidValue(
                f"entry {index} ({found.issuer}) spells an earlier issuer ({known.issuer}) with another "
                "trailing slash; tokens carry one exact iss: keep that one"
            )
        audiences = tuple(dict.fromkeys([*known.audiences, *found.audiences]))
        options_given = ";" in item
        if options_given and replace(found, audiences=audiences) != replace(known, audiences=audiences):
            raise InvalidValue(f"entry {index} ({found.issuer}) gives other options than an earlier entry of it")
        merged[found.issuer.rstrip("/")] = replace(known, audiences=audiences)
    if len(merged) > MAX_ISSUERS:
        raise InvalidValue(f"lists {len(merged)} issuers; at most {MAX_ISSUERS} are supported")
    return tuple(merged.values())
