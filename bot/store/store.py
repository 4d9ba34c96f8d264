"""The SQLite store: the only module that touches the database.

Schema changes are numbered migrations (sqlite-utils `Migrations`), applied on
open. The database runs in WAL mode with foreign keys on. Writes that belong
together run in one `db.atomic()` block, and a write that meets a locked
database is retried with back-off rather than dropped.

Anonymity lives in the schema and in how it is written (README, "How anonymity
works"), against someone who reads the files (db, -wal, -shm, a backup) without the key:

- `answers` has no person column, only a keyed pseudonym (see `bot.core.anonymity`),
  and the day (never the time) it was given. Its text, rating, role, team, customer
  prediction and on-the-record flag are sealed, each on its own (AES-GCM with a key from
  the secret, bound to the answer's round, question and pseudonym: `bot.store.seal`);
  the service hands the key over (`use_seal_key`), which also seals, once, what an older
  version left in plain text. Filters by team or role run after opening, in Python; a
  store without the key refuses to write answers and to read sealed ones. Its id is
  random and the table is WITHOUT ROWID, keyed by that id, so the id does not tell in
  which order answers came; and closing a round writes its answers again in their
  pseudonyms' order, so neither does where their cells sit in the pages once it closes.
- Nothing that names a person is written in an answer's transaction: `deliveries`
  knows who was asked, never whether they answered (the service works that out with
  the key, from the pseudonyms, when a reminder or a response rate needs it).
- The -wal never holds a transaction of answers beside one that names a person because
  of their own message (meeting them, their conversation reference), which would pair
  the two: whichever comes second empties it first (TRUNCATE checkpoint). The bot's own
  acts (check-ins, reminders) are timed by the scheduler, not by a person's answer.
  A background thread empties it a tenth of a second after writes pause (every two
  seconds during a burst), so it keeps no history of answers to replay commit by commit
  beyond the answers of that moment; off the acknowledgement's path, so a click's ack
  waits for its commit, and at most an emptying with little left to copy. It is emptied too when
  a round closes and after forget-me.
- `PRAGMA secure_delete` is on: what is deleted or overwritten is zeroed in the file.
- The times that stay finer than the day are the bot's own acts, never a person's:
  when a check-in was claimed and sent and when a reminder went (the scheduler needs
  them for crash recovery and reminder timing). No answer has an order, a time finer
  than the day, or a commit next to anything, to compare them with.
- `customer_answers` holds what customers said: the question, a 1-5 rating, a comment,
  the day, a segment, and nothing about who.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import sqlite_utils
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from bot.core.domain import (
    Answer,
    CustomerAnswer,
    CustomerVersion,
    Person,
    Proposal,
    Question,
    Role,
    Round,
    direct_recipient,
)
from bot.core.errors import InvalidAnswer, NotFound, StorageError, TransientError
from bot.store.migrations import migrations
from bot.store.seal import SEALED, Sealer

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _is_lock_error(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and (
        "locked" in str(error) or "busy" in str(error)
    )


def _disk_nearly_full(folder: Path) -> bool:
    """True when the disk holding `folder` has under 1 MiB free: SQLite reports some
    writes that ran out of room as I/O errors rather than as a full disk."""
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


class DatabaseBusy(TransientError):
    """The database stayed locked past the retry window; nothing was written."""


def storage_error(error: BaseException, path: str) -> StorageError | None:
    """The operator's one-line account of a database that cannot be opened or written
    (disk full, read-only, not a database file), naming the path; None for other errors."""
    folder = Path(path).resolve().parent
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error)
    if (
        name == "SQLITE_FULL"
        or getattr(error, "errno", None) in (28, 122)
        or (
            name.startswith("SQLITE_IOERR") and _disk_nearly_full(folder)  # ENOSPC, EDQUOT
        )
    ):
        return StorageError(
            f"Disk full: there is no room to write the database {path} (in {folder}). Nothing "
            "was saved. Free some space there (or set INTEGRITY_DB to a disk with room), then "
            "try again."
        )
    read_only_folder = folder.is_dir() and not os.access(folder, os.W_OK)
    if (
        name.startswith("SQLITE_READONLY")
        or getattr(error, "errno", None) in (13, 30)  # EACCES, EROFS
        or (name.startswith("SQLITE_CANTOPEN") and read_only_folder)
    ):
        return StorageError(
            f"The database {path} is read-only for this user: the bot needs to write it and "
            f"its folder {folder} (for the -wal and -shm files beside it). Make both writable, "
            "or set INTEGRITY_DB to a file in a writable folder."
        )
    if name == "SQLITE_NOTADB":
        return StorageError(
            f"{path} is not an Integrity Check database (SQLite says: {text}). Set "
            "INTEGRITY_DB to the bot's database file, or to a new file name to start afresh."
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return StorageError(
            f"Cannot open the database {path}: check that it is a file (not a folder) and that "
            f"its folder {folder} exists and is writable, or set INTEGRITY_DB to another file."
        )
    if name.startswith("SQLITE_IOERR"):
        return StorageError(
            f"Could not write the database {path} ({text}): the disk may be full or failing. "
            "Nothing was saved. Check the disk, then try again."
        )
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _today() -> str:
    """The day only, for rows that name a person: their times could be matched to answers."""
    return datetime.now(UTC).date().isoformat()


def random_id() -> int:
    """A random positive 63-bit id: an answer's id says nothing about when it came."""
    return secrets.randbelow(2**63 - 1) + 1


#: What a transaction writes, for keeping answers apart from what names a person (`Store.write`).
WriteKind = Literal["answers", "person", "bot"]

#: How long an event key is kept for de-duplication (platforms redeliver within minutes).
SEEN_EVENT_DAYS = 2
#: The sweeper empties the -wal once writes have paused this long...
SWEEP_QUIET_SECONDS = 0.1
#: ... or this long after the first write it has not swept, whichever comes first. A
#: checkpoint holds writers up while it runs: one per answer put a burst's
#: acknowledgements at 300-700 ms here (against 5-30 ms without), so a burst is swept
#: every two seconds, and a quiet moment at once.
SWEEP_AT_MOST_SECONDS = 2.0


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(moment: datetime) -> str:
    """A time as stored: ISO, UTC, whole seconds (so the text compares as the time does)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class Store:
    """All reads and writes of the Integrity Check database."""

    #: How long a write keeps retrying a locked database before giving up.
    lock_retry_seconds = 30.0

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        """Open (or create) the database at `path`, applying pending migrations.

        `read_only` opens an existing database for reading only, never writing to it
        (export: the file or its folder may be read-only); any error opening it is a
        `StorageError` that names the path and what to do.
        """
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        #: The kinds of write (`WriteKind`) committed since the -wal was last emptied.
        self._wal_holds: set[str] = {"bot"}
        self._sweep = threading.Event()
        self._closed = threading.Event()
        #: Seals and opens the answers' sensitive columns; set by `use_seal_key`.
        self._sealer: Sealer | None = None
        self._sweeper: threading.Thread | None = None
        try:
            self.db = self._open()
        except (sqlite3.Error, OSError) as error:
            raise storage_error(error, self.path) or StorageError(
                f"Cannot open the database {self.path}: {error}. Set INTEGRITY_DB to the bot's "
                "database file."
            ) from error
        # `answer_context`'s select list: every column of the three tables, named apart.
        self._context_columns = ", ".join(
            f'{alias}."{column}" as "{alias}.{column}"'
            for alias, table in (("r", "rounds"), ("q", "questions"), ("p", "people"))
            for column in self.db.table(table).columns_dict
        )

    def _open(self) -> sqlite_utils.Database:
        if self.read_only:
            return self._open_read_only()
        if self.path != ":memory:":
            folder = Path(self.path).parent
            if folder.exists() and not folder.is_dir():
                raise StorageError(
                    f"The database {self.path} would be inside {folder}, which is a file, not a "
                    "folder. Set INTEGRITY_DB to a file in a folder."
                )
            folder.mkdir(parents=True, exist_ok=True)
            if Path(self.path).is_dir():
                raise StorageError(
                    f"The database {self.path} is a folder. Set INTEGRITY_DB to a file, e.g. "
                    f"{Path(self.path) / 'integrity.db'}."
                )
        # One connection shared by the bot's threads (adapters, scheduler); the
        # lock serialises them, SQLite's busy timeout handles other processes.
        conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            self.db.enable_wal()
        self.db.execute("PRAGMA foreign_keys = ON")
        # Deleted and overwritten content is zeroed in the file, whatever SQLite's build
        # default: forget-me and edited answers must not linger in free space.
        self.db.execute("PRAGMA secure_delete = ON")
        before = set(self.schema_version())
        self.write(lambda: migrations.apply(self.db))
        if self.path != ":memory:" and "m008_nothing_orders_or_times_an_answer" not in before:
            # The migration rewrote the answers; rebuild the file so no page keeps the old
            # ordered rows, and leave no history in the -wal.
            with self._lock:
                self.db.execute("VACUUM")
            self.truncate_wal()
        return self.db

    def use_seal_key(self, key: bytes) -> None:
        """Seal and open answers with `key` (from the secret: `anonymity.seal_key`).

        The first time a writable database written by an older version meets its key, the
        answers it left in plain text are sealed, in one pass, and the file is rebuilt and
        the -wal emptied so no page keeps the plain text (with `secure_delete`).
        """
        self._sealer = Sealer(key)
        if self.read_only:
            return
        plain = " or ".join(f"typeof({column}) != 'blob'" for column in SEALED)
        rows = self._rows(f"select * from answers where {plain}")
        if not rows:
            return

        def run() -> None:
            for row in rows:
                values = [self._seal(column, self._value(column, row), row) for column in SEALED]
                self.db.execute(
                    f"update answers set {', '.join(f'{c} = ?' for c in SEALED)} where id = ?",
                    [*values, row["id"]],
                )

        self.write(run, kind="answers")
        if self.path != ":memory:":
            with self._lock:
                self.db.execute("VACUUM")
            self.truncate_wal()
        logger.info("Sealed %d answers written in plain text by an older version.", len(rows))

    def _seal(self, column: str, value: Any, row: Mapping[str, Any]) -> bytes:
        if self._sealer is None:
            raise StorageError(
                "The store has no key to seal answers with: open it through the service "
                "(IntegrityCheck), which hands over the key derived from the secret."
            )
        return self._sealer.seal(
            column, value, row["round_id"], row["question_id"], row["pseudonym"]
        )

    def _opened(self, row: Mapping[str, Any], columns: Sequence[str] = SEALED) -> dict[str, Any]:
        """These columns of an answer row, opened if sealed."""
        if self._sealer is None:
            if any(isinstance(row.get(column), bytes) for column in columns):
                raise StorageError(
                    "The answers are sealed and this store has no key to open them: open it "
                    "through the service (IntegrityCheck), with the secret the bot runs with."
                )
            return {column: row.get(column) for column in columns}
        return self._sealer.open_row(row, columns)

    def _value(self, column: str, row: Mapping[str, Any]) -> Any:
        """One column of an answer row, opened if sealed."""
        return self._opened(row, (column,))[column]

    def _answer(self, row: dict) -> Answer:
        return _answer({**row, **self._opened(row)})

    def _open_read_only(self) -> sqlite_utils.Database:
        """Open without writing: `mode=ro`, or `immutable=1` when the folder is read-only
        and SQLite cannot make the WAL's shared-memory file (nobody can write it then)."""
        path = Path(self.path)
        if not path.is_file():
            raise StorageError(f"There is no database file at {self.path}.")
        uri = path.resolve().as_uri()
        last: sqlite3.Error | None = None
        for options in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(f"{uri}?{options}", uri=True, timeout=5, check_same_thread=False)
            try:
                conn.execute("select count(*) from sqlite_master").fetchone()
            except sqlite3.Error as error:
                conn.close()
                last = error
                continue
            self.db = sqlite_utils.Database(conn)
            if migrations.pending(self.db):
                raise StorageError(
                    f"The database {self.path} was written by an older version of Integrity "
                    "Check: run the bot once with write access to upgrade it, then export."
                )
            return self.db
        assert last is not None
        raise last

    def close(self) -> None:
        self._closed.set()
        self._sweep.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        if not self.read_only:
            try:
                self.truncate_wal()
            except sqlite3.Error:  # a full disk: the -wal stays, SQLite replays it next open
                logger.warning("Could not empty the -wal of %s on close", self.path)
        self.db.close()

    # -- plumbing ---------------------------------------------------------------

    def write(self, fn: Callable[[], T], *, kind: WriteKind = "bot") -> T:
        """Run `fn` in one transaction, retrying while another process holds the lock.

        `kind` says what the transaction writes: "answers" (and nothing that names a
        person), "person" (what a person's own message makes the bot write about them:
        meeting them, their role, their conversation reference) or "bot" (everything
        else: the bot's own acts, at its own times). The -wal never holds answers beside a
        "person" write, since a person's message that writes both would pair them in it:
        whichever comes second first empties it (`truncate_wal`). Every write is swept out
        of it soon after (`_sweep_soon`), so it keeps no history of answers.
        """
        if self.read_only:
            raise StorageError(
                f"The database {self.path} was opened read-only (for an export); nothing was "
                "saved. Run the bot itself to change anything."
            )
        retrying = Retrying(
            retry=retry_if_exception(_is_lock_error),
            wait=wait_exponential(multiplier=0.05, max=2),
            stop=stop_after_delay(self.lock_retry_seconds),
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt, self._lock:
                    if {kind, *self._wal_holds} >= {"answers", "person"}:
                        self.truncate_wal()
                    with self.db.atomic():
                        result = fn()
                    self._wal_holds.add(kind)
                    self._sweep_soon()
                    return result
        except sqlite3.DatabaseError as error:
            if _is_lock_error(error):
                raise DatabaseBusy(
                    "The database is busy and stayed locked for "
                    f"{self.lock_retry_seconds:.0f} seconds; nothing was saved. "
                    "Please send the same thing again in a minute."
                ) from error
            storage = storage_error(error, self.path)
            if storage is None:
                raise
            raise storage from error
        raise AssertionError("unreachable")  # pragma: no cover

    def truncate_wal(self, *, wait_ms: int = 250) -> bool:
        """Copy the -wal into the database and empty it (TRUNCATE checkpoint), so the files
        hold the database as it is and no history of writes. False if another process's
        read kept it from finishing within `wait_ms` (the next one catches up)."""
        if self.path == ":memory:":
            return True
        with self._lock:
            # A reader in another process holds the -wal: wait briefly, not the full timeout.
            self.db.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
            try:
                busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.OperationalError as error:
                if not _is_lock_error(error):
                    raise
                busy = 1
            finally:
                self.db.execute("PRAGMA busy_timeout = 5000")
            if not busy:
                self._wal_holds.clear()
        if busy:
            logger.info("The -wal could not be emptied now (another process is reading)")
        return not busy

    def _sweep_soon(self) -> None:
        """Have the sweeper empty the -wal of what was just written, off the caller's path:
        an answer is acknowledged after its commit, not after a checkpoint too. It sweeps
        once writes pause for `SWEEP_QUIET_SECONDS`, and during a burst every
        `SWEEP_AT_MOST_SECONDS`."""
        if self.path == ":memory:" or self._closed.is_set():
            return
        if self._sweeper is None:
            self._sweeper = threading.Thread(
                target=self._sweep_wal, name="wal-sweeper", daemon=True
            )
            self._sweeper.start()
        self._sweep.set()

    def _sweep_wal(self) -> None:
        """The sweeper: copy the -wal into the database from a connection of its own (a
        PASSIVE checkpoint, which writers do not wait for), then empty it under the store's
        lock, which has only the last few commits left to copy."""
        own = sqlite3.connect(self.path, timeout=5)
        try:
            while True:
                self._sweep.wait()
                first = time.monotonic()
                while True:  # wait for a pause in the writes, or the longest wait
                    self._sweep.clear()
                    if self._closed.wait(SWEEP_QUIET_SECONDS):
                        return
                    if not self._sweep.is_set():
                        break
                    if time.monotonic() - first >= SWEEP_AT_MOST_SECONDS:
                        self._sweep.clear()
                        break
                try:
                    own.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    with self._lock:
                        if self._wal_holds:
                            # Writers wait while this holds the lock: if another process is
                            # reading, try again at the next sweep rather than wait for it.
                            self.truncate_wal(wait_ms=10)
                except Exception:
                    logger.exception("Could not empty the -wal; the next write retries")
        finally:
            own.close()

    def _rows(self, sql: str, params: Sequence[Any] | dict = ()) -> list[dict]:
        try:
            with self._lock:
                return [dict(r) for r in self.db.query(sql, params)]
        except OverflowError:
            # A number past SQLite's 64-bit integers (an id someone typed): no row has it.
            return []
        except sqlite3.DatabaseError as error:
            storage = storage_error(error, self.path)
            if storage is None:
                raise
            raise storage from error

    @contextmanager
    def traced(self) -> Iterator[list[str]]:
        """The SQL statements run on the shared connection while inside, in order, from
        every thread (how tests count the reads and writes behind an answer).

        The trace callback is set and removed under the store's lock. `sqlite3` changes it
        holding the GIL and waits there for the connection's SQLite mutex, while a statement
        running in another thread holds that mutex and waits for the GIL to call the
        callback: unlocked, the two threads would wait for each other for ever.
        """
        statements: list[str] = []
        with self._lock:
            self.db.conn.set_trace_callback(statements.append)
        try:
            yield statements
        finally:
            with self._lock:
                self.db.conn.set_trace_callback(None)

    def schema_version(self) -> list[str]:
        """Names of the applied migrations, oldest first."""
        return [m.name for m in migrations.applied(self.db)]

    # -- people -----------------------------------------------------------------

    def person(self, platform: str, workspace: str, user_id: str) -> Person | None:
        rows = self._rows(
            "select * from people where platform = ? and workspace = ? and user_id = ?",
            [platform, workspace, user_id],
        )
        return _person(rows[0]) if rows else None

    def person_by_id(self, person_id: int) -> Person:
        rows = self._rows("select * from people where id = ?", [person_id])
        if not rows:
            raise NotFound(f"No person with id {person_id}.")
        return _person(rows[0])

    def add_person(
        self,
        platform: str,
        workspace: str,
        user_id: str,
        display_name: str,
        role: Role = "frontline",
        *,
        is_admin: bool = False,
        team: str | None = None,
        tz: str | None = None,
    ) -> Person:
        """Insert a person, or update the platform facts (name, team, tz) of a known one.

        The role and admin flag of a known person are kept: they are set with
        `set_role`, not by whatever the platform says on the next event.
        """

        def run() -> Person:
            existing = self.person(platform, workspace, user_id)
            table = self.db.table("people")
            if existing is None:
                table.insert(
                    {
                        "platform": platform,
                        "workspace": workspace,
                        "user_id": user_id,
                        "display_name": display_name,
                        "role": role,
                        "is_admin": int(is_admin),
                        "team": team,
                        "tz": tz,
                        "created_at": _today(),
                    }
                )
            else:
                changes = {"display_name": display_name or existing.display_name}
                if team is not None:
                    changes["team"] = team
                if tz is not None:
                    changes["tz"] = tz
                table.update(existing.id, changes)
            person = self.person(platform, workspace, user_id)
            assert person is not None
            return person

        return self.write(run, kind="person")

    def people(self, platform: str | None = None, workspace: str | None = None) -> list[Person]:
        where, params = [], []
        if platform is not None:
            where.append("platform = ?")
            params.append(platform)
        if workspace is not None:
            where.append("workspace = ?")
            params.append(workspace)
        clause = f"where {' and '.join(where)}" if where else ""
        return [
            _person(r) for r in self._rows(f"select * from people {clause} order by id", params)
        ]

    def set_role(self, person_id: int, role: Role, *, is_admin: bool | None = None) -> Person:
        changes: dict[str, Any] = {"role": role}
        if is_admin is not None:
            changes["is_admin"] = int(is_admin)
        self.write(lambda: self.db.table("people").update(person_id, changes), kind="person")
        return self.person_by_id(person_id)

    # -- questions --------------------------------------------------------------

    def sync_questions(self, questions: Sequence[Question]) -> None:
        """Make the bank in the database match the question file; retired questions stay
        (old answers point at them) but are no longer asked."""

        def run() -> None:
            table = self.db.table("questions")
            bank_ids = [q.id for q in questions]
            for position, q in enumerate(questions):
                table.upsert(_question_row(q, position, "bank", active=True), pk="id")
            marks = ",".join("?" for _ in bank_ids) or "''"
            self.db.execute(
                f"update questions set active = 0 where source = 'bank' and id not in ({marks})",
                bank_ids,
            )

        self.write(run)

    def add_question(self, question: Question, *, active: bool = True) -> None:
        """Add a question that did not come from the bank (an approved proposal)."""

        def run() -> None:
            count = self._rows("select count(*) as n from questions")[0]["n"]
            self.db.table("questions").upsert(
                _question_row(question, 1000 + count, question.source, active=active), pk="id"
            )

        self.write(run)

    def question(self, question_id: str) -> Question:
        rows = self._rows("select * from questions where id = ?", [question_id])
        if not rows:
            raise NotFound(f"There is no question {question_id!r}.")
        return _question(rows[0])

    def questions(self, *, active_only: bool = True, source: str | None = None) -> list[Question]:
        where = ["1 = 1"]
        params: list[Any] = []
        if active_only:
            where.append("active = 1")
        if source:
            where.append("source = ?")
            params.append(source)
        rows = self._rows(
            f"select * from questions where {' and '.join(where)} order by position, id", params
        )
        return [_question(r) for r in rows]

    def set_question_active(self, question_id: str, active: bool) -> None:
        self.write(lambda: self.db.table("questions").update(question_id, {"active": int(active)}))

    # -- rounds -----------------------------------------------------------------

    def create_round(
        self,
        question_ids: Sequence[str],
        opened_at: datetime,
        closes_at: datetime,
        *,
        week: str | None = None,
    ) -> Round:
        """Open the next round with these questions, in this order (a scheduled one names its
        ISO week, which is unique: two schedulers can never open the same week twice). The
        survey page's answers that wait for a round (given while none was open) join this
        one in the same transaction."""

        def run() -> int:
            number = self._rows("select coalesce(max(number), 0) + 1 as n from rounds")[0]["n"]
            round_id = (
                self.db.table("rounds")
                .insert(
                    {
                        "number": number,
                        "opened_at": opened_at.isoformat(timespec="seconds"),
                        "closes_at": closes_at.isoformat(timespec="seconds"),
                        "status": "open",
                        "week": week,
                    }
                )
                .last_pk
            )
            self.db.table("round_questions").insert_all(
                {"round_id": round_id, "question_id": qid, "position": i}
                for i, qid in enumerate(question_ids)
            )
            self.db.execute(
                "update customer_answers set round_id = ? "
                "where round_id is null and source = 'survey'",
                [round_id],
            )
            return int(round_id)

        try:
            return self.round(self.write(run))
        except sqlite3.IntegrityError:
            existing = self.round_for_week(week) if week else None
            if existing is None:
                raise
            return existing  # another process opened this week's round a moment ago

    def round(self, round_id: int) -> Round:
        rows = self._rows("select * from rounds where id = ?", [round_id])
        if not rows:
            raise NotFound(f"There is no round with id {round_id}.")
        return self._round(rows[0])

    def round_by_number(self, number: int) -> Round:
        rows = self._rows("select * from rounds where number = ?", [number])
        if not rows:
            raise NotFound(f"There is no round {number}. `/integrity status` lists the rounds.")
        return self._round(rows[0])

    def rounds(self, *, status: str | None = None, since: datetime | None = None) -> list[Round]:
        where, params = ["1 = 1"], []
        if status:
            where.append("status = ?")
            params.append(status)
        if since:
            where.append("opened_at >= ?")
            params.append(since.isoformat(timespec="seconds"))
        rows = self._rows(
            f"select * from rounds where {' and '.join(where)} order by number", params
        )
        return [self._round(r) for r in rows]

    def close_round(
        self,
        round_id: int,
        closed_at: datetime,
        *,
        summaries: Iterable[tuple[str, str, str]] = (),
    ) -> Round:
        """Close a round; each (platform, workspace, destination) in `summaries` is owed its
        summary, recorded in the same transaction (a destination already owed stays as it is).

        The round's answers are written again in their pseudonyms' order (random to anyone
        without the key): SQLite puts each new cell of a page below the one before, so the
        pages of the table and its indexes kept the order answers came in."""

        def run() -> None:
            self.db.table("rounds").update(
                round_id, {"status": "closed", "closed_at": closed_at.isoformat(timespec="seconds")}
            )
            rows = list(
                self.db.query(
                    "select * from answers where round_id = ? order by pseudonym, question_id",
                    [round_id],
                )
            )
            self.db.execute("delete from answers where round_id = ?", [round_id])
            if rows:  # secure_delete zeroed the old cells; the -wal is emptied below
                self.db.table("answers").insert_all(rows)
            for platform, workspace, destination in summaries:
                self.db.execute(
                    "insert into summary_posts (round_id, platform, workspace, destination, "
                    "owed_at) values (?, ?, ?, ?, ?) on conflict "
                    "(round_id, platform, workspace, destination) do nothing",
                    [round_id, platform, workspace, destination, _now()],
                )

        self.write(run)
        self.truncate_wal()  # a closed round's writes keep no history in the -wal
        return self.round(round_id)

    def _round(self, row: dict, question_ids: Sequence[str] | None = None) -> Round:
        if question_ids is None:
            question_ids = [
                r["question_id"]
                for r in self._rows(
                    "select question_id from round_questions where round_id = ? order by position",
                    [row["id"]],
                )
            ]
        return Round(
            id=row["id"],
            number=row["number"],
            opened_at=datetime.fromisoformat(row["opened_at"]),
            closes_at=datetime.fromisoformat(row["closes_at"]),
            status=row["status"],
            question_ids=tuple(question_ids),
            closed_at=_dt(row["closed_at"]),
            week=row.get("week"),
        )

    def round_for_week(self, week: str) -> Round | None:
        rows = self._rows("select * from rounds where week = ?", [week])
        return self._round(rows[0]) if rows else None

    # -- deliveries -------------------------------------------------------------

    def claim_delivery(self, round_id: int, person: Person) -> int | None:
        """Claim the right to send this round to this person: the delivery id, or None
        if it was already claimed (by this process before a crash, or another one)."""

        def run() -> int | None:
            cursor = self.db.execute(
                "insert or ignore into deliveries (round_id, person_id, role, status, claimed_at) "
                "values (?, ?, ?, 'claimed', ?)",
                [round_id, person.id, person.role, _now()],
            )
            return int(cursor.lastrowid) if cursor.rowcount == 1 else None

        return self.write(run)

    def complete_delivery(self, delivery_id: int, message_ref: str | None) -> None:
        """The check-in went out: when (the reminders are timed from it), and its message.
        The claim's time is only for taking over a dead process's claim: it goes."""
        self.write(
            lambda: self.db.table("deliveries").update(
                delivery_id,
                {
                    "status": "sent",
                    "sent_at": _now(),
                    "message_ref": message_ref,
                    "claimed_at": None,
                },
            )
        )

    def reclaim_stale_delivery(self, delivery_id: int, older_than: datetime) -> bool:
        """Take over a claim left unfinished (its process died between claim and send);
        only one process can win it."""

        def run() -> bool:
            cursor = self.db.execute(
                "update deliveries set claimed_at = ? where id = ? and status = 'claimed' "
                "and claimed_at < ?",
                [_now(), delivery_id, older_than.isoformat(timespec="seconds")],
            )
            return cursor.rowcount == 1

        return self.write(run)

    def mark_reminded(self, delivery_id: int, at: datetime) -> bool:
        """Count a reminder, unless one was already sent in the last 20 hours (so a person
        never gets more than one a day, whichever process sends it)."""

        def run() -> bool:
            cursor = self.db.execute(
                "update deliveries set reminders = reminders + 1, last_reminder_at = ? "
                "where id = ? and (last_reminder_at is null or last_reminder_at < ?)",
                [
                    at.isoformat(timespec="seconds"),
                    delivery_id,
                    (at - timedelta(hours=20)).isoformat(timespec="seconds"),
                ],
            )
            return cursor.rowcount == 1

        return self.write(run)

    def fail_delivery(self, delivery_id: int) -> None:
        self.write(
            lambda: self.db.table("deliveries").update(
                delivery_id, {"status": "failed", "claimed_at": None}
            )
        )

    def deliveries(self, round_id: int) -> list[dict]:
        return self._rows("select * from deliveries where round_id = ? order by id", [round_id])

    def delivery_for(self, round_id: int, person_id: int) -> dict | None:
        rows = self._rows(
            "select * from deliveries where round_id = ? and person_id = ?", [round_id, person_id]
        )
        return rows[0] if rows else None

    def asked(self, round_id: int) -> list[tuple[Person, Role]]:
        """Everyone a round was delivered to (claimed, sent or failed), with the role they
        were asked as. Whether they answered is not here: see `answer_pseudonyms`."""
        rows = self._rows(
            "select people.*, deliveries.role as asked_as from deliveries "
            "join people on people.id = deliveries.person_id where deliveries.round_id = ?",
            [round_id],
        )
        return [(_person(row), row["asked_as"]) for row in rows]

    def answer_pseudonyms(self, round_id: int) -> dict[str, Role]:
        """The pseudonym of everyone who answered in a round, with the role they answered as."""
        rows = self._rows(
            "select round_id, question_id, pseudonym, role from answers where round_id = ?",
            [round_id],
        )
        roles: dict[str, Role] = {}
        for row in rows:  # the roles are sealed: the least one, as `min(role)` would give
            role = self._value("role", row)
            if row["pseudonym"] not in roles or role < roles[row["pseudonym"]]:
                roles[row["pseudonym"]] = role
        return roles

    # -- schedules --------------------------------------------------------------

    def save_schedule(self, schedule: dict[str, Any]) -> None:
        """Insert or replace the schedule of a workspace (team "" ) or one of its teams."""

        def run() -> None:
            row = {**schedule, "team": schedule.get("team") or "", "updated_at": _now()}
            existing = self._rows(
                "select id from schedules where platform = ? and workspace = ? and team = ?",
                [row["platform"], row["workspace"], row["team"]],
            )
            table = self.db.table("schedules")
            if existing:
                table.update(existing[0]["id"], row)
            else:
                table.insert(row)

        self.write(run)

    def disable_schedule(self, platform: str, workspace: str, team: str = "") -> None:
        self.write(
            lambda: self.db.execute(
                "update schedules set active = 0 where platform = ? and workspace = ? and team = ?",
                [platform, workspace, team],
            )
        )

    def schedules(self, *, active_only: bool = True) -> list[dict]:
        where = "where active = 1" if active_only else ""
        return self._rows(f"select * from schedules {where} order by platform, workspace, team")

    # -- conversation references -------------------------------------------------

    def save_conversation_ref(self, person_id: int, platform: str, reference: dict) -> None:
        """Keep (or refresh) where this person can be messaged proactively. Written only when
        it changed, with the day only: a write per message would stamp each one's time."""
        encoded = json.dumps(reference, sort_keys=True)
        rows = self._rows(
            "select reference from conversation_refs where person_id = ?", [person_id]
        )
        if rows and rows[0]["reference"] == encoded:
            return
        self.write(
            lambda: self.db.table("conversation_refs").upsert(
                {
                    "person_id": person_id,
                    "platform": platform,
                    "reference": encoded,
                    "updated_at": _today(),
                },
                pk="person_id",
            ),
            kind="person",
        )

    def conversation_ref(self, person_id: int) -> dict | None:
        rows = self._rows(
            "select reference from conversation_refs where person_id = ?", [person_id]
        )
        return json.loads(rows[0]["reference"]) if rows else None

    def people_without_conversation(
        self, platform: str, workspace: str | None = None
    ) -> list[Person]:
        """People of a platform (and workspace) the bot cannot message proactively yet."""
        sql = (
            "select * from people where platform = ? and id not in "
            "(select person_id from conversation_refs)"
        )
        params: list[Any] = [platform]
        if workspace is not None:
            sql += " and workspace = ?"
            params.append(workspace)
        return [_person(r) for r in self._rows(sql + " order by id", params)]

    # -- channel posts -------------------------------------------------------------

    def claim_channel_post(
        self, platform: str, workspace: str, channel: str, round_id: int
    ) -> bool:
        """Claim posting a round to a channel; False if it was posted (or claimed) already."""

        def run() -> bool:
            cursor = self.db.execute(
                "insert or ignore into channel_posts (platform, workspace, channel, round_id) "
                "values (?, ?, ?, ?)",
                [platform, workspace, channel, round_id],
            )
            return cursor.rowcount == 1

        return self.write(run)

    def complete_channel_post(
        self, platform: str, workspace: str, channel: str, round_id: int, message_ref: str | None
    ) -> None:
        """Record the posted message; `None` releases the claim so a later try posts again."""

        def run() -> None:
            where = "platform = ? and workspace = ? and channel = ? and round_id = ?"
            params = [platform, workspace, channel, round_id]
            if message_ref is None:
                self.db.execute(f"delete from channel_posts where {where}", params)
            else:
                self.db.execute(
                    f"update channel_posts set message_ref = ?, posted_at = ? where {where}",
                    [message_ref, _now(), *params],
                )

        self.write(run)

    def round_of_channel_post(
        self, platform: str, workspace: str, message_ref: str
    ) -> Round | None:
        """The round whose channel post is this message (a thread's parent), if any."""
        rows = self._rows(
            "select round_id from channel_posts where platform = ? and workspace = ? "
            "and message_ref = ?",
            [platform, workspace, message_ref],
        )
        return self.round(rows[0]["round_id"]) if rows else None

    # -- summary posts -------------------------------------------------------------

    def owe_summary_post(
        self, round_id: int, platform: str, workspace: str, destination: str
    ) -> bool:
        """Owe a round's summary to one more destination (`/integrity share`); False if it
        was owed (or posted) there already."""

        def run() -> bool:
            cursor = self.db.execute(
                "insert into summary_posts (round_id, platform, workspace, destination, "
                "owed_at) values (?, ?, ?, ?, ?) on conflict "
                "(round_id, platform, workspace, destination) do nothing",
                [round_id, platform, workspace, destination, _now()],
            )
            return cursor.rowcount == 1

        return self.write(run)

    def owed_summary_posts(
        self, platforms: Iterable[str], *, due_by: datetime | None = None
    ) -> list[dict]:
        """Summary posts of these platforms still owed, oldest first (claimed or not); with
        `due_by`, only those whose next try (`retry_at`) is not after it."""
        names = list(platforms)
        if not names:
            return []
        marks = ",".join("?" for _ in names)
        sql = f"select * from summary_posts where status = 'owed' and platform in ({marks})"
        params: list[Any] = list(names)
        if due_by is not None:
            sql += " and (retry_at is null or retry_at <= ?)"
            params.append(_iso(due_by))
        return [_summary_post(r) for r in self._rows(sql + " order by id", params)]

    def claim_summary_post(self, post_id: int, older_than: datetime, now: datetime) -> dict | None:
        """Claim an owed summary post at `now`: free, or left claimed before `older_than` by a
        process that died. The row as it stands once claimed (its `posted_to` is what to
        skip), or None if it was posted or given up already, another process holds a fresh
        claim, or its next try is not due yet."""

        def run() -> dict | None:
            at = _iso(now)
            cursor = self.db.execute(
                "update summary_posts set claimed_at = ? where id = ? and status = 'owed' "
                "and (claimed_at is null or claimed_at < ?) "
                "and (retry_at is null or retry_at <= ?)",
                [at, post_id, _iso(older_than), at],
            )
            if cursor.rowcount != 1:
                return None
            return _summary_post(
                self._rows("select * from summary_posts where id = ?", [post_id])[0]
            )

        return self.write(run)

    def record_summary_recipient(self, post_id: int, recipient: str) -> None:
        """One recipient got the summary: a retry of this post skips them."""

        def run() -> None:
            rows = self._rows("select posted_to from summary_posts where id = ?", [post_id])
            posted = json.loads(rows[0]["posted_to"] or "[]")
            if recipient not in posted:
                self.db.execute(
                    "update summary_posts set posted_to = ? where id = ?",
                    [json.dumps([*posted, recipient]), post_id],
                )

        self.write(run)

    def complete_summary_post(self, post_id: int) -> None:
        """Every recipient got it: the post is no longer owed (and the list of who got it,
        executives' ids, is not kept past the time it is needed)."""
        self.write(
            lambda: self.db.execute(
                "update summary_posts set status = 'posted', posted_at = ?, claimed_at = null, "
                "retry_at = null, posted_to = '[]' where id = ?",
                [_now(), post_id],
            )
        )

    def release_summary_post(self, post_id: int, retry_at: datetime | None = None) -> None:
        """A try of the post failed (for some recipient): one more failed try counted, still
        owed, free to claim again once `retry_at` has come (None: at once)."""
        self.write(
            lambda: self.db.execute(
                "update summary_posts set claimed_at = null, attempts = attempts + 1, "
                "retry_at = ? where id = ? and status = 'owed'",
                [_iso(retry_at) if retry_at is not None else None, post_id],
            )
        )

    def give_up_summary_post(self, post_id: int) -> None:
        """The post failed once more and has been owed too long: never tried again. Who did
        get it stays in `posted_to` (it is what an operator asks after)."""
        self.write(
            lambda: self.db.execute(
                "update summary_posts set status = 'given_up', claimed_at = null, "
                "attempts = attempts + 1, retry_at = null where id = ? and status = 'owed'",
                [post_id],
            )
        )

    def summary_posts(self, round_id: int) -> list[dict]:
        """Every summary post of a round, owed or posted."""
        return [
            _summary_post(r)
            for r in self._rows(
                "select * from summary_posts where round_id = ? order by id", [round_id]
            )
        ]

    # -- answers ----------------------------------------------------------------

    def upsert_answers(
        self,
        *,
        round_id: int,
        pseudonym: str,
        role: Role,
        team: str | None,
        day: date,
        answers: Sequence[tuple[str, int | None | object, str | None | object]],
        on_record: bool,
        source: str,
        keep: object,
        predictions: Mapping[str, int] | None = None,
    ) -> list[Answer]:
        """Insert or edit one person's answers to questions of one round, in ONE transaction.
        `predictions` (question id -> 1-5) set what the person thinks customers would answer;
        a question without one keeps its stored prediction.

        Each of `answers` is (question id, rating, text); a rating or text equal to `keep`
        leaves the stored value as it is, so a rating click and a later "why" each edit their
        own half. A new answer gets a random id (`random_id`); an edit keeps its id. Nothing
        but `answers` is written, never beside a write that names a person in the -wal, and
        swept out of it soon after (`write`; see the module docstring). The role, team,
        rating, text, prediction and on-the-record flag are sealed each on its own
        (`bot.store.seal`); a new answer gets all of them, an edit rewrites only its own.

        An edit that moves an answer on or off the record keeps nothing of it: a private
        "why" under a rating said in a named channel thread would be the named person's,
        and a public "why" under a rating changed in private would name who changed it.
        """

        def statement(question_id: str, rating: object, text: object) -> tuple[str, list, bool]:
            where = {"round_id": round_id, "question_id": question_id, "pseudonym": pseudonym}
            cursor = self.db.execute(  # in the write's transaction (`run`)
                "select * from answers where round_id = ? and question_id = ? and pseudonym = ?",
                list(where.values()),
            )
            row = cursor.fetchone()
            stored = (
                None
                if row is None
                else dict(zip([d[0] for d in cursor.description], row, strict=True))
            )
            prediction = (predictions or {}).get(question_id)
            moved = stored is not None and self._value("on_record", stored) != int(on_record)
            if moved:  # nothing said in the other mode is carried over
                rating = None if rating is keep else rating
                text = "" if text is keep else text
            record: dict[str, Any] = {
                "id": random_id(),
                **where,
                "role": role,
                "team": team,
                "answered_on": day.isoformat(),
                "on_record": int(on_record),
                "source": source,
                "rating": None if rating is keep else rating,
                "text": "" if text is keep else (text or ""),
                "customer_prediction": prediction,
            }
            edited = ["role", "team", "answered_on", "on_record", "source"]
            edited += [c for c, v in (("rating", rating), ("text", text)) if v is not keep]
            if moved or (predictions and question_id in predictions):
                edited.append("customer_prediction")
            for column in SEALED:
                record[column] = self._seal(column, record[column], where)
            # One statement per question (this is the busiest write: every click): insert,
            # or edit the person's answer to this question of this round in place.
            edits = ", ".join(f"{column} = excluded.{column}" for column in edited)
            return (
                f"insert into answers ({', '.join(record)}) "
                f"values ({', '.join('?' * len(record))}) "
                f"on conflict (round_id, question_id, pseudonym) do update set {edits} "
                "returning *",
                list(record.values()),
                moved,
            )

        def run() -> list[Answer]:
            stored = []
            for sql, params, moved in (statement(*answer) for answer in answers):
                cursor = self.db.execute(sql, params)
                columns = [d[0] for d in cursor.description]
                row = dict(zip(columns, cursor.fetchone(), strict=True))
                stored.append(replace(self._answer(row), moved=moved))
            return stored

        return self.write(run, kind="answers")  # the answers as stored, from the write

    def answer_context(
        self, platform: str, workspace: str, user_id: str, round_id: int, question_id: str
    ) -> tuple[Person | None, Round | None, Question | None]:
        """The person (by their platform ids), the round (with its questions) and the question
        of one answer, each None if unknown, in one read: a click's answer is saved before
        Slack is told it arrived, so every statement there is on a person's wait."""
        rows = self._rows(
            f'select {self._context_columns}, rq.question_id as "rq.question_id" '
            "from rounds r "
            "left join round_questions rq on rq.round_id = r.id "
            "left join questions q on q.id = :question "
            "left join people p on p.platform = :platform and p.workspace = :workspace "
            "and p.user_id = :user "
            "where r.id = :round order by rq.position",
            {"question": question_id, "platform": platform, "workspace": workspace,
             "user": user_id, "round": round_id},
        )  # fmt: skip
        if not rows:
            return None, None, None

        def part(alias: str) -> dict | None:
            found = {k.partition(".")[2]: v for k, v in rows[0].items() if k[:2] == alias + "."}
            return found if found["id"] is not None else None

        person, question, round_row = part("p"), part("q"), part("r")
        assert round_row is not None
        qids = [r["rq.question_id"] for r in rows if r["rq.question_id"] is not None]
        return (
            _person(person) if person else None,
            self._round(round_row, qids),
            _question(question) if question else None,
        )

    def answer(self, answer_id: int) -> Answer:
        rows = self._rows("select * from answers where id = ?", [answer_id])
        if not rows:
            raise NotFound(f"There is no answer {answer_id}.")
        return self._answer(rows[0])

    def answer_by_pseudonym(self, round_id: int, question_id: str, pseudonym: str) -> Answer | None:
        rows = self._rows(
            "select * from answers where round_id = ? and question_id = ? and pseudonym = ?",
            [round_id, question_id, pseudonym],
        )
        return self._answer(rows[0]) if rows else None

    def answers(self, round_ids: Iterable[int], *, team: str | None = None) -> list[Answer]:
        """The answers of these rounds (of one team, if given, any case), by id. The team is
        sealed, so the filter runs here, after opening."""
        ids = list(round_ids)
        if not ids:
            return []
        marks = ",".join("?" for _ in ids)
        rows = self._rows(f"select * from answers where round_id in ({marks}) order by id", ids)
        found = [self._answer(r) for r in rows]
        if team is None:
            return found
        return [a for a in found if a.team is not None and a.team.lower() == team.lower()]

    def count_round_answers(self, round_ids: Iterable[int], *, team: str | None = None) -> int:
        """How many answers these rounds hold (of one team, if given): one count, or, for a
        team (sealed), only the columns needed to open it."""
        ids = list(round_ids)
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        if team is None:
            sql = f"select count(*) as n from answers where round_id in ({marks})"
            return self._rows(sql, ids)[0]["n"]
        rows = self._rows(
            "select round_id, question_id, pseudonym, team from answers "
            f"where round_id in ({marks})",
            ids,
        )
        teams = (self._value("team", row) for row in rows)
        return sum(1 for t in teams if t is not None and t.lower() == team.lower())

    def count_answers(self, pseudonyms: Sequence[str]) -> int:
        if not pseudonyms:
            return 0
        marks = ",".join("?" for _ in pseudonyms)
        return self._rows(
            f"select count(*) as n from answers where pseudonym in ({marks})", list(pseudonyms)
        )[0]["n"]

    def teams(self) -> list[str]:
        rows = self._rows("select distinct team from people where team is not null order by team")
        return [r["team"] for r in rows]

    # -- customer answers ---------------------------------------------------------

    def add_customer_answers(
        self, answers: Sequence[dict[str, Any]], *, used_link: str | None = None
    ) -> int:
        """Store customer answers (question_id, rating, comment, answered_on as a date,
        segment, source, round_id) in one transaction: all of them, or none. `used_link`
        (a survey link's keyed hash) is recorded in the same transaction; a link already
        recorded stores nothing and raises InvalidAnswer."""
        rows = [
            {
                "question_id": a["question_id"],
                "rating": a.get("rating"),
                "comment": a.get("comment") or "",
                "answered_on": a["answered_on"].isoformat(),  # a date: never finer
                "segment": a.get("segment") or None,
                "source": a["source"],
                "round_id": a.get("round_id"),
            }
            for a in answers
        ]

        def run() -> None:
            if used_link is not None:
                self.db.execute("insert into survey_links_used (link_hash) values (?)", [used_link])
            if rows:
                self.db.table("customer_answers").insert_all(rows)

        try:
            self.write(run)
        except sqlite3.IntegrityError:
            if used_link is not None and self.survey_link_used(used_link):
                raise InvalidAnswer("This survey link has already been answered.") from None
            raise
        return len(rows)

    def survey_link_used(self, link_hash: str) -> bool:
        return bool(self._rows("select 1 from survey_links_used where link_hash = ?", [link_hash]))

    def set_customer_note(self, text: str, day: date) -> None:
        """The "what we heard, what we are changing" note ("" takes it down)."""
        self.write(
            lambda: self.db.table("customer_notes").insert(
                {"text": text, "set_on": day.isoformat()}
            )
        )

    def customer_note(self) -> tuple[str, date] | None:
        """The latest note and the day it was written, or None (never written, or taken down)."""
        rows = self._rows("select text, set_on from customer_notes order by id desc limit 1")
        if not rows or not rows[0]["text"]:
            return None
        return rows[0]["text"], date.fromisoformat(rows[0]["set_on"])

    def customer_answers(
        self, round_ids: Iterable[int] | None = None, *, question_id: str | None = None
    ) -> list[CustomerAnswer]:
        """Customer answers of these rounds (all of them when None), oldest first."""
        where, params = ["1 = 1"], []
        if round_ids is not None:
            ids = list(round_ids)
            where.append(f"round_id in ({','.join('?' for _ in ids) or 'null'})")
            params.extend(ids)
        if question_id is not None:
            where.append("question_id = ?")
            params.append(question_id)
        rows = self._rows(
            f"select * from customer_answers where {' and '.join(where)} order by id", params
        )
        return [_customer_answer(r) for r in rows]

    # -- proposals --------------------------------------------------------------

    def add_proposal(self, text: str, from_role: Role, for_role: Role, pseudonym: str) -> Proposal:
        def run() -> int:
            return int(
                self.db.table("proposals")
                .insert(
                    {
                        "text": text,
                        "from_role": from_role,
                        "for_role": for_role,
                        "pseudonym": pseudonym,
                        "status": "pending",
                        "created_on": date.today().isoformat(),
                    }
                )
                .last_pk
            )

        return self.proposal(self.write(run))

    def proposal(self, proposal_id: int) -> Proposal:
        rows = self._rows("select * from proposals where id = ?", [proposal_id])
        if not rows:
            raise NotFound(
                f"There is no proposal {proposal_id}. `/integrity propose list` shows them."
            )
        return _proposal(rows[0])

    def proposals(self, status: str | None = None) -> list[Proposal]:
        if status:
            rows = self._rows("select * from proposals where status = ? order by id", [status])
        else:
            rows = self._rows("select * from proposals order by id")
        return [_proposal(r) for r in rows]

    def decide_proposal(self, proposal_id: int, status: str, question_id: str | None) -> Proposal:
        self.write(
            lambda: self.db.table("proposals").update(
                proposal_id,
                {
                    "status": status,
                    "decided_on": date.today().isoformat(),
                    "question_id": question_id,
                },
            )
        )
        return self.proposal(proposal_id)

    # -- events -----------------------------------------------------------------

    def first_sighting(self, key: str, day: date) -> bool:
        """True the first time an event key is seen, False on redelivery. The key is the
        core's keyed hash of the platform's event id (never the id, which may name a
        conversation); only the day is kept, and keys older than `SEEN_EVENT_DAYS` go."""

        def run() -> bool:
            self.db.execute(
                "delete from seen_events where seen_on < ?",
                [(day - timedelta(days=SEEN_EVENT_DAYS)).isoformat()],
            )
            cursor = self.db.execute(
                "insert or ignore into seen_events (key, seen_on) values (?, ?)",
                [key, day.isoformat()],
            )
            return cursor.rowcount == 1

        return self.write(run)

    # -- forgetting -------------------------------------------------------------

    def forget(self, person_id: int, pseudonyms: Sequence[str]) -> dict[str, int]:
        """Delete a person's answers, proposals, deliveries, conversation, identity, and every
        event de-duplication key, in one transaction; then empty the -wal, so no file keeps
        any of it (secure_delete zeroes what the deletes free).

        De-duplication keys are keyed hashes of platform event ids, and some of those ids
        (Teams) name the person's conversation: without a column to tell whose they are, all
        go. The cost is that an event redelivered in the next minutes is handled twice.
        """

        def run() -> dict[str, int]:
            marks = ",".join("?" for _ in pseudonyms) or "''"
            who = self._rows(
                "select platform, workspace, user_id from people where id = ?", [person_id]
            )
            removed = {
                # A summary post still owed (or given up) lists who got it: not them any more.
                "summary_recipients": sum(
                    self._drop_recipient(
                        row["platform"], row["workspace"], direct_recipient(row["user_id"])
                    )
                    for row in who
                ),
                "answers": self.db.execute(
                    f"delete from answers where pseudonym in ({marks})", list(pseudonyms)
                ).rowcount,
                "proposals": self.db.execute(
                    f"delete from proposals where pseudonym in ({marks}) and status = 'pending'",
                    list(pseudonyms),
                ).rowcount,
                # An approved proposal is a question now; only the link to its author goes.
                "proposal_links": self.db.execute(
                    f"update proposals set pseudonym = null where pseudonym in ({marks})",
                    list(pseudonyms),
                ).rowcount,
                "deliveries": self.db.execute(
                    "delete from deliveries where person_id = ?", [person_id]
                ).rowcount,
                # Where the bot could reach them goes too (and must, before the person row).
                "conversations": self.db.execute(
                    "delete from conversation_refs where person_id = ?", [person_id]
                ).rowcount,
                "people": self.db.execute("delete from people where id = ?", [person_id]).rowcount,
                "events": self.db.execute("delete from seen_events").rowcount,
            }
            return removed

        removed = self.write(run)
        self.truncate_wal()  # nothing of them stays in the -wal either
        return removed

    def _drop_recipient(self, platform: str, workspace: str, recipient: str) -> int:
        """Take one recipient out of the summary posts of a workspace that list it (inside
        a write); how many posts listed it."""
        dropped = 0
        rows = self._rows(
            "select id, posted_to from summary_posts where platform = ? and workspace = ? "
            "and posted_to like ?",
            [platform, workspace, f"%{json.dumps(recipient)}%"],
        )
        for row in rows:
            posted = json.loads(row["posted_to"] or "[]")
            if recipient in posted:
                posted.remove(recipient)
                self.db.execute(
                    "update summary_posts set posted_to = ? where id = ?",
                    [json.dumps(posted), row["id"]],
                )
                dropped += 1
        return dropped


def _summary_post(row: dict) -> dict:
    return {**row, "posted_to": json.loads(row["posted_to"] or "[]")}


def _person(row: dict) -> Person:
    return Person(
        id=row["id"],
        platform=row["platform"],
        workspace=row["workspace"],
        user_id=row["user_id"],
        display_name=row["display_name"] or row["user_id"],
        role=row["role"],
        is_admin=bool(row["is_admin"]),
        team=row["team"],
        tz=row["tz"],
    )


def _question_row(question: Question, position: int, source: str, *, active: bool) -> dict:
    """A question as its `questions` row: one shape for the bank and for approved proposals."""
    return {
        "id": question.id,
        "text": question.text,
        "theme": question.theme,
        "low_label": question.low_label,
        "high_label": question.high_label,
        "why_prompt": question.why_prompt,
        "roles": json.dumps(list(question.roles)),
        "anchor": int(question.anchor),
        "position": position,
        "source": source,
        "active": int(active),
        "customer": json.dumps(asdict(question.customer)) if question.customer else None,
    }


def _question(row: dict) -> Question:
    return Question(
        id=row["id"],
        text=row["text"],
        theme=row["theme"] or "",
        low_label=row["low_label"] or "",
        high_label=row["high_label"] or "",
        why_prompt=row["why_prompt"] or "",
        roles=tuple(json.loads(row["roles"] or '["executive", "frontline"]')),
        anchor=bool(row["anchor"]),
        source=row["source"] or "bank",
        customer=CustomerVersion(**json.loads(row["customer"])) if row.get("customer") else None,
    )


def _answer(row: dict) -> Answer:
    return Answer(
        id=row["id"],
        round_id=row["round_id"],
        question_id=row["question_id"],
        role=row["role"],
        team=row["team"],
        rating=row["rating"],
        text=row["text"] or "",
        answered_on=date.fromisoformat(row["answered_on"]),
        on_record=bool(row["on_record"]),
        customer_prediction=row.get("customer_prediction"),
    )


def _customer_answer(row: dict) -> CustomerAnswer:
    return CustomerAnswer(
        id=row["id"],
        question_id=row["question_id"],
        rating=row["rating"],
        comment=row["comment"] or "",
        answered_on=date.fromisoformat(row["answered_on"]),
        source=row["source"],
        segment=row["segment"] or None,
        round_id=row["round_id"],
    )


def _proposal(row: dict) -> Proposal:
    return Proposal(
        id=row["id"],
        text=row["text"],
        from_role=row["from_role"],
        for_role=row["for_role"],
        status=row["status"],
        created_on=date.fromisoformat(row["created_on"]),
        question_id=row["question_id"],
    )
