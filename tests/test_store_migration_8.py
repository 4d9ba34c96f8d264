"""Migration 8: a database written by the previous schema, brought under the at-rest rules.

The old database is written the way the previous release wrote it (sequential answer ids,
an `answered` mark and a delivery row per answer, Teams event keys naming conversations to
the second), then opened by today's store: the rows that linked are gone or coarsened,
answers keep their content under random ids, and nothing else changes.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import sqlite_utils

from bot.core import anonymity
from bot.core.domain import Person
from bot.core.service import IntegrityCheck
from bot.core.settings import Settings
from bot.store import Store
from bot.store.migrations import migrations

SECRET = b"test-secret-0123456789abcdef"


def _old_database(path) -> dict[str, Person]:
    """A database as the release before migration 8 left it, filled as it filled it."""
    db = sqlite_utils.Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m008_nothing_orders_or_times_an_answer")
    assert "answered" in db["deliveries"].columns_dict
    people = {}
    for n, (user, role) in enumerate(
        [("U1", "frontline"), ("U2", "frontline"), ("U3", "executive"), ("U4", "frontline")]
    ):
        db["people"].insert(
            {"platform": "teams", "workspace": "T", "user_id": user, "display_name": user,
             "role": role, "created_at": f"2026-11-0{n + 1}T08:1{n}:07+00:00"}
        )  # fmt: skip
        people[user] = Person(n + 1, "teams", "T", user, user, role)
    db["conversation_refs"].insert(
        {"person_id": 1, "platform": "teams", "reference": '{"conversation": {"id": "a:1"}}',
         "updated_at": "2026-11-02T10:00:41+00:00"}
    )  # fmt: skip
    db["questions"].insert_all(
        {"id": qid, "text": f"{qid}?", "roles": '["executive", "frontline"]'}
        for qid in ("q1", "q2")
    )
    db["rounds"].insert(
        {"number": 1, "opened_at": "2026-11-02T10:00:00+00:00", "status": "open",
         "closes_at": "2026-11-07T10:00:00+00:00", "week": "2026-W45"}
    )  # fmt: skip
    db["round_questions"].insert_all(
        {"round_id": 1, "question_id": q, "position": i} for i, q in enumerate(("q1", "q2"))
    )
    delivered = {"U1": "10:00:03", "U2": "10:00:04", "U3": "10:00:05"}
    for user, second in delivered.items():
        db["deliveries"].insert(
            {"round_id": 1, "person_id": people[user].id, "role": people[user].role,
             "status": "sent", "claimed_at": f"2026-11-02T{second}+00:00",
             "sent_at": f"2026-11-02T{second}+00:00", "message_ref": f"m-{user}",
             "answered": 0, "reminders": 0}
        )  # fmt: skip
    # U1 and U3 answered their check-in; U4 answered with no check-in (a delivery row was
    # written with the second of the answer); U2 did not answer.
    answers = [("U1", "q1", 4, "Fine"), ("U3", "q1", 2, "Slow"), ("U4", "q2", 5, "Great")]
    for i, (user, qid, rating, text) in enumerate(answers):
        person = people[user]
        db["answers"].insert(
            {"round_id": 1, "question_id": qid, "rating": rating, "text": text,
             "pseudonym": anonymity.pseudonym(SECRET, person, 1), "role": person.role,
             "answered_on": "2026-11-02", "source": "chat"}
        )  # fmt: skip
        at = f"2026-11-02T11:0{i}:33+00:00"
        if user in delivered:
            db.execute("update deliveries set answered = 1 where person_id = ?", [person.id])
        else:
            db["deliveries"].insert(
                {"round_id": 1, "person_id": person.id, "role": person.role, "status": "sent",
                 "claimed_at": at, "sent_at": at, "answered": 1}
            )  # fmt: skip
    db["seen_events"].insert_all(
        [{"key": "teams:a:1:1699999999", "seen_at": "2026-11-02T11:00:33+00:00"},
         {"key": "slack:event:Ev1", "seen_at": "2026-11-02T11:01:33+00:00"}]
    )  # fmt: skip
    db.conn.commit()
    db.close()
    return people


def test_migration_8_brings_a_database_of_the_previous_schema_under_the_rules(tmp_path):
    path = tmp_path / "old.db"
    people = _old_database(path)
    before = {
        (a["question_id"], a["rating"], a["text"], a["pseudonym"])
        for a in sqlite_utils.Database(path).query("select * from answers")
    }
    store = Store(path)
    assert store.schema_version()[7] == "m008_nothing_orders_or_times_an_answer"

    # Answers: the same content, under random 63-bit ids, in a table with no rowid.
    rows = list(store.db.query("select * from answers"))
    assert {(a["question_id"], a["rating"], a["text"], a["pseudonym"]) for a in rows} == before
    assert all(a["id"] > 2**40 for a in rows) and {a["id"] for a in rows}.isdisjoint({1, 2, 3})
    sql = store.db.execute("select sql from sqlite_master where name = 'answers'").fetchone()[0]
    assert "without rowid" in sql.lower()
    assert store.answer(rows[0]["id"]).text == rows[0]["text"]

    # Deliveries: no answered mark; the row written with U4's answer is gone; U1 and U3
    # (answered) keep their days only; U2 (still to remind) keeps the time of its send.
    deliveries = {d["person_id"]: d for d in store.deliveries(1)}
    assert "answered" not in store.db["deliveries"].columns_dict
    assert set(deliveries) == {people[u].id for u in ("U1", "U2", "U3")}
    for user in ("U1", "U3"):
        assert deliveries[people[user].id]["sent_at"] == "2026-11-02"
        assert deliveries[people[user].id]["claimed_at"] is None
    assert deliveries[people["U2"].id]["sent_at"] == "2026-11-02T10:00:04+00:00"
    assert deliveries[people["U2"].id]["claimed_at"] is None  # sent: the claim is over

    # Event keys: all gone (they named conversations); the table keeps days only.
    assert store.db["seen_events"].count == 0
    assert set(store.db["seen_events"].columns_dict) == {"key", "seen_on"}
    # People and conversations: the day only.
    assert {p["created_at"] for p in store.db["people"].rows} == {
        f"2026-11-0{n}" for n in range(1, 5)
    }
    assert next(store.db["conversation_refs"].rows)["updated_at"] == "2026-11-02"

    # The migration leaves no history: the -wal is empty and the old rows are not in the file.
    assert not (tmp_path / "old.db-wal").exists() or (tmp_path / "old.db-wal").stat().st_size == 0
    assert b"11:00:33" not in path.read_bytes()

    # What the scheduler and the summaries need still holds: response rates worked out with
    # the key give the numbers the old `answered` marks gave, U4 counted as asked too.
    service = IntegrityCheck(
        store,
        Settings(db_path=path, secret=SECRET),
        clock=lambda: datetime(2026, 11, 3, tzinfo=UTC),
    )
    rates = service.response_counts(store.round(1))
    assert {k: rates["frontline"][k] for k in ("asked", "answered")} == {"asked": 3, "answered": 2}
    assert {k: rates["executive"][k] for k in ("asked", "answered")} == {"asked": 1, "answered": 1}
    assert service.answered(store.round(1)) == {people["U1"].id, people["U3"].id}
    # Answering still works on the migrated table, and an edit keeps its answer's id.
    edited = service.record_answer(people["U1"], "q1", rating=5)
    assert edited.id in {a["id"] for a in rows} and edited.text == "Fine"
    store.close()
