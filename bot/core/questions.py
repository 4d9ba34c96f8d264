"""The question bank: loading `prompts/questions.yaml` and choosing a round's questions.

A round asks the anchor question ("would customers come back if we gave them
away?") every time, then continues through the rest of the bank where the
previous round stopped, so over a few weeks every question is asked and each
one comes back at a steady rhythm. Approved proposals jump the queue.

Each question may carry a `customer:` version, the same question in customers'
words on the same 1-5 scale, for the survey page and imported customer answers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.core.domain import ROLES, CustomerVersion, Question
from bot.core.errors import ConfigError
from bot.core.replies import counted

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def load_bank(path: Path) -> list[Question]:
    """Read and validate the question file; a bad file fails with the entry and field named."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"The question file {path} does not exist. Set INTEGRITY_QUESTIONS to a YAML file "
            "shaped like prompts/questions.yaml, or unset it to use the built-in bank."
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"The question file {path} is not valid YAML: {error}") from None
    entries = (data or {}).get("questions") if isinstance(data, dict) else None
    if not entries:
        raise ConfigError(f"The question file {path} has no `questions:` list.")
    questions = [_question(entry, i, path) for i, entry in enumerate(entries, start=1)]
    ids = [q.id for q in questions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(
            f"The question file {path} repeats {counted(len(duplicates), 'id')}: "
            f"{', '.join(duplicates)}."
        )
    if sum(q.anchor for q in questions) > 1:
        raise ConfigError(f"The question file {path} marks more than one question `anchor: true`.")
    return questions


def _question(entry: Any, number: int, path: Path) -> Question:
    where = f"question {number} in {path}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not a mapping of fields.")
    missing = [k for k in ("id", "text", "scale", "why", "theme") if not entry.get(k)]
    if missing:
        raise ConfigError(f"{where} is missing {', '.join(missing)}.")
    qid = str(entry["id"])
    if not _ID.match(qid):
        raise ConfigError(
            f"{where} has the id {qid!r}: use 2-63 lower-case letters, digits and dashes."
        )
    scale = entry["scale"]
    if not isinstance(scale, dict) or not scale.get("low") or not scale.get("high"):
        raise ConfigError(f"{where} ({qid}) needs `scale: {{low: ..., high: ...}}` labels.")
    roles = tuple(entry.get("roles") or ROLES)
    if any(r not in ROLES for r in roles):
        raise ConfigError(
            f"{where} ({qid}) has roles {list(roles)}: use executive and/or frontline."
        )
    return Question(
        id=qid,
        text=" ".join(str(entry["text"]).split()),
        theme=str(entry["theme"]),
        low_label=str(scale["low"]),
        high_label=str(scale["high"]),
        why_prompt=" ".join(str(entry["why"]).split()),
        roles=roles,
        anchor=bool(entry.get("anchor", False)),
        customer=_customer_version(entry.get("customer"), f"{where} ({qid})"),
    )


def _customer_version(entry: Any, where: str) -> CustomerVersion | None:
    """The `customer:` block of a question: its own text, scale labels and why."""
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} has a `customer:` that is not a mapping of text, scale, why.")
    missing = [k for k in ("text", "scale", "why") if not entry.get(k)]
    if missing:
        raise ConfigError(f"{where}'s `customer:` version is missing {', '.join(missing)}.")
    scale = entry["scale"]
    if not isinstance(scale, dict) or not scale.get("low") or not scale.get("high"):
        raise ConfigError(
            f"{where}'s `customer:` version needs `scale: {{low: ..., high: ...}}` labels."
        )
    return CustomerVersion(
        text=" ".join(str(entry["text"]).split()),
        low_label=str(scale["low"]),
        high_label=str(scale["high"]),
        why_prompt=" ".join(str(entry["why"]).split()),
    )


def choose_round_questions(
    bank: list[Question],
    proposals: list[Question],
    previous_rounds: list[tuple[str, ...]],
    size: int,
) -> list[str]:
    """The question ids for the next round: anchor first, then approved proposals, then the
    bank in rotation continuing after the last bank question asked."""
    anchor = [q.id for q in bank if q.anchor]
    rotating = [q.id for q in bank if not q.anchor]
    chosen = anchor + [q.id for q in proposals]
    room = max(size - len(chosen), 0)
    if rotating and room:
        start = 0
        for asked in reversed(previous_rounds):
            last = [qid for qid in asked if qid in rotating]
            if last:
                start = rotating.index(last[-1]) + 1
                break
        for step in range(min(room, len(rotating))):
            chosen.append(rotating[(start + step) % len(rotating)])
    return chosen
