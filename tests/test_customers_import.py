"""`run_bot.py customers import`: good and bad files, both scales, mappings, and what is kept."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.customers import nps_to_bank
from bot.core.service import IntegrityCheck
from bot.core.settings import Settings
from bot.store import Store


@pytest.fixture
def run(settings: Settings, clock):
    """`main` with a core on the test's own database; returns (exit code, service)."""
    opened: list[Store] = []

    def core(*, existing: bool = False):
        store = Store(settings.db_path)
        opened.append(store)
        return settings, store, IntegrityCheck(store, settings, clock=clock)

    def invoke(*argv: str) -> int:
        return main(["customers", "import", *argv], core=core)

    yield invoke
    for store in opened:
        store.close()


def stored(settings: Settings) -> list:
    store = Store(settings.db_path)
    try:
        return store.customer_answers()
    finally:
        store.close()


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_nps_maps_its_three_groups_onto_the_bank_scale():
    assert [nps_to_bank(s) for s in range(11)] == [1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5]


def test_a_good_csat_csv_is_imported_whole_without_identities(run, settings, tmp_path, capsys):
    path = write(
        tmp_path,
        "csat.csv",
        "score,comment,date,segment,question,email,ip\n"
        "2,Waited 40 minutes on hold,2026-10-20,SME,give-away,ann@example.com,10.0.0.1\n"
        '4,"Friendly, quick",2026-10-21T16:45:12Z,,serve-or-process,bob@example.com,10.0.0.2\n',
    )
    assert run(str(path)) == 0
    assert "Imported 2 customer answers" in capsys.readouterr().out
    answers = stored(settings)
    assert [(a.question_id, a.rating, a.segment, a.source) for a in answers] == [
        ("give-away", 2, "SME", "import"),
        ("serve-or-process", 4, None, "import"),
    ]
    assert answers[1].answered_on == date(2026, 10, 21)  # the day only
    assert answers[1].comment == "Friendly, quick"
    with settings.db_path.open("rb") as database:
        raw = database.read()
    assert b"example.com" not in raw and b"10.0.0.1" not in raw and b"16:45" not in raw


def test_a_semicolon_csv_from_a_spreadsheet_is_imported(run, settings, tmp_path, capsys):
    path = write(
        tmp_path,
        "csat.csv",
        "score;comment;date;question\n"
        "2;Waited, then gave up;2026-10-20;give-away\n"
        "4;Friendly;2026-10-21;serve-or-process\n",
    )
    assert run(str(path)) == 0
    assert "Imported 2 customer answers" in capsys.readouterr().out
    assert [(a.rating, a.comment) for a in stored(settings)] == [
        (2, "Waited, then gave up"),
        (4, "Friendly"),
    ]


def test_nps_jsonl_is_read_as_nps_and_mapped(run, settings, tmp_path, capsys):
    lines = [
        {"score": 10, "comment": "Love you", "date": "2026-10-20", "question": "give-away"},
        {"score": 6, "comment": "Meh", "date": "2026-10-20", "question": "give-away"},
        {"score": 0, "comment": "Leaving", "date": "2026-10-21", "question": "give-away"},
    ]
    path = write(tmp_path, "nps.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    assert run(str(path)) == 0
    assert "read as NPS (use --scale csat if that is wrong)" in capsys.readouterr().out
    assert [a.rating for a in stored(settings)] == [5, 3, 1]


def test_an_explicit_scale_reads_low_scores_as_nps(run, settings, tmp_path):
    path = write(tmp_path, "low.csv", "score,date,question\n5,2026-10-20,give-away\n")
    assert run(str(path), "--scale", "nps") == 0
    assert [a.rating for a in stored(settings)] == [3]


def test_a_mapping_file_renames_columns_and_maps_questions(run, settings, tmp_path):
    path = write(
        tmp_path,
        "tool.csv",
        "Likelihood,Feedback,Submitted,Plan,Survey\n"
        "9,Great claims service,2026-10-20,Gold,How likely are you to stay with us?\n"
        "3,Slow portal,2026-10-22,Basic,Did we help you quickly?\n",
    )
    mapping = write(
        tmp_path,
        "map.yaml",
        "columns: {score: Likelihood, comment: Feedback, date: Submitted, segment: Plan, "
        "question: Survey}\n"
        "questions:\n"
        "  How likely are you to stay with us?: give-away\n"
        "  Did we help you quickly?: serve-or-process\n"
        "scale: nps\n",
    )
    assert run(str(path), "--map", str(mapping)) == 0
    assert [(a.question_id, a.rating, a.segment) for a in stored(settings)] == [
        ("give-away", 5, "Gold"),
        ("serve-or-process", 2, "Basic"),
    ]


def test_a_mapping_can_name_the_one_question_a_file_answers(run, settings, tmp_path):
    path = write(tmp_path, "one.csv", "rating,text,day\n1,Gone,2026-10-20\n5,Stay,2026-10-21\n")
    mapping = write(tmp_path, "map.json", '{"question": "give-away", "scale": "csat"}')
    assert run(str(path), "--map", str(mapping)) == 0
    assert [(a.question_id, a.rating) for a in stored(settings)] == [
        ("give-away", 1),
        ("give-away", 5),
    ]


BAD_CSV = (
    "score,comment,date,question\n"
    "4,Fine,2026-10-20,give-away\n"
    "eleven,Hmm,2026-10-20,give-away\n"
    "3,,20/10/2026,give-away\n"
    "2,Who?,2026-10-20,no-such-question\n"
    "5,Good,2026-10-21,serve-or-process\n"
    "4,No date,,give-away\n"
)


def test_a_bad_file_is_refused_whole_with_each_bad_line_named(run, settings, tmp_path, capsys):
    path = write(tmp_path, "bad.csv", BAD_CSV)
    assert run(str(path)) == 2
    err = capsys.readouterr().err
    assert f"{path} line 3: 'eleven' is not a score on the CSAT scale" in err
    assert f"{path} line 4: '20/10/2026' is not a date: use YYYY-MM-DD" in err
    assert f"{path} line 5: 'no-such-question' is not a question id" in err
    assert f"{path} line 7: no date" in err
    assert "nothing was imported: 4 of 6 rows are bad. Fix them" in err and "--keep-good" in err
    assert stored(settings) == []


def test_keep_good_stores_the_good_rows_and_lists_the_bad(run, settings, tmp_path, capsys):
    path = write(tmp_path, "bad.csv", BAD_CSV)
    assert run(str(path), "--keep-good") == 0
    captured = capsys.readouterr()
    assert "line 3:" in captured.err and "line 7:" in captured.err
    assert "Imported 2 customer answers" in captured.out
    assert "4 bad rows left out" in captured.out
    assert [(a.question_id, a.rating) for a in stored(settings)] == [
        ("give-away", 4),
        ("serve-or-process", 5),
    ]


def test_bad_jsonl_lines_and_out_of_range_scores_are_named(run, settings, tmp_path, capsys):
    future = (date(2026, 11, 2) + timedelta(days=3)).isoformat()
    path = write(
        tmp_path,
        "bad.jsonl",
        '{"score": 3, "date": "2026-10-20", "question": "give-away"}\n'
        "not json\n"
        '["a list"]\n'
        f'{{"score": 4, "date": "{future}", "question": "give-away"}}\n'
        '{"score": 11, "date": "2026-10-20", "question": "give-away"}\n',
    )
    assert run(str(path), "--scale", "nps") == 2
    err = capsys.readouterr().err
    assert "line 2: not valid JSON" in err
    assert "line 3: not a JSON object" in err
    assert f"line 4: '{future}' is in the future" in err
    assert "line 5: '11' is not a score on the NPS scale: use a whole number from 0 to 10" in err
    assert stored(settings) == []


def test_answers_belong_to_the_round_open_on_their_day(run, settings, service, tmp_path, clock):
    first = service.start_round()
    service.close_round(round_=first)
    clock.now += timedelta(days=7)
    second = service.start_round()
    path = write(
        tmp_path,
        "rounds.csv",
        "score,date,question\n3,2026-10-01,give-away\n3,2026-11-03,give-away\n"
        "3,2026-11-09,give-away\n",
    )
    clock.now += timedelta(days=1)
    assert run(str(path)) == 0
    assert [a.round_id for a in stored(settings)] == [None, first.id, second.id]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("answers.txt", "x", "use a .csv or .jsonl file"),
        ("empty.csv", "score,date,question\n", "has no answers"),
    ],
)
def test_unreadable_files_say_what_to_do(run, tmp_path, capsys, name, content, message):
    assert run(str(write(tmp_path, name, content))) == 2
    assert message in capsys.readouterr().err


def test_a_bad_mapping_file_names_the_key(run, tmp_path, capsys):
    data = write(tmp_path, "a.csv", "score,date,question\n3,2026-10-20,give-away\n")
    mapping = write(tmp_path, "map.yaml", "colums: {score: x}\n")
    assert run(str(data), "--map", str(mapping)) == 2
    assert "has colums: use columns, questions, question and scale" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("field.csv", 'score,date,question\n3,2026-10-20,"' + "x" * 200_000 + '"\n',
         "line 2 has a field longer than 128 KB"),
        ("nested.jsonl", '{"score": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
         "line 1: nests lists or objects too deeply"),
        ("digits.jsonl", '{"score": ' + "9" * 5000 + "}\n", "line 1: has a number too long"),
    ],
)  # fmt: skip
def test_hostile_files_are_one_line_each(run, tmp_path, capsys, name, content, message):
    """Issue 15: what `analyse` answers, `customers import` answers too; no traceback."""
    path = write(tmp_path, name, content)
    assert run(str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"integrity: {path} line") and message in err, err
    assert "Traceback" not in err and len(err) < 1000


def test_a_folder_is_named_as_a_folder(run, tmp_path, capsys):
    (tmp_path / "answers.csv").mkdir()
    assert run(str(tmp_path / "answers.csv")) == 2
    assert "answers.csv is a folder, not a file" in capsys.readouterr().err
