"""The Slack messenger against the fake Web API: who is asked, roles, crash recovery, pacing."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.config import SlackSettings
from bot.adapters.slack.messenger import (
    NOT_INVITED_RETRY,
    PEOPLE_MAX_AGE,
    PEOPLE_RETRY,
    Pacer,
    SlackMessenger,
    web_client,
)
from bot.core.errors import ConfigError
from tests.adapters.slack.conftest import ADMIN, EXECUTIVES, FRONTLINE, TEAM


@pytest.fixture
def messenger(service, slack_settings) -> SlackMessenger:
    return SlackMessenger(service, slack_settings)


def test_people_are_active_humans_paged_with_time_zones(messenger, fake, monkeypatch):
    monkeypatch.setattr("bot.adapters.slack.messenger.PAGE", 3)
    people = messenger.people(TEAM)
    assert {p.user_id for p in people} == {ADMIN, *EXECUTIVES, *FRONTLINE}
    assert len(fake.calls_to("users.list")) >= 5  # 18 users, 3 a page: pagination followed
    by_id = {p.user_id: p for p in people}
    assert by_id[FRONTLINE[0]].tz == "Europe/Berlin"
    assert by_id[EXECUTIVES[0]].is_executive and not by_id[EXECUTIVES[0]].is_admin
    assert by_id[ADMIN].is_admin and by_id[ADMIN].is_executive
    assert not by_id[FRONTLINE[0]].is_executive


def test_a_refresh_writes_only_new_or_changed_people(service, messenger, fake, clock, monkeypatch):
    messenger.people(TEAM)
    clock.now += PEOPLE_MAX_AGE
    written = []
    add_person = service.store.add_person
    monkeypatch.setattr(
        service.store, "add_person", lambda *a, **k: written.append(a[2]) or add_person(*a, **k)
    )
    fake.add_user(FRONTLINE[0], "moved", tz="Asia/Tokyo")
    people = {p.user_id: p for p in messenger.people(TEAM)}
    assert written == [FRONTLINE[0]]  # a tick over a big workspace is one read, not a write each
    assert (people[FRONTLINE[0]].display_name, people[FRONTLINE[0]].tz) == ("moved", "Asia/Tokyo")
    assert people[ADMIN].is_admin  # roles still applied to the people read back


def test_only_members_of_configured_channels_are_asked(service, slack_settings, fake):
    fake.add_channel("C0SUPPORT", "support", [FRONTLINE[0], FRONTLINE[1], "UBOTTY"])
    fake.add_channel("C0LEADERS", "leaders", [EXECUTIVES[0]])
    settings = replace(slack_settings, channels=("C0SUPPORT", "C0LEADERS"))
    people = SlackMessenger(service, settings).people(TEAM)
    assert {p.user_id for p in people} == {FRONTLINE[0], FRONTLINE[1], EXECUTIVES[0]}


def test_a_user_group_makes_executives_and_no_role_is_taken_away(service, slack_settings, fake):
    fake.add_usergroup("S0LEADS", "leadership", [FRONTLINE[7]])
    settings = replace(slack_settings, executives=frozenset(), executives_group="S0LEADS")
    messenger = SlackMessenger(service, settings)
    people = {p.user_id: p for p in messenger.people(TEAM)}
    assert people[FRONTLINE[7]].is_executive
    assert not people[EXECUTIVES[0]].is_executive  # not in any setting now: frontline
    fake.add_usergroup("S0LEADS", "leadership", [])
    people = {p.user_id: p for p in messenger.people(TEAM, refresh=True)}
    assert people[FRONTLINE[7]].is_executive  # demoting is an admin's act


def listed(fake) -> int:
    """How many users.list calls Slack has received (each page is one)."""
    return len(fake.calls_to("users.list"))


def test_people_are_listed_from_slack_once_per_max_age(service, messenger, fake, clock):
    first = {p.user_id for p in messenger.people(TEAM)}
    assert listed(fake) == 1  # 18 users: one page
    fake.add_user("UNEW", "newcomer", tz="Asia/Tokyo")
    for _ in range(14):  # the scheduler's ticks, a minute apart
        clock.now += timedelta(minutes=1)
        assert {p.user_id for p in messenger.people(TEAM)} == first
    clock.now += PEOPLE_MAX_AGE - timedelta(minutes=14, seconds=1)
    assert {p.user_id for p in messenger.people(TEAM)} == first
    assert listed(fake) == 1  # a minute's ticks over a quarter hour: no more listings
    assert service.store.person("slack", TEAM, "UNEW") is None

    clock.now += timedelta(seconds=1)  # the listing is PEOPLE_MAX_AGE old
    people = {p.user_id: p for p in messenger.people(TEAM)}
    assert listed(fake) == 2  # one refresh
    assert set(people) == first | {"UNEW"}
    assert people["UNEW"].tz == "Asia/Tokyo"
    assert service.store.person("slack", TEAM, "UNEW") is not None
    messenger.people(TEAM)
    assert listed(fake) == 2  # and served from it again


def test_teams_and_roles_come_from_the_store_on_every_call(service, messenger, fake):
    person = {p.user_id: p for p in messenger.people(TEAM)}[FRONTLINE[0]]
    service.store.set_role(person.id, "executive")
    again = {p.user_id: p for p in messenger.people(TEAM)}[FRONTLINE[0]]
    assert listed(fake) == 1
    assert again.is_executive  # the cache holds Slack's listing, not what the store says


def test_a_clock_that_went_back_reads_slack_again(messenger, fake, clock):
    messenger.people(TEAM)
    clock.now -= timedelta(minutes=1)
    messenger.people(TEAM)
    assert listed(fake) == 2


def test_refresh_lists_at_once_and_ask_delivers_to_who_is_there_now(service, messenger, fake):
    messenger.people(TEAM)
    fake.add_user("UNEW", "newcomer")
    assert "UNEW" not in {p.user_id for p in messenger.people(TEAM)}
    assert "UNEW" in {p.user_id for p in messenger.people(TEAM, refresh=True)}
    assert listed(fake) == 2
    fake.add_user("ULATER", "later still")
    round_ = service.start_round()  # `/integrity ask`
    assert messenger.deliver(round_) == f"Sent to {3 + len(EXECUTIVES) + len(FRONTLINE)} people."
    assert listed(fake) == 3
    assert fake.messages.get("DULATER")


@pytest.mark.parametrize("failure", ["500", "429", "500-on-a-later-page"])
def test_a_failed_refresh_asks_the_last_good_listing_and_tries_again_later(
    service, slack_settings, fake, clock, monkeypatch, caplog, failure
):
    # No retries of a 429 here: this is what is left once slack_sdk has given up waiting.
    messenger = SlackMessenger(
        service, slack_settings, client=web_client(slack_settings, retries=0)
    )
    monkeypatch.setattr("bot.adapters.slack.messenger.PAGE", 5)
    before = {p.user_id for p in messenger.people(TEAM)}
    calls = listed(fake)  # 18 users, 5 a page: 4 pages
    fake.add_user("UNEW", "newcomer")
    fake.add_user(FRONTLINE[0], "renamed")
    if failure == "500-on-a-later-page":
        users_list = messenger.client.users_list

        def later_page_fails(**args):
            if args.get("cursor"):
                fake.fail("users.list", status=500)
            return users_list(**args)

        monkeypatch.setattr(messenger.client, "users_list", later_page_fails)
    elif failure == "429":
        # Tier 2 runs out half way: two pages pass, the third gets a 429 (Retry-After).
        fake.rate_limit("users.list", per_second=0.001, burst=2)
    else:
        fake.fail("users.list", status=500)
    clock.now += PEOPLE_MAX_AGE
    with caplog.at_level(logging.WARNING, logger="bot.adapters.slack.messenger"):
        people = {p.user_id: p for p in messenger.people(TEAM)}
    assert set(people) == before  # the whole last listing, not no one and not part of one
    assert people[FRONTLINE[0]].display_name == FRONTLINE[0].lower()
    assert "Could not refresh the people of T0ACME" in caplog.text
    assert listed(fake) > calls  # Slack was asked (the pages answered before a 429 count)
    assert bool(fake.rate_limited) == (failure == "429")
    monkeypatch.undo()  # Slack answers again
    fake.rate_limit("users.list", per_second=1000, burst=1000)

    calls = listed(fake)
    clock.now += PEOPLE_RETRY - timedelta(seconds=1)
    assert {p.user_id for p in messenger.people(TEAM)} == before
    assert listed(fake) == calls  # not at every tick while Slack is failing
    clock.now += timedelta(seconds=1)
    people = {p.user_id: p for p in messenger.people(TEAM)}
    assert set(people) == before | {"UNEW"}  # tried again, and the newcomer is asked
    assert people[FRONTLINE[0]].display_name == "renamed"
    assert listed(fake) == calls + 1


def test_with_no_listing_yet_a_failure_is_raised(messenger, fake):
    fake.fail("users.list", status=500)
    with pytest.raises(SlackApiError):
        messenger.people(TEAM)  # the scheduler logs it and tries at the next tick
    assert len(messenger.people(TEAM)) == 1 + len(EXECUTIVES) + len(FRONTLINE)


def test_threads_asking_at_once_share_one_listing(service, messenger, fake):
    fake.delay("users.list", seconds=0.3)  # the first refresh is slow; the others wait for it
    results: list[set[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append({p.user_id for p in messenger.people(TEAM)}))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert listed(fake) == 1
    assert results == [{ADMIN, *EXECUTIVES, *FRONTLINE}] * 6
    assert len(service.store.people("slack", TEAM)) == 1 + len(EXECUTIVES) + len(FRONTLINE)


def test_find_sent_recovers_a_check_in_posted_before_a_crash(service, messenger, fake):
    round_ = service.start_round()
    person = messenger.people(TEAM)[0]
    assert messenger.find_sent(person, round_) is None
    ref = messenger.send_round(person, round_, service.questions_for(person, round_))
    assert messenger.find_sent(person, round_) == ref
    other = service.store.create_round(round_.question_ids, round_.opened_at, round_.closes_at)
    assert messenger.find_sent(person, other) is None


def test_the_pacer_keeps_to_its_rate():
    pacer = Pacer(rate=20, burst=1)
    started = time.monotonic()
    for _ in range(11):
        pacer.wait()
    assert time.monotonic() - started >= 0.45  # ten waits of 50 ms after the first


def test_the_pacer_makes_up_a_short_stall_and_no_more():
    assert Pacer(rate=5).burst == 1  # Slack's default pace: evenly spaced, no burst
    pacer = Pacer(rate=100)
    assert pacer.burst == 10  # a tenth of a second's posts
    time.sleep(0.3)  # the sender stalled
    started = time.monotonic()
    for _ in range(30):
        pacer.wait()
    assert time.monotonic() - started >= 0.19  # ten at once, then twenty 10 ms apart


def test_summary_goes_to_every_executive_or_to_a_channel(service, messenger, fake):
    from bot.core.replies import Reply

    messenger.people(TEAM)
    recipients = messenger.summary_recipients(TEAM, "executives")
    assert sorted(recipients) == sorted(f"@{u}" for u in [ADMIN, *EXECUTIVES])
    for recipient in recipients:
        messenger.post_summary(TEAM, recipient, Reply.text("the summary"))
    posted = [c.args["channel"] for c in fake.calls_to("chat.postMessage")]
    assert sorted(posted) == sorted(f"D{u}" for u in [ADMIN, *EXECUTIVES])  # each one once
    fake.add_channel("C0LEADERSHIP", "leadership", [ADMIN, *EXECUTIVES])
    assert messenger.summary_recipients(TEAM, "#C0LEADERSHIP") == ["C0LEADERSHIP"]
    messenger.post_summary(TEAM, "#C0LEADERSHIP", Reply.text("the summary"))
    assert fake.calls_to("chat.postMessage")[-1].args["channel"] == "C0LEADERSHIP"


def test_a_summarys_first_screen_is_posted_and_the_rest_goes_in_its_thread(messenger, fake):
    from bot.core.replies import Heading, Reply, Table, Text

    fake.add_channel("C0LEADERSHIP", "leadership", [ADMIN, *EXECUTIVES])
    reply = Reply([Heading("Integrity check: round 1"), Text("They contradict on 1 of 2.")])
    reply.fold = len(reply.blocks)
    reply.add(Heading("Question by question")).add(Table(["question"], [["give-away"]]))
    messenger.post_summary(TEAM, "#C0LEADERSHIP", reply)
    first, *thread = fake.messages["C0LEADERSHIP"]
    assert first["thread_ts"] is None and "contradict on 1 of 2" in json.dumps(first["blocks"])
    assert "More in the thread below" in json.dumps(first["blocks"])
    assert "give-away" not in json.dumps(first["blocks"])
    assert thread and all(m["thread_ts"] == first["ts"] for m in thread)
    assert "give-away" in json.dumps([m["blocks"] for m in thread])


def test_a_summary_posts_to_one_recipient_and_raises_if_it_fails(service, messenger, fake):
    from bot.core.replies import Reply

    messenger.people(TEAM)
    # A destination is not a recipient: refused, rather than posted to everyone at once.
    for destination in ("executives", ""):
        with pytest.raises(ValueError, match="Not one recipient"):
            messenger.post_summary(TEAM, destination, Reply.text("the summary"))
    assert fake.calls_to("chat.postMessage") == []
    fake.fail("chat.postMessage", status=500)
    with pytest.raises(SlackApiError):
        messenger.post_summary(TEAM, f"@{EXECUTIVES[0]}", Reply.text("the summary"))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxp-1", "SLACK_SIGNING_SECRET": "s"}, "xoxb-"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "xapp-"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_BASE_URL": "x"},
            "SLACK_API_BASE_URL",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_APP_TOKEN": "xapp-1",
                "SLACK_POSTS_PER_SECOND": "0",
            },
            "SLACK_POSTS_PER_SECOND",
        ),
    ],
)
def test_settings_fail_fast_naming_what_is_missing(env, named):
    with pytest.raises(ConfigError, match=named):
        SlackSettings.from_env(env)


def test_settings_read_lists_and_socket_mode():
    settings = SlackSettings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_APP_TOKEN": "xapp-1",
            "INTEGRITY_EXECUTIVES": "U1, U2,",
            "INTEGRITY_CHANNELS": "C2,C1",
            "SLACK_API_BASE_URL": "http://127.0.0.1:9/api",
        }
    )
    assert settings.socket_mode
    assert settings.executives == {"U1", "U2"}
    assert settings.channels == ("C1", "C2")
    assert settings.api_base_url == "http://127.0.0.1:9/api/"


def test_a_channel_the_app_was_not_invited_to_is_logged_with_what_to_do(
    service, slack_settings, fake, clock, caplog
):
    fake.add_channel("C0FLOOR", "shop-floor", [*FRONTLINE], bot_invited=False)
    messenger = SlackMessenger(service, replace(slack_settings, checkin_channels=("C0FLOOR",)))
    round_ = service.start_round()
    with caplog.at_level(logging.ERROR, logger="bot.adapters.slack.messenger"):
        messenger.deliver(round_)
    assert "C0FLOOR" not in fake.messages  # Slack refused: not_in_channel
    # Asked once, not with each of the 15 check-ins, and told once, with what to do.
    refused = [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == "C0FLOOR"]
    assert len(refused) == 1
    (logged,) = [r for r in caplog.records if "C0FLOOR" in r.getMessage()]
    assert "/invite @integrity-check" in logged.getMessage() and logged.exc_info is None
    assert len(fake.calls_to("chat.postMessage")) == 1 + 1 + len(EXECUTIVES) + len(FRONTLINE)
    # Invited now: the next check-in sent after the pause posts the round there.
    fake.channels["C0FLOOR"]["bot_invited"] = True
    clock.now += NOT_INVITED_RETRY
    messenger.post_round_to_channels(round_)
    assert len(fake.messages["C0FLOOR"]) == 1
