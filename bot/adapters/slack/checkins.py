"""Check-ins after the ack: a round sent out, and a message redrawn with what was answered.

A click on a check-in is acknowledged first (`listeners/actions.py`); the message it
came from is then redrawn here (`CheckinRedraws.redraw`) to show the person's answers.
Redraws wait while other requests are waiting for their ack (`PendingAcks`), run a few
at a time, and each message has at most one redraw queued. `deliver_in_background`
sends a round that `/integrity ask` has just opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack.messenger import SlackMessenger, parse_ref
from bot.core.domain import Person, Round
from bot.core.service import IntegrityCheck

logger = logging.getLogger(__name__)

#: Check-in messages redrawn at the same time, at most.
REDRAWS_AT_ONCE = 2
#: A redraw waits for pending acks at most this long (a long burst must not starve it).
REDRAW_MAX_DELAY_SECONDS = 3.0


class PendingAcks:
    """How many requests are waiting for their ack (HTTP mode counts them as they come in),
    so that work nobody waits on can let them go first."""

    def __init__(self) -> None:
        self._count = 0
        self._none = asyncio.Event()
        self._none.set()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Around one request, from its arrival to its answer."""
        self._count += 1
        self._none.clear()
        try:
            yield
        finally:
            self._count -= 1
            if not self._count:
                self._none.set()

    async def none_pending(self, at_most: float) -> None:
        """Wait until no request is waiting for its ack, or `at_most` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none.wait(), at_most)


class CheckinRedraws:
    """Redraws check-in messages after clicks and form submissions, acks first."""

    def __init__(
        self,
        service: IntegrityCheck,
        messenger: SlackMessenger,
        client: AsyncWebClient,
        acks: PendingAcks,
    ) -> None:
        self.service = service
        self.messenger = messenger
        #: Waits out 429s (no one is waiting on a redraw); shares the app's HTTP session.
        self.client = client
        self.acks = acks
        self._redraws = asyncio.Semaphore(REDRAWS_AT_ONCE)
        self._redrawing: dict[tuple, str] = {}  # message → "waiting", "drawing" or "again"
        self._response_urls: dict[tuple, str] = {}  # message → its latest click's response_url

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
                    await self.acks.none_pending(REDRAW_MAX_DELAY_SECONDS)
                    self._redrawing[key] = "drawing"
                    url = self._response_urls.pop(key, None)
                    await self._redraw(person, round_, channel, ts, url)
                    if self._redrawing[key] != "again":
                        break
        finally:
            del self._redrawing[key]

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
            await self.client.chat_update(**update)
        except Exception:
            logger.exception("Could not redraw the check-in of round %s", round_.number)

    async def _replace_through(self, response_url: str, update: dict) -> bool:
        """Replace the message a click came from through its `response_url`; False if Slack
        refused (expired, used up), so the caller can fall back to `chat.update`."""
        webhook = AsyncWebhookClient(
            response_url,
            timeout=10,
            session=self.client.session,
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


def deliver_in_background(messenger: SlackMessenger) -> Callable[[Round], str]:
    """What `/integrity ask` does once it has opened a round: send it to everyone from a
    thread of its own (paced to Slack's limits; the scheduler retries what fails)."""

    def deliver(round_: Round) -> None:
        try:
            messenger.deliver(round_)
        except Exception:
            logger.exception("Delivering round %s failed; the scheduler retries", round_.number)

    def started(round_: Round) -> str:
        threading.Thread(
            target=deliver, args=(round_,), name=f"deliver-{round_.id}", daemon=True
        ).start()
        return "Sending it to everyone now, paced to Slack's limits."

    return started
