import asyncio
import json

import jwt
import pytest
from gatekeeper_fixtures import CLIENT_ID, PUBLIC_ISSUER, FakeDex, free_port, make_settings, settings_for

from gatekeeper.errors import CodeExchangeError, ProviderUnavailableError
from gatekeeper.provider import Provider, parse_jwks


def test_discovery_rewrites_internal_endpoints_but_keeps_public_authorization(dex):
    async def scenario():
        provider = Provider(settings_for(dex))
        meta = await provider.discover()
        await provider.refresh_keys()
        await provider.aclose()
        return provider, meta

    provider, meta = asyncio.run(scenario())
    assert meta.authorization_endpoint == PUBLIC_ISSUER + "/auth"
    assert meta.token_endpoint == dex.internal_url + "/token"
    assert meta.jwks_uri == dex.internal_url + "/keys"
    assert meta.client_secret_basic is True
    assert provider.ready and set(provider.keys) == {dex.kid}


def test_issuer_mismatch_is_reported_clearly(dex):
    dex.advertised_issuer = "http://127.0.0.1:5556/dex"

    async def scenario():
        provider = Provider(settings_for(dex))
        try:
            with pytest.raises(ProviderUnavailableError, match="must be identical"):
                await provider.discover()
        finally:
            await provider.aclose()
        assert not provider.ready

    asyncio.run(scenario())


def test_unreachable_provider():
    async def scenario():
        settings = make_settings(GATEKEEPER_PROVIDER_URL=f"http://127.0.0.1:{free_port()}/dex")
        provider = Provider(settings)
        try:
            with pytest.raises(ProviderUnavailableError, match="unreachable"):
                await provider.discover()
        finally:
            await provider.aclose()

    asyncio.run(scenario())


def test_background_task_retries_until_the_provider_appears():
    port = free_port()
    late = FakeDex(port=port)

    async def scenario():
        provider = Provider(settings_for(late), max_backoff=0.2)
        task = asyncio.create_task(provider.run())
        await asyncio.sleep(0.5)
        assert not provider.ready and "unreachable" in provider.last_error
        late.start()
        for _ in range(50):
            if provider.ready:
                break
            await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await provider.aclose()
        return provider.ready, provider.last_error

    try:
        assert asyncio.run(scenario()) == (True, "")
    finally:
        late.stop()


def test_unknown_kid_triggers_one_rate_limited_refetch(dex):
    async def scenario():
        provider = Provider(settings_for(dex), unknown_kid_interval=60)
        await provider.discover()
        await provider.refresh_keys()
        fetches = dex.jwks_fetches
        dex.rotate()
        provider._last_key_fetch -= 120  # the last fetch was long ago
        assert await provider.key_for(dex.kid) is not None
        assert dex.jwks_fetches == fetches + 1
        assert await provider.key_for("never-published") is None
        assert await provider.key_for("never-published-2") is None
        assert dex.jwks_fetches == fetches + 1  # rate-limited
        await provider.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("methods, basic", [(["client_secret_basic"], True), (["client_secret_post"], False)])
def test_code_exchange_with_either_client_auth(dex, methods, basic):
    dex.auth_methods = methods

    async def scenario():
        provider = Provider(settings_for(dex))
        await provider.discover()
        assert provider.metadata.client_secret_basic is basic
        challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        location = (
            f"https://x/auth?client_id={CLIENT_ID}&code_challenge={challenge}"
            f"&redirect_uri={provider.settings.callback_url}&nonce=n1&state=s"
        )
        code, _ = dex.authorize(location)
        token = await provider.exchange_code(code, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        assert jwt.decode(token, options={"verify_signature": False})["nonce"] == "n1"
        with pytest.raises(CodeExchangeError, match="invalid_grant"):
            await provider.exchange_code(code, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")  # single use
        await provider.aclose()

    asyncio.run(scenario())


def test_wrong_client_secret_is_refused_by_the_provider(dex):
    async def scenario():
        provider = Provider(settings_for(dex, GATEKEEPER_CLIENT_SECRET="wrong"))
        await provider.discover()
        with pytest.raises(CodeExchangeError, match="invalid_client"):
            await provider.exchange_code("whatever", "v" * 43)
        await provider.aclose()

    asyncio.run(scenario())


def test_parse_jwks_keeps_only_asymmetric_signing_keys(dex):
    jwks = dex.jwks()
    jwks["keys"] += [
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {**jwks["keys"][0], "kid": "enc", "use": "enc"},
        {**jwks["keys"][0], "kid": "mismatch", "alg": "ES256"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        "garbage",
    ]
    keys = parse_jwks(json.loads(json.dumps(jwks)))
    assert set(keys) == {dex.kid}
    assert keys[dex.kid].algorithms == {"RS256"}
    with pytest.raises(ProviderUnavailableError):
        parse_jwks({"nokeys": []})


def test_while_the_provider_is_away_discovery_is_retried_at_least_every_second(monkeypatch):
    """The unavailable page promises a login within 5 s of Dex answering: no backoff may grow past that."""
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)
        if len(waits) >= 12:  # a doubling backoff would be at 30 s by now
            raise asyncio.CancelledError

    async def scenario():
        provider = Provider(make_settings(GATEKEEPER_PROVIDER_URL=f"http://127.0.0.1:{free_port()}/dex"))
        monkeypatch.setattr("gatekeeper.provider.asyncio.sleep", sleep)
        try:
            await provider.run()
        except asyncio.CancelledError:
            pass
        finally:
            await provider.aclose()

    asyncio.run(scenario())
    assert len(waits) == 12 and max(waits) <= 1.0
