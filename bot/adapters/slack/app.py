"""The Slack app on Bolt (`AsyncApp`): the wiring, and what every request goes through.

`SlackBot` builds the Bolt app with its listeners (`listeners/`), the redraws
(`checkins.py`) and the App Home (`home.py`), and serves them on `POST /slack/events`
or over Socket Mode. Every request goes through: the signature (checked before parsing
in HTTP mode: a malformed body from a stranger gets 401, a malformed signed one 400);
one `auth.test` shared by all requests (`_authorize`); the dedupe middleware (Slack
redelivers events: each `event_id` is acted on once); and for work handed on after the
ack, `after_ack` (`listeners/context.py`).

Bolt runs with `process_before_response`, so it answers Slack as soon as the handler
returns (without it, Bolt polls every pending request for its ack every 10 ms, and a
burst of clicks spends its time polling). The core is synchronous: it runs in worker
threads and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.checkins import CheckinRedraws, PendingAcks, deliver_in_background
from bot.adapters.slack.config import SlackSettings
from bot.adapters.slack.home import AppHome
from bot.adapters.slack.listeners import Listening, register_listeners
from bot.adapters.slack.listeners.context import AfterAck, on_error
from bot.adapters.slack.messenger import SlackMessenger
from bot.core.commands import Commands
from bot.core.service import IntegrityCheck

logger = logging.getLogger(__name__)

ROUTE = "/slack/events"
#: What Slack answers for a bot token that is wrong, revoked or of a deactivated app.
TOKEN_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
#: On shutdown, how long work already acknowledged may take to finish.
SHUTDOWN_GRACE_SECONDS = 10.0
#: 429s a background call (a redraw, the App Home) waits out before it gives up.
BACKGROUND_RATE_LIMIT_RETRIES = 10


class SlackBot:
    """The Bolt app, its listeners and its serving; `messenger` is the scheduler's Slack side."""

    def __init__(
        self,
        service: IntegrityCheck,
        settings: SlackSettings,
        messenger: SlackMessenger | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.messenger = messenger or SlackMessenger(service, settings)
        self.commands = Commands(service, on_round_started=deliver_in_background(self.messenger))
        secret = settings.signing_secret
        self.verifier = SignatureVerifier(secret) if secret else None
        # Bolt's client for handlers; its token comes from `authorize`, on each request.
        client = AsyncWebClient(
            base_url=settings.api_base_url,
            timeout=10,
            # No rate-limit waits here: these calls answer a person who is waiting
            # (views.open must follow a click within 3 s). Fan-out waits in the messenger.
            retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)],
        )
        # Redraws and App Home updates nobody is waiting on wait out a 429 instead: chat.update
        # is a Tier 3 method (about 50 a minute), which a busy Monday morning can exceed.
        self.background_client = AsyncWebClient(
            token=settings.bot_token,
            base_url=settings.api_base_url,
            timeout=10,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=1),
                AsyncRateLimitErrorRetryHandler(max_retry_count=BACKGROUND_RATE_LIMIT_RETRIES),
            ],
        )
        # Bolt formats its debug lines unless its logger has a level of its own.
        bolt_logger = logging.getLogger("slack_bolt.integrity")
        bolt_logger.setLevel(logging.getLogger().getEffectiveLevel())
        self._authorization: AuthorizeResult | None = None
        self._authorizing = asyncio.Lock()

        async def authorize() -> AuthorizeResult:
            return await self._authorize()

        self.app = AsyncApp(
            client=client,
            authorize=authorize,
            logger=bolt_logger,
            signing_secret=settings.signing_secret,
            ignoring_self_events_enabled=True,
            # Handlers return right after their ack; what follows goes to `after_ack`.
            process_before_response=True,
        )
        # Set while no request is waiting for its ack (HTTP mode counts them in `handle_http`).
        self.acks = PendingAcks()
        self.checkins = CheckinRedraws(service, self.messenger, self.background_client, self.acks)
        self.home = AppHome(service, self.background_client)
        self._socket_handler = None
        self.after_ack = AfterAck()
        self.app.middleware(self._dedupe_events)
        register_listeners(
            self.app,
            Listening(
                service=service,
                messenger=self.messenger,
                commands=self.commands,
                checkins=self.checkins,
                home=self.home,
                after_ack=self.after_ack,
                record_pool=ThreadPoolExecutor(max_workers=2, thread_name_prefix="slack-record"),
            ),
        )
        self.app.error(on_error)

    def mount(self, web_app: web.Application) -> None:
        """Serve Slack on `web_app`: `POST /slack/events`, or Socket Mode when configured."""
        web_app.on_startup.append(self._open_session)
        web_app.on_cleanup.append(self._close_session)
        if self.settings.socket_mode:
            web_app.on_startup.append(self._connect_socket)
            web_app.on_cleanup.append(self._close_socket)
        else:
            web_app.router.add_post(ROUTE, self.handle_http)

    # -- HTTP mode and Socket Mode --------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        """One request from Slack: signature first, then the body, then Bolt."""
        with self.acks.waiting():
            body = await request.text()
            if self.verifier is None or not self.verifier.is_valid(
                body,
                request.headers.get("X-Slack-Request-Timestamp", ""),
                request.headers.get("X-Slack-Signature", ""),
            ):
                return web.json_response({"error": "invalid or stale signature"}, status=401)
            try:
                bolt_request = AsyncBoltRequest(
                    body=body, query=request.query_string, headers=dict(request.headers)
                )
            except (ValueError, TypeError):
                logger.warning("Malformed Slack request body (%d bytes)", len(body))
                return web.json_response({"error": "malformed body"}, status=400)
            if not isinstance(bolt_request.body, dict) or not bolt_request.body:
                return web.json_response({"error": "malformed body"}, status=400)
            return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    async def _open_session(self, _app: web.Application) -> None:
        # One HTTP session (kept-alive connections) for every call to Slack from the event
        # loop; without it slack_sdk opens a new session, and connection, per call.
        self.app.client.session = aiohttp.ClientSession()
        self.background_client.session = self.app.client.session
        # Who the app is, asked now: a wrong token is told at start-up, not at the first click,
        # and the first burst of requests does not wait for the answer.
        try:
            await self._authorize()
        except Exception as error:  # the first request asks again
            code = error.response.get("error") if isinstance(error, SlackApiError) else None
            if code in TOKEN_ERRORS:
                logger.error(
                    "Slack refused SLACK_BOT_TOKEN (%s). Copy the Bot User OAuth Token (xoxb-…) "
                    "from your app's Install App page at https://api.slack.com/apps and restart.",
                    code,
                )
            else:
                logger.warning("Could not reach Slack to check SLACK_BOT_TOKEN (%s)", code or error)

    async def _close_session(self, _app: web.Application) -> None:
        await self.after_ack.drain(SHUTDOWN_GRACE_SECONDS)  # let acknowledged work finish
        if self.app.client.session is not None:
            await self.app.client.session.close()

    async def _connect_socket(self, _app: web.Application) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        self._socket_handler = AsyncSocketModeHandler(self.app, self.settings.app_token)
        await self._socket_handler.connect_async()
        logger.warning("Slack: connected over Socket Mode")

    async def _close_socket(self, _app: web.Application) -> None:
        if self._socket_handler is not None:
            await self._socket_handler.close_async()

    # -- what every request goes through ---------------------------------------------------

    async def _dedupe_events(self, body: dict, next: Callable, logger: logging.Logger) -> Any:
        """Slack redelivers events it thinks were missed: act on each `event_id` once."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not await asyncio.to_thread(
            self.service.first_sighting, f"slack:event:{event_id}"
        ):
            logger.info("Slack event %s seen before; acknowledged, not repeated", event_id)
            return BoltResponse(status=200, body="")
        return await next()

    async def _authorize(self) -> AuthorizeResult:
        """Who the app is in its workspace, from one `auth.test` shared by every request (Bolt's
        single-team default makes the call from each request until the first answer is back,
        so a burst right after a start makes hundreds, and `auth.test` allows about 100 a
        minute). A failed call is not kept: the next request asks again."""
        async with self._authorizing:
            if self._authorization is None:
                self._authorization = AuthorizeResult.from_auth_test_response(
                    auth_test_response=await self.background_client.auth_test(),
                    bot_token=self.settings.bot_token,
                )
        return self._authorization


__all__ = ["ROUTE", "SlackBot"]
