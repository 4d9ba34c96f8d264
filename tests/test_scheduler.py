"""The weekly scheduler under time travel: time zones and daylight saving, crashes,
downtime over a slot, reminders, two schedulers at once, and automatic close."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.core.commands import Commands
from bot.core.domain import Person, Question, Round
from bot.core.errors import UsageError
from bot.core.replies import Reply
from bot.core.schedule import WeeklySchedule, parse_schedule
from bot.core.scheduler import SUMMARY_GIVE_UP, Scheduler, reminder_due, summary_retry_delay
from bot.core.service import IntegrityCheck
from bot.store import Store


class Killed(BaseException):
    """The process dies here (not an Exception: nothing in the bot may catch it)."""


class RecordingMessenger:
    """An in-process platform that records every post, and can die mid-send. A summary goes
    to `@USER` for each executive, or to the channel named."""

    platform = "test"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.sent: list[tuple[int, int, datetime]] = []  # person id, round number, when
        self.reminders: list[tuple[int, int]] = []
        self.summaries: list[tuple[str, Reply]] = []  # recipient, summary
        self.die_before_send: set[int] = set()
        self.die_after_send: set[int] = set()

    def people(self, workspace: str) -> list[Person]:
        return self.store.people("test", workspace)

    def send_round(self, person: Person, round_: Round, questions: list[Question]) -> str:
        if person.id in self.die_before_send:
            self.die_before_send.discard(person.id)
            raise Killed
        self.sent.append((person.id, round_.number, datetime.now(UTC)))
        if person.id in self.die_after_send:
            self.die_after_send.discard(person.id)
            raise Killed
        return f"m{person.id}-{round_.number}"

    def find_sent(self, person: Person, round_: Round) -> str | None:
        hits = [s for s in self.sent if s[:2] == (person.id, round_.number)]
        return f"m{person.id}-{round_.number}" if hits else None

    def remind(self, person: Person, round_: Round, unanswered: list[Question]) -> None:
        self.reminders.append((person.id, round_.number))

    def summary_recipients(self, workspace: str, to: str) -> list[str]:
        if to != "executives":
            return [to]
        return [f"@{p.user_id}" for p in self.store.people("test", workspace) if p.is_executive]

    def post_summary(self, workspace: str, recipient: str, reply: Reply) -> None:
        self.summaries.append((recipient, reply))

    def count(self, person_id: int, number: int) -> int:
        return sum(1 for p, n, _ in self.sent if (p, n) == (person_id, number))

    def got(self, recipient: str) -> int:
        return sum(1 for t, _ in self.summaries if t == recipient)


class FailingMessenger(RecordingMessenger):
    """Its summary posts can fail: a recipient in `fail_summary` fails that many times, one
    in `unreachable` every time, and `die_in_summary` kills the process in its next summary
    post. `tries` lists every recipient posted to, failed or not."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.fail_summary: dict[str, int] = {}
        self.unreachable: set[str] = set()
        self.die_in_summary = False
        self.tries: list[str] = []

    def post_summary(self, workspace: str, recipient: str, reply: Reply) -> None:
        if self.die_in_summary:
            self.die_in_summary = False
            raise Killed
        self.tries.append(recipient)
        if recipient in self.unreachable:
            raise PermissionError(f"{recipient} cannot be messaged")
        if self.fail_summary.get(recipient):
            self.fail_summary[recipient] -= 1
            raise ConnectionError(f"no route to {recipient}")
        super().post_summary(workspace, recipient, reply)


ZONES = ["Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney", None]


@pytest.fixture
def world(store, settings):
    service = IntegrityCheck(store, settings)
    people = [
        store.add_person("test", "W", f"u{i}", f"P{i}", "frontline", tz=zone, team="Support")
        for i, zone in enumerate(ZONES)
    ]
    store.save_schedule(
        WeeklySchedule("test", "W", weekday=0, local_time=time(10), tz="Europe/London").to_row()
    )
    messenger = RecordingMessenger(store)
    return service, people, messenger, Scheduler(service, {"test": messenger})


def _ticks(start: datetime, end: datetime, step: timedelta):
    moment = start
    while moment <= end:
        yield moment
        moment += step


def test_a_fortnight_across_time_zones_and_daylight_saving(world):
    service, people, messenger, scheduler = world
    # 26 Oct 2026: Europe has just left summer time, New York leaves it on 1 Nov.
    start = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for moment in _ticks(start, start + timedelta(days=14), timedelta(minutes=20)):
            traveller.move_to(moment)
            scheduler.tick()
    for person in people:
        got = [(n, at) for p, n, at in messenger.sent if p == person.id]
        assert [n for n, _ in got] == [1, 2], person  # one message a week, never repeated
        zone = ZoneInfo(person.tz or "Europe/London")
        for _, at in got:
            local = at.astimezone(zone)
            assert local.weekday() == 0 and time(10) <= local.time() < time(10, 20), (person, local)
    # The same local 10:00 in New York is 14:00 UTC before the change and 15:00 after.
    new_york = [at for p, _, at in messenger.sent if p == people[1].id]
    assert [at.astimezone(UTC).hour for at in new_york] == [14, 15]
    assert [r.week for r in service.store.rounds()] == ["2026-W44", "2026-W45"]


def test_killed_between_claim_and_send_is_sent_once_after_restart(world):
    service, people, messenger, scheduler = world
    monday = datetime(2026, 11, 2, 10, 5, tzinfo=ZoneInfo("Europe/London"))
    messenger.die_before_send.add(people[0].id)
    with time_machine.travel(monday, tick=False) as traveller:
        with pytest.raises(Killed):
            scheduler.tick()
        restarted = Scheduler(IntegrityCheck(service.store, service.settings), {"test": messenger})
        restarted.tick()  # the claim is fresh: maybe still sending, so wait
        assert messenger.count(people[0].id, 1) == 0
        traveller.shift(timedelta(minutes=6))
        restarted.tick()
    assert messenger.count(people[0].id, 1) == 1


def test_killed_between_send_and_record_is_not_sent_twice(world):
    service, people, messenger, scheduler = world
    monday = datetime(2026, 11, 2, 10, 5, tzinfo=ZoneInfo("Europe/London"))
    messenger.die_after_send.add(people[0].id)
    with time_machine.travel(monday, tick=False) as traveller:
        with pytest.raises(Killed):
            scheduler.tick()
        traveller.shift(timedelta(minutes=10))
        report = Scheduler(service, {"test": messenger}).tick()
    assert report.recovered == 1
    assert messenger.count(people[0].id, 1) == 1
    delivery = service.store.delivery_for(1, people[0].id)
    assert delivery["status"] == "sent" and delivery["message_ref"] == f"m{people[0].id}-1"


def test_down_over_the_slot_catches_up_within_the_window_only(world):
    service, people, messenger, scheduler = world
    london = people[0]
    # Back 6 hours after London's 10:00 slot: inside the 12-hour window.
    with time_machine.travel(datetime(2026, 11, 2, 16, 0, tzinfo=UTC), tick=False):
        scheduler.tick()
    assert messenger.count(london.id, 1) == 1
    # Back 13 hours after the next week's slot: too late, wait for the week after.
    messenger.sent.clear()
    with time_machine.travel(datetime(2026, 11, 9, 23, 0, tzinfo=UTC), tick=False):
        report = scheduler.tick()
    assert messenger.count(london.id, 2) == 0 and report.skipped_stale >= 1
    with time_machine.travel(datetime(2026, 11, 16, 10, 1, tzinfo=UTC), tick=False):
        scheduler.tick()
    # New York's slot was only 8 hours old then, so week 46 did open (round 2) without
    # London; London's next check-in is week 47's round.
    assert messenger.count(london.id, 2) == 0 and messenger.count(london.id, 3) == 1


def test_reminders_go_to_non_responders_at_most_once_a_day(world):
    service, people, messenger, scheduler = world
    service.store.save_schedule(
        WeeklySchedule(
            "test", "W", weekday=0, local_time=time(10), tz="Europe/London", reminders=2
        ).to_row()
    )
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for moment in _ticks(start, start + timedelta(days=2), timedelta(hours=1)):
            traveller.move_to(moment)
            scheduler.tick()
        responder = people[0]
        service.record_answer(responder, "give-away", rating=4)
        for moment in _ticks(
            start + timedelta(days=2), start + timedelta(days=8), timedelta(hours=1)
        ):
            traveller.move_to(moment)
            scheduler.tick()
    reminded = [p for p, _ in messenger.reminders]
    assert responder.id not in reminded
    for person in people[1:]:
        assert reminded.count(person.id) == 2  # reminders=2, on two different days


def test_a_reminder_is_never_due_before_half_the_time_from_check_in_to_close():
    monday = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    # A 5-day round: the last `left` days before the close, as before.
    closes = monday + timedelta(days=5)
    assert reminder_due(closes, monday, 1) == closes - timedelta(days=1)
    assert reminder_due(closes, monday, 2) == closes - timedelta(days=2)
    # Checked in late (a catch-up): half the time it had left, if that is later.
    late = monday + timedelta(days=3)
    assert reminder_due(closes, late, 2) == late + timedelta(days=1)
    # A 1-day round: not with the check-in but halfway to the close.
    tuesday = monday + timedelta(days=1)
    assert reminder_due(tuesday, monday, 1) == monday + timedelta(hours=12)
    # No send time known (an old row): the day rule alone.
    assert reminder_due(tuesday, None, 1) == monday


def test_a_one_day_round_reminds_halfway_not_with_the_check_in(world):
    service, people, messenger, scheduler = world
    service.store.save_schedule(
        WeeklySchedule(
            "test", "W", weekday=0, local_time=time(10), tz="Europe/London", round_days=1
        ).to_row()
    )
    london = people[0]
    start = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # London's slot: round 1 opens
    with time_machine.travel(start, tick=False) as traveller:
        scheduler.tick()
        sent_at = datetime.fromisoformat(service.store.delivery_for(1, london.id)["sent_at"])
        assert sent_at == start and messenger.reminders == []
        traveller.move_to(start + timedelta(hours=11, minutes=59))
        scheduler.tick()
        assert (london.id, 1) not in messenger.reminders
        traveller.move_to(start + timedelta(hours=12))
        assert scheduler.tick().reminded >= 1
        assert messenger.reminders.count((london.id, 1)) == 1
        traveller.move_to(start + timedelta(hours=23))
        scheduler.tick()  # one a day at most: no second one before the close
    assert messenger.reminders.count((london.id, 1)) == 1


def test_the_round_closes_on_time_and_its_summary_goes_to_executives(world):
    service, people, messenger, scheduler = world
    service.store.add_person("test", "W", "boss", "Bo Boss", "executive")
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        scheduler.tick()
        traveller.move_to(start + timedelta(hours=2))
        scheduler.tick()
        assert service.open_round() is not None
        traveller.move_to(start + timedelta(days=5, hours=2))
        report = scheduler.tick()
    assert report.closed == [1] and service.open_round() is None
    ((to, reply),) = messenger.summaries
    assert to == "@boss" and "Integrity check: round 1" in reply.as_text()
    (chart,) = reply.files  # the gap over time goes with every end-of-round summary
    assert chart.name == "trend-give-away.png" and chart.content.startswith(b"\x89PNG")


def test_two_schedulers_at_once_never_send_twice(world, settings):
    service, people, messenger, _ = world
    for i in range(20):
        service.store.add_person("test", "W", f"x{i}", f"X{i}", "frontline", tz="Europe/London")
    second_store = Store(settings.db_path)
    schedulers = [
        Scheduler(service, {"test": messenger}),
        Scheduler(IntegrityCheck(second_store, settings), {"test": messenger}),
    ]
    with time_machine.travel(datetime(2026, 11, 2, 10, 30, tzinfo=UTC), tick=False):
        threads = [threading.Thread(target=s.tick) for s in schedulers for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    london = [
        p for p in service.store.people("test", "W") if (p.tz or "Europe/London") == "Europe/London"
    ]
    for person in london:
        assert messenger.count(person.id, 1) == 1
    assert len(service.store.rounds()) == 1


def test_parse_schedule_names_what_is_wrong():
    ok = parse_schedule(
        "slack", "T", ["tue", "09:30", "tz", "America/Chicago", "days", "4", "reminders", "2"], None
    )
    assert (ok.weekday, ok.local_time, ok.tz, ok.round_days, ok.reminders) == (
        1, time(9, 30), "America/Chicago", 4, 2,
    )  # fmt: skip
    for words, message in [
        ("funday 10:00", "not a day"),
        ("mon 25h", "not a time"),
        ("mon 10:00 tz Mars/Base", "not a time zone"),
        ("mon 10:00 days 9", "days must be"),
        ("mon 10:00 colour blue", "don't know the option"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_schedule("slack", "T", words.split(), None)


def test_schedule_command_is_for_admins_and_shows_in_status(commands, service, admin):
    worker = service.store.add_person("test", "W", "w1", "W", "frontline")
    assert "Only admins" in commands.handle(worker, "/integrity schedule mon 10:00").as_text()
    done = commands.handle(admin, "/integrity schedule monday 10:00 tz Europe/London")
    assert "Mondays at 10:00" in done.as_text()
    assert "Mondays at 10:00" in commands.handle(worker, "/integrity status").as_text()
    commands.handle(admin, "/integrity schedule off")
    assert "No weekly check-in" in commands.handle(admin, "/integrity schedule").as_text()


def test_a_round_closed_by_the_next_weeks_opening_is_not_sent_in_the_same_tick(world):
    service, people, messenger, scheduler = world
    london, tokyo, sydney, fallback = people[0], people[2], people[3], people[4]
    service.store.save_schedule(
        WeeklySchedule(
            "test", "W", weekday=0, local_time=time(10), tz="Europe/London", round_days=7
        ).to_row()
    )
    with time_machine.travel(datetime(2026, 10, 26, 10, 30, tzinfo=UTC), tick=False):
        scheduler.tick()  # round 1 (week 44), open until next Monday 10:00 London
    for person in (london, fallback):  # their sends failed: retried on every tick
        service.store.fail_delivery(service.store.delivery_for(1, person.id)["id"])
    messenger.sent.clear()
    # Monday 01:30 UTC: Tokyo's and Sydney's 10:00 has passed, London is still in week 44.
    with time_machine.travel(datetime(2026, 11, 2, 1, 30, tzinfo=UTC), tick=False):
        report = scheduler.tick()
    assert report.opened == [2]  # opening week 45's round closed round 1
    assert messenger.count(tokyo.id, 2) == 1 and messenger.count(sydney.id, 2) == 1
    assert not [s for s in messenger.sent if s[1] == 1]  # nobody gets the closed round


# -- summaries owed at the close --------------------------------------------------------------

EXECS = ["@e0", "@e1", "@e2"]


@pytest.fixture
def addressed(world):
    """The world with three executives and a messenger whose summary posts can fail."""
    service, people, _, _ = world
    for i in range(3):
        service.store.add_person("test", "W", f"e{i}", f"E{i}", "executive")
    messenger = FailingMessenger(service.store)
    return service, messenger, Scheduler(service, {"test": messenger})


def _open_round(scheduler, traveller) -> Round:
    traveller.move_to(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    scheduler.tick()
    current = scheduler.service.open_round()
    assert current is not None
    return current


def test_a_failed_recipient_is_retried_alone_after_a_wait_that_doubles(addressed, caplog):
    service, messenger, scheduler = addressed
    messenger.fail_summary["@e1"] = 2
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        round_ = _open_round(scheduler, traveller)
        traveller.move_to(round_.closes_at)
        first = scheduler.tick()
        assert (first.closed, first.summaries_posted, first.summaries_failed) == ([1], 0, 1)
        assert [messenger.got(to) for to in EXECS] == [1, 0, 1]
        (post,) = service.store.owed_summary_posts(["test"])
        assert post["posted_to"] == ["@e0", "@e2"] and post["claimed_at"] is None
        assert post["attempts"] == 1
        retry_at = datetime.fromisoformat(post["retry_at"])
        assert retry_at == round_.closes_at + timedelta(minutes=1)
        reports = []
        for _ in range(3):
            traveller.shift(timedelta(minutes=1))
            reports.append(scheduler.tick())
    # Failed again a minute later, waits two minutes (not tried at +2), gets through at +3.
    assert [(r.summaries_posted, r.summaries_failed) for r in reports] == [(0, 1), (0, 0), (1, 0)]
    assert messenger.tries == ["@e0", "@e1", "@e2", "@e1", "@e1"]
    assert [messenger.got(to) for to in EXECS] == [1, 1, 1]  # nobody got it twice
    assert service.store.owed_summary_posts(["test"]) == []
    assert "Could not post the summary of round 1 to @e1" in caplog.text
    assert "still owed to executives (@e1): try 2 failed" in caplog.text


def test_a_summary_claimed_by_a_killed_process_is_taken_over_once_stale(addressed):
    service, messenger, scheduler = addressed
    messenger.die_in_summary = True
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        round_ = _open_round(scheduler, traveller)
        traveller.move_to(round_.closes_at)
        with pytest.raises(Killed):
            scheduler.tick()
        assert not service.store.round(round_.id).is_open  # closed, and owing its summary
        restarted = Scheduler(IntegrityCheck(service.store, service.settings), {"test": messenger})
        traveller.shift(timedelta(minutes=4))
        assert restarted.tick().summaries_posted == 0  # the claim is fresh: maybe posting
        assert messenger.summaries == []
        traveller.shift(timedelta(minutes=2))
        assert restarted.tick().summaries_posted == 1
        assert restarted.tick().summaries_posted == 0
    assert [messenger.got(to) for to in EXECS] == [1, 1, 1]


def test_the_wait_between_tries_doubles_from_a_minute_up_to_an_hour():
    waits = [summary_retry_delay(n) for n in range(1, 10)]
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    assert summary_retry_delay(10_000) == timedelta(hours=1)


def _summary_tries(messenger, recipient: str, tick, moments) -> tuple[list, list]:
    """Tick at each moment: the reports, and the moments at which `recipient` was tried."""
    reports, tried = [], []
    for moment in moments:
        before = messenger.tries.count(recipient)
        reports.append(tick(moment))
        if messenger.tries.count(recipient) > before:
            tried.append(moment)
    return reports, tried


def test_a_recipient_down_for_half_an_hour_gets_it_once_with_a_few_tries(addressed, clock, caplog):
    service, messenger, _ = addressed
    # The service's own clock (not the machine's) decides when a post is due again.
    scheduler = Scheduler(
        IntegrityCheck(service.store, service.settings, clock=clock), {"test": messenger}
    )
    clock.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    scheduler.tick()
    closes = scheduler.service.open_round().closes_at
    messenger.unreachable.add("@e1")  # an outage for this DM, over after 30 minutes

    def tick(moment: datetime):
        clock.now = moment
        if moment >= closes + timedelta(minutes=30):
            messenger.unreachable.discard("@e1")
        return scheduler.tick()

    minutes = [closes + timedelta(minutes=m) for m in range(121)]  # a tick a minute, 2 hours
    reports, tried = _summary_tries(messenger, "@e1", tick, minutes)
    # Tried at the close, then 1, 2, 4, 8 and 16 minutes after each failure: reached at +31.
    assert [int((at - closes).total_seconds()) // 60 for at in tried] == [0, 1, 3, 7, 15, 31]
    assert len(messenger.tries) == 2 + 6  # e0 and e2 once, e1 six times over 121 ticks
    assert [messenger.got(to) for to in EXECS] == [1, 1, 1]
    assert sum(r.summaries_failed for r in reports) == 5
    assert sum(r.summaries_posted for r in reports) == 1
    assert not any(r.summaries_abandoned for r in reports)
    assert service.store.owed_summary_posts(["test"]) == []
    # One traceback, at the first failure; then one warning line a try, naming the error.
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in tracebacks] == ["Could not post the summary of round 1 to @e1"]
    still_owed = [r for r in caplog.records if "still owed to executives (@e1)" in r.getMessage()]
    assert len(still_owed) == 5 and all(r.levelname == "WARNING" for r in still_owed)
    assert all("PermissionError: @e1 cannot be messaged" in r.getMessage() for r in still_owed)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_recipient_who_can_never_be_reached_is_given_up_with_one_error(addressed, caplog):
    service, messenger, scheduler = addressed
    messenger.unreachable.add("@e1")  # e.g. a deactivated account
    # Built afresh at each of some 80 tries: a plain summary (the chart takes 0.15 s).
    scheduler._summary_reply = lambda round_: Reply.text(f"Integrity check: round {round_.number}")
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        round_ = _open_round(scheduler, traveller)
        closes = round_.closes_at

        def tick(moment: datetime):
            traveller.move_to(moment)
            return scheduler.tick()

        # A tick a minute for three hours, then (to keep the test quick) one every quarter
        # of an hour, up to a day past the give-up time.
        moments = [
            *_ticks(closes, closes + timedelta(hours=3), timedelta(minutes=1)),
            *_ticks(
                closes + timedelta(hours=3, minutes=15),
                closes + SUMMARY_GIVE_UP + timedelta(days=1),
                timedelta(minutes=15),
            ),
        ]
        reports, tried = _summary_tries(messenger, "@e1", tick, moments)
    assert reports[0].closed == [1]
    after = [int((at - closes).total_seconds()) // 60 for at in tried]
    assert after[:8] == [0, 1, 3, 7, 15, 31, 63, 123]  # doubling, then an hour apart
    gaps = [b - a for a, b in zip(after, after[1:], strict=False)]
    assert all(60 <= gap <= 75 for gap in gaps[7:-1])  # the hour, rounded up to a tick
    # The last try is at the give-up time, and none after it.
    assert tried[-1] == closes + SUMMARY_GIVE_UP
    assert len(tried) < 100  # not 4,320 (a try a minute for three days)
    abandoned = [(at, r.summaries_abandoned) for at, r in zip(moments, reports, strict=True)]
    assert [item for item in abandoned if item[1]] == [(closes + SUMMARY_GIVE_UP, 1)]
    assert [messenger.got(to) for to in EXECS] == [1, 0, 1]  # the others once, not per try
    assert messenger.tries.count("@e0") == messenger.tries.count("@e2") == 1
    # Given up: never owed again, and who did get it is kept.
    assert service.store.owed_summary_posts(["test"]) == []
    (post,) = service.store.summary_posts(round_.id)
    assert post["status"] == "given_up" and post["posted_to"] == ["@e0", "@e2"]
    assert post["attempts"] == len(tried) and post["claimed_at"] is None
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1  # the give-up, once
    message = errors[0].getMessage()
    assert message.startswith("Gave up the summary of round 1 to executives")
    assert "never reached @e1 (@e1: PermissionError: @e1 cannot be messaged)" in message
    assert "reached @e0, @e2" in message
    assert len([r for r in caplog.records if r.exc_info]) == 1  # the first failure only


def test_each_round_summary_is_built_once_a_tick_for_all_its_destinations(addressed):
    service, messenger, scheduler = addressed
    service.store.save_schedule(
        WeeklySchedule(
            "test", "W2", weekday=0, local_time=time(10), tz="Europe/London", summary_to="C9"
        ).to_row()
    )
    built = []
    build = scheduler._summary_reply

    def counted(round_: Round) -> Reply:
        built.append(round_.number)
        return build(round_)

    scheduler._summary_reply = counted
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        round_ = _open_round(scheduler, traveller)
        traveller.move_to(round_.closes_at)
        report = scheduler.tick()
    assert report.summaries_posted == 2 and built == [1]
    assert [messenger.got(to) for to in [*EXECS, "C9"]] == [1, 1, 1, 1]
    destinations = {(p["workspace"], p["destination"]) for p in service.store.summary_posts(1)}
    assert destinations == {("W", "executives"), ("W2", "C9")}


def test_a_round_closed_by_hand_or_before_the_upgrade_owes_no_summary(addressed, admin):
    service, messenger, scheduler = addressed
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        round_ = _open_round(scheduler, traveller)
        traveller.shift(timedelta(hours=1))
        service.close_round(admin)  # `/integrity close`: the executive reads `summary` then
        for _ in range(3):
            traveller.shift(timedelta(minutes=1))
            scheduler.tick()
    assert not service.store.round(round_.id).is_open
    assert service.store.summary_posts(round_.id) == [] and messenger.summaries == []


def test_an_ad_hoc_round_closed_by_the_weekly_one_gets_its_summary(addressed, admin):
    service, messenger, scheduler = addressed
    with time_machine.travel(datetime(2026, 10, 30, 12, 0, tzinfo=UTC), tick=False) as traveller:
        ad_hoc = service.start_round(admin)  # `/integrity ask` on a Friday
        traveller.move_to(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
        report = scheduler.tick()  # the week's round opens, the ad-hoc one gives way
    assert report.opened == [2] and report.closed == [ad_hoc.number]
    assert report.summaries_posted == 1
    assert [messenger.got(to) for to in EXECS] == [1, 1, 1]
    assert all(
        f"Integrity check: round {ad_hoc.number}" in reply.as_text()
        for _, reply in messenger.summaries
    )


def test_two_schedulers_at_the_close_post_each_summary_once(addressed, settings):
    service, messenger, scheduler = addressed
    second_store = Store(settings.db_path)
    second = Scheduler(IntegrityCheck(second_store, settings), {"test": messenger})
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        round_ = _open_round(scheduler, traveller)
        traveller.move_to(round_.closes_at)
        threads = [threading.Thread(target=s.tick) for s in (scheduler, second) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    second_store.close()
    assert [messenger.got(to) for to in EXECS] == [1, 1, 1]
    assert len(service.store.summary_posts(round_.id)) == 1


def test_a_shared_summary_goes_to_everyone_who_was_asked(world):
    service, people, messenger, scheduler = world
    boss = service.store.add_person("test", "W", "boss", "Bo Boss", "executive")
    late = service.store.add_person("test", "W", "late", "Newcomer", "frontline")
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        current = service.start_round(boss)
        service.deliver(current, [*people, boss], lambda *_: "m")
        service.close_round(boss, current)
        commands = Commands(service)
        reply = commands.handle(boss, "/integrity share")
        assert "Round 1's summary goes to the 6 people who were asked" in reply.as_text()
        again = commands.handle(boss, "/integrity share round 1").as_text()
        assert "already shared with everyone who was asked" in again
        traveller.move_to(start + timedelta(minutes=1))
        scheduler.tick()
    recipients = sorted(to for to, _ in messenger.summaries)
    assert recipients == sorted(f"@{p.user_id}" for p in [*people, boss])
    assert f"@{late.user_id}" not in recipients  # not asked in round 1
    assert all("Integrity check: round 1" in r.as_text() for _, r in messenger.summaries)


def test_share_is_for_executives_and_closed_rounds_and_can_name_a_channel(world):
    service, people, messenger, scheduler = world
    boss = service.store.add_person("test", "W", "boss", "Bo Boss", "executive")
    commands = Commands(service)
    assert "Only executives can share" in commands.handle(people[0], "share").as_text()
    assert "No round has closed yet" in commands.handle(boss, "share").as_text()
    current = service.start_round(boss)
    assert "still open" in commands.handle(boss, "share round 1").as_text()
    service.close_round(boss, current)
    text = commands.handle(boss, "/integrity share round 1 <#C42|all-hands>").as_text()
    assert "goes to the channel <#C42|all-hands>" in text
    (post,) = service.store.summary_posts(current.id)
    assert post["destination"] == "C42"
    scheduler.tick()
    assert [to for to, _ in messenger.summaries] == ["C42"]
    assert "Usage:" in commands.handle(boss, "share round x").as_text()
