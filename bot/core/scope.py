"""Which answers a summary, trend or export covers: one grammar for chat and command line.

`parse_scope` reads `last | round N | rounds N-M|N,M | weeks N | all [TEAM]`, the
words after `/integrity summary` or `/integrity export`, and `run_bot.py export
--rounds`. Every number is bounded by what exists: a round number by the rounds run
so far, a number of weeks by the time since the first round, so no input can make
the bot build a list larger than the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.domain import Round
from bot.core.errors import NotFound, UsageError, typed

USAGE = "`[last | round N | rounds N-M | weeks N | all] [team]`"


@dataclass
class Scope:
    """Which answers a summary or export covers: rounds, and optionally one team."""

    rounds: list[Round]
    team: str | None = None
    label: str = ""


def parse_scope(
    words: Sequence[str],
    rounds: Sequence[Round],
    teams: Sequence[str],
    now: datetime,
    *,
    usage: str = USAGE,
) -> Scope:
    """The scope `words` name, among `rounds` (in order) and the known `teams`."""
    words = list(words)
    known_teams = {t.lower(): t for t in teams}
    team = None
    if words and words[-1].lower() in known_teams:
        team = known_teams[words.pop().lower()]
    if not rounds:
        raise NotFound("No round has been run yet. Start one with `/integrity ask`.")
    by_number = {r.number: r for r in rounds}
    last = rounds[-1].number
    if not words or words == ["last"]:
        closed = [r for r in rounds if not r.is_open]
        chosen = [closed[-1]] if closed else [rounds[-1]]
        label = f"round {chosen[0].number}"
    elif words[0] == "round" and len(words) == 2:
        number = _round_number(words[1], last, usage)
        chosen = [_existing(by_number, number)]
        label = f"round {number}"
    elif words[0] == "weeks" and len(words) == 2:
        weeks = _weeks(words[1], rounds[0].opened_at, now, usage)
        since = now - timedelta(weeks=weeks)
        chosen = [r for r in rounds if r.opened_at >= since]
        if not chosen:
            raise NotFound(f"No round was opened in the last {weeks} weeks.")
        label = f"the last {weeks} weeks (rounds {chosen[0].number}-{chosen[-1].number})"
    elif words[0] == "rounds" and len(words) == 2:
        numbers = round_numbers(words[1], last, usage)
        chosen = [_existing(by_number, n) for n in numbers]
        label = f"rounds {_ranges(numbers)}"
    elif words == ["all"]:
        chosen = list(rounds)
        label = "all rounds"
    else:
        unknown = typed(" ".join(words), 60)
        hint = f" Teams: {', '.join(known_teams.values())}." if known_teams else ""
        raise UsageError(f"I don't understand {unknown}. Usage: {usage}{hint}")
    if team:
        label += f", team {team}"
    return Scope(rounds=chosen, team=team, label=label)


def round_numbers(spec: str, last: int, usage: str = USAGE) -> list[int]:
    """`3`, `1-4` or `1,3,5` as a sorted list of round numbers, each from 1 to `last`."""
    numbers: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition("-")
        if not _digits(low) or (high and not _digits(high)):
            raise UsageError(
                f"{typed(spec)} is not a list of round numbers like 1-4 or 1,3. Usage: {usage}"
            )
        first, final = _round_number(low, last, usage), _round_number(high or low, last, usage)
        if first > final:
            raise UsageError(
                f"{typed(part)} runs backwards: write the lower round first, e.g. 1-4."
            )
        numbers.update(range(first, final + 1))
    return sorted(numbers)


def _ranges(numbers: list[int]) -> str:
    """Sorted round numbers as short ranges: [1, 2, 3, 5] → `1-3,5` (labels, file names)."""
    parts: list[str] = []
    start = previous = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == previous + 1:
            previous = n
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if n is not None:
            start = previous = n
    return ",".join(parts)


def _digits(word: str) -> bool:
    """True for a whole number typed in ASCII digits (`²` or `٣` are digits to Python too)."""
    return word.isascii() and word.isdigit()


def _small(word: str) -> int | None:
    """The number `word` spells, or None when it has more than 9 digits (past any round
    or week count, and never handed to `int` whole: 5,000 digits would be a ValueError)."""
    digits = word.lstrip("0") or "0"
    return int(digits) if len(digits) <= 9 else None


def _round_number(word: str, last: int, usage: str) -> int:
    if not _digits(word):
        raise UsageError(f"{typed(word)} is not a round number. Usage: {usage}")
    number = _small(word)
    if number is None or not 1 <= number <= last:
        raise NotFound(
            f"There is no round {typed(word, 20)[1:-1]}: the rounds so far are 1 to {last}. "
            "`/integrity status` shows the latest."
        )
    return number


def _existing(by_number: dict[int, Round], number: int) -> Round:
    if number not in by_number:
        raise NotFound(f"There is no round {number}. `/integrity status` shows the latest.")
    return by_number[number]


def _weeks(word: str, first_opened: datetime, now: datetime, usage: str) -> int:
    weeks = _small(word) if _digits(word) else 0
    if weeks is not None and weeks < 1:
        raise UsageError(
            f"weeks takes a whole number of weeks, like 4, not {typed(word)}. Usage: {usage}"
        )
    # Past the first round, more weeks name the same rounds: cap at what exists.
    since_first = max((now - first_opened).days // 7 + 1, 1)
    return since_first if weeks is None else min(weeks, since_first)
