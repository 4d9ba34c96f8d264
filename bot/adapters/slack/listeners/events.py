"""Events API: messages (answers in a round post's thread, commands in the DM with the bot)
and `app_home_opened`. Slack wants events acknowledged at once, so everything here runs
after the ack; each `event_id` is acted on once (`SlackBot`'s dedupe middleware).
"""

from __future__ import annotations

import asyncio
import re

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.slack.listeners.context import Listening
from bot.adapters.slack.messenger import PLATFORM, message_ref
from bot.core.errors import InvalidAnswer, UsageError
from bot.core.service import KEEP

#: A thread answer: `[question number] rating [why…]`, e.g. `2 4 because…` or `4/5 - why`.
THREAD_ANSWER = re.compile(
    r"^\s*(?:(\d{1,2})[.):]?\s+)?([1-5])(?:/5)?(?:\s*[-–—:,.]\s*|\s+|$)(.*)$", re.S
)


class Events:
    """The listeners of Slack's events."""

    def __init__(self, ctx: Listening) -> None:
        self.ctx = ctx

    # -- messages: thread answers and DM commands ------------------------------------------

    async def on_message(self, body: dict, event: dict, client) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, joins, bots (ourselves included)
        self.ctx.after_ack(self.handle_message(body, event, client), body)

    async def handle_message(self, body: dict, event: dict, client) -> None:
        team = body.get("team_id")
        thread_ts = event.get("thread_ts")
        if thread_ts and thread_ts != event.get("ts"):
            await self.on_thread_reply(event, team, client)
        elif event.get("channel_type") == "im":
            person = await asyncio.to_thread(self.ctx.person, event["user"], "", team)
            reply = await asyncio.to_thread(self.ctx.commands.handle, person, event.get("text", ""))
            await asyncio.to_thread(self.ctx.messenger.send_reply, event["channel"], reply)

    async def on_thread_reply(self, event: dict, team: str | None, client) -> None:
        """A reply under a round's channel post: an answer on the record."""
        channel, text = event["channel"], event.get("text") or ""
        service = self.ctx.service
        workspace = team or await asyncio.to_thread(self.ctx.workspace, None)
        parent = message_ref(channel, event["thread_ts"])
        round_ = await asyncio.to_thread(service.round_of_channel_post, PLATFORM, workspace, parent)
        if round_ is None:
            return

        def record() -> str:
            person = self.ctx.person(event["user"], "", workspace)
            questions = service.questions_for(person, round_)
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
            answer = service.record_answer(
                person, question.id, rating=int(found.group(2)), text=why if why else KEEP,
                round_=round_, on_record=True, source="slack-thread",
            )  # fmt: skip
            replaced = (
                " It replaces your private answer to it, whose words are not kept: nothing "
                "you said privately goes on the record."
                if answer.moved
                else ""
            )
            return (
                f"Recorded {answer.rating}/5 for question {number}, *on the record*: you "
                "answered in public, so everyone in this channel sees it and it is marked as "
                f"on the record.{replaced} To answer anonymously, use *Answer privately* on the "
                "round's post."
            )

        try:
            note = await asyncio.to_thread(record)
        except (UsageError, InvalidAnswer) as error:
            note = str(error)
        await client.chat_postEphemeral(
            channel=channel, user=event["user"], thread_ts=event["thread_ts"], text=note
        )

    # -- the App Home ----------------------------------------------------------------------

    async def on_home_opened(self, body: dict, event: dict) -> None:
        if event.get("tab", "home") != "home":
            return

        async def publish() -> None:
            person = await asyncio.to_thread(
                self.ctx.person, event["user"], "", body.get("team_id")
            )
            await self.ctx.home.publish(person)

        self.ctx.after_ack(publish(), body)


def register(app: AsyncApp, ctx: Listening) -> None:
    events = Events(ctx)
    app.event("message")(events.on_message)
    app.event("app_home_opened")(events.on_home_opened)
