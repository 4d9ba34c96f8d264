"""The store: migrations on a fresh database, idempotent writes, and a locked database."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlite_utils

from bot.core import anonymity
from bot.core.service import KEEP
from bot.store import DatabaseBusy, Store
from bot.store.migrations import migrations
from tests.file_reader import FileCopy, replay


def test_migrations_build_the_schema_on_a_fresh_in_memory_database():
    store = Store(":memory:")
    assert store.schema_version() == [m.name for m in migrations._migrations]
    assert {
        "people", "questions", "rounds", "round_questions",
        "deliveries", "answers", "proposals", "seen_events", "summary_posts",
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


def _round(store, questions=("q1",)):
    now = datetime(2026, 1, 5, tzinfo=UTC)
    store.write(
        lambda: store.db.table("questions").insert_all(
            {"id": qid, "text": "Q?", "roles": "[]"} for qid in questions
        )
    )
    return store.create_round(list(questions), now, now + timedelta(days=5))


def test_a_delivery_is_claimed_once(store):
    person = store.add_person("slack", "T1", "U1", "Ann")
    round_ = _round(store)
    first = store.claim_delivery(round_.id, person)
    assert first is not None
    assert store.claim_delivery(round_.id, person) is None
    assert len(store.deliveries(round_.id)) == 1


SLACK_EXECS = ("slack", "T1", "executives")
SLACK_CHANNEL = ("slack", "T1", "C0LEADERS")


def test_closing_a_round_owes_its_summaries_in_the_same_transaction(store):
    round_ = _round(store)
    closed_at = datetime(2026, 1, 10, tzinfo=UTC)
    store.close_round(round_.id, closed_at, summaries=[SLACK_EXECS, SLACK_CHANNEL, SLACK_EXECS])
    posts = store.summary_posts(round_.id)
    assert [(p["platform"], p["workspace"], p["destination"]) for p in posts] == [
        SLACK_EXECS,
        SLACK_CHANNEL,
    ]  # one row per destination, however often it is named
    assert all(p["posted_at"] is None and p["claimed_at"] is None for p in posts)
    assert all(p["posted_to"] == [] for p in posts)
    assert [p["id"] for p in store.owed_summary_posts(["slack"])] == [p["id"] for p in posts]
    assert store.owed_summary_posts(["teams"]) == [] and store.owed_summary_posts([]) == []
    # Closing it again (a second process a moment later) owes nothing more.
    store.close_round(round_.id, closed_at, summaries=[SLACK_EXECS])
    assert len(store.summary_posts(round_.id)) == 2


def test_a_close_whose_summary_cannot_be_owed_does_not_close(store):
    round_ = _round(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.close_round(
            round_.id, datetime(2026, 1, 10, tzinfo=UTC), summaries=[("slack", "T1", None)]
        )
    assert store.round(round_.id).is_open  # closing and owing are one transaction
    assert store.summary_posts(round_.id) == []


def test_a_close_without_summaries_owes_none(store):
    round_ = _round(store)
    store.close_round(round_.id, datetime(2026, 1, 10, tzinfo=UTC))
    assert not store.round(round_.id).is_open
    assert store.summary_posts(round_.id) == []


def test_a_summary_post_is_claimed_once_released_taken_over_and_completed(store):
    round_ = _round(store)
    store.close_round(round_.id, datetime(2026, 1, 10, tzinfo=UTC), summaries=[SLACK_EXECS])
    (post,) = store.owed_summary_posts(["slack"])
    now = datetime.now(UTC)
    past = now - timedelta(minutes=5)
    claimed = store.claim_summary_post(post["id"], past, now)
    assert claimed is not None and claimed["claimed_at"] is not None
    assert store.claim_summary_post(post["id"], past, now) is None  # fresh: another is posting
    store.record_summary_recipient(post["id"], "@U1")
    store.record_summary_recipient(post["id"], "@U1")  # recorded once
    store.release_summary_post(post["id"])  # failed for someone else: still owed, free
    (owed,) = store.owed_summary_posts(["slack"])
    assert owed["claimed_at"] is None and owed["posted_to"] == ["@U1"]
    again = store.claim_summary_post(post["id"], past, now)
    assert again is not None and again["posted_to"] == ["@U1"]  # the retry skips U1
    # A claim left by a process that died is taken over once it is older than the cut-off.
    future = now + timedelta(minutes=1)
    taken = store.claim_summary_post(post["id"], future, now)
    assert taken is not None and taken["posted_to"] == ["@U1"]
    store.record_summary_recipient(post["id"], "@U2")
    store.complete_summary_post(post["id"])
    (done,) = store.summary_posts(round_.id)
    assert done["posted_at"] is not None and done["claimed_at"] is None
    assert done["posted_to"] == []  # who got it is not kept once nobody is owed it
    assert store.owed_summary_posts(["slack"]) == []
    assert store.claim_summary_post(post["id"], future, now) is None  # posted: never again
    store.release_summary_post(post["id"])  # a late release cannot make it owed again
    assert store.owed_summary_posts(["slack"]) == []


def test_m005_on_an_existing_database_owes_no_summary_for_earlier_rounds(tmp_path):
    path = tmp_path / "before-m005.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m005_summary_posts")
    assert "summary_posts" not in old.table_names()
    old["rounds"].insert(
        {
            "number": 1,
            "opened_at": "2026-01-05T10:00:00+00:00",
            "closes_at": "2026-01-10T10:00:00+00:00",
            "closed_at": "2026-01-10T10:00:00+00:00",
            "status": "closed",
            "week": "2026-W02",
        }
    )
    old.close()
    store = Store(path)
    assert "m005_summary_posts" in store.schema_version()
    assert set(store.db.table("summary_posts").columns_dict) >= {
        "round_id", "platform", "workspace", "destination", "claimed_at", "posted_to",
        "posted_at",
    }  # fmt: skip
    assert store.owed_summary_posts(["slack", "teams", "test"]) == []
    assert store.summary_posts(1) == []
    store.close()


def test_a_failed_summary_post_waits_for_its_next_try_and_can_be_given_up(store):
    round_ = _round(store)
    store.close_round(round_.id, datetime(2026, 1, 10, tzinfo=UTC), summaries=[SLACK_EXECS])
    (post,) = store.owed_summary_posts(["slack"])
    assert (post["status"], post["attempts"], post["retry_at"]) == ("owed", 0, None)
    now = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)  # a service clock, not the machine's
    stale = now - timedelta(minutes=5)
    claimed = store.claim_summary_post(post["id"], stale, now)
    assert claimed["claimed_at"] == "2026-01-10T09:00:00+00:00"
    store.record_summary_recipient(post["id"], "@U1")
    store.release_summary_post(post["id"], now + timedelta(minutes=2))
    (owed,) = store.owed_summary_posts(["slack"])  # still owed, whenever it is due
    assert owed["attempts"] == 1 and owed["retry_at"] == "2026-01-10T09:02:00+00:00"
    # Not due before its next try: neither listed as due nor claimable.
    soon = now + timedelta(minutes=1)
    assert store.owed_summary_posts(["slack"], due_by=soon) == []
    assert store.claim_summary_post(post["id"], soon - timedelta(minutes=5), soon) is None
    due = now + timedelta(minutes=2)
    assert [p["id"] for p in store.owed_summary_posts(["slack"], due_by=due)] == [post["id"]]
    again = store.claim_summary_post(post["id"], due - timedelta(minutes=5), due)
    assert again is not None and again["posted_to"] == ["@U1"]
    # Given up: never owed or claimable again, and who got it is kept.
    store.give_up_summary_post(post["id"])
    (given_up,) = store.summary_posts(round_.id)
    assert given_up["status"] == "given_up" and given_up["attempts"] == 2
    assert given_up["claimed_at"] is None and given_up["posted_at"] is None
    assert given_up["posted_to"] == ["@U1"]
    later = now + timedelta(days=30)
    assert store.owed_summary_posts(["slack"]) == []
    assert store.owed_summary_posts(["slack"], due_by=later) == []
    assert store.claim_summary_post(post["id"], later, later) is None
    store.release_summary_post(post["id"])  # a late release cannot make it owed again
    assert store.owed_summary_posts(["slack"]) == []


def test_m006_on_a_database_with_m005_rows_keeps_them_owed_or_posted(tmp_path):
    path = tmp_path / "before-m006.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m006_summary_retries")
    assert "attempts" not in old["summary_posts"].columns_dict
    for number in (1, 2):
        old["rounds"].insert(
            {
                "number": number,
                "opened_at": f"2026-01-0{number}T10:00:00+00:00",
                "closes_at": f"2026-01-0{number + 5}T10:00:00+00:00",
                "closed_at": f"2026-01-0{number + 5}T10:00:00+00:00",
                "status": "closed",
            }
        )
    posts = old["summary_posts"]
    row = {"platform": "slack", "workspace": "T1", "destination": "executives"}
    posts.insert({**row, "round_id": 1, "owed_at": "2026-01-06T10:00:00+00:00"})
    posts.update(1, {"posted_at": "2026-01-06T10:01:00+00:00"})  # posted
    posts.insert({**row, "round_id": 2, "owed_at": "2026-01-07T10:00:00+00:00"})
    # Owed: one executive reached, and claimed by a process that died before the upgrade.
    posts.update(2, {"claimed_at": "2026-01-07T10:00:00+00:00", "posted_to": '["@U1"]'})
    old.close()
    store = Store(path)
    assert store.schema_version()[4:6] == ["m005_summary_posts", "m006_summary_retries"]
    posted, owed = store.summary_posts(1)[0], store.summary_posts(2)[0]
    assert (posted["status"], posted["attempts"], posted["retry_at"]) == ("posted", 0, None)
    assert (owed["status"], owed["attempts"], owed["retry_at"]) == ("owed", 0, None)
    assert owed["posted_to"] == ["@U1"]  # who got it before the upgrade is not sent it again
    # The post owed before the upgrade is due at once, and its dead claim is taken over.
    now = datetime(2026, 1, 7, 11, 0, tzinfo=UTC)
    assert [p["id"] for p in store.owed_summary_posts(["slack"], due_by=now)] == [owed["id"]]
    claimed = store.claim_summary_post(owed["id"], now - timedelta(minutes=5), now)
    assert claimed is not None and claimed["posted_to"] == ["@U1"]
    store.close()


def test_upsert_answers_edits_each_half_on_its_own_and_writes_nothing_else(store):
    store.add_person("slack", "T1", "U1", "Ann")
    round_ = _round(store)
    common = dict(
        round_id=round_.id, pseudonym="p", role="frontline", team=None,
        day=date(2026, 1, 6), on_record=False, source="test", keep=KEEP,
    )  # fmt: skip
    (first,) = store.upsert_answers(answers=[("q1", 4, KEEP)], **common)
    (answer,) = store.upsert_answers(answers=[("q1", KEEP, "because")], **common)
    assert (answer.rating, answer.text) == (4, "because")
    assert answer.id == first.id  # an edit keeps its id
    assert store.db.table("answers").count == 1
    # Who answered is not written anywhere: no delivery appears for an answer.
    assert store.db.table("deliveries").count == 0
    assert store.answer_pseudonyms(round_.id) == {"p": "frontline"}


def test_an_answer_moved_on_or_off_the_record_keeps_nothing_of_the_other_mode(store):
    """A private why under a rating said in public would be the named person's; a public
    why under a rating changed in private would name who changed it."""
    round_ = _round(store)
    common = dict(
        round_id=round_.id, pseudonym="p", role="frontline", team=None,
        day=date(2026, 1, 6), source="test", keep=KEEP,
    )  # fmt: skip
    store.upsert_answers(
        answers=[("q1", 2, "PRIVATE why")], on_record=False, predictions={"q1": 1}, **common
    )
    (public,) = store.upsert_answers(answers=[("q1", 4, KEEP)], on_record=True, **common)
    assert (public.rating, public.text, public.customer_prediction) == (4, "", None)
    assert public.on_record and public.moved
    (same,) = store.upsert_answers(
        answers=[("q1", KEEP, "said in the thread")], on_record=True, **common
    )
    assert (same.rating, same.text) == (4, "said in the thread")  # same mode: halves kept
    assert not same.moved
    (private,) = store.upsert_answers(answers=[("q1", 1, KEEP)], on_record=False, **common)
    assert (private.rating, private.text, private.on_record, private.moved) == (1, "", False, True)
    assert store.db.table("answers").count == 1


def test_answer_ids_are_random_and_the_table_has_no_rowid(store):
    round_ = _round(store, questions=[f"q{i}" for i in range(1, 5)])
    common = dict(
        round_id=round_.id, role="frontline", team=None, day=date(2026, 1, 6),
        on_record=False, source="test", keep=KEEP,
    )  # fmt: skip
    ids = [
        answer.id
        for n in range(20)
        for answer in store.upsert_answers(
            pseudonym=f"p{n}", answers=[(f"q{i}", 3, "x") for i in range(1, 5)], **common
        )
    ]
    assert len(set(ids)) == 80 and min(ids) > 2**40  # 63-bit random, not 1, 2, 3 ...
    assert ids != sorted(ids) and ids != sorted(ids, reverse=True)
    sql = store.db.execute("select sql from sqlite_master where name = 'answers'").fetchone()[0]
    assert "without rowid" in sql.lower()


def test_first_sighting_of_an_event_key_is_kept_two_days(store):
    monday = date(2026, 1, 5)
    assert store.first_sighting("k1", monday) is True
    assert store.first_sighting("k1", monday) is False
    assert store.first_sighting("k2", monday + timedelta(days=2)) is True
    assert store.first_sighting("k1", monday + timedelta(days=2)) is False  # two days: kept
    assert store.first_sighting("k2", monday + timedelta(days=3)) is False
    # Three days on, k1 expired (purged by the write of k3): it would count as new.
    assert store.first_sighting("k3", monday + timedelta(days=3)) is True
    assert sorted(r["key"] for r in store.db.query("select key from seen_events")) == ["k2", "k3"]
    assert set(store.db.table("seen_events").columns_dict) == {"key", "seen_on"}


def test_answers_never_share_the_wal_with_a_write_that_names_a_person(tmp_path):
    store = Store(tmp_path / "x.db")
    store.use_seal_key(anonymity.seal_key(b"test-secret"))
    round_ = _round(store)
    store.add_person("slack", "T1", "U1", "Ann")  # in the -wal now
    common = dict(
        round_id=round_.id, role="frontline", team=None, day=date(2026, 1, 6),
        on_record=False, source="test", keep=KEEP,
    )  # fmt: skip
    copies = []
    emptying = store.truncate_wal
    store.truncate_wal = lambda **kw: copies.append(FileCopy.take(store.path)) or emptying(**kw)
    store.upsert_answers(pseudonym="p1", answers=[("q1", 2, "x")], **common)
    store.add_person("slack", "T1", "U2", "Bob")
    store.upsert_answers(pseudonym="p2", answers=[("q1", 4, "y")], **common)
    copies.append(FileCopy.take(store.path))
    commits = [commit for copy in copies for commit in replay(copy)]
    assert any(c.pseudonyms for c in commits) and any(c.people for c in commits)
    for copy in copies:
        kinds = {(bool(c.pseudonyms), bool(c.people)) for c in replay(copy)}
        assert not ((True, False) in kinds and (False, True) in kinds), kinds
    # The sweeper empties the -wal of the answers soon after, without being asked.
    deadline = time.monotonic() + 10
    while os.path.getsize(f"{store.path}-wal") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert os.path.getsize(f"{store.path}-wal") == 0
    store.close()


def test_the_store_sets_secure_delete_itself(tmp_path):
    store = Store(tmp_path / "x.db")
    assert store.db.execute("pragma secure_delete").fetchone()[0] == 1


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


def test_m007_keeps_customer_answers_without_anything_that_identifies_a_customer(store):
    columns = set(store.db.table("customer_answers").columns_dict)
    assert columns == {
        "id", "question_id", "rating", "comment", "answered_on", "segment", "source", "round_id",
    }  # fmt: skip
    round_ = _round(store)
    stored = store.add_customer_answers(
        [
            {"question_id": "q1", "rating": 2, "comment": "Slow", "source": "import",
             "answered_on": date(2026, 1, 6), "segment": "SME", "round_id": round_.id},
            {"question_id": "q1", "rating": 5, "source": "survey",
             "answered_on": date(2026, 1, 7)},
        ]
    )  # fmt: skip
    assert stored == 2
    in_round = store.customer_answers([round_.id])
    assert [(a.rating, a.comment, a.segment, a.source) for a in in_round] == [
        (2, "Slow", "SME", "import")
    ]
    everything = store.customer_answers()
    assert [a.answered_on for a in everything] == [date(2026, 1, 6), date(2026, 1, 7)]
    assert everything[1].round_id is None and everything[1].comment == ""


def test_m007_on_a_database_with_m006_answers_adds_the_customer_side(tmp_path):
    path = tmp_path / "before-m007.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m007_customer_answers")
    old["questions"].insert({"id": "q1", "text": "Q?", "roles": "[]"})
    old.close()
    store = Store(path)
    assert "m007_customer_answers" in store.schema_version()
    assert store.question("q1").customer is None
    assert "customer_prediction" in store.db.table("answers").columns_dict
    store.close()


def test_m009_keeps_only_a_hash_of_an_answered_survey_link(store):
    assert set(store.db.table("survey_links_used").columns_dict) == {"link_hash"}
    store.add_customer_answers([], used_link="abc")
    assert store.survey_link_used("abc") and not store.survey_link_used("abd")
    with pytest.raises(Exception, match="already been answered"):
        store.add_customer_answers(
            [{"question_id": "q1", "rating": 3, "source": "survey", "answered_on": date.today()}],
            used_link="abc",
        )
    assert store.customer_answers() == []  # the answers of a reused link are not kept
    assert store.customer_note() is None
    store.set_customer_note("We heard you.", date(2026, 11, 2))
    assert store.customer_note() == ("We heard you.", date(2026, 11, 2))
    store.set_customer_note("", date(2026, 11, 3))
    assert store.customer_note() is None


TRACE_WHILE_READING = """
import sys, threading, time
from bot.store import Store

sys.setswitchinterval(1e-6)  # hand the GIL over as often as possible
store = Store(sys.argv[1])

def read():
    while True:
        store.person("slack", "T1", "U1")

for _ in range(3):
    threading.Thread(target=read, daemon=True).start()
started = time.monotonic()
while time.monotonic() - started < 3:  # unlocked, this deadlocked within the first second
    with store.traced():
        pass
with store.traced() as statements:
    store.person("slack", "T1", "U2")
assert any("U2" in s for s in statements), statements
print("done")
"""


def test_tracing_statements_while_other_threads_read_never_deadlocks(tmp_path):
    # Setting sqlite3's trace callback while another thread is inside a statement on the
    # same connection deadlocks (each thread waits for what the other holds), so
    # `Store.traced` does it under the store's lock. A subprocess, so a deadlock is a
    # failure after a minute rather than a run that never ends.
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-c", TRACE_WHILE_READING, str(tmp_path / "traced.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr


def test_a_closed_round_s_pages_do_not_keep_the_order_answers_came_in(service, admin):
    """SQLite writes each new cell of a page below the one before: read from a copy of the
    file, an index page of the answers gave the order people answered in (Kendall's tau
    0.97 here), so with outside timing (a DM log, a time zone) a pseudonym could be named.
    Closing the round writes its answers again in their pseudonyms' order: the page then
    follows that order, which is random to anyone without the key."""
    import random

    from tests.conftest import make_people
    from tests.file_reader import cell_order

    people = make_people(service, "frontline", 12)  # the pseudonym index fits one page
    round_ = service.start_round(admin)
    random.Random(7).shuffle(people)
    arrival = [anonymity.pseudonym(service.settings.secret, p, round_.id) for p in people]
    for person in people:
        service.record_answers(person, round_, {q: (3, "fine") for q in round_.question_ids})
    service.store.truncate_wal()
    index = "idx_answers_pseudonym"
    assert cell_order(FileCopy.take(service.store.path).db, index, arrival) > 0.9
    service.close_round(admin)
    closed = FileCopy.take(service.store.path).db
    assert cell_order(closed, index, sorted(arrival)) > 0.9  # the pseudonyms' order
    assert cell_order(closed, index, arrival) < 0.5
    # The table and the other index span pages whose cells SQLite reshuffles as it fills
    # them: neither follows either order closely, so no comparison between the two is
    # meaningful (it failed one run in a few); what matters is that arrival is not there.
    for name in ("answers", "idx_answers_round_id_question_id_pseudonym"):
        assert cell_order(closed, name, arrival) < 0.5
    assert len(service.store.answers([round_.id])) == 12 * len(round_.question_ids)
