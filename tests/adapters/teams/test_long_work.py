"""Slow commands are acknowledged at once and answered proactively.

Teams gives a turn 15 s; a summary takes 3 s offline and far longer with an LLM. The
analysis engine here is the real one behind a gate the test opens, so each test can
look at what the person has seen while the summary is still being worked out.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from bot.core.service import IntegrityCheck
from tests.adapters.teams.conftest import TENANT
from tests.conftest import make_people

pytestmark = pytest.mark.anyio

BOSS = "a:chat-boss"


class GatedEngine:
    """The real analysis engine, held until the test lets it run (or makes it fail)."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Event()
        self.fail = False

    def __call__(self, *args, **kwargs):
        from bot.analysis.engine import analyse

        self.started.set()
        assert self.open.wait(30), "the test never let the analysis run"
        if self.fail:
            raise RuntimeError("the engine broke")
        return analyse(*args, **kwargs)


@pytest.fixture
def engine() -> GatedEngine:
    return GatedEngine()


@pytest.fixture
def service(store, settings, clock, engine):
    return IntegrityCheck(store, settings, analyser=engine, clock=clock)


def _closed_round(service, admin):
    people = make_people(service, "executive", 5) + make_people(service, "frontline", 5)
    round_ = service.start_round(admin)
    for person in people:
        for question in service.questions_for(person, round_):
            service.record_answer(person, question.id, rating=3, text="Some days, not others.")
    service.close_round(admin)
    return round_


def _posted(connector, conversation: str) -> list[dict]:
    """Everything posted into a conversation, typing indicators included, in order."""
    return [
        c.body
        for c in connector.calls
        if c.method == "POST"
        and isinstance(c.body, dict)
        and f"/v3/conversations/{conversation}/" in c.path
        and not c.refused
    ]


async def _say_without_waiting(teams, text: str):
    """Post a message and return as soon as Teams has its HTTP answer."""
    body = teams.activity(text=text, user="boss", name="Bo Boss")
    return await teams.client.post("/api/messages", json=body)


async def test_a_summary_is_acknowledged_at_once_and_sent_when_done(teams, service, admin, engine):
    round_ = _closed_round(service, admin)
    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive")
    answers = service.answer_count(service.scope(None, ""))
    teams.bot.typing_every = 0.05

    response = await _say_without_waiting(teams, "summary")
    # Teams has its answer while the engine has not even been let run.
    assert response.status == 202 and not engine.open.is_set()
    said = _posted(teams.connector, BOSS)
    assert said[-2]["text"] == f"Analysing {answers} answers from round {round_.number}…"
    assert said[-1]["type"] == "typing"
    assert teams.connector.cards(BOSS) == []

    assert await asyncio.to_thread(engine.started.wait, 10)
    for _ in range(100):  # the typing indicator is shown again while it works
        if [b["type"] for b in _posted(teams.connector, BOSS)].count("typing") >= 3:
            break
        await asyncio.sleep(0.02)
    assert [b["type"] for b in _posted(teams.connector, BOSS)].count("typing") >= 3

    engine.open.set()
    await teams.bot.settled()
    cards = teams.connector.cards(BOSS)
    assert cards, "the summary never arrived"
    assert f"Integrity check: round {round_.number}" in json.dumps(cards[0])
    # The summary is the last thing posted: no typing indicator after it.
    assert _posted(teams.connector, BOSS)[-1]["type"] == "message"


async def test_a_refusal_or_a_usage_error_is_answered_at_once(teams, service, admin, engine):
    _closed_round(service, admin)
    await teams.say("summary", user="u1", name="Ann")  # frontline
    [refusal] = [m["text"] for m in teams.connector.messages("a:chat-u1") if m.get("text")][-1:]
    assert "Only executives can read summaries" in refusal
    assert not any("Analysing" in (m.get("text") or "") for m in teams.connector.messages())

    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive")
    await teams.say("summary round 99999999999999999999", user="boss", name="Bo Boss")
    said = [m.get("text") or "" for m in teams.connector.messages(BOSS)]
    assert not any("Analysing" in t for t in said)
    assert not engine.started.is_set()


async def test_a_summary_that_fails_after_the_acknowledgement_says_so(
    teams, service, admin, engine, caplog
):
    _closed_round(service, admin)
    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive")
    engine.fail = True
    engine.open.set()
    await teams.say("summary", user="boss", name="Bo Boss")
    said = [m.get("text") or "" for m in teams.connector.messages(BOSS)]
    assert said[-1].startswith("I could not finish the summary: something went wrong on our side")
    assert "send it again" not in said[-1]
    assert "`summary` failed after it was acknowledged" in caplog.text
