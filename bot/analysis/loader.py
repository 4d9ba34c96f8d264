"""Reading answer exports (CSV or JSONL) into `AnswerRecord`s for the `analyse` command.

Columns (CSV header or JSON keys, case-insensitive; each also found under the names
in `COLUMNS`, so another survey tool's export reads without editing):

- `question` (`question_text`, `prompt`) the question text; `question_id` (`qid`) a
  stable id, derived from the question text as a slug when absent; one of the two is
  required;
- `role` (required) `executive`, `frontline` or `customer`, case-insensitive, with
  aliases (`ROLE_ALIASES`): exec, leadership, management, director … → executive;
  front line, staff, employee, agent, team member … → frontline; client → customer
  (a customer's answer, on the 1-5 scale);
- `rating` (`score`) optional, a whole number 1-5, or empty (another scale, 1-7, 1-10 or
  0-10, is read onto 1-5 when named: `SCALES`);
- `text` (`answer`, `response`, `comment`, …) optional, the written answer;
- `id` (optional) the answer's id, `L<line>` when absent; `team`, `round` (optional);
- `customer_prediction` (optional) 1-5: what the executive or frontline answerer thinks
  customers would answer.

Two columns naming one field are refused (which one is meant?), and a column the
analysis does not read is listed in `AnswerExport.ignored`, so an answer under a name
not known here is never dropped in silence. The format follows the extension: `.csv`
(comma, semicolon or tab separated, as the header shows), `.jsonl` or `.ndjson`. Every
error names the file and line, and says what a valid value looks like.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.analysis.models import AnswerRecord, QuestionInfo, Voice
from bot.core.errors import InputFileError, typed

ROLE_ALIASES: dict[str, Voice] = {
    **dict.fromkeys(
        (
            "executive", "executives", "exec", "execs", "leadership", "leader", "leaders",
            "management", "senior management", "senior leadership", "leadership team",
            "executive team", "exec team", "c-suite", "director", "directors", "board",
        ),
        "executive",
    ),
    **dict.fromkeys(
        (
            "frontline", "front line", "front-line", "staff", "employee", "employees",
            "frontline staff", "front line staff", "front-line staff", "frontline employee",
            "frontline employees", "agent", "agents", "associate", "associates",
            "team member", "team members",
        ),
        "frontline",
    ),
    **dict.fromkeys(("customer", "customers", "client", "clients"), "customer"),
}  # fmt: skip
#: The names each answer field is found under, the product's own export's first.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "answer_id", "response_id"),
    "round": ("round", "wave", "survey_round"),
    "question_id": ("question_id", "qid", "question_key"),
    "question": ("question", "question_text", "prompt"),
    "role": ("role", "respondent_role", "respondent_type", "seniority"),
    "team": ("team", "department", "dept"),
    "rating": ("rating", "score"),
    "text": (
        "text", "answer", "answer_text", "response", "comment", "comments", "free_text",
        "verbatim", "feedback",
    ),
    "customer_prediction": ("customer_prediction", "predicted_customer_rating"),
}  # fmt: skip
#: The rating scales an export may use (`analyse --scale`), each read onto the bank's 1-5.
SCALES: dict[str, tuple[int, int]] = {
    "1-5": (1, 5),
    "1-7": (1, 7),
    "1-10": (1, 10),
    "0-10": (0, 10),
}
#: Columns of the product's own export that the analysis has no use for.
UNUSED = frozenset({"on_record"})
_FIELD_OF = {name: field for field, names in COLUMNS.items() for name in names}
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_VALID_ROLES = (
    "executive, frontline or customer (or exec, leadership, management, staff, employee, agent, "
    "client)"
)


@dataclass(frozen=True)
class AnswerExport:
    """What an export held: its answers, and the columns the analysis did not read."""

    answers: list[AnswerRecord]
    ignored: tuple[str, ...] = ()


def load_answers(path: str | Path) -> list[AnswerRecord]:
    """Read a CSV or JSONL export of answers; bad lines raise InputFileError naming the line."""
    return read_export(path).answers


def read_export(path: str | Path, scale: str = "1-5") -> AnswerExport:
    """Read a CSV or JSONL export of answers, and name the columns it could not place.
    `scale` (one of `SCALES`) is the one its ratings use; they are read onto 1-5."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputFileError(
            f"{path} is not a file `analyse` can read: use a .csv, .jsonl or .ndjson export."
        )
    rows = read_rows(path, kind)
    if not rows:
        raise InputFileError(f"{path} has no answers in it.")
    records = [_record(_fields(row, line, path), line, path, scale) for line, row in rows]
    ignored = sorted({k for _, row in rows for k in row if _field(k) is None} - UNUSED)
    if not any(r.text or r.rating is not None for r in records):
        raise InputFileError(
            f"{path} has no written answer or rating in any row: put the answers in a "
            "`text` column and the 1-5 ratings in a `rating` column"
            + (f" (its other columns: {', '.join(ignored)})." if ignored else ".")
        )
    return AnswerExport(records, tuple(ignored))


def _fields(row: dict[str, Any], line: int, path: Path) -> dict[str, Any]:
    """A row's values by field, whichever of the field's names (`COLUMNS`) it uses."""
    fields: dict[str, Any] = {}
    names: dict[str, str] = {}
    for name, value in row.items():
        field = _field(name)
        if field is None:
            continue
        if field in fields:
            raise InputFileError(
                f"{path} line {line} has both `{names[field]}` and `{name}`, two names for "
                f"the answer's {field.replace('_', ' ')}: keep one of the two columns."
            )
        fields[field], names[field] = value, name
    return fields


def read_rows(
    path: Path, kind: str, *, jsonl_rows: RowReader | None = None
) -> list[tuple[int, Any]]:
    """The rows of a CSV (`kind` "csv") or JSONL file as (line, lower-cased fields), for
    any file a user hands over: an unreadable path, a huge field, deep nesting or a
    5,000-digit number is an InputFileError naming the file (and the line), never a
    traceback. `jsonl_rows` reads JSONL lines its own way (the customer import keeps a
    bad line as its message instead of stopping at it)."""
    jsonl = jsonl_rows or _jsonl_rows
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(_csv_rows(handle, path) if kind == "csv" else jsonl(handle, path))
    except UnicodeDecodeError:
        raise InputFileError(f"{path} is not UTF-8 text. Save it as UTF-8 and try again.") from None
    except OSError as error:
        raise unreadable(path, error) from None


def unreadable(path: Path, error: OSError) -> InputFileError:
    """Why a file a user named cannot be read, in one line that says what to do."""
    if isinstance(error, FileNotFoundError):
        return InputFileError(f"{path} does not exist. Check the path and try again.")
    if isinstance(error, IsADirectoryError):
        return InputFileError(f"{path} is a folder, not a file: name the file itself.")
    if isinstance(error, PermissionError):
        return InputFileError(
            f"{path} cannot be read: permission denied. Make it readable for this user "
            "(chmod u+r) or copy it somewhere you can read."
        )
    return InputFileError(
        f"{path} cannot be read: {error.strerror or error}. Check the file and try again."
    )


def csv_problem(path: Path, line: int, error: csv.Error) -> InputFileError:
    """A CSV file the reader gave up on at `line` (where the record starts)."""
    if "field larger than field limit" in str(error):
        why = (
            f"has a field longer than {csv.field_size_limit() // 1024} KB: is a quote left "
            "open? An answer is at most a few thousand characters"
        )
    else:
        why = f"is not valid CSV ({error})"
    return InputFileError(f"{path} line {line} {why}.")


#: Reads the lines of an open file as (line number, row) pairs.
RowReader = Callable[[Any, Path], Iterable[tuple[int, Any]]]


def csv_delimiter(header: str) -> str:
    """A CSV file's delimiter, read off its header line: the comma, or the semicolon or
    tab a spreadsheet writes in many European locales, whichever splits the header into
    the most columns (the comma when they tie)."""
    columns = {d: len(next(csv.reader([header], delimiter=d), [])) for d in ",;\t"}
    best = max(columns.values())
    return "," if columns[","] == best else max(columns, key=lambda d: columns[d])


#: What a JSONL line that `json.loads` cannot take apart gets told, by exception.
JSON_TOO_DEEP = "nests lists or objects too deeply: each line is one flat JSON object"
JSON_TOO_LONG = "has a number too long to read (thousands of digits)"


def _csv_rows(handle: Any, path: Path) -> Any:
    header = handle.readline()
    handle.seek(0)
    reader = csv.DictReader(handle, delimiter=csv_delimiter(header))
    start = 1  # the line the record being read starts on (a quoted field may span lines)
    try:
        if not reader.fieldnames:
            return
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            # The header is line 1; a quoted field may span lines, so ask the reader.
            line = reader.line_num
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue
            yield line, {(k or "").strip().lower(): v for k, v in row.items()}
    except csv.Error as error:
        raise csv_problem(path, start, error) from None


def _jsonl_rows(handle: Any, path: Path) -> Any:
    for line, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            raise InputFileError(f"{path} line {line} is not valid JSON: {error.msg}.") from None
        except RecursionError:
            raise InputFileError(f"{path} line {line} {JSON_TOO_DEEP} of answer fields.") from None
        except ValueError:  # a number with thousands of digits
            raise InputFileError(
                f"{path} line {line} {JSON_TOO_LONG}: a rating is a whole number from 1 to 5."
            ) from None
        if not isinstance(row, dict):
            raise InputFileError(f"{path} line {line} is not a JSON object with answer fields.")
        yield line, {str(k).strip().lower(): v for k, v in row.items()}


@cache  # a file has a handful of column names, asked for on every row
def _field(column: str) -> str | None:
    """The field a column holds, its name read with spaces or dashes as underscores."""
    return _FIELD_OF.get(re.sub(r"[\s-]+", "_", column))


def _record(row: dict[str, Any], line: int, path: Path, scale: str) -> AnswerRecord:
    where = f"{path} line {line}"
    question = _text(row.get("question"))
    question_id = _text(row.get("question_id"))
    if not question and not question_id:
        raise InputFileError(f"{where} has no question: add a `question` column.")
    return AnswerRecord(
        id=_text(row.get("id")) or f"L{line}",
        question_id=question_id or slug(question),
        question=question or question_id,
        role=_role(row.get("role"), where),
        rating=_rating(row.get("rating"), where, scale),
        text=_text(row.get("text")),
        team=_text(row.get("team")) or None,
        round=_text(row.get("round")) or None,
        customer_prediction=_rating(row.get("customer_prediction"), where, scale),
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _role(value: Any, where: str) -> Voice:
    key = " ".join(_text(value).lower().split())
    if key in ROLE_ALIASES:
        return ROLE_ALIASES[key]
    shown = typed(_text(value)) if _text(value) else "no role"
    raise InputFileError(f"{where} has {shown} as its role: use {_VALID_ROLES}.")


def on_bank_scale(number: int, scale: str) -> int:
    """A rating on one of `SCALES` as the bank's 1-5: linear, halves rounded up (so 0-10
    reads 0-1, 2-3, 4-6, 7-8, 9-10 as 1 to 5, the groups of NPS)."""
    low, high = SCALES[scale]
    return int(1 + 4 * (number - low) / (high - low) + 0.5)


def _rating(value: Any, where: str, scale: str = "1-5") -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    low, high = SCALES[scale]
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,2}(\.0+)?\s*", value):
        number = int(float(value))
    else:
        number = None
    if number is None or not low <= number <= high:
        other = (
            " (ratings on another scale: name it with --scale 1-7, 1-10 or 0-10)"
            if scale == "1-5" and number is not None and number > high
            else ""
        )
        raise InputFileError(
            f"{where} has {typed(value if isinstance(value, str) else repr(value))} as its "
            f"rating: use a whole number from {low} to {high}, or leave it empty{other}."
        )
    return on_bank_scale(number, scale)


def slug(question: str) -> str:
    """A stable id for a question, from its text: lower-case words joined by dashes."""
    text = "-".join(re.findall(r"[a-z0-9]+", question.lower())) or "question"
    if len(text) <= 60:
        return text
    # Long questions share openings; a short hash of the whole text keeps ids apart.
    digest = hashlib.sha1(question.encode("utf-8")).hexdigest()[:6]
    return f"{text[:53].rstrip('-')}-{digest}"


def bank_question_infos(answers: list[AnswerRecord], bank: Path) -> list[QuestionInfo]:
    """What the question bank knows of the export's questions (matched by id, or by the
    text, whatever its case, spacing and punctuation): the scale's two ends and the
    follow-up `why`. An export from the product carries the bank's ids; a question the
    bank does not hold gets nothing."""
    from bot.core.errors import ConfigError
    from bot.core.questions import load_bank

    try:
        known = load_bank(bank)
    except ConfigError:
        return []
    by_id = {q.id: q for q in known}
    by_text = {_words(q.text): q for q in known}
    infos: dict[str, QuestionInfo] = {}
    for a in answers:
        if a.question_id in infos:
            continue
        question = by_id.get(a.question_id) or by_text.get(_words(a.question))
        if question is not None:
            infos[a.question_id] = QuestionInfo.of(question, id=a.question_id, text=a.question)
    return list(infos.values())


def _words(text: str) -> str:
    """A question's text as its lower-case words: "Do we…?" and "do we …" match."""
    return " ".join(re.findall(r"\w+", text.lower()))
