"""ca-bundle: PEM or a Juju secret holding it; into the Dex container with SSL_CERT_DIR for the
connectors, into the gatekeeper's environment; a bad certificate blocks naming it."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from charm_state import context, gatekeeper_env, service, state
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ops import testing

SECRET_ID = "secret:cs8abcdefghijklmnopt"


def ca_pem(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


FIRST, SECOND = ca_pem("corp root"), ca_pem("corp issuing")


@pytest.fixture
def ctx() -> testing.Context:
    return context()


def ca_file(root):
    return root / "dex-etc" / "ca-certs" / "ca-bundle.pem"


def test_the_bundle_reaches_dex_and_the_gatekeeper(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"ca-bundle": FIRST + SECOND}))
    assert out.unit_status == testing.ActiveStatus()
    assert ca_file(tmp_path).read_text() == FIRST + SECOND
    assert service(out, "dex")["environment"]["SSL_CERT_DIR"] == "/tmp/dex-auth/ca-certs"
    assert gatekeeper_env(out)["GATEKEEPER_CA_BUNDLE"] == FIRST + SECOND


def test_a_secret_reference_is_read_and_a_change_restarts_dex(ctx, tmp_path):
    secret = testing.Secret({"ca": FIRST}, id=SECRET_ID)
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"ca-bundle": SECRET_ID}, secrets=(secret,)))
    assert out.unit_status == testing.ActiveStatus() and ca_file(tmp_path).read_text() == FIRST
    before = service(out, "dex")["environment"]["DEX_CONFIG_HASH"]
    others = {s for s in out.secrets if s.id != SECRET_ID}
    again = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(out, secrets=others | {testing.Secret({"ca": SECOND}, id=SECRET_ID)}),
    )
    assert ca_file(tmp_path).read_text() == SECOND
    assert service(again, "dex")["environment"]["DEX_CONFIG_HASH"] != before


def test_unsetting_it_removes_the_file_and_the_variable(ctx, tmp_path):
    out = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"ca-bundle": FIRST}))
    cleared = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={**out.config, "ca-bundle": ""}))
    assert not ca_file(tmp_path).exists()
    assert "SSL_CERT_DIR" not in service(cleared, "dex")["environment"]
    assert gatekeeper_env(cleared)["GATEKEEPER_CA_BUNDLE"] == ""


@pytest.mark.parametrize(
    "value, secrets, message",
    [
        (
            FIRST + FIRST.replace(FIRST.splitlines()[2], "A" * 64),
            (),
            "config ca-bundle: certificate 2 of 2 is not a valid PEM certificate",
        ),
        (
            SECRET_ID,
            (testing.Secret({"ca": "not pem"}, id=SECRET_ID),),
            "config ca-bundle: the secret's value must be PEM certificates (-----BEGIN CERTIFICATE----- ...)",
        ),
        (
            SECRET_ID,
            (),
            f"config ca-bundle: secret {SECRET_ID} is not found or not granted "
            f"(run: juju grant-secret {SECRET_ID} dex-auth)",
        ),
    ],
)
def test_a_bad_bundle_blocks_naming_it_and_the_running_config_stays(ctx, tmp_path, value, secrets, message):
    good = ctx.run(ctx.on.config_changed(), state(tmp_path, config={"ca-bundle": FIRST}, secrets=secrets))
    before = good.get_container("dex").plan
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(good, config={**good.config, "ca-bundle": value}))
    assert out.unit_status == testing.BlockedStatus(message)
    assert out.get_container("dex").plan == before and ca_file(tmp_path).read_text() == FIRST
