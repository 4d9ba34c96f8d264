"""Answers sealed at rest (`bot.store.seal`): a reader of the files without the secret finds
no answer's text, rating, role or team; a database written before sealing comes out sealed,
with nothing of the plain values left in the db, -wal or -shm; and the key is needed.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlite_utils

from bot.core import anonymity
from bot.core.errors import StorageError
from bot.core.service import KEEP, IntegrityCheck
from bot.core.settings import Settings
from bot.store import Store
from bot.store.migrations import migrations
from bot.store.seal import SEALED
from tests.file_reader import FileCopy

SECRET = b"test-secret-0123456789abcdef"
#: Words only the answers hold (no person, question or team row has them).
TRACES = (b"MARMALADE-4471", b"FIRST-DRAFT-9902", b"Sales-Zeta", b"PELICAN-3318")


def _written_before_sealing(path) -> None:
    """A database as the release before sealing left it while running: today's schema, the
    answers in plain text (one of them edited, as a "why" after a rating), and the -wal not
    yet emptied: the files copied as a backup would take them, the writer still open."""
    live = path.with_name("live.db")
    db = sqlite_utils.Database(sqlite3.connect(live, isolation_level=None))
    db.enable_wal()
    db.execute("PRAGMA wal_autocheckpoint = 0")
    migrations.apply(db)
    db["questions"].insert_all(
        {"id": q, "text": f"{q}?", "roles": '["executive", "frontline"]'} for q in ("q1", "q2")
    )
    db["rounds"].insert(
        {"number": 1, "opened_at": "2026-11-02T10:00:00+00:00", "status": "closed",
         "closes_at": "2026-11-07T10:00:00+00:00", "week": "2026-W45"}
    )  # fmt: skip
    rows = [
        ("p1", "q1", "executive", "Sales-Zeta", 1, "FIRST-DRAFT-9902"),
        ("p2", "q1", "frontline", "Support", 4, "MARMALADE-4471 on hold"),
        ("p3", "q2", "frontline", None, 2, "PELICAN-3318"),
    ]
    for n, (pseudonym, question, role, team, rating, text) in enumerate(rows):
        db.execute("begin")
        db["answers"].insert(
            {"id": 2**50 + n, "round_id": 1, "question_id": question, "pseudonym": pseudonym,
             "role": role, "team": team, "rating": rating, "text": text,
             "answered_on": "2026-11-02", "on_record": 0, "source": "slack",
             "customer_prediction": 3}
        )  # fmt: skip
        db.execute("commit")
    db.execute("update answers set text = 'MARMALADE-4471 revised' where pseudonym = 'p1'")
    for suffix in ("", "-wal", "-shm"):
        shutil.copy(f"{live}{suffix}", f"{path}{suffix}")
    db.close()


def test_a_database_written_before_sealing_keeps_no_plain_answer_in_any_file(tmp_path):
    path = tmp_path / "integrity.db"
    _written_before_sealing(path)
    before = FileCopy.take(path)
    assert before.wal and all(trace in before.all_bytes() for trace in TRACES)

    service = IntegrityCheck(Store(path), Settings(db_path=path, secret=SECRET))
    after = FileCopy.take(path)
    for trace in TRACES:
        assert trace not in after.all_bytes(), trace
    plain = " or ".join(f"typeof({c}) != 'blob'" for c in SEALED)
    assert service.store.db.execute(f"select count(*) from answers where {plain}").fetchone() == (
        0,
    )
    # The answers themselves are unchanged, opened with the key.
    opened = {(a.role, a.team, a.rating, a.text) for a in service.store.answers([1])}
    assert opened == {
        ("executive", "Sales-Zeta", 1, "MARMALADE-4471 revised"),
        ("frontline", "Support", 4, "MARMALADE-4471 on hold"),
        ("frontline", None, 2, "PELICAN-3318"),
    }
    assert [a.text for a in service.store.answers([1], team="sales-zeta")] == [
        "MARMALADE-4471 revised"
    ]
    assert service.store.count_round_answers([1], team="SUPPORT") == 1
    assert service.store.answer_pseudonyms(1) == {
        "p1": "executive", "p2": "frontline", "p3": "frontline"
    }  # fmt: skip
    service.store.close()
    # Opened again: nothing left to seal, the same answers.
    again = IntegrityCheck(Store(path), Settings(db_path=path, secret=SECRET))
    assert {(a.team, a.text) for a in again.store.answers([1])} == {(t, x) for _, t, _, x in opened}
    again.store.close()


def _two_answers(store: Store) -> int:
    store.db["questions"].insert({"id": "q1", "text": "Q?", "roles": "[]"})
    opened = datetime(2026, 11, 2, 10, tzinfo=UTC)
    round_id = store.create_round(["q1"], opened, opened + timedelta(days=5)).id
    for pseudonym, text in (("p1", "mine"), ("p2", "theirs")):
        store.upsert_answers(
            round_id=round_id, pseudonym=pseudonym, role="frontline", team="Sales",
            day=date(2026, 11, 2), answers=[("q1", 3, text)], on_record=False, source="test",
            keep=KEEP,
        )  # fmt: skip
    return round_id


def test_sealed_answers_open_only_with_the_key_and_only_in_their_own_row(tmp_path):
    path = tmp_path / "integrity.db"
    with pytest.raises(StorageError, match="no key to seal answers"):
        _two_answers(Store(":memory:"))  # never written in plain text
    store = Store(path)
    store.use_seal_key(anonymity.seal_key(SECRET))
    round_id = _two_answers(store)
    assert {a.text for a in store.answers([round_id])} == {"mine", "theirs"}
    store.close()

    without_key = Store(path)
    with pytest.raises(StorageError, match="sealed and this store has no key"):
        without_key.answers([round_id])
    without_key.use_seal_key(anonymity.seal_key(b"another secret"))
    with pytest.raises(StorageError, match="does not open with this secret"):
        without_key.answers([round_id])
    without_key.close()

    # A sealed text copied onto another answer's row does not open there.
    moved = Store(path)
    moved.use_seal_key(anonymity.seal_key(SECRET))
    moved.db.execute(
        "update answers set text = (select text from answers where pseudonym = 'p1') "
        "where pseudonym = 'p2'"
    )
    with pytest.raises(StorageError, match="does not open"):
        moved.answers([round_id])
    moved.close()


def test_the_seal_key_is_its_own_use_of_the_secret():
    key = anonymity.seal_key(SECRET)
    assert len(key) == 32 and key != anonymity.seal_key(b"another secret")
    assert key.hex() not in {
        anonymity.event_key(SECRET, "answer-seal"),
        anonymity.proposal_pseudonym(SECRET, _anyone()),
    }


def _anyone():
    from bot.core.domain import Person

    return Person(1, "slack", "T", "U1", "Ann", "frontline")
