"""The file reader's attacks work: against the way the previous schema wrote answers (the
"answered" mark in the answer's transaction, sequential ids, a delivery stamped at the
answer's second), they pair everyone, and the answers' text is there to read. The at-rest
tests (tests/adapters/*/test_at_rest.py) then show that against today's store they do no
better than chance and find no answer's text (sealed: tests/test_seal.py)."""

from __future__ import annotations

import random
import sqlite3

import sqlite_utils

from bot.store.migrations import migrations
from tests.file_reader import (
    FileCopy,
    pair_by_commits,
    pair_by_id_order,
    pair_by_time,
    wal_commits,
)

PEOPLE = [f"U{i:02d}" for i in range(12)]


def test_the_attacks_pair_everyone_against_the_previous_way_of_writing(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    db.enable_wal()
    db.execute("PRAGMA wal_autocheckpoint = 0")  # keep the -wal, as a busy bot's would be
    migrations.apply(db, stop_before="m008_nothing_orders_or_times_an_answer")
    db["questions"].insert({"id": "q1", "text": "Q?", "roles": "[]"})
    db["rounds"].insert(
        {"number": 1, "opened_at": "2026-11-02T10:00:00+00:00", "status": "open",
         "closes_at": "2026-11-07T10:00:00+00:00"}
    )  # fmt: skip
    for n, user in enumerate(PEOPLE):
        db["people"].insert(
            {"platform": "slack", "workspace": "T", "user_id": user, "role": "frontline"}
        )
        if n % 2 == 0:  # half were sent a check-in
            db["deliveries"].insert(
                {"round_id": 1, "person_id": n + 1, "role": "frontline", "status": "sent",
                 "sent_at": "2026-11-02T10:00:00+00:00"}
            )  # fmt: skip
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    order = random.Random(14).sample(range(len(PEOPLE)), len(PEOPLE))
    truth = {}
    for minute, n in enumerate(order):
        pseudonym = f"pseudonym-{n:02d}-{random.Random(n).getrandbits(64):x}"
        truth[pseudonym] = PEOPLE[n]
        at = f"2026-11-02T11:{minute:02d}:00+00:00"
        db.execute("begin")
        db["answers"].insert(
            {"round_id": 1, "question_id": "q1", "pseudonym": pseudonym, "role": "frontline",
             "rating": 3, "text": f"HOLD-QUEUE-{n:02d}", "answered_on": "2026-11-02"}
        )  # fmt: skip
        marked = db.execute(
            "update deliveries set answered = 1 where person_id = ?", [n + 1]
        ).rowcount
        if not marked:
            db["deliveries"].insert(
                {"round_id": 1, "person_id": n + 1, "role": "frontline", "status": "sent",
                 "claimed_at": at, "sent_at": at, "answered": 1}
            )  # fmt: skip
        db.execute("commit")
    copy = FileCopy.take(path)
    assert len(wal_commits(copy.wal)) == len(PEOPLE)
    # Unsealed, every answer's text is in the files' bytes for anyone to read (the at-rest
    # tests and tests/test_seal.py show none is now).
    assert all(f"HOLD-QUEUE-{n:02d}".encode() in copy.all_bytes() for n in range(len(PEOPLE)))

    by_commits, replayed = pair_by_commits([copy], truth)
    assert replayed == len(PEOPLE) and by_commits == len(PEOPLE)  # everyone, as in the issue
    answers = [dict(r) for r in db.query("select * from answers")]
    answering_order = [PEOPLE[n] for n in order]
    assert pair_by_id_order(answers, answering_order, truth) == len(PEOPLE)
    # Those who answered without a check-in got a delivery stamped with their answer's
    # second; the answers keep the day only, so the times alone pair none of them here.
    assert pair_by_time(copy, truth) <= 1
