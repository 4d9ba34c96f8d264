"""Migration 3: conversation references, so a platform can reach people proactively."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from bot.store import Store
from bot.store.migrations import migrations


def test_migration_3_upgrades_a_database_made_before_it(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path))
    # A database as the previous release left it: every migration before this one.
    migrations.apply(db, stop_before="m003_conversation_references")
    assert "conversation_refs" not in db.table_names()
    db.table("people").insert(
        {"platform": "teams", "workspace": "T", "user_id": "u1", "display_name": "Ann",
         "role": "frontline", "is_admin": 0}
    )  # fmt: skip
    db.conn.commit()
    db.close()
    store = Store(path)
    assert "conversation_refs" in store.db.table_names()
    assert "m003_conversation_references" in store.schema_version()
    assert [p.user_id for p in store.people_without_conversation("teams")] == ["u1"]


def test_conversation_references_are_saved_refreshed_and_forgotten():
    store = Store(":memory:")
    ann = store.add_person("teams", "T", "u1", "Ann")
    bob = store.add_person("teams", "T", "u2", "Bob")
    store.add_person("slack", "W", "U3", "Cy")
    assert store.conversation_ref(ann.id) is None
    store.save_conversation_ref(ann.id, "teams", {"conversation": {"id": "a:1"}})
    store.save_conversation_ref(ann.id, "teams", {"conversation": {"id": "a:2"}})
    assert store.conversation_ref(ann.id) == {"conversation": {"id": "a:2"}}
    assert [p.id for p in store.people_without_conversation("teams", "T")] == [bob.id]
    assert store.people_without_conversation("teams", "other") == []
    removed = store.forget(ann.id, [])
    assert removed["conversations"] == 1 and removed["people"] == 1
    assert store.conversation_ref(ann.id) is None
    assert len(migrations._migrations) == len(store.schema_version())
