"""Button clicks: a rating or "Add why" on a check-in, "Answer privately" on a round's channel
post or the App Home, and the App Home's "New summary".

A rating is recorded before the click is acknowledged (within
`RECORD_BEFORE_ACK_SECONDS`, or it is acknowledged anyway and the write still lands), so
an ack means saved; the message is redrawn after the ack (`bot.adapters.slack.checkins`).
The other buttons are acknowledged at once and open their modal, or draw the App Home,
after the ack.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.slack import blocks as kit
from bot.adapters.slack.listeners.context import Listening, payload_person
from bot.adapters.slack.messenger import PLATFORM
from bot.core.domain import Person, Round
from bot.core.errors import IntegrityError

#: A click is acknowledged within this many seconds even if the database is slow.
RECORD_BEFORE_ACK_SECONDS = 2.0

T = TypeVar("T")


class Actions:
    """The listeners of the app's buttons."""

    def __init__(self, ctx: Listening) -> None:
        self.ctx = ctx

    # -- a rating on a check-in ------------------------------------------------------------

    async def on_rate(self, ack, body: dict, action: dict, respond) -> None:
        value = json.loads(action["value"])
        user_id, name, team = payload_person(body)
        service = self.ctx.service

        def record() -> tuple[Person, Round]:
            # One read and one write (`tests/adapters/slack/test_app.py` counts them).
            person, round_, _ = service.record_answer_from(
                PLATFORM, self.ctx.workspace(team), user_id, value["question"],
                round_id=int(value["round"]), display_name=name,
                grant=self.ctx.messenger.grant_for(user_id), rating=int(value["rating"]),
                source="slack",
            )  # fmt: skip
            return person, round_

        saving = await before_ack(record, ack, self.ctx.record_pool)
        self.ctx.after_ack(self.rated(saving, body, respond), body)

    async def rated(self, saving: asyncio.Future, body: dict, respond) -> None:
        """After a rating's ack: say why it was refused, or redraw the message it was on."""
        try:
            person, round_ = await saving
        except IntegrityError as error:
            await respond(text=str(error), response_type="ephemeral", replace_original=False)
            return
        container = body.get("container") or {}
        on_message = container.get("type") == "message"
        await self.ctx.checkins.redraw(
            person,
            round_,
            container.get("channel_id"),
            container.get("message_ts"),
            response_url=body.get("response_url") if on_message else None,
        )

    # -- "Add why" and "Answer privately": modals ------------------------------------------

    async def on_why(self, ack, body: dict, action: dict, client) -> None:
        await ack()
        self.ctx.after_ack(self.open_why(body, action, client), body)

    async def open_why(self, body: dict, action: dict, client) -> None:
        value = json.loads(action["value"])
        user_id, name, team = payload_person(body)
        container = body.get("container") or {}
        service = self.ctx.service

        def load():
            person = self.ctx.person(user_id, name, team)
            round_ = service.round(int(value["round"]))
            question = service.question(value["question"])
            answer = service.my_answers(person, round_).get(question.id)
            return round_, question, answer

        round_, question, answer = await asyncio.to_thread(load)
        message = None
        if container.get("channel_id") and container.get("message_ts"):
            message = {"channel": container["channel_id"], "ts": container["message_ts"]}
        await client.views_open(
            trigger_id=body["trigger_id"], view=kit.why_modal(round_, question, answer, message)
        )

    async def on_answer_privately(self, ack, body: dict, action: dict, client) -> None:
        await ack()
        self.ctx.after_ack(self.open_answers(body, action, client), body)

    async def open_answers(self, body: dict, action: dict, client) -> None:
        value = json.loads(action["value"])
        user_id, name, team = payload_person(body)
        service = self.ctx.service

        def load() -> dict:
            person = self.ctx.person(user_id, name, team)
            round_ = service.round(int(value["round"]))
            if not round_.is_open:
                return kit.notice_modal(
                    f"Round {round_.number} is closed",
                    "Answers can no longer change. The next round will ask again.",
                )
            questions = service.questions_for(person, round_)
            return kit.answer_modal(round_, questions, service.my_answers(person, round_))

        await client.views_open(trigger_id=body["trigger_id"], view=await asyncio.to_thread(load))

    # -- the App Home's "New summary" ------------------------------------------------------

    async def on_home_summary(self, ack, body: dict) -> None:
        await ack()
        self.ctx.after_ack(self.refresh_home_summary(body), body)

    async def refresh_home_summary(self, body: dict) -> None:
        person = await asyncio.to_thread(self.ctx.person, *payload_person(body))
        await self.ctx.home.refresh_summary(person)


async def before_ack(fn: Callable[[], T], ack, pool: ThreadPoolExecutor) -> asyncio.Future[T]:
    """Run `fn` in a worker thread and acknowledge when it is done, or after
    `RECORD_BEFORE_ACK_SECONDS` at most (the write still completes: a slow database never
    makes Slack show an error). Returns `fn`'s future, done unless the ack had to go first."""
    task = asyncio.get_running_loop().run_in_executor(pool, fn)
    await asyncio.wait({task}, timeout=RECORD_BEFORE_ACK_SECONDS)
    await ack()
    return task


def register(app: AsyncApp, ctx: Listening) -> None:
    actions = Actions(ctx)
    app.action(re.compile(kit.RATE_ACTION_PATTERN))(actions.on_rate)
    app.action(kit.WHY_ACTION)(actions.on_why)
    app.action(kit.ANSWER_PRIVATELY_ACTION)(actions.on_answer_privately)
    app.action(kit.HOME_SUMMARY_ACTION)(actions.on_home_summary)
