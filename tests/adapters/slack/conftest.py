"""Slack test rig: the app on a real aiohttp server, driven with signed requests, talking to
the fake Slack Web API server (`tests.fakes.slack_api`) as it would to Slack."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pytest
from aiohttp import web

from bot.adapters.slack import SlackBot, SlackSettings
from bot.adapters.slack import blocks as kit
from bot.core.domain import Round
from bot.core.service import IntegrityCheck
from tests.adapters.slack.harness import AppServer, SlackSender
from tests.fakes.slack_api import FakeSlack

TEAM = "T0ACME"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN = "UADMIN"
EXECUTIVES = [f"UEXEC{i}" for i in range(1, 7)]
FRONTLINE = [f"UFRONT{i}" for i in range(1, 9)]


@pytest.fixture
def fake():
    with FakeSlack(team_id=TEAM) as fake:
        fake.add_user(ADMIN, "ada", real_name="Ada Admin", tz="Europe/London")
        for user in EXECUTIVES:
            fake.add_user(user, user.lower(), tz="America/New_York")
        for user in FRONTLINE:
            fake.add_user(user, user.lower(), tz="Europe/Berlin")
        fake.add_user("UBOTTY", "reminder-bot", is_bot=True)
        fake.add_user("UGONE", "left-last-year", deleted=True)
        yield fake


@pytest.fixture
def slack_settings(fake: FakeSlack) -> SlackSettings:
    return SlackSettings(
        bot_token="xoxb-test",
        signing_secret=SECRET,
        api_base_url=fake.base_url,
        admins=frozenset({ADMIN}),
        executives=frozenset(EXECUTIVES),
        posts_per_second=200,
    )


@dataclass
class Rig:
    bot: SlackBot
    fake: FakeSlack
    send: SlackSender
    service: IntegrityCheck
    server: AppServer

    # -- shortcuts tests share -----------------------------------------------------------

    def checkin(self, user: str) -> dict:
        """The check-in message in this person's DM (the latest one)."""
        messages = self.fake.messages.get(f"D{user}") or []
        assert messages, f"no DM was posted to {user}"
        return messages[-1]

    def buttons(self, user: str) -> list[dict]:
        return [
            element
            for block in self.checkin(user)["blocks"]
            if block["type"] == "actions"
            for element in block["elements"]
        ]

    def rate(self, user: str, number: int, rating: int):
        """Click rating `rating` on question `number` of the person's check-in."""
        message = self.checkin(user)
        rates = [b for b in self.buttons(user) if b["action_id"] == f"integrity_rate_{rating}"]
        button = rates[number - 1]
        return self.send.click(
            user, button["action_id"], button["value"], channel=f"D{user}", ts=message["ts"]
        )

    def add_why(self, user: str, number: int, text: str):
        """Click "Add why" on question `number`, then submit the modal that opened."""
        message = self.checkin(user)
        why = [b for b in self.buttons(user) if b["action_id"] == kit.WHY_ACTION][number - 1]
        opened = len(self.fake.calls_to("views.open"))
        response = self.send.click(
            user, why["action_id"], why["value"], channel=f"D{user}", ts=message["ts"]
        )
        assert response.status_code == 200
        self.fake.wait_for(lambda: len(self.fake.calls_to("views.open")) > opened)
        view = self.fake.calls_to("views.open")[-1].args["view"]
        return self.send.submit(
            user, view, {"why": {"text": {"type": "plain_text_input", "value": text}}}
        )

    def start_round(self) -> Round:
        response = self.send.command(ADMIN, "ask")
        assert response.status_code == 200
        humans = 1 + len(EXECUTIVES) + len(FRONTLINE)
        self.fake.wait_for(
            lambda: len(self.fake.calls_to("chat.postMessage")) >= humans, timeout=30
        )
        current = self.service.open_round()
        assert current is not None
        return current

    def responses_text(self) -> str:
        return json.dumps(self.fake.responses, ensure_ascii=False)


@pytest.fixture
def make_rig(service: IntegrityCheck, slack_settings: SlackSettings, fake: FakeSlack):
    started: list[tuple[AppServer, SlackSender]] = []

    def make(**overrides) -> Rig:
        settings = replace(slack_settings, **overrides)
        bot = SlackBot(service, settings)
        web_app = web.Application()
        bot.mount(web_app)
        server = AppServer(web_app).start()
        sender = SlackSender(server.url, SECRET, TEAM, response_url=fake.response_url)
        started.append((server, sender))
        return Rig(bot=bot, fake=fake, send=sender, service=service, server=server)

    yield make
    for server, sender in started:
        sender.close()
        server.stop()


@pytest.fixture
def rig(make_rig) -> Rig:
    return make_rig()
