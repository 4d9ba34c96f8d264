"""The Slack app's listeners, one module per kind of request (as Bolt's starter template):

- `commands.py`: `/integrity …`;
- `actions.py`: button clicks (a rating, "Add why", "Answer privately", "New summary");
- `views.py`: modal submissions (a why, the round's form);
- `events.py`: messages (thread answers, DM commands) and the App Home opening.

Each has `register(app, ctx)`; `ctx` (`context.Listening`) is what they share. Every
handler does what its acknowledgement depends on (a rating saved, a modal's input
checked), acknowledges, and hands the rest to `ctx.after_ack`.
"""

from __future__ import annotations

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.slack.listeners import actions, commands, events, views
from bot.adapters.slack.listeners.context import Listening

__all__ = ["Listening", "register_listeners"]


def register_listeners(app: AsyncApp, ctx: Listening) -> None:
    """Register every listener of the app on `app`."""
    commands.register(app, ctx)
    actions.register(app, ctx)
    views.register(app, ctx)
    events.register(app, ctx)
