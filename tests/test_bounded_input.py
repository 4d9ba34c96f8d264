"""Bounded input and honest errors (issue 15): no number a user types can make the bot
build more than the database holds, and no mistake gets a traceback or a retry hint.

Each test sends what a careless or hostile user would, through `Commands.handle`
as every adapter does, and checks the one-line answer says what to do.
"""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest

from bot.core.errors import (
    TRANSIENT,
    UNEXPECTED,
    NotFound,
    StorageError,
    failure_message,
    is_transient,
)
from bot.core.scope import parse_scope
from bot.store import DatabaseBusy
from tests.conftest import make_people


@pytest.fixture
def two_rounds(service, clock, admin):
    """Two rounds a week apart, the first closed, with enough answers to summarise."""
    people = make_people(service, "frontline", 5, team="Support")
    people += make_people(service, "executive", 5, team="Leadership")
    first = service.start_round()
    for person in people:
        service.record_answer(person, first.question_ids[0], rating=3, text="fine", round_=first)
    clock.now += timedelta(days=6)
    service.close_round()
    clock.now += timedelta(days=1)
    service.start_round()
    return people


HUGE = [
    "summary rounds 1-99999999999",
    "summary round 99999999999999999999",
    "summary rounds 1,99999999999999999999",
    "export rounds 1-99999999999",
    "export round 99999999999999999999",
]


@pytest.mark.parametrize("line", HUGE)
def test_a_huge_round_number_is_an_error_naming_the_rounds_that_exist(
    commands, admin, two_rounds, line
):
    tracemalloc.start()
    text = commands.handle(admin, line).as_text()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "the rounds so far are 1 to 2" in text
    assert peak < 50 * 2**20  # the error is found before any list of rounds is built


@pytest.mark.parametrize(
    "line", ["summary weeks 99999999999", "export weeks 1000000", "export weeks " + "9" * 30]
)
def test_a_huge_number_of_weeks_covers_the_rounds_that_exist(commands, admin, two_rounds, line):
    reply = commands.handle(admin, line)
    text = reply.as_text()
    assert "rounds 1-2" in text, text


def test_a_trend_over_a_huge_number_of_weeks_is_the_whole_trend(commands, admin, two_rounds):
    text = commands.handle(admin, "trend weeks 99999999999").as_text()
    assert text.startswith("== Trend:"), text


def test_parse_scope_never_builds_a_range_larger_than_the_rounds(service, two_rounds):
    rounds = service.rounds()
    with pytest.raises(NotFound, match="rounds so far are 1 to 2"):
        parse_scope(["rounds", "1-" + "9" * 5000], rounds, [], service.now())
    scope = parse_scope(["weeks", "9" * 5000], rounds, [], service.now())
    assert [r.number for r in scope.rounds] == [1, 2]


@pytest.mark.parametrize("number", ["99999999999999999999", "9223372036854775808", "0", "3"])
def test_approving_a_proposal_that_does_not_exist_says_so(commands, admin, number):
    text = commands.handle(admin, f"propose approve {number}").as_text()
    assert f"There is no proposal {number}" in text and "propose list" in text


@pytest.mark.parametrize(
    "line,expected",
    [
        ("export weeks x", "Usage: `/integrity export"),
        ("summary weeks x", "Usage: `/integrity summary"),
        ("export rounds a-b", "Usage: `/integrity export"),
        ("summary yesterday", "Usage: `/integrity summary"),
    ],
)
def test_a_scope_mistake_quotes_the_usage_of_the_command_typed(
    commands, admin, two_rounds, line, expected
):
    assert expected in commands.handle(admin, line).as_text()


def test_a_trend_of_an_unknown_question_names_the_closest_and_the_ids(
    commands, service, admin, two_rounds
):
    text = commands.handle(admin, "trend hold music").as_text()
    assert "There is no question 'hold music'" in text
    assert "The closest is `" in text and "give-away" in text and "Usage" not in text
    # Words of a question's text find it, as its id does.
    asked = service.question(service.rounds()[0].question_ids[0])
    words = " ".join(asked.text.split()[1:4])
    assert commands.handle(admin, f"trend {words}").as_text().startswith(f"== Trend: {asked.text}")


def test_status_lists_the_latest_rounds_with_their_state(commands, admin, two_rounds, clock):
    text = commands.handle(admin, "status").as_text()
    assert "Rounds" in text and "closed" in text and "open until" in text
    for _ in range(5):  # seven rounds in all: status shows the latest five
        clock.now += timedelta(days=7)
        commands.handle(admin, "close")
        commands.handle(admin, "ask")
    table = commands.handle(admin, "status").as_text().split("Rounds", 1)[1]
    assert "latest 5 of 7" in table and "summary rounds 1-7" in table
    numbers = [line.split("|")[0].strip() for line in table.splitlines()[3:8]]
    assert numbers == ["7", "6", "5", "4", "3"]


def test_an_export_with_everything_hidden_says_so_and_writes_no_file(commands, service, admin):
    worker = make_people(service, "frontline", 2)[0]
    current = service.start_round()
    service.record_answer(worker, current.question_ids[0], rating=2, text="slow", round_=current)
    service.close_round(round_=current)  # an open round shows nothing anyway
    reply = commands.handle(admin, "export round 1")
    assert not reply.files
    text = reply.as_text()
    assert "Everything in round 1 was hidden: each of its 8 question groups had" in text
    assert "fewer than 5" in text
    assert "No file was written" in text


def test_only_a_transient_failure_gets_the_retry_hint():
    class ReadTimeout(Exception):  # as httpx names it
        pass

    assert failure_message(TimeoutError("timed out")) == TRANSIENT.format(what="timed out")
    assert is_transient(ReadTimeout()) and is_transient(ConnectionResetError())
    assert is_transient(DatabaseBusy("The database is busy"))
    wrapped = RuntimeError("send failed")
    wrapped.__cause__ = TimeoutError()
    assert is_transient(wrapped)
    for error in (ValueError("x"), OverflowError(), IsADirectoryError(), KeyError("k")):
        assert not is_transient(error)
        assert failure_message(error) == UNEXPECTED
        assert "again" in UNEXPECTED and "will fail" in UNEXPECTED
    full = StorageError("Disk full: there is no room to write the database /d/i.db")
    assert failure_message(full) == str(full) and not is_transient(full)


@pytest.mark.parametrize(
    "line,expected",
    [
        ("answer 1 ²", "'²' is not a rating"),
        ("answer 1 " + "4" * 5000, "is not a rating"),
        ("summary round ²", "is not a round number"),
        ("summary round " + "7" * 5000, "There is no round 7777777777777777777…:"),
        ("propose approve ²", "Usage: `/integrity propose <question> | list | approve N"),
        ("schedule monday 10:00 days ²", "days must be a whole number from 1 to 6"),
        ("schedule monday 10:00 days " + "1" * 5000, "days must be a whole number from 1 to 6"),
        ("schedule monday " + "1" * 5000 + ":00", "is not a time like 10:00"),
    ],
)
def test_digits_python_reads_but_int_refuses_are_answered(
    commands, admin, two_rounds, line, expected
):
    text = commands.handle(admin, line).as_text()
    assert expected in text
    assert len(text) < 1000  # a huge word is not echoed back whole


def test_the_cli_export_says_when_everything_was_hidden_and_where_it_cannot_write(
    service, settings, store, admin, tmp_path, capsys
):
    from bot.cli import main

    worker = make_people(service, "frontline", 2)[0]
    current = service.start_round()
    service.record_answer(worker, current.question_ids[0], rating=2, text="slow", round_=current)
    service.close_round(round_=current)  # an open round shows nothing anyway

    def core(existing: bool = False):
        return settings, store, service

    assert main(["export", "--rounds", "1"], core=core) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1  # the header: a valid, empty CSV for scripts
    assert "Everything in rounds 1 was hidden" in err and "fewer than 5" in err
    assert main(["export", "--out", str(tmp_path)], core=core) == 2
    assert f"Cannot write {tmp_path}: Is a directory" in capsys.readouterr().err
    assert main(["export", "--rounds", "1-99999999999"], core=core) == 2
    assert "the rounds so far are 1 to 1" in capsys.readouterr().err


def test_a_long_list_of_rounds_is_labelled_and_named_short(commands, admin, two_rounds):
    reply = commands.handle(admin, "export rounds " + ",".join(["1-2"] * 5000))
    assert "from rounds 1-2," in reply.as_text()
    assert reply.files[0].name == "integrity-rounds-1-2.csv"
    assert "rounds 1,2 (" not in commands.handle(admin, "summary rounds 2,1").as_text()


@pytest.mark.parametrize("number", ["99999999999999999999", "9" * 5000])
def test_sharing_a_round_that_cannot_exist_says_so(commands, admin, two_rounds, number):
    text = commands.handle(admin, f"share round {number}").as_text()
    assert text.startswith("There is no round 9") and len(text) < 300


def test_the_store_finds_nothing_for_an_id_past_sqlites_integers(store):
    assert store._rows("select * from rounds where number = ?", [10**20]) == []
