"""What every listener shares: the core, Slack's outbound side, the redraws, the App Home,
and `AfterAck`, the way to hand work on once Slack has its acknowledgement, whose
failures `on_error` (also the app's error handler) logs and tells."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.adapters.slack import blocks as kit
from bot.adapters.slack.checkins import CheckinRedraws
from bot.adapters.slack.home import AppHome
from bot.adapters.slack.messenger import PLATFORM, SlackMessenger
from bot.core.commands import Commands
from bot.core.domain import Person
from bot.core.errors import failure_message
from bot.core.service import IntegrityCheck

logger = logging.getLogger(__name__)


class AfterAck:
    """Work a handler hands on: run after the handler has returned (and Slack has its ack)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def __call__(self, work: Awaitable[None], body: dict) -> None:
        """Run `work` as a task whose failure is logged and told to the person like a
        handler's (`on_error`), through the request's `response_url` when it has one."""

        async def run() -> None:
            try:
                await work
            except Exception as error:
                url = (body or {}).get("response_url")
                await on_error(error, body, AsyncRespond(response_url=url) if url else None)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Wait for the work handed on so far (a redraw, a reply), `timeout` seconds at most."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


async def on_error(error: Exception, body: dict, respond) -> None:
    """The app's error handler: log with the traceback; tell the person, echoing what they
    sent so nothing is lost."""
    logger.error("Slack request failed: %s", error, exc_info=error)
    typed = (body or {}).get("text") or ((body or {}).get("event") or {}).get("text")
    echo = f" What you sent: `{kit.escape(typed)[:500]}`." if typed else ""
    told = failure_message(error)  # the core's rule: "send it again" only when it may pass
    message = f"Sorry, {told[:1].lower()}{told[1:]}{echo}"
    if respond is not None and (body or {}).get("response_url"):
        try:
            await respond(text=message, response_type="ephemeral", replace_original=False)
        except Exception:
            logger.exception("Could not tell the person about the error")


@dataclass(frozen=True)
class Listening:
    """The app's parts the listeners use (built once, in `bot.adapters.slack.app`)."""

    service: IntegrityCheck
    messenger: SlackMessenger
    commands: Commands
    checkins: CheckinRedraws
    home: AppHome
    #: Runs a coroutine after the handler has returned, its failure told like a handler's.
    after_ack: AfterAck
    #: Threads for the work an ack waits for (saving a click), so background work (redraws,
    #: summaries) never queues in front of it.
    record_pool: ThreadPoolExecutor

    def workspace(self, team: str | None) -> str:
        return team or self.messenger.team_id

    def person(self, user_id: str, name: str, team: str | None) -> Person:
        """The person behind a request, met (as frontline) if new; configured roles applied."""
        person, _ = self.service.meet(
            PLATFORM,
            self.workspace(team),
            user_id,
            name,
            grant=self.messenger.grant_for(user_id),
            rename=False,
        )
        return person


def payload_person(body: dict) -> tuple[str, str, str | None]:
    """(user id, name, workspace) of whoever clicked or submitted (an interaction payload)."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return user["id"], user.get("name") or user.get("username") or "", team
