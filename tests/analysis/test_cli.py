"""The `analyse` command: report, exact JSON, the floor option and errors on stderr."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.analysis.models import Analysis
from bot.cli import main


def run(argv: list[str]) -> int:
    return main(["analyse", *argv])


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "labelled.jsonl"
ROOT = Path(__file__).resolve().parents[2]


def test_json_is_exactly_the_analysis_model(capsys, monkeypatch):
    monkeypatch.delenv("INTEGRITY_MIN_GROUP", raising=False)
    assert run([str(FIXTURE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == set(Analysis.model_fields)
    assert Analysis.model_validate(data).model_dump() == data
    assert data["engine"] == "offline" and data["min_group_size"] == 5
    assert {c["question_id"] for c in data["contradictions"]} == {
        "give-away",
        "prospects-first",
        "serve-or-process",
    }
    question = data["questions"][0]
    # Keys may be added to the JSON, never renamed: these are the ones it started with.
    assert set(question) >= {
        "question_id",
        "question",
        "suppressed",
        "diverges",
        "gap",
        "executive",
        "frontline",
        "p_value",
        "basis",
        "note",
        "customers",
    }
    assert question["verdict"] in {"contradict", "differ", "agree", "not compared", "hidden"}


def test_report_shows_contradictions_first_and_the_floor(capsys, monkeypatch):
    monkeypatch.delenv("INTEGRITY_MIN_GROUP", raising=False)
    assert run([str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert out.index("Contradictions") < out.index("Question by question")
    assert "fewer than 5 answers: hidden to keep them anonymous" in out
    assert "Zebra-quartz" not in out


def test_min_group_option_and_environment(capsys, monkeypatch):
    monkeypatch.setenv("INTEGRITY_MIN_GROUP", "3")
    assert run([str(FIXTURE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["min_group_size"] == 3 and data["hidden"] == []
    assert run([str(FIXTURE), "--json", "--min-group", "12"]) == 0
    assert json.loads(capsys.readouterr().out)["min_group_size"] == 12


@pytest.mark.parametrize("floor", ["2", "0"])
def test_a_floor_under_three_is_an_error(capsys, floor):
    assert run([str(FIXTURE), "--min-group", floor]) == 2
    captured = capsys.readouterr()
    assert "never below 3" in captured.err and captured.out == ""


def test_bad_files_are_errors_on_stderr(capsys, tmp_path):
    assert run([str(tmp_path / "nope.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("question,role,rating\nQ?,ceo,3\n", encoding="utf-8")
    assert run([str(bad)]) == 2
    assert "line 2" in capsys.readouterr().err


def test_llm_engine_without_a_model_configured_is_a_clear_error(capsys, monkeypatch):
    pytest.importorskip("bot.analysis.llm")
    monkeypatch.delenv("INTEGRITY_LLM", raising=False)
    assert run([str(FIXTURE), "--engine", "llm"]) == 2
    assert "INTEGRITY_LLM" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert run([]) == 2
    assert run([str(FIXTURE), "--engine", "magic"]) == 2
    assert "usage" in capsys.readouterr().err.lower()


@pytest.mark.slow
def test_run_bot_analyse_json_end_to_end(tmp_path):
    if not (ROOT / "run_bot.py").exists():
        pytest.skip("run_bot.py is not wired yet")
    done = subprocess.run(
        [sys.executable, "run_bot.py", "analyse", str(FIXTURE), "--json", "--min-group", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answers_analysed"] == 87


def test_the_bank_gives_a_bare_export_its_scales_and_follow_ups(capsys, monkeypatch):
    """An export carries only question ids: the bank adds the scale's ends (so a text-only
    contradiction is read) and the `why` that becomes what to ask next."""
    monkeypatch.delenv("INTEGRITY_MIN_GROUP", raising=False)
    monkeypatch.delenv("INTEGRITY_QUESTIONS", raising=False)
    corpus = Path(__file__).resolve().parent / "corpus" / "harbor-lane.jsonl"
    assert run([str(corpus), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    verdicts = {q["question_id"]: q["verdict"] for q in data["questions"]}
    assert verdicts["prospects-vs-customers"] == "contradict"  # answered in words only
    asks = {f["question_id"]: f["text"] for f in data["follow_ups"]}
    assert asks["prospects-vs-customers"].startswith("Think of offers, discounts and attention.")


def test_another_tools_export_reads_as_the_products_own(capsys, monkeypatch, tmp_path):
    """The same round under another tool's column names and role words, with no question
    ids: the bank is matched by the question's words, so the verdicts are the same, and
    the column the analysis cannot use is named on stderr."""
    monkeypatch.delenv("INTEGRITY_MIN_GROUP", raising=False)
    monkeypatch.delenv("INTEGRITY_QUESTIONS", raising=False)
    corpus = Path(__file__).resolve().parent / "corpus" / "harbor-lane.jsonl"
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    words = {"executive": "Senior Leadership", "frontline": "Team Member"}
    other = tmp_path / "harbor-lane.csv"
    with other.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Response ID", "Question Text", "Respondent Role", "Score", "Answer", "Submitted"]
        )
        for row in rows:
            question = row["question"].upper().rstrip("?")
            writer.writerow(
                [
                    row["id"],
                    question,
                    words[row["role"]],
                    row["rating"] or "",
                    row["text"],
                    "2026-11-02",
                ]
            )
    assert run([str(corpus), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)
    assert run([str(other), "--json"]) == 0
    captured = capsys.readouterr()
    theirs = json.loads(captured.out)

    def verdict(data: dict) -> dict:
        return {q["question"].lower().rstrip("?"): q["verdict"] for q in data["questions"]}

    assert verdict(theirs) == verdict(ours)
    assert "contradict" in verdict(ours).values()
    asks = [f["text"] for f in ours["follow_ups"]]  # the bank's `why`, found by the words
    assert asks and [f["text"] for f in theirs["follow_ups"]] == asks
    assert "not read, columns submitted" in captured.err
