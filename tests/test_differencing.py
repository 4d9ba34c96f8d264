"""Differencing, property-based: a determined executive learns nothing of a group under the floor.

Random organisations (teams, roles, people per team on both sides of the floor) answer a
few closed rounds and one open round. The adversary takes every view an executive can
ask for (every scope × every team filter: the summary's analysis and text, the export
and the count its progress line gives, the trend, the status and response rates), before
and after one more answer in the open round and again once it closes, and keeps them all.

Each view shows a set of answers (the rows of an export, the answers a summary or trend
point was computed from). Any subtraction, intersection or union of views is a union of
*atoms*: the answers that every view shows or leaves out alike. The property: every atom
holds no answer or at least the floor of each round × question × role group, so no
difference of views, however many, isolates fewer answers than the floor: not the text,
not the rating, not a mean. The figures shown are those of the view's own answers, team
labels in an export cover at least the floor of a group, an open round shows nothing but
its response rate, and that rate hides counts under the floor.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from bot.analysis.engine import analyse
from bot.core.domain import ROLES
from bot.core.service import IntegrityCheck
from bot.core.settings import Settings
from bot.core.summaries import summary_reply
from bot.core.trends import build_trend
from bot.store import Store
from tests.conftest import Clock

TEAMS = ("Sales", "Support", "Ops")


class RecordingAnalyser:
    """The real analysis engine, remembering what each call was given (and reusing the
    result for the same answers, as the views repeat them)."""

    def __init__(self) -> None:
        self.calls: list[frozenset[str]] = []
        self._results: dict[frozenset, object] = {}

    def __call__(self, records, **kwargs):
        key = frozenset(r.text for r in records)
        self.calls.append(key)
        if key not in self._results:
            with threadpool_limits(1):  # tiny k-means runs: threads only contend
                self._results[key] = analyse(records, **kwargs)
            self._check(records, self._results[key])
        return self._results[key]

    @staticmethod
    def _check(records, analysis) -> None:
        """The figures are those of the answers given: n and mean of each side."""
        for result in analysis.questions:
            for role in ROLES:
                side = getattr(result, role)
                mine = [
                    r for r in records if r.question_id == result.question_id and r.role == role
                ]
                if result.suppressed and side.n == 0:
                    assert not mine or (result.question_id, role) in {
                        (h.question_id, h.role) for h in analysis.hidden
                    }
                    continue
                assert side.n == len(mine)
                rated = [r.rating for r in mine if r.rating is not None]
                if side.mean_rating is not None:
                    assert side.mean_rating == pytest.approx(sum(rated) / len(rated), abs=0.01)


@st.composite
def organisations(draw) -> dict:
    floor = draw(st.integers(3, 4))
    teams = TEAMS[: draw(st.integers(1, 3))]
    # People per role × team (None: no team), on both sides of the floor.
    sizes = {
        (role, team): draw(st.integers(0, floor + 2)) for role in ROLES for team in (None, *teams)
    }
    return {
        "floor": floor,
        "sizes": sizes,
        "closed_rounds": draw(st.integers(1, 2)),
        "seed": draw(st.integers(0, 2**16)),
    }


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(org=organisations())
def test_no_difference_of_views_isolates_a_group_under_the_floor(tmp_path_factory, org):
    floor = org["floor"]
    rng = random.Random(org["seed"])
    path = tmp_path_factory.mktemp("differencing") / "d.db"
    store = Store(path)
    recorder = RecordingAnalyser()
    clock = Clock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    service = IntegrityCheck(
        store,
        Settings(db_path=path, secret=b"s" * 32, min_group=floor, questions_per_round=2),
        analyser=recorder,
        clock=clock,
    )
    boss = store.add_person("t", "W", "boss", "Boss", "executive", is_admin=True)
    people = [
        store.add_person("t", "W", f"{role}-{team}-{i}", "p", role, team=team)
        for (role, team), size in org["sizes"].items()
        for i in range(size)
    ]
    truth: dict[str, tuple] = {}  # marker -> (round id, question, role, team)
    answered: set[tuple] = set()

    def answer(person, round_, question_id) -> None:
        marker = f"mk{len(truth):04d}z"
        rating = rng.choice([None, 1, 2, 3, 4, 5])
        service.record_answer(
            person, question_id, rating=rating, text=f"{marker} says it", round_=round_
        )
        truth[marker] = (round_.id, question_id, person.role, person.team)
        answered.add((person.id, round_.id, question_id))

    def open_round():
        round_ = service.start_round(boss)
        service.deliver(round_, people, lambda *_: "sent")
        for person in people:
            for question in service.questions_for(person, round_):
                if rng.random() < 0.75:
                    answer(person, round_, question.id)
        return round_

    for _ in range(org["closed_rounds"]):
        service.close_round(boss, open_round())
        clock.now += timedelta(days=7)
    current = open_round()

    views: list[frozenset[str]] = []

    def take_every_view() -> None:
        rounds = service.rounds()
        words = ["all", "last", *(f"round {r.number}" for r in rounds)]
        if len(rounds) >= 2:
            words.append(f"rounds 1-{len(rounds)}")
        for team in [None, *store.teams()]:
            for word in words:
                scope = service.scope(boss, word + (f" {team}" if team else ""))
                rows = service.export_rows(boss, scope)
                views.append(frozenset(r["text"].split()[0] for r in rows))
                # The progress line ("Analysing 6 answers…") counts the same answers.
                assert service.answer_count(scope) == len(rows)
                check_labels(rows, scope.team)
                calls = len(recorder.calls)
                # The service keeps analyses of identical inputs (tests/test_follow_up.py);
                # here every summary reaches the recorder, so what it shows is checked
                # against what the engine was given for it.
                service._analyses.clear()
                text = summary_reply(service, scope).as_text()
                shown = frozenset().union(*recorder.calls[calls:])
                views.extend(recorder.calls[calls:])
                assert {m for m in truth if m in text} <= {t.split()[0] for t in shown}
            calls = len(recorder.calls)
            service._analyses.clear()
            build_trend(service, rounds, team)
            views.extend(recorder.calls[calls:])
        for round_ in rounds:
            check_response_rate(round_)

    def check_labels(rows: list[dict], team: str | None) -> None:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for row in rows:
            groups[(row["round"], row["question_id"], row["role"])].append(row)
        for members in groups.values():
            labels = Counter(row["team"] for row in members)
            if team is not None:
                assert set(labels) == {team}
            elif any(labels):  # labelled: every row of the group, each label on enough rows
                for row in members:
                    assert row["team"] == (truth[row["text"].split()[0]][3] or "")
                assert all(count >= floor for count in labels.values())

    def check_response_rate(round_) -> None:
        true = service.response_counts(round_)
        rates = service.response_rate(round_)
        hidden = 0
        for role in ROLES:
            shown = rates[role].answered
            assert shown is None or shown == true[role]["answered"]
            assert shown is None or shown == 0 or shown >= floor
            if shown is None:
                hidden += true[role]["answered"]
        if rates["all"].answered is not None:
            assert hidden == 0 or hidden >= floor

    take_every_view()
    before = set(views)
    # One more answer in the open round, and every view again.
    waiting = [
        (person, question.id)
        for person in people
        for question in service.questions_for(person, current)
        if (person.id, current.id, question.id) not in answered
    ]
    if waiting:
        person, question_id = waiting[0]
        answer(person, current, question_id)
    take_every_view()
    open_markers = {m for m, (round_id, *_) in truth.items() if round_id == current.id}
    assert not any(view & open_markers for view in views), "an open round showed an answer"
    assert set(views) == before  # one more answer in the open round changes no view
    service.close_round(boss, current)
    take_every_view()

    # Every atom of the views holds no answer, or at least the floor, of each group.
    atoms: Counter = Counter()
    for marker, (round_id, question_id, role, _team) in truth.items():
        signature = tuple(marker in view for view in views)
        if any(signature):
            atoms[(round_id, question_id, role, signature)] += 1
    small = {atom: n for atom, n in atoms.items() if n < floor}
    assert not small, f"views isolate fewer than {floor} answers: {small}"
    store.close()
