"""The one aiohttp web server every chat platform shares, and its scheduler.

`build_server(service, env)` mounts each configured platform (Slack's
`/slack/events` or Socket Mode, Teams' `/api/messages`), the customer survey page
(`/survey/…`) and `/healthz` on one
`aiohttp` application, and returns it with the platforms' messengers, which is
what the weekly scheduler posts through. Once started it moves everything
loaded so far out of the garbage collector's way (`freeze_heap_on_startup`).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Mapping

from aiohttp import web

from bot.core.messenger import Messenger
from bot.core.scheduler import Scheduler
from bot.core.service import IntegrityCheck

logger = logging.getLogger(__name__)


def platforms_configured(env: Mapping[str, str]) -> list[str]:
    """The chat platforms whose settings are present (empty: run the terminal chat)."""
    from bot.adapters.slack.config import slack_configured
    from bot.adapters.teams.config import teams_configured

    return [
        name
        for name, configured in (("slack", slack_configured), ("teams", teams_configured))
        if configured(env)
    ]


def build_server(
    service: IntegrityCheck, env: Mapping[str, str], *, scheduler: bool = True
) -> tuple[web.Application, dict[str, Messenger]]:
    """The web app with every configured platform mounted, and the scheduler started with it."""
    web_app = web.Application()
    web_app.router.add_get("/healthz", _healthz)
    from bot.adapters.survey import register as register_survey

    register_survey(web_app, service)  # the customer survey page, beside the platforms
    messengers: dict[str, Messenger] = {}
    platforms = platforms_configured(env)
    if "slack" in platforms:
        from bot.adapters.slack import SlackSettings
        from bot.adapters.slack import register as register_slack

        messengers["slack"] = register_slack(
            web_app, service, SlackSettings.from_env(env)
        ).messenger
    if "teams" in platforms:
        from bot.adapters.teams import TeamsSettings
        from bot.adapters.teams import register as register_teams

        messengers["teams"] = register_teams(web_app, service, TeamsSettings.from_env(env))
    if scheduler:
        _run_scheduler_with(web_app, Scheduler(service, messengers))
    freeze_heap_on_startup(web_app)
    return web_app, messengers


def freeze_heap_on_startup(web_app: web.Application) -> None:
    """After start-up, move every object alive (modules, settings, the apps: tens of
    thousands that live as long as the process) to the collector's permanent generation
    (`gc.freeze`). A full collection otherwise walks them all, 30 ms or more with the
    event loop stopped, and a burst of clicks allocates enough to set one off."""

    async def freeze(_app: web.Application) -> None:
        gc.collect()
        gc.freeze()

    web_app.on_startup.append(freeze)


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _run_scheduler_with(web_app: web.Application, scheduler: Scheduler) -> None:
    stop = threading.Event()

    async def start(_app: web.Application) -> None:
        # After the adapters' own start-up hooks: they hand the scheduler their event loop.
        threading.Thread(target=scheduler.run, args=(stop,), name="scheduler", daemon=True).start()

    async def cleanup(_app: web.Application) -> None:
        stop.set()

    web_app.on_startup.append(start)
    web_app.on_cleanup.append(cleanup)
