"""The export loader: CSV and JSONL, role aliases, ids and question ids, and errors
that name the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.analysis.loader import (
    SCALES,
    bank_question_infos,
    load_answers,
    on_bank_scale,
    read_export,
    slug,
)
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
        ("Senior Leadership", "executive"),
        ("C-Suite", "executive"),
        ("Agents", "frontline"),
        ("team  member", "frontline"),
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


# -- hostile files (issue 15): one line naming the file and the line, never a traceback


@pytest.mark.parametrize(
    "name,content,expected",
    [
        (
            "field.csv",
            HEADER + "1,Q?,executive,3,ok,,\n" + '2,Q?,executive,3,"' + "x" * 200_000 + '",,\n',
            "line 3 has a field longer than 128 KB",
        ),
        ("nested.jsonl", '{"question": "Q?", "role": "exec", "text": ' + "[" * 100_000 + "]"
         * 100_000 + "}\n", "line 1 nests lists or objects too deeply"),
        ("digits.jsonl", '{"question": "Q?", "role": "exec"}\n{"question": "Q?", "rating": '
         + "9" * 5000 + "}\n", "line 2 has a number too long to read"),
        ("digits.csv", HEADER + "1,Q?,executive," + "9" * 5000 + ",,,\n",
         "line 2 has '99999999999999999999999999999…' as its rating"),
        ("nul.csv", HEADER + "1,Q?,exec\x00,3,,,\n", "line 2 has 'exec\\x00' as its role"),
        ("inf.jsonl", '{"question": "Q?", "role": "exec", "rating": 1e999}\n',
         "line 1 has 'inf' as its rating"),
    ],
)  # fmt: skip
def test_a_hostile_file_is_one_line_naming_the_file_and_line(tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    with pytest.raises(InputFileError) as raised:
        load_answers(path)
    message = str(raised.value)
    assert message.startswith(f"{path} ") and expected in message, message
    assert "\n" not in message and len(message) < 400


def test_a_folder_or_a_file_gone_before_it_is_opened_is_named(tmp_path, monkeypatch):
    (tmp_path / "export.csv").mkdir()
    with pytest.raises(InputFileError, match="export.csv is a folder, not a file"):
        load_answers(tmp_path / "export.csv")
    # Removed after any check and before the open: the open itself says so.
    gone = write(tmp_path, "gone.csv", HEADER + "1,Q?,exec,3,,,\n")
    real_open = Path.open

    def open_after_removal(self, *args, **kwargs):
        if self == gone:
            gone.unlink()
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_after_removal)
    with pytest.raises(InputFileError, match="gone.csv does not exist"):
        load_answers(gone)


def test_an_unreadable_file_is_named_and_analyse_exits_2(tmp_path):
    """Root reads any file, so the command runs as an ordinary user who owns the file
    (a user namespace without capabilities); `chmod 000` then denies it as it would."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    from tests.conftest import ROOT

    folder = Path(tempfile.mkdtemp(prefix="integrity-unreadable-"))
    try:
        folder.chmod(0o755)
        path = write(folder, "answers.csv", HEADER + "1,Q?,exec,3,,,\n")
        path.chmod(0o000)
        prefix = []
        if os.geteuid() == 0:
            prefix = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
            if subprocess.run([*prefix, "true"], capture_output=True).returncode:
                pytest.skip("needs user namespaces to run as an ordinary user")
        result = subprocess.run(
            [*prefix, sys.executable, str(ROOT / "run_bot.py"), "analyse", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr
        assert (
            result.stderr == f"integrity: {path} cannot be read: permission denied. Make it "
            "readable for this user (chmod u+r) or copy it somewhere you can read.\n"
        )
    finally:
        shutil.rmtree(folder)


def test_another_tools_column_names_are_read(tmp_path):
    """A survey tool's own headers (`Question Text`, `Respondent Role`, `Score`, `Answer`,
    `Department`) read as the product's export does, and a column with no place in the
    analysis is named, never dropped in silence."""
    path = write(
        tmp_path,
        "tool.csv",
        "Response ID,Question Text,Respondent Role,Score,Answer,Department,Submitted At\n"
        "r1,Would they come back?,Senior Leadership,5,Yes quickly.,Sales,2026-11-02 09:14\n"
        "r2,Would they come back?,Agent,,No.,Support,2026-11-02 10:01\n",
    )
    export = read_export(path)
    first, second = export.answers
    assert (first.id, first.role, first.rating, first.text, first.team) == (
        "r1",
        "executive",
        5,
        "Yes quickly.",
        "Sales",
    )
    assert (second.role, second.rating, second.text) == ("frontline", None, "No.")
    assert export.ignored == ("submitted at",)


def test_the_products_own_export_has_no_unread_column(tmp_path):
    row = {"round": 1, "question_id": "q", "question": "Q?", "role": "executive", "team": None}
    row |= {"rating": 4, "text": "ok", "on_record": 0, "customer_prediction": None}
    assert read_export(write(tmp_path, "a.jsonl", json.dumps(row) + "\n")).ignored == ()


def test_two_names_for_one_field_are_refused(tmp_path):
    path = write(tmp_path, "a.csv", "question,role,text,comment\nQ?,exec,yes,also\n")
    with pytest.raises(InputFileError, match="line 2 has both `text` and `comment`.*keep one"):
        load_answers(path)


def test_a_file_with_no_answer_in_any_known_column_says_what_to_rename(tmp_path):
    path = write(tmp_path, "a.csv", "question,role,reply\nQ?,exec,yes\nQ?,staff,no\n")
    with pytest.raises(
        InputFileError, match=r"no written answer or rating.*`text` column.*columns: reply"
    ):
        load_answers(path)


def test_the_bank_matches_a_question_by_its_words(tmp_path):
    bank = Path(__file__).resolve().parents[2] / "prompts" / "questions.yaml"
    path = write(
        tmp_path,
        "a.csv",
        "question,role,rating\n"
        "  do we treat new prospects better than the customers we already have ,exec,3\n"
        "Do we treat new prospects better than the customers we used to have?,exec,3\n",
    )
    (info,) = bank_question_infos(load_answers(path), bank)
    assert info.low_label == "Newcomers get the best deals"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_spreadsheets_semicolon_or_tab_csv_is_read(tmp_path, delimiter):
    """Excel in many European locales saves CSV with semicolons; a comma inside an
    answer is then just a comma."""
    header = delimiter.join(["\ufeffquestion", "role", "rating", "text"])
    row = delimiter.join(["Would they come back?", "Frontline", "2", '"No, never; too slow."'])
    first, second = load_answers(write(tmp_path, "a.csv", f"{header}\n{row}\n{row}\n"))
    assert (first.question, first.role, first.rating, first.text) == (
        "Would they come back?",
        "frontline",
        2,
        "No, never; too slow.",
    )
    assert second.id == "L3"


def test_another_scale_is_read_onto_one_to_five_in_equal_steps(tmp_path):
    assert [on_bank_scale(n, "0-10") for n in range(11)] == [1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5]
    assert [on_bank_scale(n, "1-10") for n in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [on_bank_scale(n, "1-7") for n in range(1, 8)] == [1, 2, 2, 3, 4, 4, 5]
    assert [on_bank_scale(n, "1-5") for n in range(1, 6)] == [1, 2, 3, 4, 5]
    path = write(tmp_path, "a.csv", "question,role,rating,customer_prediction\nQ?,exec,9,10\n")
    (answer,) = read_export(path, "0-10").answers
    assert (answer.rating, answer.customer_prediction) == (5, 5)
    with pytest.raises(InputFileError, match=r"line 2 has '9' as its rating: .*--scale 1-7, 1-10"):
        load_answers(path)
    with pytest.raises(InputFileError, match=r"use a whole number from 1 to 7"):
        read_export(path, "1-7")


@pytest.mark.parametrize("scale", sorted(SCALES))
def test_analyse_takes_every_scale(tmp_path, capsys, scale):
    from bot.cli import main

    rows = "".join(
        f"Q?,{role},{n % 5 + 1},ok {n}\n" for n in range(6) for role in ("exec", "staff")
    )
    path = write(tmp_path, "a.csv", "question,role,rating,text\n" + rows)
    assert main(["analyse", str(path), "--scale", scale, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["questions"][0]["executive"]["n"] == 6
