"""Fan-out benchmark: one weekly round to 10,000 people through the scheduler and the
Slack messenger, against the fake Slack Web API with its rate limits on.

Three processes, as in production: the fake Slack (`tests/fakes/slack_api.py`, its
own process so it never shares the GIL with the sender), the bot's scheduler with a
real SQLite file in a temporary folder, and this driver. The fake limits
`chat.postMessage` as Slack does, both ways at once: a workspace-wide token bucket
(`--rate` a second, `--burst` at once) and about one a second per conversation
(`--per-channel`); a call over either gets HTTP 429 with `Retry-After: 1`. The
messenger paces itself at the workspace rate (`SLACK_POSTS_PER_SECOND`).

Set-up, not timed: the people are listed once before the slot passes, as the
scheduler's previous tick a minute earlier would have done, so the timed tick meets
a workspace it knows (a bot's very first refresh also onboards everyone: about 4 s
for 10,000 more). The clock starts at the first tick after the weekly slot has
passed, and includes its `users.list` refresh, the opening of the round, and every
claim, post and record, until all deliveries are recorded as sent. (The messenger
serves its listing for 15 minutes between refreshes, so that set-up uses a messenger
of its own: the timed one starts cold and refreshes, the worst case, a slot that
falls due when the listing does.)

The lower bound the limits imply: the workspace bucket lets its `burst` through at
once and then `rate` a second, so the last of `people` posts cannot leave before
`bound = (people - burst) / rate` seconds. The per-channel limit does not raise it
(each person's DM gets one post), but it would turn any double post into a 429.
The bound ignores everything else the sender must do (HTTP, SQLite, the refresh),
so 1.0× is out of reach; the aim is 1.1×.

Two runs, each on a fresh fake and database:

1. clean: one scheduler process delivers the round;
2. killed: the scheduler process is SIGKILLed once a third of the round is recorded,
   with sends in flight, and started again. Claims the dead process left are taken
   over after the restarted scheduler's `stale_claim` (5 s here; 5 minutes by
   default) and checked against Slack (`conversations.history`) before anything is
   resent. Its time runs from the first tick to the last delivery, across the kill
   and the restart (a fresh interpreter, imports and all).

Duplicates are check-ins beyond the first in anyone's DM at the fake; lost are people
with no check-in in their DM or no delivery recorded as sent. The last line has the
clean run's figures, the killed run's as `killed_*`, duplicates and lost over both:

    people=10000 seconds=… bound_seconds=… ratio=… duplicates=… lost=…
    killed_seconds=… killed_ratio=…  (on the same line)

Run: `python benchmarks/fanout.py` (about 4 minutes), or `--quick` (2,000 people).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEAM = "T0FANOUT"
STALE_SECONDS = 5.0


def run_fake(people: int, rate: float, burst: int, per_channel: float, ready, stop, results):
    """The fake Slack in its own process; on stop, reports check-ins per person."""
    from tests.fakes.slack_api import FakeSlack

    with FakeSlack(team_id=TEAM) as fake:
        for i in range(people):
            fake.add_user(f"U{i:06d}", f"person{i}", tz="UTC")
        fake.rate_limit("chat.postMessage", per_second=rate, burst=burst, retry_after=1)
        if per_channel:
            fake.rate_limit("chat.postMessage", per_second=per_channel, per_channel=True)
        ready.put(fake.base_url)
        stop.wait()
        counts = {}
        for channel, messages in list(fake.messages.items()):
            if channel.startswith("D"):
                counts[channel[1:]] = sum(
                    1
                    for m in messages
                    if (m.get("metadata") or {}).get("event_type") == "integrity_checkin"
                )
        results.put({"counts": counts, "rate_limited": len(fake.rate_limited)})


def run_scheduler(base_url: str, db_path: str, rate: float, clock) -> None:
    """The bot's scheduler: ticks until everyone has the round, then says when it finished."""
    import logging
    from datetime import UTC, datetime, timedelta

    from bot.adapters.slack import SlackSettings
    from bot.adapters.slack.messenger import PLATFORM, SlackMessenger
    from bot.core.schedule import WeeklySchedule
    from bot.core.scheduler import Scheduler
    from bot.core.service import IntegrityCheck
    from bot.core.settings import Settings
    from bot.store import Store

    logging.basicConfig(level=logging.ERROR)
    settings = Settings(db_path=Path(db_path), secret=b"benchmark-secret-0123456789abcdef")
    service = IntegrityCheck(Store(settings.db_path), settings)
    slack = SlackSettings(bot_token="xoxb-test", api_base_url=base_url, posts_per_second=rate)
    messenger = SlackMessenger(service, slack)
    if not service.store.schedules():
        # Set-up: the previous tick's refresh, by a messenger of its own (see the docstring).
        SlackMessenger(service, slack).people(TEAM)
        slot = datetime.now(UTC) - timedelta(minutes=1)
        plan = WeeklySchedule(
            PLATFORM, TEAM, weekday=slot.weekday(), local_time=slot.time().replace(second=0,
            microsecond=0), tz="UTC",
        )  # fmt: skip
        service.store.save_schedule(plan.to_row())
    scheduler = Scheduler(
        service, {PLATFORM: messenger}, stale_claim=timedelta(seconds=STALE_SECONDS)
    )
    clock.put(("start", time.time()))
    everyone = len(service.store.people(PLATFORM, TEAM))
    while True:
        report = scheduler.tick()
        current = service.open_round()
        sent = 0
        if current is not None:
            sent = sum(1 for d in service.store.deliveries(current.id) if d["status"] == "sent")
        if sent == everyone:
            break
        if not report.sent and not report.recovered:
            time.sleep(0.5)  # waiting for a dead process's claims to come of age
    clock.put(("done", time.time()))


def recorded(db_path: str) -> tuple[set[str], int]:
    """Who has a delivery recorded as sent, and how many claims are not yet recorded."""
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute(
                "SELECT p.user_id, d.status FROM deliveries d JOIN people p ON p.id = d.person_id"
            ).fetchall()
    except sqlite3.Error:
        return set(), 0
    return {u for u, s in rows if s == "sent"}, sum(1 for _, s in rows if s == "claimed")


def wait_for(clock, process, timeout: float) -> tuple[str, float]:
    """The next word from the scheduler process, failing fast if it died instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return clock.get(timeout=1)
        except queue.Empty:
            if not process.is_alive():
                raise SystemExit(
                    f"the scheduler process died (exit code {process.exitcode})"
                ) from None
    raise SystemExit(f"the scheduler process said nothing for {timeout:.0f} s")


def one_run(args, kill_at: float | None) -> dict:
    context = multiprocessing.get_context("spawn")
    ready, stop, results, clock = context.Queue(), context.Event(), context.Queue(), context.Queue()
    fake = context.Process(
        target=run_fake,
        args=(args.people, args.rate, args.burst, args.per_channel, ready, stop, results),
    )
    fake.start()
    base_url = ready.get(timeout=300)
    killed = None
    with tempfile.TemporaryDirectory() as folder:
        db_path = str(Path(folder) / "integrity.db")
        sender = context.Process(target=run_scheduler, args=(base_url, db_path, args.rate, clock))
        sender.start()
        _, started = wait_for(clock, sender, 300)
        if kill_at is not None:
            while len(recorded(db_path)[0]) < kill_at * args.people:
                time.sleep(0.05)
            os.kill(sender.pid, signal.SIGKILL)
            sender.join()
            sent, in_flight = recorded(db_path)
            killed = {"sent": len(sent), "in_flight": in_flight}
            sender = context.Process(
                target=run_scheduler, args=(base_url, db_path, args.rate, clock)
            )
            sender.start()
            wait_for(clock, sender, 300)  # the restarted process's own start
        kind, finished = wait_for(clock, sender, 3600)
        assert kind == "done", kind
        sender.join()
        stop.set()
        figures = results.get(timeout=120)
        fake.join()
        sent, _ = recorded(db_path)
    counts = figures["counts"]
    everyone = [f"U{i:06d}" for i in range(args.people)]
    return {
        "seconds": finished - started,
        "duplicates": sum(max(0, c - 1) for c in counts.values()),
        "lost": sum(1 for u in everyone if counts.get(u, 0) == 0 or u not in sent),
        "rate_limited": figures["rate_limited"],
        "killed": killed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument(
        "--rate", type=float, default=100.0, help="workspace-wide chat.postMessage a second"
    )
    parser.add_argument("--burst", type=int, default=20, help="posts the workspace lets at once")
    parser.add_argument(
        "--per-channel", type=float, default=1.0, help="posts a second per conversation; 0: off"
    )
    parser.add_argument("--quick", action="store_true", help="2,000 people")
    args = parser.parse_args()
    if args.quick:
        args.people = min(args.people, 2_000)
    bound = max(0, args.people - args.burst) / args.rate
    per_channel = f", {args.per_channel:g}/s per conversation" if args.per_channel else ""
    print(
        f"{args.people} people, chat.postMessage limited to {args.rate:g}/s "
        f"(burst {args.burst}){per_channel}: lower bound {bound:.1f} s",
        flush=True,
    )
    clean = one_run(args, kill_at=None)
    print(
        f"clean:  {clean['seconds']:.1f} s ({clean['seconds'] / bound:.2f}× the bound), "
        f"duplicates {clean['duplicates']}, lost {clean['lost']}, "
        f"429s met {clean['rate_limited']}",
        flush=True,
    )
    killed = one_run(args, kill_at=1 / 3)
    print(
        f"killed: SIGKILL with {killed['killed']['sent']} recorded and "
        f"{killed['killed']['in_flight']} claimed in flight, restarted: "
        f"{killed['seconds']:.1f} s ({killed['seconds'] / bound:.2f}× the bound), "
        f"duplicates {killed['duplicates']}, lost {killed['lost']}, "
        f"429s met {killed['rate_limited']}",
        flush=True,
    )
    print(
        f"people={args.people} seconds={clean['seconds']:.1f} bound_seconds={bound:.1f} "
        f"ratio={clean['seconds'] / bound:.2f} "
        f"duplicates={clean['duplicates'] + killed['duplicates']} "
        f"lost={clean['lost'] + killed['lost']} killed_seconds={killed['seconds']:.1f} "
        f"killed_ratio={killed['seconds'] / bound:.2f}"
    )


if __name__ == "__main__":
    main()
