"""Anonymity: pseudonyms and the anonymity floor.

A pseudonym is an HMAC-SHA256 of the person's platform identity with a secret
key, taken per round: the person's own client can find their answer again
(to edit or forget it) by recomputing it, while nobody reading the database,
an export or a summary can link an answer to a person, or two answers of one
person across rounds, without the key.

The anonymity floor: nothing (quote, rating average, count split, summary) is
shown for a group of answers smaller than the floor. A group is question × role
× round, and × team when the output is split or filtered by team.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from bot.core.domain import Answer, Person, Role
from bot.core.errors import FloorError

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
#: A group of answers: round id × question id × role.
Group = tuple[int, str, Role]

#: The product never shows anything resting on fewer answers than this, whatever is set.
LEAST_FLOOR = 3
#: The floor when none is set.
DEFAULT_FLOOR = 5


def pseudonym(secret: bytes, person: Person, round_id: int) -> str:
    """The person's pseudonym for one round's answers."""
    return _hmac(secret, f"answer|{round_id}|{person.key}")


def proposal_pseudonym(secret: bytes, person: Person) -> str:
    """The person's pseudonym on questions they propose."""
    return _hmac(secret, f"proposal|{person.key}")


def event_key(secret: bytes, key: str) -> str:
    """What is kept of a platform event id for de-duplication: a keyed hash, since some ids
    (Teams: conversation and message time) would otherwise name a person and a moment."""
    return _hmac(secret, f"event|{key}")


def seal_key(secret: bytes) -> bytes:
    """The 256-bit key that seals answers at rest (`bot.store.seal`): an HMAC-SHA256 of the
    secret under its own label, apart from the pseudonyms' and event keys' uses of it."""
    return hmac.new(secret, b"answer-seal", hashlib.sha256).digest()


def _hmac(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Floor:
    """The anonymity floor: the fewest answers any figure, quote or row may rest on.

    The one place the floor is parsed (never below `LEAST_FLOOR`), applied, and
    explained to the reader; every surface and the analysis engine go through it.
    """

    size: int = DEFAULT_FLOOR

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise FloorError(f"The anonymity floor must be a whole number, not {self.size!r}.")
        if self.size < LEAST_FLOOR:
            raise FloorError(
                f"The anonymity floor is {self.size}, but it is never below {LEAST_FLOOR}: "
                "smaller groups would let people guess who wrote what."
            )

    @classmethod
    def parse(cls, value: str | int | None, *, setting: str = "INTEGRITY_MIN_GROUP") -> Floor:
        """The floor a setting or option names (`None` or empty: the default, 5)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return cls()
        try:
            size = int(value)
        except (TypeError, ValueError):
            raise FloorError(
                f"{setting} must be a whole number, {LEAST_FLOOR} or more (it is {value!r}); "
                f"the default is {DEFAULT_FLOOR}."
            ) from None
        try:
            return cls(size)
        except FloorError as error:
            raise FloorError(f"{error} Set {setting} to {LEAST_FLOOR} or more.") from None

    def __int__(self) -> int:
        return self.size

    def hides(self, count: int) -> bool:
        """True for a group of `count` answers the floor keeps out of sight (an empty one
        has nothing to hide)."""
        return 0 < count < self.size

    @property
    def sentence(self) -> str:
        """What the output says in place of a group under the floor."""
        return f"fewer than {self.size} answers: hidden to keep them anonymous"

    def apply(
        self, items: Iterable[T], group_of: Callable[[T], Hashable]
    ) -> tuple[list[T], set[Hashable]]:
        """Keep the items whose group is at least the floor; return them and the hidden groups."""
        items = list(items)
        sizes = Counter(group_of(item) for item in items)
        hidden = {group for group, size in sizes.items() if self.hides(size)}
        return [item for item in items if group_of(item) not in hidden], hidden

    def suppress(self, parts: Mapping[K, int]) -> set[K]:
        """The parts of one group to hide, so that nothing under the floor can be worked out.

        Complementary suppression, the standard rule of statistical disclosure control:
        a part under the floor is hidden (primary); then, while the hidden parts together
        hold some answers but fewer than the floor, the smallest part still shown is
        hidden too (secondary). Whatever is shown, the rest of the group (the whole minus
        every part shown) is then empty or at least the floor, so no subtraction of one
        view from another isolates fewer answers than the floor.
        """
        hidden = {part for part, size in parts.items() if self.hides(size)}
        shown = sorted(
            (part for part, size in parts.items() if size and part not in hidden),
            key=lambda part: (parts[part], str(part)),
        )
        while shown and self.hides(sum(parts[part] for part in hidden)):
            hidden.add(shown.pop(0))
        return hidden

    def release(
        self, answers: Iterable[Answer], team: str | None = None
    ) -> tuple[list[Answer], set[Group]]:
        """What a view of `answers` (every team, or one) may show, and which groups may
        carry their team labels.

        `answers` must be every answer of the rounds viewed, of every team: whether one
        team's part may be shown depends on the rest of its group. A group (round ×
        question × role) under the floor is never shown. A team's part of a group is
        shown only when `suppress` leaves it, so the whole minus the shown teams is empty
        or at least the floor, and the one Sales answer never falls out of "all teams"
        minus "Support". In a view of every team, a group's rows carry their team labels
        only when every team part of it could be shown: otherwise the blanks would be the
        small team's.
        """
        groups: dict[Group, list[Answer]] = defaultdict(list)
        for answer in answers:
            groups[(answer.round_id, answer.question_id, answer.role)].append(answer)
        wanted = None if team is None else team_key(team)
        released: list[Answer] = []
        labelled: set[Group] = set()
        for group, members in groups.items():
            if self.hides(len(members)):
                continue
            parts = Counter(team_key(a.team) for a in members)
            hidden = self.suppress(parts)
            if wanted is None:
                released += members
                if not hidden:
                    labelled.add(group)
            elif parts[wanted] and wanted not in hidden:
                released += [a for a in members if team_key(a.team) == wanted]
                labelled.add(group)
        return released, labelled


@dataclass(frozen=True)
class Response:
    """How many of a role (or of everyone) were asked and answered in a round.

    `answered` is None when the floor keeps the count out of sight (see
    `IntegrityCheck.response_rate`); `str()` says so in words."""

    asked: int
    answered: int | None
    floor: Floor
    under_floor: bool = True  # hidden because the count itself is under the floor

    def __str__(self) -> str:
        """`3 of 8`, or `fewer than 5 of 8`; `some` alone when the count is hidden and no
        check-in was sent (every answer came without one: "of 0" would be false, and "of 3"
        the hidden count)."""
        if self.count_alone:
            return self.count
        return f"{self.count} of {self.asked}"

    @property
    def count_alone(self) -> bool:
        """Whether the count is shown without "of N": it is hidden and nobody was asked."""
        return self.answered is None and not self.asked

    @property
    def count(self) -> str:
        """The answered count as shown: `3`, `fewer than 5`, or `some` (a total hiding a
        small count, or of fewer than 5 asked)."""
        if self.answered is not None:
            return str(self.answered)
        if self.under_floor and self.asked >= self.floor.size:
            return f"fewer than {self.floor.size}"
        return "some"

    @property
    def fraction(self) -> str:
        """`3/8`, `<5/8` or `some/28`, for a compact line."""
        count = self.count
        if self.count_alone:
            return count
        return f"{count.replace('fewer than ', '<')}/{self.asked}"

    @property
    def percent(self) -> str:
        """`38%`, or `-` when the count is hidden or nobody was asked."""
        if self.answered is None or not self.asked:
            return "-"
        return f"{100 * self.answered / self.asked:.0f}%"


def team_key(team: str | None) -> str:
    """A team as the floor groups it: case does not make a team (the store matches it so)."""
    return (team or "").casefold()
