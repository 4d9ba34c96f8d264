"""Slack answer ingestion benchmark: rating clicks over real HTTP with signature checks.

The Slack app runs in its own process (as in production) on a real SQLite file;
the fake Web API (`tests/fakes/slack_api.py`) it posts to runs in another, and
this process plays Slack's side of the clicks: it sends signed `block_actions`
requests, open loop (each click leaves at its scheduled time whether or not
earlier ones were answered). The app has one of the two cores, and Slack's side (the
fake and the clicks) the other, as Slack is not on the app's machine:

1. a burst: `--burst` people (default 500) click a rating within one second;
2. sustained load: `--rate` clicks a second (default 200) for `--seconds` (default 30).

Every click is a different (person, question), so each must become its own row.
It reports the acknowledgement latency (Slack gives up after 3 s; the aim is p99
under 50 ms) and answers stored against clicks sent. Each click carries its own
response_url, and the app redraws the check-in through it after the ack (a message
gets one redraw however many clicks wait for it; `chat.update` is held to Slack's
Tier 3, 50 a minute); the run waits until the check-ins show every click and says
how long after the last acknowledgement that was. It also says how late the
latest click left, so a load generator that fell behind is seen. Last line:

    p50_ms=… p99_ms=… sent=… stored=…

Run: `python benchmarks/ingest.py` (or `--seconds 5` for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "benchmark-signing-secret-0123456789"
TEAM = "T0BENCH"


#: The app gets one core, Slack's side (the fake API and the clicks) the other: on a shared
#: core the scheduler packs the app with the process talking to it, and the figures are the
#: load generator's. With one core, everything shares it.
APP_CPU, SLACK_CPU = 0, 1


def _pin(cpu: int) -> None:
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {sorted(cpus)[cpu]})


def run_app(base_url: str, db_path: str, people: int, ready, stop) -> None:
    """The child process: the core and the Slack app, served on a free port."""
    import logging

    from aiohttp import web

    from bot.adapters.slack import SlackBot, SlackSettings
    from bot.adapters.web import freeze_heap_on_startup
    from bot.core.service import IntegrityCheck
    from bot.core.settings import Settings
    from bot.store import Store
    from tests.adapters.slack.harness import AppServer

    logging.basicConfig(level=logging.ERROR)
    _pin(APP_CPU)
    settings = Settings(db_path=Path(db_path), secret=b"benchmark-secret-0123456789abcdef")
    service = IntegrityCheck(Store(settings.db_path), settings)
    slack = SlackSettings(
        bot_token="xoxb-test", signing_secret=SECRET, api_base_url=base_url, posts_per_second=100
    )
    bot = SlackBot(service, slack)
    round_ = service.start_round()
    everyone = bot.messenger.people(TEAM)
    assert len(everyone) == people, (len(everyone), people)
    bot.messenger.pacer.rate = bot.messenger.pacer.burst = 10_000  # set-up, not measured
    service.deliver(round_, everyone, bot.messenger.send_round)
    web_app = web.Application()
    bot.mount(web_app)
    freeze_heap_on_startup(web_app)  # as build_server does
    with AppServer(web_app) as server:
        refs = {
            p.user_id: service.store.delivery_for(round_.id, p.id)["message_ref"] for p in everyone
        }
        ready.put({"url": server.url, "round": round_.id, "questions": round_.question_ids,
                   "refs": refs})  # fmt: skip
        stop.wait()


def run_fake(people: int, ready, stop, urls, counting, shown) -> None:
    """The fake Slack Web API in a process of its own, as Slack is not on the app's machine.

    `chat.update` is held to Slack's Tier 3 (50 a minute). `urls` asks for response_urls of
    given messages (one per click, as Slack sends); once `counting` is set, `shown` counts
    the ratings the check-ins show ("4/5 recorded"), what the people see."""
    import queue

    from tests.fakes.slack_api import FakeSlack

    _pin(SLACK_CPU)
    with FakeSlack(team_id=TEAM) as fake:
        fake.rate_limit("chat.update", per_second=50 / 60, burst=5, retry_after=2)
        for i in range(people):
            fake.add_user(f"U{i:06d}", f"person{i}")
        ready.put(fake.base_url)
        while not stop.is_set():
            try:
                messages = urls.get(timeout=0.2)
            except queue.Empty:
                pass
            else:
                ready.put([fake.response_url(channel, ts) for channel, ts in messages])
            if counting.is_set():
                with fake._lock:
                    blocks = [m["blocks"] for ms in fake.messages.values() for m in ms]
                shown.value = sum(json.dumps(b).count("4/5 recorded") for b in blocks)


async def send_clicks(
    url: str, round_id: int, pairs, response_urls, offsets
) -> tuple[list[tuple[int, float]], float]:
    """Each click at its offset (seconds) from the start, whatever the earlier ones are
    doing; returns (click index, ack ms) for each acked click, and how late (ms) the
    latest click left, which says whether this process kept up with its own schedule."""
    import aiohttp

    from tests.adapters.slack.harness import signature

    latencies: list[tuple[int, float]] = []
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def click(index: int, user: str, question: str, ref: str, response_url: str) -> None:
            channel, _, ts = ref.partition(":")
            payload = {
                "type": "block_actions",
                "team": {"id": TEAM},
                "user": {"id": user, "name": user.lower(), "team_id": TEAM},
                "container": {"type": "message", "channel_id": channel, "message_ts": ts},
                "trigger_id": "t",
                "response_url": response_url,
                "actions": [{"type": "button", "action_id": "integrity_rate_4", "block_id": "b",
                             "value": json.dumps({"round": round_id, "question": question,
                                                  "rating": 4})}],
            }  # fmt: skip
            from urllib.parse import urlencode

            body = urlencode({"payload": json.dumps(payload)})
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature(SECRET, stamp, body),
            }
            started = time.perf_counter()
            async with http.post(f"{url}/slack/events", data=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    latencies.append((index, (time.perf_counter() - started) * 1000))

        # One driver starts each click at its time (open loop), rather than thousands of
        # tasks created up front, whose creation would delay and bunch the first clicks.
        clicks, late = [], 0.0
        start = time.monotonic() + 0.2
        for i, (offset, (user, q, ref), response_url) in enumerate(
            zip(offsets, pairs, response_urls, strict=True)
        ):
            wait = start + offset - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            late = max(late, time.monotonic() - start - offset)
            clicks.append(asyncio.create_task(click(i, user, q, ref, response_url)))
        await asyncio.gather(*clicks)
    return latencies, late * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()

    sustained = args.rate * args.seconds
    total = args.burst + sustained
    # Enough people that every click is a different (person, question): 4 questions each.
    people = max(args.burst, -(-total // 4))
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    fake_ready, app_ready, urls = context.Queue(), context.Queue(), context.Queue()
    counting, shown = context.Event(), context.Value("i", 0)
    fake = context.Process(target=run_fake, args=(people, fake_ready, stop, urls, counting, shown))
    fake.start()
    base_url = fake_ready.get(timeout=120)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = str(Path(tmp) / "bench.db")
        child = context.Process(target=run_app, args=(base_url, db_path, people, app_ready, stop))
        child.start()
        _pin(SLACK_CPU)  # after starting the children, which pin themselves
        info = app_ready.get(timeout=600)
        users = sorted(info["refs"])
        pairs = [
            (user, question, info["refs"][user]) for question in info["questions"] for user in users
        ][:total]
        urls.put([tuple(ref.split(":", 1)) for _, _, ref in pairs])
        response_urls = fake_ready.get(timeout=120)
        offsets = [i / args.burst for i in range(args.burst)]
        # A second's pause between the burst and the sustained load.
        offsets += [2.0 + i / args.rate for i in range(sustained)]
        print(f"people={people} clicks={total}: {args.burst} in 1 s, then {args.rate}/s "
              f"for {args.seconds} s", flush=True)  # fmt: skip
        latencies, late_ms = asyncio.run(
            send_clicks(info["url"], info["round"], pairs, response_urls, offsets)
        )
        last_click = time.monotonic()
        import sqlite3

        stored = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sqlite3.connect(db_path) as conn:
                stored = conn.execute("select count(*) from answers").fetchone()[0]
            if stored >= total:
                break
            time.sleep(0.2)
        # Redraws yield to acks and are coalesced per message: wait until the check-ins show
        # every click.
        counting.set()
        deadline = time.monotonic() + 60
        while shown.value < total and time.monotonic() < deadline:
            time.sleep(0.2)
        redraw_seconds = time.monotonic() - last_click
        stop.set()
        child.join(timeout=30)
        fake.join(timeout=30)
    burst = sorted(ms for i, ms in latencies if i < args.burst)
    steady = sorted(ms for i, ms in latencies if i >= args.burst)
    both = sorted(burst + steady)
    for label, values in (("burst", burst), ("sustained", steady)):
        if values:
            print(f"{label}: acked={len(values)} p50_ms={_pct(values, 50):.1f} "
                  f"p99_ms={_pct(values, 99):.1f} max_ms={values[-1]:.1f}")  # fmt: skip
    print(f"shown={shown.value}/{total} clicks on the check-ins, all by "
          f"{redraw_seconds:.1f} s after the last ack; every click left within "
          f"{late_ms:.1f} ms of its time")  # fmt: skip
    print(f"p50_ms={_pct(both, 50):.1f} p99_ms={_pct(both, 99):.1f} sent={total} stored={stored}")


def _pct(ordered: list[float], percent: int) -> float:
    if percent == 50:
        return statistics.median(ordered)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


if __name__ == "__main__":
    main()
