"""Finding a person by what someone typed: a user id, a full name or a first name.

`find_by_name` is how the terminal chat's `/as NAME` and `run_bot.py --user NAME`
pick who you are. It never creates anyone: a name that matches no one is an error
that suggests the closest person, so a typo can neither make a new person nor
silently make you someone else. Case and accents do not count (`aisha`, `AÏSHA`).
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence

from bot.core.domain import Person
from bot.core.errors import NotFound, UsageError, typed


def fold(text: str) -> str:
    """`text` for comparing names: no accents, no case, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def find_by_name(name: str, people: Sequence[Person], *, hint: str = "") -> Person:
    """The one person `name` names, by user id, full name, first name or the start of a
    name; NotFound suggesting the closest person, or UsageError when several match."""
    key = fold(name.strip().lstrip("@"))
    if not key:
        raise UsageError("Give a name, e.g. `/as Jordan`." + (f" {hint}" if hint else ""))
    for matches in (
        [p for p in people if fold(p.user_id) == key],
        [p for p in people if fold(p.display_name) == key],
        [p for p in people if _first(p) == key],
        [p for p in people if fold(p.display_name).startswith(key)],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(p.display_name for p in matches[:5])
            raise UsageError(
                f"More than one person matches {typed(name.strip())}: {names}. Type the full name."
            )
    closest = closest_person(key, people)
    suggestion = f" — did you mean {closest.display_name}?" if closest else "."
    raise NotFound(
        f"No one is called {typed(name.strip())}{suggestion}" + (f" {hint}" if hint else "")
    )


def closest_person(name: str, people: Sequence[Person]) -> Person | None:
    """The person whose full name, user id or one of whose names is most like `name`."""
    key = fold(name)
    candidates: dict[str, Person] = {}
    for person in people:
        full = fold(person.display_name)
        for name in (full, fold(person.user_id), *full.split()):
            candidates.setdefault(name, person)
    found = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return candidates[found[0]] if found else None


def _first(person: Person) -> str:
    words = fold(person.display_name).split()
    return words[0] if words else ""
