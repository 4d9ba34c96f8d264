"""The weekly check-in schedule: when a workspace (or one team) is asked.

`WeeklySchedule` is one workspace's (or team's) plan; `parse_schedule` reads an
admin's `/integrity schedule …` words into one; `week_of` names the ISO week that
keys a scheduled round, so a slot is never asked twice. A mistyped day, time zone or
team is an error naming the closest valid value (`time_zone` does zones), never a
guess and never a log line.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.core.errors import UsageError, typed
from bot.core.replies import counted

logger = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class WeeklySchedule:
    """When a workspace (or one of its teams) is asked, and how a round runs."""

    platform: str
    workspace: str
    weekday: int = 0  # Monday
    local_time: time = time(10, 0)
    tz: str = "UTC"
    team: str = ""  # "" = the whole workspace; a team name overrides it for that team
    round_days: int = 5
    reminders: int = 1
    catch_up_hours: int = 12
    summary_to: str = "executives"

    @classmethod
    def from_row(cls, row: dict) -> WeeklySchedule:
        hour, minute = (int(x) for x in row["local_time"].split(":"))
        return cls(
            platform=row["platform"],
            workspace=row["workspace"],
            weekday=row["weekday"],
            local_time=time(hour, minute),
            tz=row["tz"],
            team=row["team"] or "",
            round_days=row["round_days"],
            reminders=row["reminders"],
            catch_up_hours=row["catch_up_hours"],
            summary_to=row["summary_to"] or "executives",
        )

    def to_row(self) -> dict:
        return {
            "platform": self.platform,
            "workspace": self.workspace,
            "team": self.team,
            "weekday": self.weekday,
            "local_time": self.local_time.strftime("%H:%M"),
            "tz": self.tz,
            "round_days": self.round_days,
            "reminders": self.reminders,
            "catch_up_hours": self.catch_up_hours,
            "summary_to": self.summary_to,
            "active": 1,
        }

    def describe(self) -> str:
        who = f"team {self.team}" if self.team else "everyone"
        return (
            f"{who}: {WEEKDAYS[self.weekday].title()}s at {self.local_time:%H:%M} local time "
            f"(fallback {self.tz}), open {counted(self.round_days, 'day')}, "
            f"{counted(self.reminders, 'reminder')}, "
            f"catch-up {self.catch_up_hours} h, summary to {self.summary_to}"
        )

    def last_slot(self, now: datetime, tz_name: str | None) -> datetime:
        """The most recent check-in slot at or before `now`, in the person's time zone."""
        zone = _zone(tz_name) or _zone(self.tz) or ZoneInfo("UTC")
        local_now = now.astimezone(zone)
        days_back = (local_now.weekday() - self.weekday) % 7
        day = local_now.date() - timedelta(days=days_back)
        slot = datetime.combine(day, self.local_time, tzinfo=zone)
        if slot > local_now:
            slot = datetime.combine(day - timedelta(days=7), self.local_time, tzinfo=zone)
        return slot


def week_of(slot: datetime) -> str:
    """The ISO week a slot belongs to, the key of its scheduled round."""
    year, week, _ = slot.isocalendar()
    return f"{year}-W{week:02d}"


def _zone(name: str | None) -> ZoneInfo | None:
    """A person's or schedule's stored zone; None (use the fallback) when it is unknown."""
    if not name or name not in _zone_names():
        if name:
            logger.info("Unknown time zone %r stored; using the schedule's", name)
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@cache
def _zone_names() -> frozenset[str]:
    # The system's own links (`localtime`, `posixrules`, `Factory`) are not zones to offer.
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def time_zone(word: str) -> str:
    """The IANA zone `word` names (any case: `europe/london`), or UsageError naming the
    closest ones: `London` → `Europe/London`; a region such as `Europe` is not a zone."""
    names = _zone_names()
    if word in names:
        return word
    by_folded = {n.lower(): n for n in names}
    if word.lower() in by_folded:
        return by_folded[word.lower()]
    key = word.lower().replace(" ", "_")
    # The city alone (`London`, `new york`) names a zone whose last part it is.
    cities = sorted(n for n in names if n.lower().rsplit("/", 1)[-1] == key)
    region = sorted(n for n in names if n.lower().startswith(key + "/"))
    if region and not cities:
        raise UsageError(
            f"{typed(word)} is a region, not a time zone: name a city in it, e.g. "
            f"{' or '.join(region[:2])}."
        )
    if not cities:
        last = {n.lower().rsplit("/", 1)[-1]: n for n in sorted(names)}
        cities = [last[c] for c in difflib.get_close_matches(key, list(last), n=2, cutoff=0.75)]
        cities += [
            by_folded[n]
            for n in difflib.get_close_matches(key, list(by_folded), n=2, cutoff=0.6)
            if by_folded[n] not in cities
        ]
    hint = f" Did you mean {' or '.join(cities[:3])}?" if cities else ""
    raise UsageError(
        f"{typed(word)} is not a time zone.{hint} Use an IANA name like Europe/London or "
        "America/New_York."
    )


def weekday(word: str) -> int:
    """Monday = 0 from a day's name or its first three letters or more (`tue`, `thurs`);
    anything else is UsageError naming the closest day."""
    key = word.lower()
    if len(key) >= 3:
        for i, name in enumerate(WEEKDAYS):
            if name.startswith(key):
                return i
    close = difflib.get_close_matches(key, WEEKDAYS, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise UsageError(f"{typed(word)} is not a day of the week.{hint} Use monday … sunday, or mon.")


def parse_schedule(
    platform: str,
    workspace: str,
    words: list[str],
    base: WeeklySchedule | None,
    *,
    teams: Sequence[str] | None = None,
) -> WeeklySchedule:
    """`monday 10:00 [tz Europe/London] [days 5] [reminders 1] [catch-up 12] [team NAME]
    [summary executives|CHANNEL]` into a schedule; errors name the bad word and the closest
    valid value. `teams`: the known teams (None: any name is taken)."""
    usage = (
        "Usage: `/integrity schedule DAY HH:MM [tz ZONE] [days N] [reminders N] "
        "[catch-up HOURS] [team NAME] [summary executives|CHANNEL]`, e.g. "
        "`/integrity schedule monday 10:00 tz Europe/London`"
    )
    values = dict(vars(base)) if base else {"platform": platform, "workspace": workspace}
    values["team"] = ""
    if len(words) < 2:
        raise UsageError(usage)
    values["weekday"] = weekday(words[0])
    try:
        hour, minute = (int(x) for x in words[1].split(":"))
        values["local_time"] = time(hour, minute)
    except ValueError:
        raise UsageError(
            f"{typed(words[1])} is not a time like 10:00 (24-hour, HH:MM). {usage}"
        ) from None
    rest = words[2:]
    if len(rest) % 2:
        raise UsageError(usage)
    limits = {"days": (1, 6), "reminders": (0, 3), "catch-up": (0, 72)}
    fields = {"days": "round_days", "reminders": "reminders", "catch-up": "catch_up_hours"}
    for key, value in zip(rest[::2], rest[1::2], strict=True):
        key = key.lower()
        if key == "tz":
            values["tz"] = time_zone(value)
        elif key in limits:
            low, high = limits[key]
            whole = value.isascii() and value.isdigit() and len(value) <= 3
            if not whole or not low <= int(value) <= high:
                raise UsageError(f"{key} must be a whole number from {low} to {high}.")
            values[fields[key]] = int(value)
        elif key == "team":
            values["team"] = value if teams is None else _team(value, teams)
        elif key == "summary":
            values["summary_to"] = value
        else:
            raise UsageError(f"I don't know the option {typed(key)}. {usage}")
    return WeeklySchedule(**values)


def _team(word: str, teams: Sequence[str]) -> str:
    """A known team by name, any case; else UsageError naming the closest and the teams."""
    by_folded = {t.lower(): t for t in teams}
    if word.lower() in by_folded:
        return by_folded[word.lower()]
    if not teams:
        raise UsageError(
            f"There is no team {typed(word)}: no one here is in a team yet, so the schedule "
            "without `team` covers everyone."
        )
    close = difflib.get_close_matches(word.lower(), list(by_folded), n=1, cutoff=0.5)
    hint = f" Did you mean {by_folded[close[0]]}?" if close else ""
    raise UsageError(f"There is no team {typed(word)}.{hint} Teams: {', '.join(teams)}.")
