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
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from bot.core.domain import Person

T = TypeVar("T")


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


def _hmac(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def hidden_message(floor: int) -> str:
    """What the output says in place of a group under the floor."""
    return f"fewer than {floor} answers: hidden to keep them anonymous"


def apply_floor(
    items: Iterable[T], group_of: Callable[[T], Hashable], floor: int
) -> tuple[list[T], set[Hashable]]:
    """Keep items whose group has at least `floor` members; return them and the hidden groups."""
    items = list(items)
    sizes = Counter(group_of(item) for item in items)
    hidden = {group for group, size in sizes.items() if size < floor}
    return [item for item in items if group_of(item) not in hidden], hidden
