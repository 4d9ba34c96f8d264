"""The weekly check-in schedule: when a workspace (or one team) is asked.

`WeeklySchedule` is one workspace's (or team's) plan; `parse_schedule` reads an
admin's `/integrity schedule …` words into one; `week_of` names the ISO week that
keys a scheduled round, so a slot is never asked twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.errors import UsageError

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
            f"(fallback {self.tz}), open {self.round_days} days, {self.reminders} reminder(s), "
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
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("Unknown time zone %r; using the schedule's", name)
        return None


def parse_schedule(
    platform: str, workspace: str, words: list[str], base: WeeklySchedule | None
) -> WeeklySchedule:
    """`monday 10:00 [tz Europe/London] [days 5] [reminders 1] [catch-up 12] [team NAME]
    [summary executives|CHANNEL]` into a schedule; errors name the bad word."""
    usage = (
        "Usage: `/integrity schedule DAY HH:MM [tz ZONE] [days N] [reminders N] "
        "[catch-up HOURS] [team NAME] [summary executives|CHANNEL]`, e.g. "
        "`/integrity schedule monday 10:00 tz Europe/London`"
    )
    values = dict(vars(base)) if base else {"platform": platform, "workspace": workspace}
    values["team"] = ""
    if len(words) < 2:
        raise UsageError(usage)
    day = words[0].lower()
    matches = [i for i, name in enumerate(WEEKDAYS) if name.startswith(day[:3])]
    if len(day) < 3 or not matches:
        raise UsageError(f"{words[0]!r} is not a day of the week. {usage}")
    values["weekday"] = matches[0]
    try:
        hour, minute = (int(x) for x in words[1].split(":"))
        values["local_time"] = time(hour, minute)
    except ValueError:
        raise UsageError(f"{words[1]!r} is not a time like 10:00. {usage}") from None
    rest = words[2:]
    if len(rest) % 2:
        raise UsageError(usage)
    limits = {"days": (1, 6), "reminders": (0, 3), "catch-up": (0, 72)}
    fields = {"days": "round_days", "reminders": "reminders", "catch-up": "catch_up_hours"}
    for key, value in zip(rest[::2], rest[1::2], strict=True):
        key = key.lower()
        if key == "tz":
            if _zone(value) is None:
                raise UsageError(f"{value!r} is not a time zone; use a name like Europe/London.")
            values["tz"] = value
        elif key in limits:
            low, high = limits[key]
            if not value.isdigit() or not low <= int(value) <= high:
                raise UsageError(f"{key} must be a whole number from {low} to {high}.")
            values[fields[key]] = int(value)
        elif key == "team":
            values["team"] = value
        elif key == "summary":
            values["summary_to"] = value
        else:
            raise UsageError(f"I don't know the option {key!r}. {usage}")
    return WeeklySchedule(**values)
