"""The weekly scheduler end to end: `Scheduler` driving the real `SlackMessenger`
(slack_sdk's WebClient over HTTP) against the fake Slack Web API server.

`tests/test_scheduler.py` proves the scheduler's logic with an in-process messenger. Here
every check-in, reminder and summary goes over HTTP to `tests.fakes.slack_api.FakeSlack`,
and the assertions are on what that server received (the DMs in `fake.messages`, the
calls, the uploads) and on the SQLite store. Each "process" is a fresh store connection,
core, messenger and scheduler on the same database file, so a restart is a new one. The
clock is moved with time-machine; the fake stamps its messages (`ts`) with that clock, so
a message's `ts` is when the scheduler posted it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from bot.adapters.slack import SlackSettings
from bot.adapters.slack.messenger import PLATFORM, SlackMessenger
from bot.core.schedule import WeeklySchedule, week_of
from bot.core.scheduler import Scheduler, TickReport
from bot.core.service import IntegrityCheck
from bot.store import Store
from tests.fakes.slack_api import FakeSlack

TEAM = "T0ACME"
#: The schedule's own zone: people whose Slack profile has no time zone are asked at 10:00 here.
FALLBACK = "Europe/London"
EXECUTIVES = ("UEX1", "UEX2")  # two: under the anonymity floor of 5 on their own
STEP = timedelta(minutes=30)


class Killed(BaseException):
    """The process dies here (not an Exception: nothing in the bot may catch it)."""


@dataclass
class Process:
    """One run of the bot: its own database connection, core, messenger and scheduler."""

    service: IntegrityCheck
    messenger: SlackMessenger
    scheduler: Scheduler

    @property
    def store(self) -> Store:
        return self.service.store

    def person(self, user: str):
        person = self.store.person(PLATFORM, TEAM, user)
        assert person is not None, user
        return person

    def answer(self, user: str, *, rating: int, text: str | None = None) -> None:
        """The person answers every question of the open round, as the core records it."""
        person = self.person(user)
        current = self.service.open_round()
        assert current is not None
        for question in self.service.questions_for(person, current):
            self.service.record_answer(person, question.id, rating=rating, text=text)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(team_id=TEAM) as fake:
        fake.add_user("UBOTTY", "reminder-bot", is_bot=True)  # never asked
        yield fake


@pytest.fixture
def slack_settings(fake: FakeSlack) -> SlackSettings:
    return SlackSettings(
        bot_token="xoxb-test",
        signing_secret="not-used-by-the-scheduler",
        api_base_url=fake.base_url,
        executives=frozenset(EXECUTIVES),
        posts_per_second=200,
    )


@pytest.fixture
def launch(settings, slack_settings) -> Iterator[Callable[[], Process]]:
    """Start a bot process (again): nothing shared with the last one but the database file."""
    stores: list[Store] = []

    def launch() -> Process:
        store = Store(settings.db_path)
        stores.append(store)
        service = IntegrityCheck(store, settings)
        messenger = SlackMessenger(service, slack_settings)
        return Process(service, messenger, Scheduler(service, {PLATFORM: messenger}))

    yield launch
    for store in stores:
        store.close()


def people(fake: FakeSlack, zones: dict[str, str]) -> None:
    """Slack users and their profile time zone ("" = none set)."""
    for user, zone in zones.items():
        fake.add_user(user, user.lower(), tz=zone)


def weekly(process: Process, **changes) -> WeeklySchedule:
    """Mondays 10:00 local time (fallback London), open 5 days, 1 reminder, catch-up 12 h."""
    plan = WeeklySchedule(PLATFORM, TEAM, weekday=0, local_time=time(10), tz=FALLBACK)
    plan = replace(plan, **changes)
    process.store.save_schedule(plan.to_row())
    return plan


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ticks(
    traveller, scheduler: Scheduler, start: datetime, end: datetime, step: timedelta = STEP
) -> list[TickReport]:
    """Tick at `start`, `start + step`, … up to and including `end`."""
    reports = []
    moment = start
    while moment <= end:
        traveller.move_to(moment)
        reports.append(scheduler.tick())
        moment += step
    return reports


def posted_at(message: dict) -> datetime:
    return datetime.fromtimestamp(float(message["ts"]), UTC).replace(microsecond=0)


def checkins(fake: FakeSlack, user: str) -> list[dict]:
    """The check-ins in a person's DM (they carry the round in their metadata)."""
    return [
        m
        for m in fake.messages.get(f"D{user}", [])
        if (m.get("metadata") or {}).get("event_type") == "integrity_checkin"
    ]


def reminders(fake: FakeSlack, user: str) -> list[dict]:
    return [m for m in fake.messages.get(f"D{user}", []) if m["text"].startswith("Reminder")]


def summaries(fake: FakeSlack, channel: str) -> list[dict]:
    """Summary messages in a channel or DM (a long summary may take several messages)."""
    return [
        m
        for m in fake.messages.get(channel, [])
        if "Integrity check: round" in json.dumps([m["text"], m["blocks"]])
    ]


def round_ids(messages: list[dict]) -> list[int]:
    return [m["metadata"]["event_payload"]["round_id"] for m in messages]


def posts_to(fake: FakeSlack, user: str) -> list:
    """Successful chat.postMessage calls addressed to this person (by user id or DM id)."""
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.error is None and c.args.get("channel") in (user, f"D{user}")
    ]


def everything_received(fake: FakeSlack) -> str:
    """Every argument of every call and every stored message, as one searchable text."""
    return json.dumps([c.args for c in fake.calls], ensure_ascii=False, default=str) + json.dumps(
        fake.messages, ensure_ascii=False
    )


# -- 1. a few weeks of ticks across time zones and daylight-saving changes -------------------

ZONES = {
    "UNYC": "America/New_York",  # leaves summer time on Sun 1 Nov 2026
    "UBER": "Europe/Berlin",  # leaves summer time on Sun 25 Oct 2026
    "UKOL": "Asia/Kolkata",  # no DST, a half-hour offset
    "UAKL": "Pacific/Auckland",  # across the date line: Monday 10:00 is Sunday in UTC
    "UNOTZ": "",  # no zone in Slack: the schedule's (London, also leaving summer time)
}
# Monday 10:00 local, in UTC, for the weeks of 19 Oct, 26 Oct and 2 Nov 2026.
SLOTS = {
    "UNYC": [utc(2026, 10, 19, 14), utc(2026, 10, 26, 14), utc(2026, 11, 2, 15)],
    "UBER": [utc(2026, 10, 19, 8), utc(2026, 10, 26, 9), utc(2026, 11, 2, 9)],
    "UKOL": [utc(2026, 10, 19, 4, 30), utc(2026, 10, 26, 4, 30), utc(2026, 11, 2, 4, 30)],
    "UAKL": [utc(2026, 10, 18, 21), utc(2026, 10, 25, 21), utc(2026, 11, 1, 21)],
    "UNOTZ": [utc(2026, 10, 19, 9), utc(2026, 10, 26, 10), utc(2026, 11, 2, 10)],
}


@pytest.mark.slow
def test_three_weeks_of_ticks_ask_everyone_once_a_week_at_their_local_slot(fake, launch):
    people(fake, ZONES)
    process = launch()
    weekly(process)
    # Ticks at :07 and :37, so every slot is met late by exactly 7 minutes (< one step).
    start = utc(2026, 10, 18, 0, 7)
    with time_machine.travel(start, tick=False) as traveller:
        ticks(traveller, process.scheduler, start, utc(2026, 11, 3, 0, 0))

    rounds = process.store.rounds()
    assert [r.week for r in rounds] == ["2026-W43", "2026-W44", "2026-W45"]
    for user, slots in SLOTS.items():
        got = checkins(fake, user)
        assert round_ids(got) == [r.id for r in rounds], user  # one a week, none twice
        assert [posted_at(m) for m in got] == [s + timedelta(minutes=7) for s in slots], user
        assert len(posts_to(fake, user)) == 3 + len(reminders(fake, user)), user
        person = process.person(user)
        for round_, message in zip(rounds, got, strict=True):
            delivery = process.store.delivery_for(round_.id, person.id)
            assert delivery["status"] == "sent"
            assert delivery["message_ref"] == f"D{user}:{message['ts']}"
    # Only the five people were written to: no bot, no Slackbot.
    assert set(fake.messages) == {f"D{user}" for user in ZONES}


# -- 2. killed between claim and send, and between send and record ---------------------------

CRASH_ZONES = {
    "UB1": "Europe/Berlin",
    "UB2": "Europe/Berlin",
    "UNY1": "America/New_York",
    "UNY2": "America/New_York",
}


def _dies_at_new_yorks_slot(fake, launch, *, posted: bool) -> tuple[Process, str | None]:
    """Berlin is asked at its slot; at New York's, the process claims UNY1 (and, if
    `posted`, posts the check-in to Slack) and dies before recording anything more."""
    people(fake, CRASH_ZONES)
    dead = launch()
    weekly(dead)
    with time_machine.travel(utc(2026, 11, 2, 9, 5), tick=False):
        dead.scheduler.tick()
    assert [len(checkins(fake, u)) for u in CRASH_ZONES] == [1, 1, 0, 0]
    ref = None
    with time_machine.travel(utc(2026, 11, 2, 15, 5), tick=False):
        round_ = dead.service.open_round()
        victim = dead.person("UNY1")
        assert dead.store.claim_delivery(round_.id, victim) is not None
        if posted:
            questions = dead.service.questions_for(victim, round_)
            ref = dead.messenger.send_round(victim, round_, questions)
    return dead, ref


def test_killed_between_claim_and_send_is_sent_once_after_the_restart(fake, launch):
    _dies_at_new_yorks_slot(fake, launch, posted=False)
    restarted = launch()
    with time_machine.travel(utc(2026, 11, 2, 15, 5), tick=False) as traveller:
        first = restarted.scheduler.tick()
        # The claim is a few seconds old: another process may be posting it right now.
        assert (first.sent, first.recovered) == (1, 0)  # UNY2 only
        assert checkins(fake, "UNY1") == []
        traveller.move_to(utc(2026, 11, 2, 15, 11))  # past the 5-minute stale claim
        second = restarted.scheduler.tick()
        third = restarted.scheduler.tick()
    assert (second.sent, second.recovered, third.sent) == (1, 0, 0)
    # Slack was asked first whether it had gone out, then it was posted once.
    (history,) = [c for c in fake.calls_to("conversations.history") if c.args["channel"] == "DUNY1"]
    assert str(history.args["include_all_metadata"]).lower() in ("1", "true")
    for user in CRASH_ZONES:
        assert len(checkins(fake, user)) == 1, user
        assert len(posts_to(fake, user)) == 1, user
    round_ = restarted.service.open_round()
    delivery = restarted.store.delivery_for(round_.id, restarted.person("UNY1").id)
    (message,) = checkins(fake, "UNY1")
    assert delivery["status"] == "sent"
    assert delivery["message_ref"] == f"DUNY1:{message['ts']}"
    assert posted_at(message) == utc(2026, 11, 2, 15, 11)


def test_killed_between_send_and_record_is_found_in_slack_and_not_sent_again(fake, launch):
    _, ref = _dies_at_new_yorks_slot(fake, launch, posted=True)
    assert len(checkins(fake, "UNY1")) == 1
    restarted = launch()
    with time_machine.travel(utc(2026, 11, 2, 15, 6), tick=False) as traveller:
        assert restarted.scheduler.tick().recovered == 0  # fresh claim: left alone
        traveller.move_to(utc(2026, 11, 2, 15, 20))
        report = restarted.scheduler.tick()
        again = restarted.scheduler.tick()
    assert (report.recovered, report.sent, again.recovered, again.sent) == (1, 0, 0, 0)
    assert [c.args["channel"] for c in fake.calls_to("conversations.history")] == ["DUNY1"]
    for user in CRASH_ZONES:
        assert len(checkins(fake, user)) == 1, user
        assert len(posts_to(fake, user)) == 1, user
    round_ = restarted.service.open_round()
    delivery = restarted.store.delivery_for(round_.id, restarted.person("UNY1").id)
    assert delivery["status"] == "sent" and delivery["message_ref"] == ref


# -- 3. down over the slot -------------------------------------------------------------------

DOWN_ZONES = {
    "UKOL": "Asia/Kolkata",  # Mon 2 Nov 10:00 = 04:30 UTC
    "UBER": "Europe/Berlin",  # 09:00 UTC
    "UNOTZ": "",  # London: 10:00 UTC
    "UNYC": "America/New_York",  # 15:00 UTC
}
NEXT_WEEK = {
    "UKOL": utc(2026, 11, 9, 4, 30),
    "UBER": utc(2026, 11, 9, 9),
    "UNOTZ": utc(2026, 11, 9, 10),
    "UNYC": utc(2026, 11, 9, 15),
}


@pytest.mark.parametrize(
    ("back", "this_week"),
    [
        pytest.param(
            utc(2026, 11, 2, 13),
            {
                "UKOL": utc(2026, 11, 2, 13),
                "UBER": utc(2026, 11, 2, 13),
                "UNOTZ": utc(2026, 11, 2, 13),
                "UNYC": utc(2026, 11, 2, 15),
            },
            id="back-within-the-window",
        ),
        pytest.param(
            utc(2026, 11, 2, 23),  # 8 h after New York's slot, 13 h+ after the others'
            {"UNYC": utc(2026, 11, 2, 23)},
            id="back-within-for-some-only",
        ),
        pytest.param(utc(2026, 11, 3, 12), {}, id="back-after-the-window"),
    ],
)
def test_down_over_the_slot_catches_up_within_the_window_only(fake, launch, back, this_week):
    people(fake, DOWN_ZONES)
    process = launch()
    weekly(process)  # catch-up window: 12 hours
    with time_machine.travel(back, tick=False) as traveller:
        ticks(traveller, process.scheduler, back, utc(2026, 11, 9, 16))

    this_round = process.store.round_for_week("2026-W45")
    next_round = process.store.round_for_week("2026-W46")
    assert next_round is not None
    assert (this_round is None) == (not this_week)
    for user, slot in NEXT_WEEK.items():
        got = checkins(fake, user)
        expected = ([this_round.id] if user in this_week else []) + [next_round.id]
        assert round_ids(got) == expected, user
        expected_times = ([this_week[user]] if user in this_week else []) + [slot]
        assert [posted_at(m) for m in got] == expected_times, user
        if user not in this_week:
            # Nothing stale, and nothing claimed for a week they were not asked.
            assert this_round is None or (
                process.store.delivery_for(this_round.id, process.person(user).id) is None
            )


# -- 4. reminders ----------------------------------------------------------------------------

REMINDED_ZONES = {f"UB{i}": "Europe/Berlin" for i in range(1, 5)} | {"UNYC": "America/New_York"}


def test_reminders_go_only_to_non_responders_once_a_day_and_never_after_close(fake, launch):
    people(fake, REMINDED_ZONES)
    process = launch()
    weekly(process, reminders=2)
    # Opened by Berlin's 09:00 UTC slot on Mon 2 Nov, closes Sat 7 Nov 09:00 UTC; the
    # reminders fall due two days and one day before the close.
    closes = utc(2026, 11, 7, 9)
    first_due, second_due = utc(2026, 11, 5, 9), utc(2026, 11, 6, 9)
    scheduler = process.scheduler
    with time_machine.travel(utc(2026, 11, 2, 8), tick=False) as traveller:
        ticks(traveller, scheduler, utc(2026, 11, 2, 8), utc(2026, 11, 2, 16))
        process.answer("UB1", rating=4)  # answers at once: never reminded
        ticks(traveller, scheduler, utc(2026, 11, 2, 16, 30), utc(2026, 11, 5, 12))
        process.answer("UB2", rating=2)  # answers after the first reminder
        reports = ticks(traveller, scheduler, utc(2026, 11, 5, 12, 30), utc(2026, 11, 8, 23))

    assert process.store.round_for_week("2026-W45").closes_at == closes
    assert sum(r.closed == [1] for r in reports) == 1
    assert reminders(fake, "UB1") == []
    assert [posted_at(m) for m in reminders(fake, "UB2")] == [first_due]
    for user in ("UB3", "UB4", "UNYC"):
        assert [posted_at(m) for m in reminders(fake, user)] == [first_due, second_due], user
    for user in REMINDED_ZONES:
        assert len(checkins(fake, user)) == 1, user
        sent = reminders(fake, user)
        assert all(posted_at(m) < closes for m in sent), user  # never after the close
        assert len({posted_at(m).date() for m in sent}) == len(sent), user  # one a day at most
    deliveries = {d["person_id"]: d for d in process.store.deliveries(process.store.rounds()[0].id)}
    counts = {user: deliveries[process.person(user).id]["reminders"] for user in REMINDED_ZONES}
    assert counts == {"UB1": 0, "UB2": 1, "UB3": 2, "UB4": 2, "UNYC": 2}


def test_back_after_both_reminders_fell_due_sends_one_now_and_the_other_a_day_later(fake, launch):
    people(fake, {"UB1": "Europe/Berlin", "UB2": "Europe/Berlin"})
    process = launch()
    weekly(process, reminders=2)
    closes = utc(2026, 11, 7, 9)
    back = utc(2026, 11, 6, 10)  # down from Monday evening until after both fell due
    with time_machine.travel(utc(2026, 11, 2, 8), tick=False) as traveller:
        ticks(traveller, process.scheduler, utc(2026, 11, 2, 8), utc(2026, 11, 2, 18))
        process.answer("UB2", rating=3)
        ticks(traveller, process.scheduler, back, utc(2026, 11, 8, 12))
    assert reminders(fake, "UB2") == []
    first, second = (posted_at(m) for m in reminders(fake, "UB1"))
    assert first == back  # one at once on the way back, not both
    assert timedelta(hours=20) <= second - first and second < closes


def test_a_one_day_round_does_not_remind_in_the_same_breath_as_the_check_in(fake, launch):
    people(fake, {"UB1": "Europe/Berlin"})
    process = launch()
    weekly(process, round_days=1, reminders=1)  # `/integrity schedule mon 10:00 days 1`
    start = utc(2026, 11, 2, 8)
    with time_machine.travel(start, tick=False) as traveller:
        ticks(traveller, process.scheduler, start, utc(2026, 11, 3, 12))
    (checkin,) = checkins(fake, "UB1")
    (reminder,) = reminders(fake, "UB1")
    # A nudge is for someone who has had the check-in a while: at least half the round.
    assert posted_at(reminder) - posted_at(checkin) >= timedelta(hours=12)
    assert posted_at(reminder) < process.store.rounds()[0].closes_at  # and still before the close


# -- 5. close and the automatic summary ------------------------------------------------------

SUMMARY_ZONES = {user: "America/New_York" for user in EXECUTIVES}
SUMMARY_ZONES |= {f"UFR{i}": "Europe/Berlin" for i in range(6)}
SECRET_QUOTE = "Only the two of us know SEKRIT-EXEC-PLAN"
FRONTLINE_QUOTE = "Customers wait on hold for an hour"


def _answered_round(fake, process: Process) -> None:
    """Both executives and five of six frontline answer the round opened on Mon 2 Nov."""
    with time_machine.travel(utc(2026, 11, 2, 8), tick=False) as traveller:
        ticks(traveller, process.scheduler, utc(2026, 11, 2, 8), utc(2026, 11, 2, 16))
        for user in EXECUTIVES:
            process.answer(user, rating=5, text=f"{SECRET_QUOTE} ({user}).")
        for i in range(5):
            process.answer(f"UFR{i}", rating=1, text=f"{FRONTLINE_QUOTE}, every day ({i}).")
    for user in SUMMARY_ZONES:
        assert len(checkins(fake, user)) == 1, user


def _close(process: Process) -> list[TickReport]:
    """Tick through the close (Sat 7 Nov 09:00 UTC, five days after Berlin's slot) and on."""
    start = utc(2026, 11, 2, 16, 30)
    with time_machine.travel(start, tick=False) as traveller:
        return ticks(traveller, process.scheduler, start, utc(2026, 11, 8, 12))


def test_the_round_closes_on_time_and_the_summary_goes_to_executives_dms(fake, launch):
    people(fake, SUMMARY_ZONES)
    process = launch()
    weekly(process)
    _answered_round(fake, process)
    reports = _close(process)

    closed = [r for r in reports if r.closed]
    assert [r.closed for r in closed] == [[1]]
    (round_,) = process.store.rounds()
    assert round_.status == "closed" and round_.closed_at == utc(2026, 11, 7, 9)
    for user in EXECUTIVES:
        got = summaries(fake, f"D{user}")
        assert got, user
        assert {posted_at(m) for m in got} == {utc(2026, 11, 7, 9)}, user  # once, at the close
        text = json.dumps([m["blocks"] for m in got]) + " ".join(m["text"] for m in got)
        assert "some of 2 executives and 5 of 6 frontline staff answered" in text, user
        assert FRONTLINE_QUOTE in text, user  # six frontline: above the floor, quoted
        (chart,) = [u for u in fake.uploads if u["channel_id"] == f"D{user}"]
        assert chart["filename"] == "trend-give-away.png"
    for i in range(6):
        assert summaries(fake, f"DUFR{i}") == []  # frontline never get the summary
    # Two executives are under the floor of 5: their words go nowhere.
    assert "SEKRIT" not in everything_received(fake)


def test_the_summary_goes_to_the_configured_channel_instead(fake, launch):
    people(fake, SUMMARY_ZONES)
    fake.add_channel("C0LEADERS", "leadership", [*EXECUTIVES, "UBOT"])
    process = launch()
    weekly(process, summary_to="C0LEADERS")
    _answered_round(fake, process)
    _close(process)

    got = summaries(fake, "C0LEADERS")
    assert got and {posted_at(m) for m in got} == {utc(2026, 11, 7, 9)}
    text = json.dumps([m["blocks"] for m in got]) + " ".join(m["text"] for m in got)
    assert "some of 2 executives and 5 of 6 frontline staff answered" in text
    assert [u["channel_id"] for u in fake.uploads] == ["C0LEADERS"]
    for user in SUMMARY_ZONES:
        assert summaries(fake, f"D{user}") == [], user
    assert "SEKRIT" not in everything_received(fake)


@pytest.mark.parametrize("failure", ["killed", "slack-500"])
def test_the_summary_survives_a_failure_at_the_close(fake, launch, monkeypatch, failure):
    people(fake, SUMMARY_ZONES)
    process = launch()
    weekly(process)
    _answered_round(fake, process)
    at_close = utc(2026, 11, 7, 9)
    with time_machine.travel(at_close - STEP, tick=False) as traveller:
        process.scheduler.tick()
        traveller.move_to(at_close)
        if failure == "killed":

            def dies(*args) -> None:
                raise Killed

            monkeypatch.setattr(process.messenger, "post_summary", dies)
            with pytest.raises(Killed):
                process.scheduler.tick()
            process = launch()
        else:
            fake.fail("chat.postMessage", status=500)  # the first executive's summary
            process.scheduler.tick()
        reports = ticks(
            traveller, process.scheduler, at_close + STEP, at_close + timedelta(hours=6)
        )
    # Killed: neither got it at the close, both get it on the first tick after the claim went
    # stale. A 500: the first executive's DM failed and is retried; the second got it at once.
    first_try = at_close + STEP if failure == "killed" else at_close
    expected = {EXECUTIVES[0]: at_close + STEP, EXECUTIVES[1]: first_try}
    for user in EXECUTIVES:
        got = summaries(fake, f"D{user}")
        assert got, user
        assert {posted_at(m) for m in got} == {expected[user]}, user  # once, none twice
        assert [u["filename"] for u in fake.uploads if u["channel_id"] == f"D{user}"] == [
            "trend-give-away.png"
        ], user
    assert sum(r.summaries_posted for r in reports) == 1
    (round_,) = process.store.rounds()
    (post,) = process.store.summary_posts(round_.id)
    assert (post["destination"], post["platform"]) == ("executives", PLATFORM)
    assert post["posted_at"] is not None and post["claimed_at"] is None
    assert process.store.owed_summary_posts([PLATFORM]) == []


# -- 6. a 429 during fan-out -------------------------------------------------------------------


@pytest.mark.slow
def test_a_429_during_fan_out_is_waited_out_and_everyone_gets_one_dm(fake, launch):
    crowd = {f"UB{i}": "Europe/Berlin" for i in range(6)}
    people(fake, crowd)
    fake.rate_limit("chat.postMessage", per_second=4, burst=2, retry_after=1)
    process = launch()
    weekly(process)
    with time_machine.travel(utc(2026, 11, 2, 9, 5), tick=False):
        report = process.scheduler.tick()
        again = process.scheduler.tick()
    assert fake.rate_limited  # the limit was met, so this tested waiting it out
    assert all(c.method == "chat.postMessage" for c in fake.rate_limited)
    assert (report.sent, report.failed, again.sent, again.failed) == (6, 0, 0, 0)
    for user in crowd:
        assert len(checkins(fake, user)) == 1, user
        assert len(posts_to(fake, user)) == 1, user
    (round_,) = process.store.rounds()
    assert round_.week == week_of(utc(2026, 11, 2, 9))
    assert [d["status"] for d in process.store.deliveries(round_.id)] == ["sent"] * 6
