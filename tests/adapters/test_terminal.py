"""The terminal chat as a user meets it: `python run_bot.py` in a fresh folder, scripted
through standard input from the first run to a summary, a trend chart and an export."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.core.settings import key_path
from tests.conftest import ROOT


def run_chat(
    tmp_path, lines: list[str], env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python run_bot.py` in `tmp_path`, with `lines` on standard input."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INTEGRITY_", "SLACK_", "TEAMS_"))
    }
    env.update(env_extra or {}, INTEGRITY_DB=str(tmp_path / "integrity.db"))
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py")],
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
    assert "Half my calls are people angry about waiting 40 minutes on hold." in summary
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


def test_an_unknown_person_joins_as_frontline_with_a_note(tmp_path):
    result = run_chat(tmp_path, ["/as Zoe", "/integrity summary", "/quit"])
    assert "Zoe is new here and joins as frontline" in result.stdout
    assert "/integrity role @zoe executive" in result.stdout
    assert "Only executives" in result.stdout


def test_a_floor_below_three_is_refused_with_what_to_do(tmp_path):
    result = run_chat(tmp_path, ["/quit"], {"INTEGRITY_MIN_GROUP": "2"})
    assert result.returncode == 2
    assert "never be below 3" in result.stderr and "INTEGRITY_MIN_GROUP" in result.stderr
