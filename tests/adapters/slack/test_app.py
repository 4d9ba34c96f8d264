"""The Slack app end to end: signed HTTP requests in, the fake Slack Web API out."""

from __future__ import annotations

import json
import threading
import time

import pytest

from bot.adapters.slack import blocks as kit
from tests.adapters.slack.conftest import ADMIN, EXECUTIVES, FRONTLINE, TEAM, Rig
from tests.fakes.slack_api import RESPONSE_URL

SMALL_GROUP_WHY = "only three of us said this about the hold music"


def answers_of(rig: Rig) -> list:
    return rig.service.store.answers([r.id for r in rig.service.store.rounds()])


def shown(rig: Rig, user: str) -> str:
    """What the person's check-in message says now, as JSON."""
    return json.dumps(rig.checkin(user)["blocks"])


def redraws(rig: Rig) -> list[dict]:
    """Messages replaced through a click's response_url."""
    return [r for r in rig.fake.responses if r.get("replace_original") is True]


def test_round_by_dm_rating_why_and_the_summary_with_the_floor(rig: Rig):
    current = rig.start_round()
    # Everyone human got one DM; bots and deactivated accounts did not.
    posted = {c.args["channel"] for c in rig.fake.calls_to("chat.postMessage")}
    assert posted == {ADMIN, *EXECUTIVES, *FRONTLINE}
    message = rig.checkin(FRONTLINE[0])
    assert message["metadata"]["event_type"] == kit.CHECKIN_EVENT
    assert message["metadata"]["event_payload"] == {"round_id": current.id}

    # A person clicks a rating, and the message updates (through the click's response_url)
    # to say what was recorded.
    assert rig.rate(FRONTLINE[0], 1, 2).status_code == 200
    rig.fake.wait_for(lambda: "2/5 recorded" in shown(rig, FRONTLINE[0]))
    assert len(redraws(rig)) == 1 and rig.fake.calls_to("chat.update") == []
    assert rig.checkin(FRONTLINE[0])["metadata"]["event_type"] == kit.CHECKIN_EVENT  # kept
    # ...then adds a why in the modal (no response_url there: chat.update).
    assert rig.add_why(FRONTLINE[0], 1, "Customers wait 40 minutes on hold").status_code == 200
    rig.fake.wait_for(lambda: "with your why" in shown(rig, FRONTLINE[0]))
    assert len(rig.fake.calls_to("chat.update")) == 1

    # The rest answer question 1: six executives think highly, eight frontline do not.
    for user in EXECUTIVES:
        rig.rate(user, 1, 5)
        rig.add_why(user, 1, f"Our service is the best in the region ({user})")
    for user in FRONTLINE[1:]:
        rig.rate(user, 1, 2)
        rig.add_why(user, 1, f"Half my calls are angry people on hold ({user})")
    # Question 2: only three frontline answer, under the floor of five.
    for user in FRONTLINE[:3]:
        rig.rate(user, 2, 1)
        rig.add_why(user, 2, SMALL_GROUP_WHY)
    rig.fake.wait_for(lambda: len(answers_of(rig)) == 6 + 8 + 3)
    first = next(a for a in answers_of(rig) if a.text.startswith("Customers wait"))
    assert first.rating == 2 and not first.on_record

    # The round closes (an open round shows its response rate only), then an executive asks
    # for the summary: acked at once, the summary follows via response_url.
    rig.service.close_round(round_=current)
    before = len(rig.fake.responses)
    started = time.monotonic()
    response = rig.send.command(EXECUTIVES[0], "summary")
    assert response.status_code == 200
    assert time.monotonic() - started < 3
    assert "Working on" in response.text
    rig.fake.wait_for(lambda: len(rig.fake.responses) > before, timeout=60)
    text = rig.responses_text()
    assert "Our service is the best in the region" in text
    assert "angry people on hold" in text
    assert SMALL_GROUP_WHY not in text
    for body in rig.fake.responses[before:]:
        assert body["response_type"] == "ephemeral"
        assert len(body["blocks"]) <= kit.MAX_BLOCKS


def test_a_non_executive_is_refused_the_summary(rig: Rig):
    rig.start_round()
    assert rig.send.command(FRONTLINE[0], "summary").status_code == 200
    rig.fake.wait_for(lambda: "Only executives" in rig.responses_text())


def test_the_same_event_three_times_is_recorded_once(make_rig):
    rig = make_rig(checkin_channels=("C0FLOOR",))
    rig.fake.add_channel("C0FLOOR", "shop-floor", [*FRONTLINE])
    current = rig.start_round()
    post = rig.fake.messages["C0FLOOR"][-1]
    event = {
        "type": "message",
        "channel": "C0FLOOR",
        "channel_type": "channel",
        "user": FRONTLINE[2],
        "text": "1 2 we lose customers to slow refunds",
        "ts": f"{time.time():.6f}",
        "thread_ts": post["ts"],
    }
    for attempt in range(3):
        headers = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
        assert rig.send.event(event, event_id="Ev0REDELIVER", headers=headers).status_code == 200
    rig.fake.wait_for(lambda: rig.fake.calls_to("chat.postEphemeral"))
    time.sleep(0.5)  # give any duplicate time to show up
    answers = answers_of(rig)
    assert len(answers) == 1
    assert answers[0].on_record and answers[0].rating == 2
    assert answers[0].text == "we lose customers to slow refunds"
    assert answers[0].round_id == current.id
    notes = rig.fake.calls_to("chat.postEphemeral")
    assert len(notes) == 1 and "on the record" in notes[0].args["text"]
    assert "replaces your private answer" not in notes[0].args["text"]  # there was none


def test_a_public_thread_reply_never_puts_a_private_why_on_the_record(make_rig):
    """Someone rates in private with a why, then replies `1 4` in the round's channel
    thread under their name: the answer on the record must not carry the private why,
    or an executive could read it beside the named thread post."""
    rig = make_rig(checkin_channels=("C0FLOOR",))
    rig.fake.add_channel("C0FLOOR", "shop-floor", [*FRONTLINE])
    current = rig.start_round()
    user = FRONTLINE[1]
    rig.checkin(user)
    rig.rate(user, 1, 2)
    rig.add_why(user, 1, "PRIVATE: my manager tells us to hide refund requests")
    rig.fake.wait_for(lambda: any(a.text.startswith("PRIVATE") for a in answers_of(rig)))
    post = rig.fake.messages["C0FLOOR"][-1]
    event = {
        "type": "message", "channel": "C0FLOOR", "channel_type": "channel", "user": user,
        "text": "1 4", "ts": f"{time.time():.6f}", "thread_ts": post["ts"],
    }  # fmt: skip
    assert rig.send.event(event, event_id="Ev0PUBLIC").status_code == 200
    rig.fake.wait_for(lambda: rig.fake.calls_to("chat.postEphemeral"))
    (answer,) = answers_of(rig)
    assert answer.round_id == current.id and answer.on_record and answer.rating == 4
    assert answer.text == "" and answer.customer_prediction is None
    note = rig.fake.calls_to("chat.postEphemeral")[-1].args["text"]
    assert "replaces your private answer" in note


def test_bad_signature_and_stale_timestamp_get_401_and_record_nothing(rig: Rig):
    current = rig.start_round()
    message = rig.checkin(FRONTLINE[0])
    button = next(b for b in rig.buttons(FRONTLINE[0]) if b["action_id"] == "integrity_rate_3")
    args = (FRONTLINE[0], button["action_id"], button["value"])
    forged = rig.send.click(*args, channel=f"D{FRONTLINE[0]}", ts=message["ts"], secret="wrong")
    stale = rig.send.click(
        *args, channel=f"D{FRONTLINE[0]}", ts=message["ts"], timestamp=int(time.time()) - 600
    )
    assert (forged.status_code, stale.status_code) == (401, 401)
    time.sleep(0.3)
    person = rig.service.store.person("slack", TEAM, FRONTLINE[0])
    assert rig.service.my_answers(person, current) == {}
    # A correctly signed click still works afterwards.
    assert rig.rate(FRONTLINE[0], 1, 3).status_code == 200
    assert len(answers_of(rig)) == 1


def test_a_malformed_payload_gets_400_and_the_app_keeps_serving(rig: Rig):
    bad = rig.send.post("payload=%7Bnot-json", "application/x-www-form-urlencoded")
    assert bad.status_code == 400
    assert rig.send.post("{truncated", "application/json").status_code == 400
    assert rig.send.command(FRONTLINE[0], "help").status_code == 200
    rig.fake.wait_for(lambda: "Integrity Check" in rig.responses_text())


@pytest.mark.slow
def test_a_429_from_chat_post_message_is_waited_out_and_nothing_is_lost(rig: Rig):
    rig.fake.rate_limit("chat.postMessage", per_second=4, burst=4, retry_after=1)
    rig.start_round()
    assert rig.fake.rate_limited, "the fake never limited: the test proves nothing"
    per_channel = {}
    for call in rig.fake.calls_to("chat.postMessage"):
        per_channel[call.args["channel"]] = per_channel.get(call.args["channel"], 0) + 1
    assert per_channel == {user: 1 for user in [ADMIN, *EXECUTIVES, *FRONTLINE]}
    # The last send is recorded just after Slack answered it: wait for the record, not the post.
    round_id = rig.service.open_round().id
    statuses = rig.fake.wait_for(
        lambda: (
            (s := [d["status"] for d in rig.service.store.deliveries(round_id)])
            and "claimed" not in s
            and s
        )
    )
    assert statuses == ["sent"] * (1 + len(EXECUTIVES) + len(FRONTLINE))


def test_export_arrives_as_a_csv_file_in_the_dm(rig: Rig):
    rig.start_round()
    for user in FRONTLINE[:6]:
        rig.rate(user, 1, 2)
    for user in EXECUTIVES[:2]:  # under the floor: not in the export
        rig.rate(user, 1, 5)
    rig.fake.wait_for(lambda: len(answers_of(rig)) == 8)
    rig.service.close_round()  # an open round exports nothing
    assert rig.send.command(EXECUTIVES[0], "export").status_code == 200
    rig.fake.wait_for(lambda: rig.fake.uploads, timeout=30)
    upload = rig.fake.uploads[-1]
    assert upload["filename"].endswith(".csv")
    lines = upload["content"].decode().strip().splitlines()
    assert len(lines) == 1 + 6
    assert all(",frontline," in line for line in lines[1:])
    assert upload["channel_id"] == f"D{EXECUTIVES[0]}"
    rig.fake.wait_for(lambda: "direct messages" in rig.responses_text())


def test_app_home_shows_open_questions_and_the_executive_summary_button(rig: Rig):
    rig.start_round()
    rig.send.event({"type": "app_home_opened", "user": FRONTLINE[0], "tab": "home"})
    rig.send.event({"type": "app_home_opened", "user": EXECUTIVES[0], "tab": "home"})
    rig.fake.wait_for(lambda: {FRONTLINE[0], EXECUTIVES[0]} <= set(rig.fake.home_views))
    frontline = json.dumps(rig.fake.home_views[FRONTLINE[0]])
    executive = json.dumps(rig.fake.home_views[EXECUTIVES[0]])
    assert "You have answered 0 of your" in frontline
    assert kit.HOME_SUMMARY_ACTION not in frontline
    assert kit.HOME_SUMMARY_ACTION in executive
    assert "Your privacy" in frontline and "forget-me confirm" in frontline  # bot.core.privacy


def test_answer_privately_from_a_channel_post_is_anonymous(make_rig):
    rig = make_rig(checkin_channels=("C0FLOOR",))
    rig.fake.add_channel("C0FLOOR", "shop-floor", [*FRONTLINE])
    current = rig.start_round()
    post = rig.fake.messages["C0FLOOR"][-1]
    button = next(e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"])
    user = FRONTLINE[4]
    rig.send.click(user, button["action_id"], button["value"], channel="C0FLOOR", ts=post["ts"])
    rig.fake.wait_for(lambda: rig.fake.calls_to("views.open"))
    view = rig.fake.calls_to("views.open")[-1].args["view"]
    first, second = current.question_ids[:2]
    values = {
        f"rating:{first}": {"rating": {"type": "static_select", "selected_option": {"value": "4"}}},
        f"why:{second}": {"text": {"type": "plain_text_input", "value": "we copy last year"}},
    }
    assert rig.send.submit(user, view, values).status_code == 200
    answers = {a.question_id: a for a in answers_of(rig)}
    assert answers[first].rating == 4 and not answers[first].on_record
    assert answers[second].text == "we copy last year" and answers[second].rating is None


def test_a_why_for_a_closed_round_keeps_the_modal_open_with_an_error(rig: Rig):
    rig.start_round()
    user = FRONTLINE[0]
    why = next(b for b in rig.buttons(user) if b["action_id"] == kit.WHY_ACTION)
    rig.send.click(user, why["action_id"], why["value"], channel=f"D{user}", ts="1.0")
    rig.fake.wait_for(lambda: rig.fake.calls_to("views.open"))
    view = rig.fake.calls_to("views.open")[-1].args["view"]
    rig.service.close_round()
    response = rig.send.submit(
        user, view, {"why": {"text": {"type": "plain_text_input", "value": "too late"}}}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors" and "closed" in body["errors"]["why"]
    assert answers_of(rig) == []


def test_commands_in_the_dm_with_the_bot(rig: Rig):
    rig.send.event(
        {"type": "message", "channel": f"D{FRONTLINE[1]}", "channel_type": "im",
         "user": FRONTLINE[1], "text": "help", "ts": f"{time.time():.6f}"}
    )  # fmt: skip
    rig.fake.wait_for(lambda: rig.fake.messages.get(f"D{FRONTLINE[1]}"))
    assert "forget-me" in json.dumps(rig.fake.messages[f"D{FRONTLINE[1]}"])


def _closed_round_with_a_gap(rig: Rig) -> None:
    """A round every executive rated 5 and six frontline staff rated 2, then closed."""
    rig.start_round()
    for user in EXECUTIVES:
        rig.rate(user, 1, 5)
    for user in FRONTLINE[:6]:
        rig.rate(user, 1, 2)
    rig.fake.wait_for(lambda: len(answers_of(rig)) == 12)
    rig.service.close_round()


def test_the_trend_chart_is_uploaded_as_a_png(rig: Rig):
    _closed_round_with_a_gap(rig)
    assert rig.send.command(EXECUTIVES[0], "trend").status_code == 200
    rig.fake.wait_for(lambda: len(rig.fake.uploads) >= 2, timeout=30)
    charts = [u for u in rig.fake.uploads if u["filename"].endswith(".png")]
    assert charts and all(u["content"].startswith(b"\x89PNG\r\n\x1a\n") for u in charts)
    assert rig.fake.calls_to("files.getUploadURLExternal")
    assert rig.fake.calls_to("files.completeUploadExternal")


def test_the_web_server_mounts_slack_when_its_token_is_set(service, fake):
    from bot.adapters.web import build_server

    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "SLACK_API_BASE_URL":
           fake.base_url}  # fmt: skip
    web_app, messengers = build_server(service, env, scheduler=False)
    assert set(messengers) == {"slack"}
    assert "/slack/events" in {r.resource.canonical for r in web_app.router.routes()}


def _rating_buttons(rig: Rig, user: str) -> int:
    """How many questions the person's check-in has rating buttons for."""
    return sum(b["action_id"] == "integrity_rate_1" for b in rig.buttons(user))


@pytest.mark.slow
def test_clicks_are_acked_before_their_redraw_and_the_message_ends_up_showing_all(rig: Rig):
    rig.start_round()
    user = FRONTLINE[0]
    questions = _rating_buttons(rig, user)
    assert questions >= 3
    rig.fake.delay(RESPONSE_URL, seconds=3)  # the first redraw is slow to be answered
    for number in range(1, questions + 1):
        assert rig.rate(user, number, number).status_code == 200
    # Every click was acked while the first redraw was still waiting for Slack, and the
    # clicks that came meanwhile wait for it instead of racing it.
    assert len(redraws(rig)) <= 1
    rig.fake.wait_for(lambda: len(answers_of(rig)) == questions)
    rig.fake.wait_for(lambda: len(redraws(rig)) == 2, timeout=10)
    time.sleep(0.5)  # time for a needless third redraw to show up, if there were one
    assert len(redraws(rig)) == 2  # the slow one, then one for all the clicks made meanwhile
    last = json.dumps(redraws(rig)[-1]["blocks"])
    for number in range(1, questions + 1):
        assert f"{number}/5 recorded" in last, number
    assert "Not answered yet" not in last
    assert shown(rig, user) == json.dumps(redraws(rig)[-1]["blocks"])
    assert rig.fake.calls_to("chat.update") == []


def test_clicks_redraw_through_response_url_whatever_chat_update_allows(rig: Rig):
    rig.start_round()
    rig.fake.rate_limit("chat.update", per_second=50 / 60, burst=1, retry_after=30)  # Tier 3
    clickers = [ADMIN, *EXECUTIVES, *FRONTLINE]
    for user in clickers:
        assert rig.rate(user, 1, 4).status_code == 200
    rig.fake.wait_for(lambda: all("4/5 recorded" in shown(rig, user) for user in clickers))
    assert rig.fake.calls_to("chat.update") == [] and rig.fake.rate_limited == []


def test_a_used_up_response_url_falls_back_to_chat_update(rig: Rig, monkeypatch):
    rig.start_round()
    monkeypatch.setattr(rig.send, "response_url", lambda *message: f"{rig.fake.root}/response/0")
    assert rig.rate(FRONTLINE[0], 1, 5).status_code == 200
    rig.fake.wait_for(lambda: "5/5 recorded" in shown(rig, FRONTLINE[0]))
    assert len(rig.fake.calls_to("chat.update")) == 1 and redraws(rig) == []


@pytest.mark.slow
def test_a_rate_limited_redraw_waits_out_the_429_and_lands(rig: Rig):
    rig.start_round()
    rig.fake.rate_limit("chat.update", per_second=1, burst=1, retry_after=1)
    writers = FRONTLINE[:4]
    for user in writers:  # a why from the form has no response_url: chat.update redraws it
        assert rig.add_why(user, 1, f"Hold times are long ({user})").status_code == 200
    rig.fake.wait_for(
        lambda: all("with your why" in shown(rig, user) for user in writers), timeout=20
    )
    assert [c.method for c in rig.fake.rate_limited][:1] == ["chat.update"]  # 429s were met


def test_a_failure_after_the_ack_is_logged_and_told_with_what_was_sent(
    rig: Rig, monkeypatch, caplog
):
    def broken(person, text):
        raise RuntimeError("the database file vanished")

    monkeypatch.setattr(rig.bot.commands, "handle", broken)
    response = rig.send.command(EXECUTIVES[0], "status")
    assert response.status_code == 200  # acked: the failure came after
    rig.fake.wait_for(lambda: "something went wrong" in rig.responses_text())
    assert "What you sent: `status`" in rig.responses_text()
    assert "the database file vanished" in caplog.text  # logged, with its traceback
    assert "the database file vanished" not in rig.responses_text()  # not shown to people
    monkeypatch.undo()
    assert rig.send.command(FRONTLINE[0], "help").status_code == 200
    rig.fake.wait_for(lambda: "Integrity Check" in rig.responses_text())


def test_the_app_asks_slack_who_it_is_at_start_up_and_a_burst_shares_one_retry(
    make_rig, fake, caplog
):
    from concurrent.futures import ThreadPoolExecutor

    fake.fail("auth.test", status=503)  # Slack is down as the app starts: it serves anyway
    rig = make_rig()
    assert "Could not reach Slack to check SLACK_BOT_TOKEN" in caplog.text
    assert [c.status for c in fake.calls_to("auth.test")] == [503]  # not an answer: not kept
    rig.fake.delay("auth.test", seconds=0.5)  # every request arrives while the first asks
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda user: rig.send.command(user, "help"), FRONTLINE))
    assert statuses and all(r.status_code == 200 for r in statuses)
    assert [c.status for c in rig.fake.calls_to("auth.test")] == [503, 200]
    rig.fake.wait_for(lambda: rig.responses_text().count("Integrity Check") >= len(FRONTLINE))


def test_a_slow_database_still_gets_the_click_acked_and_the_answer_saved(rig: Rig, monkeypatch):
    import bot.adapters.slack.listeners.actions as slack_actions

    rig.start_round()
    monkeypatch.setattr(slack_actions, "RECORD_BEFORE_ACK_SECONDS", 0.2)
    saving = rig.service.record_answer
    release = threading.Event()

    def slow(*args, **kwargs):
        release.wait(10)  # the database is locked by someone else for a while
        return saving(*args, **kwargs)

    monkeypatch.setattr(rig.service, "record_answer", slow)
    assert rig.rate(FRONTLINE[0], 1, 3).status_code == 200  # acked without waiting for it
    assert answers_of(rig) == []
    release.set()
    rig.fake.wait_for(lambda: len(answers_of(rig)) == 1)
    rig.fake.wait_for(lambda: "3/5 recorded" in json.dumps(rig.checkin(FRONTLINE[0])["blocks"]))


def test_a_wrong_bot_token_is_told_at_start_up_with_what_to_do(make_rig, caplog):
    make_rig(bot_token="xoxb-wrong")
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in caplog.text
    assert "Install App" in caplog.text


def test_a_form_that_cannot_open_is_told_to_the_person_who_clicked(rig: Rig):
    rig.start_round()
    rig.fake.fail("views.open", error="expired_trigger_id")
    why = next(b for b in rig.buttons(FRONTLINE[0]) if b["action_id"] == kit.WHY_ACTION)
    message = rig.checkin(FRONTLINE[0])
    clicked = rig.send.click(
        FRONTLINE[0], why["action_id"], why["value"], channel=f"D{FRONTLINE[0]}", ts=message["ts"]
    )
    assert clicked.status_code == 200
    rig.fake.wait_for(lambda: "something went wrong" in rig.responses_text())
    (told,) = [r for r in rig.fake.responses if "something went wrong" in r.get("text", "")]
    assert told["response_type"] == "ephemeral" and told["replace_original"] is False
    assert "2/5" not in shown(rig, FRONTLINE[0])  # the check-in itself is left as it was


def test_an_answer_click_reads_once_and_writes_once_before_its_ack(rig: Rig, monkeypatch):
    from bot.adapters.slack.listeners.context import AfterAck

    rig.start_round()
    round_id = rig.service.open_round().id
    rig.fake.wait_for(  # the round's delivery has finished writing
        lambda: all(d["status"] == "sent" for d in rig.service.store.deliveries(round_id))
    )
    # What a handler hands on runs after the ack: hold it, so every statement seen until the
    # response arrives is one the ack waited for.
    held: list = []
    monkeypatch.setattr(AfterAck, "__call__", lambda self, work, body: held.append(work))
    with rig.service.store.traced() as statements:
        assert rig.rate(FRONTLINE[1], 1, 3).status_code == 200
    for work in held:
        work.close()
    # sqlite-utils wraps each query in a savepoint of its own: bookkeeping, not a read.
    statements = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    # Emptying the -wal so the answer never sits beside a write that names a person (here,
    # the round's deliveries; see bot.store.store): a checkpoint, not a read or a write.
    statements = [
        s for s in statements if not s.startswith(("PRAGMA busy_timeout", "PRAGMA wal_checkpoint"))
    ]
    kinds = [s.split(None, 1)[0].upper() for s in statements]
    assert kinds.count("BEGIN") == 1 and kinds.count("COMMIT") == 1, statements  # one write
    begin, commit = kinds.index("BEGIN"), kinds.index("COMMIT")
    reads = [
        s for s, kind in zip(statements[:begin], kinds[:begin], strict=True) if kind == "SELECT"
    ]
    assert len(reads) == 1, reads
    # Inside the write, besides the upsert: the answer's own row, by its key, to see whether
    # the edit moves it on or off the record (then nothing of it is kept; `upsert_answers`).
    inside = list(zip(statements[begin + 1 : commit], kinds[begin + 1 : commit], strict=True))
    own = [s for s, kind in inside if kind == "SELECT"]
    assert len(own) == 1 and own[0].startswith("select * from answers where round_id"), own
    assert all(kind in {"SELECT", "INSERT", "UPDATE"} for _, kind in inside), statements
    assert set(kinds) <= {"SELECT", "BEGIN", "INSERT", "UPDATE", "COMMIT"}, statements
    (answer,) = answers_of(rig)
    assert answer.rating == 3 and answer.round_id == round_id


def test_a_summary_is_acked_at_once_with_how_many_answers_it_analyses(rig: Rig, monkeypatch):
    rig.start_round()
    for user in FRONTLINE[:6]:
        rig.rate(user, 1, 2)
    rig.fake.wait_for(lambda: len(answers_of(rig)) == 6)
    rig.service.close_round()  # an open round is not analysed
    analysing = rig.service.analysis
    release = threading.Event()

    def held(scope):  # the analysis takes as long as it takes: the ack does not wait for it
        release.wait(10)
        return analysing(scope)

    monkeypatch.setattr(rig.service, "analysis", held)

    def replies() -> list[dict]:  # what was said through response_url, redraws aside
        return [r for r in rig.fake.responses if not r.get("replace_original")]

    before = len(replies())
    response = rig.send.command(EXECUTIVES[0], "summary")
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert (
        response.json()["text"]
        == "Working on `/integrity summary`. Analysing 6 answers from round 1…"
    )
    assert len(replies()) == before  # nothing analysed, nothing answered yet
    release.set()
    rig.fake.wait_for(lambda: "Integrity check: round 1" in rig.responses_text(), timeout=60)
    # Someone who may not read summaries is told so by the reply, with no count first.
    response = rig.send.command(FRONTLINE[0], "summary")
    assert "Analysing" not in response.text and "Working on" in response.text


def test_a_summary_shows_one_screen_and_keeps_the_rest_in_a_dm_thread(rig: Rig):
    _closed_round_with_a_gap(rig)  # an open round shows its response rate only
    assert rig.send.command(EXECUTIVES[0], "summary").status_code == 200
    dm = f"D{EXECUTIVES[0]}"
    rig.fake.wait_for(lambda: any(m["thread_ts"] for m in rig.fake.messages.get(dm, [])), 60)
    said = [r for r in rig.fake.responses if "Integrity check: round 1" in json.dumps(r)]
    assert said and all(r["response_type"] == "ephemeral" for r in said)
    assert "More in the thread of this summary in our direct messages" in json.dumps(said[-1])
    assert "Question by question" not in json.dumps(said)  # the detail is behind "more"
    parent = next(m for m in rig.fake.messages[dm] if "Integrity check: round 1" in m["text"])
    thread = [m for m in rig.fake.messages[dm] if m["thread_ts"] == parent["ts"]]
    assert "Question by question" in json.dumps([m["blocks"] for m in thread])


def test_a_form_is_saved_whole_in_one_transaction_or_not_at_all(rig: Rig):
    current = rig.start_round()
    user = FRONTLINE[2]
    value = json.dumps({"round": current.id})
    rig.send.click(user, kit.ANSWER_PRIVATELY_ACTION, value)  # from the App Home
    rig.fake.wait_for(lambda: rig.fake.calls_to("views.open"))
    view = rig.fake.calls_to("views.open")[-1].args["view"]
    first, second, third = current.question_ids[:3]

    def rating(n: str) -> dict:
        return {"rating": {"type": "static_select", "selected_option": {"value": n}}}

    def why(text: str) -> dict:
        return {"text": {"type": "plain_text_input", "value": text}}

    # One answer of three is too long: the modal says so and nothing of the form is saved.
    too_long = {f"rating:{first}": rating("4"), f"why:{second}": why("x" * 3001)}
    response = rig.send.submit(user, view, too_long)
    assert response.json()["response_action"] == "errors"
    assert "3,001 characters" in json.dumps(response.json()["errors"])
    assert answers_of(rig) == []

    form = {
        f"rating:{first}": rating("4"),
        f"why:{second}": why("we copy last year"),
        f"rating:{third}": rating("2"),
        f"why:{third}": why("nobody asks them"),
    }
    with rig.service.store.traced() as statements:
        assert rig.send.submit(user, view, form).status_code == 200
    stored = {a.question_id: a for a in answers_of(rig)}
    assert (stored[first].rating, stored[second].text, stored[third].rating) == (
        4, "we copy last year", 2
    )  # fmt: skip
    kinds = [s.split(None, 1)[0].upper() for s in statements]
    assert kinds.count("BEGIN") == 1, statements  # the three answers, one transaction
