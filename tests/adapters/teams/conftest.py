"""Teams test rig: the bot on a real aiohttp server, and a local fake of the Teams
connector service (a real server on 127.0.0.1 that records every call), so the
SDK's outgoing requests are checked as Teams would receive them."""

from __future__ import annotations

import itertools
import secrets
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
    #: The query string, and the HTTP status the fake answered with.
    query: dict = field(default_factory=dict)
    status: int = 200


@dataclass
class FakeConnector:
    """Records what the bot sends to Teams; answers like the connector service."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    #: Members of a team, by team id, for GET /v3/conversations/{id}/pagedmembers (and
    #: the deprecated, non-paged GET /v3/conversations/{id}/members).
    members: dict[str, list[dict]] = field(default_factory=dict)
    #: Refusals set with `refuse`, by conversation id: [status, posts left or None].
    refusals: dict[str, list] = field(default_factory=dict)
    #: Roster reads to answer with 429 Too Many Requests, each with its Retry-After
    #: seconds, in order (set with `throttle`).
    throttled: list[int] = field(default_factory=list)
    #: Roster reads still served before the throttling starts.
    throttle_after: int = 0
    #: Continuation tokens handed out, each to (team id, where its next page starts).
    _pages: dict[str, tuple[str, int]] = field(default_factory=dict)

    def refuse(self, conversation: str, status: int = 403, times: int | None = None) -> None:
        """Answer the next `times` posts into a conversation (all of them if None) with
        HTTP `status`: 403 is what Teams answers a bot that may no longer post there (the
        person removed the app). Refused posts are in `calls`, but not in `messages`."""
        self.refusals[conversation] = [status, times]

    def throttle(self, *retry_after: int, after: int = 0) -> None:
        """Answer roster reads with 429, one for each Retry-After (seconds) given, as Teams
        does when a bot reads rosters too fast: starting once `after` more are served."""
        self.throttled.extend(retry_after)
        self.throttle_after = after

    def roster_reads(self) -> list[Call]:
        """The GETs of a team's members, paged or not, throttled ones included."""
        return [
            c
            for c in self.calls
            if c.method == "GET"
            and c.path.rsplit("/", 1)[-1].lower() in {"members", "pagedmembers"}
        ]

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
        call = Call(
            request.method, request.path, body, dict(request.headers), query=dict(request.query)
        )
        self.calls.append(call)
        response = self._answer(request, call)
        call.status = response.status
        return response

    def _answer(self, request: web.Request, call: Call) -> web.Response:
        body = call.body
        parts = request.path.strip("/").split("/")
        status = None
        if request.method == "POST" and parts[:2] == ["v3", "conversations"] and len(parts) > 2:
            status = self._refusal(parts[2])
        if status:
            call.refused = True
            return web.json_response(
                {"error": {"code": "Refused", "message": "Refused by the test."}}, status=status
            )
        if request.method == "GET" and parts[-1] == "members":
            return web.json_response(self.members.get(parts[2], []))
        if request.method == "GET" and parts[-1].lower() == "pagedmembers":
            return self._paged_members(parts[2], request.query)
        if request.method == "POST" and parts == ["v3", "conversations"]:
            # A new 1:1 chat with the one member asked for.
            return web.json_response({"id": f"a:personal-{body['members'][0]['id']}"})
        return web.json_response({"id": f"msg-{len(self.calls)}"})

    def _paged_members(self, team: str, query) -> web.Response:
        """One page of a team's roster, as Teams serves it: a page size below 50 counts as
        50 and one above 500 as 500 (200 if none is given); each page but the last carries
        an opaque continuation token for the next; an unknown token is a 400."""
        if self.throttled and self.throttle_after <= 0:
            wait = self.throttled.pop(0)
            return web.json_response(
                {"error": {"code": "TooManyRequests", "message": "Too many requests."}},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        try:
            size = min(max(int(query.get("pageSize", "200")), 50), 500)
        except ValueError:
            return web.json_response({"error": {"code": "BadArgument"}}, status=400)
        self.throttle_after -= 1
        start = 0
        token = query.get("continuationToken")
        if token:
            if self._pages.get(token, ("", 0))[0] != team:
                return web.json_response(
                    {"error": {"code": "BadArgument", "message": "Unknown token."}}, status=400
                )
            start = self._pages[token][1]
        roster = self.members.get(team, [])
        page: dict = {"members": roster[start : start + size]}
        if start + size < len(roster):
            token = secrets.token_urlsafe(12)
            self._pages[token] = (team, start + size)
            page["continuationToken"] = token
        return web.json_response(page)


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
        """Post an activity as Teams does, then wait for what the bot goes on doing after
        its answer (a summary, a team's 1:1 chats), as a person would wait to see it."""
        response = await self.client.post("/api/messages", json=body, headers=headers or {})
        await self.bot.settled()
        return response

    async def say(self, text: str, **kwargs) -> int:
        response = await self.post(self.activity(text=text, **kwargs))
        return response.status

    def install_in_team(self, team: str) -> dict:
        """The activity Teams sends when someone adds the bot to a team's channel."""
        return self.activity(
            "conversationUpdate",
            user="installer",
            conversation=team,
            conversation_type="channel",
            membersAdded=[{"id": BOT_ID}],
            channelData={"team": {"id": team}, "tenant": {"id": TENANT}},
        )

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
