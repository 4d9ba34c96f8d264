"""Teams test rig: the bot on a real aiohttp server, and a local fake of the Teams
connector service (a real server on 127.0.0.1 that records every call), so the
SDK's outgoing requests are checked as Teams would receive them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.teams import TeamsBot, TeamsSettings, register

TENANT = "tenant-1"
BOT_ID = "28:integrity-bot"
_ids = itertools.count(1)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@dataclass
class Call:
    method: str
    path: str
    body: dict | bytes | None
    headers: dict
    refused: bool = False


@dataclass
class FakeConnector:
    """Records what the bot sends to Teams; answers like the connector service."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    #: Members of a team, by team id, for GET /v3/conversations/{id}/members.
    members: dict[str, list[dict]] = field(default_factory=dict)
    #: Refusals set with `refuse`, by conversation id: [status, posts left or None].
    refusals: dict[str, list] = field(default_factory=dict)

    def refuse(self, conversation: str, status: int = 403, times: int | None = None) -> None:
        """Answer the next `times` posts into a conversation (all of them if None) with
        HTTP `status`: 403 is what Teams answers a bot that may no longer post there (the
        person removed the app). Refused posts are in `calls`, but not in `messages`."""
        self.refusals[conversation] = [status, times]

    def messages(self, conversation: str | None = None) -> list[dict]:
        """The message activities posted, optionally into one conversation."""
        return [
            c.body
            for c in self.calls
            if c.method == "POST"
            and isinstance(c.body, dict)
            and c.body.get("type") == "message"
            and (conversation is None or f"/v3/conversations/{conversation}/" in c.path)
            and not c.refused
        ]

    def cards(self, conversation: str | None = None) -> list[dict]:
        return [
            a["content"]
            for m in self.messages(conversation)
            for a in m.get("attachments") or []
            if a["contentType"] == "application/vnd.microsoft.card.adaptive"
        ]

    def _refusal(self, conversation: str) -> int | None:
        refusal = self.refusals.get(conversation)
        if refusal is None:
            return None
        status, left = refusal
        if left is not None:
            refusal[1] -= 1
            if refusal[1] <= 0:
                del self.refusals[conversation]
        return status

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: dict | bytes | None = await request.json() if raw else None
        except ValueError:
            body = raw
        parts = request.path.strip("/").split("/")
        status = None
        if request.method == "POST" and parts[:2] == ["v3", "conversations"] and len(parts) > 2:
            status = self._refusal(parts[2])
        self.calls.append(
            Call(request.method, request.path, body, dict(request.headers), refused=bool(status))
        )
        if status:
            return web.json_response(
                {"error": {"code": "Refused", "message": "Refused by the test."}}, status=status
            )
        if request.method == "GET" and parts[-1] == "members":
            return web.json_response(self.members.get(parts[2], []))
        if request.method == "POST" and parts == ["v3", "conversations"]:
            # A new 1:1 chat with the one member asked for.
            return web.json_response({"id": f"a:personal-{body['members'][0]['id']}"})
        return web.json_response({"id": f"msg-{len(self.calls)}"})


@pytest.fixture
async def connector():
    fake = FakeConnector()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("/")).rstrip("/") + "/"
    yield fake
    await server.close()


@dataclass
class Teams:
    """The bot under test, served over HTTP, and helpers to talk to it like Teams does."""

    client: TestClient
    bot: TeamsBot
    connector: FakeConnector

    def activity(
        self,
        type_: str = "message",
        *,
        text: str | None = None,
        user: str = "u1",
        name: str = "Ann",
        conversation: str | None = None,
        conversation_type: str = "personal",
        id_: str | None = None,
        **extra,
    ) -> dict:
        body = {
            "type": type_,
            "id": id_ or f"act-{next(_ids)}",
            "channelId": "msteams",
            "serviceUrl": self.connector.url,
            "from": {"id": f"29:{user}", "name": name, "aadObjectId": f"aad-{user}"},
            "recipient": {"id": BOT_ID, "name": "Integrity Check"},
            "conversation": {
                "id": conversation or f"a:chat-{user}",
                "conversationType": conversation_type,
                "tenantId": TENANT,
            },
            "localTimezone": "Europe/London",
            **extra,
        }
        if text is not None:
            body["text"] = text
        return body

    async def post(self, body: dict, headers: dict | None = None):
        return await self.client.post("/api/messages", json=body, headers=headers or {})

    async def say(self, text: str, **kwargs) -> int:
        response = await self.post(self.activity(text=text, **kwargs))
        return response.status

    def card_action(self, verb: str, data: dict, **kwargs) -> dict:
        body = self.activity(
            "invoke",
            value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
            **kwargs,
        )
        body["name"] = "adaptiveCard/action"  # the invoke's name (`name=` is the person's)
        return body


@pytest.fixture
async def teams(service, connector):
    app = web.Application()
    bot = register(app, service, TeamsSettings())  # no credentials: anonymous, local only
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield Teams(client, bot, connector)
    await client.close()
