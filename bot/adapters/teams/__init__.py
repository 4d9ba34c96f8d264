"""The Microsoft Teams adapter, on the Microsoft 365 Agents SDK.

    register(web_app, service)       # serves POST /api/messages on an aiohttp app

`teams_configured(env)` says whether to start it; `TeamsSettings` reads the
credentials. The returned `TeamsBot` (bot.py: what comes in) builds on
`TeamsMessenger` (messenger.py: what goes out), so it is also the scheduler's
Teams messenger. cards.py draws the Adaptive Cards, files.py offers and uploads
files, package.py builds the app package from `teams/manifest.json`.
"""

from __future__ import annotations

from aiohttp import web

from bot.adapters.teams.bot import ROUTE, TeamsBot
from bot.adapters.teams.config import TeamsSettings, teams_configured
from bot.core.service import IntegrityCheck

__all__ = ["ROUTE", "TeamsBot", "TeamsSettings", "register", "teams_configured"]


def register(
    web_app: web.Application, service: IntegrityCheck, settings: TeamsSettings | None = None
) -> TeamsBot:
    """Mount the Teams bot on `web_app` (settings from the environment unless given)."""
    bot = TeamsBot(service, settings or TeamsSettings.from_env())
    bot.mount(web_app)
    return bot
