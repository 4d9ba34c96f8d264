"""The Slack app on Bolt (`AsyncApp`): Slack's requests in, core calls, Block Kit out.

What it listens to:

- `/integrity …`: the shared command words (`bot.core.commands.Commands`). It is
  acknowledged at once; the reply follows through `response_url`, or in the
  person's DM when it carries a file or is too long for a few messages.
- Rating buttons and "Add why" on a check-in (DM), and its modal; "Answer
  privately" on a channel's round post or the App Home (a modal for the round).
  A rating is recorded before the click is acknowledged (within 2 seconds, or
  it is acknowledged anyway and the write still lands), so an ack means saved.
- Replies in the thread of a round's channel post: answers on the record.
- Messages in the DM with the bot: the same command words, without the slash.
- `app_home_opened`: the App Home tab.

Every handler does what its acknowledgement depends on (a rating is saved, a
modal's input is checked), acknowledges, and hands the rest (redrawing a message,
a slow summary, opening a modal) to `after_ack`, which runs it as a background
task and reports its failure like any other. Bolt runs with
`process_before_response`, so it answers Slack as soon as the handler returns:
without it, Bolt polls every pending request for its ack every 10 ms, and a burst
of clicks spends its time polling.

Every event is recorded at most once (`event_id`, in SQLite), since Slack
redelivers; answers upsert by person, round and question anyway. Requests are
signature-checked (by Bolt, and before parsing in HTTP mode, so a malformed body
from a stranger gets 401 and a malformed signed one 400). The core is
synchronous, so it runs in worker threads and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack import blocks as kit
from bot.adapters.slack.config import SlackSettings
from bot.adapters.slack.messenger import PLATFORM, SlackMessenger, message_ref, parse_ref
from bot.core.commands import Commands
from bot.core.domain import Person, Round
from bot.core.errors import IntegrityError, InvalidAnswer, UsageError
from bot.core.replies import Note, Reply
from bot.core.service import KEEP, IntegrityCheck
from bot.core.summaries import summary_reply

logger = logging.getLogger(__name__)

ROUTE = "/slack/events"
#: A click is acknowledged within this many seconds even if the database is slow.
RECORD_BEFORE_ACK_SECONDS = 2.0
#: What Slack answers for a bot token that is wrong, revoked or of a deactivated app.
TOKEN_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
#: On shutdown, how long work already acknowledged may take to finish.
SHUTDOWN_GRACE_SECONDS = 10.0
#: Check-in messages redrawn at the same time, at most.
REDRAWS_AT_ONCE = 2
#: A redraw waits for pending acks at most this long (a long burst must not starve it).
REDRAW_MAX_DELAY_SECONDS = 3.0
#: 429s a background call (a redraw, the App Home) waits out before it gives up.
BACKGROUND_RATE_LIMIT_RETRIES = 10
#: Words whose reply can take a while (the analysis engine, charts, files).
SLOW_WORDS = {"summary", "trend", "export", "ask"}
#: response_url accepts five responses; longer replies go to the DM instead.
MAX_RESPONSES = 4
#: A thread answer: `[question number] rating [why…]`, e.g. `2 4 because…` or `4/5 - why`.
THREAD_ANSWER = re.compile(
    r"^\s*(?:(\d{1,2})[.):]?\s+)?([1-5])(?:/5)?(?:\s*[-–—:,.]\s*|\s+|$)(.*)$", re.S
)

T = TypeVar("T")


class SlackBot:
    """The Bolt app and its handlers; `messenger` is the scheduler's Slack side."""

    def __init__(
        self,
        service: IntegrityCheck,
        settings: SlackSettings,
        messenger: SlackMessenger | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.messenger = messenger or SlackMessenger(service, settings)
        self.commands = Commands(service, on_round_started=self._round_started)
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
        self._summaries: dict[str, tuple[str, list[dict]]] = {}
        # Redrawing a message after a click comes after its ack, a few at a time (`redraw`).
        self._redraws = asyncio.Semaphore(REDRAWS_AT_ONCE)
        self._redrawing: dict[tuple, str] = {}  # message → "waiting", "drawing" or "again"
        self._response_urls: dict[tuple, str] = {}  # message → its latest click's response_url
        # Set while no request is waiting for its ack (HTTP mode counts them in `handle_http`).
        self._acks_pending = 0
        self._no_acks_pending = asyncio.Event()
        self._no_acks_pending.set()
        # Saving a click is what its ack waits for: it gets its own threads, so background
        # work (redrawing messages, summaries) never queues in front of it.
        self._record_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="slack-record")
        self._socket_handler = None
        self._background: set[asyncio.Task] = set()
        self._routes()

    # -- wiring -------------------------------------------------------------------------

    def _routes(self) -> None:
        app = self.app
        app.middleware(self._dedupe_events)
        app.command("/integrity")(self.on_command)
        app.action(re.compile(kit.RATE_ACTION_PATTERN))(self.on_rate)
        app.action(kit.WHY_ACTION)(self.on_why)
        app.action(kit.ANSWER_PRIVATELY_ACTION)(self.on_answer_privately)
        app.action(kit.HOME_SUMMARY_ACTION)(self.on_home_summary)
        app.view(kit.WHY_VIEW)(self.on_why_submitted)
        app.view(kit.ANSWER_VIEW)(self.on_answers_submitted)
        app.event("message")(self.on_message)
        app.event("app_home_opened")(self.on_home_opened)
        app.error(self.on_error)

    def mount(self, web_app: web.Application) -> None:
        """Serve Slack on `web_app`: `POST /slack/events`, or Socket Mode when configured."""
        web_app.on_startup.append(self._open_session)
        web_app.on_cleanup.append(self._close_session)
        if self.settings.socket_mode:
            web_app.on_startup.append(self._connect_socket)
            web_app.on_cleanup.append(self._close_socket)
        else:
            web_app.router.add_post(ROUTE, self.handle_http)

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        """One request from Slack: signature first, then the body, then Bolt."""
        self._acks_pending += 1
        self._no_acks_pending.clear()
        try:
            return await self._handle_http(request)
        finally:
            self._acks_pending -= 1
            if not self._acks_pending:
                self._no_acks_pending.set()

    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
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
        if self._background:  # let work already acknowledged finish (a redraw, a reply)
            await asyncio.wait(set(self._background), timeout=SHUTDOWN_GRACE_SECONDS)
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

    def after_ack(self, work: Awaitable[None], body: dict) -> None:
        """Run `work` after the handler has returned (and Slack has its ack), as a task whose
        failure is logged and told to the person like a handler's (`on_error`), through the
        request's `response_url` when it has one."""

        async def run() -> None:
            try:
                await work
            except Exception as error:
                url = (body or {}).get("response_url")
                await self.on_error(error, body, AsyncRespond(response_url=url) if url else None)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._background.discard)

    # -- people ---------------------------------------------------------------------------

    def person(self, user_id: str, name: str, team: str | None) -> Person:
        """The person behind a request, met (as frontline) if new; configured roles applied."""
        workspace = team or self.messenger.team_id
        person, _ = self.service.meet(
            PLATFORM,
            workspace,
            user_id,
            name,
            grant=self.messenger.grant_for(user_id),
            rename=False,
        )
        return person

    @staticmethod
    def _payload_person(body: dict) -> tuple[str, str, str | None]:
        user = body.get("user") or {}
        team = (body.get("team") or {}).get("id") or user.get("team_id")
        return user["id"], user.get("name") or user.get("username") or "", team

    # -- /integrity -----------------------------------------------------------------------

    async def on_command(self, ack, body: dict, respond) -> None:
        text = (body.get("text") or "").strip()
        word = text.split()[0].lower() if text else "help"
        if word in SLOW_WORDS:
            await ack(response_type="ephemeral", text=f"Working on `/integrity {text}`…")
        else:
            await ack()
        self.after_ack(self.run_command(body, text, respond), body)

    async def run_command(self, body: dict, text: str, respond) -> None:
        person = await asyncio.to_thread(
            self.person, body["user_id"], body.get("user_name", ""), body.get("team_id")
        )
        reply = await asyncio.to_thread(self.commands.handle, person, text)
        await self.send_reply(person, reply, respond=respond, channel=body.get("channel_id"))

    async def send_reply(
        self, person: Person, reply: Reply, *, respond=None, channel: str | None = None
    ) -> None:
        """Answer a person: through `response_url` when short and file-less, else their DM."""
        messages = kit.reply_messages(reply)
        if respond is not None and not reply.files and len(messages) <= MAX_RESPONSES:
            for blocks in messages:
                await respond(
                    blocks=blocks,
                    text=kit.fallback_text(blocks),
                    response_type="ephemeral" if reply.private else "in_channel",
                    replace_original=False,
                )
            return
        dm = await asyncio.to_thread(self.messenger.dm_channel, person.user_id)
        await asyncio.to_thread(self.messenger.send_reply, dm, reply)
        if respond is not None and channel != dm:
            what = "with a file" if reply.files else "long"
            await respond(
                text=f"The answer is {what}, so I sent it to our direct messages: <#{dm}>.",
                response_type="ephemeral",
                replace_original=False,
            )

    def _round_started(self, round_: Round) -> str:
        """`/integrity ask` opened a round: send it to everyone, in the background."""
        threading.Thread(
            target=self._deliver_quietly, args=(round_,), name=f"deliver-{round_.id}", daemon=True
        ).start()
        return "Sending it to everyone now, paced to Slack's limits."

    def _deliver_quietly(self, round_: Round) -> None:
        try:
            self.messenger.deliver(round_)
        except Exception:
            logger.exception("Delivering round %s failed; the scheduler retries", round_.number)

    # -- check-in buttons -----------------------------------------------------------------

    async def on_rate(self, ack, body: dict, action: dict, respond) -> None:
        value = json.loads(action["value"])
        user_id, name, team = self._payload_person(body)

        def record() -> tuple[Person, Round]:
            person = self.person(user_id, name, team)
            round_ = self.service.round(int(value["round"]))
            self.service.record_answer(
                person, value["question"], rating=int(value["rating"]), round_=round_,
                source="slack",
            )  # fmt: skip
            return person, round_

        saving = await _before_ack(record, ack, self._record_pool)
        self.after_ack(self._rated(saving, body, respond), body)

    async def _rated(self, saving: asyncio.Future, body: dict, respond) -> None:
        """After a rating's ack: say why it was refused, or redraw the message it was on."""
        try:
            person, round_ = await saving
        except IntegrityError as error:
            await respond(text=str(error), response_type="ephemeral", replace_original=False)
            return
        container = body.get("container") or {}
        on_message = container.get("type") == "message"
        await self.redraw(
            person,
            round_,
            container.get("channel_id"),
            container.get("message_ts"),
            response_url=body.get("response_url") if on_message else None,
        )

    async def redraw(
        self,
        person: Person,
        round_: Round,
        channel: str | None = None,
        ts: str | None = None,
        *,
        response_url: str | None = None,
    ) -> None:
        """Redraw the message a person answered on (or else their DM check-in) with what they
        said. Acks come first: a redraw waits while clicks are being acknowledged (up to
        `REDRAW_MAX_DELAY_SECONDS`), a few run at a time, and each message has one redraw
        queued at most: it shows the answers as they are when it runs, and a click during
        it draws once more after it.

        A click on the message brings its `response_url`, and the redraw replaces the
        message through it, as Slack recommends for interactive messages: `chat.update` is a
        Tier 3 method (about 50 calls a minute for the whole workspace), which a Monday
        morning's clicks exceed many times over. Without one (a form submitted), or if it
        fails (it expires after 30 minutes and five uses), `chat.update` it is."""
        key = (person.id, round_.id, channel, ts)
        if response_url:
            self._response_urls[key] = response_url  # the freshest one the message has had
        if key in self._redrawing:  # waiting: it will show this answer; drawing: go again
            if self._redrawing[key] == "drawing":
                self._redrawing[key] = "again"
            return
        self._redrawing[key] = "waiting"
        try:
            async with self._redraws:
                while True:  # one message is redrawn by one task, so updates land in order
                    await self._after_acks()
                    self._redrawing[key] = "drawing"
                    url = self._response_urls.pop(key, None)
                    await self._redraw(person, round_, channel, ts, url)
                    if self._redrawing[key] != "again":
                        break
        finally:
            del self._redrawing[key]

    async def _after_acks(self) -> None:
        """Wait until no request is waiting for its ack, or `REDRAW_MAX_DELAY_SECONDS`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_acks_pending.wait(), REDRAW_MAX_DELAY_SECONDS)

    async def _redraw(
        self,
        person: Person,
        round_: Round,
        channel: str | None,
        ts: str | None,
        response_url: str | None,
    ) -> None:
        def arguments() -> dict | None:
            where = (channel, ts)
            if not (channel and ts):
                delivery = self.service.delivery_for(round_, person)
                if not delivery or not delivery.get("message_ref"):
                    return None
                where = parse_ref(delivery["message_ref"])
            return {
                "channel": where[0],
                "ts": where[1],
                **self.messenger.checkin_update(person, round_),
            }

        try:
            update = await asyncio.to_thread(arguments)
            if update is None:
                return
            if response_url and await self._replace_through(response_url, update):
                return
            await self.background_client.chat_update(**update)
        except Exception:
            logger.exception("Could not redraw the check-in of round %s", round_.number)

    async def _replace_through(self, response_url: str, update: dict) -> bool:
        """Replace the message a click came from through its `response_url`; False if Slack
        refused (expired, used up), so the caller can fall back to `chat.update`."""
        webhook = AsyncWebhookClient(
            response_url,
            timeout=10,
            session=self.app.client.session,
            retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)],
        )
        try:
            response = await webhook.send(
                replace_original=True, text=update["text"], blocks=update["blocks"]
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.warning("Could not redraw through response_url (%s); using chat.update", error)
            return False
        if response.status_code != 200:
            logger.warning(
                "response_url refused the redraw (%s %s); using chat.update",
                response.status_code,
                response.body,
            )
            return False
        return True

    async def on_why(self, ack, body: dict, action: dict, client) -> None:
        await ack()
        self.after_ack(self.open_why(body, action, client), body)

    async def open_why(self, body: dict, action: dict, client) -> None:
        value = json.loads(action["value"])
        user_id, name, team = self._payload_person(body)
        container = body.get("container") or {}

        def load():
            person = self.person(user_id, name, team)
            round_ = self.service.round(int(value["round"]))
            question = self.service.question(value["question"])
            answer = self.service.my_answers(person, round_).get(question.id)
            return round_, question, answer

        round_, question, answer = await asyncio.to_thread(load)
        message = None
        if container.get("channel_id") and container.get("message_ts"):
            message = {"channel": container["channel_id"], "ts": container["message_ts"]}
        await client.views_open(
            trigger_id=body["trigger_id"], view=kit.why_modal(round_, question, answer, message)
        )

    async def on_why_submitted(self, ack, body: dict, view: dict) -> None:
        meta = json.loads(view["private_metadata"])
        text = view["state"]["values"]["why"]["text"].get("value") or ""
        user_id, name, team = self._payload_person(body)

        def record() -> tuple[Person, Round]:
            person = self.person(user_id, name, team)
            round_ = self.service.round(int(meta["round"]))
            self.service.record_answer(
                person, meta["question"], text=text, round_=round_, source="slack"
            )
            return person, round_

        try:
            person, round_ = await asyncio.to_thread(record)
        except IntegrityError as error:
            # The modal stays open with what they typed, and says what to do.
            await ack(response_action="errors", errors={"why": str(error)})
            return
        await ack()
        message = meta.get("message") or {}
        self.after_ack(self.redraw(person, round_, message.get("channel"), message.get("ts")), body)

    async def on_answer_privately(self, ack, body: dict, action: dict, client) -> None:
        await ack()
        self.after_ack(self.open_answers(body, action, client), body)

    async def open_answers(self, body: dict, action: dict, client) -> None:
        value = json.loads(action["value"])
        user_id, name, team = self._payload_person(body)

        def load() -> dict:
            person = self.person(user_id, name, team)
            round_ = self.service.round(int(value["round"]))
            if not round_.is_open:
                return _notice_modal(
                    f"Round {round_.number} is closed",
                    "Answers can no longer change. The next round will ask again.",
                )
            questions = self.service.questions_for(person, round_)
            return kit.answer_modal(round_, questions, self.service.my_answers(person, round_))

        await client.views_open(trigger_id=body["trigger_id"], view=await asyncio.to_thread(load))

    async def on_answers_submitted(self, ack, body: dict, view: dict) -> None:
        meta = json.loads(view["private_metadata"])
        values = view["state"]["values"]
        user_id, name, team = self._payload_person(body)

        def record() -> tuple[Person, Round, int]:
            person = self.person(user_id, name, team)
            round_ = self.service.round(int(meta["round"]))
            saved = 0
            for question in self.service.questions_for(person, round_):
                chosen = (values.get(f"rating:{question.id}", {}).get("rating") or {}).get(
                    "selected_option"
                )
                why = (values.get(f"why:{question.id}", {}).get("text") or {}).get("value")
                if chosen is None and not why:
                    continue
                self.service.record_answer(
                    person,
                    question.id,
                    rating=int(chosen["value"]) if chosen else KEEP,
                    text=why if why else KEEP,
                    round_=round_,
                    source="slack",
                )
                saved += 1
            return person, round_, saved

        try:
            person, round_, saved = await asyncio.to_thread(record)
        except IntegrityError as error:
            first = next(iter(values), "")
            await ack(response_action="errors", errors={first: str(error)})
            return
        await ack()
        logger.info("Saved %d answer(s) from the round %s modal", saved, round_.number)

        async def show() -> None:
            await self.redraw(person, round_)
            await self.publish_home(person)

        self.after_ack(show(), body)

    # -- messages: thread answers and DM commands ----------------------------------------

    async def on_message(self, body: dict, event: dict, client) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, joins, bots (ourselves included)
        self.after_ack(self.handle_message(body, event, client), body)

    async def handle_message(self, body: dict, event: dict, client) -> None:
        team = body.get("team_id")
        thread_ts = event.get("thread_ts")
        if thread_ts and thread_ts != event.get("ts"):
            await self.on_thread_reply(event, team, client)
        elif event.get("channel_type") == "im":
            person = await asyncio.to_thread(self.person, event["user"], "", team)
            reply = await asyncio.to_thread(self.commands.handle, person, event.get("text", ""))
            await asyncio.to_thread(self.messenger.send_reply, event["channel"], reply)

    async def on_thread_reply(self, event: dict, team: str | None, client) -> None:
        """A reply under a round's channel post: an answer on the record."""
        channel, text = event["channel"], event.get("text") or ""
        workspace = team or await asyncio.to_thread(lambda: self.messenger.team_id)
        parent = message_ref(channel, event["thread_ts"])
        round_ = await asyncio.to_thread(
            self.service.round_of_channel_post, PLATFORM, workspace, parent
        )
        if round_ is None:
            return

        def record() -> str:
            person = self.person(event["user"], "", workspace)
            questions = self.service.questions_for(person, round_)
            found = THREAD_ANSWER.match(text)
            if not found:
                raise UsageError(
                    "To answer here, start with the question number and a rating from 1 to 5, "
                    "e.g. `1 4 because…`. Nothing was recorded; your message stays in the thread."
                )
            number = int(found.group(1)) if found.group(1) else (1 if len(questions) == 1 else 0)
            if not 1 <= number <= len(questions):
                raise UsageError(
                    f"Which question? Start with its number (1 to {len(questions)}), then the "
                    "rating, e.g. `1 4 because…`. Nothing was recorded."
                )
            question = questions[number - 1]
            why = found.group(3).strip()
            answer = self.service.record_answer(
                person, question.id, rating=int(found.group(2)), text=why if why else KEEP,
                round_=round_, on_record=True, source="slack-thread",
            )  # fmt: skip
            return (
                f"Recorded {answer.rating}/5 for question {number}, *on the record*: you "
                "answered in public, so everyone in this channel sees it and it is marked as "
                "on the record. To answer anonymously, use *Answer privately* on the round's post."
            )

        try:
            note = await asyncio.to_thread(record)
        except (UsageError, InvalidAnswer) as error:
            note = str(error)
        await client.chat_postEphemeral(
            channel=channel, user=event["user"], thread_ts=event["thread_ts"], text=note
        )

    # -- App Home ------------------------------------------------------------------------

    async def on_home_opened(self, body: dict, event: dict) -> None:
        if event.get("tab", "home") != "home":
            return

        async def publish() -> None:
            person = await asyncio.to_thread(self.person, event["user"], "", body.get("team_id"))
            await self.publish_home(person)

        self.after_ack(publish(), body)

    async def publish_home(self, person: Person) -> None:
        view = await asyncio.to_thread(self.home_view, person)
        await self.background_client.views_publish(user_id=person.user_id, view=view)

    def home_view(self, person: Person) -> dict:
        round_ = self.service.open_round()
        questions, answers, rates = [], {}, None
        if round_ is not None:
            questions = self.service.questions_for(person, round_)
            answers = self.service.my_answers(person, round_)
            rates = self.service.response_rate(round_)
        label, summary = self._summaries.get(person.workspace, ("", None))
        return kit.home_view(
            name=person.display_name,
            round_=round_,
            questions=questions,
            answers=answers,
            rates=rates,
            summary=summary if person.is_executive else None,
            executive=person.is_executive,
            summary_label=label,
        )

    async def on_home_summary(self, ack, body: dict) -> None:
        await ack()
        self.after_ack(self.refresh_home_summary(body), body)

    async def refresh_home_summary(self, body: dict) -> None:
        user_id, name, team = self._payload_person(body)
        person = await asyncio.to_thread(self.person, user_id, name, team)

        def build() -> None:
            self.service.require_executive(person, "read summaries")
            scope = self.service.scope(person, "last")
            reply = summary_reply(self.service, scope)
            self._summaries[person.workspace] = (scope.label, kit.reply_blocks(reply))

        try:
            await asyncio.to_thread(build)
        except IntegrityError as error:
            self._summaries[person.workspace] = ("", kit.reply_blocks(Reply([Note(str(error))])))
        await self.publish_home(person)

    # -- errors --------------------------------------------------------------------------

    async def on_error(self, error: Exception, body: dict, respond) -> None:
        """Log with the traceback; tell the person, echoing what they sent so nothing is lost."""
        logger.error("Slack request failed: %s", error, exc_info=error)
        typed = (body or {}).get("text") or ((body or {}).get("event") or {}).get("text")
        echo = f" What you sent: `{kit.escape(typed)[:500]}`." if typed else ""
        message = (
            "Sorry, something went wrong on our side and it was logged for the admins. "
            f"Please try again in a minute.{echo}"
        )
        if respond is not None and (body or {}).get("response_url"):
            try:
                await respond(text=message, response_type="ephemeral", replace_original=False)
            except Exception:
                logger.exception("Could not tell the person about the error")


async def _before_ack(fn: Callable[[], T], ack, pool: ThreadPoolExecutor) -> asyncio.Future[T]:
    """Run `fn` in a worker thread and acknowledge when it is done, or after 2 s at most (the
    write still completes: a slow database never makes Slack show an error). Returns `fn`'s
    future, done unless the ack had to go first."""
    task = asyncio.get_running_loop().run_in_executor(pool, fn)
    await asyncio.wait({task}, timeout=RECORD_BEFORE_ACK_SECONDS)
    await ack()
    return task


def _notice_modal(title: str, text: str) -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": kit.escape(text)}}],
    }


__all__ = ["ROUTE", "SlackBot"]
