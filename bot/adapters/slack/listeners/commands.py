"""`/integrity …`: the shared command words (`bot.core.commands.Commands`) as a slash command.

It is acknowledged at once: a slow word with a line saying it is working on it, and for a
summary or trend how many answers it is analysing (a count, ready before the ack; the
analysis runs after it). The reply follows through `response_url`, or in the person's DM
when it carries a file or is too long for a few messages.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.slack import blocks as kit
from bot.adapters.slack.listeners.context import Listening
from bot.core.domain import Person
from bot.core.replies import Reply

logger = logging.getLogger(__name__)

#: Words whose reply can take a while (the analysis engine, charts, files).
SLOW_WORDS = {"summary", "trend", "export", "ask"}
#: response_url accepts five responses; longer replies go to the DM instead.
MAX_RESPONSES = 4
#: Ends a first screen answered through `response_url` when the rest is in the DM's thread.
MORE_IN_DM = "More in the thread of this summary in our direct messages: <#{dm}>."
#: How long the ack of a summary or trend waits at most for its count of answers.
PROGRESS_BEFORE_ACK_SECONDS = 0.5


class SlashCommand:
    """The `/integrity` listener."""

    def __init__(self, ctx: Listening) -> None:
        self.ctx = ctx

    async def on_command(self, ack, body: dict, respond) -> None:
        text = (body.get("text") or "").strip()
        word = text.split()[0].lower() if text else "help"
        if word in SLOW_WORDS:
            working = f"Working on `/integrity {kit.escape(text)}`"
            progress = await self.progress(body, text)
            await ack(
                response_type="ephemeral",
                text=f"{working}. {progress}" if progress else f"{working}…",
            )
        else:
            await ack()
        self.ctx.after_ack(self.run_command(body, text, respond), body)

    async def progress(self, body: dict, text: str) -> str | None:
        """What a summary or trend is about to analyse ("Analysing 76 answers from round
        3…"): a count, no analysis, and only if it is ready within
        `PROGRESS_BEFORE_ACK_SECONDS` (the ack never waits longer for it)."""

        def count() -> str | None:
            person = self.ctx.person(
                body["user_id"], body.get("user_name", ""), body.get("team_id")
            )
            return self.ctx.commands.progress(person, text)

        task = asyncio.ensure_future(asyncio.to_thread(count))
        done, _ = await asyncio.wait({task}, timeout=PROGRESS_BEFORE_ACK_SECONDS)
        if not done:
            task.add_done_callback(lambda late: late.exception())  # told by the reply
            return None
        if task.exception() is not None:  # the command itself runs into it and tells it
            logger.warning("Could not count the answers for %r: %s", text, task.exception())
            return None
        return task.result()

    async def run_command(self, body: dict, text: str, respond) -> None:
        person = await asyncio.to_thread(
            self.ctx.person, body["user_id"], body.get("user_name", ""), body.get("team_id")
        )
        reply = await asyncio.to_thread(self.ctx.commands.handle, person, text)
        await self.send_reply(person, reply, respond=respond, channel=body.get("channel_id"))

    async def send_reply(
        self, person: Person, reply: Reply, *, respond=None, channel: str | None = None
    ) -> None:
        """Answer a person: through `response_url` when short and file-less, else their DM. A
        reply with more behind its fold (a summary) shows its first screen here, and goes
        whole to the DM, with the rest in the thread there (what is said here vanishes
        when Slack reloads; the DM keeps it)."""
        messenger = self.ctx.messenger
        if respond is not None and not reply.files and reply.more:
            dm = await asyncio.to_thread(messenger.dm_channel, person.user_id)
            first, more = kit.reply_parts(reply, MORE_IN_DM.format(dm=dm))
            if more and len(first) <= MAX_RESPONSES:
                await _respond_each(respond, first, private=reply.private)
                await asyncio.to_thread(messenger.send_reply, dm, reply)
                return
        messages = kit.reply_messages(reply)
        if respond is not None and not reply.files and len(messages) <= MAX_RESPONSES:
            await _respond_each(respond, messages, private=reply.private)
            return
        dm = await asyncio.to_thread(messenger.dm_channel, person.user_id)
        await asyncio.to_thread(messenger.send_reply, dm, reply)
        if respond is not None and channel != dm:
            what = "with a file" if reply.files else "long"
            await respond(
                text=f"The answer is {what}, so I sent it to our direct messages: <#{dm}>.",
                response_type="ephemeral",
                replace_original=False,
            )


async def _respond_each(respond, messages: list[list[dict]], *, private: bool) -> None:
    """Post each message through the command's `response_url`, in order."""
    for blocks in messages:
        await respond(
            blocks=blocks,
            text=kit.fallback_text(blocks),
            response_type="ephemeral" if private else "in_channel",
            replace_original=False,
        )


def register(app: AsyncApp, ctx: Listening) -> None:
    app.command("/integrity")(SlashCommand(ctx).on_command)
