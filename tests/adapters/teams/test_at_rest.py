"""Anonymity at rest, through the Teams bot over real HTTP: a reader of the database files
copied while the bot runs, without the key, cannot pair people with their answers by id
order, times or commit order (in the trial of issue 14, Teams' event keys and conversation
references named every author), nor read an answer (text, rating, role, team: sealed with
a key from the secret); and after forget-me no file holds the person.

The reader and its attacks are `tests.file_reader`.
"""

from __future__ import annotations

import json
import random

import pytest

from bot.core import anonymity
from tests.adapters.teams.conftest import TENANT
from tests.file_reader import (
    Copier,
    FileCopy,
    assert_a_reader_without_the_key_pairs_no_one,
)

pytestmark = pytest.mark.anyio

PEOPLE = [f"t{i:02d}" for i in range(24)]


def _card(service, person, round_, seed: str) -> dict:
    """The check-in card's inputs, answered: a rating for each question, a why for one."""
    chance = random.Random(seed)
    data: dict = {"round": round_.id}
    for question in service.questions_for(person, round_)[:2]:
        data[f"rating:{question.id}"] = str(chance.randint(1, 5))
    data[f"why:{service.questions_for(person, round_)[0].id}"] = f"Hold times, says {seed}"
    return data


@pytest.mark.slow
async def test_a_file_reader_without_the_key_pairs_no_better_than_chance(teams, service, admin):
    round_ = service.start_round(admin)
    # Half meet the bot before the round goes out and get a check-in; the others come later
    # and answer with no check-in (they ask for the card themselves).
    early, late = PEOPLE[:12], PEOPLE[12:]
    for user in early:
        assert await teams.say("hello", user=user, name=f"Person {user}") == 202
    await teams.bot.deliver_round(round_)
    store = service.store
    at_fullest: list[FileCopy] = []
    emptying = store.truncate_wal

    def copy_then_empty(**how) -> bool:
        at_fullest.append(FileCopy.take(store.path))
        return emptying(**how)

    store.truncate_wal = copy_then_empty
    order = random.Random(14).sample(PEOPLE, len(PEOPLE))
    with Copier(store.path) as copier:
        for user in order:
            if user in late:
                assert await teams.say("answer", user=user, name=f"Person {user}") == 202
            person = service.person("teams", TENANT, f"aad-{user}")
            response = await teams.post(
                teams.card_action("answer", _card(service, person, round_, user), user=user)
            )
            assert response.status == 200
            assert len(service.my_answers(person, round_)) == 2
    store.truncate_wal = emptying
    store.truncate_wal()  # settled: nothing moves pages while the last copy is taken
    copies = [*at_fullest, *copier.copies, FileCopy.take(store.path)]

    people = {user: service.person("teams", TENANT, f"aad-{user}") for user in PEOPLE}
    secret = service.settings.secret
    truth = {anonymity.pseudonym(secret, p, round_.id): u for u, p in people.items()}
    answers = [dict(r) for r in store.db.query("select * from answers")]
    assert {a["pseudonym"] for a in answers} == set(truth) and len(answers) == 2 * len(PEOPLE)

    replayed = assert_a_reader_without_the_key_pairs_no_one(
        copies, at_fullest, answers, order, truth, "Hold times, says"
    )
    assert replayed > len(PEOPLE)
    assert sum("Hold times, says" in a.text for a in store.answers([round_.id])) == len(PEOPLE)
    # Response rates still come out right, worked out with the key: the late half counts as
    # asked and answered without a check-in.
    assert str(service.response_rate(round_)["all"]) == "24 of 24"

    # What the Teams trial read: event keys naming conversations and seconds, and a
    # conversation reference stamped at each answer. None of it is in the files now.
    final = FileCopy.take(store.path).all_bytes()
    for user in PEOPLE:
        assert f"a:chat-{user}:act-".encode() not in final
    keys = [dict(r) for r in store.db.query("select * from seen_events")]
    assert keys and all(len(k["key"]) == 64 and len(k["seen_on"]) == 10 for k in keys)
    for row in store.db.query("select reference, updated_at from conversation_refs"):
        assert "activityId" not in json.loads(row["reference"]) and len(row["updated_at"]) == 10


async def test_forget_me_while_the_bot_runs_leaves_neither_name_nor_answer(teams, service, admin):
    round_ = service.start_round(admin)
    name = "Quentin Quixote-Marchetti"
    assert await teams.say("hello", user="quinn", name=name) == 202
    for user in ("u1", "u2", "u3"):
        assert await teams.say("hello", user=user) == 202
    await teams.bot.deliver_round(round_)
    quinn = service.person("teams", TENANT, "aad-quinn")
    question = service.questions_for(quinn, round_)[0]
    data = {"round": round_.id, f"rating:{question.id}": "2", f"why:{question.id}": "ZEBRA-7731"}
    assert (await teams.post(teams.card_action("answer", data, user="quinn", name=name))).status
    assert any("ZEBRA-7731" in a.text for a in service.store.answers([round_.id]))
    assert b"ZEBRA-7731" not in FileCopy.take(service.store.path).all_bytes()  # sealed
    for user in ("u1", "u2", "u3"):
        await teams.post(
            teams.card_action("answer", {**data, f"why:{question.id}": "ok"}, user=user)
        )

    assert await teams.say("forget-me confirm", user="quinn", name=name) == 202
    assert "start afresh" in json.dumps(teams.connector.messages("a:chat-quinn"))
    everything = FileCopy.take(service.store.path).all_bytes()
    for trace in (b"ZEBRA-7731", b"Quentin", b"Quixote", b"aad-quinn", b"a:chat-quinn"):
        assert trace not in everything, trace
    assert len(service.store.answers([round_.id])) == 3

    # Issue 15: answering again works, as a new person.
    assert await teams.say("answer 1 1 still here", user="quinn", name=name) == 202
    replies = json.dumps(teams.connector.messages("a:chat-quinn"))
    assert "Something went wrong" not in replies and "1/5" in replies
    again = service.person("teams", TENANT, "aad-quinn")
    assert again is not None and service.my_answers(again, round_)
