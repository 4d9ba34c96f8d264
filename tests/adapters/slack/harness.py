"""Driving the Slack app the way Slack does: over real HTTP, with real v0 signatures.

`AppServer` runs an aiohttp application on 127.0.0.1 in its own thread and event
loop (as in production, the app owns its loop). `SlackSender` builds the payloads
Slack sends (slash commands, block actions, view submissions, Events API
callbacks), signs each one at send time (a signature older than five minutes is
stale, so a replayed one would fail), and posts it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from aiohttp import web

_ids = itertools.count(1)


class AppServer:
    """An aiohttp application served on a free port of 127.0.0.1 from a background thread."""

    def __init__(self, web_app: web.Application) -> None:
        self.web_app = web_app
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> AppServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackSender:
    """Sends signed requests to the app as Slack would, for one workspace."""

    def __init__(self, url: str, secret: str, team_id: str, response_url=None) -> None:
        self.url = url.rstrip("/") + "/slack/events"
        self.secret = secret
        self.team_id = team_id
        # A callable giving a fresh response_url (for a click: of the message clicked on).
        self.response_url = response_url or (lambda *message: "http://127.0.0.1:9/none")
        self.http = httpx.Client(timeout=10)

    def close(self) -> None:
        self.http.close()

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict | None = None,
    ) -> httpx.Response:
        """POST a body signed now (or at `timestamp`, or with another secret)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signed = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(secret or self.secret, stamp, body),
            **(headers or {}),
        }
        return self.http.post(self.url, content=body.encode(), headers=signed)

    # -- the kinds of request Slack sends -------------------------------------------------

    def command(self, user: str, text: str, *, channel: str = "C0GENERAL", **kw) -> httpx.Response:
        form = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/integrity",
            "text": text,
            "api_app_id": "A0INTEGRITY",
            "response_url": self.response_url(),
            "trigger_id": f"trigger-{next(_ids)}",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kw)

    def interaction(self, payload: dict, **kw) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **kw)

    def click(
        self, user: str, action_id: str, value: str, *, channel: str = "", ts: str = "", **kw
    ) -> httpx.Response:
        """A button press on a message (or the App Home when there is no channel)."""
        container: dict[str, Any] = {"type": "view", "view_id": "VHOME"}
        if channel:
            container = {"type": "message", "channel_id": channel, "message_ts": ts}
        payload = {
            "type": "block_actions",
            "team": {"id": self.team_id, "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(),
                     "team_id": self.team_id},
            "api_app_id": "A0INTEGRITY",
            "container": container,
            "trigger_id": f"trigger-{next(_ids)}",
            "channel": {"id": channel} if channel else None,
            "response_url": self.response_url(*((channel, ts) if channel else ())),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }  # fmt: skip
        return self.interaction(payload, **kw)

    def submit(self, user: str, view: dict, values: dict, **kw) -> httpx.Response:
        """A modal submitted with these state values ({block_id: {action_id: value}})."""
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(),
                     "team_id": self.team_id},
            "api_app_id": "A0INTEGRITY",
            "trigger_id": f"trigger-{next(_ids)}",
            "view": {
                **view,
                "id": f"V{next(_ids)}",
                "state": {"values": values},
                "hash": "h",
            },
        }  # fmt: skip
        return self.interaction(payload, **kw)

    def event(self, event: dict, *, event_id: str | None = None, **kw) -> httpx.Response:
        body = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": "A0INTEGRITY",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}",
            "event_time": int(time.time()),
        }
        return self.post(json.dumps(body), "application/json", **kw)
