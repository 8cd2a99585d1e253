"""`dex-auth-login`: the command-line face of the login functions."""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from .browser_flow import DEFAULT_PREFIX, SESSION_COOKIE
from .cache import TokenCache, cache_key, default_cache_path
from .errors import LoginError, UsageError
from .login import Secret, check_url, issuer_for, obtain_tokens, session_cookie
from .provider import DEFAULT_CLIENT_ID, DEFAULT_SCOPES

PROG = "dex-auth-login"
ENV_URL, ENV_USERNAME, ENV_PASSWORD = "DEX_AUTH_URL", "DEX_AUTH_USERNAME", "DEX_AUTH_PASSWORD"

EPILOG = f"""\
The password is read from --password-stdin, else ${ENV_PASSWORD}, else a prompt (never from argv).
Output: the token alone, or `export KF_TOKEN=...` (--export), or an HTTP header line (--header).
Exit codes: 0 ok, 2 usage, 3 unreachable, 4 not a Dex issuer, 5 wrong credentials,
6 grant disabled, 7 client rejected, 8 device login denied/expired, 9 cache, 10 other Dex error.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Get an ID token (or session cookie) from a dex-auth deployment for scripts and the KFP SDK.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get(ENV_URL),
        help=f"the deployment's public URL, e.g. https://kubeflow.example.com (default ${ENV_URL})",
    )
    parser.add_argument(
        "-u",
        "--username",
        default=os.environ.get(ENV_USERNAME),
        help=f"the user to log in as (default ${ENV_USERNAME}; prompted when needed)",
    )
    parser.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    _add_mode_arguments(parser)
    _add_provider_arguments(parser)
    _add_cache_arguments(parser)
    return parser


def _add_mode_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--device", action="store_true", help="log in in a browser with the device flow instead of a password"
    )
    mode.add_argument(
        "--cookie",
        action="store_true",
        help=f"get the gatekeeper's session cookie ({SESSION_COOKIE}) with the browser login "
        "form instead of a token (fallback for clients that need a cookie)",
    )
    mode.add_argument("--forget", action="store_true", help="remove this deployment's cached tokens and exit")
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--export", action="store_true", help="print `export KF_TOKEN=...` (`export KF_COOKIE=...` with --cookie)"
    )
    output.add_argument(
        "--header", action="store_true", help="print `Authorization: Bearer ...` (`Cookie: ...` with --cookie)"
    )


def _add_provider_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--issuer", help="Dex's issuer URL when it is not <url>/dex")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="the public client at Dex (default %(default)s)")
    parser.add_argument(
        "--scopes", default=" ".join(DEFAULT_SCOPES), help="space-separated scopes (default: %(default)s)"
    )
    parser.add_argument(
        "--connector",
        default="local",
        help="with --cookie: the Dex password connector to use when Dex offers a choice (default local)",
    )
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="with --cookie: the gatekeeper's path prefix")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per-request timeout")
    parser.add_argument("--ca-bundle", help="CA certificates to verify the deployment's TLS certificate")


def _add_cache_arguments(parser: argparse.ArgumentParser) -> None:
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache-file", help=f"token cache file (default {default_cache_path()})")
    cache.add_argument("--no-cache", action="store_true", help="neither read nor write the token cache")
    parser.add_argument("--force", action="store_true", help="log in again even when a cached token is valid")
    parser.add_argument(
        "--min-validity",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="renew a cached token that expires within this time (default 60)",
    )


def format_output(value: str, *, cookie: bool, export: bool, header: bool) -> str:
    if cookie:
        if export:
            return f"export KF_COOKIE={shlex.quote(value)}"
        return f"Cookie: {value}" if header else value
    if export:
        return f"export KF_TOKEN={shlex.quote(value)}"
    return f"Authorization: Bearer {value}" if header else value


def password_source(args: argparse.Namespace, stdin: TextIO) -> Secret:
    """A password given on stdin or in the environment is read now, so that a cached login made
    with another password is not handed back; a prompt is shown only when a login needs it."""
    if args.password_stdin:
        line = stdin.readline()
        if line:
            return line.rstrip("\r\n")
    elif os.environ.get(ENV_PASSWORD):
        return os.environ[ENV_PASSWORD]

    def ask() -> str:
        if args.password_stdin:
            raise UsageError("--password-stdin given but stdin is empty")
        if not stdin.isatty():
            raise UsageError(f"no password: use --password-stdin or set {ENV_PASSWORD}")
        return getpass.getpass(f"Password for {args.username}: ")

    return ask


def username_source(args: argparse.Namespace, stdin: TextIO) -> str | Callable[[], str]:
    if args.username:
        return args.username

    def ask() -> str:
        if args.password_stdin or not stdin.isatty():
            raise UsageError(f"no username: pass --username or set {ENV_USERNAME}")
        args.username = input("Username: ").strip()
        return args.username

    return ask


def run(args: argparse.Namespace, stdin: TextIO) -> str:
    if not args.url and not args.issuer:
        raise UsageError(f"no deployment URL: pass it (e.g. https://kubeflow.example.com) or set {ENV_URL}")
    cache = None if args.no_cache else TokenCache(args.cache_file)
    scopes = tuple(args.scopes.split())
    if "openid" not in scopes:
        raise UsageError("--scopes must include openid (the gatekeeper accepts ID tokens)")
    if args.forget:
        return _forget(args, cache)
    username = username_source(args, stdin)
    password = password_source(args, stdin)
    if args.cookie:
        value = _cookie(args, username, password, use_cache=cache is not None)
    else:
        value = obtain_tokens(
            args.url,
            issuer=args.issuer,
            username=None if args.device else username,
            password=None if args.device else password,
            device=args.device,
            client_id=args.client_id,
            scopes=scopes,
            cache=cache,
            force=args.force,
            min_validity=args.min_validity,
            timeout=args.timeout,
            verify=args.ca_bundle or True,
        ).id_token
    return format_output(value, cookie=args.cookie, export=args.export, header=args.header)


def _forget(args: argparse.Namespace, cache: TokenCache | None) -> str:
    if cache is None:
        raise UsageError("--forget needs the cache; drop --no-cache")
    issuer = check_url(args.issuer, "the issuer") if args.issuer else issuer_for(args.url)
    removed = cache.remove(cache_key(issuer, args.client_id))
    if args.url:
        removed = cache.remove(f"{check_url(args.url, 'the deployment URL')} {SESSION_COOKIE}") or removed
    return f"forgot the cached login for {issuer}" if removed else f"nothing cached for {issuer}"


def _cookie(args: argparse.Namespace, username: Secret, password: Secret, *, use_cache: bool) -> str:
    if not args.url:
        raise UsageError("--cookie needs the deployment URL, not only --issuer")
    return session_cookie(
        args.url,
        username=username,
        password=password,
        cache_path=args.cache_file,
        use_cache=use_cache,
        force=args.force,
        min_validity=args.min_validity,
        prefix=args.prefix,
        connector_id=args.connector,
        timeout=args.timeout,
        verify=args.ca_bundle or True,
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        text = run(args, stdin or sys.stdin)
    except LoginError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 130
    if args.forget:
        print(text, file=err)
    else:
        print(text, file=out)
    return 0
