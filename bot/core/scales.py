"""The ends of a question's 1-5 scale, for questions proposed by people and approved by
an admin: a few presets, the admin's own two ends, or text only (no rating).

`parse_scale` reads what follows `/integrity propose approve N`; `suggest_scale` guesses
a preset from the question's wording ("How often…" is asked Never … Every day), so the
preview an admin sees first already fits most questions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.errors import UsageError, typed

#: The longest scale end an admin may type (it is shown beside every rating button).
MAX_LABEL_CHARS = 40


@dataclass(frozen=True)
class Scale:
    """The two ends of a 1-5 scale; both empty for a question answered in words only."""

    low: str
    high: str

    @property
    def text_only(self) -> bool:
        return not (self.low and self.high)

    def describe(self) -> str:
        if self.text_only:
            return "answered in words only (no rating)"
        return f"1 = {self.low} … 5 = {self.high}"


TEXT_ONLY = Scale("", "")

PRESETS: dict[str, Scale] = {
    "extent": Scale("Not at all", "Completely"),
    "often": Scale("Never", "Every day"),
    "agree": Scale("Strongly disagree", "Strongly agree"),
    "likely": Scale("Very unlikely", "Very likely"),
    "sure": Scale("Not sure at all", "Completely sure"),
    "good": Scale("Very poor", "Excellent"),
}

#: The wording that suggests each preset, tried in order; `extent` otherwise.
_SUGGESTIONS = (
    ("often", r"\bhow (often|frequently|many times)\b|\bwhen did you last\b"),
    ("likely", r"\bhow likely\b|\bwould you\b|\bwill (you|they|we)\b"),
    ("sure", r"\bhow (sure|confident|certain)\b"),
    ("good", r"\bhow (good|well|bad)\b|\brate\b|\bquality\b"),
    ("agree", r"^(do|does|did|is|are|was|were|can|could|should|have|has)\b"),
)

USAGE = (
    "`scale PRESET` (" + ", ".join(PRESETS) + '), `scale "LOW" "HIGH"` with your own ends, '
    "or `text` for words only"
)


def suggest_scale(question: str) -> str:
    """The preset whose ends fit the question's wording best (a guess the admin can change)."""
    text = question.strip().lower()
    for name, pattern in _SUGGESTIONS:
        if re.search(pattern, text):
            return name
    return "extent"


def parse_scale(words: Sequence[str], question: str) -> tuple[Scale, str]:
    """`[scale PRESET | scale LOW HIGH | text]` (already split, quotes honoured) into the
    scale and how to write it again; nothing means the suggested preset."""
    words = list(words)
    if not words:
        name = suggest_scale(question)
        return PRESETS[name], f"scale {name}"
    if [w.lower() for w in words] == ["text"]:
        return TEXT_ONLY, "text"
    if words[0].lower() != "scale" or len(words) not in (2, 3):
        raise UsageError(f"After the proposal's number, give {USAGE}.")
    if len(words) == 2:
        name = words[1].lower()
        if name not in PRESETS:
            raise UsageError(
                f"There is no scale {typed(words[1])}: use one of "
                + "; ".join(f"`{n}` ({s.describe()})" for n, s in PRESETS.items())
                + ', or your own two ends in quotes, e.g. `scale "Rarely" "Daily"`.'
            )
        return PRESETS[name], f"scale {name}"
    low, high = (" ".join(w.split()) for w in words[1:])
    for end in (low, high):
        if not end or len(end) > MAX_LABEL_CHARS:
            raise UsageError(
                f"Each end of the scale is 1 to {MAX_LABEL_CHARS} characters; "
                f'{typed(end)} is not. Put each in quotes: `scale "Rarely" "Daily"`.'
            )
    return Scale(low, high), f'scale "{low}" "{high}"'
