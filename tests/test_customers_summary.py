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


def test_the_summary_shows_customers_beside_both_sides_and_the_reality_gap(
    service, round_with_customers
):
    scope = service.scope(None, "last")
    text = summary_reply(service, scope).as_text()
    assert "Customers: 6 answer(s)" in text  # the four under the floor are not counted
    assert "== Executives, frontline and customers ==" in text
    assert "== Reality gap ==" in text
    assert "Executives believe it is better than customers say (5.0 vs 1.5 out of 5)" in text
    assert "the frontline (2.0) is closer to what customers say" in text
    assert "Average service" not in text  # best-experience's customers: under the floor
    assert "1 question group(s) had fewer than 5 answers: hidden" in text


def test_the_export_has_the_customers_rows_with_the_floor_applied(
    service, admin, round_with_customers
):
    rows = list(
        csv.DictReader(io.StringIO(service.export_csv(admin, service.scope(None)).decode()))
    )
    customers = [r for r in rows if r["role"] == "customer"]
    assert len(customers) == 6 and {r["question_id"] for r in customers} == {"give-away"}
    assert all(r["round"] == "1" and r["team"] == "" for r in customers)
    assert customers[0]["text"].startswith("I would switch")


def test_the_trend_has_a_customers_line(service, admin, round_with_customers, clock):
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
