"""`slack/manifest.yml` against Slack's manifest rules and against the code it describes:
the usage hint lists every command of `COMMANDS`, the bot's name is one Slack accepts and
the one the code tells admins to invite, and the README says to invite it."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.adapters.slack.messenger import BOT_NAME
from bot.core.commands import COMMANDS
from tests.conftest import ROOT

MANIFEST = ROOT / "slack" / "manifest.yml"
#: Slack's manifest reference (docs.slack.dev/reference/app-manifest, "Features"):
#: `features.bot_user.display_name` "Maximum length is 80 characters. Allowed characters:
#: a-z, 0-9, -, _, and ."; a slash command at most 32 characters with its "/"; a usage hint
#: at most 1,000 characters; a description at most 2,000.
DISPLAY_NAME = re.compile(r"[a-z0-9._-]{1,80}")
MAX_COMMAND, MAX_USAGE_HINT, MAX_DESCRIPTION = 32, 1000, 2000


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def usage_hint() -> str:
    """The usage hint the manifest should carry: every command, in the table's order."""
    return " · ".join(c.usage.removeprefix("/integrity ") for c in COMMANDS.values())


def test_the_usage_hint_lists_every_command_within_slacks_limit(manifest):
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/integrity" and len(command["command"]) <= MAX_COMMAND
    assert 1 <= len(command["description"]) <= MAX_DESCRIPTION
    expected = usage_hint()
    assert command["usage_hint"] == expected, (
        f'slack/manifest.yml: set the /integrity usage_hint to "{expected}"'
    )
    assert len(expected) <= MAX_USAGE_HINT, "shorten the usages in bot/core/commands.py"


def test_the_bot_name_follows_slacks_rules_and_is_the_one_to_invite(manifest):
    name = manifest["features"]["bot_user"]["display_name"]
    assert DISPLAY_NAME.fullmatch(name), f"{name!r}: use a-z, 0-9, '-', '_' or '.', 80 at most"
    assert name == BOT_NAME  # what the log tells an admin to invite
    for rejected in ["Integrity Check", "integrity check", "x" * 81, ""]:
        assert not DISPLAY_NAME.fullmatch(rejected)


def test_the_app_posts_only_where_invited_and_the_readme_says_to_invite_it(manifest):
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert "chat:write" in scopes and "chat:write.public" not in scopes
    assert {"channels:history", "groups:history"} <= set(scopes)  # thread answers need them
    readme = (ROOT / "README.md").read_text()
    assert f"`/invite @{BOT_NAME}`" in readme and "INTEGRITY_CHECKIN_CHANNELS" in readme
