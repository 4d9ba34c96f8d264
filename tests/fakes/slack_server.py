"""A fake Slack Web API server: a real HTTP server on 127.0.0.1, for tests and benchmarks.

No machine here reaches Slack, so the app's `WebClient`s point their `base_url`
at this server instead, as bolt-python's own tests do with their mock server. It
answers the methods the app calls with Slack's response shapes, keeps a small
workspace (users, channels, user groups, messages, uploads, App Home views), and
records every accepted call. It is faithful where it matters for our promises:

- bearer tokens are checked (`invalid_auth`), bodies may be JSON or form-encoded
  and JSON-string arguments (`blocks`, `metadata`, `view`) are parsed;
- `rate_limit()` puts a token bucket on a method (optionally per channel); over
  it the call gets HTTP 429 with an integer `Retry-After`, as Slack sends;
- `fail()` and `delay()` inject 500s, API errors and slow answers;
- posting to a user id lands in that person's DM channel `D<user id>`;
- `apps.connections.open` hands out a WebSocket URL on this server, which speaks
  Socket Mode (hello, envelopes, acks) for the Socket Mode tests.

It runs in its own thread and event loop, so sync and async clients in any
thread or loop can call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

JSON_ARGS = ("blocks", "attachments", "metadata", "view", "files")


@dataclass
class Call:
    method: str
    args: dict
    token: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Bucket:
    per_second: float
    burst: int
    retry_after: int
    per_channel: bool
    tokens: dict[str, float] = field(default_factory=dict)
    stamps: dict[str, float] = field(default_factory=dict)

    def take(self, key: str) -> bool:
        now = time.monotonic()
        tokens = self.tokens.get(key, float(self.burst))
        tokens = min(self.burst, tokens + (now - self.stamps.get(key, now)) * self.per_second)
        self.stamps[key] = now
        if tokens >= 1:
            self.tokens[key] = tokens - 1
            return True
        self.tokens[key] = tokens
        return False


class FakeSlack:
    """The Slack Web API for one workspace, on 127.0.0.1."""

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
        self.bot_token = bot_token
        self.app_token = app_token
        self.base_url = ""
        self.calls: list[Call] = []
        self.rate_limited: list[Call] = []
        self.users: dict[str, dict] = {}
        self.channels: dict[str, dict] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.messages: dict[str, list[dict]] = {}
        self.uploads: list[dict] = []
        self.responses: list[dict] = []
        self.home_views: dict[str, dict] = {}
        self.socket_acks: list[dict] = []
        self._buckets: dict[str, _Bucket] = {}
        self._faults: dict[str, list[dict]] = {}
        self._pending_files: dict[str, dict] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.add_user("USLACKBOT", "slackbot", real_name="Slackbot")  # real Slack lists it

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeSlack:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{n}", self._response)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.root = f"http://{host}:{port}"
        self.base_url = f"{self.root}/api/"

    def stop(self) -> None:
        async def shutdown() -> None:
            for socket in list(self._sockets):
                await socket.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the workspace -------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        tz: str | None = "Europe/London",
        is_bot: bool = False,
        deleted: bool = False,
        real_name: str | None = None,
        is_restricted: bool = False,
    ) -> dict:
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name or name,
            "deleted": deleted,
            "is_bot": is_bot,
            "is_app_user": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": False,
            "tz": tz,
            "tz_offset": 0,
            "profile": {"real_name": real_name or name, "display_name": name},
        }
        with self._lock:
            self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, members: list[str]) -> None:
        with self._lock:
            self.channels[channel_id] = {"id": channel_id, "name": name, "members": list(members)}

    def add_usergroup(self, usergroup_id: str, handle: str, users: list[str]) -> None:
        with self._lock:
            self.usergroups[usergroup_id] = list(users)

    def response_url(self) -> str:
        return f"{self.root}/response/{next(self._ids)}"

    # -- test controls -------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def rate_limit(
        self,
        method: str,
        *,
        per_second: float,
        burst: int = 1,
        per_channel: bool = False,
        retry_after: int = 1,
    ) -> None:
        with self._lock:
            self._buckets[method] = _Bucket(per_second, burst, retry_after, per_channel)

    def fail(self, method: str, *, status: int = 500, times: int = 1, error: str | None = None):
        with self._lock:
            self._faults.setdefault(method, []).extend([{"status": status, "error": error}] * times)

    def delay(self, method: str, *, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._faults.setdefault(method, []).extend([{"delay": seconds}] * times)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10) -> Any:
        """Poll until `predicate()` is truthy; fail the test with a clear message if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")

    # -- Socket Mode -----------------------------------------------------------------------

    def wait_for_socket(self, timeout: float = 10) -> None:
        self.wait_for(lambda: self._sockets, timeout)

    def socket_send(self, envelope: dict) -> None:
        async def send() -> None:
            for socket in list(self._sockets):
                await socket.send_str(json.dumps(envelope))

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(timeout=10)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600},
            "connection_info": {"app_id": "A0INTEGRITY"},
        }
        await socket.send_str(json.dumps(hello))
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    with self._lock:
                        self.socket_acks.append(json.loads(message.data))
        finally:
            self._sockets.remove(socket)
        return socket

    # -- HTTP ------------------------------------------------------------------------------

    async def _args(self, request: web.Request) -> dict:
        args: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                args.update(json.loads(raw))
            else:
                args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        for key in JSON_ARGS:
            if isinstance(args.get(key), str):
                with contextlib.suppress(json.JSONDecodeError):
                    args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or args.pop("token", None)
        args.pop("token", None)
        call = Call(method, args, token)
        with self._lock:
            queued = self._faults.get(method)
            fault = queued.pop(0) if queued else None
            bucket = self._buckets.get(method)
            limited = False
            if bucket is not None:
                key = str(args.get("channel", "")) if bucket.per_channel else ""
                limited = not bucket.take(key)
            if limited:
                self.rate_limited.append(call)
        if limited:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(bucket.retry_after)},
            )
        if fault and fault.get("delay"):
            await asyncio.sleep(fault["delay"])
        elif fault and fault.get("error"):
            with self._lock:
                self.calls.append(call)
            return web.json_response({"ok": False, "error": fault["error"]})
        elif fault:
            return web.json_response({"ok": False, "error": "fatal_error"}, status=fault["status"])
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        with self._lock:
            self.calls.append(call)
            if handler is None:
                return web.json_response({"ok": False, "error": "unknown_method"})
            try:
                result = handler(args)
            except _ApiError as error:
                return web.json_response({"ok": False, "error": str(error)})
        return web.json_response({"ok": True, **result})

    async def _upload(self, request: web.Request) -> web.Response:
        with self._lock:
            pending = self._pending_files.get(request.match_info["file_id"])
            if pending is None:
                return web.Response(status=404, text="unknown upload")
            pending["content"] = await request.read()
        return web.Response(text=f"OK - {len(pending['content'])}")

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.responses.append(body)
        return web.Response(text="ok")

    # -- methods (called with the lock held) --------------------------------------------

    def _next_ts(self) -> str:
        """Slack's message ids: the post's epoch time in microseconds, unique and increasing."""
        self._last_ts = max(time.time(), self._last_ts + 1e-6)
        return f"{self._last_ts:.6f}"

    def _channel_id(self, channel: str) -> str:
        if not channel:
            raise _ApiError("channel_not_found")
        if channel.startswith(("U", "W")):
            if channel not in self.users:
                raise _ApiError("channel_not_found")
            return "D" + channel
        return channel

    def _auth_test(self, args: dict) -> dict:
        return {
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "integrity",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0INTEGRITY",
            "is_enterprise_install": False,
        }

    def _chat_postMessage(self, args: dict) -> dict:
        channel = self._channel_id(args.get("channel", ""))
        if not (args.get("text") or args.get("blocks")):
            raise _ApiError("no_text")
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": "B0INTEGRITY",
            "ts": self._next_ts(),
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
            "metadata": args.get("metadata"),
            "thread_ts": args.get("thread_ts"),
        }
        self.messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": message["ts"], "message": message}

    def _find(self, channel: str, ts: str) -> dict:
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                return message
        raise _ApiError("message_not_found")

    def _chat_update(self, args: dict) -> dict:
        channel = self._channel_id(args.get("channel", ""))
        message = self._find(channel, args.get("ts", ""))
        for key in ("text", "blocks", "metadata"):
            if key in args:
                message[key] = args[key]
        return {"channel": channel, "ts": message["ts"], "text": message["text"]}

    def _chat_delete(self, args: dict) -> dict:
        channel = self._channel_id(args.get("channel", ""))
        message = self._find(channel, args.get("ts", ""))
        self.messages[channel].remove(message)
        return {"channel": channel, "ts": message["ts"]}

    def _chat_postEphemeral(self, args: dict) -> dict:
        self._channel_id(args.get("channel", ""))
        if args.get("user") not in self.users:
            raise _ApiError("user_not_in_channel")
        return {"message_ts": self._next_ts()}

    def _conversations_open(self, args: dict) -> dict:
        users = str(args.get("users", "")).split(",")
        if len(users) != 1 or users[0] not in self.users:
            raise _ApiError("user_not_found")
        return {"channel": {"id": "D" + users[0], "is_im": True}}

    def _paginate(self, items: list, args: dict, key: str) -> dict:
        limit = int(args.get("limit") or 100)
        start = int(args.get("cursor") or 0)
        page = items[start : start + limit]
        more = start + limit < len(items)
        return {key: page, "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _conversations_history(self, args: dict) -> dict:
        channel = self._channel_id(args.get("channel", ""))
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or 1e12)
        found = [
            m
            for m in self.messages.get(channel, [])
            if oldest <= float(m["ts"]) <= latest and not m.get("thread_ts")
        ]
        include = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        shown = [m if include else {k: v for k, v in m.items() if k != "metadata"} for m in found]
        return self._paginate(list(reversed(shown)), args, "messages")

    def _conversations_replies(self, args: dict) -> dict:
        channel = self._channel_id(args.get("channel", ""))
        parent = self._find(channel, args.get("ts", ""))
        replies = [m for m in self.messages.get(channel, []) if m.get("thread_ts") == parent["ts"]]
        return self._paginate([parent, *replies], args, "messages")

    def _conversations_members(self, args: dict) -> dict:
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        return self._paginate(channel["members"], args, "members")

    def _conversations_info(self, args: dict) -> dict:
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        return {"channel": {"id": channel["id"], "name": channel["name"], "is_channel": True}}

    def _users_list(self, args: dict) -> dict:
        return self._paginate(list(self.users.values()), args, "members")

    def _users_info(self, args: dict) -> dict:
        user = self.users.get(args.get("user", ""))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": user}

    def _usergroups_users_list(self, args: dict) -> dict:
        users = self.usergroups.get(args.get("usergroup", ""))
        if users is None:
            raise _ApiError("no_such_subteam")
        return {"users": users}

    def _view(self, args: dict) -> dict:
        view = args.get("view")
        if not isinstance(view, dict) or "type" not in view:
            raise _ApiError("invalid_arguments")
        if len(view.get("blocks", [])) > (100 if view["type"] == "home" else 100):
            raise _ApiError("invalid_blocks")
        return {"view": {"id": f"V{next(self._ids)}", **view}}

    def _views_open(self, args: dict) -> dict:
        if not args.get("trigger_id"):
            raise _ApiError("invalid_trigger_id")
        return self._view(args)

    _views_push = _views_open

    def _views_update(self, args: dict) -> dict:
        return self._view(args)

    def _views_publish(self, args: dict) -> dict:
        result = self._view(args)
        self.home_views[args.get("user_id", "")] = args["view"]
        return result

    def _files_getUploadURLExternal(self, args: dict) -> dict:
        file_id = f"F{next(self._ids):08d}"
        self._pending_files[file_id] = {
            "file_id": file_id,
            "filename": args.get("filename"),
            "length": int(args.get("length") or 0),
            "content": None,
        }
        return {"upload_url": f"{self.root}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, args: dict) -> dict:
        files = args.get("files") or []
        done = []
        for item in files:
            pending = self._pending_files.pop(item.get("id", ""), None)
            if pending is None or pending["content"] is None:
                raise _ApiError("file_not_found")
            upload = {
                **pending,
                "title": item.get("title"),
                "channel_id": args.get("channel_id"),
                "initial_comment": args.get("initial_comment"),
                "thread_ts": args.get("thread_ts"),
            }
            self.uploads.append(upload)
            done.append(
                {"id": upload["file_id"], "title": upload["title"], "name": upload["filename"]}
            )
        return {"files": done}

    def _files_info(self, args: dict) -> dict:
        for upload in self.uploads:
            if upload["file_id"] == args.get("file"):
                return {"file": {"id": upload["file_id"], "name": upload["filename"]}}
        raise _ApiError("file_not_found")

    def _apps_connections_open(self, args: dict) -> dict:
        return {"url": f"ws://{self.root.removeprefix('http://')}/link/?ticket={next(self._ids)}"}


class _ApiError(Exception):
    """An API-level error: HTTP 200 with {"ok": false, "error": …}, like Slack."""
