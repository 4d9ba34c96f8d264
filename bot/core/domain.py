"""The core's nouns: person, question, round, answer, customer answer, proposal.

Plain frozen dataclasses. The store turns rows into these; the service and
adapters pass them around. Nothing here touches SQLite or a chat platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Role = Literal["executive", "frontline"]
ROLES: tuple[Role, Role] = ("executive", "frontline")


@dataclass(frozen=True)
class Person:
    id: int
    platform: str
    workspace: str
    user_id: str
    display_name: str
    role: Role
    is_admin: bool = False
    team: str | None = None
    tz: str | None = None

    @property
    def key(self) -> str:
        """Platform-wide identity; the input of every pseudonym."""
        return f"{self.platform}:{self.workspace}:{self.user_id}"

    @property
    def is_executive(self) -> bool:
        return self.role == "executive"

    @property
    def recipient(self) -> str:
        """This person's direct messages as a summary post's recipient."""
        return direct_recipient(self.user_id)


def direct_recipient(user_id: str) -> str:
    """A summary post's recipient that is one person's direct messages, "@<user id>", as
    `summary_posts.posted_to` records it (a channel is its own id or "#name")."""
    return f"@{user_id}"


def direct_user(recipient: str) -> str | None:
    """The user id of a recipient that is someone's direct messages; None for a channel."""
    return recipient[1:] if recipient.startswith("@") else None


@dataclass(frozen=True)
class CustomerVersion:
    """A question as customers are asked it: their own wording and labels, the same 1-5
    scale, so their answers line up beside the executives' and the frontline's."""

    text: str
    low_label: str
    high_label: str
    why_prompt: str


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    theme: str
    low_label: str
    high_label: str
    why_prompt: str
    roles: tuple[Role, ...] = ROLES
    anchor: bool = False  # asked in every round, so it has a trend
    source: str = "bank"  # "bank", "proposal" or "follow-up"
    customer: CustomerVersion | None = None  # None: never put to customers

    def asked_of(self, role: Role) -> bool:
        return role in self.roles

    @property
    def text_only(self) -> bool:
        """Answered in words only: an approved proposal whose admin chose no scale (a bank
        question always has its scale, even if an old database lost the ends' words)."""
        return self.source == "proposal" and not (self.low_label and self.high_label)


@dataclass(frozen=True)
class Round:
    id: int
    number: int
    opened_at: datetime
    closes_at: datetime
    status: Literal["open", "closed"]
    question_ids: tuple[str, ...] = field(default=())
    closed_at: datetime | None = None
    week: str | None = None  # the ISO week of a scheduled round, e.g. "2026-W48"

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class Answer:
    id: int
    round_id: int
    question_id: str
    role: Role
    team: str | None
    rating: int | None
    text: str
    answered_on: date
    on_record: bool = False
    customer_prediction: int | None = None  # what they think customers would answer, 1-5
    #: On the answer a write returns: the write moved it on or off the record, replacing
    #: what was said in the other mode (`Store.upsert_answers` keeps nothing of that).
    moved: bool = False


CustomerSource = Literal["import", "survey"]


@dataclass(frozen=True)
class CustomerAnswer:
    """What one customer said to one question: no identity, only the day and a segment."""

    id: int
    question_id: str
    rating: int | None  # on the bank's 1-5 scale
    comment: str
    answered_on: date
    source: CustomerSource
    segment: str | None = None
    round_id: int | None = None


@dataclass(frozen=True)
class CustomerSaid:
    """A customer answer on its way in (the survey page, the demo): what is stored, no more."""

    question_id: str
    rating: int | None
    comment: str
    answered_on: date
    segment: str | None = None


@dataclass(frozen=True)
class Proposal:
    id: int
    text: str
    from_role: Role
    for_role: Role
    status: Literal["pending", "approved", "rejected"]
    created_on: date
    question_id: str | None = None
