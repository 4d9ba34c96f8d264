"""`/integrity follow-up N`: a follow-up from the last summary's "What to ask next" becomes
a question for both sides in the next round, rated between the two sides' claims."""

from __future__ import annotations

import pytest

from bot.core.summaries import summary_reply
from tests.conftest import make_people

BELIEVE = [
    "They would be back within weeks, nobody else knows our customers like we do.",
    "Very sure. Our renewal rate is above ninety percent and customers tell us so.",
    "They love the new portal and would miss it within days.",
    "Most would return quickly; our account managers are the best in the field.",
    "Back within a month. The competitor cannot match our personal service.",
    "I am confident they would come back, our satisfaction survey is at a record high.",
]
SEE = [
    "No. Half my calls are people angry about waiting forty minutes on hold.",
    "They would not come back, several told me they only wait for the contract to end.",
    "We lost three customers this month to the competitor's faster claims.",
    "Honestly no. The portal breaks every Monday and customers have had enough.",
    "They would stay away; the other insurer answers the phone in two minutes.",
    "Not a chance. We raised their premiums at renewal and they noticed.",
]


@pytest.fixture
def closed_round(service, admin):
    """A closed round where executives rate the give-away question 5 and the frontline 1."""
    executives = [admin, *make_people(service, "executive", 5, team="Leadership")]
    frontline = make_people(service, "frontline", 6, team="Support")
    round_ = service.start_round(admin)
    for person, text in zip(executives, BELIEVE, strict=True):
        service.record_answer(person, "give-away", rating=5, text=text)
    for person, text in zip(frontline, SEE, strict=True):
        service.record_answer(person, "give-away", rating=1, text=text)
    service.close_round(admin)
    return round_


def test_an_admin_adds_a_listed_follow_up_to_the_next_round(commands, service, admin, closed_round):
    summary = summary_reply(service, service.scope(admin, "last")).as_text()
    assert "What to ask next" in summary and "`/integrity follow-up N`" in summary
    (follow_up,) = service.analysis(service.scope(admin, "last"))[0].follow_ups

    reply = commands.handle(admin, "/integrity follow-up 1").as_text()
    assert "Added to the next round, for executives and frontline" in reply
    (question,) = service.store.questions(source="follow-up")
    assert question.text == follow_up.ask and "which is closer to what you see" in question.text
    # The scale runs from the frontline's claim (the lower side) to the executives'.
    (contradiction,) = service.analysis(service.scope(admin, "last"))[0].contradictions
    for label, claim in (
        (question.low_label, contradiction.frontline_claim),
        (question.high_label, contradiction.executive_claim),
    ):
        assert label and len(label) <= 60 and claim.startswith(label.rstrip("…").rstrip())
    assert question.why_prompt == follow_up.why and question.why_prompt
    assert question.roles == ("executive", "frontline")

    again = commands.handle(admin, "/integrity follow-up 1").as_text()
    assert "already on the list" in again
    assert len(service.store.questions(source="follow-up")) == 1

    next_round = service.start_round(admin)
    assert question.id in next_round.question_ids
    worker = service.store.people("test", "W")[-1]
    assert question.id in [q.id for q in service.questions_for(worker, next_round)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("follow-up", "Usage: `/integrity follow-up N`"),
        ("follow-up two", "Usage: `/integrity follow-up N`"),
        ("follow-up 0", "choose 1 to 1"),
        ("follow-up 2", "lists 1 follow-up under"),
    ],
)
def test_a_follow_up_number_is_bounded_by_the_list(
    commands, service, admin, closed_round, line, expected
):
    assert expected in commands.handle(admin, f"/integrity {line}").as_text()
    assert service.store.questions(source="follow-up") == []


def test_only_admins_add_follow_ups(commands, service, closed_round):
    worker = make_people(service, "frontline", 1, team="Support", prefix="w")[0]
    assert "Only admins can" in commands.handle(worker, "/integrity follow-up 1").as_text()
    assert service.store.questions(source="follow-up") == []


class RewordingEngine:
    """The offline engine, reworded on every run the way a model may be: it stands in for
    an LLM, whose second run over the same answers need not say the same."""

    def __init__(self) -> None:
        from bot.analysis.engine import analyse

        self.analyse = analyse
        self.runs = 0

    def __call__(self, records, **kwargs):
        self.runs += 1
        analysis = self.analyse(records, **kwargs)
        for follow_up in analysis.follow_ups:
            follow_up.text = f"(run {self.runs}) {follow_up.text}"
            follow_up.ask = f"(run {self.runs}) {follow_up.ask}"
        return analysis


def test_follow_up_n_is_the_one_the_summary_showed(commands, service, admin, closed_round):
    engine = service._analyser = RewordingEngine()
    summary = summary_reply(service, service.scope(admin, "last")).as_text()
    assert "(run 1)" in summary

    commands.handle(admin, "/integrity follow-up 1")
    (question,) = service.store.questions(source="follow-up")
    assert question.text.startswith("(run 1) ")
    assert engine.runs == 1  # the same answers: the summary already read, not a second run


def test_a_summary_is_read_again_when_its_answers_change(commands, service, admin, closed_round):
    engine = service._analyser = RewordingEngine()
    first, _ = service.analysis(service.scope(admin, "last"))
    first.follow_ups.clear()  # what a caller does to its copy never reaches the next one
    assert service.analysis(service.scope(admin, "last"))[0].follow_ups
    assert engine.runs == 1

    worker = service.store.people("test", "W")[-1]
    commands.handle(worker, "/integrity forget-me confirm")
    after, _ = service.analysis(service.scope(admin, "last"))
    assert engine.runs == 2 and after.answers_analysed == first.answers_analysed - 1
    assert not service._analyses or all(
        SEE[-1] not in a.model_dump_json() for a in service._analyses.values()
    )
