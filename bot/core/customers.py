"""Customer answers from the survey tools companies already use: reading an import file.

`read_customer_file(path, questions, mapping)` reads a CSV or JSONL export (a score, a
comment, a date, an optional segment and the question) and returns the rows it could
read and a line-numbered error for each it could not; the caller decides whether the
good rows are kept (`customers import --keep-good`) or the whole file is refused.

Scores arrive on one of two scales and are stored on the bank's 1-5 scale:

- CSAT 1-5 is kept as it is;
- NPS 0-10 maps so that promoters (9-10) are 5, passives (7-8) are 4 and detractors
  (0-6) spread over 1-3: 0-1 → 1, 2-3 → 2, 4-6 → 3 (`nps_to_bank`).

A mapping file (YAML or JSON) adapts another tool's export without editing it:

    columns: {score: "How likely…", comment: Feedback, date: Submitted, segment: Plan}
    questions: {"How likely are you to recommend us?": give-away}
    question: give-away      # every row answers this question (no question column)
    scale: nps               # or csat; otherwise read from the scores (see `_scale_of`)

Nothing that identifies a customer is read: any other column (name, e-mail, IP
address, customer id) is ignored and never stored, and a date is kept to the day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.analysis.loader import JSON_TOO_DEEP, JSON_TOO_LONG, on_bank_scale, read_rows
from bot.core.domain import Question
from bot.core.errors import InputFileError

Scale = Literal["nps", "csat"]
SCALES: tuple[Scale, Scale] = ("nps", "csat")
MAX_COMMENT_CHARS = 3000
MAX_SEGMENT_CHARS = 60
MAX_REPORTED_ERRORS = 20  # a file's first bad rows are listed; the rest only counted
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
#: The names each field is found under, first the canonical one.
COLUMNS: dict[str, tuple[str, ...]] = {
    "score": ("score", "rating", "nps", "csat", "value"),
    "comment": ("comment", "text", "feedback", "why"),
    "date": ("date", "answered_on", "day", "submitted"),
    "segment": ("segment", "plan", "tier"),
    "question": ("question", "question_id"),
}


def nps_to_bank(score: int) -> int:
    """An NPS score 0-10 on the bank's 1-5 scale: 9-10 → 5, 7-8 → 4, 4-6 → 3, 2-3 → 2,
    0-1 → 1 (linear, `1 + 0.4 × score` rounded, which keeps NPS's three groups apart), as
    `analyse --scale 0-10` reads a staff export."""
    return on_bank_scale(score, "0-10")


def to_bank_scale(score: int, scale: Scale) -> int:
    """A score on its own scale as a rating on the bank's 1-5 scale."""
    return nps_to_bank(score) if scale == "nps" else score


@dataclass(frozen=True)
class Mapping:
    """How another tool's export maps onto ours (see the module docstring)."""

    columns: dict[str, str] = field(default_factory=dict)
    questions: dict[str, str] = field(default_factory=dict)
    question: str | None = None
    scale: Scale | None = None


@dataclass(frozen=True)
class ImportedAnswer:
    """One good row: what will be stored (and its line, for messages)."""

    line: int
    question_id: str
    rating: int
    comment: str
    answered_on: date
    segment: str | None


@dataclass
class ImportReport:
    """What a file held: the rows that can be stored, and what was wrong with the others."""

    path: Path
    scale: Scale
    scale_inferred: bool
    good: list[ImportedAnswer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_mapping(path: Path) -> Mapping:
    """Read a mapping file; a bad one fails naming the key and what it should be."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML reads JSON too
    except FileNotFoundError:
        raise InputFileError(f"The mapping file {path} does not exist.") from None
    except yaml.YAMLError as error:
        raise InputFileError(
            f"The mapping file {path} is not valid YAML or JSON: {error}"
        ) from None
    if not isinstance(data, dict):
        raise InputFileError(
            f"The mapping file {path} should hold `columns:`, `questions:`, `question:` "
            "and/or `scale:`."
        )
    unknown = set(data) - {"columns", "questions", "question", "scale"}
    if unknown:
        raise InputFileError(
            f"The mapping file {path} has {', '.join(sorted(unknown))}: use columns, "
            "questions, question and scale."
        )
    columns = data.get("columns") or {}
    if not isinstance(columns, dict) or set(columns) - set(COLUMNS):
        raise InputFileError(
            f"In {path}, `columns:` maps our fields ({', '.join(COLUMNS)}) to your "
            "file's column names."
        )
    questions = data.get("questions") or {}
    if not isinstance(questions, dict):
        raise InputFileError(
            f"In {path}, `questions:` maps your file's question values to question ids."
        )
    scale = data.get("scale")
    if scale is not None and scale not in SCALES:
        raise InputFileError(f"In {path}, `scale:` is {scale!r}: use nps or csat.")
    return Mapping(
        columns={k: str(v).strip().lower() for k, v in columns.items()},
        questions={str(k).strip().lower(): str(v) for k, v in questions.items()},
        question=str(data["question"]) if data.get("question") else None,
        scale=scale,
    )


def read_customer_file(
    path: Path,
    questions: Sequence[Question],
    mapping: Mapping | None = None,
    *,
    scale: Scale | None = None,
    today: date | None = None,
) -> ImportReport:
    """Read every row of a CSV or JSONL file of customer answers; never stores anything."""
    mapping = mapping or Mapping()
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputFileError(f"{path} is not a file I can import: use a .csv or .jsonl file.")
    rows = read_rows(path, kind, jsonl_rows=_jsonl_rows)  # one reader for every file
    if not rows:
        raise InputFileError(f"{path} has no answers in it.")
    known = {q.id: q for q in questions}
    fields = [(line, _fields(row, mapping)) for line, row in rows if isinstance(row, dict)]
    chosen = scale or mapping.scale
    report = ImportReport(path, chosen or _scale_of(f for _, f in fields), chosen is None)
    today = today or date.today()
    for line, row in rows:
        if not isinstance(row, dict):
            report.errors.append(f"{path} line {line}: {row}")
            continue
        try:
            report.good.append(
                _answer(line, _fields(row, mapping), known, mapping, report.scale, today)
            )
        except ValueError as error:
            report.errors.append(f"{path} line {line}: {error}")
    return report


def _jsonl_rows(handle: Any, path: Path) -> Iterator[tuple[int, Any]]:
    for line, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            yield line, f"not valid JSON ({error.msg}); each line is one JSON object."
            continue
        except RecursionError:
            yield line, f"{JSON_TOO_DEEP}."
            continue
        except ValueError:  # a number with thousands of digits
            yield line, f"{JSON_TOO_LONG}: a score is a whole number."
            continue
        if not isinstance(row, dict):
            yield line, "not a JSON object with score, comment, date and question."
            continue
        yield line, {str(k).strip().lower(): v for k, v in row.items()}


def _fields(row: dict[str, Any], mapping: Mapping) -> dict[str, str]:
    """Our five fields from a row, by the mapping's column names or the usual ones."""
    found = {}
    for name, aliases in COLUMNS.items():
        names = (mapping.columns[name],) if name in mapping.columns else aliases
        value = next((row[n] for n in names if row.get(n) not in (None, "")), None)
        found[name] = "" if value is None else str(value).strip()
    return found


def _scale_of(rows: Any) -> Scale:
    """NPS if any score is 0 or above 5 (only NPS has those), else CSAT."""
    for row in rows:
        number = _number(row["score"])
        if number is not None and (number == 0 or number > 5):
            return "nps"
    return "csat"


def _number(value: str) -> int | None:
    match = re.fullmatch(r"(\d{1,2})(\.0+)?", value)
    return int(match.group(1)) if match else None


def _answer(
    line: int,
    row: dict[str, str],
    known: dict[str, Question],
    mapping: Mapping,
    scale: Scale,
    today: date,
) -> ImportedAnswer:
    score = _number(row["score"])
    top = 10 if scale == "nps" else 5
    low = 0 if scale == "nps" else 1
    if score is None or not low <= score <= top:
        shown = repr(row["score"]) if row["score"] else "no score"
        raise ValueError(
            f"{shown} is not a score on the {scale.upper()} scale: use a whole number "
            f"from {low} to {top}."
        )
    given = row["question"] or ""
    question_id = mapping.questions.get(given.lower()) or given or mapping.question
    if not question_id:
        raise ValueError(
            "no question: add a `question` column with a question id, or name one with "
            "`question:` in a mapping file (--map)."
        )
    if question_id not in known:
        raise ValueError(
            f"{question_id!r} is not a question id: use one of {', '.join(known)}, "
            "or map your question to one with a mapping file (--map)."
        )
    comment = " ".join(row["comment"].split())
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValueError(
            f"the comment is {len(comment):,} characters; the limit is {MAX_COMMENT_CHARS:,}."
        )
    segment = row["segment"] or None
    if segment and len(segment) > MAX_SEGMENT_CHARS:
        raise ValueError(f"the segment is longer than {MAX_SEGMENT_CHARS} characters.")
    return ImportedAnswer(
        line=line,
        question_id=question_id,
        rating=to_bank_scale(score, scale),
        comment=comment,
        answered_on=_day(row["date"], today),
        segment=segment,
    )


def _day(value: str, today: date) -> date:
    """The day of an ISO date or date-time (its time is dropped, never stored)."""
    if not value:
        raise ValueError("no date: add a `date` column, e.g. 2026-11-02.")
    try:
        day = (
            datetime.fromisoformat(value.replace("Z", "+00:00")).date()
            if "T" in value or " " in value
            else date.fromisoformat(value)
        )
    except ValueError:
        raise ValueError(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-02.") from None
    if day > today:
        raise ValueError(f"{value!r} is in the future.")
    return day
