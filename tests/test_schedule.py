"""`/integrity schedule`: a mistyped day, time zone or team is an error naming the
closest valid value, answered to the admin and never logged as a warning."""

from __future__ import annotations

import logging

import pytest

from bot.core.errors import UsageError
from bot.core.schedule import parse_schedule, time_zone, weekday
from tests.conftest import make_people


@pytest.mark.parametrize(
    "word,closest",
    [
        ("London", "Did you mean Europe/London?"),
        ("Londn", "Europe/London"),
        ("new york", "America/New_York"),
        ("Europe", "is a region, not a time zone"),
        ("Europe/Lodnon", "Europe/London"),
        ("../../etc/passwd", "is not a time zone"),
        ("", "is not a time zone"),
    ],
)
def test_a_wrong_time_zone_names_the_closest(word, closest):
    with pytest.raises(UsageError, match="time zone") as raised:
        time_zone(word)
    assert closest in str(raised.value)


def test_a_time_zone_in_any_case_is_the_zone():
    assert time_zone("europe/london") == "Europe/London" and time_zone("UTC") == "UTC"


@pytest.mark.parametrize("word,day", [("monday", 0), ("Mon", 0), ("tues", 1), ("thurs", 3)])
def test_days_by_name_or_their_first_letters(word, day):
    assert weekday(word) == day


@pytest.mark.parametrize("word", ["mondy", "mo", "funday", "mondays"])
def test_a_mistyped_day_is_not_guessed(word):
    with pytest.raises(UsageError, match="not a day of the week"):
        weekday(word)
    with pytest.raises(UsageError, match="Did you mean monday"):
        weekday("mondy")


def test_an_unknown_team_names_the_closest_and_the_teams():
    with pytest.raises(UsageError, match="There is no team 'Suport'. Did you mean Support?"):
        parse_schedule("t", "W", ["monday", "09:00", "team", "Suport"], None, teams=["Support"])
    schedule = parse_schedule(
        "t", "W", ["monday", "09:00", "team", "support"], None, teams=["Support"]
    )
    assert schedule.team == "Support"


def test_a_schedule_says_its_days_and_reminders_in_their_number():
    one = parse_schedule("t", "W", ["monday", "09:00", "days", "1", "reminders", "1"], None)
    assert "open 1 day, 1 reminder," in one.describe()
    more = parse_schedule("t", "W", ["monday", "09:00", "days", "5", "reminders", "0"], None)
    assert "open 5 days, 0 reminders," in more.describe()


def test_the_schedule_command_answers_mistakes_and_logs_no_warning(
    commands, service, admin, caplog
):
    make_people(service, "frontline", 3, team="Support")
    caplog.set_level(logging.DEBUG)
    for line, expected in [
        ("schedule mondy 10:00", "'mondy' is not a day of the week. Did you mean monday?"),
        ("schedule monday 09:00 team Nonexistent", "There is no team 'Nonexistent'"),
        ("schedule monday 10:00 tz London", "Did you mean Europe/London?"),
        ("schedule monday 10:00 tz Europe", "'Europe' is a region"),
    ]:
        assert expected in commands.handle(admin, line).as_text()
    assert service.schedules() == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    done = commands.handle(admin, "schedule mon 10:00 tz europe/london team support").as_text()
    assert "Weekly check-in set for team Support" in done and "Europe/London" in done


def test_turning_off_a_check_in_that_is_not_set_says_so(commands, service, admin):
    make_people(service, "frontline", 3, team="Support")
    assert (
        "There is no weekly check-in for everyone"
        in commands.handle(admin, "schedule off").as_text()
    )
    commands.handle(admin, "schedule monday 10:00 team Support")
    text = commands.handle(admin, "schedule off team X").as_text()
    assert "There is no weekly check-in for team 'X'" in text and "team Support" in text
    assert "Usage" in commands.handle(admin, "schedule off team").as_text()
    assert "off for team Support" in commands.handle(admin, "schedule off team support").as_text()
    assert service.schedules() == []
