"""The demo organisation: seeded into an empty database on the terminal chat's first run.

It gives a new user something real to look at straight away: people in two
frontline teams and a leadership team, one closed round whose answers show a
clear executive/frontline contradiction beside what customers said (and what each
side guessed customers would say), and an open round to answer. It goes
through the core service like any adapter would, with a clock set to the past,
so deliveries, pseudonyms and coarse dates are exactly what real use produces.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bot.core.domain import CustomerSaid, Person
from bot.core.service import IntegrityCheck
from bot.core.settings import Settings
from bot.store import Store

PLATFORM = "terminal"
WORKSPACE = "demo"
DEMO_FILE = Path(__file__).with_name("demo.yaml")


def seed_demo(store: Store, settings: Settings, now: datetime | None = None) -> list[Person]:
    """Fill an empty database with the demo organisation; return its people."""
    data = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    now = now or datetime.now(UTC)
    moment = now - timedelta(days=14)
    # A clock the seeding moves forward, so every date is what real use would produce.
    service = IntegrityCheck(store, settings, clock=lambda: moment)
    people: dict[str, Person] = {}
    for user_id, name, *flags in data["people"]["executives"]:
        people[user_id], _ = service.meet(
            PLATFORM, WORKSPACE, user_id, name, team="Leadership", tz="Europe/London",
            grant="admin" if "admin" in flags else "executive",
        )  # fmt: skip
    for team, members in data["people"]["frontline"].items():
        for user_id, name in members:
            people[user_id], _ = service.meet(
                PLATFORM, WORKSPACE, user_id, name, team=team, tz="Europe/London"
            )
    by_role = {
        role: [p for p in people.values() if p.role == role] for role in ("executive", "frontline")
    }

    # Round 1: opened two weeks ago, answered over the following days, closed.
    opened = moment
    first = service.start_round()
    service.deliver(first, list(people.values()), lambda *_: "demo")
    # A custom bank or round size may not ask every demo question: skip those answers.
    for question_id, sides in data["round1"].items():
        if question_id not in first.question_ids:
            continue
        for role, answers in sides.items():
            for i, (rating, text) in enumerate(answers):
                moment = opened + timedelta(days=1 + i % 4)
                service.record_answer(
                    by_role[role][i], question_id, rating=rating, text=text, round_=first
                )
    for question_id, sides in data.get("predictions", {}).items():
        if question_id not in first.question_ids:
            continue
        for role, guesses in sides.items():
            for i, guess in enumerate(guesses):
                service.record_answer(
                    by_role[role][i], question_id, customer_prediction=guess, round_=first
                )
    # Customers answered over the same days (their own questions, on the same scale).
    said = [
        CustomerSaid(
            question_id, rating, comment, (opened + timedelta(days=1 + i % 4)).date(), segment
        )
        for question_id, answers in data.get("customers", {}).items()
        if question_id in first.question_ids
        for i, (rating, comment, segment) in enumerate(answers)
    ]
    service.add_customer_answers(said[: len(said) // 2], "survey")
    service.add_customer_answers(said[len(said) // 2 :], "import")
    moment = opened + timedelta(days=5)
    service.close_round(round_=first)

    # Round 2: opened yesterday, a few answers in.
    moment = now - timedelta(days=1)
    second = service.start_round()
    service.deliver(second, list(people.values()), lambda *_: "demo")
    moment = now
    for question_id, sides in data["round2"].items():
        if question_id not in second.question_ids:
            continue
        for answers in sides.values():
            for user_id, rating, text in answers:
                service.record_answer(
                    people[user_id], question_id, rating=rating, text=text, round_=second
                )
    return list(people.values())
