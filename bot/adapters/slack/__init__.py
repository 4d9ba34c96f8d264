"""The Slack adapter, on Bolt for Python.

    register(web_app, service)      # POST /slack/events on an aiohttp app, or Socket Mode

`slack_configured(env)` says whether to start it; `SlackSettings` reads the
tokens and options. The returned `SlackBot` carries `messenger`, the scheduler's
Slack side (`bot.core.messenger.Messenger`).
"""

from __future__ import annotations

from aiohttp import web

from bot.adapters.slack.app import ROUTE, SlackBot
from bot.adapters.slack.config import SlackSettings, slack_configured
from bot.core.service import IntegrityCheck

__all__ = ["ROUTE", "SlackBot", "SlackSettings", "register", "slack_configured"]


def register(
    web_app: web.Application, service: IntegrityCheck, settings: SlackSettings | None = None
) -> SlackBot:
    """Mount the Slack app on `web_app` (settings from the environment unless given)."""
    bot = SlackBot(service, settings or SlackSettings.from_env())
    bot.mount(web_app)
    return bot
