"""The schema, as numbered migrations applied in order when the store opens.

Each migration is a function of the sqlite-utils `Database`, registered with
`@migrations()`; sqlite-utils records which have run in `_sqlite_migrations`. A
schema change is always a new migration, never an edit of an old one, and each is
tested on a database written before it (tests/test_store.py).
"""

from __future__ import annotations

import secrets

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("integrity")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("people").create(
        {
            "id": int,
            "platform": str,
            "workspace": str,
            "user_id": str,
            "display_name": str,
            "role": str,
            "is_admin": int,
            "team": str,
            "tz": str,
            "created_at": str,
        },
        pk="id",
        not_null={"platform", "workspace", "user_id", "role"},
        defaults={"role": "frontline", "is_admin": 0},
    )
    db.table("people").create_index(["platform", "workspace", "user_id"], unique=True)
    db.table("questions").create(
        {
            "id": str,
            "text": str,
            "theme": str,
            "low_label": str,
            "high_label": str,
            "why_prompt": str,
            "roles": str,  # JSON list of roles
            "anchor": int,
            "position": int,
            "source": str,
            "active": int,
        },
        pk="id",
        not_null={"text"},
        defaults={"anchor": 0, "active": 1, "source": "bank"},
    )
    db.table("rounds").create(
        {
            "id": int,
            "number": int,
            "opened_at": str,
            "closes_at": str,
            "closed_at": str,
            "status": str,
        },
        pk="id",
        not_null={"number", "opened_at", "closes_at", "status"},
    )
    db.table("rounds").create_index(["number"], unique=True)
    db.table("round_questions").create(
        {"round_id": int, "question_id": str, "position": int},
        pk=("round_id", "question_id"),
        foreign_keys=[("round_id", "rounds", "id"), ("question_id", "questions", "id")],
    )
    db.table("deliveries").create(
        {
            "id": int,
            "round_id": int,
            "person_id": int,
            "role": str,
            "status": str,  # claimed -> sent | failed
            "claimed_at": str,
            "sent_at": str,
            "message_ref": str,
            "answered": int,
            "reminders": int,
            "last_reminder_at": str,
        },
        pk="id",
        foreign_keys=[("round_id", "rounds", "id"), ("person_id", "people", "id")],
        defaults={"answered": 0, "reminders": 0, "status": "claimed"},
    )
    db.table("deliveries").create_index(["round_id", "person_id"], unique=True)
    db.table("answers").create(
        {
            "id": int,
            "round_id": int,
            "question_id": str,
            "pseudonym": str,
            "role": str,
            "team": str,
            "rating": int,
            "text": str,
            "answered_on": str,  # the day only: times could be matched to deliveries
            "on_record": int,
            "source": str,
        },
        pk="id",
        foreign_keys=[("round_id", "rounds", "id"), ("question_id", "questions", "id")],
        not_null={"round_id", "question_id", "pseudonym", "role", "answered_on"},
        defaults={"on_record": 0, "text": ""},
    )
    db.table("answers").create_index(["round_id", "question_id", "pseudonym"], unique=True)
    db.table("answers").create_index(["pseudonym"])
    db.table("proposals").create(
        {
            "id": int,
            "text": str,
            "from_role": str,
            "for_role": str,
            "pseudonym": str,
            "status": str,
            "created_on": str,
            "decided_on": str,
            "question_id": str,
        },
        pk="id",
        defaults={"status": "pending"},
    )
    db.table("seen_events").create({"key": str, "seen_at": str}, pk="key")


@migrations()
def m002_schedules(db: sqlite_utils.Database) -> None:
    """Weekly check-in schedules, and the ISO week a scheduled round belongs to."""
    db.table("schedules").create(
        {
            "id": int,
            "platform": str,
            "workspace": str,
            "team": str,  # "" is the workspace's default; a team name overrides it
            "weekday": int,  # 0 = Monday
            "local_time": str,  # "HH:MM" in each person's own time zone
            "tz": str,  # the fallback time zone for people whose own is unknown
            "round_days": int,
            "reminders": int,
            "catch_up_hours": int,
            "summary_to": str,  # "executives" (direct messages) or a channel id
            "active": int,
            "updated_at": str,
        },
        pk="id",
        not_null={"platform", "workspace", "weekday", "local_time", "tz"},
        defaults={"team": "", "active": 1},
    )
    db.table("schedules").create_index(["platform", "workspace", "team"], unique=True)
    db.table("rounds").add_column("week", str)
    db.table("rounds").create_index(["week"], unique=True)


@migrations()
def m003_conversation_references(db: sqlite_utils.Database) -> None:
    """Where a person can be reached proactively: a platform's conversation reference.

    Teams only lets a bot post into a conversation it has seen, so the reference
    (conversation id, service URL, bot and user accounts) is kept per person when
    the app is installed or first messaged. It names a person, never an answer.
    """
    db.table("conversation_refs").create(
        {
            "person_id": int,
            "platform": str,
            "reference": str,  # JSON, as the platform gave it
            "updated_at": str,
        },
        pk="person_id",
        foreign_keys=[("person_id", "people", "id")],
        not_null={"platform", "reference"},
    )


@migrations()
def m004_channel_posts(db: sqlite_utils.Database) -> None:
    """Round posts in chat channels (Slack), whose thread replies are answers on the record.

    One row per (platform, workspace, channel, round), claimed before posting like a
    delivery, so a round is never posted twice to a channel; `message_ref` is the
    posted message (its thread), filled in once the post went out.
    """
    db.table("channel_posts").create(
        {
            "id": int,
            "platform": str,
            "workspace": str,
            "channel": str,
            "round_id": int,
            "message_ref": str,
            "posted_at": str,
        },
        pk="id",
        foreign_keys=[("round_id", "rounds", "id")],
        not_null={"platform", "workspace", "channel", "round_id"},
    )
    db.table("channel_posts").create_index(
        ["platform", "workspace", "channel", "round_id"], unique=True
    )
    db.table("channel_posts").create_index(["platform", "workspace", "message_ref"])


@migrations()
def m005_summary_posts(db: sqlite_utils.Database) -> None:
    """Summaries owed and posted: one row per (round, platform, workspace, destination).

    A row is written, owed, in the transaction that closes the round (`close_round` with
    `summaries`), so no crash can close a round without owing its summary. A scheduler
    claims it (`claimed_at`), posts, and records each recipient that got it (`posted_to`,
    a JSON list of the messenger's addresses) and then the whole post (`posted_at`); a
    failed post is released (`claimed_at` cleared) for a later tick, and a claim left by a
    dead process is taken over once it is stale. Rounds closed before this migration owe
    nothing: the table starts empty.
    """
    db.table("summary_posts").create(
        {
            "id": int,
            "round_id": int,
            "platform": str,
            "workspace": str,
            "destination": str,  # the schedule's `summary_to`: "executives" or a channel id
            "owed_at": str,
            "claimed_at": str,  # null: free to claim
            "posted_to": str,  # JSON list of the recipients that got it
            "posted_at": str,  # null: still owed
        },
        pk="id",
        foreign_keys=[("round_id", "rounds", "id")],
        not_null={"round_id", "platform", "workspace", "destination", "owed_at"},
        defaults={"posted_to": "[]"},
    )
    db.table("summary_posts").create_index(
        ["round_id", "platform", "workspace", "destination"], unique=True
    )
    db.table("summary_posts").create_index(["posted_at"])


@migrations()
def m006_summary_retries(db: sqlite_utils.Database) -> None:
    """A failed summary post waits before its next try, and is given up in the end.

    `status` is what the post is: "owed", "posted", or "given_up" (owed too long: never
    tried again, and `posted_to` keeps who did get it). `attempts` counts its failed tries
    and `retry_at` is when it may be tried again (null: at once); the scheduler sets both
    when it releases a failed post (see `bot.core.scheduler.SUMMARY_GIVE_UP`). Rows owed before
    this migration keep being owed, due at once, with no failed try counted; posted ones
    are "posted".
    """
    table = db.table("summary_posts")
    table.add_column("status", str, not_null_default="owed")
    table.add_column("attempts", int, not_null_default=0)
    table.add_column("retry_at", str)  # null: due now
    db.execute("update summary_posts set status = 'posted' where posted_at is not null")
    table.create_index(["status"])


@migrations()
def m007_customer_answers(db: sqlite_utils.Database) -> None:
    """The customers' voice beside the executives' and the frontline's.

    `questions.customer` is the question's customer version (JSON: text, labels, why),
    synced from the bank. `customer_answers` holds what customers said, imported from a
    survey tool or given on the survey page: the question, a rating on the bank's 1-5
    scale, a comment, the day (never the time), an optional segment, where it came from
    and the round it belongs to, if any. Nothing that identifies a customer is kept: no
    name, e-mail, IP address, user agent or cookie. `answers.customer_prediction` is an
    executive's or frontline answer's optional second rating: what they think customers
    would answer, on the same scale.
    """
    db.table("questions").add_column("customer", str)  # JSON, null: not put to customers
    db.table("answers").add_column("customer_prediction", int)
    db.table("customer_answers").create(
        {
            "id": int,
            "question_id": str,
            "rating": int,  # 1-5, the bank's scale (imports are mapped onto it)
            "comment": str,
            "answered_on": str,  # the day only
            "segment": str,
            "source": str,  # "import" or "survey"
            "round_id": int,
        },
        pk="id",
        foreign_keys=[("question_id", "questions", "id"), ("round_id", "rounds", "id")],
        not_null={"question_id", "answered_on", "source"},
        defaults={"comment": ""},
    )
    db.table("customer_answers").create_index(["round_id", "question_id"])
    db.table("customer_answers").create_index(["answered_on"])


@migrations()
def m008_nothing_orders_or_times_an_answer(db: sqlite_utils.Database) -> None:
    """Bring a database under the at-rest rules (README, "How anonymity works").

    - `answers` becomes a WITHOUT ROWID table keyed by a random 63-bit id, so neither an
      id nor where a row sits in the file says in which order answers came (the old
      sequential ids are replaced; nothing references them).
    - `deliveries` loses `answered`: who answered is worked out with the key, from the
      pseudonyms, when a reminder or a response rate needs it, so nothing that names a
      person is written with an answer. A delivery of someone who answered keeps only the
      day of its times (they are never reminded again); rows the bot wrote when someone
      answered without a check-in (no message, sent the moment they answered) go: the
      answer alone now counts them. A finished send no longer keeps its claim time.
    - `seen_events` is emptied and keyed by a keyed hash from now on, with the day only:
      the old rows named Teams conversations to the second.
    - `people.created_at` and `conversation_refs.updated_at` keep the day only.
    """
    # The same columns (whatever earlier migrations added), the id now a random key.
    columns = [
        f'"{c.name}" {c.type or ""}'
        + (" primary key" if c.name == "id" else "")
        + (" not null" if c.notnull and c.name != "id" else "")
        + (f" default {c.default_value}" if c.default_value is not None else "")
        for c in db["answers"].columns
    ]
    foreign_keys = [
        f'foreign key ("{fk.column}") references "{fk.other_table}"("{fk.other_column}")'
        for fk in db["answers"].foreign_keys
    ]
    db.execute(f"create table answers_new ({', '.join(columns + foreign_keys)}) without rowid")
    # The rows go over in their pseudonyms' order (random to anyone without the key), each
    # with a fresh random id.
    old = list(db.query("select * from answers order by pseudonym, question_id"))
    taken: set[int] = set()
    for row in old:
        row["id"] = _random_id(taken)
        db.table("answers_new").insert(row)
    db.execute("drop table answers")
    db.execute("alter table answers_new rename to answers")
    db.table("answers").create_index(["round_id", "question_id", "pseudonym"], unique=True)
    db.table("answers").create_index(["pseudonym"])

    # Answered without a check-in: the row was written in the answer's own transaction.
    db.execute(
        "delete from deliveries where answered = 1 and message_ref is null "
        "and status = 'sent' and reminders = 0"
    )
    db.execute(
        "update deliveries set claimed_at = substr(claimed_at, 1, 10), "
        "sent_at = substr(sent_at, 1, 10), last_reminder_at = substr(last_reminder_at, 1, 10) "
        "where answered = 1"
    )
    db.execute("update deliveries set claimed_at = null where status != 'claimed'")
    db.table("deliveries").transform(drop={"answered"})

    db.execute("drop table seen_events")
    db.table("seen_events").create({"key": str, "seen_on": str}, pk="key", not_null={"seen_on"})
    db.table("seen_events").create_index(["seen_on"])

    db.execute("update people set created_at = substr(created_at, 1, 10)")
    db.execute("update conversation_refs set updated_at = substr(updated_at, 1, 10)")


def _random_id(taken: set[int]) -> int:
    """A fresh random answer id (see `bot.store.store.random_id`), unique among `taken`."""
    while True:
        candidate = secrets.randbelow(2**63 - 1) + 1
        if candidate not in taken:
            taken.add(candidate)
            return candidate


@migrations()
def m009_customer_survey(db: sqlite_utils.Database) -> None:
    """The customer survey page: answered links, and the note shown on the page.

    `survey_links_used` holds a keyed hash of each answered link's nonce (see
    `bot.core.survey`), nothing else: not when, not from where, not what was answered,
    so a link is answered once and the row says nothing about the customer. It is
    written in the same transaction as the link's answers. `customer_notes` is the
    "what we heard, what we are changing" note an executive writes for customers; the
    latest one (empty: none) is shown on the survey page.
    """
    db.table("survey_links_used").create({"link_hash": str}, pk="link_hash")
    db.table("customer_notes").create(
        {"id": int, "text": str, "set_on": str},  # set_on: the day only
        pk="id",
        not_null={"text", "set_on"},
    )
