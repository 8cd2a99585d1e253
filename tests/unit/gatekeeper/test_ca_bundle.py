"""GATEKEEPER_CA_BUNDLE: the provider behind a private CA is trusted with it, and only with it."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from gatekeeper_fixtures import FakeDex, base_env, settings_for
from harness.tls import make_tls_files

from gatekeeper import rules
from gatekeeper.config import ConfigError, load_settings
from gatekeeper.errors import ProviderUnavailableError
from gatekeeper.provider import Provider


def private_ca(tmp: Path) -> tuple[str, ssl.SSLContext]:
    """A CA's PEM, and a server context for 127.0.0.1 with a certificate that CA signed."""
    files = make_tls_files(tmp)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.cert, files.key)
    return files.ca.read_text(), server


@pytest.fixture
def tls_dex(tmp_path):
    ca_pem, server = private_ca(tmp_path)
    dex = FakeDex(tls=server).start()
    yield dex, ca_pem
    dex.stop()


def discover(dex: FakeDex, **env: str) -> tuple[Provider, str]:
    """The provider after discovery and keys, and the refusal the background task would log."""

    async def scenario() -> tuple[Provider, str]:
        provider = Provider(settings_for(dex, **env))
        try:
            await provider.discover()
            await provider.refresh_keys()
        except ProviderUnavailableError as exc:
            return provider, str(exc)
        finally:
            await provider.aclose()
        return provider, ""

    return asyncio.run(scenario())


def test_the_provider_behind_a_private_ca_is_reached_with_the_bundle(tls_dex):
    dex, ca_pem = tls_dex
    provider, refusal = discover(dex, GATEKEEPER_CA_BUNDLE=ca_pem)
    assert provider.ready and dex.jwks_fetches == 1, refusal


def test_without_the_bundle_the_provider_is_not_trusted_and_says_why(tls_dex):
    dex, _ = tls_dex
    provider, refusal = discover(dex)
    assert not provider.ready and dex.jwks_fetches == 0
    assert "certificate" in refusal.lower(), refusal


def test_another_ca_does_not_make_it_trusted(tls_dex, tmp_path):
    dex, _ = tls_dex
    other_pem, _ = private_ca(tmp_path / "other")
    assert not discover(dex, GATEKEEPER_CA_BUNDLE=other_pem)[0].ready


def test_a_bundle_is_checked_certificate_by_certificate(tmp_path):
    ca_pem, _ = private_ca(tmp_path)
    assert rules.pem_certificates(f"# my CA\n{ca_pem}\n{ca_pem}") == ca_pem.strip() + "\n" + ca_pem.strip() + "\n"
    broken = ca_pem.replace(ca_pem.splitlines()[3], "A" * 64)
    with pytest.raises(rules.InvalidValue) as info:
        rules.pem_certificates(ca_pem + broken)
    assert info.value.problem == "certificate 2 of 2 is not a valid PEM certificate"
    with pytest.raises(ConfigError) as error:
        load_settings(base_env(GATEKEEPER_CA_BUNDLE="not a certificate"))
    assert error.value.variable == "GATEKEEPER_CA_BUNDLE"
