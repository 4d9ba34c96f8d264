"""The export loader: CSV and JSONL, role aliases, ids and question ids, and errors
that name the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.analysis.loader import load_answers, slug
from bot.core.errors import InputFileError

HEADER = "id,question,role,rating,text,team,round\n"


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_csv_is_read_with_ids_slugs_and_empty_ratings(tmp_path):
    path = write(
        tmp_path,
        "answers.csv",
        "question,role,rating,text,team\n"
        'Would they come back?,Executive,5,"Yes, quickly.",sales\n'
        'Would they come back?,front line,,"No,\nnever.",support\n',
    )
    first, second = load_answers(path)
    assert (first.id, first.role, first.rating, first.team) == ("L2", "executive", 5, "sales")
    assert first.question_id == slug("Would they come back?") == "would-they-come-back"
    assert (second.role, second.rating, second.text) == ("frontline", None, "No,\nnever.")
    assert second.id == "L4"  # the quoted text spans two lines; its record ends on line 4
    assert first.round is None


def test_jsonl_keeps_given_ids_and_question_ids(tmp_path):
    rows = [
        {"id": "x1", "question_id": "give-away", "question": "Q?", "role": "exec", "rating": 4},
        {"question": "Q?", "question_id": "give-away", "role": "Staff", "text": "slow", "round": 3},
    ]
    path = write(tmp_path, "a.ndjson", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    first, second = load_answers(path)
    assert (first.id, first.question_id, first.role, first.text) == (
        "x1",
        "give-away",
        "executive",
        "",
    )
    assert (second.id, second.role, second.round) == ("L2", "frontline", "3")


@pytest.mark.parametrize(
    ("alias", "role"),
    [
        ("EXEC", "executive"),
        ("executives", "executive"),
        ("Leadership", "executive"),
        ("leader", "executive"),
        ("management", "executive"),
        ("Front-Line", "frontline"),
        ("front  line", "frontline"),
        ("employee", "frontline"),
        ("Frontline Staff", "frontline"),
    ],
)
def test_role_aliases(tmp_path, alias, role):
    path = write(tmp_path, "a.csv", f"question,role,rating\nQ?,{alias},3\n")
    assert load_answers(path)[0].role == role


def test_a_bad_role_names_the_line_and_the_valid_values(tmp_path):
    path = write(tmp_path, "a.csv", "question,role,rating\nQ?,exec,3\nQ?,intern,3\n")
    with pytest.raises(
        InputFileError,
        match=r"line 3 has 'intern' as its role: use executive, frontline or customer",
    ):
        load_answers(path)


@pytest.mark.parametrize("rating", ["6", "0", "4.5", "good", "-1"])
def test_a_bad_rating_names_the_line(tmp_path, rating):
    path = write(
        tmp_path, "a.csv", f"question,role,rating\nQ?,exec,3\nQ?,staff,3\nQ?,staff,{rating}\n"
    )
    with pytest.raises(InputFileError, match="line 4 .*rating: use a whole number from 1 to 5"):
        load_answers(path)


def test_a_bad_jsonl_rating_and_bad_json_name_the_line(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"question": "Q?", "role": "exec", "rating": true}\n')
    with pytest.raises(InputFileError, match="line 1"):
        load_answers(path)
    path = write(tmp_path, "b.jsonl", '{"question": "Q?", "role": "exec"}\n{oops\n')
    with pytest.raises(InputFileError, match="line 2 is not valid JSON"):
        load_answers(path)


def test_unknown_extension_and_missing_file_are_clear(tmp_path):
    with pytest.raises(InputFileError, match=r"\.csv, \.jsonl or \.ndjson"):
        load_answers(write(tmp_path, "a.xlsx", "x"))
    with pytest.raises(InputFileError, match="does not exist"):
        load_answers(tmp_path / "missing.csv")


def test_long_questions_get_distinct_stable_slugs():
    base = "If we handed every one of our customers to our best competitor tomorrow, would "
    first, second = slug(base + "they return?"), slug(base + "they stay?")
    assert first != second and len(first) <= 60
    assert slug(base + "they return?") == first
