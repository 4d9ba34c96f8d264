"""The database when things go wrong (issue 15): read-only files and folders, a path
that is a folder, lies under a file or is empty, and a disk that is full at start or
fills mid-run. Each is one line naming the path and what to do; nothing acknowledged
is lost.

How each fault is made, faithfully, though tests run as root (root ignores file modes):
- read-only file or folder: `chmod`, then the bot runs in a user namespace as an
  ordinary user who owns the files but has no capabilities (`unshare --user
  --map-user=1000`), so the kernel enforces the modes as it would for a normal user;
  without root, the bot runs directly;
- a full disk: a private 1 MB tmpfs in a user + mount namespace (`unshare --user
  --map-root-user --mount`), filled by a file, so writes get the kernel's ENOSPC; and,
  in process, SQLite's own SQLITE_FULL from `PRAGMA max_page_count`.
The namespace tests are skipped where user namespaces are not allowed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bot.core.errors import ConfigError, StorageError
from bot.core.settings import Settings
from bot.store import Store
from tests.conftest import ROOT, make_people


def _unshare_works(*flags: str) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", *flags, "true"], capture_output=True)
    return probe.returncode == 0


AS_USER = ["unshare", "--user", "--map-user=1000", "--map-group=1000"] if os.geteuid() == 0 else []
user_namespaces = pytest.mark.skipif(
    os.geteuid() == 0 and not _unshare_works("--user", "--map-user=1000", "--map-group=1000"),
    reason="needs user namespaces to run as an ordinary user",
)
mount_namespaces = pytest.mark.skipif(
    not _unshare_works("--user", "--map-root-user", "--mount"),
    reason="needs user and mount namespaces for a private tmpfs",
)


def _env(db: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INTEGRITY_", "SLACK_", "TEAMS_"))
    }
    return {**env, "INTEGRITY_DB": str(db), **extra}


def run_bot(
    db: Path, args: list[str], lines: list[str], *, prefix: list[str] = AS_USER
) -> subprocess.CompletedProcess:
    """`run_bot.py args` on the database `db`, as an ordinary user, `lines` on stdin."""
    return subprocess.run(
        [*prefix, sys.executable, str(ROOT / "run_bot.py"), *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=db.parent if db.parent.is_dir() else None,
        env=_env(db),
        timeout=300,
    )


@pytest.fixture
def folder():
    """A folder an ordinary user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="integrity-faults-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- INTEGRITY_DB that cannot be a database file ---------------------------------


def test_an_empty_integrity_db_says_what_to_set():
    with pytest.raises(ConfigError, match="INTEGRITY_DB is set but empty"):
        Settings.from_env({"INTEGRITY_DB": " "})


def test_an_integrity_db_that_is_a_folder_names_a_file_in_it(tmp_path):
    with pytest.raises(ConfigError, match="a folder: set it to a file in it") as raised:
        Settings.from_env({"INTEGRITY_DB": str(tmp_path)})
    assert str(tmp_path / "integrity.db") in str(raised.value)
    with pytest.raises(StorageError, match="is a folder"):
        Store(tmp_path)


def test_an_integrity_db_under_a_file_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    under = tmp_path / "notes.txt" / "deeper" / "i.db"
    with pytest.raises(ConfigError, match="notes.txt is a file, not a folder"):
        Settings.from_env({"INTEGRITY_DB": str(under)})
    with pytest.raises(StorageError, match="which is a file, not a folder"):
        Store(tmp_path / "notes.txt" / "i.db")


def test_a_file_that_is_not_a_database_says_so(tmp_path):
    path = tmp_path / "i.db"
    path.write_bytes(b"this is a spreadsheet, not a database" * 200)
    with pytest.raises(StorageError, match="is not an Integrity Check database"):
        Store(path)


def test_the_cli_answers_each_bad_integrity_db_in_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    for value, expected in [
        ("", "INTEGRITY_DB is set but empty"),
        (str(tmp_path), "a folder"),
        (str(tmp_path / "file" / "i.db"), "is a file, not a folder"),
    ]:
        result = subprocess.run(
            [sys.executable, str(ROOT / "run_bot.py")],
            input="/quit\n",
            capture_output=True,
            text=True,
            env={**_env(tmp_path / "x.db"), "INTEGRITY_DB": value},
            timeout=120,
        )
        assert expected in _one_line(result)


# -- read-only ---------------------------------------------------------------------


@pytest.fixture
def database(folder):
    """A database with the demo in it, made by one run of the chat."""
    db = folder / "i.db"
    made = run_bot(db, [], ["/quit"], prefix=[])
    assert made.returncode == 0, made.stderr
    return db


@user_namespaces
def test_a_read_only_database_file_is_one_line_and_export_still_reads_it(database):
    database.chmod(0o444)
    line = _one_line(run_bot(database, [], ["/integrity status"]))
    assert f"The database {database} is read-only for this user" in line
    export = run_bot(database, ["export"], [])
    assert export.returncode == 0, export.stderr
    assert export.stdout.startswith("round,question_id") and export.stdout.count("\n") > 10


@user_namespaces
def test_a_database_in_a_read_only_folder_is_one_line_and_export_still_reads_it(database):
    for leftover in database.parent.glob("i.db-*"):  # as after a clean shutdown
        leftover.unlink()
    database.parent.chmod(0o555)
    line = _one_line(run_bot(database, [], ["/integrity status"]))
    assert "read-only" in line and str(database.parent) in line
    export = run_bot(database, ["export", "--format", "jsonl"], [])
    assert export.returncode == 0, export.stderr
    assert export.stdout.count("\n") > 10
    new = _one_line(run_bot(database.parent / "new.db", [], ["/quit"]))
    assert "read-only" in new and str(database.parent) in new


def test_an_export_opens_the_database_read_only_and_changes_nothing(database):
    before = database.read_bytes()
    store = Store(database, read_only=True)
    assert store.rounds()
    with pytest.raises(StorageError, match="opened read-only"):
        store.add_person("t", "W", "u", "U")
    store.close()
    assert database.read_bytes() == before
    with pytest.raises(StorageError, match="There is no database file"):
        Store(database.parent / "missing.db", read_only=True)


# -- a full disk -----------------------------------------------------------------------


def test_sqlite_full_mid_run_says_disk_full_names_the_path_and_keeps_what_was_acknowledged(
    service, store, settings, admin
):
    people = make_people(service, "frontline", 12)
    current = service.start_round()
    question = current.question_ids[0]
    acknowledged = [
        service.record_answer(p, question, rating=2, text=f"answer {i}", round_=current)
        for i, p in enumerate(people[:3])
    ]
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on
    refused = []
    for i, person in enumerate(people[3:]):
        try:
            acknowledged.append(
                service.record_answer(person, question, rating=1, text=f"{i} " + "x" * 2990)
            )
        except StorageError as error:
            refused.append(str(error))
    assert refused, "the full disk refused nothing"
    for message in refused:
        assert message.startswith("Disk full") and str(settings.db_path) in message
    store.db.execute(f"PRAGMA max_page_count = {pages * 100}")  # space freed
    kept = store.answers([current.id])
    assert sorted(a.text for a in kept) == sorted(a.text for a in acknowledged)
    service.record_answer(people[-1], question, rating=1, text="after", round_=current)


def _in_a_tiny_disk(folder: Path, script: str, size: str = "1m") -> subprocess.CompletedProcess:
    """Run `script` (sh) in `folder` with a private tmpfs of `size` mounted on
    `folder/disk`, which holds the database `disk/i.db`."""
    disk = folder / "disk"
    disk.mkdir()
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
         f"mount -t tmpfs -o size={size} tmpfs {disk} && cd {folder} || exit 9\n{script}"],
        capture_output=True,
        text=True,
        env=_env(
            disk / "i.db", PYTHON=sys.executable, BOT=str(ROOT / "run_bot.py"), ROOT=str(ROOT)
        ),
        timeout=300,
    )  # fmt: skip


@mount_namespaces
def test_a_disk_with_no_room_at_start_is_one_line_naming_the_path(folder):
    result = _in_a_tiny_disk(
        folder,
        'dd if=/dev/zero of=disk/filler bs=4k 2>/dev/null; echo /quit | "$PYTHON" "$BOT"; '
        'echo "exit=$?"; echo /quit | INTEGRITY_KEY_FILE=disk/i.key "$PYTHON" "$BOT"; '
        'echo "exit=$?"; rm disk/filler; ls -a disk',
    )
    assert result.stdout.count("exit=2") == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 2 and "Traceback" not in result.stderr, result.stderr
    assert errors[0].startswith(
        f"integrity: Disk full: there is no room to write the database {folder / 'disk' / 'i.db'}"
    )
    assert errors[1].startswith(
        "integrity: Disk full: there is no room to write the pseudonym key disk/i.key"
    )
    # No empty or half key file is left to be taken for the key on the next start.
    assert not [name for name in result.stdout.split() if "i.key" in name]


@mount_namespaces
def test_a_disk_that_fills_mid_run_says_disk_full_and_loses_nothing_acknowledged(folder):
    people = ["jordan", "aisha", "luis", "mei", "kofi", "hannah", "ravi", "chloe", "diego"]
    before = [f"/as {p}\n/integrity answer 1 2 before-{p}" for p in people[:3]]
    after = [f"/as {p}\n/integrity answer {q} 1 after-{p}-{q} {'x' * 2900}" for p in people[3:]
             for q in (1, 2, 3, 4)]  # fmt: skip
    # One chat session: three answers acknowledged, then the disk fills (a file takes
    # all that is left) while the chat waits for its next line, then 24 more answers.
    script = f"""
mkfifo in
"$PYTHON" "$BOT" < in > out 2>&1 &
chat=$!
exec 3> in
printf '%s\\n' {" ".join(f"'{line}'" for line in before)} >&3
tries=0
until [ "$(grep -c Thanks out)" -ge 3 ] || [ $tries -ge 600 ]; do
  sleep 0.1; tries=$((tries+1))
done
dd if=/dev/zero of=disk/filler bs=4k 2>/dev/null
printf '%s\\n' {" ".join(f"'{line}'" for line in after)} >&3
exec 3>&-
wait $chat; echo "exit=$?"; cat out; rm disk/filler
cd "$ROOT" && "$PYTHON" -c "from bot.core import anonymity; from bot.core.settings import \\
Settings; from bot.store import Store; s = Settings.from_env(); st = Store(s.db_path); \\
st.use_seal_key(anonymity.seal_key(s.secret)); rounds = [r.id for r in st.rounds()]; \\
print('STORED', *[a.text.split()[0] for a in st.answers(rounds)])"
"""
    result = _in_a_tiny_disk(folder, script, size="32m")
    out = result.stdout
    assert "exit=0" in out and "Traceback" not in out + result.stderr, (out, result.stderr)
    screen = " ".join(out.split())
    assert f"Disk full: there is no room to write the database {folder / 'disk' / 'i.db'}" in screen
    assert "Something went wrong" not in screen
    stored = set(out.split("STORED", 1)[1].split())
    for p in people[:3]:
        assert f"before-{p}" in stored  # acknowledged before the disk filled
    # Every answer the chat acknowledged after the disk filled is stored too.
    replies = out.split("> /integrity answer ")[1:]
    thanked = [r.split()[2] for r in replies if "Thanks" in r.split(">")[0]]
    assert all(word in stored for word in thanked), (thanked, stored)
    refused = [r for r in replies if "Disk full" in r.split(">")[0]]
    assert refused and len(thanked) + len(refused) == len(replies)
