"""`dex-auth-login` as users run it: arguments, password sources, output modes, exit codes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from login_support import PASSWORD, USER, RunningProvider, free_port

from dex_auth_login.cli import build_parser, format_output, main
from dex_auth_login.tokens import jwt_claims

SRC = Path(__file__).resolve().parents[3] / "src"


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DEX_AUTH_")}
    environment.update({"PYTHONPATH": str(SRC)}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "dex_auth_login", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_parser_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEX_AUTH_URL", "https://k.example.com")
    monkeypatch.setenv("DEX_AUTH_USERNAME", "ann@example.com")
    args = build_parser().parse_args([])
    assert (args.url, args.username, args.client_id) == ("https://k.example.com", "ann@example.com", "dex-auth-cli")
    assert args.scopes.split() == ["openid", "email", "profile", "groups", "offline_access"]
    assert not (args.device or args.cookie or args.export or args.header or args.no_cache)


@pytest.mark.parametrize(
    "argv",
    [["--device", "--cookie"], ["--export", "--header"], ["--no-cache", "--cache-file", "x"], ["--password", "secret"]],
)
def test_conflicting_or_unknown_options_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["https://k.example.com", *argv])
    assert caught.value.code == 2


def test_output_formats() -> None:
    assert format_output("t.o.k", cookie=False, export=False, header=False) == "t.o.k"
    assert format_output("t.o.k", cookie=False, export=True, header=False) == "export KF_TOKEN=t.o.k"
    assert format_output("t.o.k", cookie=False, export=False, header=True) == "Authorization: Bearer t.o.k"
    assert (
        format_output("authservice_session=v", cookie=True, export=True, header=False)
        == "export KF_COOKIE=authservice_session=v"
    )
    assert (
        format_output("authservice_session=v", cookie=True, export=False, header=True)
        == "Cookie: authservice_session=v"
    )
    assert format_output("a b", cookie=False, export=True, header=False) == "export KF_TOKEN='a b'"


def test_no_url_is_a_usage_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEX_AUTH_URL", raising=False)
    assert main([], stdin=io.StringIO()) == 2
    assert "no deployment URL" in capsys.readouterr().err


def test_scopes_without_openid_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["https://k.example.com", "--scopes", "email groups"], stdin=io.StringIO()) == 2
    assert "--scopes must include openid" in capsys.readouterr().err


@pytest.mark.e2e
def test_password_from_stdin_prints_the_token(provider: RunningProvider, cache_file: Path) -> None:
    result = run_cli(
        provider.url, "-u", USER, "--password-stdin", "--cache-file", str(cache_file), stdin=PASSWORD + "\n"
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert jwt_claims(token)["email"] == USER
    assert result.stderr == ""
    assert oct(cache_file.stat().st_mode & 0o777) == "0o600"


@pytest.mark.e2e
def test_password_from_the_environment_and_export_and_header_modes(provider: RunningProvider, cache_file: Path) -> None:
    env = {"DEX_AUTH_URL": provider.url, "DEX_AUTH_USERNAME": USER, "DEX_AUTH_PASSWORD": PASSWORD}
    exported = run_cli("--export", "--cache-file", str(cache_file), env=env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("export KF_TOKEN=ey")
    header = run_cli("--header", "--cache-file", str(cache_file), env={"DEX_AUTH_URL": provider.url})
    assert header.returncode == 0, header.stderr  # served from the cache: no username or password needed
    assert header.stdout.strip() == "Authorization: Bearer " + exported.stdout.strip().split("=", 1)[1]


@pytest.mark.e2e
def test_the_password_is_prompted_on_a_terminal(
    provider: RunningProvider, cache_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DEX_AUTH_PASSWORD", raising=False)
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or PASSWORD)
    assert main([provider.url, "-u", USER, "--cache-file", str(cache_file)], stdin=FakeTty()) == 0
    assert prompts == [f"Password for {USER}: "]
    assert jwt_claims(capsys.readouterr().out.strip())["email"] == USER


def test_without_a_terminal_the_missing_password_is_a_usage_error(provider: RunningProvider, cache_file: Path) -> None:
    result = run_cli(provider.url, "-u", USER, "--cache-file", str(cache_file))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dex-auth-login: error: no password: use --password-stdin or set DEX_AUTH_PASSWORD"
    )


@pytest.mark.e2e
def test_wrong_password_exit_code_and_message_never_show_the_password(
    provider: RunningProvider, cache_file: Path
) -> None:
    result = run_cli(
        provider.url, "-u", USER, "--password-stdin", "--cache-file", str(cache_file), stdin="Wr0ng-Secret\n"
    )
    assert result.returncode == 5
    assert result.stdout == ""
    assert result.stderr == f"dex-auth-login: error: Dex refused the username or password for user '{USER}'\n"
    assert "Wr0ng-Secret" not in provider.log()


def test_a_wrong_password_after_a_cached_login_still_exits_5(provider: RunningProvider, cache_file: Path) -> None:
    common = (provider.url, "-u", USER, "--password-stdin", "--cache-file", str(cache_file))
    assert run_cli(*common, stdin=PASSWORD + "\n").returncode == 0
    wrong = run_cli(*common, stdin="Wr0ng-Secret\n")
    assert (wrong.returncode, wrong.stdout) == (5, "")
    again = run_cli(*common, stdin=PASSWORD + "\n")
    assert again.returncode == 0 and again.stdout.strip()
    from_env = run_cli(provider.url, "-u", USER, "--cache-file", str(cache_file), env={"DEX_AUTH_PASSWORD": "nope"})
    assert from_env.returncode == 5


@pytest.mark.e2e
def test_disabled_grant_and_unknown_client_exit_codes(start_provider, cache_file: Path) -> None:
    running = start_provider(oauth2={"skipApprovalScreen": True})
    disabled = run_cli(running.url, "-u", USER, "--password-stdin", "--no-cache", stdin=PASSWORD)
    assert disabled.returncode == 6 and "does not allow the password grant" in disabled.stderr, (
        disabled.returncode,
        disabled.stderr,
        running.log(),
    )
    unknown = run_cli(running.url, "-u", USER, "--password-stdin", "--no-cache", "--client-id", "nope", stdin=PASSWORD)
    assert unknown.returncode == 7 and "'nope'" in unknown.stderr, (unknown.returncode, unknown.stderr)


def test_unreachable_and_not_dex_exit_codes(cache_file: Path) -> None:
    port = free_port()
    unreachable = run_cli(f"http://127.0.0.1:{port}", "-u", USER, "--password-stdin", "--timeout", "2", stdin=PASSWORD)
    assert unreachable.returncode == 3
    assert unreachable.stderr.count("\n") == 1 and "Traceback" not in unreachable.stderr


@pytest.mark.e2e
def test_forget_removes_the_cached_login(provider: RunningProvider, cache_file: Path) -> None:
    assert (
        run_cli(
            provider.url, "-u", USER, "--password-stdin", "--cache-file", str(cache_file), stdin=PASSWORD
        ).returncode
        == 0
    )
    forgot = run_cli(provider.url, "--forget", "--cache-file", str(cache_file))
    assert forgot.returncode == 0 and "forgot the cached login" in forgot.stderr and forgot.stdout == ""
    again = run_cli(provider.url, "--cache-file", str(cache_file))  # nothing cached, no password: must ask
    assert again.returncode == 2 and "no username" in again.stderr
