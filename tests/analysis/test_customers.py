"""Three sides: customers beside executives and frontline, the reality gap, and the floor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.analysis.customers import closest_side
from bot.analysis.engine import analyse
from bot.analysis.loader import load_answers
from bot.analysis.models import Analysis
from bot.analysis.render import to_reply
from bot.cli import main
from bot.core.replies import Heading, Reply

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "three_sides.jsonl"


@pytest.fixture(scope="module")
def analysis(embedder) -> Analysis:
    """Executives and frontline disagree on all three questions; customers side with the
    frontline on give-away, with executives on safe-to-tell, and are too few on the third."""
    return analyse(load_answers(FIXTURE), min_group=5)


def test_customers_are_a_third_column_on_each_question(analysis):
    results = {q.question_id: q for q in analysis.questions}
    give_away = results["give-away"]
    assert (give_away.executive.mean_rating, give_away.frontline.mean_rating) == (4.6, 1.4)
    assert give_away.customers.n == 6 and give_away.customers.mean_rating == 1.5
    assert closest_side(give_away) == "frontline"
    assert results["safe-to-tell"].customers.mean_rating == 2.0
    assert closest_side(results["safe-to-tell"]) == "executive"
    # The engines compare staff only: the contradictions are the three staff gaps.
    assert {c.question_id for c in analysis.contradictions} == set(results)


def test_the_reality_gap_names_where_executives_are_far_from_customers(analysis):
    (gap,) = analysis.reality_gaps  # safe-to-tell: executives 1.8 vs customers 2.0, no gap
    assert gap.question_id == "give-away" and gap.closest == "frontline"
    assert (gap.executive, gap.customers, gap.gap) == (4.6, 1.5, 3.1)
    assert "the frontline (1.4) is closer to what customers say" in gap.summary
    texts = {json.loads(line)["text"]: json.loads(line) for line in FIXTURE.open()}
    for quote in gap.customer_quotes:
        assert texts[quote.text]["role"] == "customer" and texts[quote.text]["rating"] <= 2


def test_customers_under_the_floor_are_hidden_like_staff(analysis):
    results = {q.question_id: q for q in analysis.questions}
    assert results["serve-or-process"].customers.n == 0
    assert results["serve-or-process"].customers.mean_rating is None
    hidden = [(h.question_id, h.role) for h in analysis.hidden]
    assert ("serve-or-process", "customer") in hidden
    dumped = json.dumps(analysis.model_dump())
    assert "I felt processed like a ticket" not in dumped and "Nobody could help me" not in dumped
    assert analysis.answers_analysed == 30 + 11  # the three hidden customer answers not counted


def test_the_report_says_the_reality_gap_in_a_line_first_and_the_three_sides_behind_more(
    analysis,
):
    reply = to_reply(analysis)
    text = reply.as_text()
    first = Reply(reply.blocks[: reply.fold]).as_text()
    assert "Reality gap on 1 of 2 questions customers answered; widest on “If we handed" in first
    assert "executives 4.6, customers 1.5 out of 5; the frontline is closer." in first
    headings = [b.text for b in reply.blocks[reply.fold :] if isinstance(b, Heading)]
    assert "Executives, frontline and customers" in headings and "Reality gap" in headings
    assert "Executives, frontline and customers" not in first
    assert "== Executives, frontline and customers ==" in text
    section = text.split("== Executives, frontline and customers ==")[1]
    header = next(line for line in section.splitlines() if line.startswith("Question"))
    assert [c.strip() for c in header.split(" | ")] == [
        "Question", "Executive", "Frontline", "Customers", "Closest to customers",
    ]  # fmt: skip
    rows = [line for line in section.splitlines() if line.startswith(("If we", "Do we"))]
    assert rows[0].split(" | ")[3].strip() == "1.5 (6)"
    assert rows[0].split(" | ")[4].strip() == "frontline"
    assert rows[1].split(" | ")[3].strip() == "hidden"
    assert "1. “If we handed every one of our customers" in text
    assert "Executives believe it is better than customers say (4.6 vs 1.5 out of 5)" in text
    assert "— customer" in text
    assert "customer answers to “Do we serve our customers, or do we process them?”" in text


def test_without_customer_answers_the_report_is_unchanged(embedder):
    staff = [a for a in load_answers(FIXTURE) if a.role != "customer"]
    analysis = analyse(staff, min_group=5)
    assert all(q.customers is None for q in analysis.questions)
    assert analysis.reality_gaps == []
    assert "customers ==" not in to_reply(analysis).as_text()


def test_analyse_reads_a_customer_role_from_a_file(capsys, monkeypatch):
    monkeypatch.delenv("INTEGRITY_MIN_GROUP", raising=False)
    assert main(["analyse", str(FIXTURE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reality_gaps"][0]["question_id"] == "give-away"
    assert data["questions"][0]["customers"]["mean_rating"] == 1.5


def test_a_file_of_customers_only_shows_their_figures(tmp_path, embedder):
    path = tmp_path / "customers.jsonl"
    rows = [
        {"question": "Would you stay?", "role": "client", "rating": r, "text": "fine"}
        for r in (1, 2, 2, 3, 1)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    analysis = analyse(load_answers(path), min_group=5)
    (result,) = analysis.questions
    assert result.customers.mean_rating == 1.8 and result.note == "customers only"
    assert analysis.reality_gaps == []
