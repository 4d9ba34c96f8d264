"""Property: the anonymity floor holds for any answers and any floor from 3 to 8.

No output field carries the id or the text of an answer from a question × role
group under the floor, and a question is suppressed exactly when one of its sides
has answers but fewer than the floor."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.analysis.models import ROLES, AnswerRecord, HiddenGroup, QuestionInfo
from bot.analysis.offline import analyse_offline

WORDS = [
    "customers",
    "wait",
    "hold",
    "prices",
    "great",
    "terrible",
    "app",
    "refunds",
    "slow",
    "love",
    "leave",
    "competitor",
    "service",
    "support",
    "trust",
    "renewal",
    "discount",
]

group_sizes = st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10)), min_size=1, max_size=3)


@st.composite
def answer_sets(draw) -> list[AnswerRecord]:
    answers: list[AnswerRecord] = []
    for q, sizes in enumerate(draw(group_sizes)):
        for role, size in zip(ROLES, sizes, strict=True):
            for _ in range(size):
                n = len(answers)
                words = draw(st.lists(st.sampled_from(WORDS), min_size=0, max_size=8))
                rating = draw(st.one_of(st.none(), st.integers(1, 5)))
                # A marker unique to this answer, so any leak of its text is detectable.
                text = " ".join([*words, f"mk{n:05d}z"]) if words or rating is None else ""
                answers.append(
                    AnswerRecord(
                        id=f"id{n:05d}z",
                        question_id=f"q{q}",
                        question=f"Question number {q}?",
                        role=role,
                        rating=rating,
                        text=text,
                    )
                )
    return answers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=answer_sets(), floor=st.integers(3, 8))
@pytest.mark.slow
def test_nothing_from_a_group_under_the_floor_leaks(answers, floor, embedder):
    analysis = analyse_offline(answers, min_group=floor, embedder=embedder)
    sizes = Counter((a.question_id, a.role) for a in answers)
    small = {group for group, size in sizes.items() if size < floor}
    dumped = json.dumps(analysis.model_dump())
    for answer in answers:
        if (answer.question_id, answer.role) in small:
            assert answer.id not in dumped
            if answer.text:
                assert answer.text.split()[-1] not in dumped
    assert {(h.question_id, h.role) for h in analysis.hidden} == small
    for result in analysis.questions:
        under = [(result.question_id, role) in small for role in ROLES]
        assert result.suppressed == any(under)
        for role, hidden in zip(ROLES, under, strict=True):
            side = getattr(result, role)
            if hidden:
                assert side.n == 0 and side.mean_rating is None and side.spread is None
        if result.suppressed:
            assert not result.diverges and result.gap is None and result.p_value is None
    assert analysis.answers_analysed == sum(
        1 for a in answers if (a.question_id, a.role) not in small
    )
    assert {c.question_id for c in analysis.contradictions} <= {
        r.question_id for r in analysis.questions if not r.suppressed
    }


def test_sides_the_core_withheld_are_hidden_like_small_groups(embedder):
    """The core passes the sides it kept back (`withheld`): the engine says the floor hid
    them, with the core's reason, and never "no answers to compare with"."""
    answers = [
        AnswerRecord(id=f"a{i}", question_id="q0", question="Zero?", role="executive", rating=4)
        for i in range(5)
    ]
    withheld = [
        HiddenGroup(question_id="q0", role="frontline", reason="kept back by the core"),
        HiddenGroup(question_id="q9", role="executive", reason="kept back by the core"),
    ]
    analysis = analyse_offline(
        answers,
        min_group=5,
        questions=[QuestionInfo(id="q9", text="Nine?")],
        embedder=embedder,
        withheld=withheld,
    )
    results = {r.question_id: r for r in analysis.questions}
    assert results["q0"].suppressed and results["q0"].executive.n == 5
    assert results["q0"].note == "frontline answers: kept back by the core"
    assert results["q9"].suppressed and results["q9"].question == "Nine?"
    assert {(h.question_id, h.role) for h in analysis.hidden} == {
        ("q0", "frontline"),
        ("q9", "executive"),
    }
    assert not any("compare with" in r.note for r in analysis.questions)
