"""The Teams app package: a manifest Teams accepts, with our bot id and both icons."""

from __future__ import annotations

import json
import struct
import zipfile

from bot.cli import main
from bot.core.commands import COMMANDS
from tests.conftest import ROOT

APP_ID = "11111111-2222-3333-4444-555555555555"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_package_fills_the_bot_id_and_carries_both_icons(tmp_path, capsys, monkeypatch):
    out = tmp_path / "app.zip"
    monkeypatch.setenv("TEAMS_CLIENT_ID", APP_ID)
    assert main(["teams-package", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        assert _png_size(package.read("color.png")) == (192, 192)
        assert _png_size(package.read("outline.png")) == (32, 32)
    assert manifest["id"] == APP_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID and "personal" in bot["scopes"] and bot["supportsFiles"]
    assert "${{" not in json.dumps(manifest)
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    # Every command the menu offers is a real command word.
    commands = bot["commandLists"][0]["commands"]
    assert len(commands) <= 10
    assert {c["title"] for c in commands} <= set(COMMANDS)


def test_the_manifest_offers_the_scopes_and_commands_the_readme_promises():
    manifest = json.loads((ROOT / "teams" / "manifest.json").read_text())
    [bot] = manifest["bots"]
    # The README: added to a team it reaches every member; in a group chat it points
    # people to their 1:1 chat.
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    [menu] = bot["commandLists"]
    assert menu["scopes"] == ["personal"]  # the only place it answers commands
    titles = [c["title"] for c in menu["commands"]]
    # Teams shows at most 10 commands a list, each title at most 32 characters and each
    # description at most 128.
    assert len(titles) == 10 == len(set(titles))
    assert all(len(c["title"]) <= 32 and len(c["description"]) <= 128 for c in menu["commands"])
    assert set(titles) <= set(COMMANDS)
    assert {"schedule", "role", "help"} <= set(titles)
    # A command word left out of the menu is named in help's line, so it can be found.
    [help_line] = [c["description"] for c in menu["commands"] if c["title"] == "help"]
    for word in set(COMMANDS) - set(titles):
        assert word in help_line.split(), word


def test_package_refuses_without_a_bot_id(tmp_path, capsys, monkeypatch):
    out = tmp_path / "app.zip"
    monkeypatch.delenv("TEAMS_CLIENT_ID", raising=False)
    assert main(["teams-package", "--out", str(out)]) == 2
    assert "TEAMS_CLIENT_ID" in capsys.readouterr().err
    assert not out.exists()
