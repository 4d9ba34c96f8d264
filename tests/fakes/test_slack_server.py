"""The fake Slack server behaves like Slack for the real slack_sdk clients: if it did not,
tests against it would prove nothing."""

from __future__ import annotations

import asyncio
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_server import FakeSlack


@pytest.fixture
def fake():
    with FakeSlack(team_id="T1") as fake:
        for i in range(5):
            fake.add_user(f"U{i}", f"user{i}")
        yield fake


def test_post_update_and_history_with_metadata(fake):
    client = WebClient(token="xoxb-test", base_url=fake.base_url)
    meta = {"event_type": "integrity_checkin", "event_payload": {"round_id": 7}}
    posted = client.chat_postMessage(channel="U1", text="hi", metadata=meta)
    assert posted["channel"] == "DU1"
    client.chat_update(channel="DU1", ts=posted["ts"], text="edited")
    history = client.conversations_history(channel="DU1", include_all_metadata=True)
    assert history["messages"][0]["text"] == "edited"
    assert history["messages"][0]["metadata"] == meta
    plain = client.conversations_history(channel="DU1")
    assert "metadata" not in plain["messages"][0]


def test_users_list_pages_and_slackbot_is_listed(fake):
    client = WebClient(token="xoxb-test", base_url=fake.base_url)
    seen, cursor = [], None
    while True:
        page = client.users_list(limit=2, cursor=cursor)
        seen += [m["id"] for m in page["members"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == ["USLACKBOT", "U0", "U1", "U2", "U3", "U4"]


def test_wrong_token_is_invalid_auth(fake):
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token="xoxb-nope", base_url=fake.base_url).auth_test()


def test_429_with_retry_after_is_waited_out_by_the_retry_handler(fake):
    fake.rate_limit("chat.postMessage", per_second=1, burst=1, retry_after=1)
    bare = WebClient(token="xoxb-test", base_url=fake.base_url)
    bare.chat_postMessage(channel="U1", text="first")
    with pytest.raises(SlackApiError) as limited:
        bare.chat_postMessage(channel="U1", text="second")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    patient = WebClient(
        token="xoxb-test",
        base_url=fake.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)],
    )
    started = time.monotonic()
    patient.chat_postMessage(channel="U1", text="third")
    assert time.monotonic() - started >= 0.9
    assert [c.args["text"] for c in fake.calls_to("chat.postMessage")] == ["first", "third"]


def test_faults_then_success(fake):
    fake.fail("users.info", status=500)
    fake.fail("users.info", error="user_not_visible")
    client = WebClient(token="xoxb-test", base_url=fake.base_url)
    with pytest.raises(SlackApiError):
        client.users_info(user="U1")
    with pytest.raises(SlackApiError, match="user_not_visible"):
        client.users_info(user="U1")
    assert client.users_info(user="U1")["user"]["name"] == "user1"


def test_files_upload_v2_round_trip(fake):
    client = WebClient(token="xoxb-test", base_url=fake.base_url)
    client.files_upload_v2(channel="DU1", content=b"a,b\n1,2\n", filename="x.csv", title="X")
    (upload,) = fake.uploads
    assert upload["content"] == b"a,b\n1,2\n"
    assert (upload["filename"], upload["title"], upload["channel_id"]) == ("x.csv", "X", "DU1")


def test_async_client_and_socket_mode_round_trip(fake):
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.response import SocketModeResponse

    async def main() -> None:
        web = AsyncWebClient(token="xoxb-test", base_url=fake.base_url)
        assert (await web.auth_test())["team_id"] == "T1"
        client = SocketModeClient(app_token="xapp-test", web_client=web)

        async def ack(client_, request) -> None:
            await client_.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id)
            )

        client.socket_mode_request_listeners.append(ack)
        await client.connect()
        await asyncio.to_thread(fake.wait_for_socket)
        await asyncio.to_thread(
            fake.socket_send, {"envelope_id": "e-1", "type": "events_api", "payload": {}}
        )
        await asyncio.to_thread(
            fake.wait_for, lambda: any(a["envelope_id"] == "e-1" for a in fake.socket_acks)
        )
        await client.close()

    asyncio.run(main())
