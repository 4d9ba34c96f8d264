"""A fake Slack Web API: a real HTTP server on 127.0.0.1 for tests, with Socket Mode.

Nothing here reaches Slack. Tests point the real `slack_sdk` clients (and so Bolt) at
`FakeSlack.base_url`, the way bolt-python's tests use their mock Web API server, and then
look at what the app did: `.calls` (every request, in order), `.messages` per channel,
`.uploads`, `.responses` (response_url posts), `.home_views` and `.socket_acks`.

The fake runs its own event loop in a background thread, so sync `WebClient`s,
`AsyncWebClient`s and code in any other thread or loop can call it. It is strict where
real Slack is strict, because a lenient fake hides the bugs that matter:

- tokens are checked: none is `not_authed`, a wrong one `invalid_auth`, an app token on a
  bot method (or the reverse) `not_allowed_token_type`;
- posting to a user id lands in that person's DM, `D<user id>`, and the answer names that
  channel; every other method wants a real channel id, as Slack does;
- Block Kit limits (50 blocks a message, 100 a view, 3000 characters a section, 24 a
  modal title…) are enforced with Slack's error codes;
- `conversations.history` is newest first, exclusive of `oldest`/`latest` unless
  `inclusive`, shows metadata only with `include_all_metadata`, and pages with opaque
  cursors; `users.list` includes Slackbot and the app's own bot user;
- `rate_limit()` answers HTTP 429 with an integer `Retry-After`; `fail()` and `delay()`
  inject errors and slow answers. A delayed call takes effect at once and only its answer
  is late, so a client that gives up has still posted, as with a slow network.

Known simplifications: no multi-person DMs, file shares are not mirrored into channel
history, and JSON bodies are accepted for every method (real Slack takes JSON only for
write methods).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import WSMsgType, web

# Arguments Slack accepts as JSON strings in form bodies; parsed so tests see objects.
JSON_STRING_ARGS = ("attachments", "blocks", "files", "metadata", "view")
SCOPES = (
    "chat:write,chat:write.public,commands,im:write,im:history,channels:read,groups:read,"
    "channels:history,users:read,usergroups:read,files:write"
)
BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "table",
    "video",
}
MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
TEXT_LIMIT = 40_000
RESPONSE_URL_USES = 5  # Slack lets an app use a response_url five times
#: The name `delay` and `.responses` know posts to a response_url by.
RESPONSE_URL = "response_url"


@dataclass
class Call:
    """One request to the Web API, as the fake received it and how it answered."""

    method: str
    args: dict
    token: str | None
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    error: str | None = None  # Slack's error code when the answer was {"ok": false}


class SlackError(Exception):
    """An API error: HTTP 200 with {"ok": false, "error": code}, like Slack."""

    def __init__(self, code: str, messages: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.messages = messages or []

    def body(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error": self.code}
        if self.messages:
            body["errors"] = self.messages
            body["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in self.messages]}
        return body


@dataclass
class _Bucket:
    per_second: float
    burst: int
    per_channel: bool
    retry_after: int
    tokens: dict[str, float] = field(default_factory=dict)
    stamps: dict[str, float] = field(default_factory=dict)

    def ready(self, key: str) -> bool:
        """Refill `key`'s bucket to now; True if it holds a token to take."""
        now = time.monotonic()
        tokens = self.tokens.get(key, float(self.burst))
        tokens = min(
            float(self.burst), tokens + (now - self.stamps.get(key, now)) * self.per_second
        )
        self.stamps[key] = now
        self.tokens[key] = tokens
        return tokens >= 1

    def take(self, key: str) -> None:
        self.tokens[key] -= 1


_METHODS: dict[str, tuple[str, Callable[[FakeSlack, dict], dict]]] = {}


def _api(name: str, token: str = "bot") -> Callable:
    """Register a handler for Web API method `name`, called with the token kind it needs."""

    def register(handler: Callable[[FakeSlack, dict], dict]) -> Callable:
        _METHODS[name] = (token, handler)
        return handler

    return register


class FakeSlack:
    """One Slack workspace's Web API and Socket Mode endpoint, on 127.0.0.1."""

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
    ) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = "B0FAKEBOT"
        self.app_id = "A0FAKEAPP"
        self.bot_token = bot_token
        self.app_token = app_token
        self.root = ""
        self.base_url = ""
        self.clock: Callable[[], float] = time.time  # message ts come from here
        self.calls: list[Call] = []
        self.rate_limited: list[Call] = []
        self.users: dict[str, dict] = {}
        self.channels: dict[str, dict] = {}
        self.usergroups: dict[str, dict] = {}
        self.messages: dict[str, list[dict]] = {}
        self.ephemerals: list[dict] = []
        self.uploads: list[dict] = []
        self.responses: list[dict] = []
        self.views: dict[str, dict] = {}
        self.home_views: dict[str, dict] = {}
        self.socket_acks: list[dict] = []
        self._buckets: dict[tuple[str, bool], _Bucket] = {}  # (method, per_channel)
        self._faults: dict[str, list[tuple[int, str | None]]] = {}
        self._delays: dict[str, list[float]] = {}
        self._pending_files: dict[str, dict] = {}
        # response_url number → [uses, the message it came from (channel, ts) or None]
        self._response_urls: dict[str, list] = {}
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._ids = itertools.count(1)
        self._last_ts = Decimal(0)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.add_user(
            "USLACKBOT", "slackbot", real_name="Slackbot", tz="America/Los_Angeles"
        )  # real Slack lists Slackbot as a person (is_bot false); apps must skip it
        self.add_user(bot_user_id, "integrity_check", real_name="Integrity Check", is_bot=True)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Serve on a free port from a background thread; returns self."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-slack", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/response/{n}", self._handle_response_url)
        app.router.add_get("/link/", self._handle_socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.root = f"http://{host}:{port}"
        self.base_url = f"{self.root}/api/"

    def stop(self) -> None:
        """Close Socket Mode connections, stop serving and end the thread."""
        if self._loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            for socket in list(self._sockets):
                await socket.close(code=1001, message=b"server shutting down")
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- seeding the workspace -----------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        tz: str = "Europe/London",
        is_bot: bool = False,
        deleted: bool = False,
        real_name: str | None = None,
        is_restricted: bool = False,
    ) -> dict:
        """Add (or replace) a member of the workspace; returns Slack's user object."""
        real_name = real_name or name
        try:
            zone = ZoneInfo(tz)
            offset = int(datetime.now(zone).utcoffset().total_seconds())
            label = datetime.now(zone).tzname()
        except (ZoneInfoNotFoundError, ValueError):
            offset, label = 0, "UTC"
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": deleted,
            "is_bot": is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": False,
            "tz": tz,
            "tz_label": label,
            "tz_offset": offset,
            "updated": int(time.time()),
            "profile": {
                "real_name": real_name,
                "real_name_normalized": real_name,
                "display_name": name,
                "display_name_normalized": name,
                "team": self.team_id,
            },
        }
        if is_bot:
            user["profile"]["bot_id"] = self.bot_id if user_id == self.bot_user_id else "B0OTHER"
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(
        self, channel_id: str, name: str, members: list[str], *, bot_invited: bool = True
    ) -> None:
        """Add a public (C…) or private (G…) channel with these members. Without
        `bot_invited` the app is not in it, and posting there fails as on Slack (the app
        asks for no `chat:write.public`): `not_in_channel`, or `channel_not_found` if private."""
        with self._lock:
            self.channels[channel_id] = {
                "id": channel_id,
                "name": name,
                "members": list(members),
                "is_private": channel_id.startswith("G"),
                "created": int(time.time()),
                "bot_invited": bot_invited,
            }

    def add_usergroup(self, usergroup_id: str, handle: str, users: list[str]) -> None:
        with self._lock:
            self.usergroups[usergroup_id] = {
                "id": usergroup_id,
                "handle": handle,
                "users": list(users),
            }

    def response_url(self, channel: str | None = None, ts: str | None = None) -> str:
        """A fresh response_url on this server; JSON posted to it lands in `.responses`. One
        from a click on a message (`channel`, `ts`) can also replace or delete that message
        (`replace_original`, `delete_original`), as on Slack."""
        n = str(next(self._ids))
        with self._lock:
            self._response_urls[n] = [0, (channel, ts) if channel and ts else None]
        return f"{self.root}/response/{n}"

    # -- looking at what happened --------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5) -> Any:
        """Poll `predicate()` until it is truthy and return its value; fail the test if not."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {predicate!r}")
            time.sleep(0.01)

    async def wait_for_async(self, predicate: Callable[[], Any], timeout: float = 5) -> Any:
        """`wait_for` for async tests: yields to the caller's loop between polls."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {predicate!r}")
            await asyncio.sleep(0.01)

    # -- rate limits and faults ----------------------------------------------------------

    def rate_limit(
        self,
        method: str,
        *,
        per_second: float,
        burst: int = 1,
        per_channel: bool = False,
        retry_after: int = 1,
    ) -> None:
        """Put a token bucket on `method`; calls over it get HTTP 429 with Retry-After.

        A workspace-wide and a per-channel bucket can both be on one method, as on Slack
        (`chat.postMessage`: a workspace budget and about one a second per channel); a call
        passes only if every bucket has a token, and a refused call takes none."""
        with self._lock:
            self._buckets[(method, per_channel)] = _Bucket(
                per_second, burst, per_channel, int(retry_after)
            )

    def fail(
        self, method: str, *, status: int = 500, times: int = 1, error: str | None = None
    ) -> None:
        """The next `times` calls get HTTP `status`, or with `error` HTTP 200 and that code."""
        with self._lock:
            self._faults.setdefault(method, []).extend([(status, error)] * times)

    def delay(self, method: str, *, seconds: float, times: int = 1) -> None:
        """The next `times` calls take effect at once but are answered `seconds` later
        (`method` may be `RESPONSE_URL`: posts to any response_url)."""
        with self._lock:
            self._delays.setdefault(method, []).extend([seconds] * times)

    # -- Socket Mode ---------------------------------------------------------------------

    def wait_for_socket(self, timeout: float = 5) -> int:
        """Wait until a Socket Mode client is connected; returns how many are."""
        return self.wait_for(lambda: len(self._sockets), timeout)

    def socket_send(self, envelope: dict) -> str:
        """Push an envelope to the newest connection (Slack picks one); returns its id."""
        envelope = {"envelope_id": str(uuid.uuid4()), **envelope}
        envelope.setdefault("accepts_response_payload", envelope.get("type") != "events_api")
        if envelope.get("type") == "events_api":
            envelope.setdefault("retry_attempt", 0)
            envelope.setdefault("retry_reason", "")
        self._send_to_sockets(envelope, everyone=False)
        return envelope["envelope_id"]

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask connected clients to reconnect, as Slack does every few hours."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        self._send_to_sockets(message, everyone=True)

    def _send_to_sockets(self, message: dict, *, everyone: bool) -> None:
        if not self._sockets:
            raise AssertionError("no Socket Mode client is connected; wait_for_socket() first")

        async def send() -> None:
            targets = list(self._sockets) if everyone else self._sockets[-1:]
            for socket in targets:
                await socket.send_str(json.dumps(message))

        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(send(), self._loop).result(timeout=5)

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            known = request.query.get("ticket") in self._tickets
        if not known:
            return web.Response(status=401, text="invalid ticket")
        socket = web.WebSocketResponse()  # answers the client's pings with pongs
        await socket.prepare(request)
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets) + 1,
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        await socket.send_str(json.dumps(hello))
        self._sockets.append(socket)
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    ack = json.loads(message.data)
                except json.JSONDecodeError:
                    ack = {"raw": message.data}
                with self._lock:
                    self.socket_acks.append(ack)
        finally:
            self._sockets.remove(socket)
        return socket

    # -- HTTP plumbing -------------------------------------------------------------------

    async def _read_args(self, request: web.Request) -> tuple[dict, str | None]:
        """Merge query, form or JSON body into one dict; returns it and any form token."""
        args: dict[str, Any] = dict(request.query)
        token = args.pop("token", None)
        if request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = json.loads(await request.read() or b"{}")
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise SlackError("invalid_json") from None
                if isinstance(body, dict):
                    body.pop("token", None)  # Slack ignores tokens inside JSON bodies
                    args.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    args[key] = value if isinstance(value, str) else value.file.read()
                token = args.pop("token", None) or token
        for key in JSON_STRING_ARGS:
            if isinstance(args.get(key), str):
                # Malformed JSON stays a string, and the method reports it as Slack would.
                with contextlib.suppress(json.JSONDecodeError):
                    args[key] = json.loads(args[key])
        return args, token

    def _answer(self, call: Call, body: dict, status: int = 200, headers=None) -> web.Response:
        call.status = status
        call.error = None if body.get("ok") else body.get("error")
        headers = {"x-oauth-scopes": SCOPES, "x-slack-req-id": uuid.uuid4().hex, **(headers or {})}
        return web.json_response(body, status=status, headers=headers)

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        header = request.headers.get("Authorization", "")
        try:
            args, form_token = await self._read_args(request)
            error = None
        except SlackError as bad:
            args, form_token, error = {}, None, bad
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
        call = Call(method, args, token or form_token)
        with self._lock:
            response = self._dispatch(call, error)
            if response.status != 429:
                self.calls.append(call)
            delays = self._delays.get(method)
            pause = delays.pop(0) if delays else 0.0
        if pause:
            await asyncio.sleep(pause)
        return response

    def _dispatch(self, call: Call, parse_error: SlackError | None) -> web.Response:
        """Answer one call (lock held): rate limit, injected fault, auth, then the method."""
        buckets = [
            (bucket, self._bucket_key(call.args) if per_channel else "")
            for (method, per_channel), bucket in self._buckets.items()
            if method == call.method
        ]
        empty = [bucket for bucket, key in buckets if not bucket.ready(key)]
        if empty:
            self.rate_limited.append(call)
            return self._answer(
                call,
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(max(b.retry_after for b in empty))},
            )
        for bucket, key in buckets:
            bucket.take(key)
        faults = self._faults.get(call.method)
        if faults:
            status, error = faults.pop(0)
            if error:
                return self._answer(call, {"ok": False, "error": error})
            code = {503: "service_unavailable", 504: "request_timeout"}.get(status, "fatal_error")
            return self._answer(call, {"ok": False, "error": code}, status=status)
        if parse_error is not None:
            return self._answer(call, parse_error.body())
        if call.method not in _METHODS:
            return self._answer(
                call, {"ok": False, "error": "unknown_method", "req_method": call.method}
            )
        kind, handler = _METHODS[call.method]
        if not call.token:
            return self._answer(call, {"ok": False, "error": "not_authed"})
        if call.token not in (self.bot_token, self.app_token):
            return self._answer(call, {"ok": False, "error": "invalid_auth"})
        if call.token != (self.app_token if kind == "app" else self.bot_token):
            return self._answer(call, {"ok": False, "error": "not_allowed_token_type"})
        try:
            return self._answer(call, {"ok": True, **handler(self, call.args)})
        except SlackError as error:
            return self._answer(call, error.body())

    def _bucket_key(self, args: dict) -> str:
        channel = str(args.get("channel") or args.get("channel_id") or "")
        return "D" + channel if channel.startswith(("U", "W")) else channel

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """The upload URL: raw bytes (as slack_sdk sends) or a multipart `file` part."""
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            part = form.get("file") or next(iter(form.values()), b"")
            content = part.encode() if isinstance(part, str) else part.file.read()
        else:
            content = await request.read()
        with self._lock:
            pending = self._pending_files.get(request.match_info["file_id"])
            if pending is None:
                return web.Response(status=404, text="unknown upload")
            pending["content"] = content
        return web.Response(text=f"OK - {len(content)}")

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        raw = await request.read()
        n = request.match_info["n"]
        with self._lock:
            known = self._response_urls.get(n)
            if known is None:
                return web.Response(status=404, text="no_service")
            uses, origin = known
            if uses >= RESPONSE_URL_USES:
                return web.Response(status=404, text="used_url")
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return web.Response(status=400, text="invalid_payload")
            if not isinstance(body, dict):
                return web.Response(status=400, text="invalid_payload")
            replace, delete = (
                str(body.get(key)).lower() == "true"
                for key in ("replace_original", "delete_original")
            )
            if (replace or delete) and origin is None:
                return web.Response(status=404, text="message_not_found")
            if replace and not (body.get("text") or body.get("blocks")):
                return web.Response(status=400, text="no_text")
            known[0] = uses + 1
            self.responses.append(body)
            if replace or delete:
                channel, ts = origin
                message = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
                if message is None:
                    return web.Response(status=404, text="message_not_found")
                if delete:
                    self.messages[channel].remove(message)
                else:  # the message's content is replaced; what the app attached stays
                    message["text"] = str(body.get("text") or "")
                    message["blocks"] = body.get("blocks") or []
                    message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            delays = self._delays.get(RESPONSE_URL)
            pause = delays.pop(0) if delays else 0.0
        if pause:
            await asyncio.sleep(pause)
        return web.Response(text="ok")

    # -- helpers the methods share (lock held) --------------------------------------------

    def _next_ts(self) -> str:
        """Slack's message ids: epoch time to the microsecond, unique and increasing."""
        now = Decimal(f"{self.clock():.6f}")
        self._last_ts = max(now, self._last_ts + Decimal("0.000001"))
        return f"{self._last_ts:.6f}"

    def _user(self, user_id: Any) -> dict:
        user = self.users.get(str(user_id or ""))
        if user is None:
            raise SlackError("user_not_found")
        return user

    def _im(self, user_id: str) -> dict:
        channel_id = "D" + user_id
        if channel_id not in self.channels:
            self.channels[channel_id] = {
                "id": channel_id,
                "is_im": True,
                "user": user_id,
                "members": [user_id, self.bot_user_id],
                "created": int(time.time()),
            }
        return self.channels[channel_id]

    def _channel(self, channel: Any, *, user_ids: bool = False) -> dict:
        """The conversation `channel` names; user ids only where Slack takes them."""
        channel = str(channel or "")
        if user_ids and channel.startswith(("U", "W")) and channel in self.users:
            if self.users[channel]["is_bot"]:
                raise SlackError("cannot_dm_bot")
            return self._im(channel)
        if channel.startswith("D") and channel[1:] in self.users:
            return self._im(channel[1:])
        if user_ids and channel.startswith("#"):
            for found in self.channels.values():
                if found.get("name") == channel[1:]:
                    return found
        if channel in self.channels:
            return self.channels[channel]
        raise SlackError("channel_not_found")

    def _find(self, channel_id: str, ts: Any) -> dict:
        for message in self.messages.get(channel_id, []):
            if message["ts"] == str(ts):
                return message
        raise SlackError("message_not_found")

    def _public(self, message: dict, *, metadata: bool) -> dict:
        """A stored message as Slack's read methods show it."""
        shown = {
            k: v
            for k, v in message.items()
            if v is not None and k not in ("metadata", "blocks", "replies")
        }
        shown["blocks"] = message["blocks"] or _rich_text(message["text"])
        if metadata and message.get("metadata"):
            shown["metadata"] = message["metadata"]
        replies = message.get("replies")
        if replies:
            shown.update(
                thread_ts=message["ts"],
                reply_count=len(replies),
                reply_users=[self.bot_user_id],
                reply_users_count=1,
                latest_reply=replies[-1],
            )
        return shown

    def _page(self, items: list, args: dict, kind: str, default_limit: int) -> dict:
        """One page of `items` with Slack's opaque cursors and response_metadata."""
        try:
            limit = int(args.get("limit") or 0) or default_limit or len(items) or 1
        except ValueError:
            raise SlackError("invalid_limit") from None
        start = 0
        if args.get("cursor"):
            try:
                prefix, offset = base64.b64decode(str(args["cursor"])).decode().split(":")
                start = int(offset)
            except (ValueError, UnicodeDecodeError):
                raise SlackError("invalid_cursor") from None
            if prefix != kind:
                raise SlackError("invalid_cursor")
        end = start + limit
        more = end < len(items)
        cursor = base64.b64encode(f"{kind}:{end}".encode()).decode() if more else ""
        return {
            "page": items[start:end],
            "has_more": more,
            "response_metadata": {"next_cursor": cursor},
        }

    def _check_message(self, args: dict, *, needs_content: bool) -> None:
        text = args.get("text")
        if needs_content and not (text or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        if text is not None and len(str(text)) > TEXT_LIMIT:
            raise SlackError("msg_too_long")
        if "blocks" in args:
            _check_blocks(args["blocks"], MESSAGE_BLOCK_LIMIT)
        metadata = args.get("metadata")
        if metadata not in (None, {}) and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_format")

    def _view(self, args: dict, *, previous: dict | None = None) -> dict:
        view = args.get("view")
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise SlackError(
                "invalid_arguments", ["must provide a valid view [json-pointer:/view]"]
            )
        _check_view(view)
        view_id = previous["id"] if previous else f"V{next(self._ids):08d}"
        shown = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.{next(self._ids)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }
        for key in ("title", "submit", "close"):
            if key in view:
                shown[key] = view[key]
        self.views[view_id] = shown
        return shown


# -- Web API methods ----------------------------------------------------------------------


@_api("auth.test")
def _auth_test(fake: FakeSlack, args: dict) -> dict:
    return {
        "url": "https://integrity-fake.slack.com/",
        "team": "Integrity Fake",
        "user": fake.users[fake.bot_user_id]["name"],
        "team_id": fake.team_id,
        "user_id": fake.bot_user_id,
        "bot_id": fake.bot_id,
        "is_enterprise_install": False,
    }


@_api("chat.postMessage")
def _chat_post_message(fake: FakeSlack, args: dict) -> dict:
    channel = fake._channel(args.get("channel"), user_ids=True)
    if not channel.get("bot_invited", True):
        raise SlackError("channel_not_found" if channel["is_private"] else "not_in_channel")
    fake._check_message(args, needs_content=True)
    thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
    parent = fake._find(channel["id"], thread_ts) if thread_ts else None
    message = {
        "type": "message",
        "user": fake.bot_user_id,
        "bot_id": fake.bot_id,
        "app_id": fake.app_id,
        "team": fake.team_id,
        "ts": fake._next_ts(),
        "text": str(args.get("text") or ""),
        "blocks": args.get("blocks") or [],
        "metadata": args.get("metadata") or None,
        "thread_ts": thread_ts,
    }
    if parent is not None:
        parent.setdefault("replies", []).append(message["ts"])
        message["parent_user_id"] = parent["user"]
        if str(args.get("reply_broadcast", "")).lower() in ("1", "true"):
            message["subtype"] = "thread_broadcast"
    fake.messages.setdefault(channel["id"], []).append(message)
    return {
        "channel": channel["id"],
        "ts": message["ts"],
        "message": fake._public(message, metadata=True),
    }


@_api("chat.update")
def _chat_update(fake: FakeSlack, args: dict) -> dict:
    channel = fake._channel(args.get("channel"))
    message = fake._find(channel["id"], args.get("ts"))
    fake._check_message(args, needs_content=False)
    # Slack keeps what an update leaves out; an empty list or object clears it.
    if "text" in args:
        message["text"] = str(args["text"] or "")
    if "blocks" in args:
        message["blocks"] = args["blocks"] or []
    if "metadata" in args:
        message["metadata"] = args["metadata"] or None
    message["edited"] = {"user": fake.bot_user_id, "ts": fake._next_ts()}
    return {
        "channel": channel["id"],
        "ts": message["ts"],
        "text": message["text"],
        "message": fake._public(message, metadata=True),
    }


@_api("chat.delete")
def _chat_delete(fake: FakeSlack, args: dict) -> dict:
    channel = fake._channel(args.get("channel"))
    message = fake._find(channel["id"], args.get("ts"))
    fake.messages[channel["id"]].remove(message)
    return {"channel": channel["id"], "ts": message["ts"]}


@_api("chat.postEphemeral")
def _chat_post_ephemeral(fake: FakeSlack, args: dict) -> dict:
    channel = fake._channel(args.get("channel"))
    user = fake._user(args.get("user"))
    if user["id"] not in channel["members"]:
        raise SlackError("user_not_in_channel")
    fake._check_message(args, needs_content=True)
    ts = fake._next_ts()
    fake.ephemerals.append(
        {
            "channel": channel["id"],
            "user": user["id"],
            "text": str(args.get("text") or ""),
            "blocks": args.get("blocks") or [],
            "thread_ts": args.get("thread_ts"),
            "message_ts": ts,
        }
    )
    return {"message_ts": ts}


@_api("conversations.open")
def _conversations_open(fake: FakeSlack, args: dict) -> dict:
    if args.get("channel"):
        channel = fake._channel(args["channel"])
        return {"channel": {"id": channel["id"]}, "no_op": True, "already_open": True}
    users = [u for u in str(args.get("users") or "").split(",") if u]
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 1:
        raise SlackError("not_supported_by_fake_multi_person_dm")
    user = fake._user(users[0])
    if user["is_bot"]:
        raise SlackError("cannot_dm_bot")
    if user["deleted"]:
        raise SlackError("user_disabled")
    existed = "D" + user["id"] in fake.channels
    channel = fake._im(user["id"])
    answer: dict[str, Any] = {"channel": {"id": channel["id"]}}
    if existed:
        answer.update(no_op=True, already_open=True)
    return answer


def _ts_key(value: Any, default: Decimal, name: str) -> Decimal:
    if value in (None, ""):
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise SlackError(f"invalid_ts_{name}") from None


@_api("conversations.history")
def _conversations_history(fake: FakeSlack, args: dict) -> dict:
    channel = fake._channel(args.get("channel"))
    oldest = _ts_key(args.get("oldest"), Decimal(0), "oldest")
    latest = _ts_key(args.get("latest"), Decimal("1e12"), "latest")
    inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
    metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")

    def in_window(ts: str) -> bool:
        value = Decimal(ts)
        if inclusive:
            return oldest <= value <= latest
        return oldest < value < latest

    found = [
        fake._public(m, metadata=metadata)
        for m in reversed(fake.messages.get(channel["id"], []))
        if in_window(m["ts"]) and (not m["thread_ts"] or m.get("subtype") == "thread_broadcast")
    ]
    page = fake._page(found, args, "history", 100)
    return {
        "messages": page["page"],
        "has_more": page["has_more"],
        "pin_count": 0,
        "response_metadata": page["response_metadata"],
    }


@_api("conversations.replies")
def _conversations_replies(fake: FakeSlack, args: dict) -> dict:
    channel = fake._channel(args.get("channel"))
    try:
        message = fake._find(channel["id"], args.get("ts"))
    except SlackError:
        raise SlackError("thread_not_found") from None
    metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
    if message["thread_ts"]:  # a reply's ts shows just that reply, as Slack does
        thread = [message]
    else:
        replies = [m for m in fake.messages[channel["id"]] if m["thread_ts"] == message["ts"]]
        thread = [message, *replies]
    page = fake._page([fake._public(m, metadata=metadata) for m in thread], args, "replies", 1000)
    return {
        "messages": page["page"],
        "has_more": page["has_more"],
        "response_metadata": page["response_metadata"],
    }


@_api("conversations.members")
def _conversations_members(fake: FakeSlack, args: dict) -> dict:
    channel = fake._channel(args.get("channel"))
    page = fake._page(list(channel["members"]), args, "members", 100)
    return {"members": page["page"], "response_metadata": page["response_metadata"]}


@_api("conversations.info")
def _conversations_info(fake: FakeSlack, args: dict) -> dict:
    channel = fake._channel(args.get("channel"))
    if channel.get("is_im"):
        shown = {"id": channel["id"], "is_im": True, "user": channel["user"], "is_open": True}
    else:
        shown = {
            "id": channel["id"],
            "name": channel["name"],
            "is_channel": not channel["is_private"],
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel["is_private"],
            "is_archived": False,
            "is_general": False,
            "is_member": fake.bot_user_id in channel["members"],
            "created": channel["created"],
        }
        if str(args.get("include_num_members", "")).lower() in ("1", "true"):
            shown["num_members"] = len(channel["members"])
    return {"channel": shown}


@_api("users.list")
def _users_list(fake: FakeSlack, args: dict) -> dict:
    page = fake._page(list(fake.users.values()), args, "user", 0)
    return {
        "members": page["page"],
        "cache_ts": int(time.time()),
        "response_metadata": page["response_metadata"],
    }


@_api("users.info")
def _users_info(fake: FakeSlack, args: dict) -> dict:
    return {"user": fake._user(args.get("user"))}


@_api("usergroups.users.list")
def _usergroups_users_list(fake: FakeSlack, args: dict) -> dict:
    group = fake.usergroups.get(str(args.get("usergroup") or ""))
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group["users"])}


@_api("views.open")
def _views_open(fake: FakeSlack, args: dict) -> dict:
    if not args.get("trigger_id"):
        raise SlackError("invalid_arguments", ["missing required field: trigger_id"])
    return {"view": fake._view(args)}


@_api("views.push")
def _views_push(fake: FakeSlack, args: dict) -> dict:
    return _views_open(fake, args)


@_api("views.update")
def _views_update(fake: FakeSlack, args: dict) -> dict:
    previous = fake.views.get(str(args.get("view_id") or ""))
    if previous is None and args.get("external_id"):
        matches = [v for v in fake.views.values() if v["external_id"] == args["external_id"]]
        previous = matches[-1] if matches else None
    if previous is None:
        raise SlackError("not_found")
    if args.get("hash") and args["hash"] != previous["hash"]:
        raise SlackError("hash_conflict")
    return {"view": fake._view(args, previous=previous)}


@_api("views.publish")
def _views_publish(fake: FakeSlack, args: dict) -> dict:
    user = fake._user(args.get("user_id"))
    if not isinstance(args.get("view"), dict) or args["view"].get("type") != "home":
        raise SlackError("invalid_arguments", ["views.publish takes a home view"])
    previous = fake.home_views.get(user["id"])
    if previous and args.get("hash") and args["hash"] != previous["hash"]:
        raise SlackError("hash_conflict")
    view = fake._view(args, previous=previous)
    fake.home_views[user["id"]] = view
    return {"view": view}


@_api("files.getUploadURLExternal")
def _files_get_upload_url_external(fake: FakeSlack, args: dict) -> dict:
    if not args.get("filename") or args.get("length") in (None, ""):
        raise SlackError("invalid_arguments", ["filename and length are required"])
    file_id = f"F{next(fake._ids):08d}"
    fake._pending_files[file_id] = {
        "file_id": file_id,
        "filename": str(args["filename"]),
        "length": int(args["length"]),
        "content": None,
    }
    return {"upload_url": f"{fake.root}/upload/{file_id}", "file_id": file_id}


@_api("files.completeUploadExternal")
def _files_complete_upload_external(fake: FakeSlack, args: dict) -> dict:
    files = args.get("files")
    if not isinstance(files, list) or not files:
        raise SlackError("invalid_arguments", ["files must be a JSON list of {id, title}"])
    channels = [c for c in str(args.get("channels") or "").split(",") if c]
    channel_id = args.get("channel_id") or (channels[0] if channels else None)
    if channel_id:
        channel_id = fake._channel(channel_id)["id"]
    for item in files:
        pending = fake._pending_files.get(str(item.get("id")))
        if pending is None or pending["content"] is None:
            raise SlackError("file_not_found")
    done = []
    for item in files:
        pending = fake._pending_files.pop(str(item["id"]))
        upload = {
            **pending,
            "title": item.get("title") or pending["filename"],
            "channel_id": channel_id,
            "initial_comment": args.get("initial_comment"),
            "thread_ts": args.get("thread_ts"),
        }
        fake.uploads.append(upload)
        done.append(
            {
                "id": upload["file_id"],
                "name": upload["filename"],
                "title": upload["title"],
                "size": len(upload["content"]),
                "user": fake.bot_user_id,
                "created": int(time.time()),
            }
        )
    return {"files": done}


@_api("files.info")
def _files_info(fake: FakeSlack, args: dict) -> dict:
    for upload in fake.uploads:
        if upload["file_id"] == args.get("file"):
            return {
                "file": {
                    "id": upload["file_id"],
                    "name": upload["filename"],
                    "title": upload["title"],
                    "size": len(upload["content"]),
                }
            }
    raise SlackError("file_not_found")


@_api("files.upload")
def _files_upload(fake: FakeSlack, args: dict) -> dict:
    raise SlackError("method_deprecated")  # retired by Slack; use files_upload_v2


@_api("apps.connections.open", token="app")
def _apps_connections_open(fake: FakeSlack, args: dict) -> dict:
    ticket = uuid.uuid4().hex
    fake._tickets.add(ticket)
    host = fake.root.removeprefix("http://")
    return {"url": f"ws://{host}/link/?ticket={ticket}&app_id={fake.app_id}"}


# -- Block Kit checks ---------------------------------------------------------------------


def _rich_text(text: str) -> list[dict]:
    """The blocks Slack builds for a text-only message."""
    if not text:
        return []
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": "fake", "elements": [section]}]


def _too_long(value: Any, limit: int, pointer: str, problems: list[str]) -> None:
    if isinstance(value, str) and len(value) > limit:
        problems.append(f"must be less than {limit + 1} characters [json-pointer:{pointer}]")


def _check_text(obj: Any, limit: int, pointer: str, problems: list[str], plain=False) -> None:
    kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        problems.append(f"must provide a {' or '.join(kinds)} text object [json-pointer:{pointer}]")
        return
    if not isinstance(obj.get("text"), str) or not obj["text"]:
        problems.append(f"must be more than 0 characters [json-pointer:{pointer}/text]")
        return
    _too_long(obj["text"], limit, f"{pointer}/text", problems)


def _check_element(element: Any, pointer: str, problems: list[str]) -> None:
    if not isinstance(element, dict) or "type" not in element:
        problems.append(f"must provide an object [json-pointer:{pointer}]")
        return
    _too_long(element.get("action_id"), 255, f"{pointer}/action_id", problems)
    if element["type"] == "button":
        _check_text(element.get("text"), 75, f"{pointer}/text", problems, plain=True)
        _too_long(element.get("value"), 2000, f"{pointer}/value", problems)
        _too_long(element.get("url"), 3000, f"{pointer}/url", problems)


def _block_problems(blocks: Any, limit: int) -> list[str]:
    if not isinstance(blocks, list):
        return ["must provide an array [json-pointer:/blocks]"]
    if len(blocks) > limit:
        return [f"no more than {limit} items allowed [json-pointer:/blocks]"]
    problems: list[str] = []
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            kind = block.get("type") if isinstance(block, dict) else block
            problems.append(f"unsupported type: {kind} [json-pointer:{at}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            _too_long(block_id, 255, f"{at}/block_id", problems)
            if block_id in block_ids:
                problems.append(f"duplicate block_id {block_id} [json-pointer:{at}/block_id]")
            block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"must provide text or fields [json-pointer:{at}]")
            if "text" in block:
                _check_text(block["text"], 3000, f"{at}/text", problems)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"no more than 10 items allowed [json-pointer:{at}/fields]")
            for j, item in enumerate(fields):
                _check_text(item, 2000, f"{at}/fields/{j}", problems)
            if "accessory" in block:
                _check_element(block["accessory"], f"{at}/accessory", problems)
        elif kind == "header":
            _check_text(block.get("text"), 150, f"{at}/text", problems, plain=True)
        elif kind in ("actions", "context"):
            elements = block.get("elements") or []
            most = 25 if kind == "actions" else 10
            if not 0 < len(elements) <= most:
                problems.append(f"must have 1 to {most} items [json-pointer:{at}/elements]")
            if kind == "actions":
                for j, element in enumerate(elements):
                    _check_element(element, f"{at}/elements/{j}", problems)
        elif kind == "input":
            _check_text(block.get("label"), 2000, f"{at}/label", problems, plain=True)
            if "element" not in block:
                problems.append(f"must provide an element [json-pointer:{at}/element]")
    return problems


def _check_blocks(blocks: Any, limit: int) -> None:
    problems = _block_problems(blocks, limit)
    if problems:
        code = "invalid_blocks_format" if not isinstance(blocks, list) else "invalid_blocks"
        raise SlackError(code, problems)


def _check_view(view: dict) -> None:
    problems = [
        p.replace("json-pointer:/", "json-pointer:/view/")
        for p in _block_problems(view.get("blocks", []), VIEW_BLOCK_LIMIT)
    ]
    if view["type"] == "modal":
        if "title" not in view:
            problems.append("must provide a title [json-pointer:/view/title]")
        for key in ("title", "submit", "close"):
            if key in view:
                _check_text(view[key], 24, f"/view/{key}", problems, plain=True)
        blocks = view.get("blocks", [])
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and "submit" not in view:
            problems.append(
                "must provide submit when an input block is present [json-pointer:/view]"
            )
    _too_long(view.get("private_metadata"), 3000, "/view/private_metadata", problems)
    _too_long(view.get("callback_id"), 255, "/view/callback_id", problems)
    _too_long(view.get("external_id"), 255, "/view/external_id", problems)
    if problems:
        raise SlackError("invalid_arguments", problems)
