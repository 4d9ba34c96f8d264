"""The terminal chat as a user meets it: `python run_bot.py` in a fresh folder, scripted
through standard input from the first run to a summary, a trend chart and an export."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys

import pytest
import yaml

from bot.core.errors import UNEXPECTED
from bot.core.settings import key_path
from bot.store import DatabaseBusy
from tests.conftest import ROOT, make_people


def run_chat(
    tmp_path,
    lines: list[str],
    env_extra: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> subprocess.CompletedProcess:
    """`python run_bot.py [args]` in `tmp_path`, with `lines` on standard input."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INTEGRITY_", "SLACK_", "TEAMS_"))
    }
    env.update(env_extra or {}, INTEGRITY_DB=str(tmp_path / "integrity.db"))
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *(args or [])],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_first_run_to_summary_trend_and_export(tmp_path):
    result = run_chat(
        tmp_path,
        [
            "/integrity summary",
            "/as Jordan",
            "/integrity answer",
            "/integrity answer 1 2 Customers would not come back, the hold times are too long.",
            "/integrity answer 1 seven",
            "/integrity summary",
            "/as dana",
            "/integrity trend",
            "/integrity export",
            "/quit",
        ],
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    # First run: the demo is seeded and the user told who they are and how to switch.
    assert "This is a demo organisation" in out and "You are Dana Whitfield" in out
    assert "/as NAME" in out
    # The summary of the closed round: the contradiction, with verbatim quotes from both sides.
    summary = out.split("Jordan Lee>")[0]
    assert "Integrity check: round 1" in summary
    # Which answers of a side are quoted is the engine's choice; the first contradiction
    # quotes answers the demo seeded for each side, word for word.
    seeded = yaml.safe_load((ROOT / "bot" / "core" / "demo.yaml").read_text())["round1"]
    flat = " ".join(summary.split())
    for role in ("executive", "frontline"):
        answers = [text for _, text in seeded["give-away"][role]]
        assert any(f"“{text}” — {role}" in flat for text in answers), role
    assert "Our renewal rate is above 90%." in summary
    # ... beside what the demo's customers said, the reality gap and who knows them best.
    assert "Executives, frontline and customers" in summary and "Reality gap" in summary
    assert "The other insurer answers the phone in two minutes." in summary
    assert "Who knows the customer best" in summary
    # Frontline answers, is refused a summary, and a bad rating stores nothing.
    assert "2/5, with your why, recorded" in out
    assert "'seven' is not a rating" in out
    assert "Only executives can read summaries" in out
    # Trend chart and export are saved and their paths printed.
    exports = tmp_path / "exports"
    assert (exports / "trend-give-away.png").read_bytes().startswith(b"\x89PNG")
    assert "integrity-round-1.csv" in out and (exports / "integrity-round-1.csv").exists()
    # The generated key is in the (test's) config directory, not in the database's folder.
    assert not (tmp_path / "integrity.db.secret").exists()
    assert key_path(tmp_path / "integrity.db").exists()


@pytest.mark.slow
def test_after_forget_me_answering_again_starts_afresh(tmp_path):
    """Issue 15: `forget-me confirm` then `answer` failed with a FOREIGN KEY error."""
    result = run_chat(
        tmp_path,
        [
            "/as Jordan",
            "/integrity answer 1 2 gone soon",
            "/integrity forget-me confirm",
            "/integrity answer 1 1 still here",
            "/integrity answer",
            "/quit",
        ],
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "start afresh" in out
    assert "Something went wrong" not in out and "FOREIGN KEY" not in result.stderr
    assert "1/5, with your why, recorded" in out


@pytest.mark.slow
def test_second_run_keeps_the_data_and_does_not_seed_again(tmp_path):
    run_chat(tmp_path, ["/as Jordan", "/integrity answer 1 1 No chance.", "/quit"])
    again = run_chat(tmp_path, ["/as Jordan", "/integrity answer", "/quit"])
    assert "demo organisation" not in again.stdout
    assert "1/5" in again.stdout


def test_a_new_person_joins_as_frontline_only_when_asked(tmp_path):
    result = run_chat(tmp_path, ["/as new Zoe Park", "/integrity summary", "/quit"])
    out = " ".join(result.stdout.split())  # Rich wraps long lines
    assert "Zoe Park is new here and joins as frontline" in out
    assert "/integrity role @zoe-park executive" in out
    assert "Only executives" in out


def test_typos_never_create_people_or_change_who_you_are(tmp_path):
    result = run_chat(
        tmp_path,
        [
            "/as aishaa",
            "/as Jordan Lee",
            "/as AÏSHA",
            "/as khan",
            "/as new Aisha Khan",
            "/people",
            "/quit",
        ],
    )
    out = " ".join(result.stdout.split())  # Rich wraps long lines
    assert "No one is called 'aishaa' — did you mean Aisha Khan?" in out
    assert "/as new NAME" in out
    assert "You are now Jordan Lee (frontline)" in out
    assert "You are now Aisha Khan (frontline)" in out  # accents and case do not count
    assert "No one is called 'khan' — did you mean Aisha Khan?" in out
    assert "Aisha Khan is already here" in out
    assert "is new here" not in out
    people = out.split("People in this workspace")[1].split("> /quit")[0]
    assert people.count("│ Aisha") == 1 and "aishaa" not in people  # nobody was added


def test_a_mistyped_user_at_start_is_an_error_naming_the_closest(tmp_path):
    run_chat(tmp_path, ["/quit"])  # the demo workspace
    result = run_chat(tmp_path, ["/integrity status", "/quit"], args=["--user", "Jordn"])
    assert result.returncode == 2
    assert "No one is called 'Jordn' — did you mean Jordan Lee?" in result.stderr
    assert "Dana Whitfield" not in result.stdout  # not started as the admin instead
    ok = run_chat(tmp_path, ["/quit"], args=["--user", "jordan"])
    assert "You are Jordan Lee" in ok.stdout


def test_log_records_go_to_a_file_beside_the_database_not_the_screen(tmp_path):
    result = run_chat(
        tmp_path,
        ["/integrity schedule monday 10:00 tz London", "/integrity export weeks x", "/quit"],
        {"INTEGRITY_LOG_LEVEL": "INFO"},
    )
    assert result.returncode == 0
    out = " ".join(result.stdout.split())
    assert "Did you mean Europe/London?" in out and "Usage: /integrity export" in out
    assert "WARNING" not in result.stdout + result.stderr
    assert "INFO" not in result.stdout + result.stderr and result.stderr == ""
    assert (
        "INFO __main__: Terminal chat on the database" in (tmp_path / "integrity.log").read_text()
    )


def test_a_floor_below_three_is_refused_with_what_to_do(tmp_path):
    result = run_chat(tmp_path, ["/quit"], {"INTEGRITY_MIN_GROUP": "2"})
    assert result.returncode == 2
    assert "never below 3" in result.stderr and "INTEGRITY_MIN_GROUP" in result.stderr


def _chat(service, admin, **console_options):
    from rich.console import Console

    from bot.adapters.terminal import TerminalChat

    console = Console(file=io.StringIO(), width=100, **console_options)
    files = service.settings.db_path.parent / "exports"  # charts and exports: never the cwd
    return TerminalChat(
        service, console, workspace=admin.workspace, user=admin.display_name, files_dir=files
    )


def test_an_unexpected_error_is_logged_and_not_offered_a_retry(service, admin, monkeypatch, caplog):
    chat = _chat(service, admin)
    monkeypatch.setattr(service, "open_round", lambda: int("9" * 5000))  # a ValueError
    chat.handle("/integrity status")
    screen = chat.console.file.getvalue()
    assert UNEXPECTED.split(".")[0] in screen and "send it again" not in screen
    assert "Traceback" not in screen and "Command failed" in caplog.text


def test_a_transient_error_is_offered_a_retry(service, admin, monkeypatch):
    chat = _chat(service, admin)

    def busy():
        raise DatabaseBusy("The database is busy and stayed locked; nothing was saved.")

    monkeypatch.setattr(service, "open_round", busy)
    chat.handle("/integrity status")
    assert "The database is busy" in chat.console.file.getvalue()
    monkeypatch.setattr(service, "open_round", lambda: (_ for _ in ()).throw(TimeoutError("slow")))
    chat.handle("/integrity status")
    assert "Please send it again in a minute" in chat.console.file.getvalue()


def test_a_summary_shows_a_status_with_how_many_answers_it_analyses(service, admin):
    from rich.text import Text

    chat = _chat(service, admin, force_terminal=True)
    current = service.start_round()
    for person in make_people(service, "frontline", 5):
        service.record_answer(person, current.question_ids[0], rating=2, text="slow")
    service.close_round(round_=current)  # an open round is not analysed
    chat.handle("/integrity summary")
    screen = Text.from_ansi(chat.console.file.getvalue()).plain
    assert "Analysing 5 answers from round 1…" in screen  # the status, while it works
    assert "Integrity check: round 1" in screen  # then the summary
    chat.handle("trend")
    screen = Text.from_ansi(chat.console.file.getvalue()).plain
    assert "Analysing 5 answers from all rounds…" in screen


def test_the_terminal_chat_serves_the_survey_page_and_prints_its_link(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_chat(
        tmp_path, ["/integrity customers link give-away", "/quit"], {"PORT": str(port)}
    )
    assert result.returncode == 0, result.stderr
    assert f"Customer survey pages are served at http://127.0.0.1:{port}/survey/" in result.stdout
    assert re.search(rf"^http://127\.0\.0\.1:{port}/survey/\S+$", result.stdout, re.M)


def test_share_in_the_terminal_shows_what_everyone_asked_would_see(service, admin):
    chat = _chat(service, admin)
    current = service.start_round()
    service.close_round(round_=current)
    chat.handle("/integrity share")
    screen = chat.console.file.getvalue()
    assert "The terminal chat has nobody to post to" in screen
    assert "Integrity check: round 1" in screen
    assert service.store.summary_posts(current.id) == []  # nothing owed that nobody posts


def test_a_new_name_is_bounded_and_a_huge_one_is_not_echoed(service, admin):
    chat = _chat(service, admin)
    before = len(service.people(admin.platform, admin.workspace))
    chat.handle("/as new " + "Q" * 5000)
    chat.handle("/integrity role @" + "x" * 5000 + " executive")
    screen = chat.console.file.getvalue()
    assert "a name of 1 to 80 characters" in screen and "I don't know '@xxxx" in screen
    assert len(screen) < 2000 and len(service.people(admin.platform, admin.workspace)) == before
