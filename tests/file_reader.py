"""Someone with a copy of the database files but not the key: what they can work out.

`FileCopy` is the db, -wal and -shm bytes copied at one moment while the bot runs.
`replay` steps through the -wal one commit at a time, as SQLite would apply it (the
frames of the current salt, in order), rebuilding the database after each commit and
telling which rows of which tables each commit added or changed. The attacks then try
to pair each answer's pseudonym (the answers of one person in one round) with a person:

- `pair_by_commits`: the people a commit names (a people, deliveries or conversation row
  it wrote) paired with the answers the same commit, or the nearest one, wrote;
- `pair_by_id_order`: answers in id order paired with people in the order they answered
  (the strongest guess: as if the reader had watched who answered when);
- `pair_by_time`: each answer paired with the person whose stored times are closest to
  the answer's own stored time;
- `cell_order`: how closely where each answer's cells sit in their pages follows the order
  answers came in (SQLite puts each new cell of a page below the one before).

Each returns the expected number of right pairings (a guess among k candidates counts
1/k when one is right): a reader who learns nothing gets about 1 whatever the number of
people, one who pairs everyone gets all of them. The tests compare with that.
"""

from __future__ import annotations

import re
import sqlite3
import struct
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

#: Tables whose rows name a person (by user id, or by person id).
PERSON_TABLES = ("people", "deliveries", "conversation_refs")


@dataclass(frozen=True)
class FileCopy:
    db: bytes
    wal: bytes
    shm: bytes

    @classmethod
    def take(cls, path: Path | str) -> FileCopy:
        def read(p: Path) -> bytes:
            try:
                return p.read_bytes()
            except FileNotFoundError:
                return b""

        # The -wal first: a checkpoint between the two reads puts its pages in the db,
        # which is what a careful copier would get too.
        wal = read(Path(f"{path}-wal"))
        shm = read(Path(f"{path}-shm"))
        return cls(db=read(Path(path)), wal=wal, shm=shm)

    def all_bytes(self) -> bytes:
        return self.db + self.wal + self.shm


class Copier:
    """Copies the files over and over from a thread while the bot runs (`with Copier(p):`)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.copies: list[FileCopy] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            copy = FileCopy.take(self.path)
            if copy.db and (not self.copies or copy != self.copies[-1]):
                self.copies.append(copy)

    def __enter__(self) -> Copier:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def wal_commits(wal: bytes) -> list[list[tuple[int, bytes]]]:
    """The -wal's valid frames grouped into commits: [(page number, page bytes), ...]."""
    if len(wal) < 32:
        return []
    magic, _version, page_size, _seq, salt1, salt2 = struct.unpack(">6I", wal[:24])
    if magic not in (0x377F0682, 0x377F0683):
        return []
    commits, pending = [], []
    offset = 32
    while offset + 24 + page_size <= len(wal):
        page, size_after, s1, s2 = struct.unpack(">4I", wal[offset : offset + 16])
        if (s1, s2) != (salt1, salt2):
            break  # frames of an earlier generation: SQLite ignores them too
        pending.append((page, wal[offset + 24 : offset + 24 + page_size]))
        if size_after:
            commits.append(pending)
            pending = []
        offset += 24 + page_size
    return commits


class TornCopy(Exception):
    """The copy was taken while a checkpoint moved pages: its db and -wal do not agree."""


def _tables(db: bytes) -> dict[str, set[tuple]]:
    """Every row of the tables that matter, read from a database image."""
    if len(db) < 100:
        return {}
    image = bytearray(db)
    image[18:20] = b"\x01\x01"  # read it as a rollback-journal database: no -wal to look for
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "image.db"
        path.write_bytes(bytes(image))
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in conn.execute("select name from sqlite_master")}
            tables = {}
            for name in ("answers", "seen_events", *PERSON_TABLES):
                if name in names:
                    cursor = conn.execute(f"select * from {name}")
                    columns = [c[0] for c in cursor.description]
                    tables[name] = {tuple(zip(columns, row, strict=True)) for row in cursor}
            return tables
        except sqlite3.DatabaseError as error:
            raise TornCopy(str(error)) from error
        finally:
            conn.close()


@dataclass
class Commit:
    """What one commit of the -wal wrote: answer pseudonyms and people (by user id)."""

    pseudonyms: set[str]
    people: set[str]


def replay(copy: FileCopy) -> list[Commit]:
    """Step through the copy's -wal commit by commit, diffing the database after each."""
    image = bytearray(copy.db)
    page_size = struct.unpack(">H", copy.db[16:18])[0] if len(copy.db) >= 100 else 4096
    page_size = 65536 if page_size == 1 else page_size
    before = _tables(bytes(image))
    commits = []
    for frames in wal_commits(copy.wal):
        for page, data in frames:
            start = (page - 1) * page_size
            if len(image) < start + page_size:
                image.extend(b"\0" * (start + page_size - len(image)))
            image[start : start + page_size] = data
        after = _tables(bytes(image))
        commits.append(_diff(before, after))
        before = after
    return commits


def _diff(before: dict[str, set[tuple]], after: dict[str, set[tuple]]) -> Commit:
    def changed(table: str) -> list[dict]:
        return [dict(r) for r in after.get(table, set()) - before.get(table, set())]

    ids = {dict(r)["id"]: dict(r)["user_id"] for r in after.get("people", set())}
    ids |= {dict(r)["id"]: dict(r)["user_id"] for r in before.get("people", set())}
    people = {r["user_id"] for r in changed("people")}
    for table in ("deliveries", "conversation_refs"):
        people |= {ids.get(r["person_id"], f"person {r['person_id']}") for r in changed(table)}
    # A deleted row changes its table too (a delivery row removed when answered, say).
    for table in ("deliveries", "conversation_refs"):
        gone = before.get(table, set()) - after.get(table, set())
        people |= {ids.get(dict(r)["person_id"], "?") for r in gone}
    return Commit(pseudonyms={r["pseudonym"] for r in changed("answers")}, people=people)


def pair_by_commits(copies: Iterable[FileCopy], truth: dict[str, str]) -> tuple[float, int]:
    """Pair each pseudonym with the people written in its commit or, failing that, in the
    nearest commits of the same copy that name anyone. Returns the expected right
    pairings, and how many commits were replayed (so a test can tell the -wal was read)."""
    guesses: dict[str, set[str]] = {}
    replayed = 0
    for copy in copies:
        try:
            commits = replay(copy)
        except TornCopy:
            continue  # a reader would take another copy: the next ones are here too
        replayed += len(commits)
        for k, commit in enumerate(commits):
            for pseudonym in commit.pseudonyms - set(guesses):
                for distance in range(len(commits)):
                    near = {k - distance, k + distance} & set(range(len(commits)))
                    named = set().union(*(commits[i].people for i in near))
                    if named:
                        guesses[pseudonym] = named
                        break
    return _score(guesses, truth), replayed


def pair_by_id_order(
    answers: list[dict], answering_order: list[str], truth: dict[str, str]
) -> float:
    """Pair pseudonyms in the order of their first answer's id with the people in the
    order they actually answered."""
    first_id: dict[str, int] = {}
    for row in answers:
        first_id[row["pseudonym"]] = min(row["id"], first_id.get(row["pseudonym"], row["id"]))
    by_id = sorted(first_id, key=first_id.__getitem__)
    return _score(dict(zip(by_id, ({p} for p in answering_order), strict=False)), truth)


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+)?([+-]\d{2}:\d{2}|Z)?$")


def _times(row: dict) -> list[float]:
    found = []
    for value in row.values():
        if isinstance(value, str) and _TIME.match(value):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.now().astimezone().tzinfo)
            found.append(moment.timestamp())
    return found


def pair_by_time(copy: FileCopy, truth: dict[str, str]) -> float:
    """Pair each pseudonym with the person whose stored times (any person-linked row) come
    closest to the latest time stored with its answers."""
    tables = _tables(copy.db)
    ids = {dict(r)["id"]: dict(r)["user_id"] for r in tables.get("people", set())}
    person_times: dict[str, list[float]] = {}
    for row in map(dict, tables.get("people", set())):
        person_times.setdefault(row["user_id"], []).extend(_times(row))
    for table in ("deliveries", "conversation_refs"):
        for row in map(dict, tables.get(table, set())):
            person = ids.get(row["person_id"])
            if person is not None:
                person_times.setdefault(person, []).extend(_times(row))
    answer_times: dict[str, float] = {}
    for row in map(dict, tables.get("answers", set())):
        times = _times(row)
        if times:
            answer_times[row["pseudonym"]] = max(times + [answer_times.get(row["pseudonym"], 0)])
    guesses = {}
    for pseudonym, at in answer_times.items():
        distance = {
            person: min(abs(t - at) for t in times)
            for person, times in person_times.items()
            if times
        }
        if distance:
            best = min(distance.values())
            guesses[pseudonym] = {p for p, d in distance.items() if d == best}
    return _score(guesses, truth)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """An SQLite varint at `at`: its value and where the next field starts."""
    value = 0
    for k in range(9):
        byte = data[at + k]
        if k == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + k + 1
    raise AssertionError("unreachable")


def _texts(payload: bytes) -> list[str]:
    """The text columns of a record (an index's keys, a row's columns)."""
    header_size, at = _varint(payload, 0)
    widths = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 7: 8}
    texts, body = [], header_size
    while at < header_size:
        serial, at = _varint(payload, at)
        if serial >= 12:
            width = (serial - 12) // 2
            if serial % 2:
                texts.append(payload[body : body + width].decode("utf-8", "replace"))
        else:
            width = widths.get(serial, 0)
        body += width
    return texts


def index_cells(db: bytes, index: str) -> list[tuple[int, int, list[str]]]:
    """(page, byte offset in the page, its text columns) of every leaf cell of an index or
    a WITHOUT ROWID table, read from the bytes of a database image."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "image.db"
        image = bytearray(db)
        image[18:20] = b"\x01\x01"
        path.write_bytes(bytes(image))
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (root,) = conn.execute("select rootpage from sqlite_master where name = ?", [index])
        finally:
            conn.close()
    size = struct.unpack(">H", db[16:18])[0] or 65536
    found: list[tuple[int, int, list[str]]] = []
    pages = [root[0]]
    while pages:
        number = pages.pop()
        base = (number - 1) * size
        header = base + (100 if number == 1 else 0)
        kind, count = db[header], struct.unpack(">H", db[header + 3 : header + 5])[0]
        pointers = header + (12 if kind == 2 else 8)
        if kind == 2:  # interior: its children, then the rightmost
            pages.append(struct.unpack(">I", db[header + 8 : header + 12])[0])
        for c in range(count):
            offset = struct.unpack(">H", db[pointers + 2 * c : pointers + 2 * c + 2])[0]
            at = base + offset
            if kind == 2:
                pages.append(struct.unpack(">I", db[at : at + 4])[0])
                continue
            length, at = _varint(db, at)
            found.append((number, offset, _texts(db[at : at + min(length, size - 35)])))
    return found


def cell_order(db: bytes, index: str, answering_order: list[str]) -> float:
    """Kendall's tau, over the pages of `index` (an index or WITHOUT ROWID table of the
    answers), between where each cell sits (higher in the page: written earlier) and when
    its pseudonym answered: near 1 when the file keeps the order answers came in, near 0
    when not."""
    from scipy.stats import kendalltau

    rank = {pseudonym: n for n, pseudonym in enumerate(answering_order)}
    by_page: dict[int, list[tuple[int, int]]] = {}
    for page, offset, texts in index_cells(db, index):
        for text in texts:
            if text in rank:
                by_page.setdefault(page, []).append((-offset, rank[text]))
    total = weight = 0.0
    for cells in by_page.values():
        if len(cells) > 2:
            tau = kendalltau(*zip(*cells, strict=True)).statistic
            total, weight = total + tau * len(cells), weight + len(cells)
    return total / weight if weight else 0.0


def _score(guesses: dict[str, set[str]], truth: dict[str, str]) -> float:
    """Expected right pairings: a guess among k people counts 1/k if one of them is right."""
    return sum(
        (truth[pseudonym] in people) / len(people)
        for pseudonym, people in guesses.items()
        if pseudonym in truth and people
    )


#: A reader who learns nothing pairs about one person right (1/n for each of n); the
#: tests allow a few, far below the everyone a leak gives.
CHANCE_MARGIN = 3
#: The answer columns sealed at rest: no plain value of them may be in any row.
SEALED_COLUMNS = ("text", "rating", "role", "team", "customer_prediction", "on_record")


def replayed(copy: FileCopy) -> list[Commit]:
    """`replay`, or nothing for a copy taken while a checkpoint moved pages (unreadable,
    as for any reader)."""
    try:
        return replay(copy)
    except TornCopy:
        return []


def assert_a_reader_without_the_key_pairs_no_one(
    copies: list[FileCopy],
    at_fullest: list[FileCopy],
    answers: list[dict],
    order: list[str],
    truth: dict[str, str],
    answer_text: str,
) -> int:
    """Every attack on copies taken while the bot ran, held to chance; no commit that
    wrote answers also names a person; no copy holds `answer_text` (a phrase every
    answer used), and every answer's sealed columns are sealed. Returns how many
    commits were replayed, for the caller to check the -wal was really read."""
    by_commits, commits = pair_by_commits(copies, truth)
    assert by_commits <= CHANCE_MARGIN, by_commits
    assert pair_by_id_order(answers, order, truth) <= 2 * CHANCE_MARGIN
    for copy in (at_fullest[len(at_fullest) // 2], copies[-1]):  # whole copies
        assert pair_by_time(copy, truth) <= CHANCE_MARGIN
    # No copy ever held an answer's commit beside a commit that names a person.
    assert not any(
        commit.pseudonyms and commit.people for copy in copies for commit in replayed(copy)
    )
    for copy in copies:
        assert answer_text.encode() not in copy.all_bytes()
    for answer in answers:
        for column in SEALED_COLUMNS:
            assert isinstance(answer[column], bytes), (column, answer[column])
    return commits
