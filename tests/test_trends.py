"""Trends over a seeded multi-round history: figures, the floor on every point, charts,
and the export → analyse round trip."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.core.replies import File
from bot.core.trends import build_trend, gap_chart
from tests.conftest import make_people

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def history(service, admin, clock):
    """Four weekly rounds; the gap on the give-away question closes from 3 to 1;
    in round 3 only 3 executives answer (under the floor of 5)."""
    executives = [admin, *make_people(service, "executive", 5, team="Leadership")]
    frontline = make_people(service, "frontline", 6, team="Support")
    plan = {1: (5, 2), 2: (5, 2), 3: (4, 3), 4: (4, 3)}
    for number, (exec_rating, front_rating) in plan.items():
        round_ = service.start_round(admin)
        answering = executives[:3] if number == 3 else executives
        for i, person in enumerate(answering):
            service.record_answer(
                person,
                "give-away",
                rating=exec_rating,
                text=f"Customers love us, round {number} {i}.",
            )
        for i, person in enumerate(frontline):
            service.record_answer(
                person,
                "give-away",
                rating=front_rating,
                text=f"Hold times hurt, round {number} {i}.",
            )
        service.close_round(admin, round_)
        clock.now += timedelta(days=7)
    return executives, frontline


def test_trend_points_follow_the_rounds_and_hide_a_side_under_the_floor(service, history):
    trend = build_trend(service, service.store.rounds())
    points = trend.questions["give-away"]
    assert [p.round_number for p in points] == [1, 2, 3, 4]
    assert [p.gap for p in points] == [3.0, 3.0, None, 1.0]
    assert points[2].executive is None and points[2].frontline == 3.0
    assert trend.hidden_points >= 1
    # 3 executives answered round 3, none sent a check-in: under the floor, so the count is
    # not shown, nor is it as the asked count ("some of 3" said the 3).
    assert (trend.response[3]["executive"].asked, trend.response[3]["executive"].answered) == (
        0,
        None,
    )
    assert str(trend.response[3]["executive"]) == "some"
    assert str(trend.response[4]["executive"]) == "6 of 6"
    assert trend.themes["loyalty"][0].gap == 3.0


def test_gap_chart_is_a_png(service, history):
    points = build_trend(service, service.store.rounds()).questions["give-away"]
    png = gap_chart("Would they come back?", points, 5)
    assert png.startswith(PNG) and len(png) > 5_000


def test_trend_command_replies_with_a_table_and_charts(commands, service, admin, history):
    reply = commands.handle(admin, "/integrity trend give-away")
    files = [b for b in reply.blocks if isinstance(b, File)]
    assert [f.name for f in files] == ["trend-give-away.png", "round-4-sides.png"]
    assert all(f.content.startswith(PNG) for f in files)
    text = reply.as_text()
    assert "hidden (under the floor)" in text and "fewer than 5 answers" in text
    worker = history[1][0]
    assert commands.handle(worker, "/integrity trend").as_text().startswith("Only executives")
    assert "There is no question" in commands.handle(admin, "/integrity trend nope").as_text()


def test_export_jsonl_reads_back_into_analyse_with_the_same_figures(service, history, tmp_path):
    from bot.analysis.engine import analyse
    from bot.analysis.loader import load_answers

    scope = service.scope(None, "round 4")
    path = tmp_path / "export.jsonl"
    path.write_bytes(service.export_jsonl(None, scope))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 12 and all("pseudonym" not in r for r in rows)
    direct, _ = service.analysis(scope)
    again = analyse(load_answers(path), min_group=service.settings.min_group)
    pick = lambda a: [  # noqa: E731
        (q.question_id, q.gap, q.executive.n, q.frontline.n)
        for q in a.questions
        if not q.suppressed
    ]
    assert pick(again) == pick(direct)
    # The round's other questions had no answers: the summary says the floor hid them.
    assert {h.question_id for h in direct.hidden} == {q.question_id for q in direct.questions} - {
        "give-away"
    }
