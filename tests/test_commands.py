"""The /integrity command words: usage lines, refusals, and what each command says."""

from __future__ import annotations

import csv
import io

import pytest

from bot.core.commands import COMMANDS
from bot.core.replies import File
from tests.conftest import make_people


@pytest.fixture
def worker(service):
    return make_people(service, "frontline", 1, team="Support")[0]


def test_help_lists_every_command(commands, worker):
    text = commands.handle(worker, "/integrity help").as_text()
    for command in COMMANDS.values():
        assert command.usage in text


def test_an_unknown_command_points_to_help(commands, worker):
    assert "/integrity help" in commands.handle(worker, "/integrity frobnicate").as_text()


@pytest.mark.parametrize("word", ["summary", "ask", "role @x executive", "export", "close"])
def test_frontline_is_refused_politely_with_who_may(commands, service, worker, word):
    service.start_round()
    text = commands.handle(worker, f"/integrity {word}").as_text()
    assert text.startswith("Only ") and ("executives" in text or "admins" in text)


@pytest.mark.parametrize(
    "line,expected",
    [
        ("answer 1", "Usage: `/integrity answer"),
        ("answer 1 seven because", "'seven' is not a rating"),
        ("answer 1 0", "'0' is not a rating"),
        ("answer 9 3", "There is no question '9'"),
        ("propose", "Usage: `/integrity propose"),
        ("propose approve x", "Usage: `/integrity propose <question> | list | approve N"),
    ],
)
def test_wrong_arguments_get_the_usage_line_and_store_nothing(
    commands, service, worker, line, expected
):
    service.start_round()
    assert expected in commands.handle(worker, f"/integrity {line}").as_text()
    assert service.store.db.table("answers").count == 0


def test_role_needs_a_known_person_and_a_valid_role(commands, service, admin, worker):
    assert "Usage" in commands.handle(admin, "/integrity role @x boss").as_text()
    assert "don't know" in commands.handle(admin, "/integrity role @nobody executive").as_text()
    done = commands.handle(admin, f"/integrity role @{worker.user_id} executive admin").as_text()
    assert "is now an executive and an admin" in done


def test_answer_flow_lists_questions_records_and_asks_why(commands, service, worker):
    service.start_round()
    listing = commands.handle(worker, "/integrity answer").as_text()
    assert "If we handed every one of our customers" in listing
    reply = commands.handle(worker, "/integrity answer 1 2").as_text()
    assert "2/5" in reply and "Add it: `/integrity answer 1 - <why>`" in reply
    reply = commands.handle(worker, "/integrity answer 1 - The hold times would send them away.")
    assert "2/5, with your why" in reply.as_text()
    assert "2/5" in commands.handle(worker, "/integrity answer").as_text()


def test_ask_opens_a_round_and_status_shows_the_response_rate(commands, service, admin):
    make_people(service, "frontline", 3)
    delivered = []
    commands.on_round_started = lambda r: delivered.append(r.number) or "sent to 4 people"
    reply = commands.handle(admin, "/integrity ask").as_text()
    assert "Round 1 is open" in reply and "sent to 4 people" in reply and delivered == [1]
    assert "Round 1 is still open" in commands.handle(admin, "/integrity ask").as_text()
    status = commands.handle(admin, "/integrity status").as_text()
    assert "Round 1 is open" in status and "You have answered 0 of your 4 questions" in status


def test_export_is_a_csv_file_with_the_floor_applied_and_no_identities(commands, service, admin):
    frontline = make_people(service, "frontline", 6, team="Support")
    executives = make_people(service, "executive", 2, team="Leadership")
    service.start_round(admin)
    for i, person in enumerate(frontline + executives):
        service.record_answer(person, "give-away", rating=1 + i % 5, text=f"answer {i}")
    still_open = commands.handle(admin, "/integrity export").as_text()
    assert "Round 1 is still open" in still_open and "No file was written" in still_open
    service.close_round(admin)
    reply = commands.handle(admin, "/integrity export")
    (file,) = [b for b in reply.blocks if isinstance(b, File)]
    rows = list(csv.DictReader(io.StringIO(file.content.decode())))
    assert len(rows) == 6 and {r["role"] for r in rows} == {"frontline"}  # 2 executives hidden
    assert "pseudonym" not in rows[0] and all(r["team"] == "Support" for r in rows)
    assert "id" not in rows[0] and "answered_on" not in rows[0]  # nothing that orders or dates
    people_words = {p.user_id for p in frontline} | {p.display_name for p in frontline}
    assert not any(w in file.content.decode() for w in people_words)


def test_summary_scope_errors_say_what_is_understood(commands, service, admin):
    service.start_round(admin)
    text = commands.handle(admin, "/integrity summary yesterday").as_text()
    assert "I don't understand 'yesterday'" in text and "round N" in text
    assert "There is no round 7" in commands.handle(admin, "/integrity summary round 7").as_text()


def test_forget_me_asks_for_confirmation_first(commands, service, worker):
    service.start_round()
    service.record_answer(worker, "give-away", rating=3)
    assert "forget-me confirm" in commands.handle(worker, "/integrity forget-me").as_text()
    assert service.store.db.table("answers").count == 1
    done = commands.handle(worker, "/integrity forget-me confirm").as_text()
    assert (
        "Removed 1 answer, 0 pending proposals, 0 check-in records and" in done
        and service.store.db.table("answers").count == 0
    )


def test_progress_counts_what_a_summary_or_trend_will_analyse_without_analysing(
    commands, service, admin, worker, monkeypatch
):
    assert commands.progress(admin, "summary") is None  # no round yet: the reply says so
    round_ = service.start_round()
    for person in make_people(service, "frontline", 5):
        service.record_answer(person, round_.question_ids[0], rating=2)
    service.record_answer(admin, round_.question_ids[0], rating=5)  # alone: under the floor
    assert commands.progress(admin, "summary") is None  # open: nothing is analysed yet
    service.close_round(round_=round_)

    def no_analysis(*args, **kwargs):
        raise AssertionError("progress must not run the analysis")

    monkeypatch.setattr(service, "analysis", no_analysis)
    assert commands.progress(admin, "summary") == "Analysing 5 answers from round 1…"
    assert commands.progress(admin, "summary round 1 Support") is None  # none from Support
    assert commands.progress(admin, "trend give-away") == "Analysing 5 answers from all rounds…"
    assert commands.progress(admin, "summary round 7") is None  # the reply says what is wrong
    assert commands.progress(worker, "summary") is None  # not theirs to run
    assert commands.progress(admin, "status") is None


def test_privacy_tells_everyone_what_is_kept_who_sees_what_and_how_to_be_forgotten(
    commands, worker
):
    text = commands.handle(worker, "/integrity privacy").as_text()
    for words in ("What is kept about you", "For how long", "What they can never see"):
        assert words in text
    assert "fewer than 5 answers" in text and "/integrity forget-me confirm" in text
