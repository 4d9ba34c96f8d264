"""Customers in the core: the summary, the export and the trend show them as a third side."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from bot.core.commands import Commands
from bot.core.replies import File
from bot.core.summaries import summary_reply
from bot.core.trends import build_trend
from tests.conftest import make_people

PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Said:
    """A customer answer as the import or the survey page hands it to the service."""

    question_id: str
    rating: int
    comment: str
    answered_on: date
    segment: str | None = None


@pytest.fixture
def round_with_customers(service, admin, clock):
    """Executives rate give-away 5, frontline 2; six customers say 1-2 (the frontline's side),
    four customers answer best-experience (under the floor of 5)."""
    executives = [admin, *make_people(service, "executive", 5, team="Leadership")]
    frontline = make_people(service, "frontline", 6, team="Support")
    round_ = service.start_round(admin)
    for i, person in enumerate(executives):
        service.record_answer(person, "give-away", rating=5, text=f"They love us {i}.")
    for i, person in enumerate(frontline):
        service.record_answer(person, "give-away", rating=2, text=f"Hold times hurt {i}.")
    day = clock.now.date() + timedelta(days=1)
    stored = service.add_customer_answers(
        [
            Said("give-away", 1 + i % 2, f"I would switch, the hold times are awful {i}.", day)
            for i in range(6)
        ]
        + [Said("best-experience", 3, f"Average service {i}.", day) for i in range(4)],
        "import",
    )
    assert stored == 10
    return round_


def closed(service, round_):
    """Close the round: an open round shows its response rate only."""
    return service.close_round(round_=round_)


def test_the_summary_shows_customers_beside_both_sides_and_the_reality_gap(
    service, round_with_customers
):
    closed(service, round_with_customers)
    scope = service.scope(None, "last")
    text = summary_reply(service, scope).as_text()
    # The four under the floor are not counted.
    said = "Customers: 6 answers; of 1 question compared, they side with the frontline on 1."
    assert said in text
    assert "== Executives, frontline and customers ==" in text
    assert "== Reality gap ==" in text
    assert "Executives believe it is better than customers say (5.0 vs 1.5 out of 5)" in text
    assert "the frontline (2.0) is closer to what customers say" in text
    assert "Average service" not in text  # best-experience's customers: under the floor
    assert "fewer than 5 answers: hidden" in text and "customer answers to “" in text


def test_the_export_has_the_customers_rows_with_the_floor_applied(
    service, admin, round_with_customers
):
    closed(service, round_with_customers)
    rows = list(
        csv.DictReader(io.StringIO(service.export_csv(admin, service.scope(None)).decode()))
    )
    customers = [r for r in rows if r["role"] == "customer"]
    assert len(customers) == 6 and {r["question_id"] for r in customers} == {"give-away"}
    assert all(r["round"] == "1" and r["team"] == "" for r in customers)
    assert customers[0]["text"].startswith("I would switch")


def test_the_trend_has_a_customers_line(service, admin, round_with_customers, clock):
    closed(service, round_with_customers)
    trend = build_trend(service, service.store.rounds())
    (point,) = trend.questions["give-away"]
    assert (point.executive, point.frontline, point.customers) == (5.0, 2.0, 1.5)
    reply = Commands(service).handle(admin, "/integrity trend")
    text = reply.as_text()
    header = next(line for line in text.splitlines() if line.startswith("round"))
    assert [c.strip() for c in header.split(" | ")][2:5] == ["executives", "frontline", "customers"]
    row = next(line for line in text.splitlines() if line.startswith("1 "))
    assert [c.strip() for c in row.split(" | ")][2:5] == ["5.0", "2.0", "1.5"]
    charts = [b for b in reply.blocks if isinstance(b, File)]
    assert charts and all(c.content.startswith(PNG) for c in charts)


def test_a_customer_answer_belongs_to_no_round_before_the_first(service, clock):
    stored = service.add_customer_answers(
        [Said("give-away", 3, "ok", clock.now.date() - timedelta(days=3))], "import"
    )
    assert stored == 1 and service.store.customer_answers()[0].round_id is None
    assert service.round_on(clock.now.date()) is None


def test_a_survey_answer_never_joins_a_closed_round_it_waits_for_the_next(
    service, admin, clock, round_with_customers
):
    """An executive who saw round 1's customers, then sent one link, must not find that
    customer's answer as the difference in round 1's summary: it counts toward round 2."""
    first = closed(service, round_with_customers)
    before = service.store.customer_answers([first.id])
    clock.now += timedelta(days=1)
    late = Said("give-away", 5, "Acme here: Bob ignored us for a month", clock.now.date())
    assert service.add_customer_answers([late], "survey") == 1
    assert service.store.customer_answers([first.id]) == before
    (waiting,) = [a for a in service.store.customer_answers() if a.round_id is None]
    assert waiting.comment == late.comment
    # An import of that day still goes to the round of its day: it is the importer's data.
    service.add_customer_answers([Said("give-away", 4, "imported", clock.now.date())], "import")
    assert len(service.store.customer_answers([first.id])) == len(before) + 1
    second = service.start_round(admin)
    assert [a.comment for a in service.store.customer_answers([second.id])] == [late.comment]
    # While a round is open, the survey page's answers go to it.
    service.add_customer_answers([Said("give-away", 2, "open round", clock.now.date())], "survey")
    assert len(service.store.customer_answers([second.id])) == 2


def test_staff_can_say_what_customers_would_answer_on_the_same_check_in(service, admin):
    commands = Commands(service)
    service.start_round(admin)
    reply = commands.handle(admin, "/integrity answer 1 5 customers 4 They love our advisors.")
    text = reply.as_text()
    assert "Thanks — 5/5, you think customers would say 4/5, with your why" in text
    (answer,) = service.my_answers(admin, service.open_round()).values()
    assert (answer.rating, answer.customer_prediction) == (5, 4)
    assert answer.text == "They love our advisors."
    # The guess alone, keeping the rating and the why; a guess off the scale is refused.
    commands.handle(admin, "/integrity answer 1 - customers 2")
    (answer,) = service.my_answers(admin, service.open_round()).values()
    assert (answer.rating, answer.customer_prediction, answer.text) == (
        5, 2, "They love our advisors.",
    )  # fmt: skip
    refused = commands.handle(admin, "/integrity answer 1 - customers 7").as_text()
    assert "7 is not what customers could answer" in refused
    assert "(customers: 2)" in commands.handle(admin, "/integrity answer").as_text()


def test_answering_without_a_guess_asks_for_one_in_customers_words(service, admin):
    service.start_round(admin)
    text = Commands(service).handle(admin, "/integrity answer 1 3 not sure").as_text()
    assert "What would our customers answer?" in text
    assert "how likely would you be to stay with us?" in text
    assert "`/integrity answer 1 - customers N`" in text


def test_the_summary_says_whose_prediction_of_customers_was_closest(
    service, admin, round_with_customers
):
    executives = [p for p in service.store.people() if p.role == "executive"]
    frontline = [p for p in service.store.people() if p.role == "frontline"]
    for person in executives:
        service.record_answer(person, "give-away", customer_prediction=4)
    for person in frontline[:5]:
        service.record_answer(person, "give-away", customer_prediction=2)
    for person in frontline[:3]:  # three guesses on another question: under the floor
        service.record_answer(person, "safe-to-tell", rating=3, customer_prediction=1)
    closed(service, round_with_customers)
    analysis, _ = service.analysis(service.scope(None, "last"))
    results = {q.question_id: q for q in analysis.questions}
    assert results["give-away"].executive_prediction.mean_rating == 4.0
    assert results["give-away"].frontline_prediction.mean_rating == 2.0
    hidden = results["safe-to-tell"]  # three answers, three guesses: all under the floor
    assert hidden.suppressed and hidden.frontline.n == 0 and hidden.frontline_prediction is None
    predictions = analysis.predictions
    assert (predictions.executive_error, predictions.frontline_error) == (2.5, 0.5)
    assert predictions.closest == "frontline" and predictions.questions == 1
    (gap,) = analysis.reality_gaps
    assert gap.executive_prediction == 4.0
    text = summary_reply(service, service.scope(None, "last")).as_text()
    assert "executives predicted customers would say 4.0" in text
    assert "== Who knows the customer best ==" in text
    assert "on average executives were 2.5 off; the frontline were 0.5 off out of 5" in text
    assert "the frontline knows the customer best." in text


def test_predictions_under_the_floor_are_hidden(service, admin, round_with_customers):
    executives = [p for p in service.store.people() if p.role == "executive"]
    for person in executives[:4]:
        service.record_answer(person, "give-away", customer_prediction=4)
    closed(service, round_with_customers)
    analysis, _ = service.analysis(service.scope(None, "last"))
    (result,) = [q for q in analysis.questions if q.question_id == "give-away"]
    assert result.executive_prediction.n == 0 and result.executive_prediction.mean_rating is None
    assert analysis.predictions is None  # nothing shown, so nothing to score
