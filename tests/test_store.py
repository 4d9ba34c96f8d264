"""The store: migrations on a fresh database, idempotent writes, and a locked database."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.service import KEEP
from bot.store import DatabaseBusy, Store, migrations


def test_migrations_build_the_schema_on_a_fresh_in_memory_database():
    store = Store(":memory:")
    assert store.schema_version() == [m.name for m in migrations._migrations]
    assert {
        "people", "questions", "rounds", "round_questions",
        "deliveries", "answers", "proposals", "seen_events",
    } <= set(store.db.table_names())  # fmt: skip
    # Applying again is a no-op: nothing pending, nothing duplicated.
    assert migrations.pending(store.db) == []
    migrations.apply(store.db)
    assert len(store.schema_version()) == len(migrations._migrations)


def test_answers_table_has_no_column_that_names_a_person():
    columns = set(Store(":memory:").db.table("answers").columns_dict)
    assert not columns & {"person_id", "user_id", "display_name", "name", "created_at"}
    assert "pseudonym" in columns and "answered_on" in columns


def test_file_database_uses_wal_and_foreign_keys(tmp_path):
    store = Store(tmp_path / "x.db")
    assert store.db.journal_mode == "wal"
    assert store.db.execute("pragma foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):
        store.write(
            lambda: store.db.execute(
                "insert into round_questions (round_id, question_id) values (999, 'nope')"
            )
        )


def test_reopening_keeps_data_and_applies_nothing_twice(tmp_path):
    first = Store(tmp_path / "x.db")
    first.add_person("slack", "T1", "U1", "Ann")
    first.close()
    again = Store(tmp_path / "x.db")
    assert [p.user_id for p in again.people()] == ["U1"]
    assert len(again.schema_version()) == len(migrations._migrations)


def test_add_person_updates_platform_facts_but_keeps_role(store):
    store.add_person("slack", "T1", "U1", "Ann", "executive", is_admin=True)
    again = store.add_person("slack", "T1", "U1", "Ann B.", "frontline", tz="Europe/Paris")
    assert again.role == "executive" and again.is_admin
    assert again.display_name == "Ann B." and again.tz == "Europe/Paris"
    assert len(store.people()) == 1


def _round(store):
    now = datetime(2026, 1, 5, tzinfo=UTC)
    store.write(
        lambda: store.db.table("questions").insert({"id": "q1", "text": "Q?", "roles": "[]"})
    )
    return store.create_round(["q1"], now, now + timedelta(days=5))


def test_a_delivery_is_claimed_once(store):
    person = store.add_person("slack", "T1", "U1", "Ann")
    round_ = _round(store)
    first = store.claim_delivery(round_.id, person)
    assert first is not None
    assert store.claim_delivery(round_.id, person) is None
    assert len(store.deliveries(round_.id)) == 1


def test_upsert_answer_edits_each_half_on_its_own(store):
    person = store.add_person("slack", "T1", "U1", "Ann")
    round_ = _round(store)
    common = dict(
        round_id=round_.id, question_id="q1", pseudonym="p", person=person,
        day=date(2026, 1, 6), on_record=False, source="test", keep=KEEP,
    )  # fmt: skip
    store.upsert_answer(rating=4, text=KEEP, **common)
    answer = store.upsert_answer(rating=KEEP, text="because", **common)
    assert (answer.rating, answer.text) == (4, "because")
    assert store.db.table("answers").count == 1
    assert store.response_counts(round_.id)["frontline"] == {"asked": 1, "answered": 1}


def test_first_sighting_of_an_event_key(store):
    assert store.first_sighting("Ev1") is True
    assert store.first_sighting("Ev1") is False


def test_a_locked_database_is_waited_for_not_dropped(tmp_path):
    path = tmp_path / "locked.db"
    store = Store(path)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock

    def release():
        time.sleep(1.0)
        blocker.execute("COMMIT")

    threading.Thread(target=release).start()
    person = store.add_person("slack", "T1", "U1", "Ann")
    assert store.person_by_id(person.id).display_name == "Ann"


def test_a_database_locked_too_long_says_so_and_writes_nothing(tmp_path):
    path = tmp_path / "locked.db"
    store = Store(path)
    store.lock_retry_seconds = 0.5
    store.db.conn.execute("PRAGMA busy_timeout = 50")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseBusy, match="send the same thing again"):
        store.add_person("slack", "T1", "U1", "Ann")
    blocker.execute("ROLLBACK")
    assert store.people() == []
