"""The Messenger protocol: what the core's scheduler needs from a chat platform.

Each platform adapter (Slack, Teams) implements it, as Errbot's backends implement
`errbot.backends.base.Backend`: the scheduler asks for people, sends check-ins and
reminders, and posts summaries, without knowing which platform it talks to.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.domain import Person, Question, Round
from bot.core.replies import Reply


class Messenger(Protocol):
    """What the scheduler needs from a chat platform.

    A summary goes out in two steps, so that the scheduler can record (and retry) each
    recipient on its own: `summary_recipients` says who a destination reaches, one
    address each, and `post_summary` posts to one of those addresses. See
    `Scheduler._post_summary`.
    """

    platform: str

    def people(self, workspace: str) -> list[Person]:
        """Everyone to ask in this workspace, refreshed from the platform (time zones too)."""
        ...

    def send_round(self, person: Person, round_: Round, questions: list[Question]) -> str:
        """Post the round's questions to the person; return the platform's message id."""
        ...

    def find_sent(self, person: Person, round_: Round) -> str | None:
        """The message id if this round was already posted to the person (crash recovery)."""
        ...

    def remind(self, person: Person, round_: Round, unanswered: list[Question]) -> None:
        """Nudge a person who has not answered yet."""
        ...

    def summary_recipients(self, workspace: str, to: str) -> list[str]:
        """Who a summary for the destination `to` (a schedule's `summary_to`: "executives"
        or a channel) reaches, as addresses for `post_summary`, one per recipient (an
        executive's DM, or the channel). An address must stay the same from one tick to
        the next: it is how a retry knows who already got the summary."""
        ...

    def post_summary(self, workspace: str, recipient: str, reply: Reply) -> None:
        """Post a closed round's summary to one `recipient` from `summary_recipients`, and
        to no one else; raise if it failed, so the scheduler posts it again."""
        ...
