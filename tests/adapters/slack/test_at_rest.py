"""Anonymity at rest, through the Slack app over real HTTP: a reader of the database files
(db, -wal, -shm) copied while the bot runs, without the key, cannot pair people with their
answers by id order, times or commit order, nor read an answer (text, rating, role, team:
sealed with a key from the secret); and after forget-me no file holds the person.

The reader and its attacks are `tests.file_reader`; `tests/test_file_reader.py` shows the
same attacks pair everyone against the way the previous schema wrote answers.
"""

from __future__ import annotations

import random

import pytest

from bot.core import anonymity
from tests.adapters.slack.conftest import ADMIN, EXECUTIVES, FRONTLINE
from tests.file_reader import (
    Copier,
    FileCopy,
    assert_a_reader_without_the_key_pairs_no_one,
)

EXTRA = [f"UFRONTX{i}" for i in range(12)]


def _answered(rig, user: str, round_, count: int) -> bool:
    person = rig.service.person("slack", rig.fake.team_id, user)
    return person is not None and len(rig.service.my_answers(person, round_)) >= count


def _why_saved(rig, user: str, round_) -> bool:
    person = rig.service.person("slack", rig.fake.team_id, user)
    return any("hold queue" in a.text for a in rig.service.my_answers(person, round_).values())


@pytest.mark.slow
def test_a_file_reader_without_the_key_pairs_no_better_than_chance(fake, make_rig):
    for user in EXTRA:
        fake.add_user(user, user.lower(), tz="Europe/Berlin")
    rig = make_rig()
    humans = [ADMIN, *EXECUTIVES, *FRONTLINE, *EXTRA]
    assert rig.send.command(ADMIN, "ask").status_code == 200
    fake.wait_for(lambda: all(fake.messages.get(f"D{u}") for u in humans), timeout=60)
    round_ = rig.service.open_round()
    store = rig.service.store

    # The worst moments for the bot: a copy taken right before each time it empties the
    # -wal (after an answer, and before the next one), besides copies taken all along.
    at_fullest: list[FileCopy] = []
    emptying = store.truncate_wal

    def copy_then_empty(**how) -> bool:
        at_fullest.append(FileCopy.take(store.path))
        return emptying(**how)

    store.truncate_wal = copy_then_empty
    order = random.Random(14).sample(humans, len(humans))
    with Copier(store.path) as copier:
        for user in order:
            assert rig.rate(user, 1, random.Random(user).randint(1, 5)).status_code == 200
            fake.wait_for(lambda u=user: _answered(rig, u, round_, 1), timeout=10)
            assert rig.rate(user, 2, 3).status_code == 200
            fake.wait_for(lambda u=user: _answered(rig, u, round_, 2), timeout=10)
            if user in order[::3]:
                assert rig.add_why(user, 1, f"Because of the hold queue, {user}").status_code == 200
                fake.wait_for(lambda u=user: _why_saved(rig, u, round_), timeout=10)
    store.truncate_wal = emptying
    store.truncate_wal()  # settled: nothing moves pages while the last copy is taken
    copies = [*at_fullest, *copier.copies, FileCopy.take(store.path)]

    secret = rig.service.settings.secret
    truth = {
        anonymity.pseudonym(secret, rig.service.person("slack", fake.team_id, u), round_.id): u
        for u in humans
    }
    answers = [dict(r) for r in store.db.query("select * from answers")]
    assert len(answers) >= 2 * len(humans) and {a["pseudonym"] for a in answers} == set(truth)

    replayed = assert_a_reader_without_the_key_pairs_no_one(
        copies, at_fullest, answers, order, truth, "hold queue"
    )
    assert replayed > len(humans)  # the -wal was read, commit by commit, many times over
    assert any("hold queue" in a.text for a in store.answers([round_.id]))  # the key opens them


def test_forget_me_while_the_bot_runs_leaves_neither_name_nor_answer_in_any_file(fake, make_rig):
    fake.add_user("UQUINN", "quentin.quixote", real_name="Quentin Quixote-Marchetti")
    rig = make_rig()
    assert rig.send.command(ADMIN, "ask").status_code == 200
    fake.wait_for(lambda: fake.messages.get("DUQUINN"), timeout=30)
    round_ = rig.service.open_round()
    for user in ("UQUINN", *FRONTLINE[:4]):
        rig.rate(user, 1, 2)
        fake.wait_for(lambda u=user: _answered(rig, u, round_, 1), timeout=10)
    rig.add_why("UQUINN", 1, "ZEBRA-CROSSING-7731: customers are kept on hold")
    fake.wait_for(
        lambda: any("ZEBRA" in a.text for a in rig.service.store.answers([round_.id])),
        timeout=10,
    )
    assert b"ZEBRA-CROSSING-7731" not in _all_bytes(rig)  # stored, sealed: not in the bytes
    assert rig.send.command("UQUINN", "forget-me confirm").status_code == 200
    fake.wait_for(lambda: "start afresh" in rig.responses_text(), timeout=10)

    # The bot is still running: the db, its -wal and -shm, byte by byte.
    everything = _all_bytes(rig)
    for trace in (b"ZEBRA-CROSSING-7731", b"Quentin", b"Quixote", b"quentin.quixote", b"UQUINN"):
        assert trace not in everything, trace
    assert rig.service.store.db.execute("pragma secure_delete").fetchone()[0] == 1
    # The others' answers are all still there.
    assert len(rig.service.store.answers([round_.id])) == 4

    # Issue 15: answering again works, as a new person.
    assert rig.send.command("UQUINN", "answer 1 1 still here").status_code == 200
    fake.wait_for(lambda: "1/5" in rig.responses_text(), timeout=10)
    assert "Something went wrong" not in rig.responses_text()
    again = rig.service.person("slack", fake.team_id, "UQUINN")
    assert again is not None and rig.service.my_answers(again, round_)


def _all_bytes(rig) -> bytes:
    return FileCopy.take(rig.service.store.path).all_bytes()
