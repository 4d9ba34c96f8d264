"""The Teams bot over real HTTP: check-in cards, commands, permissions, proactive sends.

Every test posts activities to /api/messages the way Teams does and reads what the
bot sent back from the fake connector service, so the SDK's routing and its
outgoing connector calls are part of what is tested.
"""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

import pytest

from bot.adapters.teams.config import TeamsSettings
from bot.core.replies import Reply
from bot.core.schedule import WeeklySchedule
from bot.core.scheduler import Scheduler
from tests.adapters.teams.conftest import BOT_ID, TENANT
from tests.conftest import make_people

pytestmark = pytest.mark.anyio

CARD = "application/vnd.microsoft.card.adaptive"


def texts(card: dict) -> list[str]:
    """Every TextBlock text in a card, depth first."""
    found = []

    def walk(element):
        if isinstance(element, dict):
            if element.get("type") == "TextBlock":
                found.append(element["text"])
            for value in element.values():
                walk(value)
        elif isinstance(element, list):
            for item in element:
                walk(item)

    walk(card.get("body", []))
    return found


def inputs(card: dict) -> dict[str, dict]:
    found = {}

    def walk(element):
        if isinstance(element, dict):
            if str(element.get("type", "")).startswith("Input."):
                found[element["id"]] = element
            for value in element.values():
                walk(value)
        elif isinstance(element, list):
            for item in element:
                walk(item)

    walk(card.get("body", []))
    return found


async def test_answer_shows_the_checkin_card_with_labelled_ratings(teams, service, admin):
    round_ = service.start_round(admin)
    assert await teams.say("answer") == 202
    [card] = teams.connector.cards("a:chat-u1")
    questions = service.questions_for(service.store.person("teams", TENANT, "aad-u1"), round_)
    fields = inputs(card)
    first = questions[0]
    choices = fields[f"rating:{first.id}"]["choices"]
    assert [c["value"] for c in choices] == ["1", "2", "3", "4", "5"]
    assert first.low_label in choices[0]["title"] and first.high_label in choices[4]["title"]
    assert fields[f"why:{first.id}"]["isMultiline"] is True
    [action] = card["actions"]
    assert action["type"] == "Action.Execute" and action["data"] == {"round": round_.id}


async def test_a_card_answer_delivered_twice_is_recorded_once(teams, service, admin):
    round_ = service.start_round(admin)
    await teams.say("hello")  # Ann meets the bot
    ann = service.store.person("teams", TENANT, "aad-u1")
    question = service.questions_for(ann, round_)[0]
    data = {"round": round_.id, f"rating:{question.id}": "2", f"why:{question.id}": "price only"}
    invoke = teams.card_action("answer", data, id_="invoke-1")

    first = await teams.post(invoke)
    again = await teams.post(invoke)  # Teams retried: same activity id

    for response in (first, again):
        assert response.status == 200
        body = await response.json()
        assert body["statusCode"] == 200 and body["type"] == CARD
        assert "Recorded: 2/5, with your why." in texts(body["value"])
        # The refreshed card keeps the answer in its inputs, so sending again edits it.
        assert inputs(body["value"])[f"rating:{question.id}"]["value"] == "2"
    assert "Recorded 1 answer. Thank you! You can change it " in " ".join(
        texts((await first.json())["value"])
    )
    answers = service.store.answers([round_.id])
    assert [(a.question_id, a.rating, a.text) for a in answers] == [(question.id, 2, "price only")]
    rows = list(service.store.db.query("select source from answers"))
    assert rows == [{"source": "teams"}]

    # The same answer sent again as a new action edits the one answer, never adds one.
    edited = dict(data, **{f"rating:{question.id}": "3"})
    await teams.post(teams.card_action("answer", edited))
    assert [(a.rating, a.text) for a in service.store.answers([round_.id])] == [(3, "price only")]


async def test_a_refused_card_answer_says_why_and_stores_nothing(teams, service, admin):
    round_ = service.start_round(admin)
    await teams.say("hello")
    ann = service.store.person("teams", TENANT, "aad-u1")
    question = service.questions_for(ann, round_)[0]
    service.close_round(admin)
    response = await teams.post(
        teams.card_action("answer", {"round": round_.id, f"rating:{question.id}": "4"})
    )
    body = await response.json()
    assert any("closed" in t for t in texts(body["value"]))
    assert "actions" not in body["value"]  # a closed round's card has nothing to send
    assert service.store.answers([round_.id]) == []


def _closed_round_with_answers(service, admin):
    executives = make_people(service, "executive", 5)
    frontline = make_people(service, "frontline", 5)
    round_ = service.start_round(admin)
    for person in executives:
        for qid in round_.question_ids:
            if service.store.question(qid).asked_of("executive"):
                service.record_answer(person, qid, rating=5, text="Customers love us, truly.")
    for person in frontline:
        for qid in round_.question_ids:
            if service.store.question(qid).asked_of("frontline"):
                service.record_answer(person, qid, rating=1, text="They would leave tomorrow.")
    return service.close_round(admin)


async def test_summary_for_an_executive_and_a_refusal_for_frontline(teams, service, admin):
    round_ = _closed_round_with_answers(service, admin)
    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive")

    assert await teams.say("summary", user="boss", name="Bo Boss") == 202
    cards = teams.connector.cards("a:chat-boss")
    assert cards, teams.connector.calls
    shown = " ".join(t for c in cards for t in texts(c))
    assert f"Integrity check: round {round_.number}" in shown
    assert "5 of 5 executives and 5 of 5 frontline staff answered" in shown
    assert all(len(str(c).encode()) < 28_000 for c in cards)

    assert await teams.say("summary", user="u1", name="Ann") == 202
    [refusal] = [m["text"] for m in teams.connector.messages("a:chat-u1") if m.get("text")][-1:]
    assert "Only executives can read summaries" in refusal
    assert teams.connector.cards("a:chat-u1") == []


async def test_commands_work_with_or_without_the_integrity_word(teams, service):
    await teams.say("/integrity help")
    await teams.say("help")
    cards = teams.connector.cards("a:chat-u1")
    assert len(cards) == 2
    assert texts(cards[0]) == texts(cards[1])
    # Usage lines read as Teams words: no `/integrity` prefix to type.
    assert not any("/integrity" in t for t in texts(cards[0]))


async def test_a_redelivered_message_runs_its_command_once(teams, service):
    body = teams.activity(text="propose When did you last call a customer yourself?", id_="m-1")
    await teams.post(body)
    await teams.post(body)
    assert len(service.store.proposals("pending")) == 1


async def test_new_people_are_frontline_and_told_how_roles_are_set(teams, service):
    await teams.say("status", user="new", name="Nia New")
    person = service.store.person("teams", TENANT, "aad-new")
    assert person.role == "frontline" and person.tz == "Europe/London"
    [welcome] = [m["text"] for m in teams.connector.messages("a:chat-new") if m.get("text")][:1]
    assert "You are frontline" in welcome and "role @name executive" in welcome
    assert "Your privacy" in welcome and "`forget-me confirm`" in welcome  # bot.core.privacy


async def test_channel_messages_are_answered_with_a_pointer_to_the_private_chat(teams, service):
    await teams.say("summary", conversation="19:channel@thread", conversation_type="channel")
    [message] = teams.connector.messages("19:channel@thread")
    assert "1:1 chat" in message["text"]
    person = service.store.person("teams", TENANT, "aad-u1")
    assert service.store.conversation_ref(person.id) is None  # a channel is no place for answers


async def test_proactive_checkin_goes_to_the_stored_conversation_once(teams, service, admin):
    install = teams.activity(
        "conversationUpdate", user="u2", name="Bea", membersAdded=[{"id": BOT_ID}]
    )
    assert (await teams.post(install)).status == 202
    bea = service.store.person("teams", TENANT, "aad-u2")
    assert service.store.conversation_ref(bea.id)["conversation"]["id"] == "a:chat-u2"
    [welcome] = teams.connector.messages("a:chat-u2")
    assert "Hi Bea" in welcome["text"]

    round_ = service.start_round(admin)
    report = await teams.bot.deliver_round(round_)
    assert report.sent == 1 and report.failed == []
    posts = [
        c for c in teams.connector.calls
        if c.method == "POST" and c.path.startswith("/v3/conversations/a:chat-u2/activities")
    ]  # fmt: skip
    assert len(posts) == 2  # the welcome, then the check-in
    card = posts[-1].body["attachments"][0]["content"]
    assert f"Round {round_.number}: the integrity check" in texts(card)
    assert card["refresh"]["userIds"] == ["29:u2"]
    delivery = service.store.delivery_for(round_.id, bea.id)
    assert delivery["status"] == "sent" and delivery["message_ref"].startswith("msg-")

    again = await teams.bot.deliver_round(round_)
    assert again.sent == 0 and again.already == 1
    assert len(teams.connector.messages("a:chat-u2")) == 2


async def test_ask_sends_the_new_round_to_everyone_reachable(teams, service):
    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive")
    await teams.post(teams.activity("installationUpdate", user="u3", name="Cy", action="add"))
    await teams.say("ask", user="boss", name="Bo Boss")
    for _ in range(100):  # delivery runs in the background after the reply
        if teams.connector.cards("a:chat-u3"):
            break
        await asyncio.sleep(0.05)
    [card] = teams.connector.cards("a:chat-u3")
    assert "the integrity check" in texts(card)[0]


async def test_status_lists_people_the_bot_cannot_reach_yet(teams, service):
    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive", is_admin=True)
    # Dee only ever spoke in a channel: known, but with no 1:1 conversation.
    await teams.say("hi", user="dee", name="Dee", conversation="19:c", conversation_type="channel")
    await teams.say("status", user="boss", name="Bo Boss")
    shown = " ".join(t for c in teams.connector.cards("a:chat-boss") for t in texts(c))
    assert "Not reachable in Teams yet (1): Dee" in shown


async def test_role_by_mention_and_roles_from_settings(service, connector):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.adapters.teams import register
    from tests.adapters.teams.conftest import Teams

    app = web.Application()
    settings = TeamsSettings(admins=frozenset({"aad-root"}))
    bot = register(app, service, settings)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        teams = Teams(client, bot, connector)
        await teams.say("status", user="root", name="Ro Root")
        root = service.store.person("teams", TENANT, "aad-root")
        assert root.is_admin and root.is_executive
        mention = {
            "type": "mention",
            "text": "<at>Eve</at>",
            "mentioned": {"id": "29:eve", "name": "Eve", "aadObjectId": "aad-eve"},
        }
        body = teams.activity(
            text="role <at>Eve</at> executive", user="root", name="Ro Root", entities=[mention]
        )
        await teams.post(body)
        assert service.store.person("teams", TENANT, "aad-eve").role == "executive"
        assert "Eve is now an executive." in teams.connector.messages("a:chat-root")[-1]["text"]
    finally:
        await client.close()


async def test_an_export_is_offered_as_a_file_and_uploaded_on_consent(teams, service, admin):
    _closed_round_with_answers(service, admin)
    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive")
    await teams.say("export", user="boss", name="Bo Boss")
    [offer] = [
        a
        for m in teams.connector.messages("a:chat-boss")
        for a in m.get("attachments") or []
        if a["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
    ]
    assert offer["name"].endswith(".csv") and offer["content"]["sizeInBytes"] > 0

    upload_url = teams.connector.url + "onedrive/upload-1"
    consent = teams.activity(
        "invoke",
        user="boss",
        name="Bo Boss",
        value={
            "type": "fileUpload",
            "action": "accept",
            "context": offer["content"]["acceptContext"],
            "uploadInfo": {
                "name": offer["name"],
                "uploadUrl": upload_url,
                "contentUrl": "https://contoso.sharepoint.com/x.csv",
                "uniqueId": "file-1",
                "fileType": "csv",
            },
        },
    )
    consent["name"] = "fileConsent/invoke"
    assert (await teams.post(consent)).status == 200
    [put] = [c for c in teams.connector.calls if c.method == "PUT"]
    assert put.path == "/onedrive/upload-1"
    uploaded = put.body if isinstance(put.body, bytes) else b""
    assert uploaded.startswith(b"round,question_id")
    assert put.headers["Content-Range"] == f"bytes 0-{len(uploaded) - 1}/{len(uploaded)}"
    info = teams.connector.messages("a:chat-boss")[-1]["attachments"][0]
    assert info["contentType"] == "application/vnd.microsoft.teams.card.file.info"

    # The offer is used up: accepting again uploads nothing more.
    await teams.post(dict(consent, id="again"))
    assert len([c for c in teams.connector.calls if c.method == "PUT"]) == 1


async def test_the_weekly_scheduler_sends_teams_checkins_from_its_thread(teams, service, clock):
    from bot.core.scheduler import Scheduler

    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive", is_admin=True)
    await teams.say("schedule monday 09:00 tz Europe/London", user="boss", name="Bo Boss")
    await teams.say("hi", user="u5", name="Eli")
    scheduler = Scheduler(service, {"teams": teams.bot})
    # The scheduler runs in its own thread; sends hop onto the bot's event loop.
    report = await asyncio.to_thread(scheduler.tick)
    assert report.opened and report.sent == 2 and report.failed == 0
    assert len(teams.connector.cards("a:chat-u5")) == 1
    again = await asyncio.to_thread(scheduler.tick)
    assert again.sent == 0
    assert len(teams.connector.cards("a:chat-u5")) == 1


async def test_a_reminder_repeats_the_checkin_card(teams, service, admin):
    round_ = service.start_round(admin)
    await teams.say("hi", user="u6", name="Fay")
    fay = service.store.person("teams", TENANT, "aad-u6")
    left = service.questions_for(fay, round_)
    await asyncio.to_thread(teams.bot.remind, fay, round_, left)
    nudge, card = teams.connector.messages("a:chat-u6")[-2:]
    assert f"{len(left)} questions of round {round_.number} wait for you" in nudge["text"]
    assert card["attachments"][0]["contentType"] == CARD


async def test_the_same_message_id_in_two_chats_is_two_messages(teams, service):
    # Teams message ids are timestamps: two people can send at the same millisecond.
    await teams.post(teams.activity(text="propose Who called a customer this week?", id_="1700"))
    await teams.post(
        teams.activity(text="propose Who read a complaint this week?", id_="1700", user="u7")
    )
    assert len(service.store.proposals("pending")) == 2


async def test_installing_in_a_team_opens_a_private_chat_with_every_member(teams, service, admin):
    round_ = service.start_round(admin)
    team = "19:team-general@thread.tacv2"
    teams.connector.members[team] = [
        {"id": "29:m1", "name": "Gus", "aadObjectId": "aad-m1"},
        {"id": "29:m2", "name": "Hal", "aadObjectId": "aad-m2"},
    ]
    assert (await teams.post(teams.install_in_team(team))).status == 202
    created = [c.body for c in teams.connector.calls if c.path == "/v3/conversations"]
    assert [b["members"][0]["id"] for b in created] == ["29:m1", "29:m2"]
    assert all(b["isGroup"] is False and b["tenantId"] == TENANT for b in created)
    # Each member has a stored 1:1 chat, and the open round reached them there.
    for member in ("m1", "m2"):
        person = service.store.person("teams", TENANT, f"aad-{member}")
        reference = service.store.conversation_ref(person.id)
        assert reference["conversation"]["id"] == f"a:personal-29:{member}"
        [card] = teams.connector.cards(f"a:personal-29:{member}")
        assert f"Round {round_.number}: the integrity check" in texts(card)
    [note] = teams.connector.messages(team)
    assert "2 members of this team get the weekly check-in" in note["text"]

    # Someone joining the team later is reached the same way.
    joined = teams.activity(
        "conversationUpdate",
        user="installer",
        conversation=team,
        conversation_type="channel",
        membersAdded=[{"id": "29:m3", "name": "Ivy", "aadObjectId": "aad-m3"}],
        channelData={"team": {"id": team}, "tenant": {"id": TENANT}},
    )
    await teams.post(joined)
    assert teams.connector.cards("a:personal-29:m3")


async def test_a_malformed_activity_gets_400_and_the_bot_keeps_serving(teams, service):
    for body in ({}, {"type": "message", "channelId": 5}):
        response = await teams.post(body)
        assert response.status == 400
        assert "not a valid" in (await response.json())["error"]
    assert await teams.say("help") in (200, 202)  # still serving


def summaries_in(connector, conversation: str) -> int:
    """How many times a round's summary reached a conversation (its heading is in the first
    of its cards)."""
    return sum(
        1
        for card in connector.cards(conversation)
        if any(t.startswith("Integrity check: round") for t in texts(card))
    )


async def test_an_executive_who_cannot_be_reached_does_not_make_the_others_get_it_again(
    teams, service, clock, caplog
):
    executives = ["e0", "e1", "e2"]
    for user in executives:
        service.store.add_person("teams", TENANT, f"aad-{user}", user.upper(), "executive")
        await teams.say("hi", user=user, name=user.upper())  # a 1:1 chat with the bot
    await teams.say("hi", user="u1", name="Ann")  # frontline: never gets a summary
    service.store.save_schedule(
        WeeklySchedule("teams", TENANT, weekday=0, local_time=time(10), tz="Europe/London").to_row()
    )
    round_ = service.start_round(closes_at=clock.now + timedelta(minutes=1))
    teams.connector.refuse("a:chat-e1", 403)  # E1 removed the app: every post is refused
    scheduler = Scheduler(service, {"teams": teams.bot})

    reports = []
    for _ in range(4):  # a tick a minute: the close, then E1 retried 1 and 2 minutes on
        clock.now += timedelta(minutes=1)
        reports.append(await asyncio.to_thread(scheduler.tick))
    assert reports[0].closed == [round_.number]
    assert [(r.summaries_posted, r.summaries_failed) for r in reports] == [
        (0, 1), (0, 1), (0, 0), (0, 1),
    ]  # fmt: skip
    got = [summaries_in(teams.connector, f"a:chat-{u}") for u in [*executives, "u1"]]
    assert got == [1, 0, 1, 0]  # E0 and E2 once, however often E1 fails
    refused = [c for c in teams.connector.calls if c.refused]
    assert len(refused) == 3  # one a try, stopped at its first refused message
    assert all(c.path.startswith("/v3/conversations/a:chat-e1/activities") for c in refused)
    (post,) = service.store.owed_summary_posts(["teams"])
    assert post["posted_to"] == ["@aad-e0", "@aad-e2"]
    assert f"Could not post the summary of round {round_.number} to @aad-e1" in caplog.text

    # E1 adds the app again: the next try (4 minutes after the third) reaches E1, only E1.
    del teams.connector.refusals["a:chat-e1"]
    clock.now += timedelta(minutes=3)
    report = await asyncio.to_thread(scheduler.tick)
    assert (report.summaries_posted, report.summaries_failed) == (0, 0)  # not due yet
    clock.now += timedelta(minutes=1)
    report = await asyncio.to_thread(scheduler.tick)
    assert (report.summaries_posted, report.summaries_failed) == (1, 0)
    got = [summaries_in(teams.connector, f"a:chat-{u}") for u in [*executives, "u1"]]
    assert got == [1, 1, 1, 0]
    assert service.store.owed_summary_posts(["teams"]) == []


async def test_teams_summaries_go_to_each_reachable_executive_whatever_the_destination(
    teams, service, caplog
):
    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive")
    await teams.say("hi", user="boss", name="Bo Boss")
    await teams.say("hi", user="u1", name="Ann")
    service.store.add_person("teams", TENANT, "aad-far", "Far", "executive")  # no chat yet
    assert teams.bot.summary_recipients(TENANT, "executives") == ["@aad-boss"]
    assert "executives only" not in caplog.text
    # Teams has no summary channel: a schedule naming one still reaches the executives.
    assert teams.bot.summary_recipients(TENANT, "19:general@thread.tacv2") == ["@aad-boss"]
    assert "executives only, not to '19:general@thread.tacv2'" in caplog.text
    # One recipient at a time: a destination is refused, not expanded.
    with pytest.raises(ValueError, match="Not one recipient"):
        teams.bot.post_summary(TENANT, "executives", Reply.text("the summary"))
    with pytest.raises(LookupError):
        teams.bot.post_summary(TENANT, "@aad-nobody", Reply.text("the summary"))


async def test_a_failed_teams_summary_is_retried_and_never_reported_as_sent(teams, service, clock):
    service.store.add_person("teams", TENANT, "aad-boss", "Bo Boss", "executive")
    await teams.say("hi", user="boss", name="Bo Boss")
    round_ = service.start_round()
    service.close_round(round_=round_, summaries=[("teams", TENANT, "executives")])
    before = len(teams.connector.messages("a:chat-boss"))
    teams.connector.refuse("a:chat-boss", 500, times=1)  # the first card fails, then all is well
    scheduler = Scheduler(service, {"teams": teams.bot})

    first = await asyncio.to_thread(scheduler.tick)
    # The SDK's own turn-error handler would have posted "Exception caught : 500 …" and
    # swallowed the error: the summary recorded as sent, though it never arrived.
    assert (first.summaries_posted, first.summaries_failed) == (0, 1)
    assert len(teams.connector.messages("a:chat-boss")) == before  # nothing else posted
    clock.now += timedelta(minutes=1)
    second = await asyncio.to_thread(scheduler.tick)
    assert (second.summaries_posted, second.summaries_failed) == (1, 0)
    assert summaries_in(teams.connector, "a:chat-boss") == 1
    said = [m.get("text") or "" for m in teams.connector.messages("a:chat-boss")]
    assert not [t for t in said if "Exception" in t]


async def test_added_to_a_group_chat_it_says_once_where_to_find_it(teams, service):
    chat = "19:group-chat@thread.v2"
    for type_, extra in (
        ("conversationUpdate", {"membersAdded": [{"id": BOT_ID}]}),
        ("installationUpdate", {"action": "add"}),  # Teams announces one install twice
    ):
        body = teams.activity(
            type_, user="gus", name="Gus", conversation=chat, conversation_type="groupChat", **extra
        )
        body["conversation"]["isGroup"] = True
        assert (await teams.post(body)).status == 202
    [hello] = teams.connector.messages(chat)
    assert "Hi, I'm Integrity Check" in hello["text"] and "1:1 chat" in hello["text"]
    # Nobody's private chat is taken for the group chat.
    gus = service.store.person("teams", TENANT, "aad-gus")
    assert gus is None or service.store.conversation_ref(gus.id) is None

    mention = teams.activity(
        text="<at>Integrity Check</at> summary",
        user="gus",
        name="Gus",
        conversation=chat,
        conversation_type="groupChat",
    )
    await teams.post(mention)
    assert "only work in a 1:1 chat" in teams.connector.messages(chat)[-1]["text"]


async def test_a_card_with_one_bad_answer_stores_none_of_them(teams, service, admin):
    from bot.core.service import MAX_ANSWER_CHARS

    round_ = service.start_round(admin)
    await teams.say("hello")
    ann = service.store.person("teams", TENANT, "aad-u1")
    first, second = service.questions_for(ann, round_)[:2]
    data = {
        "round": round_.id,
        f"rating:{first.id}": "4",
        f"why:{first.id}": "they come back for the people",
        f"rating:{second.id}": "2",
        f"why:{second.id}": "x" * (MAX_ANSWER_CHARS + 1),
    }
    body = await (await teams.post(teams.card_action("answer", data))).json()
    shown = " ".join(texts(body["value"]))
    assert f"the limit is {MAX_ANSWER_CHARS:,}" in shown
    # The card is one form: saved whole or not at all, so the first answer is not kept.
    assert service.store.answers([round_.id]) == []

    del data[f"why:{second.id}"]
    body = await (await teams.post(teams.card_action("answer", data))).json()
    assert "Recorded 2 answers. Thank you! You can change them " in " ".join(texts(body["value"]))
    stored = {a.question_id: (a.rating, a.text) for a in service.store.answers([round_.id])}
    assert stored[first.id] == (4, "they come back for the people")
    assert stored[second.id][0] == 2 and not stored[second.id][1]  # no why yet
