"""Fan-out benchmark: one weekly round to 10,000 people through the scheduler and the
Slack messenger, against the fake Slack Web API with its rate limit on.

Three processes, as in production: the fake Slack (`tests/fakes/slack_api.py`, its
own process, with a workspace-wide token bucket on `chat.postMessage` that answers
429 + `Retry-After` when exceeded), the bot's scheduler with a real SQLite file, and
this driver. The messenger paces itself at the same rate (`SLACK_POSTS_PER_SECOND`).
The schedule's slot has just passed for everyone, so the first tick opens the round
and delivers it; the clock starts at that tick (the people refresh from `users.list`
is included).

The lower bound the limit implies: the bucket's burst goes out at once, the rest at
the rate, so `bound = (people - burst) / rate` seconds.

Two runs:

1. clean: one process delivers the round;
2. killed: the scheduler process is killed with SIGKILL when a third of the round is
   out, and started again; claims the dead process left are taken over after the
   restarted scheduler's `stale_claim` (here 5 s; 5 minutes by default) and checked
   against Slack (`conversations.history`) before anything is resent. The time runs
   from the first tick to the last delivery, across the kill.

Duplicates are people with more than one check-in in their DM at the fake; lost are
people with none, or without a delivery recorded as sent. Last line:

    people=10000 seconds=… bound_seconds=… ratio=… duplicates=… lost=…
    killed_seconds=… killed_ratio=…  (on the same line)

Run: `python benchmarks/fanout.py` (or `--people 2000` for a quick look).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEAM = "T0FANOUT"


def run_fake(people: int, rate: float, burst: int, ready, stop, results) -> None:
    """The fake Slack in its own process; on stop, reports check-ins per person."""
    from tests.fakes.slack_api import FakeSlack

    with FakeSlack(team_id=TEAM) as fake:
        for i in range(people):
            fake.add_user(f"U{i:06d}", f"person{i}", tz="UTC")
        fake.rate_limit("chat.postMessage", per_second=rate, burst=burst, retry_after=1)
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


def run_scheduler(base_url: str, db_path: str, rate: float, stale_seconds: float, clock) -> None:
    """The bot's scheduler: ticks until everyone has the round, then says when it finished."""
    import logging
    from datetime import UTC, datetime, timedelta

    from bot.adapters.slack import SlackSettings
    from bot.adapters.slack.messenger import PLATFORM, SlackMessenger
    from bot.scheduler import Scheduler, WeeklySchedule
    from bot.service import IntegrityCheck
    from bot.settings import Settings
    from bot.store import Store

    logging.basicConfig(level=logging.ERROR)
    settings = Settings(db_path=Path(db_path), secret=b"benchmark-secret-0123456789abcdef")
    service = IntegrityCheck(Store(settings.db_path), settings)
    slack = SlackSettings(bot_token="xoxb-test", api_base_url=base_url, posts_per_second=rate)
    messenger = SlackMessenger(service, slack)
    if not service.store.schedules():
        slot = datetime.now(UTC) - timedelta(minutes=1)
        plan = WeeklySchedule(
            PLATFORM, TEAM, weekday=slot.weekday(), local_time=slot.time().replace(second=0,
            microsecond=0), tz="UTC",
        )  # fmt: skip
        service.store.save_schedule(plan.to_row())
    scheduler = Scheduler(
        service, {PLATFORM: messenger}, stale_claim=timedelta(seconds=stale_seconds)
    )
    clock.put(("start", time.time()))
    while True:
        report = scheduler.tick()
        current = service.open_round()
        pending = [
            d for d in service.store.deliveries(current.id) if d["status"] != "sent"
        ] if current else [None]  # fmt: skip
        people = len(service.store.people(PLATFORM, TEAM))
        sent = people - len(pending) if current else 0
        if current and not pending and sent == people and people:
            break
        if not report.sent:
            time.sleep(0.5)  # waiting for a stale claim to come of age
    clock.put(("done", time.time()))


def delivered_rows(db_path: str) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()[0]
    except sqlite3.Error:
        return 0


def one_run(people: int, rate: float, burst: int, kill_at: float | None) -> dict:
    context = multiprocessing.get_context("spawn")
    ready, stop, results, clock = context.Queue(), context.Event(), context.Queue(), context.Queue()
    fake = context.Process(target=run_fake, args=(people, rate, burst, ready, stop, results))
    fake.start()
    base_url = ready.get(timeout=120)
    with tempfile.TemporaryDirectory() as folder:
        db_path = str(Path(folder) / "integrity.db")
        args = (base_url, db_path, rate, 5.0, clock)
        sender = context.Process(target=run_scheduler, args=args)
        sender.start()
        _, started = clock.get(timeout=120)
        killed_after = None
        if kill_at is not None:
            while delivered_rows(db_path) < kill_at * people:
                time.sleep(0.05)
            os.kill(sender.pid, signal.SIGKILL)
            sender.join()
            killed_after = delivered_rows(db_path)
            sender = context.Process(target=run_scheduler, args=args)
            sender.start()
            clock.get(timeout=120)  # the restarted process's own start
        kind, finished = clock.get(timeout=3600)
        assert kind == "done", kind
        sender.join()
        stop.set()
        figures = results.get(timeout=120)
        fake.join()
        rows = delivered_rows(db_path)
    counts = figures["counts"]
    duplicates = sum(max(0, c - 1) for c in counts.values())
    missing = sum(1 for i in range(people) if counts.get(f"U{i:06d}", 0) == 0)
    return {
        "seconds": finished - started,
        "duplicates": duplicates,
        "lost": max(missing, people - rows),
        "rate_limited": figures["rate_limited"],
        "killed_after": killed_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="chat.postMessage per second")
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    bound = max(0, args.people - args.burst) / args.rate
    print(
        f"{args.people} people, chat.postMessage limited to {args.rate:g}/s "
        f"(burst {args.burst}): lower bound {bound:.1f} s",
        flush=True,
    )
    clean = one_run(args.people, args.rate, args.burst, kill_at=None)
    print(
        f"clean:  {clean['seconds']:.1f} s ({clean['seconds'] / bound:.2f}× the bound), "
        f"duplicates {clean['duplicates']}, lost {clean['lost']}, "
        f"429s met {clean['rate_limited']}",
        flush=True,
    )
    killed = one_run(args.people, args.rate, args.burst, kill_at=1 / 3)
    print(
        f"killed: SIGKILL after {killed['killed_after']} deliveries, restarted: "
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
