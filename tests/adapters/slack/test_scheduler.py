"""The weekly scheduler driving the real Slack messenger, against the fake Slack Web API.

`tests/test_scheduler.py` proves the scheduler's logic with an in-process messenger;
these tests run the same lifecycle through `SlackMessenger` (slack_sdk's WebClient
over HTTP) and assert on what Slack would have received: a week of ticks across
time zones and a daylight-saving change, crashes between claim, send and record,
downtime over a slot, reminders, the close with its summary, and 429s. The clock
is moved with time-machine; the fake stamps its messages with that clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.adapters.slack import SlackSettings
from bot.adapters.slack.messenger import PLATFORM, SlackMessenger
from bot.scheduler import Scheduler, WeeklySchedule
from bot.service import IntegrityCheck
from tests.adapters.slack.conftest import SECRET, TEAM
from tests.fakes.slack_api import FakeSlack

# Zones on both sides of the date line; New York leaves summer time on 1 Nov 2026,
# a week after Europe; Kolkata has no DST and a half-hour offset; "" has no zone.
PEOPLE = {
    "UNYC": "America/New_York",
    "UBER": "Europe/Berlin",
    "UKOL": "Asia/Kolkata",
    "UAKL": "Pacific/Auckland",
    "UNOTZ": "",
}
FALLBACK = "Europe/London"
EXECUTIVES = ["UEX1", "UEX2"]  # two executives: under the floor of 5 on their own
FRONTLINE = [f"UFR{i}" for i in range(6)]


class Killed(BaseException):
    """The process dies here (not an Exception: nothing in the bot may catch it)."""


@pytest.fixture
def fake():
    with FakeSlack(team_id=TEAM) as fake:
        for user, zone in PEOPLE.items():
            fake.add_user(user, user.lower(), tz=zone)
        for user in EXECUTIVES + FRONTLINE:
            fake.add_user(user, user.lower(), tz=FALLBACK)
        fake.add_user("UBOTTY", "reminder-bot", is_bot=True)
        yield fake


@pytest.fixture
def service(store, settings) -> IntegrityCheck:
    """The core on the real (time-travelled) clock, as the running bot has it."""
    return IntegrityCheck(store, settings)


@pytest.fixture
def slack_settings(fake) -> SlackSettings:
    return SlackSettings(
        bot_token="xoxb-test",
        signing_secret=SECRET,
        api_base_url=fake.base_url,
        executives=frozenset(EXECUTIVES),
        posts_per_second=200,
    )


def schedule(service, **changes) -> None:
    plan = WeeklySchedule(PLATFORM, TEAM, weekday=0, local_time=time(10), tz=FALLBACK)
    service.store.save_schedule(WeeklySchedule(**{**vars(plan), **changes}).to_row())


def scheduler_for(service, slack_settings) -> tuple[Scheduler, SlackMessenger]:
    """A scheduler and messenger as a (re)started process makes them."""
    messenger = SlackMessenger(service, slack_settings)
    return Scheduler(service, {PLATFORM: messenger}), messenger


def checkins(fake: FakeSlack, user: str) -> list[dict]:
    return [
        m
        for m in fake.messages.get(f"D{user}", [])
        if (m.get("metadata") or {}).get("event_type") == "integrity_checkin"
    ]


def reminders(fake: FakeSlack, user: str) -> list[dict]:
    return [m for m in fake.messages.get(f"D{user}", []) if m["text"].startswith("Reminder")]


def everything_posted(fake: FakeSlack) -> str:
    return json.dumps(fake.messages, ensure_ascii=False) + json.dumps(
        [c.args for c in fake.calls], ensure_ascii=False
    )


def test_a_fortnight_across_time_zones_and_daylight_saving(service, fake, slack_settings):
    schedule(service)
    scheduler, _ = scheduler_for(service, slack_settings)
    start = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    step = timedelta(minutes=30)
    with time_machine.travel(start, tick=False) as traveller:
        moment = start
        while moment <= start + timedelta(days=14):
            traveller.move_to(moment)
            scheduler.tick()
            moment += step
    for user, zone_name in PEOPLE.items():
        got = checkins(fake, user)
        rounds = [m["metadata"]["event_payload"]["round_id"] for m in got]
        assert len(got) == 2 and len(set(rounds)) == 2, user  # one a week, never repeated
        zone = ZoneInfo(zone_name or FALLBACK)
        for message in got:
            local = datetime.fromtimestamp(float(message["ts"]), zone)
            assert local.weekday() == 0, (user, local)
            assert time(10) <= local.time() < time(10, 30), (user, local)
    # The same 10:00 in New York is 14:00 UTC before its change and 15:00 after.
    new_york = [datetime.fromtimestamp(float(m["ts"]), UTC).hour for m in checkins(fake, "UNYC")]
    assert new_york == [14, 15]
    assert not fake.messages.get("DUBOTTY")


def test_killed_between_claim_and_send_is_sent_once_after_restart(
    service, fake, slack_settings, monkeypatch
):
    schedule(service)
    scheduler, messenger = scheduler_for(service, slack_settings)
    monday = datetime(2026, 11, 2, 10, 5, tzinfo=ZoneInfo(FALLBACK))
    real_send = messenger.send_round

    def dies_for_one(person, round_, questions):
        if person.user_id == "UFR0":
            raise Killed
        return real_send(person, round_, questions)

    monkeypatch.setattr(messenger, "send_round", dies_for_one)
    with time_machine.travel(monday, tick=False) as traveller:
        with pytest.raises(Killed):
            scheduler.tick()
        restarted, _ = scheduler_for(
            IntegrityCheck(service.store, service.settings), slack_settings
        )
        restarted.tick()  # the claim is fresh: it may still be sending, so leave it
        assert checkins(fake, "UFR0") == []
        traveller.shift(timedelta(minutes=6))
        report = restarted.tick()
    assert report.sent >= 1
    for user in EXECUTIVES + FRONTLINE:
        assert len(checkins(fake, user)) == 1, user


def test_killed_between_send_and_record_is_not_sent_twice(
    service, fake, slack_settings, monkeypatch
):
    schedule(service)
    scheduler, _ = scheduler_for(service, slack_settings)
    monday = datetime(2026, 11, 2, 10, 5, tzinfo=ZoneInfo(FALLBACK))
    real_complete = service.store.complete_delivery
    victim = {}

    def dies_after_the_post(delivery_id, message_ref):
        if not victim:
            victim["ref"] = message_ref
            raise Killed
        return real_complete(delivery_id, message_ref)

    monkeypatch.setattr(service.store, "complete_delivery", dies_after_the_post)
    with time_machine.travel(monday, tick=False) as traveller:
        with pytest.raises(Killed):
            scheduler.tick()
        monkeypatch.setattr(service.store, "complete_delivery", real_complete)
        traveller.shift(timedelta(minutes=10))
        restarted, _ = scheduler_for(service, slack_settings)
        report = restarted.tick()
    assert report.recovered == 1
    assert fake.calls_to("conversations.history")  # asked Slack before sending again
    for user in EXECUTIVES + FRONTLINE:
        assert len(checkins(fake, user)) == 1, user
    refs = [d["message_ref"] for d in service.store.deliveries(service.store.rounds()[0].id)]
    assert victim["ref"] in refs


def test_down_over_the_slot_catches_up_within_the_window_only(service, fake, slack_settings):
    schedule(service)
    scheduler, _ = scheduler_for(service, slack_settings)
    # Back 6 hours after London's 10:00 slot: inside the 12-hour window.
    with time_machine.travel(datetime(2026, 11, 2, 16, 0, tzinfo=UTC), tick=False):
        scheduler.tick()
    assert len(checkins(fake, "UFR0")) == 1
    # Back 13 hours after the next week's London slot: too late for London this week.
    with time_machine.travel(datetime(2026, 11, 9, 23, 0, tzinfo=UTC), tick=False):
        report = scheduler.tick()
    assert len(checkins(fake, "UFR0")) == 1 and report.skipped_stale >= 1
    with time_machine.travel(datetime(2026, 11, 16, 10, 1, tzinfo=UTC), tick=False):
        scheduler.tick()
    assert len(checkins(fake, "UFR0")) == 2  # the week after, on time


def test_reminders_go_to_non_responders_only_once_a_day(service, fake, slack_settings):
    schedule(service, reminders=2)
    scheduler, messenger = scheduler_for(service, slack_settings)
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for hour in range(0, 24 * 7, 2):
            traveller.move_to(start + timedelta(hours=hour))
            scheduler.tick()
            if hour == 4:
                (responder,) = [
                    p for p in service.store.people(PLATFORM, TEAM) if p.user_id == "UFR0"
                ]
                current = service.open_round()
                for question in service.questions_for(responder, current):
                    service.record_answer(responder, question.id, rating=3)
    assert reminders(fake, "UFR0") == []
    for user in ["UFR1", "UEX1", "UBER"]:
        sent = reminders(fake, user)
        assert len(sent) == 2, user
        days = {datetime.fromtimestamp(float(m["ts"]), UTC).date() for m in sent}
        assert len(days) == 2, user  # never two on one day


def test_the_round_closes_with_a_summary_to_executives_and_the_floor_kept(
    service, fake, slack_settings
):
    schedule(service)
    scheduler, _ = scheduler_for(service, slack_settings)
    start = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        scheduler.tick()
        people = {p.user_id: p for p in service.store.people(PLATFORM, TEAM)}
        current = service.open_round()
        for user in EXECUTIVES:
            for question in service.questions_for(people[user], current):
                service.record_answer(
                    people[user], question.id, rating=5, text="Only two of us think SEKRIT-EXEC."
                )
        for user in FRONTLINE:
            for question in service.questions_for(people[user], current):
                service.record_answer(
                    people[user], question.id, rating=1, text="Customers wait on hold for an hour."
                )
        traveller.move_to(start + timedelta(days=5))
        report = scheduler.tick()
    assert report.closed == [1] and service.open_round() is None
    for user in EXECUTIVES:
        summary = " ".join(m["text"] for m in fake.messages[f"D{user}"])
        summary += json.dumps([m["blocks"] for m in fake.messages[f"D{user}"]])
        assert "Integrity check: round 1" in summary, user
        assert "2 of 2 executives and 6 of" in summary
    assert not any("Integrity check: round 1" in m["text"] for m in fake.messages["DUFR0"])
    assert "SEKRIT-EXEC" not in everything_posted(fake)


def test_a_429_during_fan_out_is_waited_out_and_nothing_is_lost(service, fake, slack_settings):
    schedule(service)
    fake.rate_limit("chat.postMessage", per_second=4, burst=2, retry_after=1)
    scheduler, _ = scheduler_for(service, slack_settings)
    with time_machine.travel(datetime(2026, 11, 2, 10, 30, tzinfo=UTC), tick=False):
        report = scheduler.tick()
    assert report.failed == 0
    assert [c.method for c in fake.rate_limited][:1] == ["chat.postMessage"]  # 429s were met
    for user in EXECUTIVES + FRONTLINE:
        assert len(checkins(fake, user)) == 1, user
