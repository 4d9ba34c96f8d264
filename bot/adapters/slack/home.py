"""The App Home tab: a person's open questions, the response rate, and for executives the
latest summary (kept per workspace, refreshed by the tab's "New summary" button).

It is published after the ack (`listeners/events.py` when the tab opens,
`listeners/views.py` after a form, `listeners/actions.py` for "New summary") through a
client that waits out rate limits, since nobody is waiting on it.
"""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import blocks as kit
from bot.core.domain import Person
from bot.core.errors import IntegrityError
from bot.core.privacy import privacy_reply
from bot.core.replies import Note, Reply
from bot.core.service import IntegrityCheck
from bot.core.summaries import summary_reply

#: Ends the first screen of a summary on the App Home: where the rest is.
MORE_IN_CHAT = "More (every question's figures, every theme): `/integrity summary last`."


class AppHome:
    """Draws and publishes each person's App Home."""

    def __init__(self, service: IntegrityCheck, client: AsyncWebClient) -> None:
        self.service = service
        self.client = client
        #: The latest summary shown to a workspace's executives: (scope label, blocks).
        self._summaries: dict[str, tuple[str, list[dict]]] = {}

    async def publish(self, person: Person) -> None:
        """Draw the person's App Home as it is now and publish it (`views.publish`)."""
        view = await asyncio.to_thread(self.view, person)
        await self.client.views_publish(user_id=person.user_id, view=view)

    def view(self, person: Person) -> dict:
        """The person's App Home: what is open for them, for executives the summary, and for
        everyone the privacy text (`bot.core.privacy`)."""
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
            privacy=kit.reply_blocks(privacy_reply(self.service.settings.floor)),
        )

    async def refresh_summary(self, person: Person) -> None:
        """ "New summary": summarise the last round for the person's workspace and show it (a
        refusal or an error is shown in its place)."""

        def build() -> None:
            self.service.require_executive(person, "read summaries")
            scope = self.service.scope(person, "last")
            reply = summary_reply(self.service, scope)
            first = Reply(reply.first_screen)
            if reply.more:
                first.add(Note(MORE_IN_CHAT))
            shown = kit.reply_blocks(first)
            self._summaries[person.workspace] = (scope.label, shown)

        try:
            await asyncio.to_thread(build)
        except IntegrityError as error:
            self._summaries[person.workspace] = ("", kit.reply_blocks(Reply([Note(str(error))])))
        await self.publish(person)
