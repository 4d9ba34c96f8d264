"""Answers off the subject are flagged like junk (counted, never read for a position,
quoted or made a theme), and real answers, even ones that mention the same things, never
are. The sentences here were written for this test; none is in the classifier's examples."""

from __future__ import annotations

import numpy as np
import pytest

from bot.analysis.embeddings import sentence_embedder
from bot.analysis.models import AnswerRecord, QuestionInfo
from bot.analysis.offline import analyse_offline
from bot.analysis.offtopic import REASON, head_for

QUESTION = QuestionInfo(
    id="serve-or-process",
    text="Do we really serve our customers, or do we process them?",
    low_label="We process them",
    high_label="We serve them",
)
EXECUTIVES = [
    "We serve them. Every branch manager can refund on the spot without asking anyone.",
    "Serve, without question: our advisers own a case from the first call to the last.",
    "We measure first-contact resolution, and it has risen for six quarters running.",
    "Customers get a named adviser, not a queue number. That is the whole point of us.",
    "We serve, and the complaint numbers falling by a third this year back that up.",
    "Our people are trusted to do the right thing for the customer, not follow a script.",
]
FRONTLINE = [
    "We process them. The system closes a ticket after ten minutes whether it's fixed or not.",
    "Honestly it's a conveyor belt, I read the script and pass them on to the next team.",
    "Process. I get marked down if a call goes over six minutes, so I rush people.",
    "Mr Osei rang four times about the same bill and spoke to four different people.",
    "We can't park our customers anywhere near the branch now, so the older ones stop coming.",
]
ASIDE = "Could somebody please get the broken radiator in the back office fixed before winter?"


def answers(frontline: list[str]) -> list[AnswerRecord]:
    sides = (("executive", EXECUTIVES), ("frontline", frontline))
    return [
        AnswerRecord(
            id=f"{role[0]}{i}", question_id=QUESTION.id, question=QUESTION.text, role=role, text=t
        )
        for role, texts in sides
        for i, t in enumerate(texts)
    ]


def quoted(analysis) -> set[str]:
    quotes = [q for c in analysis.contradictions for q in c.executive_quotes + c.frontline_quotes]
    quotes += [q for t in analysis.themes for q in t.quotes]
    return {q.text for q in quotes}


def test_an_aside_is_flagged_and_never_stands_for_its_side():
    analysis = analyse_offline(
        answers([*FRONTLINE, ASIDE]),
        min_group=5,
        questions=[QUESTION],
        embedder=sentence_embedder(),
    )
    assert [(f.answer_id, f.reason) for f in analysis.flagged] == [("f5", REASON)]
    assert not any(ASIDE in text or text in ASIDE for text in quoted(analysis))
    (result,) = analysis.questions
    assert result.frontline.n == 6  # counted: someone did answer
    assert result.diverges  # and the real answers still speak for the frontline


def test_real_answers_about_the_same_things_are_never_flagged():
    """Parking, the rota, the till system and the canteen, each about customers."""
    frontline = [
        "The customer car park is always full, so people circle twice and then drive off.",
        "The rota leaves one person on the desk at lunch, and the queue goes out the door.",
        "Our till system crashes every Saturday and customers walk out with nothing.",
        "The cafe food is microwaved now and the regulars have noticed.",
        "Process. Nobody has time to talk to anyone.",
        "The heating in the waiting room has been broken for a month and patients sit in coats.",
    ]
    analysis = analyse_offline(
        answers(frontline), min_group=5, questions=[QUESTION], embedder=sentence_embedder()
    )
    assert analysis.flagged == []


def test_asides_that_say_so_are_flagged_even_side_by_side():
    """Two asides about the canteen sit together, so neither stands apart; each says it
    is an aside, so the classifier need only lean its way. A real answer that opens the
    same way but is about customers is not flagged."""
    asides = [
        "Unrelated, but the staff canteen has run out of hot food by one o'clock all week.",
        "Separate point: the staff canteen shuts before the late shift gets its break.",
    ]
    real = "Slightly off topic, but customers tell me our hold music is the worst part of calling."
    analysis = analyse_offline(
        answers([*FRONTLINE, *asides, real]),
        min_group=5,
        questions=[QUESTION],
        embedder=sentence_embedder(),
    )
    assert [(f.answer_id, f.reason) for f in analysis.flagged] == [("f5", REASON), ("f6", REASON)]


def test_a_question_with_few_answers_is_not_screened():
    """Six answers in all are too few to tell one that stands apart from the rest."""
    few = answers([FRONTLINE[0], ASIDE])[:4] + answers([FRONTLINE[0], ASIDE])[-2:]
    analysis = analyse_offline(few, min_group=3, questions=[QUESTION], embedder=sentence_embedder())
    assert len({a.text for a in few}) == 6 and analysis.flagged == []


def test_a_round_read_by_word_vectors_is_not_screened():
    from bot.analysis.embeddings import word_embedder

    assert head_for(sentence_embedder().name) is not None
    assert head_for(word_embedder().name) is None


@pytest.mark.slow
def test_training_again_reproduces_the_shipped_classifier(tmp_path, monkeypatch, capsys):
    """The shipped JSON is what the code and the examples give, and on the corpus's tuning
    companies it finds most off-topic answers and flags no more than two real ones.

    "What they give" is judged by what the classifier says, not by its weights: the
    sentence encoder's and BLAS's last digits differ from one CPU to another, and a
    logistic regression over 9,610 features carries that into its weights (up to 0.11
    apart on a machine other than the one that trained it), while its probabilities on
    the 7,200 examples stay within 0.011 of each other, and 5 of them fall on the other
    side of p = 0.95."""
    from bot.analysis import offtopic
    from bot.analysis.stance import load_examples

    embedder = sentence_embedder()
    shipped = offtopic.head_for(embedder.name)
    monkeypatch.setattr(offtopic, "DATA", tmp_path)
    assert offtopic.main([]) == 0
    again = offtopic.StanceHead.load(offtopic.head_path(embedder.name))
    off_topic, look_alike = offtopic.load()
    # Every tenth example (720), so the test does not read all 7,200 a second time.
    texts = (off_topic + look_alike + [text for _, text, _ in load_examples()])[::10]
    vectors = np.asarray(embedder.embed(texts), dtype=np.float64)
    before = offtopic.probability(shipped, texts, vectors)
    after = offtopic.probability(again, texts, vectors)
    assert np.max(np.abs(after - before)) < 0.05
    for sure in (offtopic.SURE, offtopic.ANNOUNCED_SURE):
        assert ((before >= sure) != (after >= sure)).sum() <= 0.005 * len(texts)
    report = capsys.readouterr().out
    # Two real answers are flagged: a gym's "New lockers that actually lock! Small thing but
    # people really appreciate it.", its members' lockers read as a staff-facilities aside,
    # and a parcel firm's terse "Bellwood Crafts hasn't seen theirs in a year." (a business
    # customer who has not seen its account manager), too short to show it is about one.
    known = ("New lockers that actually lock", "Bellwood Crafts hasn't seen theirs")
    flagged = [line for line in report.splitlines() if "flags a real answer" in line]
    assert len(flagged) <= 2, report
    assert all(any(k in line for k in known) for line in flagged), report
    found = int(report.split("rule finds ")[1].split()[0])
    assert found >= 14, report
