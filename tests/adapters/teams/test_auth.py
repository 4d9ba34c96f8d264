"""With credentials configured, /api/messages only accepts Bot Framework tokens for our app.

Tokens are real RS256 JWTs signed with a test key. The SDK's validator fetches
signing keys from the Bot Framework's JWKS address; the test points that address
at a local JWKS server, so the real middleware and validator do all the checking.
"""

from __future__ import annotations

import json
import threading
import time

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWKClient
from microsoft_agents.hosting.core import (
    AnonymousTokenProvider,
    AuthenticationConstants,
    ConnectionManager,
    JwtTokenValidator,
)
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    _JwkClientCacheEntry,
)

from bot.adapters.teams import TeamsBot, TeamsSettings
from tests.adapters.teams.conftest import Teams

pytestmark = pytest.mark.anyio

APP_ID = "11111111-2222-3333-4444-555555555555"
KID = "test-key"


class FakeTokenProvider(AnonymousTokenProvider):
    """The bot's own outgoing token, without asking Microsoft Entra for one."""

    def __init__(self, configuration) -> None:
        self._configuration = configuration

    @property
    def configuration(self):
        return self._configuration

    async def get_access_token(self, resource_url, scopes, force_refresh=False) -> str:
        return "outgoing-token"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(key, *, aud: str = APP_ID, service_url: str = "", expires_in: int = 600) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://api.botframework.com",
        "aud": aud,
        "iat": now,
        "nbf": now,
        "exp": now + expires_in,
        "serviceurl": service_url,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


@pytest.fixture
async def signing_key(monkeypatch):
    """A key the validator trusts, served as the Bot Framework's JWKS from 127.0.0.1."""
    key = _key()
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}
    app = web.Application()
    app.router.add_get("/keys", lambda request: web.json_response(jwks))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    cache = JwtTokenValidator._jwk_client_manager._cache
    entry = _JwkClientCacheEntry(PyJWKClient(str(server.make_url("/keys"))), threading.Lock())
    monkeypatch.setitem(cache, AuthenticationConstants.PUBLIC_ABS_JWKS_URL, entry)
    yield key
    await server.close()


@pytest.fixture
async def secured(service, connector, signing_key):
    settings = TeamsSettings(client_id=APP_ID, client_secret="test-secret", tenant_id="tenant-1")
    connections = ConnectionManager(
        provider_factory=FakeTokenProvider,
        connections_configurations={"SERVICE_CONNECTION": settings.auth_configuration()},
    )
    bot = TeamsBot(service, settings, connections=connections)
    app = web.Application()
    bot.mount(app)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield Teams(client, bot, connector)
    await client.close()


async def test_requests_without_a_valid_token_are_rejected(secured, service):
    other_key = _key()  # right shape, wrong signer
    url = secured.connector.url
    attempts = {
        "no header": {},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "unsigned": {
            "Authorization": "Bearer "
            + jwt.encode({"iss": "https://api.botframework.com", "aud": APP_ID}, None, "none")
        },
        "wrong signer": {"Authorization": f"Bearer {token(other_key, service_url=url)}"},
        "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
    }
    for label, headers in attempts.items():
        response = await secured.post(
            secured.activity(text="propose Who owns churn here?"), headers
        )
        assert response.status == 401, label
    assert service.store.people() == []  # nothing reached the core
    assert secured.connector.calls == []


async def test_a_token_for_another_app_or_expired_is_rejected(secured, signing_key, service):
    url = secured.connector.url
    for bad in (
        token(signing_key, aud="someone-elses-bot", service_url=url),
        token(signing_key, service_url=url, expires_in=-3600),
    ):
        response = await secured.post(
            secured.activity(text="help"), {"Authorization": f"Bearer {bad}"}
        )
        assert response.status == 401
    assert service.store.people() == []


async def test_a_valid_token_is_served_and_the_reply_carries_the_bots_own_token(
    secured, signing_key, service
):
    good = token(signing_key, service_url=secured.connector.url)
    response = await secured.post(
        secured.activity(text="help"), {"Authorization": f"Bearer {good}"}
    )
    assert response.status == 202
    posts = [c for c in secured.connector.calls if c.method == "POST"]
    assert posts and all(c.headers["Authorization"] == "Bearer outgoing-token" for c in posts)
    assert service.store.person("teams", "tenant-1", "aad-u1") is not None


def test_half_a_configuration_is_an_error_not_anonymous():
    from bot.core.errors import ConfigError

    with pytest.raises(ConfigError, match="TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID"):
        TeamsSettings.from_env({"TEAMS_CLIENT_ID": APP_ID})
    with pytest.raises(ConfigError, match="TEAMS_CLIENT_ID"):
        TeamsSettings.from_env({"TEAMS_CLIENT_SECRET": "s"})
    full = TeamsSettings.from_env(
        {"TEAMS_CLIENT_ID": APP_ID, "TEAMS_CLIENT_SECRET": "s", "TEAMS_TENANT_ID": "t"}
    )
    assert not full.anonymous and not full.auth_configuration().ANONYMOUS_ALLOWED
    assert TeamsSettings.from_env({}).anonymous


def test_anonymous_mode_warns_loudly(caplog):
    TeamsSettings().auth_configuration()
    assert "WITHOUT AUTHENTICATION" in caplog.text


async def test_proactive_sends_with_credentials_carry_the_bots_token(secured, signing_key, service):
    good = token(signing_key, service_url=secured.connector.url)
    await secured.post(secured.activity(text="hello"), {"Authorization": f"Bearer {good}"})
    admin = service.store.add_person("test", "W", "A", "Ada", "executive", is_admin=True)
    round_ = service.start_round(admin)
    before = len(secured.connector.calls)
    report = await secured.bot.deliver_round(round_)
    assert report.sent == 1
    [post] = secured.connector.calls[before:]
    assert post.path.startswith("/v3/conversations/a:chat-u1/activities")
    assert post.headers["Authorization"] == "Bearer outgoing-token"


def test_teams_is_served_when_credentials_or_local_mode_are_set():
    from bot.adapters.teams import teams_configured

    assert teams_configured({"TEAMS_CLIENT_ID": APP_ID})
    assert teams_configured({"INTEGRITY_TEAMS": "1"})
    assert not teams_configured({})
    assert not teams_configured({"INTEGRITY_TEAMS": "0", "TEAMS_CLIENT_ID": ""})
