"""The Teams bot's outbound half: everything it sends without being asked.

`TeamsMessenger` holds the connection to the Teams connector service and sends
into a person's stored 1:1 conversation (`continue_conversation`): a round's
check-in card (claim → send → record, via `IntegrityCheck.deliver`), reminders,
and closed rounds' summaries. It is the scheduler's Teams implementation of
`bot.core.messenger.Messenger`, called from the scheduler's thread; sends hop
onto the bot's event loop. `TeamsBot` (bot.py, the inbound half) builds on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ConversationReference,
)
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ClaimsIdentity, Connections, TurnContext

from bot.adapters.teams import cards, files
from bot.adapters.teams.config import TeamsSettings
from bot.core.domain import Person, Question, Round, direct_user
from bot.core.replies import Reply, counted
from bot.core.service import DeliveryReport, IntegrityCheck

logger = logging.getLogger(__name__)

PLATFORM = "teams"
#: How long a proactive send may take before the delivery is marked failed and retried.
SEND_TIMEOUT_SECONDS = 60


class TeamsMessenger:
    """Sends to Teams people in their 1:1 chats with the bot; the scheduler's messenger."""

    def __init__(
        self,
        service: IntegrityCheck,
        settings: TeamsSettings,
        *,
        connections: Connections | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.auth_configuration = settings.auth_configuration()
        # MSAL gets the bot's own tokens for calls to the connector; tests pass a
        # connection manager whose token provider needs no network.
        self.connections = connections or MsalConnectionManager(
            connections_configurations={"SERVICE_CONNECTION": self.auth_configuration}
        )
        self.adapter = CloudAdapter(connection_manager=self.connections)
        self.pending_files = files.PendingFiles()
        self.loop: asyncio.AbstractEventLoop | None = None

    def reply_activities(self, reply: Reply, person: Person) -> list[Activity]:
        """A core reply as Teams messages: text, cards under the size limit, file offers."""
        if cards.is_plain(reply):
            return [Activity(type=ActivityTypes.message, text=plain_text(reply))]
        outgoing = [
            Activity(
                type=ActivityTypes.message,
                attachments=[Attachment.model_validate(cards.attachment(content))],
                summary=reply.as_text()[:200],
            )
            for content in cards.reply_cards(reply)
        ]
        for file in reply.files:
            offer = self.pending_files.offer(file, person.id)
            outgoing.append(
                Activity(type=ActivityTypes.message, attachments=[Attachment.model_validate(offer)])
            )
        return outgoing

    # -- the check-in card ----------------------------------------------------------

    async def checkin_card(
        self,
        person: Person,
        round_: Round,
        *,
        message: str | None = None,
        color: str = "Good",
        user_id: str | None = None,
    ) -> dict:
        questions, answers = await asyncio.to_thread(self._questions_and_answers, person, round_)
        return cards.checkin_card(
            round_,
            questions,
            answers,
            floor=self.service.settings.min_group,
            user_id=user_id,
            message=message,
            message_color=color,
        )

    def _questions_and_answers(self, person: Person, round_: Round) -> tuple[list, dict]:
        round_ = self.service.round(round_.id)  # it may have closed since
        return self.service.questions_for(person, round_), self.service.my_answers(person, round_)

    async def checkin_activity(
        self, person: Person, round_: Round, user_id: str | None = None
    ) -> Activity:
        content = await self.checkin_card(person, round_, user_id=user_id)
        return Activity(
            type=ActivityTypes.message,
            attachments=[Attachment.model_validate(cards.attachment(content))],
            summary=f"Round {round_.number}: your integrity check questions",
        )

    # -- proactive check-ins ----------------------------------------------------------

    def reachable_people(self, workspace: str | None = None) -> list[Person]:
        """Teams people the bot has a 1:1 conversation with (in one tenant, or all)."""
        return [
            p
            for p in self.service.people(PLATFORM, workspace)
            if self.service.conversation_ref(p) is not None
        ]

    async def deliver_round(
        self, round_: Round, people: list[Person] | None = None
    ) -> DeliveryReport:
        """Send the round's check-in card to everyone reachable, each exactly once."""
        self.loop = asyncio.get_running_loop()
        if people is None:
            people = await asyncio.to_thread(self.reachable_people)
        return await asyncio.to_thread(self.service.deliver, round_, people, self.send_round)

    def send_round(self, person: Person, round_: Round, questions: list[Question]) -> str:
        """Post the check-in to the person (from a worker thread); the Teams message id."""
        return self._on_loop(self._send_checkin(person, round_))

    async def _send_checkin(self, person: Person, round_: Round) -> str:
        reference = await asyncio.to_thread(self.service.conversation_ref, person) or {}
        user_id = (reference.get("user") or {}).get("id")
        outgoing = await self.checkin_activity(person, round_, user_id=user_id)
        return await self.send_proactive(person, [outgoing])

    async def send_proactive(self, person: Person, activities: list[Activity]) -> str:
        """Send activities into the person's stored conversation; the last message id.

        Raises if any of them was not sent, so the caller can retry."""
        data = await asyncio.to_thread(self.service.conversation_ref, person)
        if data is None:
            raise LookupError(f"No Teams conversation with {person.display_name} yet.")
        sent: list[str] = []

        async def send(context: TurnContext) -> None:
            for outgoing in activities:
                response = await context.send_activity(outgoing)
                sent.append(response.id if response and response.id else "")

        await self.continue_in(ConversationReference.model_validate(data), send)
        return sent[-1] if sent else ""

    async def continue_in(
        self, reference: ConversationReference, work: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        """Run `work` in a proactive turn in the conversation of `reference`, and raise
        what it raised.

        The error is caught inside the turn and raised here: left to the adapter, its
        default turn-error handler would post "Exception caught : …" (the connector's URL
        included) into the conversation and, if that post went through, swallow the
        error, so a failed check-in or summary would be recorded as sent."""
        failed: list[Exception] = []

        async def turn(context: TurnContext) -> None:
            try:
                await work(context)
            except Exception as error:
                failed.append(error)

        continuation = reference.get_continuation_activity()
        if self.settings.anonymous:
            # No app credentials: the connector is called without a token (local tests only).
            await self.adapter.continue_conversation_with_claims(
                ClaimsIdentity(), continuation, turn
            )
        else:
            await self.adapter.continue_conversation(self.settings.client_id, continuation, turn)
        if failed:
            raise failed[0]

    def _on_loop(self, coroutine: Any) -> Any:
        """Run a coroutine on the bot's event loop from a worker thread and wait for it."""
        if self.loop is None:
            coroutine.close()
            raise RuntimeError("The Teams bot is not serving yet: no event loop to send from.")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=SEND_TIMEOUT_SECONDS)

    # -- the scheduler's messenger (bot.core.messenger.Messenger), called from its thread --

    platform = PLATFORM

    def people(self, workspace: str) -> list[Person]:
        """Everyone in the tenant the bot can reach; the others are listed in `status`."""
        return self.reachable_people(workspace)

    def find_sent(self, person: Person, round_: Round) -> str | None:
        # The connector cannot list a bot's past messages, so an interrupted send is
        # retried; at worst the person sees the same card twice, never a lost check-in.
        return None

    def remind(self, person: Person, round_: Round, unanswered: list[Question]) -> None:
        waits = "waits" if len(unanswered) == 1 else "wait"
        nudge = Activity(
            type=ActivityTypes.message,
            text=f"A reminder: {counted(len(unanswered), 'question')} of round "
            f"{round_.number} {waits} for you. It takes two minutes, and it is anonymous.",
        )

        async def send() -> str:
            card = await self.checkin_activity(person, round_)
            return await self.send_proactive(person, [nudge, card])

        self._on_loop(send())

    def summary_recipients(self, workspace: str, to: str) -> list[str]:
        """Who a summary reaches: `@<user id>` for each executive of the tenant the bot has
        a 1:1 chat with (the others are listed in `status`, and get the next one once
        they open Integrity Check).

        Teams posts summaries to executives only. Any other destination (a channel set
        with `schedule … summary CHANNEL`) is logged and the summary goes to the
        executives instead: they are who it is for, and refusing would leave it owed
        and retried every tick without ever reaching anyone."""
        if to != "executives":
            logger.warning(
                "Teams posts summaries to executives only, not to %r: posting to them", to
            )
        return [p.recipient for p in self.reachable_people(workspace) if p.is_executive]

    def post_summary(self, workspace: str, recipient: str, reply: Reply) -> None:
        """A closed round's summary to one executive (`@<user id>` from
        `summary_recipients`) in their 1:1 chat; raises if it was not sent (unknown
        person, no chat, the connector refused), and the scheduler retries that one."""
        user_id = direct_user(recipient)
        if not user_id:
            raise ValueError(
                f"Not one recipient: {recipient!r}; post to each of summary_recipients()."
            )
        person = self.service.person(PLATFORM, workspace, user_id)
        if person is None:
            raise LookupError(f"No Teams person {user_id!r} in tenant {workspace!r}.")
        self._on_loop(self.send_proactive(person, self.reply_activities(reply, person)))

    def _round_started(self, round_: Round) -> str:
        """After `ask` (in a worker thread): send the new round to everyone reachable."""
        reachable = self.reachable_people()
        if self.loop is None:
            return "The round is open; Teams check-ins go out when the bot is serving."
        future = asyncio.run_coroutine_threadsafe(self.deliver_round(round_), self.loop)
        future.add_done_callback(_log_failure)
        return (
            f"Sending the check-in to {len(reachable)} people in Teams. `status` lists "
            "anyone the bot cannot reach yet."
        )


def plain_text(reply: Reply) -> str:
    return cards.text_for_message(reply.as_text())


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("Teams delivery failed", exc_info=future.exception())
