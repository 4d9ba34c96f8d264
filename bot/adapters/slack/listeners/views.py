"""Modal submissions: the "Add why" modal of one question, and the round's form ("Answer
privately"), all of whose answers are saved in one transaction. The answers are recorded
before the ack, so an error (the round closed, an answer too long) keeps the modal open
with what was typed and says what to do, and nothing of the form is saved; the check-in
and the App Home are redrawn after the ack.
"""

from __future__ import annotations

import asyncio
import json
import logging

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.slack import blocks as kit
from bot.adapters.slack.listeners.context import Listening, payload_person
from bot.core.domain import Person, Round
from bot.core.errors import IntegrityError
from bot.core.service import KEEP

logger = logging.getLogger(__name__)


class Views:
    """The listeners of the app's modals."""

    def __init__(self, ctx: Listening) -> None:
        self.ctx = ctx

    async def on_why_submitted(self, ack, body: dict, view: dict) -> None:
        meta = json.loads(view["private_metadata"])
        text = view["state"]["values"]["why"]["text"].get("value") or ""
        user_id, name, team = payload_person(body)
        service = self.ctx.service

        def record() -> tuple[Person, Round]:
            person = self.ctx.person(user_id, name, team)
            round_ = service.round(int(meta["round"]))
            service.record_answer(
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
        self.ctx.after_ack(
            self.ctx.checkins.redraw(person, round_, message.get("channel"), message.get("ts")),
            body,
        )

    async def on_answers_submitted(self, ack, body: dict, view: dict) -> None:
        meta = json.loads(view["private_metadata"])
        values = view["state"]["values"]
        user_id, name, team = payload_person(body)
        service = self.ctx.service

        def record() -> tuple[Person, Round, int]:
            person = self.ctx.person(user_id, name, team)
            round_ = service.round(int(meta["round"]))
            answers: dict[str, tuple] = {}
            for question in service.questions_for(person, round_):
                chosen = (values.get(f"rating:{question.id}", {}).get("rating") or {}).get(
                    "selected_option"
                )
                why = (values.get(f"why:{question.id}", {}).get("text") or {}).get("value")
                if chosen is not None or why:
                    answers[question.id] = (
                        int(chosen["value"]) if chosen else KEEP,
                        why if why else KEEP,
                    )
            if answers:  # the whole form in one transaction: saved whole or not at all
                service.record_answers(person, round_, answers, source="slack")
            return person, round_, len(answers)

        try:
            person, round_, saved = await asyncio.to_thread(record)
        except IntegrityError as error:
            first = next(iter(values), "")
            await ack(response_action="errors", errors={first: str(error)})
            return
        await ack()
        logger.info("Saved %d answer(s) from the round %s modal", saved, round_.number)

        async def show() -> None:
            await self.ctx.checkins.redraw(person, round_)
            await self.ctx.home.publish(person)

        self.ctx.after_ack(show(), body)


def register(app: AsyncApp, ctx: Listening) -> None:
    views = Views(ctx)
    app.view(kit.WHY_VIEW)(views.on_why_submitted)
    app.view(kit.ANSWER_VIEW)(views.on_answers_submitted)
