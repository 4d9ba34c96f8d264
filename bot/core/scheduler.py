"""The weekly check-in scheduler: one reconcile tick, with the truth in SQLite.

`schedule` runs `Scheduler.tick` every minute. `schedule` itself keeps nothing
across restarts and silently skips a slot that passed while the process was
down, so the tick never relies on having run before: each time it works out
from the database and the clock

1. which open rounds are due to close (closed, each owing its summary, in one
   transaction);
2. for every person with a schedule, when their most recent local check-in slot
   was (their own time zone, falling back to the schedule's; `zoneinfo` handles
   daylight-saving changes), whether that slot is still inside the catch-up
   window, and whether that week's round was already delivered to them;
3. who is owed a reminder (delivered, not answered, at most one a day, and not
   before half the time from their check-in to the close has passed);
4. which summaries are still owed (`summary_posts`), and posts them (a summary an
   executive shared with `/integrity share` goes to everyone the round was sent to).

Sends go claim → send → record, through the core's delivery claims: a person
is claimed in SQLite before the message is posted, so two ticks or two
processes never send the same round twice; a claim left by a process that died
before recording its send is taken over after `stale_claim` and checked with the
platform (`Messenger.find_sent`) before anything is sent again. A tick works out who
is due with a few queries (each slot's round and each round's deliveries read once),
then sends through `SEND_WORKERS` threads, so one post's network wait overlaps the
next one's database work; the messenger's pacer sets the rate.

Summaries go the same way. A round the scheduler closes (on time, or an ad-hoc round
giving way to the weekly one) owes its summary to each workspace's `summary_to`, written
in the transaction that closes it; every tick claims each owed post that is due, posts
it, and records it, so a crash or a platform error between the close and the post delays
the summary instead of losing it. The messenger turns a destination into its recipients
(`Messenger.summary_recipients`: each executive's DM, or the channel) and each one
reached is recorded, so a retry posts only to those still owed it: one executive who
cannot be reached is retried without the others getting it again. A failed post is
released with its next try 1, 2, 4, … minutes on (at most an hour apart,
`summary_retry_delay`), so an outage delays a summary by at most about twice as long
(20 minutes: tries at minutes 0, 1, 3, 7, 15, 31); one still owed `SUMMARY_GIVE_UP`
after its round closed (an executive who deactivated their account or removed the app)
is given up, with one error naming who never got it, instead of being tried every
minute for ever. A claim left by a dead process is taken over after `stale_claim`.

The platform side is a `Messenger` (Slack, Teams): it knows the people of a
workspace, posts, and paces its own posts to its platform's rate limits.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import schedule as schedule_lib

from bot.core.domain import Person, Round
from bot.core.errors import UsageError
from bot.core.messenger import Messenger
from bot.core.replies import Reply
from bot.core.schedule import WeeklySchedule, week_of
from bot.core.service import SHARE_WITH_ASKED, IntegrityCheck
from bot.core.summaries import closed_round_summary

logger = logging.getLogger(__name__)

#: Check-ins posted at once in a tick (the messenger's pacer sets the rate).
SEND_WORKERS = 8
#: The wait after a summary post's first failed try; it doubles with each failed try...
SUMMARY_RETRY_FIRST = timedelta(minutes=1)
#: ... up to this, so a recipient who comes back waits at most an hour for it.
SUMMARY_RETRY_MAX = timedelta(hours=1)
#: How long after its round closed a summary post may stay owed before it is given up.
#: Rounds are weekly, so the next summary (a week after this one) supersedes it, and a
#: summary days late is read as stale; three days still cover an outage or an account
#: fixed over a long weekend. An executive can still read it: `/integrity summary round N`.
SUMMARY_GIVE_UP = timedelta(days=3)


def reminder_due(closes_at: datetime, sent_at: datetime | None, left: int) -> datetime:
    """When the next of `left` reminders falls due: on the last `left` days before the close,
    but never before half the time from the check-in to the close has passed, so a short
    round does not remind someone in the same breath as it asks them (a 1-day round with one
    reminder: 12 hours after the check-in, not with it)."""
    due = closes_at - timedelta(days=left)
    if sent_at is not None:
        due = max(due, sent_at + (closes_at - sent_at) / 2)
    return due


def summary_retry_delay(failed_tries: int) -> timedelta:
    """How long a summary post waits after its `failed_tries`-th failed try: 1, 2, 4, …
    minutes, at most `SUMMARY_RETRY_MAX`."""
    doublings = min(max(failed_tries - 1, 0), 20)  # 2**20 minutes is far past the cap
    return min(SUMMARY_RETRY_FIRST * 2**doublings, SUMMARY_RETRY_MAX)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


@dataclass
class TickReport:
    opened: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    sent: int = 0
    recovered: int = 0
    skipped_stale: int = 0
    reminded: int = 0
    failed: int = 0
    summaries_posted: int = 0
    summaries_failed: int = 0  # tried and failed: released for a later try
    summaries_abandoned: int = 0  # failed once more after `SUMMARY_GIVE_UP`: given up


class Scheduler:
    """Reconciles the database with the clock: opens, delivers, reminds, closes."""

    def __init__(
        self,
        service: IntegrityCheck,
        messengers: dict[str, Messenger],
        *,
        stale_claim: timedelta = timedelta(minutes=5),
    ) -> None:
        self.service = service
        self.messengers = messengers
        self.stale_claim = stale_claim
        self._tick_lock = threading.Lock()

    @property
    def store(self):
        return self.service.store

    def schedules(self) -> list[WeeklySchedule]:
        return [s for s in self.service.schedules() if s.platform in self.messengers]

    def tick(self) -> TickReport:
        """One reconcile pass; safe to run at any time, any number of times."""
        with self._tick_lock:
            report = TickReport()
            self._close_due(report)
            for workspace_schedules in self._by_workspace().values():
                self._deliver_workspace(workspace_schedules, report)
            self._remind(report)
            # Last: check-ins are due at a slot, a summary a few seconds later does no harm,
            # and a round closed by this tick's opening of the week's round is owed one too.
            self._post_summaries(report)
            return report

    def _by_workspace(self) -> dict[tuple[str, str], list[WeeklySchedule]]:
        grouped: dict[tuple[str, str], list[WeeklySchedule]] = {}
        for item in self.schedules():
            grouped.setdefault((item.platform, item.workspace), []).append(item)
        return grouped

    # -- closing ----------------------------------------------------------------

    def _close_due(self, report: TickReport) -> None:
        closed = self.service.close_due_rounds(summaries=self._summary_destinations())
        report.closed.extend(r.number for r in closed)

    def _summary_destinations(self) -> list[tuple[str, str, str]]:
        """Where a round the scheduler closes owes its summary: each workspace's own
        `summary_to` (a team's schedule sets when the team is asked, not a summary)."""
        return [(s.platform, s.workspace, s.summary_to) for s in self.schedules() if not s.team]

    # -- summaries --------------------------------------------------------------

    def _post_summaries(self, report: TickReport) -> None:
        """Post every owed summary this process has a messenger for whose next try is due;
        each round's summary is built once a tick, whatever the number of its destinations."""
        now = self.service.now()
        owed = self.store.owed_summary_posts(self.messengers, due_by=now)
        replies: dict[int, Reply | Exception] = {}
        for post in owed:
            outcome = self._post_summary(post, replies, now)
            if outcome is not None:
                setattr(report, outcome, getattr(report, outcome) + 1)

    def _post_summary(
        self, post: dict, replies: dict[int, Reply | Exception], now: datetime
    ) -> str | None:
        """Claim, post, record one owed summary post: which of the report's counts it adds to.

        The unit of record is a recipient. For "executives" a platform sends one DM per
        executive, and one of them failing (a 500, a deactivated account) must neither
        lose the summary for that executive nor post it again to those who got it: so the
        destination is posted to one recipient at a time (`Messenger.summary_recipients`,
        asked again on every try), each one recorded (`posted_to`) as it is reached, and a
        retry posts only to the rest. The post stays owed until every recipient got it, and
        nobody else gets it again; a try that fails is retried later, or given up once the
        post is owed too long (`_summary_failed`). A recipient is the messenger's address
        (an `@USER` or a channel); a summary that fails halfway through one recipient's
        messages is posted to that recipient again, whole.

        The first failed try of a post logs each error with its traceback; later ones log
        one warning line, naming the error: one recipient gone for good is a few dozen lines
        over `SUMMARY_GIVE_UP`, not a traceback a minute.
        """
        claimed = self.store.claim_summary_post(post["id"], now - self.stale_claim, now)
        if claimed is None:
            return None  # posted meanwhile, being posted by another tick or process, or not due
        round_ = self.store.round(claimed["round_id"])
        workspace, destination = claimed["workspace"], claimed["destination"]
        messenger = self.messengers[claimed["platform"]]
        first_try = claimed["attempts"] == 0
        if round_.id not in replies:
            try:
                replies[round_.id] = self._summary_reply(round_)
            except Exception as error:
                # Our own bug, not the platform's: an error with its traceback at the first
                # try, not built again before the next tick.
                if first_try:
                    logger.exception("Could not build the summary of round %s", round_.number)
                replies[round_.id] = error
        reply = replies[round_.id]
        if isinstance(reply, Exception):
            why = f"could not build it: {_error(reply)}"
            return self._summary_failed(claimed, round_, now, "its recipients", why, [])
        try:
            if destination == SHARE_WITH_ASKED:  # `/integrity share`: everyone who was asked
                asked = self.service.asked_in(round_, claimed["platform"], workspace)
                recipients = [person.recipient for person in asked]
            else:
                recipients = list(messenger.summary_recipients(workspace, destination))
        except Exception as error:
            if first_try:
                logger.warning(
                    "Could not find who gets the summary of round %s at %s",
                    round_.number,
                    destination,
                    exc_info=True,
                )
            why = f"could not find who gets it: {_error(error)}"
            return self._summary_failed(claimed, round_, now, "its recipients", why, [])
        reached = list(claimed["posted_to"])
        failed: dict[str, Exception] = {}
        for recipient in recipients:
            if recipient in reached:
                continue  # reached by an earlier try
            try:
                messenger.post_summary(workspace, recipient, reply)
            except Exception as error:
                if first_try:
                    logger.warning(
                        "Could not post the summary of round %s to %s",
                        round_.number,
                        recipient,
                        exc_info=True,
                    )
                failed[recipient] = error
                continue
            self.store.record_summary_recipient(claimed["id"], recipient)
            reached.append(recipient)
        if failed:
            why = "; ".join(f"{to}: {_error(error)}" for to, error in failed.items())
            return self._summary_failed(claimed, round_, now, ", ".join(failed), why, reached)
        self.store.complete_summary_post(claimed["id"])
        return "summaries_posted"

    def _summary_failed(
        self,
        claimed: dict,
        round_: Round,
        now: datetime,
        owed_to: str,
        why: str,
        reached: list[str],
    ) -> str:
        """A try of a claimed summary post failed (`why`; `owed_to` did not get it). Once the
        post has been owed `SUMMARY_GIVE_UP` since its round closed, give it up, with one
        error; until then release it, with its next try `summary_retry_delay` on (and never
        after the give-up time, so the last try falls on it)."""
        tries = claimed["attempts"] + 1
        closed_at = round_.closed_at or datetime.fromisoformat(claimed["owed_at"])
        give_up_at = closed_at + SUMMARY_GIVE_UP
        destination = claimed["destination"]
        if now >= give_up_at:
            self.store.give_up_summary_post(claimed["id"])
            logger.error(
                "Gave up the summary of round %s to %s after %s tries over %s: never reached "
                "%s (%s); reached %s. Not tried again; `/integrity summary round %s` shows it.",
                round_.number,
                destination,
                tries,
                now - closed_at,
                owed_to,
                why,
                ", ".join(reached) or "nobody",
                round_.number,
            )
            return "summaries_abandoned"
        retry_at = min(now + summary_retry_delay(tries), give_up_at)
        self.store.release_summary_post(claimed["id"], retry_at)
        logger.warning(
            "The summary of round %s is still owed to %s (%s): try %s failed (%s); "
            "next try at %s, given up at %s",
            round_.number,
            destination,
            owed_to,
            tries,
            why,
            f"{retry_at:%Y-%m-%d %H:%M:%S %Z}",
            f"{give_up_at:%Y-%m-%d %H:%M %Z}",
        )
        return "summaries_failed"

    def _summary_reply(self, round_: Round) -> Reply:
        return closed_round_summary(self.service, round_)

    # -- delivering -------------------------------------------------------------

    def _deliver_workspace(self, schedules: list[WeeklySchedule], report: TickReport) -> None:
        default = next((s for s in schedules if not s.team), schedules[0])
        by_team = {s.team.lower(): s for s in schedules if s.team}
        messenger = self.messengers[default.platform]
        now = self.service.now()
        try:
            people = messenger.people(default.workspace)
        except Exception:
            logger.exception("Could not list the people of %s", default.workspace)
            return
        # Everyone in a time zone shares a slot, and everyone in a round its deliveries: read
        # each once a tick, not once a person (10,000 people are 20,000 queries otherwise).
        rounds: dict[tuple[WeeklySchedule, datetime], Round | None] = {}
        deliveries: dict[int, dict[int, dict]] = {}
        due: list[tuple[Person, Round, dict | None]] = []
        for person in people:
            plan = by_team.get((person.team or "").lower(), default)
            slot = plan.last_slot(now, person.tz)
            if (plan, slot) not in rounds:
                opened = len(report.opened)
                round_ = self._round_for(plan, slot, report)
                if len(report.opened) > opened:
                    # Opening this week's round closed last week's: forget what was read of it.
                    rounds = {}
                    due = [item for item in due if item[1].id == round_.id]
                rounds[plan, slot] = round_
            round_ = rounds[plan, slot]
            if round_ is None or not round_.is_open:
                continue
            if round_.id not in deliveries:
                deliveries[round_.id] = {
                    d["person_id"]: d for d in self.store.deliveries(round_.id)
                }
            delivery = deliveries[round_.id].get(person.id)
            if delivery is not None and delivery["status"] == "sent":
                continue
            if delivery is None and now - slot > timedelta(hours=plan.catch_up_hours):
                # Too late for this week: a stale check-in is worse than none.
                report.skipped_stale += 1
                continue
            due.append((person, round_, delivery))
        if not due:
            return
        # A few sends at a time, so one post's network wait overlaps the next one's database
        # work; the messenger's pacer keeps the total under the platform's rate either way.
        with ThreadPoolExecutor(max_workers=SEND_WORKERS, thread_name_prefix="send") as pool:
            outcomes = pool.map(lambda item: self._send(messenger, *item), due)
            for outcome in outcomes:
                if outcome is not None:
                    setattr(report, outcome, getattr(report, outcome) + 1)

    def _round_for(self, plan: WeeklySchedule, slot: datetime, report: TickReport) -> Round | None:
        """The round of the slot's week, opened now if this is the first slot to pass."""
        week = week_of(slot)
        existing = self.store.round_for_week(week)
        if existing is not None:
            return existing
        now = self.service.now()
        if now - slot > timedelta(hours=plan.catch_up_hours):
            return None  # the whole week was missed: wait for the next one
        current = self.service.open_round()
        if current is not None:
            # An ad-hoc or overdue round gives way: the weekly rhythm is the promise.
            self.service.close_round(round_=current, summaries=self._summary_destinations())
            report.closed.append(current.number)
        closes = slot + timedelta(days=plan.round_days)
        try:
            opened = self.service.start_round(week=week, closes_at=closes)
        except UsageError:
            return self.store.round_for_week(week)
        report.opened.append(opened.number)
        return opened

    def _send(
        self,
        messenger: Messenger,
        person: Person,
        round_: Round,
        delivery: dict | None,
    ) -> str | None:
        """Claim, send, record: which of the report's counts this adds to, if any."""
        now = self.service.now()
        if delivery is None:
            delivery_id = self.store.claim_delivery(round_.id, person)
            if delivery_id is None:
                return None  # another tick or process claimed it a moment ago
        elif delivery["status"] == "failed" or self.store.reclaim_stale_delivery(
            delivery["id"], now - self.stale_claim
        ):
            delivery_id = delivery["id"]
            # The process that claimed it died, or the send timed out: did the message go
            # out anyway? Ask the platform before sending again.
            try:
                found = messenger.find_sent(person, round_)
            except Exception:
                logger.exception(
                    "Could not check whether person %s got round %s", person.id, round_.number
                )
                return "failed"
            if found is not None:
                self.store.complete_delivery(delivery_id, found)
                return "recovered"
        else:
            return None  # claimed recently: being sent right now
        questions = self.service.questions_for(person, round_)
        try:
            message_ref = messenger.send_round(person, round_, questions)
        except Exception:
            logger.exception("Could not send round %s to person %s", round_.number, person.id)
            self.store.fail_delivery(delivery_id)
            return "failed"
        self.store.complete_delivery(delivery_id, message_ref)
        return "sent"

    # -- reminding --------------------------------------------------------------

    def _remind(self, report: TickReport) -> None:
        current = self.service.open_round()
        if current is None or current.week is None:
            return
        now = self.service.now()
        plans = {(s.platform, s.workspace, s.team.lower()): s for s in self.schedules()}
        # Who answered is not stored: the core works it out with the key, once a tick.
        answered = self.service.answered(current)
        for delivery in self.store.deliveries(current.id):
            if delivery["person_id"] in answered or delivery["status"] != "sent":
                continue
            person = self.store.person_by_id(delivery["person_id"])
            plan = plans.get((person.platform, person.workspace, (person.team or "").lower()))
            plan = plan or plans.get((person.platform, person.workspace, ""))
            if plan is None or delivery["reminders"] >= plan.reminders:
                continue
            due = reminder_due(
                current.closes_at,
                _dt(delivery["sent_at"]),
                plan.reminders - delivery["reminders"],
            )
            if now < due or now >= current.closes_at:
                continue
            if not self.store.mark_reminded(delivery["id"], now):
                continue
            mine = self.service.my_answers(person, current)
            left = [q for q in self.service.questions_for(person, current) if q.id not in mine]
            try:
                self.messengers[person.platform].remind(person, current, left)
                report.reminded += 1
            except Exception:
                logger.exception("Could not remind person %s", person.id)

    # -- running ----------------------------------------------------------------

    def run(self, stop: threading.Event, every_seconds: int = 60) -> None:
        """Tick now and then every minute until `stop` is set (run it in its own thread)."""
        jobs = schedule_lib.Scheduler()
        jobs.every(every_seconds).seconds.do(self._safe_tick)
        self._safe_tick()  # catch up at once after a restart
        while not stop.wait(1):
            jobs.run_pending()

    def _safe_tick(self) -> None:
        try:
            report = self.tick()
            if (
                report.sent
                or report.closed
                or report.reminded
                or report.opened
                or report.summaries_posted
                or report.summaries_failed
                or report.summaries_abandoned
            ):
                logger.info("Scheduler tick: %s", report)
        except Exception:
            logger.exception("Scheduler tick failed; the next tick will retry")
