"""Slack settings, read from the environment: tokens, the API's address, who is asked, roles.

`SLACK_BOT_TOKEN` turns Slack on. With `SLACK_APP_TOKEN` the app connects over
Socket Mode (no public URL); without it Slack calls `POST /slack/events` and
`SLACK_SIGNING_SECRET` is needed to check every request. Half a configuration
fails at start with a message naming what is missing, never at the first event.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.errors import ConfigError

SLACK_API = "https://slack.com/api/"
#: Slack allows about one message a second per conversation, with short bursts, and a
#: workspace-wide budget it does not publish; this default stays well inside it.
DEFAULT_POSTS_PER_SECOND = 5.0


def slack_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when any Slack credential is set (a half configuration then fails loudly)."""
    env = os.environ if env is None else env
    return any(env.get(name) for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"))


def _ids(raw: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (raw or "").split(",") if part.strip())


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str = ""
    #: Socket Mode when set (an app-level token, `xapp-…`).
    app_token: str = ""
    api_base_url: str = SLACK_API
    #: Slack user ids made admins (and executives) / executives whenever they are met.
    admins: frozenset[str] = field(default_factory=frozenset)
    executives: frozenset[str] = field(default_factory=frozenset)
    #: Slack user group ids whose members are admins / executives.
    admins_group: str = ""
    executives_group: str = ""
    #: Only members of these channels are asked (default: the whole workspace).
    channels: tuple[str, ...] = ()
    #: Channels each round is also posted to; replies in its thread are answers on the record.
    checkin_channels: tuple[str, ...] = ()
    #: Outbound post budget for fan-out (check-ins, reminders, summaries).
    posts_per_second: float = DEFAULT_POSTS_PER_SECOND

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackSettings:
        env = os.environ if env is None else env
        bot_token = env.get("SLACK_BOT_TOKEN", "").strip()
        app_token = env.get("SLACK_APP_TOKEN", "").strip()
        signing_secret = env.get("SLACK_SIGNING_SECRET", "").strip()
        if not bot_token:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from your "
                "Slack app's OAuth & Permissions page."
            )
        if not bot_token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-.")
        if app_token and not app_token.startswith("xapp-"):
            raise ConfigError(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- (Basic "
                "Information → App-Level Tokens, scope connections:write)."
            )
        if not app_token and not signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: copy it from your Slack app's Basic Information "
                "page, or set SLACK_APP_TOKEN to use Socket Mode instead of a public URL."
            )
        base_url = env.get("SLACK_API_BASE_URL", "").strip() or SLACK_API
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"SLACK_API_BASE_URL is {base_url!r}: give a URL like {SLACK_API}.")
        rate_raw = env.get("SLACK_POSTS_PER_SECOND", "").strip()
        try:
            rate = float(rate_raw) if rate_raw else DEFAULT_POSTS_PER_SECOND
        except ValueError:
            rate = -1.0
        if not 0 < rate <= 100:
            raise ConfigError(
                f"SLACK_POSTS_PER_SECOND is {rate_raw!r}: give a number from 0.1 to 100 "
                f"(default {DEFAULT_POSTS_PER_SECOND:g})."
            )
        return cls(
            bot_token=bot_token,
            signing_secret=signing_secret,
            app_token=app_token,
            api_base_url=base_url if base_url.endswith("/") else base_url + "/",
            admins=_ids(env.get("INTEGRITY_ADMINS")),
            executives=_ids(env.get("INTEGRITY_EXECUTIVES")),
            admins_group=env.get("INTEGRITY_ADMINS_GROUP", "").strip(),
            executives_group=env.get("INTEGRITY_EXECUTIVES_GROUP", "").strip(),
            channels=tuple(sorted(_ids(env.get("INTEGRITY_CHANNELS")))),
            checkin_channels=tuple(sorted(_ids(env.get("INTEGRITY_CHECKIN_CHANNELS")))),
            posts_per_second=rate,
        )
