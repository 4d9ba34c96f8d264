"""The fake Slack Web API answers the real slack_sdk clients as Slack would: if it did not,
tests of the Slack adapter against it would prove nothing."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack_api import FakeSlack

CHECKIN = {"event_type": "integrity_checkin", "event_payload": {"round_id": 7}}


@pytest.fixture
def fake():
    with FakeSlack(team_id="T1") as fake:
        for i in range(1, 6):
            fake.add_user(f"U{i}", f"user{i}", tz="America/New_York")
        fake.add_channel("C1", "integrity", ["U1", "U2", "UBOT"])
        yield fake


@pytest.fixture
def client(fake):
    return WebClient(token="xoxb-test", base_url=fake.base_url)


def test_auth_test_names_the_bot_and_calls_are_recorded(fake, client):
    answer = client.auth_test()
    assert (answer["team_id"], answer["user_id"], answer["is_enterprise_install"]) == (
        "T1",
        "UBOT",
        False,
    )
    assert "chat:write" in answer.headers["x-oauth-scopes"]
    (call,) = fake.calls_to("auth.test")
    assert (call.token, call.status, call.error) == ("xoxb-test", 200, None)


def test_tokens_are_checked_like_slack(fake):
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token="xoxb-nope", base_url=fake.base_url).auth_test()
    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(base_url=fake.base_url).auth_test()
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        WebClient(token="xapp-test", base_url=fake.base_url).chat_postMessage(
            channel="C1", text="x"
        )
    # A form-encoded token works too, as it does on Slack.
    body = b"token=xoxb-test&channel=C1&text=by+form"
    with urllib.request.urlopen(fake.base_url + "chat.postMessage", data=body) as answer:
        assert json.load(answer)["ok"] is True
    assert fake.messages["C1"][-1]["text"] == "by form"


def test_unknown_methods_are_answered_and_recorded(fake, client):
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("chat.shout", json={"text": "hi"})
    assert fake.calls_to("chat.shout")[0].args == {"text": "hi"}


def test_post_to_a_user_lands_in_their_dm_then_update_and_history_with_metadata(fake, client):
    posted = client.chat_postMessage(channel="U1", text="hi", metadata=CHECKIN)
    assert posted["channel"] == "DU1"
    assert fake.calls_to("chat.postMessage")[0].args["metadata"] == CHECKIN
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_update(channel="U1", ts=posted["ts"], text="edited")  # needs the D id
    client.chat_update(channel="DU1", ts=posted["ts"], text="edited")
    (stored,) = fake.messages["DU1"]
    assert (stored["text"], stored["metadata"], stored["user"]) == ("edited", CHECKIN, "UBOT")

    history = client.conversations_history(channel="DU1", include_all_metadata=True)
    assert history["messages"][0]["text"] == "edited"
    assert history["messages"][0]["metadata"] == CHECKIN
    plain = client.conversations_history(channel="DU1")
    assert "metadata" not in plain["messages"][0]


def test_history_is_newest_first_exclusive_and_leaves_thread_replies_out(fake, client):
    first = client.chat_postMessage(channel="C1", text="one")["ts"]
    second = client.chat_postMessage(channel="C1", text="two")["ts"]
    client.chat_postMessage(channel="C1", text="reply", thread_ts=first)
    assert float(second) > float(first) > time.time() - 60  # real epoch times, increasing

    texts = [m["text"] for m in client.conversations_history(channel="C1")["messages"]]
    assert texts == ["two", "one"]
    after = client.conversations_history(channel="C1", oldest=first)["messages"]
    assert [m["text"] for m in after] == ["two"]
    inclusive = client.conversations_history(channel="C1", oldest=first, inclusive=True)
    assert len(inclusive["messages"]) == 2
    thread = client.conversations_replies(channel="C1", ts=first)["messages"]
    assert [m["text"] for m in thread] == ["one", "reply"]
    assert thread[0]["reply_count"] == 1


def test_users_list_pages_with_limit_and_includes_slackbot_and_the_bot(fake, client):
    members, sizes = [], []
    for page in client.users_list(limit=2):  # slack_sdk follows next_cursor
        sizes.append(len(page["members"]))
        members += page["members"]
    assert sizes == [2, 2, 2, 1]
    assert [m["id"] for m in members] == ["USLACKBOT", "UBOT", "U1", "U2", "U3", "U4", "U5"]
    slackbot, bot, person = members[0], members[1], members[2]
    assert slackbot["is_bot"] is False  # as on real Slack: the adapter must skip it by id
    assert bot["is_bot"] is True
    assert person["profile"]["display_name"] == "user1"
    assert person["tz_offset"] in (-5 * 3600, -4 * 3600)


def test_conversations_members_pages(fake, client):
    first = client.conversations_members(channel="C1", limit=2)
    assert first["members"] == ["U1", "U2"]
    rest = client.conversations_members(
        channel="C1", limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    assert rest["members"] == ["UBOT"]
    assert rest["response_metadata"]["next_cursor"] == ""


def test_429_with_retry_after_raises_then_is_waited_out_by_the_retry_handler(fake, client):
    fake.rate_limit("chat.postMessage", per_second=1, burst=1, retry_after=1)
    client.chat_postMessage(channel="C1", text="first")
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C1", text="second")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"

    patient = WebClient(
        token="xoxb-test",
        base_url=fake.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    started = time.monotonic()
    patient.chat_postMessage(channel="C1", text="third")
    assert time.monotonic() - started >= 0.9
    assert [c.args["text"] for c in fake.calls_to("chat.postMessage")] == ["first", "third"]
    assert [c.args["text"] for c in fake.rate_limited] == ["second", "third"]


def test_per_channel_rate_limits_keep_separate_buckets(fake, client):
    fake.rate_limit("chat.postMessage", per_second=1, per_channel=True)
    client.chat_postMessage(channel="C1", text="a")
    client.chat_postMessage(channel="U1", text="b")
    with pytest.raises(SlackApiError, match="ratelimited"):
        client.chat_postMessage(channel="DU1", text="c")  # the same DM as U1


def test_workspace_and_per_channel_limits_apply_together(fake, client):
    fake.rate_limit("chat.postMessage", per_second=1, burst=2)
    fake.rate_limit("chat.postMessage", per_second=1, per_channel=True)
    client.chat_postMessage(channel="U1", text="a")
    with pytest.raises(SlackApiError, match="ratelimited"):
        client.chat_postMessage(channel="U1", text="b")  # the channel's one a second
    client.chat_postMessage(channel="U2", text="c")  # the refused call took no workspace token
    with pytest.raises(SlackApiError, match="ratelimited"):
        client.chat_postMessage(channel="C1", text="d")  # the workspace's burst is spent
    assert [c.args["text"] for c in fake.calls_to("chat.postMessage")] == ["a", "c"]


def test_injected_failures_then_success(fake, client):
    fake.fail("users.info", status=500)
    fake.fail("users.info", error="user_not_visible")
    with pytest.raises(SlackApiError) as failed:
        client.users_info(user="U1")
    assert failed.value.response.status_code == 500
    with pytest.raises(SlackApiError, match="user_not_visible"):
        client.users_info(user="U1")
    assert client.users_info(user="U1")["user"]["name"] == "user1"
    assert [c.status for c in fake.calls_to("users.info")] == [500, 200, 200]


def test_a_delayed_post_times_out_the_client_but_still_lands(fake):
    fake.delay("chat.postMessage", seconds=1)
    hasty = WebClient(token="xoxb-test", base_url=fake.base_url, timeout=0.2)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        hasty.chat_postMessage(channel="C1", text="slow")
    assert [m["text"] for m in fake.messages["C1"]] == ["slow"]


def test_block_kit_and_modal_limits_are_enforced(fake, client):
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="C1", text="x", blocks=too_many)
    long_title = {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError, match="invalid_arguments") as bad:
        client.views_open(trigger_id="t1", view=long_title)
    assert "/view/title/text" in bad.value.response["response_metadata"]["messages"][0]


def test_views_open_update_and_publish(fake, client):
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Why?"}, "blocks": []}
    opened = client.views_open(trigger_id="t1", view=modal)["view"]
    retitled = {**modal, "title": {"type": "plain_text", "text": "Why, really?"}}
    updated = client.views_update(view_id=opened["id"], view=retitled)["view"]
    assert updated["id"] == opened["id"]
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }
    client.views_publish(user_id="U1", view=home)
    assert fake.home_views["U1"]["blocks"] == home["blocks"]


def test_files_upload_v2_round_trip(fake, client):
    client.files_upload_v2(
        channel="C1", content=b"a,b\n1,2\n", filename="x.csv", title="X", initial_comment="chart"
    )
    (upload,) = fake.uploads
    assert upload["content"] == b"a,b\n1,2\n"
    assert (upload["filename"], upload["title"], upload["channel_id"]) == ("x.csv", "X", "C1")
    assert upload["initial_comment"] == "chart"


def test_response_urls_record_json_and_allow_five_uses(fake):
    url = fake.response_url()
    webhook = WebhookClient(url)
    for i in range(5):
        assert webhook.send(text=f"reply {i}").status_code == 200
    assert webhook.send(text="sixth").status_code == 404
    assert [r["text"] for r in fake.responses] == [f"reply {i}" for i in range(5)]


def test_a_clicks_response_url_replaces_or_deletes_its_message_and_keeps_metadata(fake, client):
    metadata = {"event_type": "t", "event_payload": {"n": 1}}
    posted = client.chat_postMessage(channel="C1", text="first", metadata=metadata)
    replace = WebhookClient(fake.response_url("C1", posted["ts"]))
    assert replace.send(replace_original=True, text="second", blocks=[]).status_code == 200
    (message,) = fake.messages["C1"]
    assert message["text"] == "second" and message["metadata"] == metadata
    assert replace.send(replace_original=True).status_code == 400  # nothing to show
    # One not from a click on a message cannot replace anything.
    assert (
        WebhookClient(fake.response_url()).send(replace_original=True, text="x").status_code == 404
    )
    assert (
        WebhookClient(fake.response_url("C1", posted["ts"])).send(delete_original=True).status_code
        == 200
    )
    assert fake.messages["C1"] == []


def test_async_client_files_upload_and_socket_mode_round_trip(fake):
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.response import SocketModeResponse

    async def main() -> None:
        web = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)
        assert (await web.auth_test())["team_id"] == "T1"
        await web.files_upload_v2(channel="C1", content=b"async bytes", filename="a.txt")
        assert fake.uploads[-1]["content"] == b"async bytes"

        client = SocketModeClient(app_token="xapp-test", web_client=web)
        hellos = []

        async def on_message(message) -> None:  # every frame, as aiohttp's WSMessage
            data = json.loads(message.data)
            if data.get("type") == "hello":
                hellos.append(data)

        async def ack(client_, request) -> None:
            await client_.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id, payload={"text": "ok"})
            )

        client.on_message_listeners.append(on_message)
        client.socket_mode_request_listeners.append(ack)
        await client.connect()
        await asyncio.to_thread(fake.wait_for_socket)
        envelope_id = await asyncio.to_thread(
            fake.socket_send,
            {"type": "slash_commands", "payload": {"command": "/integrity", "text": "help"}},
        )
        acks = await fake.wait_for_async(
            lambda: [a for a in fake.socket_acks if a.get("envelope_id") == envelope_id]
        )
        assert acks[0]["payload"] == {"text": "ok"}
        assert hellos and hellos[0]["num_connections"] == 1
        await client.close()

    asyncio.run(main())
